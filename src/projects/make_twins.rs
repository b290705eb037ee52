//! Making a project's twin environments, the transaction behind `ftpy venv`: choose the
//! installed pair the project asks for (installing it first if asked), set the old environments
//! aside, fill both in parallel, write their records with one stamp, scan the free-threaded one
//! for modules that turn the GIL back on, and only then commit and register the project. Any
//! failure or Ctrl-C before the commit puts the old environments back.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::context::Context;
use crate::error::Error;
use crate::interpreters::build::Profile;
use crate::interpreters::install::{self, InstallOptions};
use crate::interpreters::installation::{self, Installation};
use crate::interpreters::journal::{KillPoint, kill_point};
use crate::interpreters::version::{InstallKey, Variant, VersionRequest};
use crate::projects::gil_scan::{self, GilReport};
use crate::projects::pip;
use crate::projects::project::{self, PyProject, PythonSource, PythonWish, Requirements};
use crate::projects::twin_venvs::{self, EnvInfo, EnvRecord, Environment};
use crate::system::files::{Discard, Transaction};

/// Why no twin environments were made: no installed pair fits, or pip failed in one of them.
#[derive(Debug, thiserror::Error)]
pub enum MakeTwinsError {
    #[error("{}", pair_not_installed(wanted, source_of_wish, home, installed))]
    PairNotInstalled {
        wanted: String,
        source_of_wish: String,
        /// The request for `ftpy install --pair`, when the wish is one.
        install_request: Option<String>,
        installed: Vec<String>,
        /// An installed build the wish accepts whose twin is missing: (installed, missing).
        half_pair: Option<(String, String)>,
        home: PathBuf,
    },
    #[error("{}", describe_requirements_failure(env, key, failure))]
    Requirements {
        env: String,
        key: String,
        failure: pip::PipFailure,
        /// The `ftpy wheels build ...` command for these requirements, for the hint.
        rebuild_command: String,
    },
    /// `--install` could not install the pair; each failure was reported as it happened.
    #[error("the {request} pair could not be installed ({} failed, see above); the environments were not touched", failed.join(" and "))]
    PairInstallFailed {
        request: String,
        failed: Vec<String>,
        /// The exit code of the first failure (a build failure, a network failure, ...).
        code: crate::error::ExitCode,
    },
}

impl crate::error::Diagnose for MakeTwinsError {
    fn exit_code(&self) -> crate::error::ExitCode {
        use crate::error::ExitCode;
        match self {
            MakeTwinsError::PairNotInstalled { .. } => ExitCode::NotFound,
            MakeTwinsError::Requirements { .. } => ExitCode::RequirementsFailed,
            MakeTwinsError::PairInstallFailed { code, .. } => *code,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            MakeTwinsError::PairInstallFailed { request, .. } => vec![format!(
                "the errors above say why; `ftpy install --pair {request}` tries the install alone"
            )],
            MakeTwinsError::PairNotInstalled { install_request, half_pair, .. } => {
                let mut hints = Vec::new();
                if let Some((have, missing)) = half_pair {
                    hints.push(format!(
                        "{have} is installed without its twin: `ftpy install {missing}` completes the pair"
                    ));
                }
                match install_request {
                    Some(request) => hints.push(format!(
                        "install a pair with `ftpy install --pair {request}`, or add --install to this command"
                    )),
                    None => hints.push("no release in ftpy's recipes satisfies it (`ftpy list --available`)".into()),
                }
                hints.push(
                    "`ftpy list` shows what is installed; FTPY_HOME (or --home) chooses the home".into(),
                );
                hints
            }
            MakeTwinsError::Requirements { env, failure, rebuild_command, .. } => {
                let mut hints = vec![format!("pip's full output is in {}", failure.log.display())];
                let build_failed =
                    failure.packages.iter().any(|(_, why)| *why == pip::PackageFailure::BuildFailed);
                if build_failed && !rebuild_command.is_empty() && env == project::FT_ENV {
                    hints.push(format!(
                        "`{rebuild_command}` rebuilds them for the free-threaded interpreter and says what blocks each; `ftpy venv` then installs from its wheelhouse (`ftpy venv --build-wheels` does both)"
                    ));
                }
                if env.starts_with(".venv") {
                    hints.push("nothing was left half-filled: both environments are as they were before this command".into());
                }
                hints
            }
        }
    }
}

fn pair_not_installed(wanted: &str, source: &str, home: &Path, installed: &[String]) -> String {
    if installed.is_empty() && wanted == "any version" {
        // Nothing asked for a version and nothing is installed: say that, plainly.
        return format!(
            "no pair (the GIL and the free-threaded build of one version) is installed in {}",
            home.display()
        );
    }
    let installed = if installed.is_empty() { "none".to_string() } else { installed.join(", ") };
    format!(
        "no installed pair matches {wanted} (from {source}); installed pairs in {}: {installed}",
        home.display()
    )
}

fn describe_requirements_failure(env: &str, key: &str, failure: &pip::PipFailure) -> String {
    let mut text = if failure.packages.is_empty() {
        format!("the requirements could not be installed into {env} ({key})")
    } else {
        let mut text = format!(
            "{} could not be installed into {env} ({key}):",
            if failure.packages.len() == 1 {
                "1 package".to_string()
            } else {
                format!("{} packages", failure.packages.len())
            }
        );
        for (name, why) in &failure.packages {
            text.push_str(&format!("\n  {name}: {}", why.describe()));
        }
        text
    };
    if !failure.key_lines.is_empty() {
        text.push_str("\npip said:");
        for line in &failure.key_lines {
            text.push_str(&format!("\n  {line}"));
        }
    }
    text
}

/// Stopped by a signal while replacing a project's environments, which were put back.
fn interrupted() -> Error {
    Error::Interrupted { state: "the project's environments are as they were before".into() }
}

/// What `ftpy venv` asks for.
pub struct TwinRequest {
    /// The project's root (found and locked by the caller).
    pub root: PathBuf,
    /// Requirement files as given (`-r`), relative to the current directory.
    pub requirement_files: Vec<PathBuf>,
    /// `--python`: overrides `.python-version` and `requires-python`.
    pub python: Option<String>,
    /// Install the project's dependencies only, not the project itself.
    pub deps_only: bool,
    /// Install the pair first when no installed pair matches.
    pub install: bool,
    /// The build profile for that install.
    pub profile: Profile,
    /// The remote cache that install restores from (`--remote-cache`, `FTPY_REMOTE_CACHE`).
    pub remote_cache: Option<String>,
}

/// One environment made, for the table `ftpy venv` prints.
pub struct MadeEnvironment {
    pub env: Environment,
    pub key: InstallKey,
    pub info: EnvInfo,
}

/// What `ftpy venv` made: both environments (GIL first), the GIL scan of the free-threaded one,
/// and when the work began.
pub struct TwinReport {
    pub environments: Vec<MadeEnvironment>,
    pub gil_report: GilReport,
    pub started: Instant,
}

/// Replace the project's twin environments with new ones made from one installed pair, or leave
/// the old ones as they were.
/// `build_wheels`, when given (`ftpy venv --build-wheels`), builds what the chosen free-threaded
/// build lacks into its wheelhouse before the environments are filled. The wheels subsystem
/// provides it: it sits above projects, so projects takes it as a step, not as an import.
pub fn make_twin_environments(
    ctx: &Context,
    request: &TwinRequest,
    build_wheels: Option<&dyn Fn(&InstallKey) -> Result<(), Error>>,
) -> Result<TwinReport, Error> {
    let root = &request.root;
    let pyproject_path = root.join("pyproject.toml");
    let pyproject = if pyproject_path.is_file() { Some(PyProject::read(&pyproject_path)?) } else { None };
    crate::projects::requirements_file::check_files(&request.requirement_files)?;
    let requirements = Requirements::choose(
        root,
        &absolute(&request.requirement_files)?,
        pyproject.as_ref(),
        request.deps_only,
    );
    let (wish, source) = project::python_wish(request.python.as_deref(), root, pyproject.as_ref())?;
    if let PythonWish::Request(request) = &wish
        && request.series().is_some_and(|s| s < crate::interpreters::version::FIRST_FREETHREADED)
    {
        return Err(Error::Usage {
            message: format!(
                "{request} (from {source}) has no free-threaded build: pairs exist from 3.13 on"
            ),
            hints: vec!["ask for 3.13 or newer with --python".into()],
        });
    }

    let (gil_base, ft_base) = match choose_pair(ctx, &wish)? {
        Some(pair) => pair,
        None if request.install => {
            ensure_pair_installed(ctx, &wish, &source, request.profile, request.remote_cache.as_deref())?;
            choose_pair(ctx, &wish)?.ok_or_else(|| not_installed(ctx, &wish, &source))?
        }
        None => return Err(not_installed(ctx, &wish, &source)),
    };
    ctx.home.create()?;
    if let Some(build_wheels) = build_wheels {
        build_wheels(&ft_base.key)?;
    }
    if matches!(requirements, Requirements::Nothing) {
        ctx.reporter.warn(format!(
            "{} has no pyproject.toml or requirements.txt: the environments get no packages \
             (pass -r FILE, or run ftpy venv in the project's directory)",
            root.display()
        ));
    }
    ctx.reporter.info(format!(
        "Using the {} pair ({source}) for {}; installing: {}",
        gil_base.key.version,
        root.display(),
        requirements.describe()
    ));

    let started = Instant::now();
    let sides = [
        (Environment::in_project(root, Variant::Gil), &gil_base),
        (Environment::in_project(root, Variant::Freethreaded), &ft_base),
    ];
    if sides.iter().any(|(env, _)| env.path.exists()) {
        ctx.reporter.info("Replacing the existing environments; they come back if anything fails");
    }
    // From here until the new environments are complete, Ctrl-C rolls back instead of killing.
    let signals = crate::system::interrupt::Guard::install();
    // On failure, what was set aside so far comes back as the transaction is dropped.
    let mut replacement = Transaction::new(Discard::InPlace);
    for (env, _) in &sides {
        replacement
            .replace(&env.path, twin_venvs::aside_path(&env.path))
            .map_err(Error::io("cannot move the old environment aside"))?;
    }
    kill_point(KillPoint::VenvSetAside);
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let log_stamp = crate::system::clock::file_stamp(stamp);
    let results: Vec<Result<EnvInfo, Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = sides
            .iter()
            .map(|(env, base)| {
                let log = ctx.home.logs_dir().join(format!("venv-{}-{log_stamp}.log", base.key));
                let requirements = &requirements;
                s.spawn(move || fill(ctx, env, base, root, requirements, &log))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("environment thread panicked")).collect()
    });

    let failure = results.iter().position(Result::is_err);
    if signals.interrupted() || failure.is_some() {
        if let Err(failures) = replacement.roll_back() {
            let problems: Vec<String> = failures.iter().map(ToString::to_string).collect();
            // Never claim the environments are as before when they are not.
            return Err(Error::Io {
                context: problems.join("\n"),
                source: std::io::Error::other("the environments could not be restored"),
            });
        }
        if signals.interrupted() {
            return Err(interrupted());
        }
        let index = failure.expect("a failure");
        return Err(results.into_iter().nth(index).expect("index exists").expect_err("is an error"));
    }
    let infos: Vec<EnvInfo> = results.into_iter().map(|r| r.expect("checked")).collect();
    kill_point(KillPoint::VenvFilled);
    // Both complete: their records, with one stamp, mark them as a pair made together (what
    // recovery after a kill looks for). Written last, after every check.
    for (env, base) in &sides {
        let record = EnvRecord {
            key: base.key.to_string(),
            base_interpreter: base.interpreter(),
            requirements: requirements.describe(),
            created_at: stamp,
        };
        env.write_record(&record).map_err(Error::io("cannot write the environment's record"))?;
    }
    kill_point(KillPoint::VenvRecordsWritten);
    // A failed scan drops the replacements, which rolls them back. A terminal's Ctrl-C reaches
    // the scan's python too: then the failure is the interrupt, not a broken environment.
    let gil_report = match gil_scan::scan(&sides[1].0.python()) {
        Ok(report) => report,
        Err(_) if signals.interrupted() => return Err(interrupted()),
        Err(e) => return Err(e.into()),
    };
    if signals.interrupted() {
        return Err(interrupted());
    }
    replacement.commit();
    drop(signals);
    if let Err(e) = crate::projects::registry::register(&ctx.home, root) {
        ctx.reporter.warn(format!(
            "cannot record {} in ftpy's list of projects ({e}): `ftpy uninstall` will not know it uses {}",
            root.display(),
            gil_base.key.version
        ));
    }
    let environments = sides
        .into_iter()
        .zip(infos)
        .map(|((env, base), info)| MadeEnvironment { env, key: base.key.clone(), info })
        .collect();
    Ok(TwinReport { environments, gil_report, started })
}

/// Create one environment, install the requirements, check it and leave ftpy's record in it.
fn fill(
    ctx: &Context,
    env: &Environment,
    base: &Installation,
    root: &Path,
    requirements: &Requirements,
    log: &Path,
) -> Result<EnvInfo, Error> {
    let mut task = ctx.reporter.task(env.name());
    task.phase("creating");
    env.create(base)?;
    let mut pip_args = requirements.pip_args();
    if env.variant == Variant::Freethreaded {
        let wheelhouse = ctx.home.wheelhouse_dir(&base.key);
        if wheelhouse.is_dir() {
            pip_args.extend(["--find-links".to_string(), wheelhouse.display().to_string()]);
        }
    }
    if !matches!(requirements, Requirements::Nothing) {
        task.phase("installing requirements");
        pip::install(&env.python(), &pip_args, root, log).map_err(|failure| {
            MakeTwinsError::Requirements {
                env: env.name().to_string(),
                key: base.key.to_string(),
                failure,
                rebuild_command: requirements.rebuild_command(&base.key.to_string(), root),
            }
        })?;
    }
    task.phase("checking");
    let info = env.verify(base)?;
    task.finish();
    Ok(info)
}

/// The newest installed pair the wish accepts, preferring final releases.
fn choose_pair(ctx: &Context, wish: &PythonWish) -> Result<Option<(Installation, Installation)>, Error> {
    let pairs =
        installation::installed_pairs(&ctx.home).map_err(Error::io("cannot read the installed versions"))?;
    let mut accepted: Vec<_> = pairs.into_iter().filter(|(gil, _)| wish.accepts(&gil.key.version)).collect();
    accepted.sort_by(|(a, _), (b, _)| {
        (a.key.version.is_final(), &a.key.version).cmp(&(b.key.version.is_final(), &b.key.version))
    });
    Ok(accepted.pop())
}

fn not_installed(ctx: &Context, wish: &PythonWish, source: &PythonSource) -> Error {
    let installed = installation::installed_pairs(&ctx.home)
        .unwrap_or_default()
        .into_iter()
        .map(|(gil, _)| gil.key.version.to_string())
        .collect();
    // One build of an accepted version is there, the other is not: name the missing one.
    // Release builds only: a TSan build is never half of a pair.
    let all: Vec<_> = installation::installed(&ctx.home)
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i.key.build == crate::interpreters::version::BuildKind::Release)
        .collect();
    let half_pair = all.iter().rev().filter(|i| wish.accepts(&i.key.version)).find_map(|i| {
        let twin =
            crate::interpreters::version::InstallKey::release(i.key.version.clone(), i.key.variant.twin());
        (!all.iter().any(|o| o.key == twin)).then(|| (i.key.to_string(), twin.to_string()))
    });
    // Only a version the recipes have is worth an install hint (`--python 3.14.9` is not).
    let newest = newest_accepted_release(ctx, wish);
    MakeTwinsError::PairNotInstalled {
        wanted: describe_wish(wish),
        source_of_wish: source.to_string(),
        install_request: newest
            .as_ref()
            .and(wish.install_request())
            .filter(|_| half_pair.is_none())
            .or(newest.clone()),
        installed,
        half_pair,
        home: ctx.home.root().to_path_buf(),
    }
    .into()
}

fn describe_wish(wish: &PythonWish) -> String {
    match wish {
        PythonWish::Request(r) => {
            format!("{}", crate::interpreters::version::VersionRequest { variant: Variant::Gil, ..r.clone() })
        }
        PythonWish::Specifiers(s) => format!("Python {s}"),
        PythonWish::Any => "any version".into(),
    }
}

/// For a `requires-python` wish: the newest release in the recipes that has both builds.
/// The newest final release the wish accepts, from the recommended series (3.14) when the wish
/// allows it, else from any series.
fn newest_accepted_release(ctx: &Context, wish: &PythonWish) -> Option<String> {
    let recipes = ctx.recipes().ok()?;
    let accepted: Vec<crate::interpreters::version::Version> = recipes
        .series()
        .filter(|s| s.supports(Variant::Freethreaded))
        .flat_map(|s| s.releases.iter())
        .map(|r| r.version.clone())
        .filter(|v| v.is_final() && wish.accepts(v))
        .collect();
    let recommended =
        accepted.iter().filter(|v| v.series() == crate::interpreters::version::RECOMMENDED_SERIES).max();
    recommended.or_else(|| accepted.iter().max()).map(ToString::to_string)
}

/// Install the pair the wish asks for (the newest release it accepts when it names none), as
/// `ftpy install --pair <version> --profile <profile>` would with the same global options.
fn ensure_pair_installed(
    ctx: &Context,
    wish: &PythonWish,
    source: &PythonSource,
    profile: Profile,
    remote_cache: Option<&str>,
) -> Result<(), Error> {
    let Some(request) = wish.install_request().or_else(|| newest_accepted_release(ctx, wish)) else {
        return Err(not_installed(ctx, wish, source));
    };
    ctx.reporter
        .info(format!("Installing the {request} pair: ftpy install --pair {request} --profile {profile}"));
    let requests = [request.parse::<VersionRequest>()?];
    let mut options = InstallOptions::for_profile(profile);
    if let Some(url) = remote_cache {
        options.remote_cache = Some(url.to_string());
    }
    let summary = install::install_requests(ctx, &requests, true, &options)?;
    if let Some(first) = summary.first_error {
        // Fix: a failed pair install used to be followed by "no installed pair matches" (exit
        // 3), as if nothing had been tried.
        return Err(MakeTwinsError::PairInstallFailed {
            request,
            failed: summary.failed,
            code: first.exit_code(),
        }
        .into());
    }
    Ok(())
}

/// The requirement files, from the current directory.
pub fn absolute(files: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let cwd = std::env::current_dir().map_err(Error::io("cannot read the current directory"))?;
    Ok(files.iter().map(|f| cwd.join(f)).collect())
}
