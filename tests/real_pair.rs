//! End to end on real interpreters: the CPython 3.14.6 pair (GIL and free-threaded) built from
//! the unmodified upstream tarball in `../shared/cpython`, served by a local HTTP mirror and
//! verified against the digest compiled into ftpy's recipes. The pair is built once per test run
//! (`--profile fast`, about eight minutes on two cores) and shared by every test here: the
//! install checks, and the twin environments and side-by-side runs made from it.

mod common;
#[path = "real_pair/packages.rs"]
mod packages;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::index::{FixtureFile, IndexFixture, every_status_index, ftwheel_files};
use common::*;
use packages::{Extension, sdist_of, write_package};

fn upstream_tarball() -> PathBuf {
    cpython_tarball("3.14.6")
}

struct RealPair {
    home: PathBuf,
    /// What `ftpy install --pair` printed; `None` when an existing home was reused.
    install_stdout: Option<String>,
}

/// The shared ftpy home with the real 3.14.6 pair in it; built by the first test that asks.
fn real_pair() -> &'static RealPair {
    real_build();
    static PAIR: OnceLock<Result<RealPair, String>> = OnceLock::new();
    PAIR.get_or_init(build_pair)
        .as_ref()
        .unwrap_or_else(|e| panic!("the real pair could not be installed: {e}"))
}

fn build_pair() -> Result<RealPair, String> {
    // For working on these tests: a home that already holds the fast 3.14.6 pair.
    if let Some(home) = std::env::var_os("FTPY_TEST_REAL_HOME") {
        return Ok(RealPair { home: PathBuf::from(home), install_stdout: None });
    }
    let tarball = upstream_tarball();
    let bytes = fs::read(&tarball)
        .map_err(|e| format!("{} is needed (set FTPY_TEST_CPYTHON_DIR): {e}", tarball.display()))?;
    let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("real-pair");
    let _ = fs::remove_dir_all(&home);
    let server = TestServer::start();
    server.route("/3.14.6/Python-3.14.6.tar.xz", Route::Serve(bytes));
    // The built-in recipes: the digest checked is the one python.org published.
    let out = Command::new(assert_cmd::cargo::cargo_bin("ftpy"))
        .env("FTPY_HOME", &home)
        .env("FTPY_MIRROR", &server.base)
        .env_remove("FTPY_RECIPES")
        .env_remove("PYTHON_GIL")
        .args(["install", "--pair", "--profile", "fast", "3.14.6"])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("install failed:\n{}", stderr_of(&out)));
    }
    Ok(RealPair { home, install_stdout: Some(stdout_of(&out)) })
}

/// ftpy with the shared home, run in `cwd`, with pip kept off the network and its cache private.
fn ftpy_in(cwd: &Path, args: &[&str]) -> Output {
    let pair = real_pair();
    Command::new(assert_cmd::cargo::cargo_bin("ftpy"))
        .current_dir(cwd)
        .env("FTPY_HOME", &pair.home)
        .env("PIP_NO_INDEX", "1")
        .env("PIP_CACHE_DIR", cwd.join(".pip-cache"))
        .env("CI", "true")
        .env_remove("PYTHON_GIL")
        .env_remove("VIRTUAL_ENV")
        .args(args)
        .output()
        .unwrap()
}

/// ftpy with the shared home, pip pointed at `index` (and only at it).
fn ftpy_with_index(cwd: &Path, index: &str, args: &[&str]) -> Output {
    let pair = real_pair();
    Command::new(assert_cmd::cargo::cargo_bin("ftpy"))
        .current_dir(cwd)
        .env("FTPY_HOME", &pair.home)
        .env("PIP_INDEX_URL", index)
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_CACHE_DIR", cwd.join(".pip-cache"))
        .env("CI", "true")
        .env_remove("PIP_NO_INDEX")
        .env_remove("PIP_EXTRA_INDEX_URL")
        .env_remove("PYTHON_GIL")
        .env_remove("VIRTUAL_ENV")
        .args(args)
        .output()
        .unwrap()
}

fn python_says(python: &Path, code: &str) -> String {
    let out = Command::new(python).args(["-c", code]).env_remove("PYTHON_GIL").output().unwrap();
    assert!(out.status.success(), "{} -c {code}: {}", python.display(), stderr_of(&out));
    stdout_of(&out).trim().to_string()
}

#[test]
fn real_build_installs_the_real_pair_and_each_build_is_what_was_asked_for() {
    let pair = real_pair();
    let home = &pair.home;
    if let Some(stdout) = &pair.install_stdout {
        assert!(stdout.contains("Installed 3.14.6t") && stdout.contains("Installed 3.14.6 "), "{stdout}");
        assert!(stdout.contains("GIL disabled") && stdout.contains("GIL enabled"), "{stdout}");
    }

    for (request, expected, flags) in
        [("3.14t", "3.14.6t", "3.14.6 1 False"), ("3.14", "3.14.6", "3.14.6 0 True")]
    {
        let which = ftpy_in(home, &["which", request]);
        assert!(which.status.success(), "{}", stderr_of(&which));
        let python = PathBuf::from(stdout_of(&which).trim());
        assert_eq!(python.parent().unwrap(), home.join(format!("versions/{expected}/bin")));
        // What a user would check by hand.
        let said = python_says(
            &python,
            "import sys, sysconfig, ssl, sqlite3, ctypes, lzma, bz2, zlib, compression.zstd; \
             print(sys.version.split()[0], sysconfig.get_config_var('Py_GIL_DISABLED') or 0, sys._is_gil_enabled())",
        );
        assert_eq!(said, flags);
        let pip = Command::new(&python).args(["-m", "pip", "--version"]).output().unwrap();
        assert!(pip.status.success(), "{}", stderr_of(&pip));
    }
    assert!(home.join("bin/python3.14t").exists() && home.join("bin/python3.14").exists());
    // The receipt names every module checked, compression.zstd (new in 3.14) among the required.
    let receipt: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(home.join("versions/3.14.6t/ftpy-receipt.json")).unwrap())
            .unwrap();
    assert!(receipt["checks"]["modules"]["compression.zstd"].is_null(), "{receipt:#}");
    let required = receipt["checks"]["required_modules"].as_array().unwrap();
    assert!(required.iter().any(|m| m == "compression.zstd"), "{receipt:#}");
    // Nothing left in staging; the source is in the cache under its digest.
    assert!(list_dir(&home.join("tmp")).is_empty(), "{:?}", list_dir(&home.join("tmp")));
    assert!(
        home.join("cache/sources/143b1dddefaec3bd2e21e3b839b34a2b7fb9842272883c576420d605e9f30c63.tar.xz")
            .exists()
    );
}

/// A project whose requirements are a pure-Python package and two C extensions, one that
/// declares it keeps the GIL off and one that does not.
fn project_with_three_packages(dir: &Path) -> PathBuf {
    let pkgs = dir.join("pkgs");
    let pure = write_package(&pkgs, "purepkg", None, &[]);
    let ft = write_package(
        &pkgs,
        "ftext",
        Some(Extension { declares_no_gil: true, refuses_free_threading: false, ..Default::default() }),
        &[],
    );
    let gil = write_package(
        &pkgs,
        "gilext",
        Some(Extension { declares_no_gil: false, refuses_free_threading: false, ..Default::default() }),
        &[],
    );
    let project = dir.join("proj");
    fs::create_dir_all(&project).unwrap();
    fs::write(
        project.join("requirements.txt"),
        format!("{}\n{}\n{}\n", pure.display(), ft.display(), gil.display()),
    )
    .unwrap();
    project
}

#[test]
fn real_build_twin_environments_report_gil_reenabling_modules_and_run_side_by_side() {
    let dir = tempfile::TempDir::new().unwrap();
    let project = project_with_three_packages(dir.path());

    let out = ftpy_in(&project, &["venv", "--python", "3.14", "-r", "requirements.txt"]);
    assert!(out.status.success(), "{}\n{}", stdout_of(&out), stderr_of(&out));
    let report = stdout_of(&out);
    assert!(report.contains(".venv-gil") && report.contains("3.14.6 "), "{report}");
    assert!(report.contains(".venv-ft") && report.contains("3.14.6t"), "{report}");
    assert!(report.contains("1 extension module turns the GIL back on in .venv-ft"), "{report}");
    assert!(report.contains("gilext._core (from gilext)"), "{report}");
    assert!(!report.contains("ftext._core"), "{report}");

    // The report agrees with what the interpreters themselves say.
    let ft_python = project.join(".venv-ft/bin/python");
    assert_eq!(
        python_says(&ft_python, "import ftext, sys; print(ftext.add(2, 3), sys._is_gil_enabled())"),
        "5 False"
    );
    assert_eq!(
        python_says(&ft_python, "import gilext, sys; print(gilext.add(2, 3), sys._is_gil_enabled())"),
        "5 True"
    );
    assert_eq!(
        python_says(&project.join(".venv-gil/bin/python"), "import gilext, ftext, purepkg; print('ok')"),
        "ok"
    );
    let record: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(project.join(".venv-ft/ftpy-venv.json")).unwrap()).unwrap();
    assert_eq!(record["key"], "3.14.6t");

    // Status: the same packages on both sides; then one removed from the GIL side.
    let status = ftpy_in(&project, &["venv", "--status"]);
    assert!(status.status.success(), "{}", stderr_of(&status));
    assert!(stdout_of(&status).contains("packages: the same"), "{}", stdout_of(&status));
    let removed = Command::new(project.join(".venv-gil/bin/python"))
        .args(["-m", "pip", "uninstall", "-y", "-q", "purepkg"])
        .output()
        .unwrap();
    assert!(removed.status.success(), "{}", stderr_of(&removed));
    let status = ftpy_in(&project, &["venv", "--status"]);
    let text = stdout_of(&status);
    let line =
        text.lines().find(|l| l.trim_start().starts_with("purepkg")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(".venv-gil: -") && line.contains(".venv-ft: 1.0"), "{text}");
    assert!(text.contains("gilext._core"), "{text}");

    // Run in both, from a subdirectory: the environments are found upwards.
    let sub = project.join("tests");
    fs::create_dir_all(&sub).unwrap();
    let run = ftpy_in(&sub, &["run", "--", "python", "-c", "import sys; print(sys._is_gil_enabled())"]);
    assert!(run.status.success(), "{}", stderr_of(&run));
    let text = stdout_of(&run);
    assert!(text.contains("gil │ True") && text.contains(" ft │ False"), "{text}");
    assert_eq!(summary_line_of(&text, "gil").split_whitespace().nth(2), Some("0"), "{text}");
    assert_eq!(summary_line_of(&text, "ft").split_whitespace().nth(2), Some("0"), "{text}");
    assert!(text.contains("ft/gil median time:"), "{text}");

    // A run that loads a module without Py_mod_gil: the summary says the ft side had the GIL.
    let run = ftpy_in(&project, &["run", "--", "python", "-c", "import gilext"]);
    assert!(run.status.success(), "{}", stderr_of(&run));
    assert!(stdout_of(&run).contains("ft ran WITH THE GIL: loading gilext._core"), "{}", stdout_of(&run));
    let run = ftpy_in(&project, &["run", "--", "python", "-c", "import ftext"]);
    assert!(!stdout_of(&run).contains("WITH THE GIL"), "{}", stdout_of(&run));

    // A failing side makes the exit code non-zero, and the summary says which code it gave.
    let run =
        ftpy_in(&project, &["run", "--ft", "--", "python", "-c", "import sys; print('bye'); sys.exit(3)"]);
    assert_eq!(run.status.code(), Some(11), "{}", stderr_of(&run));
    let text = stdout_of(&run);
    assert!(text.contains(" ft │ bye") && !text.contains("gil │"), "{text}");
    assert_eq!(summary_line_of(&text, "ft").split_whitespace().nth(2), Some("3"), "{text}");
    assert!(stderr_of(&run).contains("the command failed in .venv-ft"), "{}", stderr_of(&run));

    // Repeats: every run counted, median and spread reported.
    let run = ftpy_in(&project, &["run", "--repeat", "3", "--", "python", "-c", "pass"]);
    assert!(run.status.success(), "{}", stderr_of(&run));
    let text = stdout_of(&run);
    for side in ["gil", "ft"] {
        let fields: Vec<String> = summary_line_of(&text, side).split_whitespace().map(String::from).collect();
        assert_eq!(fields[1], "3", "{text}");
        assert!(fields[6].ends_with('%'), "{text}");
    }

    // Piped input reaches both sides.
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ftpy"))
        .current_dir(&project)
        .env("FTPY_HOME", &real_pair().home)
        .args(["run", "--", "python", "-c", "print(input().upper())"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"hello\n").unwrap();
    let run = child.wait_with_output().unwrap();
    assert!(run.status.success(), "{}", stderr_of(&run));
    assert!(
        stdout_of(&run).contains("gil │ HELLO") && stdout_of(&run).contains(" ft │ HELLO"),
        "{}",
        stdout_of(&run)
    );

    // A program in neither environment nor PATH fails on both sides, clearly.
    let run = ftpy_in(&project, &["run", "--", "no-such-program-ftpy"]);
    assert_eq!(run.status.code(), Some(11));
    assert!(stdout_of(&run).contains("not found"), "{}", stdout_of(&run));

    // The pair is these environments' base: uninstall names them and wants --force.
    let out = ftpy_in(dir.path(), &["uninstall", "--pair", "3.14.6"]);
    assert_eq!(out.status.code(), Some(14), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains(&project.join(".venv-ft").display().to_string()), "{err}");
    assert!(err.contains(&project.join(".venv-gil").display().to_string()), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert!(real_pair().home.join("versions/3.14.6t/bin/python3.14t").exists(), "nothing removed");
}

fn summary_line_of(text: &str, side: &str) -> String {
    text.lines()
        .find(|l| l.starts_with(&format!("{side:<5} ")))
        .unwrap_or_else(|| panic!("{text}"))
        .to_string()
}

#[test]
fn real_build_a_package_that_cannot_be_built_free_threaded_leaves_the_old_environments_in_place() {
    let dir = tempfile::TempDir::new().unwrap();
    let pkgs = dir.path().join("pkgs");
    let pure = write_package(&pkgs, "purepkg", None, &[]);
    let gilonly = write_package(
        &pkgs,
        "gilonly",
        Some(Extension { declares_no_gil: false, refuses_free_threading: true, ..Default::default() }),
        &[],
    );
    let project = dir.path().join("proj");
    fs::create_dir_all(&project).unwrap();
    fs::write(project.join("good.txt"), format!("{}\n", pure.display())).unwrap();
    fs::write(project.join("bad.txt"), format!("{}\n{}\n", pure.display(), gilonly.display())).unwrap();

    let out = ftpy_in(&project, &["venv", "--python", "3.14.6", "-r", "good.txt"]);
    assert!(out.status.success(), "{}", stderr_of(&out));

    let out = ftpy_in(&project, &["venv", "--python", "3.14.6", "-r", "bad.txt"]);
    assert_eq!(out.status.code(), Some(10), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("1 package could not be installed into .venv-ft (3.14.6t)"), "{err}");
    assert!(err.contains("gilonly: no usable wheel, and building it from source failed"), "{err}");
    assert!(err.contains("does not support free-threaded Python"), "{err}");
    assert!(err.contains("ftpy wheels build --python 3.14.6t -r"), "{err}");
    assert!(err.lines().count() < 25, "a wall of output:\n{err}");
    // The pip log holds everything.
    let log = err.lines().find_map(|l| l.strip_prefix("hint: pip's full output is in ")).unwrap();
    assert!(fs::read_to_string(log).unwrap().contains("gilonly"));

    // Both environments are the ones from before, complete; nothing else was left behind.
    for env in [".venv-gil", ".venv-ft"] {
        let python = project.join(env).join("bin/python");
        assert_eq!(
            python_says(
                &python,
                "import importlib.util as u; print(bool(u.find_spec('purepkg')), bool(u.find_spec('gilonly')))"
            ),
            "True False"
        );
    }
    let mut entries = list_dir(&project);
    entries.retain(|e| e.starts_with(".venv"));
    assert_eq!(entries, vec![".venv-ft", ".venv-gil"]);
}

#[test]
fn real_build_the_version_comes_from_python_version_then_requires_python() {
    let dir = tempfile::TempDir::new().unwrap();
    let pkgs = dir.path().join("pkgs");
    let pure = write_package(&pkgs, "purepkg", None, &[]);
    // The project itself is installed editable, with its dependency.
    let dep = format!("purepkg @ file://{}", pure.display());
    let project = write_package(dir.path(), "demo", None, &[dep.as_str()]);
    let pyproject = fs::read_to_string(project.join("pyproject.toml")).unwrap();
    fs::write(
        project.join("pyproject.toml"),
        pyproject.replace("[project]\n", "[project]\nrequires-python = \">=3.13\"\n"),
    )
    .unwrap();

    // .python-version wins; pyenv's `t` entries are understood.
    fs::write(project.join(".python-version"), "3.13t\n").unwrap();
    let out = ftpy_in(&project, &["venv"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("no installed pair matches 3.13"), "{err}");
    assert!(err.contains(".python-version"), "{err}");
    assert!(err.contains("ftpy install --pair 3.13"), "{err}");
    assert!(!project.join(".venv-ft").exists() && !project.join(".venv-gil").exists());

    // Without it, requires-python decides; the project is installed with -e . in both.
    fs::remove_file(project.join(".python-version")).unwrap();
    let out = ftpy_in(&project, &["venv"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("requires-python >=3.13"), "{}", stderr_of(&out));
    for env in [".venv-gil", ".venv-ft"] {
        let said =
            python_says(&project.join(env).join("bin/python"), "import demo, purepkg; print(demo.__file__)");
        assert!(said.starts_with(&project.join("src").display().to_string()), "{said}");
    }

    // A requires-python nothing installed satisfies names the release to install.
    fs::write(
        project.join("pyproject.toml"),
        pyproject.replace("[project]\n", "[project]\nrequires-python = \">=3.13,<3.14\"\n"),
    )
    .unwrap();
    let out = ftpy_in(&project, &["venv"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr_of(&out).contains("ftpy install --pair 3.13."), "{}", stderr_of(&out));
}

fn ft_python() -> PathBuf {
    real_pair().home.join("versions/3.14.6t/bin/python3.14t")
}

/// Serve the sdist of each package tree from a local index, as its only file.
fn index_of_sdists(index: &IndexFixture, trees: &[PathBuf]) {
    for tree in trees {
        let (filename, bytes) = sdist_of(&ft_python(), tree);
        let name = tree.file_name().unwrap().to_string_lossy().into_owned();
        index.json_project(&name, vec![FixtureFile::new(&filename, bytes)]);
    }
}

#[test]
fn real_build_wheels_build_rebuilds_sdists_for_free_threading_and_proves_each() {
    let dir = tempfile::TempDir::new().unwrap();
    let pkgs = dir.path().join("pkgs");
    let ft =
        write_package(&pkgs, "ftsdist", Some(Extension { declares_no_gil: true, ..Default::default() }), &[]);
    let gil = write_package(&pkgs, "gilsdist", Some(Extension::default()), &[]);
    let refuses = write_package(
        &pkgs,
        "nofree",
        Some(Extension { refuses_free_threading: true, ..Default::default() }),
        &[],
    );
    let limited =
        write_package(&pkgs, "limitedapi", Some(Extension { limited_api: true, ..Default::default() }), &[]);
    let index = IndexFixture::new();
    index_of_sdists(&index, &[ft, gil, refuses, limited]);
    let project = dir.path().join("proj");
    fs::create_dir_all(&project).unwrap();
    fs::write(project.join("requirements.txt"), "ftsdist\ngilsdist\n").unwrap();

    // A reused home (FTPY_TEST_REAL_HOME) may hold these wheels from an earlier run (the
    // check would count them as ready).
    let wheelhouse = real_pair().home.join("wheels/3.14.6t");
    for old in
        list_dir(&wheelhouse).iter().filter(|w| w.starts_with("ftsdist-") || w.starts_with("gilsdist-"))
    {
        fs::remove_file(wheelhouse.join(old)).unwrap();
    }

    // The check says both must be built.
    let out = ftpy_with_index(&project, &index.url, &["wheels", "check", "-r", "requirements.txt", "--json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(report["target"]["abi"], "cp314t");
    assert_eq!(report["summary"]["must_build"], 2, "{report:#}");
    let out = ftpy_with_index(&project, &index.url, &["wheels", "build", "-r", "requirements.txt"]);
    assert!(out.status.success(), "{}\n{}", stdout_of(&out), stderr_of(&out));
    let text = stdout_of(&out);
    let line = |name: &str| {
        text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{text}")).to_string()
    };
    assert!(line("ftsdist").contains("built") && line("ftsdist").contains("stays off"), "{text}");
    assert!(
        line("gilsdist").contains("built") && line("gilsdist").contains("TURNED BACK ON by gilsdist._core"),
        "{text}"
    );
    let wheels = list_dir(&wheelhouse);
    assert!(wheels.iter().any(|w| w.starts_with("ftsdist-1.0-cp314-cp314t-")), "{wheels:?}");
    assert!(wheels.iter().any(|w| w.starts_with("gilsdist-1.0-cp314-cp314t-")), "{wheels:?}");
    assert!(!wheels.iter().any(|w| w.starts_with(".build-")), "scratch left behind: {wheels:?}");

    // Built once: the next run reuses the wheels.
    let out = ftpy_with_index(&project, &index.url, &["wheels", "build", "-r", "requirements.txt"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).lines().filter(|l| l.contains("reused")).count() == 2, "{}", stdout_of(&out));
    // And the check counts them: built by ftpy, ready, --strict passes.
    let out =
        ftpy_with_index(&project, &index.url, &["wheels", "check", "-r", "requirements.txt", "--strict"]);
    assert!(out.status.success(), "{}\n{}", stdout_of(&out), stderr_of(&out));
    assert_eq!(stdout_of(&out).matches("built by ftpy (wheelhouse)").count(), 2, "{}", stdout_of(&out));

    // ftpy venv installs the free-threaded side from the wheelhouse.
    let out = ftpy_with_index(&project, &index.url, &["venv", "-r", "requirements.txt", "--python", "3.14"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("gilsdist._core (from gilsdist)"), "{}", stdout_of(&out));
    let used = fs::read_dir(real_pair().home.join("logs")).unwrap().flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let text = fs::read_to_string(e.path()).unwrap_or_default();
        name.starts_with("venv-3.14.6t-")
            && text.contains("ftsdist")
            && text.contains(&wheelhouse.display().to_string())
    });
    assert!(used, "the free-threaded environment did not install from the wheelhouse");

    // Packages that cannot be built get a named reason, and exit 13.
    fs::write(project.join("blocked.txt"), "nofree\nlimitedapi\n").unwrap();
    let out = ftpy_with_index(&project, &index.url, &["wheels", "build", "-r", "blocked.txt"]);
    assert_eq!(out.status.code(), Some(13), "{}\n{}", stdout_of(&out), stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("2 packages could not be built: limitedapi, nofree"), "{err}");
    assert!(err.contains("limitedapi: it builds for the limited API"), "{err}");
    assert!(err.contains("nofree: the build log is"), "{err}");
    assert!(
        stdout_of(&out).lines().any(|l| l.starts_with("nofree") && l.contains("FAILED")),
        "{}",
        stdout_of(&out)
    );
}

#[test]
fn real_build_wheels_check_agrees_with_pips_own_resolution() {
    let dir = tempfile::TempDir::new().unwrap();
    let index = every_status_index();
    // Its free-threaded wheel for this interpreter, too (the fixture's is cp313t).
    index.json_project("ftwheel", ftwheel_files("cp314"));
    let ft = write_package(
        &dir.path().join("pkgs"),
        "ftsdist",
        Some(Extension { declares_no_gil: true, ..Default::default() }),
        &[],
    );
    index_of_sdists(&index, &[ft]);
    let requirements = dir.path().join("requirements.txt");
    fs::write(&requirements, "ftwheel[fast]>=1.0\nnewbroken\npy314only\nftsdist\n").unwrap();

    let out =
        ftpy_with_index(dir.path(), &index.url, &["wheels", "check", "-r", "requirements.txt", "--json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    let mut ours: Vec<(String, String)> = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["version"].as_str().unwrap().to_string()))
        .collect();
    ours.sort();

    // pip, run by the free-threaded interpreter itself, resolving against the same index.
    let pip_report = dir.path().join("pip-report.json");
    let pip = Command::new(ft_python())
        .current_dir(dir.path())
        .args(["-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report"])
        .arg(&pip_report)
        .args(["--index-url", &index.url, "--cache-dir"])
        .arg(dir.path().join("pip-cache"))
        .args(["-r", "requirements.txt"])
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env_remove("PYTHON_GIL")
        .output()
        .unwrap();
    assert!(pip.status.success(), "{}", stderr_of(&pip));
    let pip_report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&pip_report).unwrap()).unwrap();
    let mut theirs: Vec<(String, String)> = pip_report["install"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let name = i["metadata"]["name"].as_str().unwrap().to_ascii_lowercase().replace('_', "-");
            (name, i["metadata"]["version"].as_str().unwrap().to_string())
        })
        .collect();
    theirs.sort();
    assert_eq!(ours, theirs);
}

/// A reinstall that misses the build cache builds from source over a previous installation of
/// the same prefix: make's ensurepip used to find that installation's pip there and skip the
/// new tree, and every such reinstall failed its checks ("pip is missing"). Here the previous
/// installation is the shared pair's free-threaded tree, copied into a home of its own.
#[test]
fn real_build_a_reinstall_built_from_source_has_its_own_pip() {
    let pair = real_pair();
    let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("real-reinstall");
    let _ = fs::remove_dir_all(&home);
    fs::create_dir_all(home.join("versions")).unwrap();
    let copied = Command::new("cp")
        .arg("-a")
        .arg(pair.home.join("versions/3.14.6t"))
        .arg(home.join("versions/3.14.6t"))
        .status()
        .unwrap();
    assert!(copied.success());
    let prefix = home.join("versions/3.14.6t");
    let tarball = fs::read(upstream_tarball()).unwrap();
    let server = TestServer::start();
    server.route("/3.14.6/Python-3.14.6.tar.xz", Route::Serve(tarball));
    let out = Command::new(assert_cmd::cargo::cargo_bin("ftpy"))
        .env("FTPY_HOME", &home)
        .env("FTPY_MIRROR", &server.base)
        .env_remove("FTPY_RECIPES")
        .env_remove("PYTHON_GIL")
        .args(["install", "--reinstall", "--no-build-cache", "--profile", "fast", "3.14.6t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout_of(&out), stderr_of(&out));
    // pip is the new tree's own, and its scripts name the final prefix, not the staging one.
    let pip = prefix.join("bin/pip3.14");
    let script = fs::read_to_string(&pip).unwrap();
    assert!(script.contains(&format!("{}/bin/python3.14t", prefix.display())), "{script}");
    // Not the staging tree's (under <home>/tmp), whose path pip wrote there first.
    assert!(
        !script.contains(&home.join("tmp").display().to_string()) && !script.contains("dest-"),
        "{script}"
    );
    let version = Command::new(&pip).arg("--version").env_remove("PYTHON_GIL").output().unwrap();
    assert!(version.status.success(), "{}", stderr_of(&version));
    assert!(stdout_of(&version).contains(&prefix.display().to_string()), "{}", stdout_of(&version));
    let _ = fs::remove_dir_all(&home);
}

/// Every regular file under `tree` but `.pyc` that contains `needle`.
fn files_naming(tree: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![tree.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && path.extension().is_none_or(|e| e != "pyc") {
                let bytes = fs::read(&path).unwrap();
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(path);
                }
            }
        }
    }
    found
}

#[test]
fn real_build_the_pair_travels_through_a_registry_into_a_home_at_another_path() {
    let pair = real_pair();
    // Says why when it cannot start (and fails under CI=true).
    let Some(registry) = common::registry::Registry::start() else { return };
    let url = registry.url("ftpy/builds");
    let ftpy = |home: &Path, args: &[&str]| {
        Command::new(assert_cmd::cargo::cargo_bin("ftpy"))
            .env("FTPY_HOME", home)
            .env_remove("FTPY_RECIPES")
            .env_remove("FTPY_MIRROR")
            .env_remove("FTPY_REMOTE_CACHE")
            .env_remove("PYTHON_GIL")
            .args(args)
            .output()
            .unwrap()
    };
    // The builds the shared home made go up: both, as `cache push` with no argument does.
    let pushed = ftpy(&pair.home, &["cache", "push", "--to", &url]);
    assert!(pushed.status.success(), "{}\n{}", stdout_of(&pushed), stderr_of(&pushed));
    let pushed = stdout_of(&pushed);
    assert!(pushed.contains("Pushed 3.14.6 ") && pushed.contains("Pushed 3.14.6t "), "{pushed}");

    // Another home, at a longer path: restored, never built (no mirror is given, so a build
    // could not even download the source).
    let work = tempfile::TempDir::new_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let home = work.path().join("another/place/for/a/team/member/whose/home/path/is/longer/ftpy");
    let out = ftpy(
        &home,
        &["install", "--pair", "--profile", "fast", "--no-build", "--remote-cache", &url, "3.14.6"],
    );
    let (stdout, stderr) = (stdout_of(&out), stderr_of(&out));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("Restored 3.14.6t from the remote cache"), "{stderr}");
    assert!(stderr.contains("Restored 3.14.6 from the remote cache"), "{stderr}");
    assert!(stdout.contains("Installed 3.14.6t (free-threaded, restored from the remote cache"), "{stdout}");
    assert!(stdout.contains("GIL disabled"), "{stdout}");

    for key in ["3.14.6", "3.14.6t"] {
        let old = pair.home.join("versions").join(key);
        let prefix = home.join("versions").join(key);
        // Nothing but .pyc names where it was built or installed before.
        let naming_old = files_naming(&prefix, &old.display().to_string());
        assert!(naming_old.is_empty(), "{key}: {naming_old:?}");
        let naming_placeholder = files_naming(&prefix, "/ftpy-relocatable-build-prefix-");
        assert!(naming_placeholder.is_empty(), "{key}: {naming_placeholder:?}");
        // sysconfig, the -config script and pkg-config name the new prefix.
        let name = if key.ends_with('t') { "python3.14t" } else { "python3.14" };
        let python = prefix.join("bin").join(name);
        let paths = python_says(
            &python,
            "import sys, sysconfig; print(sys.prefix, sysconfig.get_paths()['include'])",
        );
        assert_eq!(paths, format!("{} {}/include/{name}", prefix.display(), prefix.display()));
        let config = Command::new(prefix.join("bin").join(format!("{name}-config")))
            .args(["--includes", "--ldflags"])
            .output()
            .unwrap();
        assert!(config.status.success());
        let config = stdout_of(&config);
        assert!(config.contains(&format!("-I{}/include/{name}", prefix.display())), "{config}");
        assert!(config.contains(&format!("-L{}/lib", prefix.display())), "{config}");
        if require(which_pkg_config(), "pkg-config", "apt-get install pkg-config") {
            let pc = Command::new("pkg-config")
                .args(["--cflags", "python3"])
                .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
                .output()
                .unwrap();
            assert_eq!(stdout_of(&pc).trim(), format!("-I{}/include/{name}", prefix.display()));
        }
        let pip = Command::new(prefix.join("bin/pip3.14"))
            .arg("--version")
            .env_remove("PYTHON_GIL")
            .output()
            .unwrap();
        assert!(pip.status.success(), "{}", stderr_of(&pip));
        assert!(stdout_of(&pip).contains(&prefix.display().to_string()), "{}", stdout_of(&pip));
    }

    // A C extension built from source against the restored free-threaded interpreter imports,
    // and keeps the GIL off.
    let ft = home.join("versions/3.14.6t/bin/python3.14t");
    let package = write_package(
        work.path(),
        "relocext",
        Some(Extension { declares_no_gil: true, ..Extension::default() }),
        &[],
    );
    let install = Command::new(&ft)
        .args(["-m", "pip", "install", "--no-index", "--no-build-isolation", "--disable-pip-version-check"])
        .arg(&package)
        .env("PIP_CACHE_DIR", work.path().join("pip-cache"))
        .env_remove("PYTHON_GIL")
        .output()
        .unwrap();
    assert!(install.status.success(), "{}\n{}", stdout_of(&install), stderr_of(&install));
    let said = python_says(&ft, "import sys, relocext._core as c; print(c.add(2, 3), sys._is_gil_enabled())");
    assert_eq!(said, "5 False");
}

fn which_pkg_config() -> bool {
    Command::new("pkg-config").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Wheels of pytest and pytest-run-parallel and their dependencies, fetched once by the real
/// pair's own pip (so no pip is needed on the machine) with the machine's pip configuration;
/// `None` (after `require` has spoken: under CI=true it fails) when they cannot be fetched.
fn stress_wheels() -> Option<&'static [(String, Vec<u8>)]> {
    static WHEELS: OnceLock<Result<Vec<(String, Vec<u8>)>, String>> = OnceLock::new();
    let wheels = WHEELS.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("stress-wheels");
        let _ = fs::remove_dir_all(&dir);
        let out = Command::new(ft_python())
            .args(["-m", "pip", "download", "--disable-pip-version-check", "--only-binary", ":all:", "-d"])
            .arg(&dir)
            .args(["pytest", "pytest-run-parallel"])
            .env_remove("PYTHON_GIL")
            .output()
            .map_err(|e| format!("cannot run pip: {e}"))?;
        if !out.status.success() {
            return Err(stderr_of(&out));
        }
        let mut wheels = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| e.to_string())? {
            let path = entry.map_err(|e| e.to_string())?.path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            wheels.push((name, fs::read(&path).map_err(|e| e.to_string())?));
        }
        Ok(wheels)
    });
    let found = match wheels {
        Ok(w) => w.iter().any(|(n, _)| n.starts_with("pytest_run_parallel-")),
        Err(e) => {
            eprintln!("pip download: {e}");
            false
        }
    };
    require(
        found,
        "wheels of pytest and pytest-run-parallel",
        "`pip download pytest pytest-run-parallel` must work here (pip's own configuration names the index)",
    )
    .then(|| wheels.as_ref().unwrap().as_slice())
}

/// A local index serving `wheels`, leaving out the projects in `without`.
fn index_of_wheels(wheels: &[(String, Vec<u8>)], without: &[&str]) -> IndexFixture {
    let index = IndexFixture::new();
    let mut projects: std::collections::BTreeMap<String, Vec<FixtureFile>> = Default::default();
    for (file, bytes) in wheels {
        let project = file.split('-').next().unwrap().to_lowercase().replace('_', "-");
        projects.entry(project).or_default().push(FixtureFile::new(file, bytes.clone()));
    }
    for (project, files) in projects {
        if !without.contains(&project.as_str()) {
            index.html_project(&project, files);
        }
    }
    index
}

/// A project whose tests: one thread-unsafe through module-level state (passes alone, fails
/// when several threads run it at once), thread-safe ones (one parametrized), and one marked
/// thread_unsafe with a reason. Its twin environments have pytest, from `index`.
fn project_with_a_race(dir: &Path, index: &IndexFixture) -> PathBuf {
    let project = dir.join("racy");
    fs::create_dir_all(project.join("tests")).unwrap();
    fs::write(project.join("requirements.txt"), "pytest\n").unwrap();
    fs::write(
        project.join("tests/test_shared_state.py"),
        r#"import threading
import time

# Module-level state that every call shares: fine alone, a race under threads.
_current_owner = []


def test_owner_is_me():
    _current_owner.clear()
    _current_owner.append(threading.get_ident())
    time.sleep(0.2)
    assert _current_owner == [threading.get_ident()]
"#,
    )
    .unwrap();
    fs::write(
        project.join("tests/test_safe.py"),
        r#"import threading

import pytest


def test_local_state():
    mine = [threading.get_ident()]
    assert mine == [threading.get_ident()]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_arithmetic(n):
    assert n * 2 == n + n


_lock = threading.Lock()
_counter = {"n": 0}


def test_locked_counter():
    with _lock:
        _counter["n"] += 1
        assert _counter["n"] >= 1


@pytest.mark.thread_unsafe(reason="reads the process environment")
def test_marked_unsafe():
    assert True
"#,
    )
    .unwrap();
    let out = ftpy_with_index(&project, &index.url, &["venv", "--python", "3.14", "-r", "requirements.txt"]);
    assert!(out.status.success(), "{}\n{}", stdout_of(&out), stderr_of(&out));
    project
}

#[test]
fn real_build_stress_names_the_thread_unsafe_test_and_only_it() {
    let Some(wheels) = stress_wheels() else { return };
    let dir = tempfile::TempDir::new().unwrap();
    let index = index_of_wheels(wheels, &[]);
    let project = project_with_a_race(dir.path(), &index);

    let out = ftpy_with_index(
        &project,
        &index.url,
        &["run", "--stress", "--threads", "4", "--", "python", "-m", "pytest"],
    );
    let (stdout, stderr) = (stdout_of(&out), stderr_of(&out));
    assert_eq!(out.status.code(), Some(18), "{stdout}\n{stderr}");
    assert!(stderr.contains("pytest-run-parallel is not installed in .venv-ft: installing it"), "{stderr}");
    assert!(
        stderr.contains("error: 1 race candidate: a test that passes alone but fails under 4 threads"),
        "{stderr}"
    );
    let section = stdout
        .split("race candidates: pass alone, fail under 4 threads: 1\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{stdout}"));
    let listed: Vec<&str> =
        section.lines().take_while(|l| l.starts_with("  ")).filter(|l| !l.starts_with("      ")).collect();
    assert_eq!(
        listed,
        ["  tests/test_shared_state.py::test_owner_is_me  (alone passed, under threads failed)"],
        "{stdout}"
    );
    assert!(
        stdout.contains("tests/test_safe.py::test_marked_unsafe: reads the process environment"),
        "{stdout}"
    );
    assert!(!stdout.contains("fail either way"), "{stdout}");
    // The plugin went into the free-threaded environment only, and not into the requirements.
    assert_eq!(fs::read_to_string(project.join("requirements.txt")).unwrap(), "pytest\n");
    let gil_has_it = Command::new(project.join(".venv-gil/bin/python"))
        .args(["-c", "import pytest_run_parallel"])
        .output()
        .unwrap();
    assert!(!gil_has_it.status.success(), "the GIL environment is left alone");

    // The JSON report agrees; the plugin is there now, so no pip runs.
    let out = ftpy_with_index(
        &project,
        &index.url,
        &["run", "--stress", "--threads", "4", "--json", "--", "python", "-m", "pytest"],
    );
    assert_eq!(out.status.code(), Some(18), "{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains("installing it"), "{}", stderr_of(&out));
    let report: serde_json::Value =
        serde_json::from_str(&stdout_of(&out)).expect("stdout is the JSON report alone");
    let ids = |key: &str| -> Vec<String> {
        report[key].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids("race_candidates"), ["tests/test_shared_state.py::test_owner_is_me"]);
    assert_eq!(report["race_candidates"][0]["alone"], "passed");
    assert_eq!(report["race_candidates"][0]["threaded"], "failed");
    assert!(report["race_candidates"][0]["message"].as_str().unwrap().contains("assert"), "{report}");
    assert!(ids("fail_either_way").is_empty() && ids("fail_alone_only").is_empty(), "{report}");
    assert_eq!(ids("one_thread"), ["tests/test_safe.py::test_marked_unsafe"]);
    assert_eq!(report["one_thread"][0]["reason"], "reads the process environment");
    assert_eq!((report["tests"].as_u64(), report["threads"].as_u64()), (Some(7), Some(4)));
    assert_eq!(report["in_parallel"].as_u64(), Some(6));
    assert_eq!(report["gil_enabled_by"], serde_json::json!([]));
    assert!(stderr_of(&out).contains("threads │"), "pytest's output goes to stderr with --json");
    assert!(report["gil_contrast"].is_null(), "{report}");

    // With --both, the GIL environment for contrast: this race does not need free threading
    // (the sleep lets the other threads in under the GIL too).
    let out = ftpy_with_index(
        &project,
        &index.url,
        &["run", "--stress", "--both", "--threads", "4", "--json", "--", "python", "-m", "pytest"],
    );
    assert_eq!(out.status.code(), Some(18), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(report["gil_contrast"]["environment"], ".venv-gil");
    assert_eq!(
        report["gil_contrast"]["race_candidates"],
        serde_json::json!(["tests/test_shared_state.py::test_owner_is_me"])
    );

    // The thread-safe part of the suite passes --stress, with `--threads auto` and the user's
    // own pytest arguments passed through.
    let out = ftpy_with_index(
        &project,
        &index.url,
        &[
            "run",
            "--stress",
            "--threads",
            "auto",
            "--iterations",
            "3",
            "--",
            "pytest",
            "-q",
            "tests/test_safe.py",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout_of(&out), stderr_of(&out));
    assert!(stdout_of(&out).contains("race candidates: pass alone, fail under"), "{}", stdout_of(&out));
    assert!(stdout_of(&out).contains("6 tests alone"), "{}", stdout_of(&out));
}

#[test]
fn real_build_stress_refuses_other_commands_and_explains_a_plugin_the_index_lacks() {
    let Some(wheels) = stress_wheels() else { return };
    let dir = tempfile::TempDir::new().unwrap();
    // The index has pytest but not the plugin.
    let index = index_of_wheels(wheels, &["pytest-run-parallel"]);
    let project = project_with_a_race(dir.path(), &index);

    let out = ftpy_with_index(&project, &index.url, &["run", "--stress", "--", "python", "-m", "unittest"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("--stress needs pytest"), "{}", stderr_of(&out));
    assert!(stdout_of(&out).is_empty(), "nothing ran: {}", stdout_of(&out));

    let out = ftpy_with_index(&project, &index.url, &["run", "--stress", "--", "python", "-m", "pytest"]);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(10), "{}\n{stderr}", stdout_of(&out));
    assert!(
        stderr.contains("error: pytest-run-parallel >= 0.6.0 could not be installed into .venv-ft"),
        "{stderr}"
    );
    assert!(stderr.contains("No matching distribution found for pytest-run-parallel"), "{stderr}");
    assert!(stderr.contains("pip download --no-deps"), "{stderr}");
    assert!(!stdout_of(&out).contains("alone │"), "the suite did not run: {}", stdout_of(&out));
}

#[test]
fn real_build_stress_names_the_module_that_turned_the_gil_back_on() {
    let Some(wheels) = stress_wheels() else { return };
    let dir = tempfile::TempDir::new().unwrap();
    let index = index_of_wheels(wheels, &[]);
    let gil = write_package(
        &dir.path().join("pkgs"),
        "gilext",
        Some(Extension { declares_no_gil: false, refuses_free_threading: false, ..Default::default() }),
        &[],
    );
    let project = dir.path().join("uses-gilext");
    fs::create_dir_all(project.join("tests")).unwrap();
    fs::write(project.join("requirements.txt"), format!("pytest\n{}\n", gil.display())).unwrap();
    fs::write(
        project.join("tests/test_gilext.py"),
        "import gilext\n\n\ndef test_add():\n    assert gilext.add(2, 3) == 5\n",
    )
    .unwrap();
    let out = ftpy_with_index(&project, &index.url, &["venv", "--python", "3.14", "-r", "requirements.txt"]);
    assert!(out.status.success(), "{}\n{}", stdout_of(&out), stderr_of(&out));

    // The run goes on (the plugin would stop it), and the report names the module.
    let out =
        ftpy_with_index(&project, &index.url, &["run", "--stress", "--json", "--", "python", "-m", "pytest"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout_of(&out), stderr_of(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(report["gil_enabled_by"], serde_json::json!(["gilext._core"]), "{report}");
    assert_eq!(report["in_parallel"].as_u64(), Some(1), "{report}");
    let out = ftpy_with_index(&project, &index.url, &["run", "--stress", "--", "python", "-m", "pytest"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(
        stdout_of(&out).contains("the GIL was turned back on by: gilext._core (threads ran serialized"),
        "{}",
        stdout_of(&out)
    );
}
