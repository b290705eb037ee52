//! The check `ftpy wheels check` and `ftpy wheels build` share, in the order it runs: the
//! [`Selection`] names the requirements and the target; [`read_inputs`] reads the requirements
//! (chosen as `ftpy venv` chooses them, dependencies only); [`target_python`] picks the
//! interpreter; [`client`] finds the index pip would use; `resolve::check` gives each requirement
//! a verdict, and [`count_wheelhouse`] counts what `ftpy wheels build` already built. The answer
//! is a [`CheckReport`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::context::Context;
use crate::error::Error;
use crate::interpreters::installation::{self, Installation};
use crate::interpreters::version::{BuildKind, InstallKey, MinorVersion, Variant, VersionRequest};
use crate::output::terminal_text::escape_control;
use crate::projects::project::{self, PyProject, PythonSource, PythonWish, Requirements};
use crate::projects::requirements_file::{ReadBudget, RequirementLines};
use crate::wheels::WheelsError;
use crate::wheels::index::{self, IndexClient, IndexConfig};
use crate::wheels::resolve::{self, RootRequirement, Row, TargetEnv, Verdict};
use crate::wheels::tags::{self, Target};

/// What to check, against which index: the options `ftpy wheels check` and `ftpy wheels build`
/// share (and `ftpy venv --build-wheels` fills in).
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// The project whose dependencies are read when no requirements file is named; the
    /// nearest one from the current directory when `None`.
    pub project: Option<PathBuf>,
    /// Requirements files (`-r`).
    pub requirements: Vec<PathBuf>,
    /// The target interpreter as asked for (`3.13t`); `None`: the project's wish, else the newest
    /// installed free-threaded build.
    pub python: Option<String>,
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
    /// Read index pages again even when cached a few minutes ago.
    pub refresh: bool,
    /// For the newest ThreadSanitizer build the wish accepts (`wheels build --tsan`).
    pub tsan: bool,
}

/// Whether the check is for a build, which needs the target interpreter installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Check,
    Build,
}

/// Index pages younger than this are read from the cache.
const PAGE_TTL: Duration = Duration::from_secs(600);

/// The interpreter the wheels are for: an installed one when there is one, else a release the
/// recipes know (the check needs only its tags).
pub struct TargetPython {
    pub series: MinorVersion,
    pub variant: Variant,
    pub full_version: String,
    /// The installation's key, or the release the recipes resolve to: whose wheelhouse counts.
    pub key: InstallKey,
    pub installed: Option<Installation>,
    /// Where the choice came from: `--python`, `.python-version`, `requires-python`, ...
    pub source: PythonSource,
}

impl TargetPython {
    pub fn label(&self) -> String {
        format!("cp{}{}{}", self.series.major, self.series.minor, self.variant.suffix())
    }

    /// `3.13t`: what to install to build for this target.
    pub fn series_request(&self) -> String {
        format!("{}{}", self.series, self.variant.suffix())
    }
}

/// The newest installed ThreadSanitizer build the wish accepts; it must be installed.
fn tsan_target(ctx: &Context, wish: &PythonWish, source: PythonSource) -> Result<TargetPython, Error> {
    let mut found: Vec<Installation> = installation::installed(&ctx.home)
        .map_err(Error::io("cannot read the installed versions"))?
        .into_iter()
        .filter(|i| i.key.build == BuildKind::Tsan && wish.accepts(&i.key.version))
        .collect();
    found.sort_by(|a, b| {
        (a.key.version.is_final(), &a.key.version).cmp(&(b.key.version.is_final(), &b.key.version))
    });
    let Some(inst) = found.pop() else {
        let series = match wish {
            PythonWish::Request(r) => r.series().map(|s| format!("{s}t")).unwrap_or_else(|| "3.14t".into()),
            _ => "3.14t".into(),
        };
        return Err(crate::interpreters::install::InstallError::NotInstalled {
            request: format!("{series} --profile tsan"),
            suggest_install: true,
        }
        .into());
    };
    Ok(TargetPython {
        series: inst.key.version.series(),
        variant: Variant::Freethreaded,
        full_version: inst.key.version.to_string(),
        key: inst.key.clone(),
        installed: Some(inst),
        source,
    })
}

/// Choose the target as `ftpy venv` chooses its Python (`project::python_wish`): `--python`,
/// else the project's `.python-version`, else its `requires-python`, else the newest installed
/// free-threaded build. A wish from the project means its free-threaded build; `--python` is
/// taken as written (`--python 3.13` checks the GIL build). What is not installed is looked up
/// in the recipes: never another series.
fn target_python(ctx: &Context, selection: &Selection, purpose: Purpose) -> Result<TargetPython, Error> {
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
    if selection.tsan {
        return tsan_target(ctx, &wish, source);
    }
    let found = installation::newest_installed(&ctx.home, variant, |v| wish.accepts(v))
        .map_err(Error::io("cannot read the installed versions"))?;
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
            InstallKey::release(newest, variant)
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
    if purpose == Purpose::Build {
        // Building needs the interpreter itself: say which, and where the wish came from.
        ctx.reporter.info(format!("Building for {} (from {})", target.series_request(), target.source));
        return Err(crate::interpreters::install::InstallError::NotInstalled {
            request: target.series_request(),
            suggest_install: true,
        }
        .into());
    }
    ctx.reporter.info(format!(
        "{} is not installed: checking for {} from the version alone ({} in the recipes)",
        target.series_request(),
        target.label(),
        target.full_version
    ));
    Ok(target)
}

/// The requirements to check, as `ftpy venv` chooses them ([`Requirements::choose`], dependencies
/// only): -r files, else the project's pyproject.toml dependencies, else its requirements.txt;
/// with what the files say about the index.
struct Inputs {
    pub roots: Vec<RootRequirement>,
    pub direct: Vec<(String, String)>,
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
    /// `--pre` in a requirements file.
    pub pre: bool,
    pub find_links: Vec<String>,
}

fn read_inputs(selection: &Selection) -> Result<Inputs, Error> {
    crate::projects::requirements_file::check_files(&selection.requirements)?;
    let mut inputs = Inputs {
        roots: vec![],
        direct: vec![],
        index_url: None,
        extra_index_urls: vec![],
        pre: false,
        find_links: vec![],
    };
    let mut files = selection.requirements.clone();
    if files.is_empty() {
        let root = project::find_root(selection.project.as_deref(), false)?;
        let path = root.join("pyproject.toml");
        let pyproject = if path.is_file() { Some(PyProject::read(&path)?) } else { None };
        match Requirements::choose(&root, &[], pyproject.as_ref(), true) {
            Requirements::Dependencies(dependencies) => {
                let origin = path.display().to_string();
                inputs.roots.extend(
                    dependencies.into_iter().map(|text| RootRequirement { text, origin: origin.clone() }),
                );
            }
            Requirements::Files(found) => files = found,
            Requirements::EditableProject | Requirements::Nothing => {
                return Err(Error::Usage {
                    message: format!(
                        "nothing to check in {}: no -r file, no pyproject.toml dependencies, no requirements.txt",
                        root.display()
                    ),
                    hints: vec!["name a requirements file with -r".into()],
                });
            }
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
    Ok(inputs)
}

fn client(
    ctx: &Context,
    selection: &Selection,
    inputs: &Inputs,
    python: &TargetPython,
) -> Result<IndexClient, Error> {
    let mut extras = selection.extra_index_urls.clone();
    extras.extend(inputs.extra_index_urls.iter().cloned());
    let flag = selection.index_url.as_deref().or(inputs.index_url.as_deref());
    let interpreter = python.installed.as_ref().map(Installation::interpreter);
    let config = index::index_config(flag, &extras, interpreter.as_deref())?;
    let ttl = if selection.refresh { Duration::ZERO } else { PAGE_TTL };
    Ok(IndexClient::new(config, Some(ctx.home.cache_dir().join("index")), ttl))
}

#[derive(Serialize)]
pub struct Summary {
    pub total: usize,
    pub ready: usize,
    pub must_build: usize,
    pub will_not_load: usize,
    pub not_found: usize,
    /// Projects whose index page could not be read (while others could).
    pub unchecked: usize,
    pub direct_references: usize,
}

impl Summary {
    pub fn of(rows: &[Row]) -> Summary {
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

/// The answer of a check: for the target, against the index, a row per requirement.
pub struct CheckReport {
    pub python: TargetPython,
    pub target: Target,
    pub index: IndexConfig,
    pub rows: Vec<Row>,
    pub summary: Summary,
}

impl CheckReport {
    /// `--strict`: an error when anything lacks a usable wheel.
    pub fn require_all(&self) -> Result<(), WheelsError> {
        let missing = self.summary.total - self.summary.ready;
        if missing == 0 {
            return Ok(());
        }
        Err(WheelsError::Missing {
            count: missing,
            total: self.summary.total,
            target: self.python.label(),
            must_build: self.summary.must_build,
            not_found: self.summary.not_found,
        })
    }
}

/// `ftpy wheels check`: which requirements have a wheel that loads in the target, on this
/// machine's platforms or on `platforms` (pip's `--platform`).
pub fn check(ctx: &Context, selection: &Selection, platforms: &[String]) -> Result<CheckReport, Error> {
    run(ctx, selection, platforms, Purpose::Check)
}

/// Everything `check` and `build` share: the target, the index, the answer.
pub(crate) fn run(
    ctx: &Context,
    selection: &Selection,
    platforms: &[String],
    purpose: Purpose,
) -> Result<CheckReport, Error> {
    let inputs = read_inputs(selection)?;
    let python = target_python(ctx, selection, purpose)?;
    let platforms =
        if platforms.is_empty() { tags::host_platforms() } else { tags::custom_platforms(platforms) };
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
    let summary = Summary::of(&rows);
    Ok(CheckReport { python, target, index: client.config, rows, summary })
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
