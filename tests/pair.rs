//! Pairs (`--pair`) and the build cache, against the local mirror and the fake source tree.

mod common;

use std::fs;
use std::path::PathBuf;

use common::*;

const V: &str = "3.13.5";

#[test]
fn pair_is_one_download_one_unpack_and_two_concurrent_builds() {
    let fx = Fixture::with_release(V);
    // 3.13 resolves to 3.13.14 in the built-in recipes; ask for the fixture's release.
    let out = fx
        .ftpy()
        .env("FAKE_MAKE_SLEEP", "2")
        .args(["install", "--pair", "--profile", "fast", "3.13.5"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(stdout.contains("Installed 3.13.5 (GIL, built"), "{stdout}");
    assert!(stdout.contains("Installed 3.13.5t (free-threaded, built"), "{stdout}");
    assert_eq!(fx.versions(), ["3.13.5", "3.13.5t"]);
    assert_eq!(fx.server.hits(&Fixture::mirror_path(V)).len(), 1, "one download");
    assert_eq!(stderr_of(&out).matches("Unpacking").count(), 1, "one unpack");

    let mut runs = fx.configure_runs();
    runs.sort_by_key(|r| r.contains(&"--disable-gil".to_string()));
    assert!(!runs[0].contains(&"--disable-gil".to_string()));
    assert!(runs[1].contains(&"--disable-gil".to_string()));
    // Same flags otherwise, apart from the prefix.
    assert_eq!(runs[0][1..], runs[1][1..runs[1].len() - 1]);

    // Both makes were clients of the same jobserver.
    let auths: Vec<String> = fx
        .records("make.")
        .iter()
        .map(|m| {
            m.split_whitespace().find(|w| w.starts_with("--jobserver-auth=")).expect("jobserver").to_string()
        })
        .collect();
    assert_eq!(auths.len(), 2);
    assert_eq!(auths[0], auths[1], "one jobserver shared by both builds");
    // Each build's phases were shown (plain lines without a terminal).
    let stderr = stderr_of(&out);
    for line in ["3.13.5: configure", "3.13.5t: configure", "3.13.5: install", "3.13.5t: install"] {
        assert!(stderr.contains(line), "{line}: {stderr}");
    }

    // The two compiles overlapped in time.
    let times: Vec<(f64, f64)> = fx
        .records("times.")
        .iter()
        .map(|t| {
            let mut it = t.split_whitespace().map(|x| x.parse::<f64>().unwrap());
            (it.next().unwrap(), it.next().unwrap())
        })
        .collect();
    assert_eq!(times.len(), 2);
    let (a, b) = (times[0], times[1]);
    assert!(a.0 < b.1 && b.0 < a.1, "builds ran one after the other: {times:?}");

    // Both builds are listed next to each other, and removed together.
    let list = stdout_of(&fx.ftpy().arg("list").output().unwrap());
    assert!(list.lines().next().unwrap().starts_with("3.13.5 "), "{list}");
    assert!(list.lines().nth(1).unwrap().starts_with("3.13.5t"), "{list}");
    let out = fx.ftpy().args(["uninstall", "--pair", "3.13.5"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(fx.versions().is_empty());
}

#[test]
fn the_same_build_in_two_requests_is_a_pair_too() {
    let fx = Fixture::with_release(V);
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t", "3.13.5"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stderr_of(&out).matches("Unpacking").count(), 1);
}

#[test]
fn one_failed_build_does_not_stop_the_other() {
    let fx = Fixture::with_release(V);
    let out = fx
        .ftpy()
        .env("FAKE_FAIL_VARIANT", "fttrue")
        .args(["install", "--pair", "--profile", "fast", "3.13.5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("failed to install 3.13.5t"), "{stderr}");
    assert!(stderr.contains("1 of 2 installs failed: 3.13.5t"), "{stderr}");
    assert!(stdout_of(&out).contains("Installed 3.13.5 (GIL"), "{}", stdout_of(&out));
    assert_eq!(fx.versions(), ["3.13.5"]);
    assert!(fx.staging_leftovers().is_empty(), "{:?}", fx.staging_leftovers());
}

#[test]
fn reinstall_after_uninstall_restores_from_the_build_cache() {
    let fx = Fixture::with_release(V);
    fx.ftpy().args(["install", "--pair", "--profile", "fast", "3.13.5"]).assert().success();
    assert_eq!(fx.configure_runs().len(), 2);
    fx.ftpy().args(["uninstall", "--pair", "3.13.5"]).assert().success();
    let out = fx.ftpy().args(["install", "--pair", "--profile", "fast", "3.13.5"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert_eq!(stdout.matches("restored from the build cache").count(), 2, "{stdout}");
    assert_eq!(fx.configure_runs().len(), 2, "no build");
    assert_eq!(fx.server.hits(&Fixture::mirror_path(V)).len(), 1, "no download");
    assert_eq!(fx.versions(), ["3.13.5", "3.13.5t"]);
    let receipt = fs::read_to_string(fx.path("versions/3.13.5t/ftpy-receipt.json")).unwrap();
    assert!(receipt.contains("\"restored_from_cache\": true"), "{receipt}");
    fx.ftpy().args(["which", "3.13.5t"]).assert().success();
    assert!(fs::read_link(fx.path("bin/python3.13t")).is_ok());

    // A different profile is a different build.
    fx.ftpy().args(["install", "--reinstall", "3.13.5t"]).assert().success();
    assert_eq!(fx.configure_runs().len(), 3);
    // --no-build-cache forces a build.
    fx.ftpy()
        .args(["install", "--reinstall", "--no-build-cache", "--profile", "fast", "3.13.5t"])
        .assert()
        .success();
    assert_eq!(fx.configure_runs().len(), 4);
}

#[test]
fn a_corrupt_cached_build_is_rebuilt_never_restored() {
    let fx = Fixture::with_release(V);
    fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).assert().success();
    let builds = fx.path("cache/builds");
    let archive = list_dir(&builds).into_iter().find(|f| f.ends_with(".tar.zst")).expect("archived");
    let archive = builds.join(archive);
    let mut bytes = fs::read(&archive).unwrap();
    bytes.truncate(bytes.len() - 10);
    fs::write(&archive, bytes).unwrap();
    fx.ftpy().args(["uninstall", "3.13.5t"]).assert().success();

    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("is corrupt"), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("built in"), "{}", stdout_of(&out));
    assert_eq!(fx.configure_runs().len(), 2, "rebuilt from source");
    assert!(fx.staging_leftovers().is_empty());
}

#[test]
fn a_cached_build_that_fails_its_checks_is_dropped_and_rebuilt() {
    let fx = Fixture::with_release(V);
    fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).assert().success();
    fx.ftpy().args(["uninstall", "3.13.5t"]).assert().success();
    // The system changed since the build: the restored interpreter no longer passes.
    let out = fx
        .ftpy()
        .env("FAKE_GIL_ENABLED", "1")
        .args(["install", "--profile", "fast", "3.13.5t"])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert!(stderr.contains("the cached build of 3.13.5t fails its checks"), "{stderr}");
    assert_eq!(fx.configure_runs().len(), 2, "built from source after the cache entry failed");
    assert_eq!(out.status.code(), Some(7), "the fresh build fails the same check: {stderr}");
    assert!(list_dir(&fx.path("cache/builds")).is_empty(), "the failing entry was removed");
    assert!(fx.versions().is_empty());
}

#[test]
fn cache_commands_show_key_and_prune() {
    let fx = Fixture::with_release(V);
    let key = |args: &[&str]| {
        let out = fx.ftpy().args(["cache", "key"]).args(args).output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        stdout_of(&out).trim().to_string()
    };
    let k = key(&["3.13.5t"]);
    assert!(k.starts_with("ftpy-3.13.5t-"), "{k}");
    assert_eq!(k, key(&["3.13.5t"]), "stable");
    assert_ne!(k, key(&["3.13.5t", "--profile", "fast"]));
    assert_ne!(k, key(&["3.13.5t", "--configure-opt", "--with-pydebug"]));
    assert!(key(&["--pair", "3.13.5"]).starts_with("ftpy-3.13.5+3.13.5t-"));

    let dir = stdout_of(&fx.ftpy().args(["cache", "dir"]).output().unwrap());
    assert_eq!(dir.trim(), fx.path("cache").display().to_string());

    install_pair_exact(&fx);
    let list = stdout_of(&fx.ftpy().args(["cache", "list"]).output().unwrap());
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains("3.13.5t") && list.contains("fast"), "{list}");
    // The id `cache list` shows is the one `cache key` prints for that build.
    for build in ["3.13.5t", "3.13.5"] {
        let id = key(&[build, "--profile", "fast"]);
        assert!(list.lines().any(|l| l.ends_with(&id) && l.starts_with(build)), "{id} not in {list}");
    }
    let out = fx.ftpy().args(["cache", "prune", "--keep", "1"]).output().unwrap();
    assert!(stdout_of(&out).contains("Removed 1 cached builds"), "{}", stdout_of(&out));
    let out = fx.ftpy().args(["cache", "prune", "--older-than", "forever"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = fx.ftpy().args(["cache", "prune"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn cache_prune_bounds_the_sources_and_the_index_cache_too() {
    let fx = Fixture::with_release(V);
    fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).assert().success();
    let sources = fx.path("cache/sources");
    let used = format!("{}.tar.xz", sha256_hex(&fake_source(V)));
    let forty_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(40 * 86_400);
    let put = |path: PathBuf, bytes: usize, aged: bool| {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, vec![b'x'; bytes]).unwrap();
        if aged {
            fs::File::options().write(true).open(&path).unwrap().set_modified(forty_days_ago).unwrap();
        }
    };
    // An old source no installation or build needs, a fresh one, a download in progress, an
    // old index page, and the installed version's own source made old.
    let unused = format!("{}.tar.xz", "ab".repeat(32));
    let fresh = format!("{}.tar.xz", "cd".repeat(32));
    let partial = format!("{}.partial", "ef".repeat(32));
    put(sources.join(&unused), 3000, true);
    put(sources.join(&fresh), 10, false);
    put(sources.join(&partial), 10, false);
    put(fx.path("cache/index/page-old.json"), 500, true);
    put(fx.path("cache/index/page-new.json"), 7, false);
    fs::File::options().write(true).open(sources.join(&used)).unwrap().set_modified(forty_days_ago).unwrap();

    let out = fx.ftpy().args(["cache", "prune", "--older-than", "30d"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(stdout.contains("Removed 0 cached builds"), "{stdout}");
    assert!(stdout.contains("Removed 1 downloaded sources (2.9 KiB)"), "{stdout}");
    assert!(stdout.contains("Removed 1 package index files (0.5 KiB)"), "{stdout}");
    assert!(stdout.contains("Freed 3.4 KiB"), "{stdout}");
    let left = list_dir(&sources);
    assert!(!left.contains(&unused), "{left:?}");
    for kept in [&used, &fresh, &partial] {
        assert!(left.contains(kept), "{kept}: {left:?}");
    }
    assert_eq!(list_dir(&fx.path("cache/index")), ["page-new.json"]);

    // Uninstalled, its source stays while a cached build needs it; with the builds gone, it goes.
    fx.ftpy().args(["uninstall", "3.13.5t"]).assert().success();
    let out = fx.ftpy().args(["cache", "prune", "--older-than", "30d"]).output().unwrap();
    assert!(list_dir(&sources).contains(&used), "{}", stdout_of(&out));
    let out = fx.ftpy().args(["cache", "prune", "--keep", "0"]).output().unwrap();
    let stdout = stdout_of(&out);
    assert!(stdout.contains("Removed 1 cached builds"), "{stdout}");
    assert!(stdout.contains("Removed 2 downloaded sources"), "{stdout}");
    let left = list_dir(&sources);
    assert!(!left.contains(&used) && !left.contains(&fresh), "{left:?}");
    assert!(left.contains(&partial), "a download in progress is kept: {left:?}");
}

fn install_pair_exact(fx: &Fixture) {
    fx.ftpy().args(["install", "--pair", "--profile", "fast", "3.13.5"]).assert().success();
}

#[test]
fn ccache_on_path_is_used_unless_turned_off() {
    let fx = Fixture::with_release(V);
    let bin = tempfile::TempDir::new().unwrap();
    let ccache = bin.path().join("ccache");
    fs::write(&ccache, "#!/bin/sh\nexec \"$@\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&ccache, fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap());
    fx.ftpy()
        .env("PATH", &path)
        .env_remove("CC")
        .args(["install", "--profile", "fast", "3.13.5t"])
        .assert()
        .success();
    let cc = fx.records("cc.");
    assert_eq!(cc.len(), 1);
    assert!(cc[0].starts_with(&format!("CC={} ", ccache.display())), "{cc:?}");
    let log = fs::read_to_string(fx.path("logs").join(&list_dir(&fx.path("logs"))[0])).unwrap();
    assert!(log.contains("using ccache"), "{log}");

    fx.ftpy()
        .env("PATH", &path)
        .env_remove("CC")
        .args(["install", "--profile", "fast", "--no-ccache", "--reinstall", "--no-build-cache", "3.13.5t"])
        .assert()
        .success();
    let cc = fx.records("cc.");
    assert!(cc.iter().any(|c| c.trim() == "CC="), "{cc:?}");
}

/// `ftpy venv --install` installs the pair the project asks for, with the global options
/// (here the mirror), then makes both environments; a build that fails stops it with that
/// build's exit code, the failure said once, and no environment made.
#[test]
fn venv_install_installs_the_pair_then_makes_the_environments() {
    let fx = Fixture::with_release(V);
    let project = tempfile::TempDir::new().unwrap();
    let venv = |fail: Option<&str>| {
        let mut command = fx.ftpy();
        if let Some(variant) = fail {
            command.env("FAKE_FAIL_VARIANT", variant);
        }
        command
            .current_dir(project.path())
            .args(["venv", "--install", "--profile", "fast", "--python", V])
            .output()
            .unwrap()
    };

    let out = venv(Some("fttrue"));
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(6), "the build's exit code: {err}");
    assert!(err.contains("failed to install 3.13.5t"), "{err}");
    assert!(err.contains("the 3.13.5 pair could not be installed (3.13.5t failed, see above)"), "{err}");
    assert!(!err.contains("no installed pair matches"), "not a second, wrong error: {err}");
    assert_eq!(err.matches("failed to install 3.13.5t").count(), 1, "said once: {err}");
    assert_eq!(list_dir(project.path()), Vec::<String>::new(), "no environment made");

    let out = venv(None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("Installing the 3.13.5 pair"), "{}", stderr_of(&out));
    assert_eq!(fx.versions(), ["3.13.5", "3.13.5t"]);
    let built = fx.configure_runs();
    assert!(
        built.iter().all(|args| !args.iter().any(|a| a.contains("--enable-optimizations"))),
        "--profile fast reached the builds: {built:?}"
    );
    assert_eq!(list_dir(project.path()), [".venv-ft", ".venv-gil"]);
}
