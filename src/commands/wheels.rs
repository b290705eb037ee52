//! `ftpy wheels check` and `ftpy wheels build`: which dependencies have no wheel that loads in
//! the free-threaded interpreter, and building those from source into a wheelhouse that
//! `ftpy venv` installs from.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::{WheelSelection, WheelsBuildArgs, WheelsCheckArgs, WheelsCommand};
use crate::context::Context;
use crate::wheels::resolve::{self, RootRequirement, Row, TargetEnv, Verdict};
use crate::error::Error;
use crate::projects::gil_scan;
use crate::interpreters::installation::{self, Installation};
use crate::wheels::index::{self, IndexClient, IndexConfig};
use crate::output::progress::format_duration;
use crate::projects::project::{self, PyProject, PythonSource, PythonWish};
use crate::projects::requirements_file::{ReadBudget, RequirementLines};
use crate::output::terminal_text::escape_control;
use crate::projects::twin_venvs::Environment;
use crate::interpreters::version::{InstallKey, MinorVersion, Variant, VersionRequest};
use crate::wheels::build;
use crate::wheels::tags::{self, Target, normalize_name};

/// Index pages younger than this are read from the cache.
const PAGE_TTL: Duration = Duration::from_secs(600);

pub fn run(command: WheelsCommand, ctx: &Context) -> Result<ExitCode, Error> {
    match command {
        WheelsCommand::Check(args) => check(args, ctx),
        WheelsCommand::Build(args) => build(args, ctx),
    }
}

/// The interpreter the wheels are for: an installed one when there is one, else a release the
/// recipes know (the check needs only its tags).
struct TargetPython {
    series: MinorVersion,
    variant: Variant,
    full_version: String,
    /// The installation's key, or the release the recipes resolve to: whose wheelhouse counts.
    key: InstallKey,
    installed: Option<Installation>,
    /// Where the choice came from: `--python`, `.python-version`, `requires-python`, ...
    source: PythonSource,
}

impl TargetPython {
    fn label(&self) -> String {
        format!("cp{}{}{}", self.series.major, self.series.minor, self.variant.suffix())
    }

    /// `3.13t`: what to install to build for this target.
    fn series_request(&self) -> String {
        format!("{}{}", self.series, self.variant.suffix())
    }
}

/// Choose the target as `ftpy venv` chooses its Python (`project::python_wish`): `--python`,
/// else the project's `.python-version`, else its `requires-python`, else the newest installed
/// free-threaded build. A wish from the project means its free-threaded build; `--python` is
/// taken as written (`--python 3.13` checks the GIL build). What is not installed is looked up
/// in the recipes: never another series.
fn target_python(ctx: &Context, selection: &WheelSelection, build: bool) -> Result<TargetPython, Error> {
    let root = project::find_root(selection.project.as_deref(), false)?;
    let pyproject_path = root.join("pyproject.toml");
    let pyproject = if pyproject_path.is_file() { Some(PyProject::read(&pyproject_path)?) } else { None };
    let (wish, source) = project::python_wish(selection.python.as_deref(), &root, pyproject.as_ref())?;
    let variant = match (&wish, &source) {
        (PythonWish::Request(r), PythonSource::Flag) => r.variant,
        _ => Variant::Freethreaded,
    };
    if let PythonWish::Request(r) = &wish
        && variant == Variant::Freethreaded
        && r.series().is_some_and(|s| s < crate::interpreters::version::FIRST_FREETHREADED)
    {
        return Err(Error::Usage {
            message: format!("{r} (from {source}) has no free-threaded build: they exist from 3.13 on"),
            hints: vec!["ask for 3.13t or newer with --python".into()],
        });
    }
    let installed =
        installation::installed(&ctx.home).map_err(Error::io("cannot read the installed versions"))?;
    let found = installed
        .into_iter()
        .filter(|i| i.key.variant == variant && wish.accepts(&i.key.version))
        .max_by(|a, b| a.key.version.cmp(&b.key.version));
    if let Some(inst) = found {
        return Ok(TargetPython {
            series: inst.key.version.series(),
            variant,
            full_version: inst.key.version.to_string(),
            key: inst.key.clone(),
            installed: Some(inst),
            source,
        });
    }
    let recipes = ctx.recipes()?;
    let key = match &wish {
        PythonWish::Request(r) => recipes.resolve(&VersionRequest { variant, ..r.clone() })?.key,
        _ => {
            // The newest final release the wish accepts, of a series with this variant.
            let newest = recipes
                .series()
                .filter(|s| s.supports(variant))
                .flat_map(|s| s.releases.iter())
                .filter(|r| r.version.is_final() && wish.accepts(&r.version))
                .map(|r| r.version.clone())
                .max()
                .ok_or_else(|| Error::Usage {
                    message: format!("no release in ftpy's recipes satisfies {source}"),
                    hints: vec!["name the version with --python".into()],
                })?;
            InstallKey { version: newest, variant }
        }
    };
    let target = TargetPython {
        series: key.version.series(),
        variant,
        full_version: key.version.to_string(),
        key,
        installed: None,
        source,
    };
    if build {
        // Building needs the interpreter itself: say which, and where the wish came from.
        ctx.reporter.info(format!("Building for {} (from {})", target.series_request(), target.source));
        return Err(crate::interpreters::install::InstallError::NotInstalled { request: target.series_request(), suggest_install: true }.into());
    }
    ctx.reporter.info(format!(
        "{} is not installed: checking for {} from the version alone ({} in the recipes)",
        target.series_request(),
        target.label(),
        target.full_version
    ));
    Ok(target)
}

/// The requirements to check: -r files, else the project's pyproject.toml dependencies, else its
/// requirements.txt.
struct Inputs {
    roots: Vec<RootRequirement>,
    direct: Vec<(String, String)>,
    index_url: Option<String>,
    extra_index_urls: Vec<String>,
    /// `--pre` in a requirements file.
    pre: bool,
    find_links: Vec<String>,
    /// `-r FILE` arguments for pip, to repeat in hints.
    described: String,
}

fn read_inputs(selection: &WheelSelection) -> Result<Inputs, Error> {
    crate::projects::requirements_file::check_files(&selection.requirements)?;
    let mut inputs = Inputs {
        roots: vec![],
        direct: vec![],
        index_url: None,
        extra_index_urls: vec![],
        pre: false,
        find_links: vec![],
        described: String::new(),
    };
    let mut files = selection.requirements.clone();
    if files.is_empty() {
        let root = project::find_root(selection.project.as_deref(), false)?;
        let pyproject = root.join("pyproject.toml");
        if pyproject.is_file() {
            let project = PyProject::read(&pyproject)?;
            for dep in project.dependencies {
                inputs.roots.push(RootRequirement { text: dep, origin: pyproject.display().to_string() });
            }
            inputs.described = root.display().to_string();
        }
        if inputs.roots.is_empty() && root.join("requirements.txt").is_file() {
            files.push(root.join("requirements.txt"));
        }
        if inputs.roots.is_empty() && files.is_empty() {
            return Err(Error::Usage {
                message: format!(
                    "nothing to check in {}: no -r file, no pyproject.toml dependencies, no requirements.txt",
                    root.display()
                ),
                hints: vec!["name a requirements file with -r".into()],
            });
        }
    }
    let mut budget = ReadBudget::default();
    for file in &files {
        let lines = RequirementLines::read_with(file, &mut budget)?;
        if lines.no_index && selection.index_url.is_none() {
            return Err(Error::Usage {
                message: format!(
                    "{} says --no-index: pip would look only in --find-links locations",
                    escape_control(&file.display().to_string())
                ),
                hints: vec!["name the index to check against with --index-url".into()],
            });
        }
        inputs
            .roots
            .extend(lines.requirements.into_iter().map(|(text, origin)| RootRequirement { text, origin }));
        inputs.direct.extend(lines.direct);
        inputs.index_url = inputs.index_url.or(lines.index_url);
        inputs.extra_index_urls.extend(lines.extra_index_urls);
        inputs.pre |= lines.pre;
        inputs.find_links.extend(lines.find_links);
    }
    if !files.is_empty() {
        inputs.described = files.iter().map(|f| format!("-r {}", f.display())).collect::<Vec<_>>().join(" ");
    }
    Ok(inputs)
}

fn client(
    ctx: &Context,
    selection: &WheelSelection,
    inputs: &Inputs,
    python: &TargetPython,
) -> Result<IndexClient, Error> {
    let mut extras = selection.extra_index_url.clone();
    extras.extend(inputs.extra_index_urls.iter().cloned());
    let flag = selection.index_url.as_deref().or(inputs.index_url.as_deref());
    let interpreter = python.installed.as_ref().map(Installation::interpreter);
    let config = index::index_config(flag, &extras, interpreter.as_deref())?;
    let ttl = if selection.refresh { Duration::ZERO } else { PAGE_TTL };
    Ok(IndexClient::new(config, Some(ctx.home.cache_dir().join("index")), ttl))
}

#[derive(Serialize)]
struct Report<'a> {
    target: TargetReport,
    index: &'a IndexConfig,
    packages: &'a [Row],
    summary: Summary,
}

#[derive(Serialize)]
struct TargetReport {
    abi: String,
    python: String,
    platforms: Vec<String>,
}

#[derive(Serialize)]
struct Summary {
    total: usize,
    ready: usize,
    must_build: usize,
    will_not_load: usize,
    not_found: usize,
    /// Projects whose index page could not be read (while others could).
    unchecked: usize,
    direct_references: usize,
}

impl Summary {
    fn of(rows: &[Row]) -> Summary {
        let count = |v: Verdict| rows.iter().filter(|r| r.verdict == v).count();
        let direct_references = count(Verdict::DirectReference);
        Summary {
            total: rows.len() - direct_references,
            ready: rows.iter().filter(|r| r.verdict.is_ready()).count(),
            must_build: count(Verdict::MustBuild),
            will_not_load: count(Verdict::WillNotLoad),
            not_found: count(Verdict::NotFound),
            unchecked: count(Verdict::Unchecked),
            direct_references,
        }
    }
}

/// Everything `check` and `build` share: the target, the index, the answer.
fn run_check(
    ctx: &Context,
    selection: &WheelSelection,
    platforms: &[String],
    build: bool,
) -> Result<(TargetPython, Target, IndexClient, Inputs, Vec<Row>), Error> {
    let inputs = read_inputs(selection)?;
    let python = target_python(ctx, selection, build)?;
    let platforms = if platforms.is_empty() {
        tags::host_platforms()
    } else {
        tags::custom_platforms(platforms)
    };
    let target = Target::new(python.series, python.variant == Variant::Freethreaded, platforms);
    let mut env = TargetEnv::new(target.clone(), &python.full_version)
        .map_err(|e| Error::Usage { message: format!("cannot describe the target: {e}"), hints: vec![] })?;
    env.pre = inputs.pre;
    for location in &inputs.find_links {
        ctx.reporter.warn(format!(
            "pip would also look in --find-links {}; ftpy checks only the index",
            escape_control(location)
        ));
    }
    let client = client(ctx, selection, &inputs, &python)?;
    ctx.reporter.info(format!(
        "Checking {} requirement{}{} for {} (Python {}, from {}) against {} ({})",
        inputs.roots.len(),
        if inputs.roots.len() == 1 { "" } else { "s" },
        if inputs.direct.is_empty() {
            String::new()
        } else {
            format!(" (and {} paths or URLs pip takes as given)", inputs.direct.len())
        },
        python.label(),
        python.full_version,
        match &python.source {
            PythonSource::NewestInstalled => "the newest installed free-threaded build".to_string(),
            source => source.to_string(),
        },
        client.config.shown_urls().join(", "),
        client.config.source
    ));
    let mut rows = resolve::check(&client, &env, &inputs.roots, &inputs.direct)?;
    count_wheelhouse(&mut rows, &ctx.home.wheelhouse_dir(&python.key), &target);
    Ok((python, target, client, inputs, rows))
}

/// At most this many entries of a wheelhouse are read.
const MAX_WHEELHOUSE_ENTRIES: usize = 10_000;

/// A release the index has only as an sdist is ready when `ftpy wheels build` already put a
/// wheel of it for the target in the wheelhouse (`ftpy venv` installs from there).
fn count_wheelhouse(rows: &mut [Row], wheelhouse: &Path, target: &Target) {
    let Ok(entries) = std::fs::read_dir(wheelhouse) else { return };
    let files: Vec<String> = entries
        .flatten()
        .take(MAX_WHEELHOUSE_ENTRIES)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.ends_with(".whl"))
        .collect();
    for row in rows.iter_mut().filter(|r| r.verdict == Verdict::MustBuild) {
        let Some(version) = row.version.as_deref() else { continue };
        let built = files.iter().find(|file| {
            tags::DistFilename::parse(file, &row.name)
                .is_some_and(|d| d.version.to_string() == version && target.accepts(&d))
        });
        if let Some(file) = built {
            row.verdict = Verdict::Wheelhouse;
            row.notes.push(format!("{file} in {}", wheelhouse.display()));
        }
    }
}

fn check(args: WheelsCheckArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let (python, target, client, _inputs, rows) = run_check(ctx, &args.selection, &args.platforms, false)?;
    let summary = Summary::of(&rows);
    if args.json {
        let report = Report {
            target: TargetReport {
                abi: python.label(),
                python: python.full_version.clone(),
                platforms: target.platforms.clone(),
            },
            index: &client.config,
            packages: &rows,
            summary,
        };
        println!("{}", serde_json::to_string_pretty(&report).expect("serializable"));
    } else {
        print_table(&rows, &target);
        print_summary(&summary, &python.label());
    }
    let summary = Summary::of(&rows);
    let missing = summary.total - summary.ready;
    if args.strict && missing > 0 {
        return Err(Error::WheelsMissing {
            count: missing,
            total: summary.total,
            target: python.label(),
            must_build: summary.must_build,
            not_found: summary.not_found,
        });
    }
    Ok(ExitCode::SUCCESS)
}

fn colour(text: &str, code: u8) -> String {
    if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn verdict_text(row: &Row, target: &Target) -> (String, u8) {
    match row.verdict {
        Verdict::TargetWheel => (format!("{} wheel", target.abi_tag()), 32),
        Verdict::PureWheel => ("pure-Python wheel".into(), 32),
        Verdict::Wheelhouse => ("built by ftpy (wheelhouse)".into(), 32),
        Verdict::MustBuild => ("sdist only: must be built".into(), 33),
        Verdict::WillNotLoad => ("no wheel that loads".into(), 31),
        Verdict::NotFound => ("not found".into(), 31),
        Verdict::DirectReference => ("path or URL".into(), 36),
        Verdict::Unchecked => ("could not be checked".into(), 31),
    }
}

/// The table on stdout. Names, versions and notes come from the user's files and the index:
/// control characters in them are shown escaped.
fn print_table(rows: &[Row], target: &Target) {
    let name_width = column_width(rows.iter().map(|r| r.name.as_str()), MAX_NAME_COLUMN);
    let version_width =
        column_width(rows.iter().map(|r| r.version.as_deref().unwrap_or("-")), MAX_VERSION_COLUMN);
    println!("{:<name_width$}  {:<version_width$} {:<28} notes", "package", "version", "status");
    for row in rows {
        let (text, code) = verdict_text(row, target);
        let mut notes: Vec<String> = Vec::new();
        if !row.wheel_mismatches.is_empty() && row.verdict != Verdict::Wheelhouse {
            let kinds: Vec<String> = row.wheel_mismatches.iter().map(|m| m.describe(target)).collect();
            notes.push(format!("wheels only for {}", kinds.join(", ")));
        }
        if let Some(newest) = &row.newest {
            notes.push(format!("newest {newest} has nothing that loads"));
        }
        if row.verdict == Verdict::Wheelhouse {
            // What the index offers no longer matters: the wheel is here.
        } else if let Some(binary) = &row.prefer_binary {
            notes.push(format!("--prefer-binary would take {binary}"));
        } else if matches!(row.verdict, Verdict::MustBuild | Verdict::WillNotLoad) {
            notes.push("no release has a wheel for this target".into());
        }
        if let Some(ft) = &row.free_threading {
            notes.push(format!("Free Threading: {ft}"));
        }
        if !row.direct && !row.required_by.is_empty() {
            notes.push(format!("via {}", row.required_by.join(", ")));
        }
        notes.extend(row.notes.iter().cloned());
        let line = format!(
            "{:<name_width$}  {:<version_width$} {} {}",
            fit(&row.name, name_width),
            fit(row.version.as_deref().unwrap_or("-"), version_width),
            colour(&format!("{text:<28}"), code),
            escape_control(&notes.join("; "))
        );
        println!("{}", line.trim_end());
    }
}

/// Table columns are as wide as their longest cell, within these bounds; longer cells are
/// shortened (the JSON report has them whole).
const MAX_NAME_COLUMN: usize = 40;
const MAX_VERSION_COLUMN: usize = 40;
const MIN_COLUMN: usize = 7;

fn column_width<'a>(cells: impl Iterator<Item = &'a str>, max: usize) -> usize {
    cells.map(|c| escape_control(c).chars().count()).max().unwrap_or(0).clamp(MIN_COLUMN, max)
}

/// `text` escaped, and cut to `width` characters with a `…` at the end when longer.
fn fit(text: &str, width: usize) -> String {
    let escaped = escape_control(text);
    if escaped.chars().count() <= width {
        return escaped.into_owned();
    }
    let mut out: String = escaped.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn print_summary(summary: &Summary, label: &str) {
    let mut parts = Vec::new();
    if summary.must_build > 0 {
        parts.push(format!("{} must be built (`ftpy wheels build`)", summary.must_build));
    }
    if summary.will_not_load > 0 {
        parts.push(format!("{} will not load", summary.will_not_load));
    }
    if summary.not_found > 0 {
        parts.push(format!("{} not found", summary.not_found));
    }
    if summary.unchecked > 0 {
        parts.push(format!("{} could not be checked", summary.unchecked));
    }
    let line = format!("{} of {} ready for {label}", summary.ready, summary.total);
    if parts.is_empty() {
        println!("{}", colour(&line, 32));
    } else {
        println!("{}; {}", colour(&line, 33), parts.join(", "));
    }
}

#[derive(Debug)]
enum BuildState {
    Reused(PathBuf),
    Built(PathBuf),
    Failed { log: PathBuf, hints: Vec<String>, said: Vec<String> },
}

pub fn build(args: WheelsBuildArgs, ctx: &Context) -> Result<ExitCode, Error> {
    if let Some(text) = &args.selection.python
        && text.parse::<VersionRequest>().is_ok_and(|r| r.variant == Variant::Gil)
    {
        return Err(Error::Usage {
            message: format!(
                "--python {text} is a GIL build: `ftpy wheels build` builds for free-threaded interpreters"
            ),
            hints: vec![format!("add the `t`: --python {text}t")],
        });
    }
    let (python, target, client, _inputs, rows) = run_check(ctx, &args.selection, &[], true)?;
    let Some(inst) = python.installed.clone() else {
        return Err(crate::interpreters::install::InstallError::NotInstalled { request: python.series_request(), suggest_install: true }.into());
    };
    let wheelhouse = args.wheelhouse.clone().unwrap_or_else(|| ctx.home.wheelhouse_dir(&inst.key));
    let wanted: Vec<&Row> =
        rows.iter().filter(|r| matches!(r.verdict, Verdict::MustBuild | Verdict::Wheelhouse)).collect();
    for row in rows
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::WillNotLoad | Verdict::NotFound | Verdict::Unchecked))
    {
        ctx.reporter.warn(format!(
            "{}: {} (nothing to build from)",
            escape_control(&row.name),
            verdict_text(row, &target).0
        ));
    }
    if wanted.is_empty() {
        println!(
            "Nothing to build: every requirement has a wheel for {} or cannot be built from an sdist",
            python.label()
        );
        return Ok(ExitCode::SUCCESS);
    }
    ctx.home.create()?;
    let index_args: Vec<String> = client
        .config
        .urls
        .iter()
        .enumerate()
        .flat_map(|(i, url)| {
            [if i == 0 { "--index-url" } else { "--extra-index-url" }.to_string(), url.clone()]
        })
        .collect();
    let mut states: Vec<(&Row, BuildState)> = Vec::new();
    for row in &wanted {
        let version = row.version.clone().expect("must-build rows have a version");
        if let Some(existing) = build::find_built(&wheelhouse, &row.name, &version) {
            states.push((row, BuildState::Reused(existing)));
            continue;
        }
        let started = Instant::now();
        let mut task = ctx.reporter.task(&format!("{} {version}", row.name));
        if std::io::stderr().is_terminal() {
            // The spinner shows the time as it runs.
            task.phase("building from source");
        } else {
            // A plain line now, and the time it took when done (not a start time of "0s").
            ctx.reporter.info(format!("{} {version}: building from source", escape_control(&row.name)));
        }
        let log = ctx.home.logs_dir().join(format!("wheel-{}-{version}-{}.log", row.name, inst.key));
        let outcome =
            build::build(&inst.interpreter(), &row.name, &version, &index_args, &wheelhouse, &log)
                .map_err(Error::io("cannot run pip wheel"))?;
        task.finish();
        let took = started.elapsed();
        ctx.reporter.info(format!(
            "{} {version}: {} in {}",
            escape_control(&row.name),
            if outcome.wheel.is_ok() { "built" } else { "FAILED" },
            format_duration(took)
        ));
        states.push((
            row,
            match outcome.wheel {
                Ok(path) => BuildState::Built(path),
                Err(blockers) => BuildState::Failed {
                    log: outcome.log,
                    hints: blockers.iter().map(|b| b.hint()).collect(),
                    said: outcome.said,
                },
            },
        ));
    }

    // A wheel whose dependencies cannot be installed (one failed to build here, or the index
    // has nothing that loads) cannot be proved: leave it out of the scratch install, which
    // would only build the failed one again and fail.
    let blocked = blocked_by(&rows, &states);
    let wheels: Vec<PathBuf> = states
        .iter()
        .filter(|(row, _)| !blocked.contains_key(&row.name))
        .filter_map(|(_, s)| match s {
            BuildState::Built(p) | BuildState::Reused(p) => Some(p.clone()),
            BuildState::Failed { .. } => None,
        })
        .collect();
    // Prove the wheels: install them into a scratch environment and import each extension
    // module in a fresh process with PYTHON_GIL unset.
    let verified = if wheels.is_empty() {
        Verified::Nothing
    } else {
        verify(ctx, &inst, &wheels, &wheelhouse, &index_args)?
    };
    print_build_report(&states, &verified, &blocked);
    println!("wheelhouse: {}", wheelhouse.display());

    let mut failed = Vec::new();
    let mut hints = Vec::new();
    for (row, state) in &states {
        if let BuildState::Failed { log, hints: found, said } = state {
            let name = escape_control(&row.name);
            failed.push(name.to_string());
            for hint in found {
                hints.push(format!("{name}: {hint}"));
            }
            for line in said.iter().take(4) {
                hints.push(format!("{name}: the build said: {line}"));
            }
            hints.push(format!("{name}: the build log is {}", log.display()));
        }
    }
    if let Verified::InstallFailed(failure) = &verified {
        // Packages pip could not install that are not ours to build: name them and what pip said.
        let ours: Vec<String> = states.iter().map(|(r, _)| normalize_name(&r.name)).collect();
        let others: Vec<String> = failure
            .packages
            .iter()
            .map(|(name, _)| escape_control(name).into_owned())
            .filter(|name| !ours.contains(&normalize_name(name)))
            .collect();
        if others.is_empty() && failed.is_empty() {
            failed.push("a dependency of the built wheels".into());
        }
        failed.extend(others.iter().map(|n| format!("{n} (a dependency, in the scratch install)")));
        for line in failure.key_lines.iter().take(4) {
            hints.push(format!("the scratch install said: {line}"));
        }
        hints.push(format!(
            "the wheels could not be installed to be checked; pip's output is in {}",
            failure.log.display()
        ));
    }
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    Err(Error::WheelBuild { failed, hints })
}

/// What proving the wheels gave.
enum Verified {
    /// Nothing to install (every wheel failed, or each waits for one that failed).
    Nothing,
    Scanned(gil_scan::GilReport),
    /// The scratch install failed: the table still shows every build, with this beside it.
    InstallFailed(crate::projects::pip::PipFailure),
}

/// The built packages that cannot be installed because something they depend on (directly or
/// through others) failed to build here or has nothing installable, with that something.
fn blocked_by(rows: &[Row], states: &[(&Row, BuildState)]) -> std::collections::BTreeMap<String, String> {
    let mut blocked: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    let mut queue: Vec<(String, String)> = states
        .iter()
        .filter(|(_, s)| matches!(s, BuildState::Failed { .. }))
        .map(|(r, _)| (r.name.clone(), r.name.clone()))
        .chain(
            rows.iter()
                .filter(|r| {
                    matches!(r.verdict, Verdict::WillNotLoad | Verdict::NotFound | Verdict::Unchecked)
                })
                .map(|r| (r.name.clone(), r.name.clone())),
        )
        .collect();
    // Walk up `required_by` ("parent version") from each failure; each name once.
    while let Some((name, cause)) = queue.pop() {
        let Some(row) = rows.iter().find(|r| r.name == name) else { continue };
        for parent in &row.required_by {
            let parent = parent.split_whitespace().next().unwrap_or("").to_string();
            if !blocked.contains_key(&parent) && parent != cause {
                blocked.insert(parent.clone(), cause.clone());
                queue.push((parent, cause.clone()));
            }
        }
    }
    blocked
}

fn print_build_report(
    states: &[(&Row, BuildState)],
    verified: &Verified,
    blocked: &std::collections::BTreeMap<String, String>,
) {
    let name_width = column_width(states.iter().map(|(r, _)| r.name.as_str()), MAX_NAME_COLUMN);
    let version_width =
        column_width(states.iter().map(|(r, _)| r.version.as_deref().unwrap_or("-")), MAX_VERSION_COLUMN);
    println!("{:<name_width$}  {:<version_width$} {:<10} GIL", "package", "version", "wheel");
    for (row, state) in states {
        let gil = match (state, verified) {
            (BuildState::Failed { .. }, _) => "-".to_string(),
            _ if blocked.contains_key(&row.name) => {
                format!(
                    "not checked: needs {}, which cannot be installed",
                    escape_control(&blocked[&row.name])
                )
            }
            (_, Verified::Scanned(r)) => {
                let name = normalize_name(&row.name);
                let culprits: Vec<&str> = r
                    .culprits
                    .iter()
                    .filter(|c| c.distribution.as_deref().map(normalize_name).as_deref() == Some(&name))
                    .map(|c| c.module.as_str())
                    .collect();
                if culprits.is_empty() {
                    "stays off".to_string()
                } else {
                    format!(
                        "TURNED BACK ON by {} (works, but the process loses free-threading)",
                        culprits.join(", ")
                    )
                }
            }
            (_, Verified::InstallFailed(_)) => "not checked: the scratch install failed".to_string(),
            (_, Verified::Nothing) => "-".to_string(),
        };
        let what = match state {
            BuildState::Built(_) => "built",
            BuildState::Reused(_) => "reused",
            BuildState::Failed { .. } => "FAILED",
        };
        println!(
            "{:<name_width$}  {:<version_width$} {:<10} {gil}",
            fit(&row.name, name_width),
            fit(row.version.as_deref().unwrap_or("-"), version_width),
            what
        );
    }
    if let Verified::Scanned(r) = verified {
        for (module, error) in &r.import_errors {
            println!("  note: {module} could not be imported on its own: {}", escape_control(error));
        }
    }
}

/// Install the wheels (dependencies from the index) into a scratch environment made from the
/// interpreter, then scan their extension modules.
fn verify(
    ctx: &Context,
    inst: &Installation,
    wheels: &[PathBuf],
    wheelhouse: &Path,
    index_args: &[String],
) -> Result<Verified, Error> {
    let scratch = tempfile::Builder::new()
        .prefix("verify-")
        .tempdir_in(ctx.home.tmp_dir())
        .map_err(Error::io("cannot create a scratch directory"))?;
    let env = Environment { variant: Variant::Freethreaded, path: scratch.path().join("env") };
    env.create(inst)?;
    let mut args: Vec<String> = vec!["--find-links".into(), wheelhouse.display().to_string()];
    args.extend(index_args.iter().cloned());
    args.extend(wheels.iter().map(|w| w.display().to_string()));
    let log = ctx.home.logs_dir().join(format!("wheel-verify-{}.log", inst.key));
    if let Err(failure) = crate::projects::pip::install(&env.python(), &args, scratch.path(), &log) {
        return Ok(Verified::InstallFailed(failure));
    }
    let names: Vec<String> = wheels.iter().filter_map(|w| build::wheel_project(w)).collect();
    let mut report = gil_scan::scan(&env.python())?;
    report.culprits.retain(|c| c.distribution.as_deref().is_some_and(|d| names.contains(&normalize_name(d))));
    Ok(Verified::Scanned(report))
}
