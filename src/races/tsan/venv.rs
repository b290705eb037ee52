//! `ftpy venv --tsan`: the project's third environment, `.venv-tsan`, made from the newest
//! ThreadSanitizer installation the project accepts, apart from the twins (which it never
//! touches). A binary wheel of a C extension was not built with `-fsanitize=thread`, so TSan
//! cannot see the races inside it: every package whose chosen wheel is not pure Python is built
//! from source instead (`pip --no-binary NAME,..`), with the compiler the interpreter was built
//! with and `-fsanitize=thread`. Pure-Python packages install from their wheels as usual.
//!
//! Why not `--no-binary :all:`: pip applies it to the isolated build environments too, so every
//! build backend (setuptools, hatchling, their own dependencies) would have to build itself from
//! source, which often fails and never finds a race. A dry run (`pip install --dry-run --report`)
//! says which files pip would install; the packages it would take as platform wheels are named.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::context::Context;
use crate::error::Error;
use crate::interpreters::installation::{self, Installation};
use crate::interpreters::version::{InstallKey, Variant};
use crate::projects::make_twins::{self, MakeTwinsError};
use crate::projects::pip;
use crate::projects::project::{self, PyProject, PythonSource, PythonWish, Requirements, TSAN_ENV};
use crate::projects::twin_venvs::{self, EnvInfo, EnvRecord, Environment};
use crate::races::tsan::TsanRunError;
use crate::races::tsan::suppressions;
use crate::system::files::{Discard, Transaction};

/// What `ftpy venv --tsan` asks for.
pub struct TsanVenvRequest {
    /// The project's root (found and locked by the caller).
    pub root: PathBuf,
    pub requirement_files: Vec<PathBuf>,
    /// `--python`: which series (`3.14t`); else `.python-version`, `requires-python`, the newest.
    pub python: Option<String>,
    pub deps_only: bool,
}

/// The environment made.
pub struct TsanVenv {
    pub env: Environment,
    pub key: InstallKey,
    pub info: EnvInfo,
    /// The packages built from source because pip would have taken a binary wheel.
    pub built_from_source: Vec<String>,
    pub started: Instant,
}

/// The newest TSan installation the wish accepts, preferring final releases.
pub fn choose_tsan_installation(ctx: &Context, wish: &PythonWish) -> Result<Option<Installation>, Error> {
    let all = installation::installed(&ctx.home).map_err(Error::io("cannot read the installed versions"))?;
    let mut accepted: Vec<Installation> =
        all.into_iter().filter(|i| suppressions::is_tsan(&i.key) && wish.accepts(&i.key.version)).collect();
    accepted.sort_by(|a, b| {
        (a.key.version.is_final(), &a.key.version).cmp(&(b.key.version.is_final(), &b.key.version))
    });
    Ok(accepted.pop())
}

/// The packages (name, version) pip's dry-run report would install from a wheel that is not
/// pure Python (its platform tag is not `any`).
pub fn binary_wheel_packages(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut names: Vec<(String, String)> = report["install"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    let url = item["download_info"]["url"].as_str()?;
                    let file = url.rsplit('/').next()?.split(['#', '?']).next()?;
                    let stem = file.strip_suffix(".whl")?;
                    let platform = stem.rsplit('-').next()?;
                    if platform == "any" {
                        return None;
                    }
                    let name = item["metadata"]["name"].as_str()?;
                    let version = item["metadata"]["version"].as_str().unwrap_or("");
                    Some((crate::wheels::tags::normalize_name(name), version.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.dedup();
    names
}

/// Make (or remake) `.venv-tsan`; the old one comes back if anything fails.
pub fn make_tsan_environment(ctx: &Context, request: &TsanVenvRequest) -> Result<TsanVenv, Error> {
    let root = &request.root;
    let pyproject_path = root.join("pyproject.toml");
    let pyproject = if pyproject_path.is_file() { Some(PyProject::read(&pyproject_path)?) } else { None };
    crate::projects::requirements_file::check_files(&request.requirement_files)?;
    let requirements = Requirements::choose(
        root,
        &make_twins::absolute(&request.requirement_files)?,
        pyproject.as_ref(),
        request.deps_only,
    );
    let (wish, source) = project::python_wish(request.python.as_deref(), root, pyproject.as_ref())?;
    let Some(base) = choose_tsan_installation(ctx, &wish)? else {
        let installed = installation::installed(&ctx.home)
            .unwrap_or_default()
            .into_iter()
            .filter(|i| suppressions::is_tsan(&i.key))
            .map(|i| i.key.to_string())
            .collect();
        return Err(TsanRunError::NotInstalled { wanted: source.to_string(), installed }.into());
    };
    let mut build_env = crate::wheels::build::sanitizer_env(&base)
        .map_err(|e| TsanRunError::Compiler { key: base.key.to_string(), message: e.to_string() })?;
    // pip itself runs on the TSan interpreter: a race CPython's suppressions miss goes to the log,
    // and does not fail the install (TSan's exit code 66).
    let mut own = "halt_on_error=0 exitcode=0".to_string();
    if let Some(file) = suppressions::suppressions_file(&base.prefix) {
        own =
            format!("suppressions={} {own}", crate::races::tsan::run::option_value(&file.to_string_lossy())?);
    }
    build_env.push(("TSAN_OPTIONS".to_string(), own));
    ctx.home.create()?;
    let source = match source {
        PythonSource::NewestInstalled => "the newest installed ThreadSanitizer build".to_string(),
        other => other.to_string(),
    };
    ctx.reporter.info(format!(
        "Using {} ({source}) for {}; installing: {}",
        base.key,
        root.display(),
        requirements.describe()
    ));
    let started = Instant::now();
    let env = Environment { variant: Variant::Freethreaded, path: root.join(TSAN_ENV) };
    let signals = crate::system::interrupt::Guard::install();
    let mut replacement = Transaction::new(Discard::InPlace);
    replacement
        .replace(&env.path, twin_venvs::aside_path(&env.path))
        .map_err(Error::io("cannot move the old environment aside"))?;
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let log = ctx.home.logs_dir().join(format!(
        "venv-{}-{}.log",
        base.key,
        crate::system::clock::file_stamp(stamp)
    ));
    let filled = fill(ctx, &env, &base, root, &requirements, &build_env, &log);
    if signals.interrupted() || filled.is_err() {
        if let Err(failures) = replacement.roll_back() {
            let problems: Vec<String> = failures.iter().map(ToString::to_string).collect();
            return Err(Error::Io {
                context: problems.join("\n"),
                source: std::io::Error::other("the environment could not be restored"),
            });
        }
        if signals.interrupted() {
            return Err(Error::Interrupted { state: format!("{TSAN_ENV} is as it was before") });
        }
        return Err(filled.err().expect("a failure"));
    }
    let (info, built_from_source) = filled?;
    let record = EnvRecord {
        key: base.key.to_string(),
        base_interpreter: base.interpreter(),
        requirements: requirements.describe(),
        created_at: stamp,
    };
    env.write_record(&record).map_err(Error::io("cannot write the environment's record"))?;
    replacement.commit();
    drop(signals);
    if let Err(e) = crate::projects::registry::register(&ctx.home, root) {
        ctx.reporter.warn(format!("cannot record {} in ftpy's list of projects ({e})", root.display()));
    }
    Ok(TsanVenv { env, key: base.key, info, built_from_source, started })
}

fn fill(
    ctx: &Context,
    env: &Environment,
    base: &Installation,
    root: &Path,
    requirements: &Requirements,
    build_env: &[(String, String)],
    log: &Path,
) -> Result<(EnvInfo, Vec<String>), Error> {
    let mut task = ctx.reporter.task(TSAN_ENV);
    task.phase("creating");
    env.create(base)?;
    let requirements_failed = |failure| MakeTwinsError::Requirements {
        env: TSAN_ENV.to_string(),
        key: base.key.to_string(),
        failure,
        rebuild_command: String::new(),
    };
    let mut from_source = Vec::new();
    if !matches!(requirements, Requirements::Nothing) {
        task.phase("resolving");
        let scratch = tempfile::Builder::new()
            .prefix("ftpy-tsan-venv-")
            .tempdir()
            .map_err(Error::io("cannot create a temporary directory"))?;
        let report_path = scratch.path().join("report.json");
        let mut dry_run: Vec<String> = vec![
            "--dry-run".into(),
            "--ignore-installed".into(),
            "--report".into(),
            report_path.display().to_string(),
        ];
        dry_run.extend(requirements.pip_args());
        pip::install_with(&env.python(), &dry_run, root, log, build_env).map_err(requirements_failed)?;
        let bytes = crate::interpreters::installation::read_small_file(&report_path, 64 << 20)
            .map_err(Error::io("cannot read pip's dry-run report"))?;
        let report: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::io("cannot read pip's dry-run report")(std::io::Error::other(e)))?;
        // A wheel `ftpy wheels build --tsan` built of that very version is used as it is (named
        // by its path: pip would prefer the index's manylinux wheel to it); the rest are built.
        let wheelhouse = ctx.home.wheelhouse_dir(&base.key);
        let mut args = requirements.pip_args();
        if wheelhouse.is_dir() {
            // What `ftpy wheels build --tsan` built of an sdist-only package is taken from there.
            args.extend(["--find-links".to_string(), wheelhouse.display().to_string()]);
        }
        for (name, version) in binary_wheel_packages(&report) {
            match crate::wheels::build::find_built(&wheelhouse, &name, &version) {
                Some(wheel) => args.push(wheel.display().to_string()),
                None => from_source.push(name),
            }
        }
        if !from_source.is_empty() {
            args.extend(["--no-binary".to_string(), from_source.join(",")]);
        }
        task.phase("building and installing");
        pip::install_with(&env.python(), &args, root, log, build_env).map_err(requirements_failed)?;
    }
    task.phase("checking");
    let info = env.verify(base)?;
    task.finish();
    Ok((info, from_source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_platform_wheels_are_built_from_source() {
        let report = serde_json::json!({"install": [
            {"download_info": {"url": "https://x/packages/numpy-2.3.0-cp314-cp314t-manylinux_2_28_x86_64.whl#sha256=00"},
             "metadata": {"name": "NumPy"}},
            {"download_info": {"url": "https://x/packages/six-1.17.0-py2.py3-none-any.whl"}, "metadata": {"name": "six"}},
            {"download_info": {"url": "https://x/packages/racecounter-1.0.tar.gz"}, "metadata": {"name": "racecounter"}},
            {"download_info": {"url": "file:///work/proj"}, "metadata": {"name": "proj"}},
            {"download_info": {"url": "https://x/Zope.Interface-7.0-cp314-cp314t-linux_x86_64.whl"}, "metadata": {"name": "zope.interface"}}
        ]});
        let names: Vec<String> = binary_wheel_packages(&report).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["numpy", "zope-interface"]);
        assert!(binary_wheel_packages(&serde_json::json!({})).is_empty());
    }
}
