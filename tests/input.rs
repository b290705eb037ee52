//! Bad input to `ftpy install`, from the command line, the recipe override directory and the
//! home path: refused up front with exit 2, a message naming what is wrong, and nothing done.

mod common;

use std::fs;

use common::*;

const V: &str = "3.13.5";

fn refused_up_front(fx: &Fixture, args: &[&str]) -> String {
    let out = fx.ftpy().args(args).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(fx.configure_runs().is_empty(), "{args:?} reached configure");
    assert!(fx.server.all_hits().is_empty(), "{args:?} downloaded");
    stderr
}

#[test]
fn configure_opts_are_read_as_autoconf_reads_them() {
    let fx = Fixture::with_release(V);
    for (opt, reads_as) in [
        ("--pre=/usr", "--prefix"),
        ("-prefix=/", "--prefix"),
        ("prefix=/", "--prefix"),
        ("--exec_prefix=/x", "--exec-prefix"),
        ("--bindir=/tmp/ftpy-bin", ""),
        ("-disable-gil", "--enable-gil/--disable-gil"),
        ("--enable-gil=no", "--enable-gil/--disable-gil"),
        ("--without-lto", "--with-lto/--without-lto"),
        ("--disable-optimizations", "--enable-optimizations/--disable-optimizations"),
    ] {
        let arg = format!("--configure-opt={opt}");
        let stderr = refused_up_front(&fx, &["install", "--profile", "fast", &arg, "3.13.5t"]);
        assert!(stderr.contains(&format!("error: --configure-opt `{opt}` is not allowed: ")), "{stderr}");
        if !reads_as.is_empty() {
            assert!(
                stderr.contains(&format!("is not allowed: configure reads it as {reads_as}, and ")),
                "{stderr}"
            );
        }
        assert!(stderr.contains("hint: `ftpy install --dry-run ...`"), "{stderr}");
    }
    // A bare option that takes a value would swallow the next argument.
    let stderr = refused_up_front(&fx, &["install", "--configure-opt=--host", "3.13.5t"]);
    assert!(stderr.contains("write it with `=`"), "{stderr}");

    // What ftpy leaves to the user still goes through, verbatim.
    let out = fx
        .ftpy()
        .args([
            "install",
            "--profile",
            "fast",
            "--configure-opt=--with-pydebug",
            "--configure-opt=CC=cc",
            "3.13.5t",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let runs = fx.configure_runs();
    assert!(runs[0].ends_with(&["--with-pydebug".to_string(), "CC=cc".to_string()]), "{runs:?}");
}

#[test]
fn recipe_configure_flags_pass_the_same_guard() {
    let fx = Fixture::with_release(V);
    fs::write(
        fx.recipes.path().join("flags.toml"),
        "series = \"3.13\"\nconfigure_flags = [\"--prefix=/\"]\n",
    )
    .unwrap();
    let stderr = refused_up_front(&fx, &["install", "--profile", "fast", "3.13.5t"]);
    assert!(stderr.contains("flags.toml: configure_flags: `--prefix=/` is not allowed"), "{stderr}");
}

#[test]
fn jobs_are_bounded_up_front() {
    let fx = Fixture::with_release(V);
    let stderr = refused_up_front(&fx, &["install", "--profile", "fast", "--jobs", "100000", "3.13.5t"]);
    assert!(stderr.contains("error: --jobs 100000 is out of range: it must be from 1 to 1024"), "{stderr}");
    assert!(stderr.contains("hint: 1024 parallel jobs are more than any one machine can use"), "{stderr}");
    let out = fx.ftpy().args(["install", "--dry-run", "--jobs", "1024", "3.13.5t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("(jobserver of 1024 jobs)"), "{}", stdout_of(&out));
}

#[test]
fn a_changed_digest_for_a_published_release_is_refused_unless_stated() {
    let fx = Fixture::new();
    let tarball = fake_source(V);
    let digest = sha256_hex(&tarball);
    let published = builtin_digest(V).expect("3.13.5 is in the built-in recipes");
    fx.server.route(&Fixture::mirror_path(V), Route::Serve(tarball.clone()));
    let recipe = fx.recipes.path().join("mine.toml");
    let text = format!(
        "series = \"3.13\"\n[[release]]\nversion = \"{V}\"\nurl = \"{}{}\"\nsha256 = \"{digest}\"\n",
        fx.server.base,
        Fixture::mirror_path(V)
    );
    fs::write(&recipe, &text).unwrap();
    let stderr = refused_up_front(&fx, &["install", "--profile", "fast", "3.13.5t"]);
    assert!(
        stderr.contains(&format!(
            "error: {} changes the sha256 of 3.13.5, a published release: ftpy's built-in recipe has {published}, the override has {digest}",
            recipe.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("add `replaces_sha256 = \"{published}\"`")), "{stderr}");

    // Stated, it builds, and says so loudly.
    fs::write(&recipe, format!("{text}replaces_sha256 = \"{published}\"\n")).unwrap();
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: 3.13.5: building from sha256 {digest}, which {} puts in place of the published {published}",
            recipe.display()
        )),
        "{stderr}"
    );
}

#[test]
fn override_files_that_clash_or_are_not_files_are_named() {
    let fx = Fixture::with_release(V);
    let first = fx.recipes.path().join(format!("{V}.toml"));
    let second = fx.recipes.path().join("zz-copy.toml");
    fs::copy(&first, &second).unwrap();
    let stderr = refused_up_front(&fx, &["install", "3.13.5t"]);
    assert!(
        stderr.contains(&format!(
            "error: release 3.13.5 is defined by two recipe files: {} and {}",
            first.display(),
            second.display()
        )),
        "{stderr}"
    );
    fs::remove_file(&second).unwrap();

    let dir = fx.recipes.path().join("x.toml");
    fs::create_dir(&dir).unwrap();
    let stderr = refused_up_front(&fx, &["install", "3.13.5t"]);
    assert!(stderr.contains(&format!("error: cannot read the recipe file {}", dir.display())), "{stderr}");
    assert!(stderr.contains("caused by: it is a directory"), "{stderr}");
}

#[test]
fn homes_the_build_cannot_take_are_refused_before_anything_is_made() {
    let fx = Fixture::with_release(V);
    let base = tempfile::TempDir::new().unwrap();
    for (name, named) in [
        ("a$(touch pwned)b", "`$`"),
        ("a`id`b", "a backtick (`)"),
        ("a\"b", "`\"`"),
        ("a\\b", "`\\`"),
        ("a\nb", "a newline"),
        ("a b", "a space"),
        ("a'b", "`'`"),
    ] {
        let home = base.path().join(name).join("ftpy");
        let out = fx
            .ftpy()
            .env("FTPY_HOME", &home)
            .args(["install", "--profile", "fast", "3.13.5t"])
            .output()
            .unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{name:?}: {stderr}");
        assert!(stderr.contains(&format!("contains {named}, which CPython's build cannot take")), "{stderr}");
        assert!(stderr.contains(&home.display().to_string().escape_debug().to_string()), "{stderr}");
        assert!(stderr.contains("hint: set FTPY_HOME"), "{stderr}");
        assert!(!base.path().join(name).exists(), "{name:?}: created");
    }
    assert!(fx.configure_runs().is_empty());
    assert!(fx.server.all_hits().is_empty());
}

/// The build sees the home's real path (configure and make work from `pwd`), so a symlink in
/// an ordinary-looking home path does not carry it past the check (issue 16, state weak spot).
#[test]
fn a_home_reached_through_a_symlink_is_judged_by_its_real_path() {
    let fx = Fixture::with_release(V);
    let base = tempfile::TempDir::new().unwrap();
    let real = base.path().join("a$(touch pwned)b");
    fs::create_dir(&real).unwrap();
    let link = base.path().join("plain");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    for home in [link.clone(), link.join("ftpy")] {
        let out = fx
            .ftpy()
            .env("FTPY_HOME", &home)
            .args(["install", "--profile", "fast", "3.13.5t"])
            .output()
            .unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", home.display());
        assert!(stderr.contains(&format!("the ftpy home {}", home.display())), "{stderr}");
        assert!(stderr.contains(&format!("resolves to {}", real.display())), "{stderr}");
        assert!(stderr.contains("which contains `$`: CPython's build cannot take"), "{stderr}");
        assert!(stderr.contains("hint: set FTPY_HOME"), "{stderr}");
        assert_eq!(list_dir(&real), Vec::<String>::new(), "{}: created", home.display());
    }
    assert!(fx.configure_runs().is_empty());
    assert!(fx.server.all_hits().is_empty());
}

/// A recipe URL with white space or control characters is refused when the recipes load, with
/// the URL escaped: it is not sent to the terminal raw (an escape sequence there could retitle
/// or clear it), and not retried as if the network had failed (issue 16, recipe weak spot).
#[test]
fn recipe_urls_with_control_characters_are_refused_escaped() {
    let fx = Fixture::with_release(V);
    for (url, shown) in [
        ("http://127.0.0.1:1/\\u001b]0;TITLE\\u0007x\\u001b[2J/Python.tar.xz", "\\x1b]0;TITLE\\x07x\\x1b[2J"),
        ("http://u:pw@127.0.0.1:1/Py\\nthon-3.13.91.tar.xz", "http://u:****@127.0.0.1:1/Py\\nthon"),
        ("https://host/a b/Python-3.13.91.tar.xz", "https://host/a b/"),
        ("http://ho st/Python-3.13.91.tar.xz", "http://ho st/"),
    ] {
        fs::write(
            fx.recipes.path().join("3.13.91.toml"),
            format!(
                "series = \"3.13\"\n[[release]]\nversion = \"3.13.91\"\nurl = \"{url}\"\nsha256 = \"{}\"\n",
                "ab".repeat(32)
            ),
        )
        .unwrap();
        let stderr = refused_up_front(&fx, &["install", "--profile", "fast", "3.13.91"]);
        assert!(stderr.contains("release 3.13.91: url `"), "{url}: {stderr}");
        assert!(stderr.contains(shown), "{url}: {stderr}");
        assert!(!stderr.contains('\u{1b}') && !stderr.contains('\u{7}'), "{url}: {stderr:?}");
        assert!(!stderr.contains("pw"), "{url}: {stderr}");
    }
}

/// A mistyped flag of `ftpy run` is a usage error with a suggestion, never run as the command;
/// the command's own flags, after it or after `--`, are its own.
#[test]
fn run_refuses_a_mistyped_flag_instead_of_running_it() {
    let fx = Fixture::new();
    let empty = tempfile::TempDir::new().unwrap();
    let out =
        fx.ftpy().current_dir(empty.path()).args(["run", "--gill", "--", "python", "-V"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}{}", stdout_of(&out), stderr_of(&out));
    assert!(stderr_of(&out).contains("'--gil'"), "{}", stderr_of(&out));
    for args in [&["run", "--", "python", "-m", "pytest", "-q"][..], &["run", "python", "-m", "pytest", "-q"]]
    {
        let out = fx.ftpy().current_dir(empty.path()).args(args).output().unwrap();
        // Parsed: it gets as far as looking for the environments.
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains("no twin environments"), "{}", stderr_of(&out));
    }
}

/// `venv` for a version no recipe has gets no hint to install it; with nothing asked for and
/// nothing installed, the message says so plainly.
#[test]
fn venv_hints_only_releases_that_exist() {
    let fx = Fixture::new();
    let project = tempfile::TempDir::new().unwrap();
    let out = fx.ftpy().current_dir(project.path()).args(["venv", "--python", "3.14.9"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(!err.contains("--pair 3.14.9"), "{err}");
    assert!(err.contains("no release in ftpy's recipes satisfies it"), "{err}");
    let out = fx.ftpy().current_dir(project.path()).arg("venv").output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("no pair (the GIL and the free-threaded build of one version) is installed"),
        "{err}"
    );
    assert!(!err.contains("any version"), "{err}");
    assert!(err.contains("ftpy install --pair 3.14."), "{err}");
}

/// A user's PYTHONHOME, PYTHONPATH, PYTHON_GIL, PYTHONPLATLIBDIR, PYTHONUSERBASE,
/// PYTHONINSPECT, ... (another Python's standard library or site, a project's sources, the GIL
/// forced off, an interactive prompt) reaches none of the Pythons ftpy runs for itself: the
/// post-install probe, `-m venv`, the environment probe, pip, the GIL scan.
#[test]
fn a_hostile_python_environment_reaches_none_of_ftpys_own_pythons() {
    let fx = Fixture::with_release(V);
    let hostile = |cmd: &mut assert_cmd::Command| {
        cmd.env("PYTHONHOME", "/elsewhere/python2.7")
            .env("PYTHONPATH", "/elsewhere/site-packages")
            .env("PYTHON_GIL", "0")
            .env("PYTHONPLATLIBDIR", "bogus")
            .env("PYTHONUSERBASE", "/elsewhere/userbase")
            .env("PYTHON_PRESITE", "elsewhere")
            .env("PYTHONINSPECT", "1")
            .env("PYTHONSTARTUP", "/elsewhere/startup.py")
            .env("PYTHONEXECUTABLE", "/elsewhere/python");
    };
    let mut install = fx.ftpy();
    hostile(&mut install);
    let out = install.args(["install", "--profile", "fast", "--pair", V]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let project = tempfile::TempDir::new().unwrap();
    fs::write(project.path().join("requirements.txt"), "").unwrap();
    let mut venv = fx.ftpy();
    hostile(&mut venv);
    let out = venv.current_dir(project.path()).args(["venv", "--python", V]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let reached = fx.records("python-env.");
    assert!(
        reached.is_empty(),
        "the user's Python variables reached ftpy's own Pythons:\n{}",
        reached.join("\n")
    );
}

/// The download settings belong to the commands that download: a bad FTPY_MAX_DOWNLOAD_MIB
/// (or an empty one, as CI systems pass unset variables) breaks no other command, `--mirror`
/// is no option of `list`, and an empty value is the default where it is read.
#[test]
fn download_settings_are_read_only_by_the_commands_that_download() {
    let fx = Fixture::new();
    for (name, value) in [
        ("FTPY_MAX_DOWNLOAD_MIB", "abc"),
        ("FTPY_MAX_DOWNLOAD_MIB", ""),
        ("FTPY_DOWNLOAD_SPEED_TIME", "0"),
        ("FTPY_RETRY_PAUSE_MS", "-1"),
    ] {
        for args in
            [&["list"][..], &["which", "3.13t"], &["doctor"], &["cache", "dir"], &["completions", "bash"]]
        {
            let out = fx.ftpy().env(name, value).args(args).output().unwrap();
            assert_ne!(out.status.code(), Some(2), "{name}={value:?} ftpy {args:?}: {}", stderr_of(&out));
        }
    }
    let out = fx.ftpy().args(["list", "--mirror", "file:///x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    // Where they are read, empty is the default and a bad value is bad input.
    let out = fx
        .ftpy()
        .env("FTPY_MAX_DOWNLOAD_MIB", "")
        .args(["install", "--dry-run", "3.13.5t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = fx
        .ftpy()
        .env("FTPY_MAX_DOWNLOAD_MIB", "abc")
        .args(["install", "--dry-run", "3.13.5t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let out = fx.ftpy().args(["venv", "--install", "--mirror", "", "--python", "3.13.5"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "venv --install takes --mirror: {}", stderr_of(&out));
    assert!(stderr_of(&out).contains("--mirror was given an empty URL"), "{}", stderr_of(&out));
}

#[test]
fn configure_options_are_shown_escaped_by_dry_run() {
    let fx = Fixture::with_release("3.13.5");
    let out = fx
        .ftpy()
        .args(["install", "--dry-run", "--configure-opt=CFLAGS=-O2\n\x1b]0;PWNED\x07\r", "3.13.5t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(!stdout.contains('\x1b') && !stdout.contains('\r'), "{stdout:?}");
    assert!(stdout.contains(r"'CFLAGS=-O2\n\x1b]0;PWNED\x07\r'"), "{stdout}");
}
