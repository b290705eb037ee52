//! `ftpy cache dir|list|prune|key|push|pull|export`: see and bound the caches, key them for CI,
//! and share builds through a remote cache.

use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{
    BuildFlags, CacheCommand, CacheExportArgs, CacheKeyArgs, CachePullArgs, CachePushArgs, PruneArgs,
};
use crate::context::Context;
use crate::error::Error;
use crate::interpreters::build_cache::{self, BuildCache, entry_id};
use crate::interpreters::digest::sha256_reader;
use crate::interpreters::install::{self, InstallError};
use crate::interpreters::remote_cache::{self, Pushed, RemoteCache, RemoteCacheError};
use crate::output::progress::{format_duration, format_elapsed, human_bytes};
use crate::system::clock::unix_now;
use crate::system::toolchain::Toolchain;

pub fn run(command: CacheCommand, ctx: &Context) -> Result<ExitCode, Error> {
    let cache = BuildCache::new(ctx.home.builds_dir());
    match command {
        CacheCommand::Dir => println!("{}", ctx.home.cache_dir().display()),
        CacheCommand::List => list(&cache, ctx),
        CacheCommand::Prune(args) => prune(&cache, args, ctx)?,
        CacheCommand::Key(args) => key(args, ctx)?,
        CacheCommand::Push(args) => push(&cache, args, ctx)?,
        CacheCommand::Pull(args) => pull(&cache, args, ctx)?,
        CacheCommand::Export(args) => export(&cache, args, ctx)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn list(cache: &BuildCache, ctx: &Context) {
    let entries = cache.list();
    if entries.is_empty() {
        ctx.reporter.info(format!("The build cache is empty ({}).", cache.dir().display()));
        return;
    }
    let now = unix_now();
    let mut bytes = 0;
    for e in &entries {
        bytes += e.meta.archive_bytes;
        println!(
            "{:<12}{:<10}{:>10}  {:>8} old  built in {:<8} {}",
            e.meta.inputs.install_key,
            e.meta.inputs.profile,
            human_bytes(e.meta.archive_bytes),
            format_duration(Duration::from_secs(now.saturating_sub(e.meta.created_at_ms / 1000))),
            format_duration(Duration::from_secs_f64(e.meta.build_seconds)),
            entry_id(&e.meta.inputs.install_key, &e.key)
        );
    }
    ctx.reporter.info(format!(
        "{} builds, {} in {}",
        entries.len(),
        human_bytes(bytes),
        cache.dir().display()
    ));
}

fn prune(cache: &BuildCache, args: PruneArgs, ctx: &Context) -> Result<(), Error> {
    let older_than = match args.older_than.as_deref() {
        Some(text) => Some(build_cache::parse_age(text).ok_or_else(|| Error::Usage {
            message: format!("`{text}` is not an age"),
            hints: vec!["use a number and a unit: 45m, 12h, 30d, 2w".into()],
        })?),
        None => None,
    };
    if args.keep.is_none() && older_than.is_none() {
        return Err(Error::Usage {
            message: "say what to prune".into(),
            hints: vec!["`ftpy cache prune --keep 4` or `ftpy cache prune --older-than 30d`".into()],
        });
    }
    let removed = cache.prune(args.keep, older_than)?;
    let bytes: u64 = removed.iter().map(|e| e.meta.archive_bytes).sum();
    println!("Removed {} cached builds ({})", removed.len(), human_bytes(bytes));

    // Sources: those of installed versions and of the builds still cached are kept whatever
    // their age; the others go by the same rules as builds. A download in progress (its
    // `.partial`, fresh) and the lock files are left alone.
    let mut needed: Vec<String> =
        cache.list().iter().map(|e| e.meta.inputs.source_sha256.to_string()).collect();
    let installed = crate::interpreters::installation::installed(&ctx.home)
        .map_err(Error::io("cannot read the installed versions, whose sources prune keeps"))?;
    needed.extend(installed.iter().filter_map(|i| i.receipt.source_sha256.map(|d| d.to_string())));
    let sources_dir = ctx.home.sources_dir();
    let protect_source = |name: &str| {
        let digest = name.split('.').next().unwrap_or(name);
        name.ends_with(".lock") || name.ends_with(".partial") || needed.iter().any(|d| d == digest)
    };
    let mut sources = build_cache::prune_files(&sources_dir, args.keep, older_than, protect_source)
        .map_err(Error::io("cannot prune the source cache"))?;
    // What an interrupted download left, kept for resuming: by age only, and never younger
    // than an hour (a download in progress keeps its file fresh).
    let hour = Duration::from_secs(3600);
    let stale = older_than.unwrap_or(Duration::from_secs(86_400)).max(hour);
    let partials =
        build_cache::prune_files(&sources_dir, None, Some(stale), |name| !name.ends_with(".partial"))
            .map_err(Error::io("cannot prune the source cache"))?;
    sources.files += partials.files;
    sources.bytes += partials.bytes;
    println!(
        "Removed {} downloaded sources ({}); kept those of installed versions and cached builds",
        sources.files,
        human_bytes(sources.bytes)
    );
    // The package index cache: pages and metadata that can be fetched again; bounded by age
    // only (a count of builds says nothing about how many pages a check needs).
    let index = match older_than {
        Some(age) => {
            build_cache::prune_files(&ctx.home.cache_dir().join("index"), None, Some(age), |_| false)
                .map_err(Error::io("cannot prune the package index cache"))?
        }
        None => build_cache::Pruned::default(),
    };
    if older_than.is_some() {
        println!("Removed {} package index files ({})", index.files, human_bytes(index.bytes));
    }
    println!("Freed {}", human_bytes(bytes + sources.bytes + index.bytes));
    Ok(())
}

/// A stable key for the build(s) this request resolves to, with these flags, on this machine:
/// `ftpy-3.13.5t-<hash of the build inputs>`.
fn key(args: CacheKeyArgs, ctx: &Context) -> Result<(), Error> {
    let request = args.request.parse()?;
    let recipes = ctx.recipes()?;
    let requests = crate::interpreters::request::requests_for_profile(&[request], args.build.profile)?;
    let resolved = crate::interpreters::request::resolve_requests(&recipes, &requests, args.pair)?;
    let options = key_options(&args.build)?;
    let toolchain = Toolchain::for_profile(options.profile)?;
    let groups = install::group_by_release(&resolved);
    let group = &groups[0];
    let keys: Vec<String> =
        group.keys.iter().map(|k| install::build_inputs(group, k, &options, &toolchain).key()).collect();
    let names: Vec<String> = group.keys.iter().map(ToString::to_string).collect();
    match keys.as_slice() {
        // One build: the id `cache list` shows for its entry.
        [one] => println!("{}", entry_id(&names[0], one)),
        _ => {
            let combined = sha256_reader(keys.join("\n").as_bytes()).expect("in-memory read").to_string();
            println!("ftpy-{}-{}", names.join("+"), &combined[..16]);
        }
    }
    Ok(())
}

/// The build options a key is computed from: the profile and configure options (the number of
/// jobs and ccache do not change the bits).
fn key_options(flags: &BuildFlags) -> Result<crate::interpreters::build::BuildOptions, Error> {
    crate::interpreters::request::build_options(flags.profile, &flags.configure_opts, Some(1), false)
}

/// The remote cache a `cache push|pull` names, else `FTPY_REMOTE_CACHE`; opened.
fn remote(flag: Option<&str>, ctx: &Context) -> Result<RemoteCache, Error> {
    let url = remote_cache::configured(flag).ok_or_else(|| Error::Usage {
        message: "no remote cache given".into(),
        hints: vec!["give one with --remote-cache URL, or set FTPY_REMOTE_CACHE".into()],
    })?;
    Ok(remote_cache::open(&url, &ctx.limits)?)
}

/// Upload the build cache entries of installations: those named, else all of them.
fn push(cache: &BuildCache, args: CachePushArgs, ctx: &Context) -> Result<(), Error> {
    let mut remote = remote(args.to.as_deref(), ctx)?;
    if let RemoteCache::Static(_) = remote {
        return Err(remote_cache::RemoteCacheError::ReadOnly { url: remote.url() }.into());
    }
    let installed = crate::interpreters::installation::installed(&ctx.home)
        .map_err(Error::io("cannot read the installed versions"))?;
    let chosen: Vec<_> = if args.installations.is_empty() {
        installed
    } else {
        let mut chosen = Vec::new();
        for text in &args.installations {
            let request: crate::interpreters::version::VersionRequest = text.parse()?;
            let found: Vec<_> = installed.iter().filter(|i| request.accepts_key(&i.key)).cloned().collect();
            if found.is_empty() {
                return Err(
                    InstallError::NotInstalled { request: text.clone(), suggest_install: false }.into()
                );
            }
            chosen.extend(found);
        }
        chosen
    };
    if chosen.is_empty() {
        ctx.reporter.info("Nothing is installed: nothing to push.");
        return Ok(());
    }
    let url = remote.url();
    let mut failures: Vec<Error> = Vec::new();
    for installation in &chosen {
        let key = &installation.key;
        let entry = installation.receipt.build_cache_key.as_deref().and_then(|k| cache.entry(k));
        let Some(entry) = entry else {
            let error = Error::from(RemoteCacheError::NoArchive {
                key: key.to_string(),
                profile: installation.receipt.profile.clone(),
            });
            if chosen.len() > 1 {
                crate::error::report_nonfatal(&error);
            }
            failures.push(error);
            continue;
        };
        let started = std::time::Instant::now();
        match remote.push(&entry, &cache.archive_file(&entry)) {
            Ok(Pushed::Uploaded(bytes)) => println!(
                "Pushed {key} to {url}:{} ({} in {})",
                entry.id(),
                human_bytes(bytes),
                format_elapsed(started.elapsed())
            ),
            Ok(Pushed::AlreadyThere) => println!("{key} is in {url}:{} already", entry.id()),
            Err(e) => {
                let error = Error::from(e).context(format!("failed to push {key}"));
                // One build alone: its error ends the command, and is printed then (once).
                if chosen.len() > 1 {
                    crate::error::report_nonfatal(&error);
                }
                failures.push(error);
            }
        }
    }
    match failures.into_iter().next() {
        Some(first) if chosen.len() == 1 => Err(first),
        Some(first) => {
            let code = first.exit_code();
            Err(first.context(format!("not every build was pushed (exit code {})", code.code())))
        }
        None => Ok(()),
    }
}

/// Download builds into the build cache without installing them.
fn pull(cache: &BuildCache, args: CachePullArgs, ctx: &Context) -> Result<(), Error> {
    let mut remote = remote(args.from.as_deref(), ctx)?;
    let requests = crate::interpreters::request::parse_requests(&args.requests)?;
    let recipes = ctx.recipes()?;
    let groups = install::plan(ctx, &recipes, &requests, args.pair, args.build.profile)?;
    let options = key_options(&args.build)?;
    let toolchain = Toolchain::for_profile(options.profile)?;
    let url = remote.url();
    let mut missing = Vec::new();
    for group in &groups {
        for key in &group.keys {
            let inputs = install::build_inputs(group, key, &options, &toolchain);
            if cache.find(&inputs).is_some() {
                println!("{key} is in the build cache already ({})", inputs.id());
                continue;
            }
            let started = std::time::Instant::now();
            match remote_cache::pull_into(&mut remote, cache, &inputs, &ctx.limits)? {
                Some((entry, bytes)) => println!(
                    "Pulled {key} from {url}:{} ({} in {})",
                    entry.id(),
                    human_bytes(bytes),
                    format_elapsed(started.elapsed())
                ),
                None => {
                    eprintln!("{key} is not in {url} (looked for {})", inputs.id());
                    missing.push(key.to_string());
                }
            }
        }
    }
    match missing.first() {
        Some(key) => Err(InstallError::NotCached {
            key: key.clone(),
            remote: Some(url),
            profile: args.build.profile.to_string(),
        }
        .into()),
        None => Ok(()),
    }
}

/// `ftpy cache export DIR`.
fn export(cache: &BuildCache, args: CacheExportArgs, ctx: &Context) -> Result<(), Error> {
    let done = cache.export(&args.dir)?;
    if done.is_empty() {
        ctx.reporter
            .info(format!("The build cache is empty ({}): nothing to export.", cache.dir().display()));
        return Ok(());
    }
    for (entry, written) in &done {
        let what = if *written { "wrote" } else { "kept" };
        println!("{what} {}.tar.zst ({})", entry.id(), human_bytes(entry.meta.archive_bytes));
    }
    let dir = args.dir.canonicalize().unwrap_or(args.dir.clone());
    ctx.reporter.info(format!(
        "{} builds in {}: serve the directory over HTTP(S), or use it as --remote-cache file://{}",
        done.len(),
        dir.display(),
        dir.display()
    ));
    Ok(())
}
