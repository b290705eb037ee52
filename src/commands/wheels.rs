//! `ftpy wheels check` and `ftpy wheels build`: which dependencies have no wheel that loads in
//! the free-threaded interpreter, and building those from source into a wheelhouse that
//! `ftpy venv` installs from.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::cli::{WheelSelection, WheelsBuildArgs, WheelsCheckArgs, WheelsCommand};
use crate::context::Context;
use crate::coverage::{self, RootRequirement, Row, TargetEnv, Verdict};
use crate::error::Error;
use crate::gil_scan;
use crate::installation::{self, Installation};
use crate::package_index::{self, IndexClient, IndexConfig};
use crate::project::{self, PyProject};
use crate::requirements_file::{ReadBudget, RequirementLines};
use crate::terminal_text::escape_control;
use crate::venv::Environment;
use crate::version::{MinorVersion, Variant, VersionRequest};
use crate::wheel_build;
use crate::wheel_tags::{self, Target, normalize_name};

/// Index pages younger than this are read from the cache.
const PAGE_TTL: Duration = Duration::from_secs(600);

pub fn run(command: WheelsCommand, ctx: &Context) -> Result<ExitCode, Error> {
    match command {
        WheelsCommand::Check(args) => check(args, ctx),
        WheelsCommand::Build(args) => build(args, ctx),
    }
}

/// The interpreter the wheels are for: an installed one when there is one, else a release the
/// recipes know.
struct TargetPython {
    series: MinorVersion,
    variant: Variant,
    full_version: String,
    installed: Option<Installation>,
}

impl TargetPython {
    fn label(&self) -> String {
        format!("cp{}{}{}", self.series.major, self.series.minor, self.variant.suffix())
    }
}

fn target_python(ctx: &Context, text: Option<&str>) -> Result<TargetPython, Error> {
    let request: Option<VersionRequest> = text.map(str::parse).transpose()?;
    let installed =
        installation::installed(&ctx.home).map_err(Error::io("cannot read the installed versions"))?;
    let found = match &request {
        Some(r) => installed.into_iter().rfind(|i| i.key.variant == r.variant && r.matches(&i.key.version)),
        None => installed.into_iter().rfind(|i| i.key.variant == Variant::Freethreaded),
    };
    if let Some(inst) = found {
        return Ok(TargetPython {
            series: inst.key.version.series(),
            variant: inst.key.variant,
            full_version: inst.key.version.to_string(),
            installed: Some(inst),
        });
    }
    let recipes = ctx.recipes()?;
    let request = match request {
        Some(r) => r,
        None => {
            let newest = recipes
                .series()
                .filter(|s| {
                    s.supports(Variant::Freethreaded) && s.releases.iter().any(|r| r.version.is_final())
                })
                .map(|s| s.name)
                .max()
                .ok_or_else(|| Error::Usage {
                    message: "no free-threaded series in the recipes".into(),
                    hints: vec![],
                })?;
            format!("{newest}t").parse()?
        }
    };
    let resolved = recipes.resolve(&request)?;
    Ok(TargetPython {
        series: resolved.key.version.series(),
        variant: resolved.key.variant,
        full_version: resolved.key.version.to_string(),
        installed: None,
    })
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
    crate::requirements_file::check_files(&selection.requirements)?;
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
    let config = package_index::index_config(flag, &extras, interpreter.as_deref())?;
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
) -> Result<(TargetPython, Target, IndexClient, Inputs, Vec<Row>), Error> {
    let inputs = read_inputs(selection)?;
    let python = target_python(ctx, selection.python.as_deref())?;
    let platforms = if platforms.is_empty() {
        wheel_tags::host_platforms()
    } else {
        wheel_tags::custom_platforms(platforms)
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
        "Checking {} requirement{}{} for {} (Python {}) against {} ({})",
        inputs.roots.len(),
        if inputs.roots.len() == 1 { "" } else { "s" },
        if inputs.direct.is_empty() {
            String::new()
        } else {
            format!(" (and {} paths or URLs pip takes as given)", inputs.direct.len())
        },
        python.label(),
        python.full_version,
        client.config.shown_urls().join(", "),
        client.config.source
    ));
    let rows = coverage::check(&client, &env, &inputs.roots, &inputs.direct)?;
    Ok((python, target, client, inputs, rows))
}

fn check(args: WheelsCheckArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let (python, target, client, _inputs, rows) = run_check(ctx, &args.selection, &args.platforms)?;
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
    let name_width =
        rows.iter().map(|r| escape_control(&r.name).chars().count()).max().unwrap_or(7).clamp(7, 32);
    println!("{:<name_width$}  {:<12} {:<28} notes", "package", "version", "status");
    for row in rows {
        let (text, code) = verdict_text(row, target);
        let mut notes: Vec<String> = Vec::new();
        if !row.wheel_mismatches.is_empty() {
            let kinds: Vec<String> = row.wheel_mismatches.iter().map(|m| m.describe(target)).collect();
            notes.push(format!("wheels only for {}", kinds.join(", ")));
        }
        if let Some(newest) = &row.newest {
            notes.push(format!("newest {newest} has nothing that loads"));
        }
        if let Some(binary) = &row.prefer_binary {
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
            "{:<name_width$}  {:<12} {} {}",
            escape_control(&row.name),
            escape_control(row.version.as_deref().unwrap_or("-")),
            colour(&format!("{text:<28}"), code),
            escape_control(&notes.join("; "))
        );
        println!("{}", line.trim_end());
    }
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
    Failed { log: PathBuf, hints: Vec<String> },
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
    let (python, target, client, _inputs, rows) = run_check(ctx, &args.selection, &[])?;
    let Some(inst) = python.installed.clone() else {
        let request = format!("{}{}", python.series, python.variant.suffix());
        return Err(Error::NotInstalled { request, suggest_install: true });
    };
    let wheelhouse = args.wheelhouse.clone().unwrap_or_else(|| ctx.home.wheelhouse_dir(&inst.key));
    let wanted: Vec<&Row> = rows.iter().filter(|r| r.verdict == Verdict::MustBuild).collect();
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
        if let Some(existing) = wheel_build::find_built(&wheelhouse, &row.name, &version) {
            states.push((row, BuildState::Reused(existing)));
            continue;
        }
        let mut task = ctx.reporter.task(&format!("{} {version}", row.name));
        task.phase("building from source");
        let log = ctx.home.logs_dir().join(format!("wheel-{}-{version}-{}.log", row.name, inst.key));
        let outcome =
            wheel_build::build(&inst.interpreter(), &row.name, &version, &index_args, &wheelhouse, &log)
                .map_err(Error::io("cannot run pip wheel"))?;
        task.finish();
        states.push((
            row,
            match outcome.wheel {
                Ok(path) => BuildState::Built(path),
                Err(blockers) => BuildState::Failed {
                    log: outcome.log,
                    hints: blockers.iter().map(|b| b.hint()).collect(),
                },
            },
        ));
    }

    // Prove the wheels: install them into a scratch environment and import each extension
    // module in a fresh process with PYTHON_GIL unset.
    let wheels: Vec<PathBuf> = states
        .iter()
        .filter_map(|(_, s)| match s {
            BuildState::Built(p) | BuildState::Reused(p) => Some(p.clone()),
            BuildState::Failed { .. } => None,
        })
        .collect();
    let report =
        if wheels.is_empty() { None } else { Some(verify(ctx, &inst, &wheels, &wheelhouse, &index_args)?) };

    println!("{:<24} {:<12} {:<10} GIL", "package", "version", "wheel");
    let mut failed = Vec::new();
    let mut hints = Vec::new();
    for (row, state) in &states {
        let version = row.version.as_deref().unwrap_or("-");
        let gil = match (&report, state) {
            (_, BuildState::Failed { .. }) => "-".to_string(),
            (Some(r), _) => {
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
            (None, _) => "-".to_string(),
        };
        let what = match state {
            BuildState::Built(_) => "built",
            BuildState::Reused(_) => "reused",
            BuildState::Failed { .. } => "FAILED",
        };
        println!("{:<24} {:<12} {:<10} {gil}", row.name, version, what);
        if let BuildState::Failed { log, hints: found } = state {
            failed.push(row.name.clone());
            for hint in found {
                hints.push(format!("{}: {hint}", row.name));
            }
            hints.push(format!("{}: the build log is {}", row.name, log.display()));
        }
    }
    if let Some(r) = &report {
        for (module, error) in &r.import_errors {
            println!("  note: {module} could not be imported on its own: {error}");
        }
    }
    println!("wheelhouse: {}", wheelhouse.display());
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    Err(Error::WheelBuild { failed, hints })
}

/// Install the wheels (dependencies from the index) into a scratch environment made from the
/// interpreter, then scan their extension modules.
fn verify(
    ctx: &Context,
    inst: &Installation,
    wheels: &[PathBuf],
    wheelhouse: &Path,
    index_args: &[String],
) -> Result<gil_scan::GilReport, Error> {
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
    crate::pip::install(&env.python(), &args, scratch.path(), &log).map_err(|failure| {
        Error::Requirements {
            env: "a scratch environment".into(),
            key: inst.key.to_string(),
            failure,
            rebuild_command: String::new(),
        }
    })?;
    let names: Vec<String> = wheels.iter().filter_map(|w| wheel_build::wheel_project(w)).collect();
    let mut report = gil_scan::scan(&env.python())?;
    report.culprits.retain(|c| c.distribution.as_deref().is_some_and(|d| names.contains(&normalize_name(d))));
    Ok(report)
}
