//! Installing one build: lock, fetch, unpack, build, move into place, check, record.
//!
//! Everything happens in a staging directory under `<home>/tmp` that is removed however the
//! install ends. The built tree enters `<home>/versions/<key>` with one rename; it becomes an
//! installation only when the checks pass and the receipt is written. A failed check takes the
//! tree out again (and, on `--reinstall`, puts the previous one back).

use std::fs::{self, File};
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::builder::{self, BuildOptions, BuildPlan};
use crate::check;
use crate::context::Context;
use crate::download::{Downloader, Sources};
use crate::error::Error;
use crate::installation::{self, Installation, Receipt};
use crate::recipe::Resolved;
use crate::unpack;
use crate::version::InstallKey;

#[derive(Clone, Debug)]
pub struct InstallOptions {
    pub build: BuildOptions,
    pub reinstall: bool,
    pub allow_missing_modules: bool,
}

pub enum Outcome {
    Installed {
        installation: Installation,
        warnings: Vec<String>,
    },
    AlreadyInstalled(Installation),
}

/// Where a resolved release's source comes from: the mirrors in order, else upstream.
pub fn sources_for(ctx: &Context, resolved: &Resolved) -> Sources {
    let urls = if ctx.mirrors.is_empty() {
        vec![resolved.release.url.clone()]
    } else {
        ctx.mirrors
            .iter()
            .map(|m| resolved.release.mirror_url(m))
            .collect()
    };
    Sources { urls }
}

pub fn install(
    ctx: &Context,
    resolved: &Resolved,
    options: &InstallOptions,
) -> Result<Outcome, Error> {
    let home = &ctx.home;
    home.create()?;
    let key = &resolved.key;
    let _lock = lock_key(ctx, key)?;

    let prefix = home.version_dir(key);
    let previous = installation::read_receipt(&prefix);
    if let (Some(receipt), false) = (&previous, options.reinstall) {
        return Ok(Outcome::AlreadyInstalled(Installation {
            key: key.clone(),
            prefix,
            receipt: receipt.clone(),
        }));
    }
    if previous.is_none() {
        // Remains of a crash between the move and the receipt: never an installation.
        installation::remove_tree(home, &prefix)
            .map_err(Error::io("cannot remove an incomplete install"))?;
    }
    remove_stale_staging(ctx, key);

    let staging = tempfile::Builder::new()
        .prefix(&staging_prefix(key))
        .tempdir_in(home.tmp_dir())
        .map_err(Error::io("cannot create a staging directory"))?;

    let downloader = Downloader::new(home.sources_dir(), ctx.retry.clone());
    let archive = downloader.fetch(
        &sources_for(ctx, resolved),
        &resolved.release.sha256,
        &ctx.reporter,
    )?;

    let started = Instant::now();
    let unpacked = staging.path().join("src");
    fs::create_dir(&unpacked).map_err(Error::io("cannot create a staging directory"))?;
    ctx.reporter
        .info(format!("Unpacking {}", resolved.release.file_name()));
    let source_dir = unpack::unpack_tar_xz(&archive, &unpacked)?;

    let configure_args =
        builder::configure_args(resolved.series, key.variant, &options.build, &prefix);
    let plan = BuildPlan {
        key: key.clone(),
        source_dir,
        build_dir: staging.path().join("build"),
        configure_args: configure_args.clone(),
        jobs: options.build.jobs,
        destdir: staging.path().join("dest"),
        log_path: home.logs_dir().join(format!("{key}-{}.log", unix_now())),
    };
    ctx.reporter.info(format!(
        "Building {key} ({} profile, {} jobs); log: {}",
        options.build.profile,
        plan.jobs,
        plan.log_path.display()
    ));
    let mut task = ctx.reporter.task(&key.to_string());
    let built = builder::build_interpreter(&plan, &mut task);
    task.finish();
    built?;
    let build_seconds = started.elapsed().as_secs_f64();

    let tree = plan
        .destdir
        .join(prefix.strip_prefix("/").unwrap_or(&prefix));
    if !tree.join("bin").join(key.interpreter_name()).exists() {
        return Err(Error::Message(format!(
            "make install did not produce {}; see {}",
            tree.join("bin").join(key.interpreter_name()).display(),
            plan.log_path.display()
        )));
    }

    // Move the old installation aside (kept until the new one passes), then the new one in.
    let set_aside = staging.path().join("previous");
    if previous.is_some() {
        fs::rename(&prefix, &set_aside)
            .map_err(Error::io("cannot move the previous installation aside"))?;
    }
    fs::rename(&tree, &prefix).map_err(Error::io("cannot move the build into place"))?;

    let interpreter = prefix.join("bin").join(key.interpreter_name());
    let checked = check::probe(&interpreter).and_then(|report| {
        check::evaluate(&report, key, options.allow_missing_modules).map(|w| (report, w))
    });
    let (report, warnings) = match checked {
        Ok(ok) => ok,
        Err(error) => {
            roll_back(
                ctx,
                &prefix,
                previous.is_some().then_some(set_aside.as_path()),
            );
            return Err(Error::Check {
                key: key.to_string(),
                log: plan.log_path,
                source: error,
            });
        }
    };

    let receipt = Receipt {
        key: key.to_string(),
        source_url: sources_for(ctx, resolved).urls.join(" "),
        source_sha256: resolved.release.sha256,
        profile: options.build.profile.to_string(),
        configure_args,
        build_seconds,
        installed_at: unix_now(),
        checks: report,
    };
    installation::write_receipt(&prefix, &receipt)
        .map_err(Error::io("cannot write the install receipt"))?;
    home.refresh_links().map_err(Error::io(
        "cannot update the links in the ftpy bin directory",
    ))?;
    Ok(Outcome::Installed {
        installation: Installation {
            key: key.clone(),
            prefix,
            receipt,
        },
        warnings,
    })
}

/// Take a tree that failed its checks out of `versions/`, and put the previous one back.
fn roll_back(ctx: &Context, prefix: &Path, previous: Option<&Path>) {
    if let Err(e) = installation::remove_tree(&ctx.home, prefix) {
        ctx.reporter
            .warn(format!("could not remove {}: {e}", prefix.display()));
    }
    if let Some(previous) = previous {
        if let Err(e) = fs::rename(previous, prefix) {
            ctx.reporter
                .warn(format!("could not restore the previous installation: {e}"));
        }
    }
}

/// Hold the lock for one key; a second process waits here, then finds the work done.
fn lock_key(ctx: &Context, key: &InstallKey) -> Result<File, Error> {
    fs::create_dir_all(ctx.home.locks_dir())
        .map_err(Error::io("cannot create the lock directory"))?;
    let path = ctx.home.locks_dir().join(format!("{key}.lock"));
    let file = File::create(&path).map_err(Error::io("cannot create the install lock"))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            ctx.reporter.info(format!(
                "Waiting for another ftpy process that is installing {key} (lock {})",
                path.display()
            ));
            file.lock()
                .map_err(Error::io("cannot take the install lock"))?;
        }
        Err(fs::TryLockError::Error(e)) => {
            return Err(Error::io("cannot take the install lock")(e));
        }
    }
    Ok(file)
}

fn staging_prefix(key: &InstallKey) -> String {
    format!("install-{key}-")
}

/// Staging directories of this key left by a process that died: we hold the key's lock, so no
/// live process owns them.
fn remove_stale_staging(ctx: &Context, key: &InstallKey) {
    let prefix = staging_prefix(key);
    let Ok(entries) = fs::read_dir(ctx.home.tmp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Uninstall: take the tree out of `versions/` in one rename, delete it, relink.
pub fn uninstall(ctx: &Context, installation: &Installation) -> Result<(), Error> {
    let _lock = lock_key(ctx, &installation.key)?;
    installation::remove_tree(&ctx.home, &installation.prefix)
        .map_err(Error::io("cannot remove the installation"))?;
    ctx.home.refresh_links().map_err(Error::io(
        "cannot update the links in the ftpy bin directory",
    ))?;
    Ok(())
}
