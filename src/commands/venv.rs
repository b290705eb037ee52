//! `ftpy venv`: the project's twin environments, made from the two builds of one installed pair,
//! with the same requirements installed in both; `ftpy venv --status` compares them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;

use crate::cli::{Cli, Command, VenvArgs};
use crate::context::Context;
use crate::error::Error;
use crate::projects::gil_scan::{self, GilReport};
use crate::interpreters::installation::{self, Installation};
use crate::projects::pip;
use crate::output::progress::format_duration;
use crate::projects::project::{self, PyProject, PythonSource, PythonWish, Requirements};
use crate::projects::twin_venvs::{self, EnvInfo, EnvRecord, Environment};
use crate::system::files::{Discard, Transaction};
use crate::interpreters::version::Variant;

pub fn run(args: VenvArgs, ctx: Context) -> Result<ExitCode, Error> {
    let root = project::find_root(args.project.as_deref(), args.status)?;
    // One `ftpy venv` per project at a time: recovery and replacement must not interleave.
    let _lock = twin_venvs::lock_project(&ctx.home, &root, &ctx.reporter)?;
    for done in twin_venvs::recover_interrupted(&root) {
        ctx.reporter.warn(done);
    }
    if args.status {
        return status(&root);
    }
    let pyproject_path = root.join("pyproject.toml");
    let pyproject = if pyproject_path.is_file() { Some(PyProject::read(&pyproject_path)?) } else { None };
    crate::projects::requirements_file::check_files(&args.requirements)?;
    let requirements =
        Requirements::choose(&root, &absolute(&args.requirements)?, pyproject.as_ref(), args.deps_only);
    let (wish, source) = project::python_wish(args.python.as_deref(), &root, pyproject.as_ref())?;
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

    let (gil_base, ft_base) = match choose_pair(&ctx, &wish)? {
        Some(pair) => pair,
        None if args.install => {
            install_pair(&ctx, &wish, &source, args.profile)?;
            choose_pair(&ctx, &wish)?.ok_or_else(|| not_installed(&ctx, &wish, &source))?
        }
        None => return Err(not_installed(&ctx, &wish, &source)),
    };
    ctx.home.create()?;
    if args.build_wheels {
        ctx.reporter.info(format!("Building the wheels {} lacks: ftpy wheels build", ft_base.key));
        let selection = crate::cli::WheelSelection {
            project: Some(root.clone()),
            requirements: absolute(&args.requirements)?,
            python: Some(ft_base.key.to_string()),
            index_url: None,
            extra_index_url: vec![],
            refresh: false,
        };
        crate::commands::wheels::build(crate::cli::WheelsBuildArgs { selection, wheelhouse: None }, &ctx)?;
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
        (Environment::in_project(&root, Variant::Gil), &gil_base),
        (Environment::in_project(&root, Variant::Freethreaded), &ft_base),
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
    crate::interpreters::journal::kill_point(crate::interpreters::journal::KillPoint::VenvSetAside);
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let log_stamp = crate::system::clock::file_stamp(stamp);
    let results: Vec<Result<EnvInfo, Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = sides
            .iter()
            .map(|(env, base)| {
                let log = ctx.home.logs_dir().join(format!("venv-{}-{log_stamp}.log", base.key));
                let (ctx, root, requirements) = (&ctx, &root, &requirements);
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
            return Err(Error::interrupted_venv());
        }
        let index = failure.expect("a failure");
        return Err(results.into_iter().nth(index).expect("index exists").expect_err("is an error"));
    }
    let infos: Vec<EnvInfo> = results.into_iter().map(|r| r.expect("checked")).collect();
    crate::interpreters::journal::kill_point(crate::interpreters::journal::KillPoint::VenvFilled);
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
    crate::interpreters::journal::kill_point(crate::interpreters::journal::KillPoint::VenvRecordsWritten);
    // A failed scan drops the replacements, which rolls them back. A terminal's Ctrl-C reaches
    // the scan's python too: then the failure is the interrupt, not a broken environment.
    let report = match gil_scan::scan(&sides[1].0.python()) {
        Ok(report) => report,
        Err(_) if signals.interrupted() => return Err(Error::interrupted_venv()),
        Err(e) => return Err(e.into()),
    };
    if signals.interrupted() {
        return Err(Error::interrupted_venv());
    }
    replacement.commit();
    drop(signals);
    if let Err(e) = crate::projects::registry::register(&ctx.home, &root) {
        ctx.reporter.warn(format!(
            "cannot record {} in ftpy's list of projects ({e}): `ftpy uninstall` will not know it uses {}",
            root.display(),
            gil_base.key.version
        ));
    }
    for ((env, base), info) in sides.iter().zip(&infos) {
        println!(
            "{:<10} Python {:<8} {:<14} {:>13}  {}",
            env.name(),
            base.key,
            base.key.variant.label(),
            packages(info.packages.len()),
            env.path.display()
        );
    }
    print_gil_report(&report, &sides[1].0);
    ctx.reporter.info(format!(
        "Done in {}. `ftpy run -- <command>` runs a command in both.",
        format_duration(started.elapsed())
    ));
    Ok(ExitCode::SUCCESS)
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
        pip::install(&env.python(), &pip_args, root, log).map_err(|failure| Error::Requirements {
            env: env.name().to_string(),
            key: base.key.to_string(),
            failure,
            rebuild_command: requirements.rebuild_command(&base.key.to_string(), root),
        })?;
    }
    task.phase("checking");
    let info = env.verify(base)?;
    task.finish();
    Ok(info)
}

fn packages(n: usize) -> String {
    if n == 1 { "1 package".into() } else { format!("{n} packages") }
}

fn print_gil_report(report: &GilReport, env: &Environment) {
    if report.modules_checked == 0 {
        println!("GIL: stays off in {} (no extension modules installed)", env.name());
    } else if report.keeps_gil_off() {
        println!(
            "GIL: stays off in {} ({} extension module{} imported one by one)",
            env.name(),
            report.modules_checked,
            if report.modules_checked == 1 { "" } else { "s" }
        );
    } else {
        println!(
            "GIL: {} extension module{} turn{} the GIL back on in {}:",
            report.culprits.len(),
            if report.culprits.len() == 1 { "" } else { "s" },
            if report.culprits.len() == 1 { "s" } else { "" },
            env.name()
        );
        for culprit in &report.culprits {
            match &culprit.distribution {
                Some(dist) => println!("  {} (from {dist})", culprit.module),
                None => println!("  {}", culprit.module),
            }
        }
        println!(
            "  a process that imports one of these runs with the GIL: its threads do not run in parallel"
        );
    }
    for (module, error) in &report.import_errors {
        println!("  note: {module} could not be imported on its own: {error}");
    }
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
    let all = installation::installed(&ctx.home).unwrap_or_default();
    let half_pair = all.iter().rev().filter(|i| wish.accepts(&i.key.version)).find_map(|i| {
        let twin = crate::interpreters::version::InstallKey {
            version: i.key.version.clone(),
            variant: match i.key.variant {
                Variant::Gil => Variant::Freethreaded,
                Variant::Freethreaded => Variant::Gil,
            },
        };
        (!all.iter().any(|o| o.key == twin)).then(|| (i.key.to_string(), twin.to_string()))
    });
    // Only a version the recipes have is worth an install hint (`--python 3.14.9` is not).
    let newest = newest_accepted_release(ctx, wish);
    Error::PairNotInstalled {
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
    let recommended = accepted.iter().filter(|v| v.series() == crate::interpreters::version::RECOMMENDED_SERIES).max();
    recommended.or_else(|| accepted.iter().max()).map(ToString::to_string)
}

/// `ftpy install --pair <version>`, with the same defaults and environment (FTPY_MIRROR, ...)
/// as when typed.
fn install_pair(
    ctx: &Context,
    wish: &PythonWish,
    source: &PythonSource,
    profile: crate::interpreters::build::Profile,
) -> Result<(), Error> {
    let Some(request) = wish.install_request().or_else(|| newest_accepted_release(ctx, wish)) else {
        return Err(not_installed(ctx, wish, source));
    };
    let profile = match profile {
        crate::interpreters::build::Profile::Optimized => "optimized",
        crate::interpreters::build::Profile::Fast => "fast",
    };
    ctx.reporter
        .info(format!("Installing the {request} pair: ftpy install --pair {request} --profile {profile}"));
    let cli = Cli::try_parse_from(["ftpy", "install", "--pair", &request, "--profile", profile])
        .map_err(|e| Error::Usage { message: e.to_string(), hints: vec![] })?;
    let Command::Install(install_args) = cli.command else { unreachable!("parsed an install command") };
    crate::commands::install::run(install_args, ctx.clone())?;
    Ok(())
}

fn absolute(files: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let cwd = std::env::current_dir().map_err(Error::io("cannot read the current directory"))?;
    Ok(files.iter().map(|f| cwd.join(f)).collect())
}

/// `ftpy venv --status`: the pair, both environments, and how they differ.
fn status(root: &Path) -> Result<ExitCode, Error> {
    let envs =
        [Environment::in_project(root, Variant::Gil), Environment::in_project(root, Variant::Freethreaded)];
    if envs.iter().all(|e| !e.exists()) {
        return Err(Error::NoEnvironments { root: root.to_path_buf() });
    }
    println!("project  {}", root.display());
    let mut infos: Vec<Option<EnvInfo>> = Vec::new();
    let mut first_problem: Option<(String, String)> = None;
    for env in &envs {
        if let Some(problem) = env.problem() {
            first_problem.get_or_insert((env.name().to_string(), problem.clone()));
            if !env.exists() {
                println!("{:<10} missing", env.name());
                infos.push(None);
                continue;
            }
            println!("{:<10} broken: {problem}", env.name());
        }
        let record = env.record();
        match env.probe() {
            Ok(info) => {
                let made_from = record.as_ref().map(|r| r.key.clone()).unwrap_or_else(|| "?".into());
                let variant_ok = info.gil_disabled == (env.variant == Variant::Freethreaded);
                println!(
                    "{:<10} Python {:<8} {:<14} {:>13}  made from {made_from}{}",
                    env.name(),
                    format!("{}{}", info.version, if info.gil_disabled { "t" } else { "" }),
                    if info.gil_disabled { "free-threaded" } else { "GIL" },
                    packages(info.packages.len()),
                    if variant_ok { "" } else { "  (WRONG BUILD for this name)" }
                );
                if !variant_ok {
                    first_problem.get_or_insert((env.name().to_string(), "it runs the other build".into()));
                }
                infos.push(Some(info));
            }
            Err(e) => {
                if env.problem().is_none() {
                    println!("{:<10} broken: {e}", env.name());
                    first_problem.get_or_insert((env.name().to_string(), e.to_string()));
                }
                infos.push(None);
            }
        }
    }
    if let [Some(gil), Some(ft)] = &infos[..] {
        if gil.version != ft.version {
            println!("versions differ: {} and {} (recreate both with `ftpy venv`)", gil.version, ft.version);
        }
        let differences = twin_venvs::package_differences(&gil.packages, &ft.packages);
        if differences.is_empty() {
            println!("packages: the same {} in both", packages(gil.packages.len()));
        } else {
            println!("packages that differ:");
            for (name, a, b) in differences {
                let show = |v: Option<String>| v.unwrap_or_else(|| "-".into());
                println!(
                    "  {name:<24} {:<12} {}",
                    format!("{}: {}", project::GIL_ENV, show(a)),
                    format!("{}: {}", project::FT_ENV, show(b))
                );
            }
        }
    }
    if infos[1].is_some() {
        print_gil_report(&gil_scan::scan(&envs[1].python())?, &envs[1]);
    }
    match first_problem {
        Some((env, problem)) => Err(Error::BrokenEnvironment { env, root: root.to_path_buf(), problem }),
        None => Ok(ExitCode::SUCCESS),
    }
}
