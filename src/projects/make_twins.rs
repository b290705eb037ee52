//! Making a project's twin environments: choosing the installed pair a project asks for, and
//! filling one environment from its base.

use std::path::Path;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::error::Error;
use crate::interpreters::installation::{self, Installation};
use crate::interpreters::version::Variant;
use crate::projects::pip;
use crate::projects::project::{PythonSource, PythonWish, Requirements};
use crate::projects::twin_venvs::{EnvInfo, Environment};

/// Create one environment, install the requirements, check it and leave ftpy's record in it.
pub(crate) fn fill(
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

/// The newest installed pair the wish accepts, preferring final releases.
pub(crate) fn choose_pair(ctx: &Context, wish: &PythonWish) -> Result<Option<(Installation, Installation)>, Error> {
    let pairs =
        installation::installed_pairs(&ctx.home).map_err(Error::io("cannot read the installed versions"))?;
    let mut accepted: Vec<_> = pairs.into_iter().filter(|(gil, _)| wish.accepts(&gil.key.version)).collect();
    accepted.sort_by(|(a, _), (b, _)| {
        (a.key.version.is_final(), &a.key.version).cmp(&(b.key.version.is_final(), &b.key.version))
    });
    Ok(accepted.pop())
}

pub(crate) fn not_installed(ctx: &Context, wish: &PythonWish, source: &PythonSource) -> Error {
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

pub(crate) fn describe_wish(wish: &PythonWish) -> String {
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
pub(crate) fn newest_accepted_release(ctx: &Context, wish: &PythonWish) -> Option<String> {
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
pub(crate) fn install_pair(
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
