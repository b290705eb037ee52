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
        "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in *.c) if grep -q zstd.h \"$a\"; then exit 1; fi;; esac; done\n\
         exec cc \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&cc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    cc
}

#[test]
fn a_compiler_that_reads_nothing_is_asked_without_a_pipe() {
    // It answers the version and succeeds at anything else without reading its input: writing
    // a header probe to its stdin would end ftpy with SIGPIPE, silently, once it has exited.
    let fx = Fixture::with_release("3.14.6");
    let cc = fx.record.path().join("cc-that-reads-nothing");
    std::fs::write(&cc, "#!/bin/sh\n[ \"$1\" = --version ] && echo 'cc (fake) 12.2.0'\nexit 0\n").unwrap();
    std::fs::set_permissions(&cc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    for _ in 0..5 {
        let out = fx.ftpy().env("CC", &cc).arg("doctor").output().unwrap();
        assert!(out.status.code().is_some(), "ended by a signal: {:?}", out.status);
        assert!(stdout_of(&out).contains("Can this machine build CPython"), "{}", stdout_of(&out));
    }
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
    // (Tk's headers may be missing too: without pkg-config, `tk.h` is not on the default path.)
    assert!(
        stdout.lines().any(|l| l.contains("apt-get install -y") && l.ends_with(" libzstd-dev")),
        "{stdout}"
    );
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
    // The checks neither ask for zstd nor record it (the receipt's compiler line names the test's
    // `cc-without-zstd` wrapper, so the whole receipt is not searched).
    let receipt: serde_json::Value = serde_json::from_str(&receipt).unwrap();
    let checks = receipt["checks"].to_string();
    assert!(!checks.contains("zstd"), "{checks}");
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

#[test]
fn ci_github_stress_adds_a_free_threaded_job_that_runs_the_tests_under_threads() {
    let fx = Fixture::new();
    let plain: serde_yaml::Value =
        serde_yaml::from_str(&stdout_of(&fx.ftpy().args(["ci", "github"]).output().unwrap())).unwrap();
    assert!(plain["jobs"]["stress"].is_null(), "the stress job is opt-in");

    let out = fx.ftpy().args(["ci", "github", "--stress", "--python", "3.13", "3.14"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let doc: serde_yaml::Value = serde_yaml::from_str(&stdout_of(&out)).expect("valid YAML");
    assert_eq!(doc["jobs"]["test"], plain_test_job_for(&fx, &["3.13", "3.14"]), "the test job is unchanged");
    let job = &doc["jobs"]["stress"];
    assert_eq!(job["strategy"]["matrix"]["python"], serde_yaml::to_value(["3.13", "3.14"]).unwrap());
    let steps = job["steps"].as_sequence().expect("steps");
    let setup = steps.iter().find(|s| s["uses"].as_str() == Some("./.ftpy-action")).expect("the action");
    assert_eq!(setup["with"]["pair"].as_bool(), Some(true));
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert_eq!(
        runs,
        [
            "ftpy venv --python ${{ matrix.python }}",
            "ftpy run --ft -- python -m pip install pytest",
            "ftpy run --stress --json -- python -m pytest > stress-report.json"
        ]
    );
    let keep =
        steps.iter().find(|s| s["uses"].as_str() == Some("actions/upload-artifact@v4")).expect("artifact");
    assert_eq!(keep["with"]["path"].as_str(), Some("stress-report.json"));
    assert_eq!(
        keep["if"].as_str(),
        Some("${{ !cancelled() }}"),
        "the report is kept when races fail the job"
    );

    // With a registry, it waits for the builds job like the test job, and only reads.
    let url = "oci://ghcr.io/example/ftpy-builds";
    let out = fx.ftpy().args(["ci", "github", "--stress", "--remote-cache", url]).output().unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&stdout_of(&out)).expect("valid YAML");
    assert_eq!(doc["jobs"]["stress"]["needs"].as_str(), Some("builds"));
    assert_eq!(doc["jobs"]["stress"]["permissions"], doc["jobs"]["test"]["permissions"]);

    // --stress needs pytest.
    let out = fx.ftpy().args(["ci", "github", "--stress", "--test-command", "unittest"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("--stress needs pytest"), "{}", stderr_of(&out));
}

fn plain_test_job_for(fx: &Fixture, pythons: &[&str]) -> serde_yaml::Value {
    let mut args = vec!["ci", "github", "--python"];
    args.extend(pythons);
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&stdout_of(&fx.ftpy().args(&args).output().unwrap())).unwrap();
    doc["jobs"]["test"].clone()
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
    let position = |pred: &dyn Fn(&serde_yaml::Value) -> bool| steps.iter().position(pred).unwrap();
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

/// The setup step of a job: the one that uses ftpy's action.
fn action_step(job: &serde_yaml::Value) -> &serde_yaml::Value {
    let steps = job["steps"].as_sequence().expect("steps");
    let mut setups = steps.iter().filter(|s| s["with"]["python-version"].is_string());
    let step = setups.next().expect("a step sets up the pair");
    assert!(setups.next().is_none(), "one setup step");
    step
}

fn permissions(job: &serde_yaml::Value) -> Vec<(String, String)> {
    job["permissions"]
        .as_mapping()
        .expect("permissions")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v.as_str().unwrap().to_string()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// With a registry: every job pulls; only the builds job pushes, only on pushes to the default
/// branch, and only it has write access; the tests wait for it there and run at once elsewhere.
#[test]
fn ci_github_with_a_remote_cache_pushes_only_from_the_default_branch() {
    let fx = Fixture::new();
    let url = "oci://ghcr.io/example/ftpy-builds";
    let out =
        fx.ftpy().args(["ci", "github", "--python", "3.13", "3.14", "--remote-cache", url]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("valid YAML");
    let jobs = doc["jobs"].as_mapping().unwrap();
    let names: Vec<&str> = jobs.keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(names, ["builds", "test"], "{text}");
    let (builds, test) = (&doc["jobs"]["builds"], &doc["jobs"]["test"]);

    // The builds job: the default branch's pushes only, write access, the action with push.
    assert_eq!(
        builds["if"].as_str(),
        Some(
            "github.event_name == 'push' && github.ref == format('refs/heads/{0}', \
             github.event.repository.default_branch)"
        )
    );
    assert_eq!(permissions(builds), pairs(&[("contents", "read"), ("packages", "write")]));
    assert_eq!(builds["strategy"], test["strategy"], "the same matrix");
    let push = action_step(builds);
    assert_eq!(push["uses"].as_str(), Some("./.ftpy-action"));
    assert_eq!(push["with"]["remote-cache"].as_str(), Some(url));
    assert_eq!(push["with"]["push"].as_bool(), Some(true));
    assert_eq!(push["with"]["pair"].as_bool(), Some(true));
    assert_eq!(push["env"]["GITHUB_TOKEN"].as_str(), Some("${{ secrets.GITHUB_TOKEN }}"));
    let build_steps = builds["steps"].as_sequence().unwrap();
    assert!(build_steps.iter().all(|s| s["run"].is_null()), "the builds job runs nothing else");

    // The tests: read access, after the builds job when it runs, whatever it did.
    assert_eq!(permissions(test), pairs(&[("contents", "read"), ("packages", "read")]));
    assert_eq!(test["needs"].as_str(), Some("builds"));
    assert_eq!(test["if"].as_str(), Some("${{ !cancelled() }}"));
    let pull = action_step(test);
    assert_eq!(pull["with"]["remote-cache"].as_str(), Some(url));
    assert!(pull["with"]["push"].is_null(), "the tests never push");
    assert_eq!(pull["env"]["GITHUB_TOKEN"].as_str(), Some("${{ secrets.GITHUB_TOKEN }}"));
    assert!(test["steps"].as_sequence().unwrap().iter().all(|s| s["env"].is_null() || s == pull));
    // Nothing else anywhere writes, pushes or names a token.
    let yaml: String = text.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
    assert_eq!(yaml.matches("write").count(), 1, "{text}");
    assert_eq!(yaml.matches("push: true").count(), 1, "{text}");
    assert!(!yaml.contains("--push") && !yaml.contains("FTPY_REMOTE_CACHE_TOKEN"), "{text}");
    // The header says so.
    assert!(text.contains("Only the builds job, on pushes to the\n# default branch, pushes to it"), "{text}");

    // Another registry: the push token in the builds job, a read-only one in the tests; no
    // GITHUB_TOKEN, no packages permission (it is ghcr.io's).
    let url = "oci://registry.example.com/team/ftpy-builds";
    let out = fx
        .ftpy()
        .args(["ci", "github", "--action", "example/ftpy@v1", "--remote-cache", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let (builds, test) = (&doc["jobs"]["builds"], &doc["jobs"]["test"]);
    assert_eq!(permissions(builds), pairs(&[("contents", "read")]));
    assert_eq!(permissions(test), pairs(&[("contents", "read")]));
    let (push, pull) = (action_step(builds), action_step(test));
    assert_eq!(push["uses"].as_str(), Some("example/ftpy@v1"));
    assert_eq!(
        push["env"]["FTPY_REMOTE_CACHE_TOKEN"].as_str(),
        Some("${{ secrets.FTPY_REMOTE_CACHE_TOKEN }}")
    );
    assert_eq!(
        pull["env"]["FTPY_REMOTE_CACHE_TOKEN"].as_str(),
        Some("${{ secrets.FTPY_REMOTE_CACHE_PULL_TOKEN }}")
    );
    assert!(!text.contains("GITHUB_TOKEN"), "{text}");
    assert_eq!(push["with"]["push"].as_bool(), Some(true));
    assert!(pull["with"]["push"].is_null());

    // A static store is read-only: no builds job, no credentials.
    for url in ["https://builds.example.com/ftpy", "file:///srv/ftpy-builds"] {
        let out = fx.ftpy().args(["ci", "github", "--remote-cache", url]).output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let text = stdout_of(&out);
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(doc["jobs"].as_mapping().unwrap().len(), 1, "{text}");
        let test = &doc["jobs"]["test"];
        assert!(test["needs"].is_null());
        assert_eq!(permissions(test), pairs(&[("contents", "read")]));
        assert_eq!(action_step(test)["with"]["remote-cache"].as_str(), Some(url));
        assert!(action_step(test)["env"].is_null());
        assert!(!text.contains("push: true") && !text.contains("TOKEN"), "{text}");
    }

    // Without it, the workflow has no permissions, remote cache or second job.
    let text = stdout_of(&fx.ftpy().args(["ci", "github"]).output().unwrap());
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(doc["jobs"].as_mapping().unwrap().len(), 1);
    assert!(!text.contains("permissions") && !text.contains("remote-cache"), "{text}");
}

/// URLs that `ftpy install` would not take, or that YAML, an expression or a shell would read,
/// are refused as usage errors before anything is printed, credentials masked.
#[test]
fn a_bad_remote_cache_url_is_refused_with_the_usage_code() {
    let fx = Fixture::new();
    for bad in [
        "ghcr.io/example/ftpy-builds",
        "s3://bucket/ftpy-builds",
        "oci://ghcr.io",
        "oci://ghcr.io/Example/ftpy-builds",
        "oci://ghcr.io/example/ftpy-builds\n  evil: 1",
        "oci://ghcr.io/example/ftpy-builds ",
        "oci://ghcr.io/example/${{ github.token }}",
        "https://example.com/'ftpy'",
        "https://example.com/\"ftpy\"",
        "https://example.com/$(id)",
        "file://relative",
        "oci://someone:hunter2@ghcr.io/example/ftpy-builds",
        "https://hunter2@builds.example.com/ftpy",
        "https://builds.example.com/ftpy?signature=hunter2",
    ] {
        for command in [&["ci", "github"][..], &["dockerfile"][..]] {
            let out = fx.ftpy().args(command).args(["--remote-cache", bad]).output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{command:?} {bad:?}: {}", stdout_of(&out));
            assert!(stdout_of(&out).is_empty(), "{bad:?}");
            let stderr = stderr_of(&out);
            assert!(stderr.contains("is not a remote cache URL"), "{bad:?}: {stderr}");
            assert!(!stderr.contains("hunter2"), "{stderr}");
        }
    }
    let out = fx
        .ftpy()
        .args(["ci", "github", "--remote-cache", "oci://someone:hunter2@ghcr.io/example/ftpy-builds"])
        .output()
        .unwrap();
    assert!(stderr_of(&out).contains("credentials do not go in the URL"), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("FTPY_REMOTE_CACHE_TOKEN"), "{}", stderr_of(&out));
}

/// The action's remote-cache and push inputs, as action.yml passes them and ftpy-action.sh
/// checks them: run the script's `prepare` and `install` steps with an ftpy that records its
/// arguments (nothing is built).
#[test]
fn the_action_passes_remote_cache_and_push_to_ftpy_install_and_refuses_bad_ones() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let action: serde_yaml::Value =
        serde_yaml::from_str(&fs::read_to_string(repo.join("action.yml")).unwrap()).unwrap();
    assert_eq!(action["inputs"]["remote-cache"]["default"].as_str(), Some(""));
    assert_eq!(action["inputs"]["push"]["default"].as_str(), Some("false"));
    let steps = action["runs"]["steps"].as_sequence().unwrap();
    for id in ["prepare", "install"] {
        let step = steps.iter().find(|s| s["id"].as_str() == Some(id)).unwrap();
        assert_eq!(step["env"]["INPUT_REMOTE_CACHE"].as_str(), Some("${{ inputs.remote-cache }}"), "{id}");
        assert_eq!(step["env"]["INPUT_PUSH"].as_str(), Some("${{ inputs.push }}"), "{id}");
    }
    // A pushing job restores nothing from the Actions cache: what it installs was pulled from
    // the registry (so is there) or built (so is pushed).
    let restore = steps.iter().find(|s| s["id"].as_str() == Some("builds")).unwrap();
    assert!(restore["if"].as_str().unwrap().contains("inputs.push != 'true'"));

    let work = tempfile::TempDir::new().unwrap();
    let bin = work.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let calls = work.path().join("calls");
    fs::write(bin.join("ftpy"), format!("#!/bin/sh\necho \"$@\" >> '{}'\n", calls.display())).unwrap();
    std::fs::set_permissions(bin.join("ftpy"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let run = |step: &str, remote: &str, push: &str| {
        let _ = fs::remove_file(&calls);
        let out = Command::new("bash")
            .arg(repo.join(".github/ftpy-action.sh"))
            .arg(step)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", work.path())
            .env("GITHUB_ACTION_PATH", repo)
            .env("GITHUB_OUTPUT", work.path().join("output"))
            .env("GITHUB_ENV", work.path().join("env"))
            .env("FTPY_ACTION_BIN", &bin)
            .env("FTPY_BUILDS_RESTORED", "true")
            .env("INPUT_PYTHON_VERSION", "3.14")
            .env("INPUT_PAIR", "true")
            .env("INPUT_PROFILE", "optimized")
            .env("INPUT_REMOTE_CACHE", remote)
            .env("INPUT_PUSH", push)
            .output()
            .unwrap();
        (out, fs::read_to_string(&calls).unwrap_or_default())
    };
    let url = "oci://ghcr.io/example/ftpy-builds";
    for (remote, push, expected) in [
        ("", "false", "install --profile optimized --pair 3.14\n".to_string()),
        (url, "false", format!("install --remote-cache {url} --profile optimized --pair 3.14\n")),
        (url, "true", format!("install --remote-cache {url} --push --profile optimized --pair 3.14\n")),
        (
            "https://builds.example.com/ftpy",
            "false",
            "install --remote-cache https://builds.example.com/ftpy --profile optimized --pair 3.14\n".into(),
        ),
    ] {
        let (out, called) = run("install", remote, push);
        assert!(out.status.success(), "{remote} {push}: {}", stderr_of(&out));
        assert_eq!(called, expected);
        let (out, _) = run("prepare", remote, push);
        assert!(out.status.success(), "{remote} {push}: {}", stderr_of(&out));
    }
    for (remote, push, why) in [
        ("oci://someone:hunter2@ghcr.io/example/ftpy-builds", "false", "credentials do not go in the URL"),
        ("https://builds.example.com/ftpy?signature=hunter2", "false", "no query"),
        ("oci://ghcr.io/example/ftpy builds", "false", "white space"),
        ("oci://ghcr.io/example/$(id)", "false", "no place in it"),
        ("oci://ghcr.io/example/\"x\"", "false", "no place in it"),
        ("s3://bucket/ftpy-builds", "false", "must start with"),
        ("oci://ghcr.io", "false", "must start with"),
        (url, "yes", "push must be true or false"),
        ("", "true", "push needs remote-cache to be a registry"),
        ("https://builds.example.com/ftpy", "true", "push needs remote-cache to be a registry"),
    ] {
        for step in ["prepare", "install"] {
            let (out, called) = run(step, remote, push);
            assert_eq!(out.status.code(), Some(1), "{step} {remote:?} {push}");
            let stderr = stderr_of(&out);
            assert!(stderr.starts_with("::error::") && stderr.contains(why), "{remote:?}: {stderr}");
            assert!(!stderr.contains("hunter2"), "{stderr}");
            assert!(called.is_empty(), "ftpy not run: {called}");
        }
    }
}

/// With a remote cache, the builder stage installs with the token of a BuildKit secret mount,
/// for that one command, and without one; no ARG or ENV ever holds a credential.
#[test]
fn dockerfile_with_a_remote_cache_reads_the_token_from_a_secret_mount() {
    let fx = Fixture::new();
    let url = "oci://ghcr.io/example/ftpy-builds";
    let out = fx
        .ftpy()
        .args(["dockerfile", "--python", "3.14t", "--profile", "fast", "--remote-cache", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    assert!(
        text.contains("#   docker build --secret id=ftpy_remote_cache_token,env=FTPY_REMOTE_CACHE_TOKEN "),
        "{text}"
    );
    assert!(text.contains(&format!("--profile fast --remote-cache {url} > Dockerfile.python")), "{text}");
    // Every instruction, continuation lines joined.
    let instructions: Vec<String> = text
        .replace("\\\n", " ")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    for instruction in &instructions {
        let upper = instruction.to_uppercase();
        assert!(!upper.starts_with("ARG"), "{instruction}");
        if upper.starts_with("ENV") {
            assert!(!upper.contains("TOKEN") && !upper.contains("USER"), "{instruction}");
        }
    }
    let with_secret: Vec<&String> = instructions.iter().filter(|i| i.contains("FTPY_REMOTE_CACHE")).collect();
    assert_eq!(with_secret.len(), 1, "one RUN reads the secrets: {with_secret:?}");
    let install = with_secret[0];
    let prefix =
        "RUN --mount=type=secret,id=ftpy_remote_cache_token --mount=type=secret,id=ftpy_remote_cache_user ";
    assert!(install.starts_with(prefix), "{install}");
    assert!(
        install.ends_with(&format!("ftpy install --remote-cache '{url}' --profile fast 3.14t")),
        "{install}"
    );
    assert!(!text.contains("required=true"), "anonymous pulls work without the secret");

    // The command as a shell runs it: with no secret, anonymous; with one, its value in the
    // environment of ftpy and nowhere else.
    let work = tempfile::TempDir::new().unwrap();
    let secrets = work.path().join("secrets");
    fs::create_dir_all(&secrets).unwrap();
    let bin = work.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    fs::write(
        bin.join("ftpy"),
        "#!/bin/sh\necho \"token=${FTPY_REMOTE_CACHE_TOKEN-unset} user=${FTPY_REMOTE_CACHE_USER-unset} args=$*\"\n",
    )
    .unwrap();
    std::fs::set_permissions(bin.join("ftpy"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let script = install[prefix.len()..].replace("/run/secrets", &secrets.display().to_string());
    let run = || {
        let out = Command::new("sh")
            .args(["-c", &script])
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        stdout_of(&out)
    };
    assert_eq!(
        run(),
        format!("token=unset user=unset args=install --remote-cache {url} --profile fast 3.14t\n")
    );
    fs::write(secrets.join("ftpy_remote_cache_token"), "s3cret\n").unwrap();
    assert!(run().starts_with("token=s3cret user=unset "));
    fs::write(secrets.join("ftpy_remote_cache_user"), "robot").unwrap();
    assert!(run().starts_with("token=s3cret user=robot "));

    // Without --remote-cache: no secret; a registry on this machine needs the host network;
    // a file:// store is out of a build's reach.
    let text = stdout_of(&fx.ftpy().args(["dockerfile"]).output().unwrap());
    assert!(!text.contains("secret") && !text.contains("remote-cache"), "{text}");
    let out = fx
        .ftpy()
        .args(["dockerfile", "--remote-cache", "oci+http://127.0.0.1:5000/ftpy/builds"])
        .output()
        .unwrap();
    assert!(stdout_of(&out).contains("docker build --network=host"), "{}", stdout_of(&out));
    let out = fx.ftpy().args(["dockerfile", "--remote-cache", "file:///srv/ftpy-builds"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("cannot read this machine's directories"), "{}", stderr_of(&out));
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
