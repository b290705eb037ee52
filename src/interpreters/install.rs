//! Installing builds of one release together: lock, restore from the build cache or fetch,
//! unpack once, build each variant concurrently, move into place, check, record.
//!
//! Everything happens in one staging directory under `<home>/tmp` that is removed however the
//! install ends. A built tree enters `<home>/versions/<key>` with one rename; it becomes an
//! installation only when the checks pass and the receipt is written. A failed check takes the
//! tree out again (and, on `--reinstall`, puts the previous one back). When one build of a pair
//! fails, the other still completes. Before any tree moves, a journal says what is moving
//! where, so that a `kill -9` at any point is finished or undone by the next command
//! ([`crate::interpreters::journal`]). A tree without a readable receipt that no journal explains is damaged:
//! only `--reinstall` replaces it, and keeps it in `<home>/damaged/`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::error::{Diagnose, Error, ExitCode};
use crate::interpreters::build::{self, BuildOptions, BuildPlan};
use crate::interpreters::build_cache::{BuildCache, BuildInputs, Entry, Prepared};
use crate::interpreters::download::{Downloader, Sources};
use crate::interpreters::home::Home;
use crate::interpreters::installation::{self, Installation, Receipt, ReceiptState};
use crate::interpreters::journal::{self, Journal, KillPoint};
use crate::interpreters::post_install_check;
use crate::interpreters::post_install_check::CheckError;
use crate::interpreters::recipe::{RecipeBook, Release, Resolved, Series};
use crate::interpreters::relocate;
use crate::interpreters::remote_cache;
use crate::interpreters::unpack;
use crate::interpreters::version::{InstallKey, MinorVersion, Variant, VersionRequest};
use crate::output::progress::format_elapsed;
use crate::system::clock::unix_now;
use crate::system::doctor::Diagnosis;
use crate::system::files::{Discard, Transaction};
use crate::system::toolchain::Toolchain;

/// What installing, finding or removing an installation can fail with, besides the errors of
/// each step (recipes, download, unpack, build, ...).
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{key} failed its checks and was not installed")]
    Check {
        key: String,
        log: PathBuf,
        #[source]
        source: CheckError,
    },
    #[error("{} is damaged: {problem}", prefix.display())]
    Damaged { key: String, prefix: PathBuf, problem: String },
    #[error("cannot finish or undo what an interrupted install of {key} left; nothing was changed")]
    Recovery {
        key: String,
        journal: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Installations that environments made by `ftpy venv` are based on: (key, environments).
    #[error("{} in use by twin environments:\n{}", in_use_keys(users), in_use_list(users))]
    InUse { users: Vec<(String, Vec<PathBuf>)> },
    #[error("{key} could not be restored from the build cache{}, and --no-build forbids building it", remote.as_ref().map(|r| format!(" or from {r}")).unwrap_or_default())]
    NotCached {
        key: String,
        remote: Option<String>,
        /// The profile asked for: part of the key, so part of what to do next.
        profile: String,
    },
    #[error("{request} is not installed")]
    NotInstalled {
        request: String,
        /// What to suggest: installing it (`which`) or looking at what is installed (`uninstall`).
        suggest_install: bool,
    },
}

fn in_use_keys(users: &[(String, Vec<PathBuf>)]) -> String {
    let keys: Vec<&str> = users.iter().map(|(k, _)| k.as_str()).collect();
    format!("{} {}", keys.join(" and "), if keys.len() == 1 { "is" } else { "are" })
}

fn in_use_list(users: &[(String, Vec<PathBuf>)]) -> String {
    let lines: Vec<String> = users
        .iter()
        .flat_map(|(k, envs)| envs.iter().map(move |e| format!("  {} ({k})", e.display())))
        .collect();
    lines.join("\n")
}

impl Diagnose for InstallError {
    fn exit_code(&self) -> ExitCode {
        match self {
            InstallError::Check { .. } => ExitCode::CheckFailed,
            InstallError::Damaged { .. } => ExitCode::Damaged,
            InstallError::Recovery { .. } => ExitCode::LocalError,
            InstallError::InUse { .. } => ExitCode::InUse,
            InstallError::NotInstalled { .. } => ExitCode::NotFound,
            InstallError::NotCached { .. } => ExitCode::NotCached,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            InstallError::NotInstalled { request, suggest_install: true } => {
                match request.strip_suffix("-tsan") {
                    // `ftpy install 3.14t-tsan` is refused: only --profile tsan makes that build.
                    Some(base) => vec![format!("install it with `ftpy install --profile tsan {base}`")],
                    None => vec![format!("install it with `ftpy install {request}`")],
                }
            }
            InstallError::NotInstalled { suggest_install: false, .. } => {
                vec!["`ftpy list` shows what is installed".into()]
            }
            InstallError::Damaged { key, prefix, .. } => vec![
                "ftpy does not delete what it cannot prove it left half-made: it may hold installed packages"
                    .into(),
                format!(
                    "`ftpy install --reinstall {key}` replaces it and keeps the old tree under {}",
                    prefix
                        .parent()
                        .and_then(Path::parent)
                        .map(|h| h.join("damaged"))
                        .unwrap_or_default()
                        .display()
                ),
                format!("`ftpy uninstall {key}` removes it"),
            ],
            InstallError::Recovery { key, journal, .. } => vec![
                format!(
                    "the journal {} says what was being moved; fix the cause above and run the command again",
                    journal.display()
                ),
                format!(
                    "to settle it by hand: make versions/{key} the tree you want (a set-aside one is in tmp/previous-{key}-*), then delete the journal"
                ),
            ],
            InstallError::Check { log, source, .. } => {
                let mut hints = source.hints();
                if !log.as_os_str().is_empty() {
                    hints.push(format!("the build log is {}", log.display()));
                }
                hints
            }
            InstallError::NotCached { key, remote, profile } => {
                let mut hints = vec![
                    "the lines above say why each cache could not give it".into(),
                    format!(
                        "the id includes the profile and flags: this is the {profile} build \
                         (`ftpy cache key --profile {profile} {key}` prints its id); ask with the --profile it was pushed with"
                    ),
                ];
                match remote {
                    None => hints.push("name the team's cache with --remote-cache URL or FTPY_REMOTE_CACHE".into()),
                    Some(url) if url.starts_with("http://") || url.starts_with("https://") => hints.push(
                        "an http(s):// URL names a directory made by `ftpy cache export`; a registry is oci://HOST/REPO \
                         (or oci+http://HOST:PORT/REPO for one over plain HTTP)"
                            .into(),
                    ),
                    Some(_) => {}
                }
                hints.push(format!(
                    "a build is made once by `ftpy install --push --remote-cache URL --profile {profile} {key}` on a \
                     machine like this one (same compiler, a glibc no newer); without --no-build, ftpy builds it here"
                ));
                hints
            }
            InstallError::InUse { users } => vec![
                format!(
                    "those environments stop working without it: `ftpy uninstall --force {}` removes it anyway",
                    users.iter().map(|(key, _)| key.as_str()).collect::<Vec<_>>().join(" ")
                ),
                "or remove the environments first (they are directories), or keep the installation".into(),
            ],
        }
    }
}

#[derive(Clone, Debug)]
pub struct InstallOptions {
    pub build: BuildOptions,
    pub reinstall: bool,
    pub allow_missing_modules: bool,
    pub use_build_cache: bool,
    /// Check for a compiler, headers and disk space before downloading anything.
    pub system_check: bool,
    /// A remote cache to restore from before building (`--remote-cache`, `FTPY_REMOTE_CACHE`).
    pub remote_cache: Option<String>,
    /// Upload each build made (or restored from the local cache) to the remote cache.
    pub push: bool,
    /// Restore from a cache or fail: never build.
    pub no_build: bool,
}

impl InstallOptions {
    /// What `ftpy install --profile <profile>` uses when nothing else is given.
    pub fn for_profile(profile: build::Profile) -> InstallOptions {
        InstallOptions {
            build: crate::interpreters::request::build_options(profile, &[], None, true)
                .expect("no configure option and no --jobs: nothing to refuse"),
            reinstall: false,
            allow_missing_modules: false,
            use_build_cache: true,
            system_check: true,
            remote_cache: crate::interpreters::remote_cache::configured(None),
            push: false,
            no_build: false,
        }
    }
}

pub enum Outcome {
    Installed {
        installation: Installation,
        warnings: Vec<String>,
        restored_from_cache: bool,
        seconds: f64,
        /// How long removing the tree it replaced took, on a reinstall.
        removing_previous: Option<f64>,
        /// The remote cache it was restored from, if it came from one.
        remote: Option<String>,
    },
    AlreadyInstalled(Installation),
}

/// Builds of one release that are installed together: one download, one unpack.
pub struct InstallGroup<'a> {
    pub release: &'a Release,
    pub series: &'a Series,
    pub keys: Vec<InstallKey>,
}

/// Gather resolved requests by release, keeping the order of first appearance.
pub fn group_by_release<'a>(resolved: &[Resolved<'a>]) -> Vec<InstallGroup<'a>> {
    let mut groups: Vec<InstallGroup<'a>> = Vec::new();
    for r in resolved {
        match groups.iter_mut().find(|g| g.release.version == r.release.version) {
            Some(group) if !group.keys.contains(&r.key) => group.keys.push(r.key.clone()),
            Some(_) => {}
            None => {
                groups.push(InstallGroup { release: r.release, series: r.series, keys: vec![r.key.clone()] })
            }
        }
    }
    groups
}

/// What installing a list of requests came to, for the command to end with. Each outcome was
/// printed as it came, and with several installs each failure was reported as it came too.
pub struct InstallSummary {
    /// How many builds were asked for.
    pub total: usize,
    /// The builds that failed.
    pub failed: Vec<String>,
    /// The first failure, with what was being installed.
    pub first_error: Option<Error>,
}

/// What every install checks before anything else: a home the build can take, mirrors that
/// are URLs.
pub fn preflight(ctx: &Context) -> Result<(), Error> {
    crate::interpreters::request::check_build_home(ctx.home.root())?;
    crate::interpreters::download::check_mirrors(&ctx.mirrors)
}

/// Resolve every request as `profile` builds it (`--profile tsan`: its `-tsan` build) and group
/// the builds by release; say when a release is built from bytes other than the published
/// ones, and when an old free-threaded series is asked for.
pub fn plan<'a>(
    ctx: &Context,
    recipes: &'a RecipeBook,
    requests: &[VersionRequest],
    pair: bool,
    profile: build::Profile,
) -> Result<Vec<InstallGroup<'a>>, Error> {
    let requests = crate::interpreters::request::requests_for_profile(requests, profile)?;
    let resolved = crate::interpreters::request::resolve_requests(recipes, &requests, pair)?;
    let groups = group_by_release(&resolved);
    for group in &groups {
        if let Some(replaced) = &group.release.replaced {
            ctx.reporter.warn(format!(
                "{}: building from sha256 {}, which {} puts in place of the published {} (replaces_sha256)",
                group.release.version, group.release.sha256, replaced.origin, replaced.published
            ));
        }
    }
    if let Some(advice) = series_advice(&groups) {
        ctx.reporter.info(advice);
    }
    Ok(groups)
}

/// `ftpy install REQUEST...` as a function (what `ftpy venv --install` runs for the pair):
/// check, resolve, install, with the sources and limits of `ctx`.
pub fn install_requests(
    ctx: &Context,
    requests: &[VersionRequest],
    pair: bool,
    options: &InstallOptions,
) -> Result<InstallSummary, Error> {
    preflight(ctx)?;
    let recipes = ctx.recipes()?;
    let groups = plan(ctx, &recipes, requests, pair, options.build.profile)?;
    install_all(ctx, &groups, options)
}

/// Install every group, release by release, printing each outcome as it comes. A failure of
/// one build does not stop the others; after Ctrl-C or SIGTERM no further release starts, and
/// the result is [`Error::Interrupted`] saying what was left as it was.
pub fn install_all(
    ctx: &Context,
    groups: &[InstallGroup],
    options: &InstallOptions,
) -> Result<InstallSummary, Error> {
    // One guard over every release: after Ctrl-C or SIGTERM, no further release starts.
    let _signals = crate::system::interrupt::Guard::install_with(crate::system::interrupt::Notice::Build);
    let total: usize = groups.iter().map(|g| g.keys.len()).sum();
    let mut failed: Vec<String> = Vec::new();
    let mut interpreters: Vec<(InstallKey, PathBuf)> = Vec::new();
    let mut first_error: Option<Error> = None;
    // Whether this run put anything new in place (a no-op needs no PATH advice).
    let mut changed = false;
    // What a signal left uninstalled; once set, no further release is started.
    let mut interrupted: Vec<String> = Vec::new();
    let mut fail = |keys: Vec<String>, error: Error| {
        if let Error::Interrupted { state } = error {
            interrupted.push(state);
            return;
        }
        let error = error.context(format!("failed to install {}", keys.join(" and ")));
        if total > 1 {
            crate::error::report_nonfatal(&error);
        }
        failed.extend(keys);
        first_error.get_or_insert(error);
    };
    for group in groups {
        if crate::system::interrupt::requested() {
            let keys: Vec<String> = group.keys.iter().map(ToString::to_string).collect();
            let state = format!("{} not started", keys.join(" and "));
            fail(keys, Error::Interrupted { state });
            continue;
        }
        match install_group(ctx, group, options) {
            Ok(report) => {
                for (key, result) in report.results {
                    match result {
                        Ok(outcome) => {
                            let inst = match &outcome {
                                Outcome::Installed { installation, .. }
                                | Outcome::AlreadyInstalled(installation) => installation,
                            };
                            interpreters.push((inst.key.clone(), inst.interpreter()));
                            changed |= matches!(outcome, Outcome::Installed { .. });
                            report_outcome(ctx, &outcome, options.build.profile);
                        }
                        Err(error) => fail(vec![key.to_string()], error),
                    }
                }
                // The download or unpack failed: every build still to be done failed with it.
                if let Some((keys, shared)) = report.shared_failure {
                    fail(keys.iter().map(ToString::to_string).collect(), shared);
                }
            }
            Err(error) => fail(group.keys.iter().map(ToString::to_string).collect(), error),
        }
    }
    if interrupted.is_empty() && crate::system::interrupt::requested() {
        // The signal came as the last build was finishing: nothing was left half-way.
        interrupted.push(if first_error.is_none() {
            "every requested build had finished and is installed".into()
        } else {
            "the builds that did not fail had finished and are installed".into()
        });
    }
    if !interrupted.is_empty() {
        if let Some(error) = first_error.filter(|_| total == 1) {
            crate::error::report_nonfatal(&error);
        }
        return Err(Error::Interrupted { state: interrupted.join("; ") });
    }
    if crate::output::github_actions::active() {
        publish_to_github(ctx, &interpreters)
            .map_err(Error::io("cannot write $GITHUB_PATH or $GITHUB_OUTPUT"))?;
    }
    if first_error.is_none() {
        advise_path(ctx, changed);
    }
    Ok(InstallSummary { total, failed, first_error })
}

/// `<home>/bin` on the job's PATH; `python-path` (the last interpreter), `python-gil` and
/// `python-ft` (the last of each build) as step outputs.
fn publish_to_github(ctx: &Context, interpreters: &[(InstallKey, PathBuf)]) -> std::io::Result<()> {
    if interpreters.is_empty() {
        return Ok(());
    }
    crate::output::github_actions::add_path(&ctx.home.bin_dir())?;
    for (key, path) in interpreters {
        let name = match key.variant {
            crate::interpreters::version::Variant::Gil => "python-gil",
            crate::interpreters::version::Variant::Freethreaded => "python-ft",
        };
        crate::output::github_actions::set_output(name, &path.display().to_string())?;
    }
    let (_, last) = interpreters.last().expect("not empty");
    crate::output::github_actions::set_output("python-path", &last.display().to_string())
}

fn report_outcome(ctx: &Context, outcome: &Outcome, requested: build::Profile) {
    match outcome {
        Outcome::Installed {
            installation,
            warnings,
            restored_from_cache,
            seconds,
            removing_previous,
            remote,
        } => {
            for warning in warnings {
                ctx.reporter.warn(warning);
            }
            let how = match (restored_from_cache, remote) {
                (_, Some(url)) => format!("restored from the remote cache {url}"),
                (true, None) => "restored from the build cache".into(),
                (false, None) => "built".into(),
            };
            // The removal of the tree it replaced is part of the time, and said: on a slow disk
            // it can take longer than the restore.
            let removal = removing_previous
                .map(|s| {
                    format!(
                        ", {} of it removing the previous tree",
                        format_elapsed(Duration::from_secs_f64(s))
                    )
                })
                .unwrap_or_default();
            let kind = match installation.key.build {
                crate::interpreters::version::BuildKind::Release => String::new(),
                build => format!(", {}", build.label()),
            };
            println!(
                "Installed {} ({}{kind}, {how} in {}{removal}): {}",
                installation.key,
                installation.key.variant.label(),
                format_elapsed(Duration::from_secs_f64(*seconds)),
                installation.interpreter().display()
            );
            println!("  {}", installation.receipt.checks.summary());
        }
        Outcome::AlreadyInstalled(installation) => {
            let installed = &installation.receipt.profile;
            if *installed == requested.to_string() {
                println!(
                    "{} is already installed: {} (--reinstall installs it again, from the build cache when it \
                     holds the build)",
                    installation.key,
                    installation.interpreter().display()
                );
            } else {
                // The request named another profile: never let a fast build pass for an
                // optimized one without a word.
                println!(
                    "{} is already installed, built with the {installed} profile: {}",
                    installation.key,
                    installation.interpreter().display()
                );
                ctx.reporter.warn(format!(
                    "this request is for the {requested} profile: `ftpy install --reinstall --profile {requested} {}` \
                     replaces the {installed} build",
                    installation.key
                ));
            }
        }
    }
}

/// One directory on PATH is enough; say so when it is missing.
fn advise_path(ctx: &Context, installed_any: bool) {
    let bin = ctx.home.bin_dir();
    if !installed_any {
        return;
    }
    let on_path = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d == bin));
    if !on_path {
        ctx.reporter.info(format!(
            "hint: add {} to PATH: it holds a python3.X and python3.Xt link per installed series",
            bin.display()
        ));
    }
}

/// One line of advice when a free-threaded build of a series older than the recommended one is
/// asked for: the free-threading guidance targets 3.14t.
fn series_advice(groups: &[InstallGroup]) -> Option<String> {
    let recommended = crate::interpreters::version::RECOMMENDED_SERIES;
    let old = groups.iter().flat_map(|g| g.keys.iter()).find(|k| {
        k.variant == crate::interpreters::version::Variant::Freethreaded && k.version.series() < recommended
    })?;
    Some(format!(
        "Note: {recommended}t is the free-threaded series to target: {}t lacks its thread-safety fixes and is slower (`ftpy install {recommended}t`)",
        old.version.series()
    ))
}

/// Where a release's source comes from: the mirrors in order, else upstream.
pub fn sources_for(ctx: &Context, release: &Release) -> Sources {
    let urls = if ctx.mirrors.is_empty() {
        vec![release.url.clone()]
    } else {
        ctx.mirrors.iter().map(|m| release.mirror_url(m)).collect()
    };
    let wanted = crate::interpreters::download::Wanted {
        version: release.version.clone(),
        keys: Vec::new(),
        mirrors: ctx.mirrors.clone(),
    };
    Sources { urls, wanted: Some(wanted) }
}

/// The build-cache identity of one build, as `ftpy cache key` prints it. It holds no prefix:
/// a build is made for a placeholder and relocated wherever it lands.
pub fn build_inputs(
    group: &InstallGroup,
    key: &InstallKey,
    options: &BuildOptions,
    toolchain: &Toolchain,
) -> BuildInputs {
    let args = build::configure_args(group.series, key.variant, options, &relocate::placeholder_prefix());
    BuildInputs::new(key.to_string(), group.release.sha256, options.profile.to_string(), &args, toolchain)
}

/// One build still to be done.
struct Pending {
    key: InstallKey,
    source_url: String,
    /// Where it is installed.
    prefix: PathBuf,
    /// What it is configured for: the placeholder prefix, relocated to `prefix` once built.
    build_prefix: PathBuf,
    configure_args: Vec<String>,
    has_previous: bool,
    /// The previous tree is damaged: keep it (in `<home>/damaged/`) instead of deleting it.
    keep_previous: bool,
    inputs: BuildInputs,
}

pub type KeyResult = (InstallKey, Result<Outcome, Error>);

/// What installing a group came to: each key's own result, and the failure shared by the keys
/// that still needed a build when the download or unpack failed.
pub struct GroupReport {
    pub results: Vec<KeyResult>,
    pub shared_failure: Option<(Vec<InstallKey>, Error)>,
}

/// Install every key of `group`. An error here means nothing was attempted (home, locks).
pub fn install_group(
    ctx: &Context,
    group: &InstallGroup,
    options: &InstallOptions,
) -> Result<GroupReport, Error> {
    let home = &ctx.home;
    home.create()?;
    let mut keys = group.keys.clone();
    keys.sort();
    let _locks: Vec<File> = keys.iter().map(|k| lock_key(ctx, k)).collect::<Result<_, _>>()?;
    // What a killed install of these keys left: finished or undone before anything is judged.
    for key in &keys {
        match journal::recover_key(home, key) {
            Ok(done) => done.into_iter().for_each(|d| ctx.reporter.warn(format!("recovered: {d}"))),
            Err(source) => {
                let journal = journal::journal_path(home, key);
                return Err(InstallError::Recovery { key: key.to_string(), journal, source }.into());
            }
        }
    }
    remove_stale_staging(ctx, &keys);
    // From here, Ctrl-C or SIGTERM stops the builds and downloads, which then fail; the staging
    // directory goes, and a previous installation being replaced stays (see `finish_interrupted`).
    let signals = crate::system::interrupt::Guard::install_with(crate::system::interrupt::Notice::Build);

    let toolchain = Toolchain::for_profile(options.build.profile)?;
    let mut report = GroupReport { results: Vec::new(), shared_failure: None };
    let mut pending: Vec<Pending> = Vec::new();
    for key in &keys {
        let prefix = home.version_dir(key);
        let (has_previous, keep_previous) =
            match (installation::receipt_state(&prefix, key), options.reinstall) {
                (ReceiptState::Valid(receipt), false) => {
                    let inst = Installation { key: key.clone(), prefix, receipt: *receipt };
                    report.results.push((key.clone(), Ok(Outcome::AlreadyInstalled(inst))));
                    continue;
                }
                (ReceiptState::Valid(_), true) => (true, false),
                (ReceiptState::Absent, _) => (false, false),
                // No journal explains it: it may hold someone's packages. Never delete it.
                (ReceiptState::Damaged(problem), false) => {
                    report.results.push((
                        key.clone(),
                        Err(InstallError::Damaged { key: key.to_string(), prefix, problem }.into()),
                    ));
                    continue;
                }
                (ReceiptState::Damaged(problem), true) => {
                    ctx.reporter.warn(format!(
                        "{} is damaged ({problem}); --reinstall replaces it and keeps it under {}",
                        prefix.display(),
                        home.root().join("damaged").display()
                    ));
                    (true, true)
                }
            };
        let inputs = build_inputs(group, key, &options.build, &toolchain);
        let build_prefix = relocate::build_prefix_for(&prefix);
        let configure_args = build::configure_args(group.series, key.variant, &options.build, &build_prefix);
        // What the receipt records: never a password.
        let source_url = sources_for(ctx, group.release).urls.join(" ");
        let source_url = crate::output::redact::redact(&source_url);
        pending.push(Pending {
            key: key.clone(),
            source_url,
            has_previous,
            keep_previous,
            prefix,
            build_prefix,
            configure_args,
            inputs,
        });
    }
    if pending.is_empty() {
        return Ok(report);
    }

    let names: Vec<String> = keys.iter().map(ToString::to_string).collect();
    let staging = tempfile::Builder::new()
        .prefix(&format!("install-{}-", names.join("+")))
        .tempdir_in(home.tmp_dir())
        .map_err(Error::io("cannot create a staging directory"))?;
    let cache = BuildCache::new(home.builds_dir());

    let reinstalling: Vec<InstallKey> =
        pending.iter().filter(|p| p.has_previous).map(|p| p.key.clone()).collect();
    let to_build = if options.use_build_cache || options.no_build {
        restore_all(ctx, &cache, pending, staging.path(), options, &mut report.results)
    } else {
        pending
    };
    // --no-build: what no cache could give fails here, and nothing is downloaded or built.
    let to_build = if options.no_build {
        for p in to_build {
            let error = InstallError::NotCached {
                key: p.key.to_string(),
                remote: options.remote_cache.clone(),
                profile: options.build.profile.to_string(),
            };
            report.results.push((p.key, Err(error.into())));
        }
        Vec::new()
    } else {
        to_build
    };
    if !to_build.is_empty() {
        let keys: Vec<InstallKey> = to_build.iter().map(|p| p.key.clone()).collect();
        // A TSan or max build is compiled by the compiler picked for it, whatever `$CC` says.
        match build_all(ctx, group, to_build, staging.path(), &cache, options, &toolchain) {
            Ok(results) => report.results.extend(results),
            Err(shared) => report.shared_failure = Some((keys, shared)),
        }
    }
    // The installs stand even if a link cannot be made; say so rather than fail them.
    if let Err(e) = installation::refresh_links(home) {
        ctx.reporter.warn(format!("cannot update the links in {}: {e}", home.bin_dir().display()));
    }
    if signals.interrupted() {
        finish_interrupted(&mut report, &reinstalling);
    }
    report.results.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(report)
}

/// After a signal: every key the signal stopped fails with [`Error::Interrupted`], saying what
/// was left as it was. Failures of their own (a build that had already failed) keep their error.
fn finish_interrupted(report: &mut GroupReport, reinstalling: &[InstallKey]) {
    let stopped = |key: &InstallKey| {
        let state = if reinstalling.contains(key) {
            format!("{key} was not reinstalled; the previous installation is in place")
        } else {
            format!("{key} was not installed, and nothing of it was left behind")
        };
        Error::Interrupted { state }
    };
    for (key, result) in &mut report.results {
        if result.as_ref().is_err_and(caused_by_signal) {
            *result = Err(stopped(key));
        }
    }
    if report.shared_failure.as_ref().is_some_and(|(_, e)| caused_by_signal(e)) {
        let (keys, _) = report.shared_failure.take().expect("checked");
        report.results.extend(keys.into_iter().map(|key| {
            let error = stopped(&key);
            (key, Err(error))
        }));
    }
}

/// Failures a signal explains: a stopped build, download or wait. (The checks' probe runs in
/// its own process group, so a check's verdict is never the terminal's Ctrl-C.)
fn caused_by_signal(error: &Error) -> bool {
    matches!(
        error,
        Error::Interrupted { .. }
            | Error::Build(build::BuildError::Interrupted { .. })
            | Error::Download(crate::interpreters::download::DownloadError::Interrupted)
    )
}

/// Restore from the build cache what it holds, all at once, and then what the remote cache
/// holds; return what still needs a build.
fn restore_all(
    ctx: &Context,
    cache: &BuildCache,
    pending: Vec<Pending>,
    staging: &Path,
    options: &InstallOptions,
    results: &mut Vec<KeyResult>,
) -> Vec<Pending> {
    let restored: Vec<(Pending, Restore)> = std::thread::scope(|scope| {
        let handles: Vec<_> = pending
            .into_iter()
            .map(|p| {
                scope.spawn(move || {
                    let mut outcome = restore_one(ctx, cache, &p, staging, options, None);
                    if let (Restore::Build, Some(url)) = (&outcome, &options.remote_cache) {
                        if pull(ctx, cache, &p, url, options) {
                            outcome = restore_one(ctx, cache, &p, staging, options, Some(url));
                        } else if crate::system::interrupt::requested() {
                            // A signal stopped the download: no build follows.
                            outcome = Restore::Done(Err(stopped_early()));
                        }
                    }
                    (p, outcome)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("restore thread panicked")).collect()
    });
    let mut to_build = Vec::new();
    for (p, outcome) in restored {
        match outcome {
            Restore::Done(result) => results.push((p.key.clone(), result)),
            Restore::Build => to_build.push(p),
        }
    }
    to_build
}

/// An error and its causes, on one line, any password in a URL masked.
fn one_line(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    crate::output::redact::redact(&text)
}

/// What a remote cache fault costs: one line, and a build (or, with --no-build, the key fails).
fn remote_fault(
    ctx: &Context,
    key: &InstallKey,
    url: &str,
    error: &dyn std::error::Error,
    options: &InstallOptions,
) {
    let then = if options.no_build { "and --no-build forbids a build" } else { "building it from source" };
    ctx.reporter
        .warn(format!("could not restore {key} from the remote cache {url}: {}; {then}", one_line(error)));
}

/// Fetch the build of `p` from the remote cache `url` into the local build cache. True when it
/// is there now; a miss or a fault (said in one line) is false.
fn pull(ctx: &Context, cache: &BuildCache, p: &Pending, url: &str, options: &InstallOptions) -> bool {
    let started = Instant::now();
    let pulled = remote_cache::open(url, &ctx.limits)
        .and_then(|mut remote| remote_cache::pull_into(&mut remote, cache, &p.inputs, &ctx.limits));
    match pulled {
        Ok(Some((entry, bytes))) => {
            ctx.reporter.info(format!(
                "Downloaded {} from {url}: {} in {}",
                entry.id(),
                crate::output::progress::human_bytes(bytes),
                format_elapsed(started.elapsed())
            ));
            true
        }
        Ok(None) => {
            ctx.reporter.info(format!("{} is not in the remote cache {url} ({})", p.key, p.inputs.id()));
            false
        }
        // Stopped by a signal: not a fault of the remote, and no build follows.
        Err(_) if crate::system::interrupt::requested() => false,
        Err(e) => {
            remote_fault(ctx, &p.key, url, &e, options);
            false
        }
    }
}

/// Upload the cache entry of a build to the remote cache; a failure is a warning (the install
/// stands).
fn push(ctx: &Context, cache: &BuildCache, entry: &Entry, url: &str) {
    let started = Instant::now();
    let pushed = remote_cache::open(url, &ctx.limits)
        .and_then(|mut remote| remote.push(entry, &cache.archive_file(entry)));
    match pushed {
        Ok(remote_cache::Pushed::Uploaded(bytes)) => ctx.reporter.info(format!(
            "Pushed {} to {url}: {} in {}",
            entry.id(),
            crate::output::progress::human_bytes(bytes),
            format_elapsed(started.elapsed())
        )),
        Ok(remote_cache::Pushed::AlreadyThere) => {
            ctx.reporter.info(format!("{} is in {url} already (tag refreshed)", entry.id()))
        }
        Err(e) => ctx.reporter.warn(format!("could not push {} to {url}: {}", entry.id(), one_line(&e))),
    }
}

enum Restore {
    /// Restored and checked, or failed in a way a build would not fix (moving into place).
    Done(Result<Outcome, Error>),
    /// Not in the cache, corrupt, or restored but failing its checks: build from source.
    Build,
}

/// Restore `p` from the local build cache (where `remote`, when given, just put it).
fn restore_one(
    ctx: &Context,
    cache: &BuildCache,
    p: &Pending,
    staging: &Path,
    options: &InstallOptions,
    remote: Option<&str>,
) -> Restore {
    let started = Instant::now();
    let dest = staging.join(format!("restore-{}", p.key));
    if dest.exists() {
        // The first attempt of this key (from the local cache) left it: start empty.
        let _ = fs::remove_dir_all(&dest);
    }
    if let Err(e) = fs::create_dir(&dest) {
        return Restore::Done(Err(Error::io("cannot create a staging directory")(e)));
    }
    let then = if options.no_build { "and --no-build forbids a build" } else { "building it from source" };
    let (tree, entry) = match cache.restore(&p.inputs, &dest, &p.prefix) {
        Ok(Some(found)) => found,
        Ok(None) => return Restore::Build,
        Err(e) => {
            ctx.reporter.warn(format!("{}; {then}", one_line(&e)));
            return Restore::Build;
        }
    };
    // A receipt inside the archive would make a half-restored tree look installed.
    let _ = fs::remove_file(tree.join(installation::RECEIPT_FILE));
    journal::kill_point(KillPoint::RestoreUnpacked);
    let finished = Finished {
        tree,
        build_seconds: entry.meta.build_seconds,
        restored_from_cache: true,
        remote: remote.map(str::to_string),
        log: None,
        phases: Default::default(),
    };
    match finalize(ctx, p, finished, options, None, started) {
        Ok((outcome, _)) => {
            let from =
                remote.map(|url| format!("the remote cache {url}")).unwrap_or("the build cache".into());
            ctx.reporter.info(format!("Restored {} from {from}", p.key));
            if let (Some(url), None) = (options.remote_cache.as_deref().filter(|_| options.push), remote) {
                push(ctx, cache, &entry, url);
            }
            Restore::Done(Ok(outcome))
        }
        Err(Error::Install(InstallError::Check { source, .. })) => {
            // The system changed since (a library gone?), or the entry came from a machine
            // unlike this one: it is no good here.
            ctx.reporter.warn(format!("the cached build of {} fails its checks ({source}); {then}", p.key));
            let _ = cache.remove(&entry.key);
            Restore::Build
        }
        Err(other) => Restore::Done(Err(other)),
    }
}

fn stopped_early() -> Error {
    Error::Interrupted { state: "stopped before building".into() }
}

/// Fetch and unpack once, then build every pending key at the same time, sharing the cores
/// through one jobserver.
fn build_all(
    ctx: &Context,
    group: &InstallGroup,
    to_build: Vec<Pending>,
    staging: &Path,
    cache: &BuildCache,
    options: &InstallOptions,
    toolchain: &Toolchain,
) -> Result<Vec<KeyResult>, Error> {
    let cc = toolchain.picked_cc().map(str::to_string);
    let tools_dir = toolchain.tools_dir.clone();
    let compiler = toolchain.family;
    if options.system_check {
        // The checks run compilers in ftpy's process group: a Ctrl-C there is no verdict.
        check_system(ctx, options, group.release.version.series())
            .map_err(|e| if crate::system::interrupt::requested() { stopped_early() } else { e })?;
    }
    let downloader = Downloader::new(ctx.home.sources_dir(), ctx.retry.clone(), ctx.limits.clone());
    let mut sources = sources_for(ctx, group.release);
    if let Some(wanted) = &mut sources.wanted {
        wanted.keys = group.keys.clone();
    }
    let archive = downloader.fetch(&sources, &group.release.sha256, &ctx.reporter)?;
    let unpacked = staging.join("src");
    fs::create_dir(&unpacked).map_err(Error::io("cannot create a staging directory"))?;
    ctx.reporter.info(format!("Unpacking {}", group.release.file_name()));
    let source_dir = unpack::unpack_tar_xz(&archive, &unpacked)?;
    journal::kill_point(KillPoint::SourceUnpacked);
    if crate::system::interrupt::requested() {
        return Err(stopped_early());
    }

    // Each make holds one implicit job slot; the pipe holds the rest. One build alone runs
    // `jobs` jobs; two together share them, and whichever is in a serial stretch (configure,
    // the PGO profile run, the LTO link, install) leaves its slots to the other.
    let jobserver = jobserver::Client::new(options.build.jobs.saturating_sub(1))
        .map_err(Error::io("cannot create the make jobserver"))?;
    let launcher = if options.build.ccache { crate::system::toolchain::find_ccache() } else { None };
    let stamp = crate::system::clock::file_stamp_now();
    let plans: Vec<(Pending, BuildPlan)> = to_build
        .into_iter()
        .map(|p| {
            let plan = BuildPlan {
                key: p.key.clone(),
                source_dir: source_dir.clone(),
                build_dir: staging.join(format!("build-{}", p.key)),
                configure_args: p.configure_args.clone(),
                jobserver: jobserver.clone(),
                jobs: options.build.jobs,
                compiler_launcher: launcher.clone(),
                cc: cc.clone(),
                tools_dir: tools_dir.clone(),
                stages: build::stages::make_stages(
                    options.build.profile,
                    options.build.jobs,
                    build::stages::user_profile_task(&options.build.extra_configure, &toolchain.environment),
                    compiler,
                ),
                destdir: staging.join(format!("dest-{}", p.key)),
                log_path: ctx.home.logs_dir().join(format!("{}-{stamp}.log", p.key)),
            };
            (p, plan)
        })
        .collect();
    for (_, plan) in &plans {
        ctx.reporter.info(format!(
            "Building {} ({} profile, {} jobs{}); log: {}",
            plan.key,
            options.build.profile,
            options.build.jobs,
            if plans.len() > 1 { " shared" } else { "" },
            plan.log_path.display()
        ));
    }
    Ok(std::thread::scope(|scope| {
        let handles: Vec<_> = plans
            .iter()
            .map(|(p, plan)| scope.spawn(move || (p.key.clone(), build_one(ctx, p, plan, cache, options))))
            .collect();
        handles.into_iter().map(|h| h.join().expect("build thread panicked")).collect()
    }))
}

fn build_one(
    ctx: &Context,
    p: &Pending,
    plan: &BuildPlan,
    cache: &BuildCache,
    options: &InstallOptions,
) -> Result<Outcome, Error> {
    let started = Instant::now();
    let mut task = ctx.reporter.task(&p.key.to_string());
    let built = build::build_interpreter(plan, &mut task);
    task.finish();
    crate::output::github_actions::fold_log(&format!("Build log of {}", p.key), &plan.log_path);
    let phases = built?;
    ctx.reporter.info(format!("Built {}: {}", p.key, phases.summary()));
    let tree = plan.destdir.join(p.build_prefix.strip_prefix("/").unwrap_or(&p.build_prefix));
    let interpreter = tree.join("bin").join(p.key.interpreter_name());
    if !interpreter.exists() {
        return Err(build::BuildError::NoInterpreter { path: interpreter, log: plan.log_path.clone() }.into());
    }
    // The archive is made from the tree as built (for the placeholder prefix), before it is
    // relocated; it becomes a cache entry only once the installation passed its checks.
    let keep = options.use_build_cache || options.push;
    let prepared = match keep.then(|| cache.prepare(&tree, &p.inputs, &p.build_prefix)) {
        Some(Ok(prepared)) => Some(prepared),
        Some(Err(e)) => {
            ctx.reporter.warn(format!("could not keep {} in the build cache: {}", p.key, one_line(&e)));
            None
        }
        None => None,
    };
    relocate::relocate_tree(&tree, &p.build_prefix, &p.prefix).map_err(|source| {
        crate::interpreters::build_cache::BuildCacheError::Relocate { to: p.prefix.clone(), source }
    })?;
    let finished = Finished {
        tree,
        build_seconds: started.elapsed().as_secs_f64(),
        restored_from_cache: false,
        remote: None,
        log: Some(plan.log_path.clone()),
        phases,
    };
    let (outcome, entry) = finalize(ctx, p, finished, options, prepared, started)?;
    if let (Some(entry), Some(url)) = (&entry, options.remote_cache.as_deref().filter(|_| options.push)) {
        push(ctx, cache, entry, url);
    }
    Ok(outcome)
}

/// A tree ready to be moved into place.
struct Finished {
    tree: PathBuf,
    build_seconds: f64,
    restored_from_cache: bool,
    /// The remote cache the build cache had it from, just now.
    remote: Option<String>,
    log: Option<PathBuf>,
    /// Where the build's time went; empty for a restored tree.
    phases: build::timing::BuildTimes,
}

/// Move the tree into place, check it, write the receipt, then make the prepared archive (if
/// any) its build cache entry, which is returned. Any failure after the previous installation was moved aside puts it back. The
/// journal written first lets the next command do the same after a `kill -9`.
fn finalize(
    ctx: &Context,
    p: &Pending,
    finished: Finished,
    options: &InstallOptions,
    prepared: Option<Prepared>,
    started: Instant,
) -> Result<(Outcome, Option<Entry>), Error> {
    let key = &p.key;
    let home = &ctx.home;
    // Outside the staging directory, which a later install removes as stale.
    let set_aside = journal::aside_path(home, key);
    let previous = p.has_previous.then_some(set_aside.as_path());
    // Fix: something that appeared at versions/<key> while this install built (no previous
    // installation was there when it started) was set aside and deleted on commit. ftpy deletes
    // only what it can prove it made: refuse, and leave it where it is.
    if !p.has_previous && fs::symlink_metadata(&p.prefix).is_ok() {
        return Err(InstallError::Damaged {
            key: key.to_string(),
            prefix: p.prefix.clone(),
            problem:
                "it appeared while this install was building, and ftpy did not make it; nothing was installed"
                    .into(),
        }
        .into());
    }
    let journal = Journal::begin(home, key, previous, p.keep_previous)
        .map_err(Error::io("cannot write the install journal"))?;
    // Makes way for the new tree: the previous one (if any) goes where the journal says.
    let mut transaction =
        Transaction::new(Discard::Via { trash_dir: home.tmp_dir(), prefix: journal::TRASH_PREFIX.into() });
    if p.has_previous {
        if let Err(e) = transaction.replace(&p.prefix, set_aside) {
            let _ = journal.finish();
            return Err(Error::io("cannot move the previous installation aside")(e));
        }
        journal::kill_point(KillPoint::PreviousSetAside);
    }
    let log = finished.log.clone();
    let remote = finished.remote.clone();
    let placed = place_and_check(p, finished, options);
    let (installation, warnings, restored_from_cache) = match placed {
        Ok(done) => done,
        Err(error) => {
            // If the previous tree cannot be put back, the journal stays for the next command.
            if roll_back(ctx, &p.prefix, transaction) {
                let _ = journal.finish();
            }
            return Err(match error {
                Error::Install(InstallError::Check { key, source, .. }) => {
                    InstallError::Check { key, log: log.unwrap_or_default(), source }.into()
                }
                other => other,
            });
        }
    };
    journal::kill_point(KillPoint::ReceiptWritten);
    let aside = transaction.commit_keeping_asides().pop();
    let removal_started = Instant::now();
    let removing_previous = aside.is_some().then_some(());
    let dropped = match aside {
        Some(aside) => match journal::drop_previous(home, key, &aside, p.keep_previous) {
            Ok(what) if p.keep_previous => {
                ctx.reporter.warn(what);
                true
            }
            Ok(_) => true,
            Err(e) => {
                ctx.reporter.warn(format!("could not remove the previous {key} at {}: {e}", aside.display()));
                false
            }
        },
        None => true,
    };
    let removal_elapsed = removal_started.elapsed().as_secs_f64();
    if dropped {
        journal::kill_point(KillPoint::Committed);
        if let Err(e) = journal.finish() {
            ctx.reporter.warn(format!("could not remove the install journal of {key}: {e}"));
        }
    }
    // Only complete builds are worth keeping: not one that lacks modules it should have. After
    // a signal, the install stands but ftpy leaves without archiving it.
    let mut entry = None;
    if let Some(prepared) = prepared.filter(|_| warnings.is_empty() && !crate::system::interrupt::requested())
    {
        journal::kill_point(KillPoint::StoringInCache);
        match prepared.commit(installation.receipt.build_seconds, &installation.receipt.checks) {
            Ok(committed) => entry = Some(committed),
            Err(e) => ctx.reporter.warn(format!("could not keep {key} in the build cache: {}", one_line(&e))),
        }
    }
    let removing_previous = removing_previous.map(|()| removal_elapsed);
    let outcome = Outcome::Installed {
        installation,
        warnings,
        restored_from_cache,
        seconds: started.elapsed().as_secs_f64(),
        removing_previous,
        remote,
    };
    Ok((outcome, entry))
}

fn place_and_check(
    p: &Pending,
    finished: Finished,
    options: &InstallOptions,
) -> Result<(Installation, Vec<String>, bool), Error> {
    let key = &p.key;
    fs::rename(&finished.tree, &p.prefix).map_err(Error::io("cannot move the build into place"))?;
    journal::kill_point(KillPoint::Placed);
    let interpreter = p.prefix.join("bin").join(key.interpreter_name());
    let suppressions = (key.build == crate::interpreters::version::BuildKind::Tsan)
        .then(|| installation::tsan_suppressions_at(&p.prefix));
    let (report, warnings) =
        post_install_check::probe(&interpreter, key.version.series(), suppressions.as_deref())
            .and_then(|report| {
                post_install_check::evaluate(&report, key, options.allow_missing_modules).map(|w| (report, w))
            })
            .map_err(|source| InstallError::Check { key: key.to_string(), log: PathBuf::new(), source })?;
    journal::kill_point(KillPoint::Checked);
    let receipt = Receipt {
        format: installation::RECEIPT_FORMAT,
        key: key.to_string(),
        source_url: p.source_url.clone(),
        source_sha256: Some(p.inputs.source_sha256),
        profile: p.inputs.profile.clone(),
        // Without the prefix: a build is made for a placeholder and relocated, and the
        // installed tree names no prefix but its own.
        configure_args: p.inputs.configure_args.clone(),
        compiler: p.inputs.compiler.clone(),
        build_seconds: finished.build_seconds,
        build_phases: finished.phases.clone(),
        installed_at: unix_now(),
        build_cache_key: Some(p.inputs.key()),
        restored_from_cache: finished.restored_from_cache,
        checks: report,
    };
    installation::write_receipt(&p.prefix, &receipt)
        .map_err(Error::io("cannot write the install receipt"))?;
    let installation = Installation { key: key.clone(), prefix: p.prefix.clone(), receipt };
    Ok((installation, warnings, finished.restored_from_cache))
}

/// Stop before downloading when the build could not succeed: what `ftpy doctor` checks.
fn check_system(ctx: &Context, options: &InstallOptions, series: MinorVersion) -> Result<(), Error> {
    Ok(Diagnosis::run(ctx.home.root(), series).require(options.allow_missing_modules)?)
}

/// Take a tree that failed its checks out of `versions/`, and put the previous one back.
/// False when something could not be undone (and was said).
fn roll_back(ctx: &Context, prefix: &Path, transaction: Transaction) -> bool {
    // Out first through the trash, past the kill point a test stops at; the transaction then
    // finds nothing in the way and only moves the previous tree back.
    if let Err(e) = journal::remove_tree(&ctx.home, prefix) {
        ctx.reporter.warn(format!("could not remove {}: {e}", prefix.display()));
        // The previous tree stays set aside, for the next command's recovery.
        let _ = transaction.commit_keeping_asides();
        return false;
    }
    match transaction.roll_back() {
        Ok(()) => true,
        Err(failures) => {
            for failure in failures {
                let (previous, e) = (failure.aside.unwrap_or(failure.target), failure.source);
                ctx.reporter.warn(format!(
                    "could not restore the previous installation from {}: {e}; the next ftpy command tries again",
                    previous.display()
                ));
            }
            false
        }
    }
}

/// Hold the lock for one key; a second process waits here, then finds the work done.
fn lock_key(ctx: &Context, key: &InstallKey) -> Result<File, Error> {
    fs::create_dir_all(ctx.home.locks_dir()).map_err(Error::io("cannot create the lock directory"))?;
    let path = ctx.home.locks_dir().join(format!("{key}.lock"));
    let file = File::create(&path).map_err(Error::io("cannot create the install lock"))?;
    let waiting = || {
        ctx.reporter.info(format!(
            "Waiting for another ftpy process that is installing {key} (lock {})",
            path.display()
        ))
    };
    match crate::system::interrupt::lock_exclusive(&file, waiting) {
        Ok(()) => Ok(file),
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Err(Error::Interrupted {
            state: format!("{key} was not installed; another ftpy process is installing it"),
        }),
        Err(e) => Err(Error::io("cannot take the install lock")(e)),
    }
}

/// Staging directories named only by keys whose locks we hold were left by a process that
/// died: no live process owns them.
fn remove_stale_staging(ctx: &Context, held: &[InstallKey]) {
    let Ok(entries) = fs::read_dir(ctx.home.tmp_dir()) else { return };
    let held: Vec<String> = held.iter().map(ToString::to_string).collect();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(keys) = name.strip_prefix("install-").and_then(|rest| rest.rsplit_once('-')).map(|(k, _)| k)
        else {
            continue;
        };
        if keys.split('+').all(|k| held.iter().any(|h| h == k)) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// What `ftpy uninstall` removes for `requests` (`typed`, as the user wrote them): exactly one
/// installation or damaged tree per request (a damaged tree is named by its key), both builds
/// with `pair` (where a missing half is fine).
pub fn removal_targets(
    home: &Home,
    requests: &[VersionRequest],
    pair: bool,
    typed: &str,
) -> Result<Vec<(InstallKey, PathBuf)>, Error> {
    let mut targets = Vec::new();
    let requests: Vec<VersionRequest> = if pair {
        // Both builds of the version: the request with each variant.
        requests
            .iter()
            .flat_map(|r| {
                Variant::ALL.map(|variant| VersionRequest {
                    variant,
                    build: crate::interpreters::version::BuildKind::Release,
                    ..r.clone()
                })
            })
            .collect()
    } else {
        requests.to_vec()
    };
    let (installed, damaged) =
        installation::scan(home).map_err(Error::io("cannot read the installed versions"))?;
    // A damaged tree is removed like an installation: by its key.
    let all: Vec<(InstallKey, PathBuf)> = installed
        .into_iter()
        .map(|i| (i.key, i.prefix))
        .chain(damaged.into_iter().map(|d| (d.key, d.prefix)))
        .collect();
    for request in &requests {
        let matches: Vec<(InstallKey, PathBuf)> =
            all.iter().filter(|(key, _)| request.accepts_key(key)).cloned().collect();
        match matches.as_slice() {
            // With --pair, a missing half is fine; nothing at all is not (checked below).
            [] if pair => {}
            [] => {
                return Err(InstallError::NotInstalled {
                    request: request.to_string(),
                    suggest_install: false,
                }
                .into());
            }
            [one] => targets.push(one.clone()),
            many => {
                let keys: Vec<String> = many.iter().map(|(key, _)| key.to_string()).collect();
                return Err(Error::Usage {
                    message: format!("`{request}` matches several installations: {}", keys.join(", ")),
                    hints: vec![format!("name the exact version, e.g. `ftpy uninstall {}`", keys[0])],
                });
            }
        }
    }
    if targets.is_empty() {
        return Err(InstallError::NotInstalled { request: typed.to_string(), suggest_install: false }.into());
    }
    Ok(targets)
}

/// Uninstall an installation or a damaged tree: take it out of `versions/` in one rename,
/// delete it, relink. A kill after the rename leaves `tmp/removing-*`, which the next command
/// deletes.
pub fn uninstall(ctx: &Context, key: &InstallKey, prefix: &Path) -> Result<(), Error> {
    let _lock = lock_key(ctx, key)?;
    // An install that died while this waited for its lock must not put a tree back afterwards.
    journal::recover_key(&ctx.home, key).map_err(|source| InstallError::Recovery {
        key: key.to_string(),
        journal: journal::journal_path(&ctx.home, key),
        source,
    })?;
    journal::remove_tree(&ctx.home, prefix).map_err(Error::io("cannot remove the installation"))?;
    installation::refresh_links(&ctx.home)
        .map_err(Error::io("cannot update the links in the ftpy bin directory"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_names_its_exit_code_and_what_to_do() {
        let damaged = InstallError::Damaged {
            key: "3.13.5t".into(),
            prefix: PathBuf::from("/h/versions/3.13.5t"),
            problem: "its receipt ftpy-receipt.json is missing".into(),
        };
        assert_eq!(damaged.exit_code(), ExitCode::Damaged);
        assert!(damaged.hints()[1].contains("/h/damaged"), "{:?}", damaged.hints());
        let in_use =
            InstallError::InUse { users: vec![("3.13.5t".into(), vec![PathBuf::from("/p/.venv-ft")])] };
        assert_eq!(in_use.exit_code(), ExitCode::InUse);
        assert_eq!(in_use.to_string(), "3.13.5t is in use by twin environments:\n  /p/.venv-ft (3.13.5t)");
        let missing =
            |suggest_install| InstallError::NotInstalled { request: "3.14t".into(), suggest_install };
        assert_eq!(missing(true).exit_code(), ExitCode::NotFound);
        assert_eq!(missing(true).hints(), ["install it with `ftpy install 3.14t`"]);
        assert_eq!(missing(false).hints(), ["`ftpy list` shows what is installed"]);
        let missing_tsan = InstallError::NotInstalled { request: "3.14t-tsan".into(), suggest_install: true };
        assert_eq!(missing_tsan.hints(), ["install it with `ftpy install --profile tsan 3.14t`"]);
        let check =
            InstallError::Check { key: "3.14.6t".into(), log: PathBuf::new(), source: CheckError::NoPip };
        assert_eq!(check.exit_code(), ExitCode::CheckFailed);
        assert_eq!(check.hints().len(), 1, "no log, no log hint");
        let recovery = InstallError::Recovery {
            key: "3.14.6".into(),
            journal: PathBuf::from("/h/tmp/journal-3.14.6.json"),
            source: std::io::Error::other("x"),
        };
        assert_eq!(recovery.exit_code(), ExitCode::LocalError);
        let error: Error = recovery.into();
        assert_eq!(error.exit_code(), ExitCode::LocalError, "the top-level error dispatches");
        assert_eq!(error.hints().len(), 2);
    }
}
