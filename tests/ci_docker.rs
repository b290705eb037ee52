//! Doctor and the system check, GitHub Actions integration, `ci github`, `dockerfile`,
//! completions and the man page.

mod common;

use std::fs;
use std::process::Command;

use common::*;

const V: &str = "3.13.5";

#[test]
fn doctor_passes_here_and_names_the_package_when_something_is_missing() {
    let fx = Fixture::new();
    let out = fx.ftpy().arg("doctor").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout_of(&out));
    let stdout = stdout_of(&out);
    for line in [
        "a C compiler",
        "make",
        "pkg-config",
        "the OpenSSL headers",
        "the Tk headers",
        "disk space",
        "home writable",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    assert!(stdout.contains("Ready: a build would succeed."), "{stdout}");

    // Tk's headers are found only through pkg-config on Debian: without it, tkinter is the
    // optional module that would be missing, and a build would still succeed.
    let out = fx.ftpy().env("PKG_CONFIG_LIBDIR", "/nonexistent").arg("doctor").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout_of(&out));
    assert!(stdout_of(&out).contains("optional: tkinter would be missing"), "{}", stdout_of(&out));

    let out = fx.ftpy().env("FTPY_HOME", "/proc/ftpy-home").arg("doctor").output().unwrap();
    assert_eq!(out.status.code(), Some(9), "{}", stdout_of(&out));
    assert!(stdout_of(&out).contains("MISSING  home writable"), "{}", stdout_of(&out));
    assert!(stdout_of(&out).contains("Set FTPY_HOME"), "{}", stdout_of(&out));

    let out = fx.ftpy().env("CC", "/nonexistent/cc").arg("doctor").output().unwrap();
    assert_eq!(out.status.code(), Some(9), "{}", stdout_of(&out));
    let stdout = stdout_of(&out);
    assert!(stdout.contains("MISSING  a C compiler"), "{stdout}");
    // The variable is at fault: no package would fix it.
    assert!(stdout.contains("CC is set to `/nonexistent/cc`, which does not compile"), "{stdout}");
    assert!(!stdout.contains("build-essential"), "{stdout}");
}

#[test]
fn install_stops_before_downloading_when_the_system_cannot_build() {
    let fx = Fixture::with_release(V);
    let out = fx
        .ftpy()
        .env("CC", "/nonexistent/cc")
        .args(["install", "--profile", "fast", "3.13.5t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(9), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("cannot build CPython yet: a C compiler (CC is set to `/nonexistent/cc`"),
        "{stderr}"
    );
    assert!(!stderr.contains("build-essential"), "{stderr}");
    assert!(fx.server.all_hits().is_empty(), "nothing downloaded");
    assert!(fx.versions().is_empty());
    // The fake build needs no compiler: skipping the check lets it through.
    fx.ftpy()
        .env("CC", "/nonexistent/cc")
        .args(["install", "--profile", "fast", "--no-system-check", "3.13.5t"])
        .assert()
        .success();
}

/// A compiler that works but cannot find zstd.h, as on a machine without libzstd's headers
/// (with PKG_CONFIG_LIBDIR pointing nowhere, so that pkg-config does not find it either).
fn compiler_without_zstd(fx: &Fixture) -> std::path::PathBuf {
    let cc = fx.record.path().join("cc-without-zstd");
    std::fs::write(
        &cc,
        "#!/bin/sh\nif [ \"$1\" = -E ]; then input=$(cat); case \"$input\" in *zstd.h*) exit 1;; esac; \
         printf '%s\\n' \"$input\" | exec cc \"$@\"; fi\nexec cc \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&cc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    cc
}

#[test]
fn zstd_is_required_for_3_14_by_doctor_the_system_check_and_the_install_checks() {
    let fx = Fixture::with_release("3.14.6");
    let cc = compiler_without_zstd(&fx);

    // doctor checks for 3.14 unless told otherwise.
    let out =
        fx.ftpy().env("CC", &cc).env("PKG_CONFIG_LIBDIR", "/nonexistent").arg("doctor").output().unwrap();
    assert_eq!(out.status.code(), Some(9), "{}", stdout_of(&out));
    let stdout = stdout_of(&out);
    assert!(stdout.contains("Can this machine build CPython 3.14?"), "{stdout}");
    assert!(stdout.contains("MISSING  the zstd headers"), "{stdout}");
    assert!(stdout.contains("compression.zstd"), "{stdout}");
    assert!(stdout.contains("apt-get install -y libzstd-dev"), "{stdout}");
    let out = fx
        .ftpy()
        .env("CC", &cc)
        .env("PKG_CONFIG_LIBDIR", "/nonexistent")
        .args(["doctor", "--python", "3.13"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout_of(&out));
    assert!(stdout_of(&out).contains("required from 3.14 on"), "{}", stdout_of(&out));
    let out = fx.ftpy().args(["doctor", "--python", "3.12"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));

    // The system check stops a 3.14 install before it downloads anything.
    let out = fx
        .ftpy()
        .env("CC", &cc)
        .env("PKG_CONFIG_LIBDIR", "/nonexistent")
        .args(["install", "--profile", "fast", "3.14.6t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(9), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("libzstd-dev"), "{}", stderr_of(&out));
    assert!(fx.server.all_hits().is_empty(), "nothing downloaded");

    // A build without the module fails its checks, naming the package; the receipt of one with
    // it records the module as checked and required.
    let out = fx
        .ftpy()
        .env("FAKE_MISSING_MODULE", "compression.zstd")
        .args(["install", "--profile", "fast", "--no-system-check", "3.14.6t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("compression.zstd"), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("libzstd-dev"), "{}", stderr_of(&out));
    let out =
        fx.ftpy().args(["install", "--profile", "fast", "--no-system-check", "3.14.6t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains("series to target"), "{}", stderr_of(&out));
    let receipt: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fx.home.path().join("versions/3.14.6t/ftpy-receipt.json")).unwrap(),
    )
    .unwrap();
    let checks = &receipt["checks"];
    assert!(checks["modules"]["compression.zstd"].is_null(), "{checks}");
    assert!(checks["modules"].get("tkinter").is_some(), "optional modules are checked too: {checks}");
    let required: Vec<&str> =
        checks["required_modules"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(required.contains(&"compression.zstd") && !required.contains(&"tkinter"), "{required:?}");

    // 3.13 has no compression.zstd: not asked for.
    let fx = Fixture::with_release(V);
    let out = fx
        .ftpy()
        .env("CC", &cc)
        .env("PKG_CONFIG_LIBDIR", "/nonexistent")
        .args(["install", "--profile", "fast", "3.13.5t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    // One line of advice towards 3.14t, and the install goes on.
    let stderr = stderr_of(&out);
    let advice: Vec<&str> = stderr.lines().filter(|l| l.contains("series to target")).collect();
    assert_eq!(advice.len(), 1, "{}", stderr_of(&out));
    assert!(advice[0].contains("ftpy install 3.14t"), "{advice:?}");
    let receipt = std::fs::read_to_string(fx.home.path().join("versions/3.13.5t/ftpy-receipt.json")).unwrap();
    assert!(!receipt.contains("zstd"), "{receipt}");
}

#[test]
fn the_workflow_defaults_to_3_14_and_the_dockerfile_installs_the_table_s_packages() {
    let fx = Fixture::with_release(V);
    let workflow = stdout_of(&fx.ftpy().args(["ci", "github"]).output().unwrap());
    let dockerfile = stdout_of(&fx.ftpy().args(["dockerfile", "--python", "3.14t"]).output().unwrap());
    let matrix: serde_yaml::Value = serde_yaml::from_str(&workflow).unwrap();
    assert_eq!(
        matrix["jobs"]["test"]["strategy"]["matrix"]["python"],
        serde_yaml::to_value(["3.14"]).unwrap(),
        "3.14 by default: {workflow}"
    );
    // The workflow's packages come from install.sh through the action (checked against the
    // table by a unit test); the Dockerfile names them itself.
    assert!(dockerfile.contains("libzstd-dev") && dockerfile.contains("libssl-dev"), "{dockerfile}");
    assert!(!workflow.contains("apt-get"), "{workflow}");
}

#[test]
fn github_actions_gets_log_groups_path_and_outputs() {
    let fx = Fixture::with_release(V);
    let path_file = fx.record.path().join("github_path");
    let output_file = fx.record.path().join("github_output");
    let out = fx
        .ftpy()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_PATH", &path_file)
        .env("GITHUB_OUTPUT", &output_file)
        .args(["install", "--pair", "--profile", "fast", "3.13.5"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(stdout.contains("::group::Build log of 3.13.5t\n"), "{stdout}");
    assert!(stdout.contains("::group::Build log of 3.13.5\n"), "{stdout}");
    assert_eq!(stdout.matches("::endgroup::").count(), 2, "{stdout}");
    assert!(!stderr_of(&out).contains('\u{1b}'), "no terminal control sequences without a terminal");
    assert_eq!(fs::read_to_string(&path_file).unwrap(), format!("{}\n", fx.path("bin").display()));
    let outputs = fs::read_to_string(&output_file).unwrap();
    let ft = fx.path("versions/3.13.5t/bin/python3.13t");
    let gil = fx.path("versions/3.13.5/bin/python3.13");
    assert!(outputs.contains(&format!("python-ft={}\n", ft.display())), "{outputs}");
    assert!(outputs.contains(&format!("python-gil={}\n", gil.display())), "{outputs}");
    assert!(outputs.contains("python-path="), "{outputs}");
}

#[test]
fn ci_github_prints_a_workflow_that_uses_the_action_venv_and_run() {
    let fx = Fixture::new();
    let out = fx.ftpy().args(["ci", "github", "--python", "3.13", "3.14"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let doc: serde_yaml::Value = serde_yaml::from_str(&stdout_of(&out)).expect("valid YAML");
    let job = &doc["jobs"]["test"];
    assert_eq!(job["strategy"]["matrix"]["python"], serde_yaml::to_value(["3.13", "3.14"]).unwrap());
    let steps = job["steps"].as_sequence().expect("steps");
    let runs: Vec<String> = steps.iter().filter_map(|s| s["run"].as_str().map(str::to_string)).collect();
    // Without --action: ftpy's action is checked out from the repository variable, then used.
    let checkout =
        steps.iter().find(|s| s["with"]["path"].as_str() == Some(".ftpy-action")).expect("checkout");
    assert_eq!(checkout["with"]["repository"].as_str(), Some("${{ vars.FTPY_REPOSITORY }}"));
    let setup = steps.iter().find(|s| s["uses"].as_str() == Some("./.ftpy-action")).expect("the action");
    assert_eq!(setup["with"]["python-version"].as_str(), Some("${{ matrix.python }}"));
    assert_eq!(setup["with"]["pair"].as_bool(), Some(true));
    // Then what a developer runs: twin environments, the runner, the tests side by side.
    assert_eq!(
        runs,
        [
            "ftpy venv --python ${{ matrix.python }}",
            "ftpy run -- python -m pip install pytest",
            "ftpy run -- python -m pytest"
        ]
    );
    let text = stdout_of(&out);
    assert!(!text.contains("pip install -e"), "ftpy venv decides how the project is installed");
    assert!(!text.contains("cargo install"), "the action builds and caches ftpy");

    let out = fx.ftpy().args(["ci", "github", "--action", "example/ftpy@v1"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let doc: serde_yaml::Value = serde_yaml::from_str(&stdout_of(&out)).unwrap();
    let steps = doc["jobs"]["test"]["steps"].as_sequence().unwrap();
    assert!(steps.iter().any(|s| s["uses"].as_str() == Some("example/ftpy@v1")));
    assert!(!stdout_of(&out).contains(".ftpy-action"));
    for bad in ["example/ftpy", "a b@v1", "x@v1\n  evil: 1", "\"q\"@v1"] {
        let out = fx.ftpy().args(["ci", "github", "--action", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stdout_of(&out));
    }
    let help = stdout_of(&fx.ftpy().args(["ci", "github", "--help"]).output().unwrap());
    for line in help.lines().filter(|l| l.contains("[default")) {
        assert_eq!(line.matches("[default").count(), 1, "one default per option: {line}");
    }

    for bad in ["3.13t", "3.12"] {
        let out = fx.ftpy().args(["ci", "github", "--python", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
    let out = fx.ftpy().args(["ci", "github", "--python", "3.99"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
}

/// The action's own structure: each cache is restored before and saved after what it keeps,
/// under one key, never after a hit; the builds' cache holds the builds, not the index cache.
#[test]
fn the_action_caches_ftpy_and_the_builds_under_matching_keys() {
    let text = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml")).unwrap();
    let action: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    assert_eq!(action["inputs"]["python-version"]["default"].as_str(), Some("3.14t"));
    let steps = action["runs"]["steps"].as_sequence().unwrap();
    let position = |pred: &dyn Fn(&serde_yaml::Value) -> bool| steps.iter().position(|s| pred(s)).unwrap();
    for (restore_id, user) in [("ftpy-cache", "ftpy"), ("builds", "install")] {
        let restore = position(&|s| s["id"].as_str() == Some(restore_id));
        let uses = position(&|s| s["run"].as_str().is_some_and(|r| r.ends_with(&format!(" {user}"))));
        let save = position(&|s| {
            s["uses"].as_str().is_some_and(|u| u.starts_with("actions/cache/save@"))
                && s["with"]["key"] == steps[restore]["with"]["key"]
        });
        assert!(restore < uses && uses < save, "{restore_id}: restore, use, save");
        assert_eq!(steps[save]["with"]["path"], steps[restore]["with"]["path"]);
        let condition = steps[save]["if"].as_str().unwrap();
        assert!(
            condition.contains(&format!("steps.{restore_id}.outputs.cache-hit != 'true'")),
            "{condition}"
        );
    }
    let builds = steps.iter().find(|s| s["id"].as_str() == Some("builds")).unwrap();
    assert_eq!(builds["with"]["path"].as_str(), Some("${{ steps.prepare.outputs.builds-dir }}"));
}

#[test]
fn dockerfile_has_a_builder_and_a_slim_final_stage() {
    let fx = Fixture::new();
    let out = fx
        .ftpy()
        .args(["dockerfile", "--python", "3.14t", "--base", "debian:bookworm-slim"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms, ["FROM rust:1-bookworm AS builder", "FROM debian:bookworm-slim"]);
    assert!(text.contains("RUN ftpy install 3.14t\n"), "{text}");
    assert!(text.contains("ENV FTPY_HOME=/opt/ftpy"), "{text}");
    let final_stage = text.split("FROM debian:bookworm-slim").nth(1).unwrap();
    assert!(final_stage.contains("COPY --from=builder /opt/ftpy /opt/ftpy"));
    assert!(final_stage.contains("ENV PATH=/opt/ftpy/bin:$PATH"));
    assert!(!final_stage.contains("-dev"), "no build dependencies in the final stage");
    assert!(final_stage.contains("CMD [\"python3.14t\"]"));
    assert!(final_stage.contains("ln -sf /opt/ftpy/bin/python3.14t /usr/local/bin/python3"), "{final_stage}");
    assert!(
        final_stage.contains("ln -sf /opt/ftpy/bin/python3.14t /usr/local/bin/python\n"),
        "{final_stage}"
    );
    // The header's command writes this same file again: the version is in it.
    assert!(
        text.contains("#   ftpy dockerfile --python 3.14t --base debian:bookworm-slim > Dockerfile.python"),
        "{text}"
    );
    assert!(text.contains("about 16 minutes"), "{text}");
    assert!(stderr_of(&out).contains("about 16 minutes"), "{}", stderr_of(&out));
    let out = fx.ftpy().args(["dockerfile", "--python", "3.13t", "--profile", "fast"]).output().unwrap();
    assert!(
        stdout_of(&out)
            .contains("#   ftpy dockerfile --python 3.13t --base debian:bookworm-slim --profile fast >")
    );
    assert!(!stderr_of(&out).contains("minutes"), "{}", stderr_of(&out));
    let out = fx.ftpy().args(["dockerfile", "--python", "3.12t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));

    assert!(
        final_stage.contains("xargs -a /opt/ftpy/runtime-packages.txt"),
        "runtime packages found by the builder"
    );
    let out = fx
        .ftpy()
        .args(["dockerfile", "--base", "alpine:3.20", "--builder", "rust:1-alpine"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("not Debian or Ubuntu based"), "{}", stderr_of(&out));
    // The builder follows the base's release, and two releases are never mixed.
    let out = fx.ftpy().args(["dockerfile", "--base", "debian:trixie-slim"]).output().unwrap();
    assert!(stdout_of(&out).contains("FROM rust:1-trixie AS builder"), "{}", stdout_of(&out));
    let out = fx.ftpy().args(["dockerfile", "--builder", "rust:1-trixie"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("different releases"), "{}", stderr_of(&out));
    let out = fx.ftpy().args(["dockerfile", "--base", "ubuntu:24.04"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "no official Rust image for Ubuntu: --builder is needed");
    assert!(stderr_of(&out).contains("packaged Rust is older than the 1.89"), "{}", stderr_of(&out));
    // A builder without cargo would stop in install.sh: refused before anything is written.
    let out = fx
        .ftpy()
        .args(["dockerfile", "--base", "ubuntu:24.04", "--builder", "ubuntu:24.04"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout_of(&out));
    assert!(stderr_of(&out).contains("plain ubuntu image without Rust"), "{}", stderr_of(&out));
    assert!(stdout_of(&out).is_empty());
    // Only what the recipes can build.
    let out = fx.ftpy().args(["dockerfile", "--python", "3.99t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn a_fresh_user_installs_into_their_own_default_home() {
    // A new account, no FTPY_HOME: ftpy must work from the platform's data directory.
    let fx = Fixture::with_release(V);
    let user = format!("ftpy{}", std::process::id());
    let added =
        Command::new("useradd").args(["--create-home", "--shell", "/bin/sh", &user]).status().unwrap();
    assert!(added.success(), "useradd needs root");
    let bin = tempfile::TempDir::new().unwrap();
    let ftpy = bin.path().join("ftpy");
    fs::copy(assert_cmd::cargo::cargo_bin("ftpy"), &ftpy).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for dir in [bin.path(), fx.recipes.path(), fx.record.path()] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).unwrap();
    }
    for file in fs::read_dir(fx.recipes.path()).unwrap().flatten() {
        fs::set_permissions(file.path(), fs::Permissions::from_mode(0o644)).unwrap();
    }
    let home = format!("/home/{user}");
    let out = Command::new("runuser")
        .args(["-u", &user, "--"])
        .arg("env")
        .arg("-i")
        .arg(format!("HOME={home}"))
        .arg(format!("PATH={}", std::env::var("PATH").unwrap()))
        .arg(format!("FTPY_RECIPES={}", fx.recipes.path().display()))
        .arg(format!("FTPY_MIRROR={}", fx.server.base))
        .arg(format!("FTPY_TEST_RECORD={}", fx.record.path().display()))
        .arg(&ftpy)
        .args(["install", "--profile", "fast", "3.13.5t"])
        .output()
        .unwrap();
    let installed =
        std::path::Path::new(&home).join(".local/share/ftpy/versions/3.13.5t/bin/python3.13t").exists();
    let _ = Command::new("userdel").args(["--remove", &user]).status();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(installed, "installed under the user's ~/.local/share/ftpy");
}

#[test]
fn completions_and_man_page() {
    let fx = Fixture::new();
    let bash = fx.ftpy().args(["completions", "bash"]).output().unwrap();
    assert!(bash.status.success());
    let script = fx.record.path().join("ftpy.bash");
    fs::write(&script, &bash.stdout).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(&script).status().unwrap();
    assert!(syntax.success(), "bash completion script has a syntax error");
    assert!(stdout_of(&bash).contains("install"));
    for shell in ["zsh", "fish"] {
        let out = fx.ftpy().args(["completions", shell]).output().unwrap();
        assert!(out.status.success() && stdout_of(&out).contains("doctor"), "{shell}");
    }
    let man = fx.ftpy().arg("man").output().unwrap();
    assert!(man.status.success());
    let page = stdout_of(&man);
    assert!(page.contains(".TH ftpy 1"));
    assert!(page.contains(".SH \"EXIT STATUS\"") && page.contains(".SH ENVIRONMENT"), "{page}");

    // The pages ftpy(1) refers to, as install.sh installs them (issue 12: ftpy-install(1) did
    // not exist).
    let dir = fx.record.path().join("man1");
    let out = fx.ftpy().args(["man", "--dir"]).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    for referred in page.lines().filter(|l| l.starts_with("ftpy\\-") && l.ends_with("(1)")) {
        let file = format!("{}.1", referred.trim_end_matches("(1)").replace("\\-", "-"));
        assert!(dir.join(&file).is_file(), "{file}");
    }
    assert!(dir.join("ftpy-install.1").is_file() && dir.join("ftpy-ci-github.1").is_file());
    let install_page = fs::read_to_string(dir.join("ftpy-install.1")).unwrap();
    assert!(install_page.contains(".TH ftpy-install 1"), "{install_page}");
    // A directory that cannot be made is a local error with what was being written.
    let out = fx.ftpy().args(["man", "--dir", "/proc/no/such"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("cannot write the man pages into /proc/no/such"), "{}", stderr_of(&out));
}
