//! Wheel coverage: for each requirement and each dependency it pulls in, the release pip would
//! install for the target interpreter, and whether that release comes as a wheel that loads
//! there.
//!
//! The choice follows pip's rules for one interpreter and platform: the newest release allowed by
//! every requirement on the project, pre-releases only when a specifier names one or nothing else
//! matches, yanked files only for an exact `==` pin, files whose `Requires-Python` excludes the
//! target left out, and a release counted as installable when it has a wheel for the target or
//! an sdist pip could build. Dependencies come from the chosen release's core metadata, with
//! markers evaluated for the target. Unlike pip, there is no backtracking: when requirements
//! conflict, the newest release allowed by all of them is reported, or none.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::Mutex;

use pep508_rs::pep440_rs::{Operator, Version, VersionSpecifiers};
use pep508_rs::{ExtraName, MarkerEnvironment, MarkerEnvironmentBuilder, Requirement, VersionOrUrl};
use serde::Serialize;

use crate::output::terminal_text::{escape_control, escape_shortened};
use crate::wheels::index::{CoreMetadata, IndexClient, IndexError, IndexFile, ProjectPage};
use crate::wheels::tags::{DistFilename, Target, WheelMismatch, normalize_name};

/// What a requirement's chosen release offers the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// A compiled wheel built for the target ABI (`cp313t`).
    TargetWheel,
    /// A pure-Python wheel: loads anywhere.
    PureWheel,
    /// Only an sdist on the index, but `ftpy wheels build` made a wheel of that release for the
    /// target: it is in the wheelhouse `ftpy venv` installs from.
    Wheelhouse,
    /// Only an sdist for the target: pip would build it.
    MustBuild,
    /// No release has anything installable: only abi3 or GIL-ABI (or other) wheels.
    WillNotLoad,
    /// No such project, or no release matches the requirement.
    NotFound,
    /// A path or URL: pip builds it from source; nothing to look up.
    DirectReference,
    /// The index could not be read for this project (its page failed or made no sense), while
    /// it answered for others; the notes say why.
    Unchecked,
}

impl Verdict {
    pub fn is_ready(self) -> bool {
        matches!(self, Verdict::TargetWheel | Verdict::PureWheel | Verdict::Wheelhouse)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub name: String,
    /// The requirement as written, or the specifiers dependencies put on it.
    pub requirement: String,
    /// True for what the user's files name; false for dependencies pulled in.
    pub direct: bool,
    pub required_by: Vec<String>,
    /// The release pip would install (or, for will-not-load, the newest matching one).
    pub version: Option<String>,
    pub verdict: Verdict,
    /// The newest matching release, when pip would not take it (it has nothing installable).
    pub newest: Option<String>,
    /// The newest matching release with a wheel for the target, when that is not `version`:
    /// what `--prefer-binary` would take.
    pub prefer_binary: Option<String>,
    /// Why the wheels at `version` do not load: `abi3`, `gil-abi`, ...
    pub wheel_mismatches: Vec<WheelMismatch>,
    /// The Free Threading trove classifier's value, when the project declares one.
    pub free_threading: Option<String>,
    pub notes: Vec<String>,
}

/// The interpreter and platform the answer is for.
pub struct TargetEnv {
    pub target: Target,
    /// `3.14.0` for `3.14.0rc2`: what pip compares `Requires-Python` with.
    pub python_release: Version,
    /// pip's `--pre`: pre-releases are candidates like any other release.
    pub pre: bool,
    pub markers: MarkerEnvironment,
}

impl TargetEnv {
    /// Markers follow the platform: Linux unless the platform tags say Windows or macOS.
    pub fn new(target: Target, python_full: &str) -> Result<TargetEnv, String> {
        let first = target.platforms.first().cloned().unwrap_or_default();
        let (sys_platform, system, os_name) = if first.starts_with("win") {
            ("win32", "Windows", "nt")
        } else if first.starts_with("macosx") {
            ("darwin", "Darwin", "posix")
        } else {
            ("linux", "Linux", "posix")
        };
        let machine = if first.is_empty() {
            std::env::consts::ARCH.to_string()
        } else if first.ends_with("amd64") {
            "AMD64".to_string()
        } else {
            ["x86_64", "aarch64", "arm64", "i686", "ppc64le", "s390x", "armv7l"]
                .into_iter()
                .find(|a| first.ends_with(a))
                .unwrap_or(std::env::consts::ARCH)
                .to_string()
        };
        let series = format!("{}.{}", target.series.major, target.series.minor);
        let markers = MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: "cpython",
            implementation_version: python_full,
            os_name,
            platform_machine: &machine,
            platform_python_implementation: "CPython",
            platform_release: "",
            platform_system: system,
            platform_version: "",
            python_full_version: python_full,
            python_version: &series,
            sys_platform,
        })
        .map_err(|e| e.to_string())?;
        let python_full = Version::from_str(python_full).map_err(|e| e.to_string())?;
        let python_release = Version::new(python_full.release().iter().copied());
        Ok(TargetEnv { target, python_release, markers, pre: false })
    }
}

/// One requirement the user named, with where it came from.
pub struct RootRequirement {
    pub text: String,
    pub origin: String,
}

#[derive(Clone, Default)]
struct Wanted {
    specifiers: Vec<VersionSpecifiers>,
    texts: Vec<String>,
    extras: BTreeSet<String>,
    required_by: Vec<String>,
    direct: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{origin}: `{text}` is not a valid requirement: {message}")]
    Invalid { text: String, origin: String, message: String },
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl crate::error::Diagnose for ResolveError {
    fn exit_code(&self) -> crate::error::ExitCode {
        match self {
            ResolveError::Invalid { .. } => crate::error::ExitCode::Usage,
            ResolveError::Index(e) => e.exit_code(),
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            ResolveError::Invalid { .. } => Vec::new(),
            ResolveError::Index(e) => e.hints(),
        }
    }
}

struct Choice {
    row: Row,
    /// The file whose metadata gives the dependencies and classifiers.
    metadata_file: Option<IndexFile>,
}

/// Check every root requirement and its dependencies against the index.
///
/// Rounds repeat until nothing changes: the requirements are the roots plus the dependencies of
/// the releases chosen in the previous round (so a dependency of a release no longer chosen
/// drops out), the pages of new names are fetched, every name is chosen again, and the metadata
/// of new choices is fetched; pages and metadata are fetched concurrently.
pub fn check(
    client: &IndexClient,
    env: &TargetEnv,
    roots: &[RootRequirement],
    direct_references: &[(String, String)],
) -> Result<Vec<Row>, ResolveError> {
    let mut root_wants: BTreeMap<String, Wanted> = BTreeMap::new();
    let mut rows_direct: Vec<Row> = Vec::new();
    for root in roots {
        let requirement = parse_requirement(&root.text).map_err(|message| ResolveError::Invalid {
            text: escape_shortened(&root.text, SHOWN_CHARS),
            origin: escape_control(&root.origin).into_owned(),
            message,
        })?;
        if !requirement.marker.evaluate(&env.markers, &[]) {
            continue;
        }
        let name = normalize_name(requirement.name.as_ref());
        if let Some(VersionOrUrl::Url(url)) = &requirement.version_or_url {
            rows_direct.push(direct_row(&name, &url.to_string(), &root.origin));
            continue;
        }
        let entry = root_wants.entry(name).or_default();
        if let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url {
            entry.specifiers.push(specifiers.clone());
        }
        entry.direct = true;
        entry.texts.push(root.text.clone());
        entry.extras.extend(requirement.extras.iter().map(|e| e.to_string()));
    }
    for (text, origin) in direct_references {
        rows_direct.push(direct_row(text, text, origin));
    }

    // A page that cannot be read fails its project only; when no page at all can be read, the
    // index is not answering, and that is the error.
    let mut pages: HashMap<String, Result<ProjectPage, IndexError>> = HashMap::new();
    let mut metadata: HashMap<(String, String), Result<CoreMetadata, String>> = HashMap::new();
    let mut choices: BTreeMap<String, Choice> = BTreeMap::new();
    let mut wanted = BTreeMap::new();
    let mut cut_short = BTreeSet::new();
    let mut last_state: Option<Vec<(String, Option<String>, usize)>> = None;
    for _round in 0..64 {
        (wanted, cut_short) = expand(&root_wants, &choices, &metadata, env);
        let missing: Vec<String> = wanted.keys().filter(|n| !pages.contains_key(*n)).cloned().collect();
        for (name, page) in parallel(&missing, |name| client.project(name)) {
            pages.insert(name, page);
        }
        if !pages.is_empty() && pages.values().all(|p| p.is_err()) {
            let first = pages.into_values().find_map(Result::err).expect("all failed");
            return Err(ResolveError::Index(first));
        }
        choices = wanted
            .iter()
            .map(|(name, want)| {
                let choice = match &pages[name] {
                    Ok(page) => choose(name, want, page, env),
                    Err(e) => unchecked(name, want, e),
                };
                (name.clone(), choice)
            })
            .collect();
        let to_read: Vec<((String, String), IndexFile)> = choices
            .iter()
            .filter_map(|(name, c)| {
                let key = (name.clone(), c.row.version.clone()?);
                (!metadata.contains_key(&key)).then(|| c.metadata_file.clone().map(|f| (key, f))).flatten()
            })
            .collect();
        for ((key, file), result) in parallel(&to_read, |(_, file)| client.metadata(file)) {
            let parse = |text: String| {
                if file.filename.ends_with(".whl") {
                    CoreMetadata::parse(&text)
                } else {
                    CoreMetadata::parse_sdist(&text)
                }
            };
            metadata.insert(key, result.map_err(|e| e.to_string()).and_then(parse));
        }
        let state: Vec<(String, Option<String>, usize)> = wanted
            .iter()
            .map(|(n, w)| (n.clone(), choices[n].row.version.clone(), w.specifiers.len() + w.extras.len()))
            .collect();
        if to_read.is_empty() && last_state.as_ref() == Some(&state) {
            break;
        }
        last_state = Some(state);
    }

    let mut rows: Vec<Row> = Vec::new();
    for (name, choice) in choices {
        let mut row = choice.row;
        row.required_by = wanted[&name].required_by.clone();
        if let Some(version) = &row.version {
            match metadata.get(&(name.clone(), version.clone())) {
                Some(Ok(meta)) => {
                    row.free_threading = meta.free_threading_classifier();
                    if meta.requires_dist_dropped > 0 {
                        row.notes.push(format!(
                            "its metadata declares {} more dependencies than the {} ftpy reads; those were not checked",
                            meta.requires_dist_dropped,
                            crate::wheels::index::MAX_REQUIRES_DIST
                        ));
                    }
                    if meta.dynamic_requires {
                        row.notes.push("its dependencies are known only after building it".into());
                    }
                    for extra in &wanted[&name].extras {
                        if !meta.provides_extra.contains(&normalize_name(extra)) {
                            row.notes.push(format!("has no extra `{extra}`"));
                        }
                    }
                    for text in &meta.requires_dist {
                        if let Err(why) = parse_requirement(text) {
                            row.notes.push(format!(
                                "unreadable dependency `{}` (not followed): {why}",
                                escape_shortened(text, SHOWN_CHARS)
                            ));
                        }
                    }
                }
                Some(Err(e)) => row.notes.push(format!("dependencies unknown: {}", escape_control(e))),
                None => {}
            }
        }
        if cut_short.contains(&name) {
            row.notes.push(format!(
                "some of its dependencies were not checked: the check reached {MAX_PROJECTS} projects"
            ));
        }
        rows.push(row);
    }
    rows.sort_by(|a, b| b.direct.cmp(&a.direct).then_with(|| a.name.cmp(&b.name)));
    rows.extend(rows_direct);
    Ok(rows)
}

/// The requirements of this round: the roots, then the dependencies of every chosen release
/// reachable from them, with markers evaluated for the target and the extras each release
/// declares. No dependency adds a project past [`MAX_PROJECTS`]; the second value names the
/// projects some of whose dependencies were left out for that.
fn expand(
    roots: &BTreeMap<String, Wanted>,
    choices: &BTreeMap<String, Choice>,
    metadata: &HashMap<(String, String), Result<CoreMetadata, String>>,
    env: &TargetEnv,
) -> (BTreeMap<String, Wanted>, BTreeSet<String>) {
    let mut cut_short = BTreeSet::new();
    let mut wanted = roots.clone();
    let mut done: BTreeSet<(String, BTreeSet<String>)> = BTreeSet::new();
    // Names touched since they were last expanded, smallest first (the order of the old full
    // scan, without its cost: quadratic in the number of projects).
    let mut pending: BTreeSet<String> = wanted.keys().cloned().collect();
    while let Some(name) = pending.pop_first() {
        let extras = wanted[&name].extras.clone();
        if !done.insert((name.clone(), extras.clone())) {
            continue;
        }
        let Some(version) = choices.get(&name).and_then(|c| c.row.version.clone()) else { continue };
        let Some(Ok(meta)) = metadata.get(&(name.clone(), version.clone())) else { continue };
        // As pip does: an extra the release does not declare is ignored.
        let extras: Vec<ExtraName> = extras
            .iter()
            .filter(|e| meta.provides_extra.contains(&normalize_name(e)))
            .filter_map(|e| ExtraName::from_str(e).ok())
            .collect();
        let parent = format!("{name} {version}");
        for text in &meta.requires_dist {
            let Ok(dep) = parse_requirement(text) else { continue };
            if !dep.marker.evaluate(&env.markers, &extras) {
                continue;
            }
            let dep_name = normalize_name(dep.name.as_ref());
            if wanted.len() >= MAX_PROJECTS && !wanted.contains_key(&dep_name) {
                cut_short.insert(name.clone());
                continue;
            }
            pending.insert(dep_name.clone());
            let entry = wanted.entry(dep_name).or_default();
            if !entry.required_by.contains(&parent) {
                entry.required_by.push(parent.clone());
            }
            if let Some(VersionOrUrl::VersionSpecifier(s)) = &dep.version_or_url
                && !entry.specifiers.contains(s)
            {
                entry.specifiers.push(s.clone());
                entry.texts.push(format!("{s}"));
            }
            for extra in &dep.extras {
                entry.extras.insert(extra.to_string());
            }
        }
    }
    (wanted, cut_short)
}

/// The projects one check looks up, at most (the roots aside): real dependency trees have a
/// few hundred; an index whose metadata names more is lying, and each is a request.
const MAX_PROJECTS: usize = 2000;
/// A project name longer than this is a lie, not a name: far beyond any real project's, and
/// as a URL it makes an index answer "URI too long" (which would then fail the whole check).
const MAX_NAME_CHARS: usize = 256;
/// How much of a requirement an error or a note repeats.
const SHOWN_CHARS: usize = 120;

/// A PEP 508 requirement, from the user's files or a release's metadata, with a name of at
/// most [`MAX_NAME_CHARS`]; the reason otherwise, fit to print.
fn parse_requirement(text: &str) -> Result<Requirement<pep508_rs::VerbatimUrl>, String> {
    let name_chars = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .count();
    if name_chars > MAX_NAME_CHARS {
        return Err(format!("a project name of {name_chars} characters"));
    }
    Requirement::<pep508_rs::VerbatimUrl>::from_str(text)
        .map_err(|e| escape_shortened(&e.message.to_string(), 2 * SHOWN_CHARS))
}

/// The row of a project whose page could not be read.
fn unchecked(name: &str, want: &Wanted, error: &IndexError) -> Choice {
    let requirement = if want.texts.is_empty() { name.to_string() } else { want.texts.join(", ") };
    let row = Row {
        name: name.to_string(),
        requirement,
        direct: want.direct,
        required_by: vec![],
        version: None,
        verdict: Verdict::Unchecked,
        newest: None,
        prefer_binary: None,
        wheel_mismatches: vec![],
        free_threading: None,
        notes: vec![format!(
            "the index could not be read for it: {}",
            escape_shortened(&error.to_string(), 400)
        )],
    };
    Choice { row, metadata_file: None }
}

fn direct_row(name: &str, target: &str, origin: &str) -> Row {
    Row {
        name: name.to_string(),
        requirement: target.to_string(),
        direct: true,
        required_by: vec![],
        version: None,
        verdict: Verdict::DirectReference,
        newest: None,
        prefer_binary: None,
        wheel_mismatches: vec![],
        free_threading: None,
        notes: vec![if target.ends_with(".whl") {
            format!("from {origin}; pip installs this wheel as given")
        } else {
            format!("from {origin}; pip builds it from source")
        }],
    }
}

/// Apply pip's rules to one project's files.
fn choose(name: &str, want: &Wanted, page: &ProjectPage, env: &TargetEnv) -> Choice {
    let mut row = Row {
        name: name.to_string(),
        requirement: if want.texts.is_empty() { name.to_string() } else { want.texts.join(", ") },
        direct: want.direct,
        required_by: vec![],
        version: None,
        verdict: Verdict::NotFound,
        newest: None,
        prefer_binary: None,
        wheel_mismatches: vec![],
        free_threading: None,
        notes: vec![],
    };
    if !page.found {
        row.notes.push("no such project on the index".into());
        return Choice { row, metadata_file: None };
    }
    // pip's rules, in its order: files for another Python are out; a release is a candidate when
    // it has a file that installs here (a wheel for the target or an sdist); the specifiers pick
    // among candidates, pre-releases only when a specifier names one or no final one is left;
    // yanked files only when every candidate is yanked and the version is pinned exactly.
    let pinned = want
        .specifiers
        .iter()
        .flat_map(|s| s.iter())
        .any(|s| *s.operator() == Operator::ExactEqual || *s.operator() == Operator::Equal);
    let mut by_version: BTreeMap<Version, Vec<(&IndexFile, DistFilename)>> = BTreeMap::new();
    for file in &page.files {
        let Some(parsed) = DistFilename::parse(&file.filename, name) else { continue };
        if let Some(requires) = &file.requires_python
            && let Ok(spec) = VersionSpecifiers::from_str(requires)
            && !spec.contains(&env.python_release)
        {
            continue;
        }
        by_version.entry(parsed.version.clone()).or_default().push((file, parsed));
    }
    let installs = |f: &DistFilename| !f.is_wheel() || env.target.accepts(f);
    let allows = |v: &Version| want.specifiers.iter().all(|s| s.contains(v));
    let explicit_pre = env.pre
        || want.specifiers.iter().flat_map(|s| s.iter()).any(|s| {
            !matches!(s.operator(), Operator::NotEqual | Operator::NotEqualStar) && s.any_prerelease()
        });
    fn pick<'a>(
        versions: Vec<&'a Version>,
        allows: &dyn Fn(&Version) -> bool,
        explicit_pre: bool,
    ) -> Vec<&'a Version> {
        let mut matching: Vec<&Version> = versions.into_iter().filter(|v| allows(v)).collect();
        if !explicit_pre && matching.iter().any(|v| !v.any_prerelease()) {
            matching.retain(|v| !v.any_prerelease());
        }
        matching
    }
    let live = |v: &Version| by_version[v].iter().any(|(f, p)| f.yanked.is_none() && installs(p));
    let candidates = pick(
        by_version.keys().filter(|v| by_version[*v].iter().any(|(_, p)| installs(p))).collect(),
        &allows,
        explicit_pre,
    );
    let all_yanked = !candidates.is_empty() && !candidates.iter().any(|v| live(v));
    let chosen: Option<&Version> = if all_yanked && pinned {
        candidates.last().copied()
    } else {
        candidates.iter().rev().find(|v| live(v)).copied()
    };
    // For the report: the newest release the requirement allows, whatever its files.
    let listed = pick(
        by_version.keys().filter(|v| by_version[*v].iter().any(|(f, _)| f.yanked.is_none())).collect(),
        &allows,
        explicit_pre,
    );
    let Some(newest) = listed.last().copied().or(chosen) else {
        row.notes.push(if by_version.is_empty() {
            "the index lists no files for this Python".to_string()
        } else {
            format!("no release matches {}", row.requirement)
        });
        if by_version.values().flatten().any(|(f, _)| f.yanked.is_some()) {
            row.notes.push("some releases are yanked".into());
        }
        return Choice { row, metadata_file: None };
    };
    let at = chosen.unwrap_or(newest);
    let files: Vec<&(&IndexFile, DistFilename)> = {
        let unyanked: Vec<_> = by_version[at].iter().filter(|(f, _)| f.yanked.is_none()).collect();
        if unyanked.is_empty() { by_version[at].iter().collect() } else { unyanked }
    };
    row.version = Some(at.to_string());
    if chosen.is_some_and(|c| c < newest) {
        row.newest = Some(newest.to_string());
    }
    if chosen.is_some_and(|c| by_version[c].iter().all(|(f, _)| f.yanked.is_some())) {
        row.notes.push("a yanked release, taken because it is pinned".into());
    }
    let accepted: Vec<&DistFilename> =
        files.iter().map(|(_, f)| f).filter(|f| f.is_wheel() && env.target.accepts(f)).collect();
    row.verdict = if chosen.is_none() {
        Verdict::WillNotLoad
    } else if accepted.iter().any(|f| !f.is_pure_wheel()) {
        Verdict::TargetWheel
    } else if !accepted.is_empty() {
        Verdict::PureWheel
    } else {
        Verdict::MustBuild
    };
    if !row.verdict.is_ready() {
        let mut kinds: Vec<WheelMismatch> =
            files.iter().filter_map(|(_, f)| env.target.rejection(f)).collect();
        kinds.sort();
        kinds.dedup();
        row.wheel_mismatches = kinds;
        let has_target_wheel = |v: &Version| {
            by_version[v].iter().any(|(f, p)| f.yanked.is_none() && p.is_wheel() && env.target.accepts(p))
        };
        row.prefer_binary = listed.iter().rev().find(|v| has_target_wheel(v)).map(|v| v.to_string());
    }
    // Metadata: a wheel with a .metadata file, else the target's wheel, else the sdist.
    let metadata_file = files
        .iter()
        .find(|(f, p)| f.core_metadata && p.is_wheel())
        .or_else(|| files.iter().find(|(_, p)| p.is_wheel() && env.target.accepts(p)))
        .or_else(|| files.iter().find(|(_, p)| !p.is_wheel()))
        .or_else(|| files.first())
        .map(|(f, _)| (*f).clone());
    Choice { row, metadata_file }
}

/// Run `f` over `items` on a few threads; results in input order.
fn parallel<T, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<(T, R)>
where
    T: Clone + Send + Sync,
{
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let next = Mutex::new(0usize);
    let workers = items.len().clamp(1, 16);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let index = {
                        let mut n = next.lock().unwrap();
                        let i = *n;
                        *n += 1;
                        i
                    };
                    if index >= items.len() {
                        break;
                    }
                    let result = f(&items[index]);
                    results.lock().unwrap()[index] = Some(result);
                }
            });
        }
    });
    items
        .iter()
        .cloned()
        .zip(results.into_inner().unwrap().into_iter().map(|r| r.expect("every item ran")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interpreters::version::MinorVersion;

    fn env() -> TargetEnv {
        let platforms = vec!["manylinux_2_17_x86_64".to_string(), "linux_x86_64".to_string()];
        TargetEnv::new(Target::new(MinorVersion { major: 3, minor: 13 }, true, platforms), "3.13.5").unwrap()
    }

    fn file(name: &str) -> IndexFile {
        IndexFile {
            filename: name.into(),
            url: format!("http://x/{name}"),
            requires_python: None,
            yanked: None,
            core_metadata: false,
        }
    }

    fn want(specs: &[&str]) -> Wanted {
        Wanted {
            specifiers: specs.iter().map(|s| VersionSpecifiers::from_str(s).unwrap()).collect(),
            direct: true,
            ..Wanted::default()
        }
    }

    fn page(files: Vec<IndexFile>) -> ProjectPage {
        ProjectPage { found: true, files }
    }

    #[test]
    fn lying_metadata_adds_a_bounded_number_of_projects() {
        let mut text = String::from("Metadata-Version: 2.1\nName: fanout\n");
        for i in 0..3000 {
            text.push_str(&format!("Requires-Dist: dep{i}\n"));
        }
        let meta = CoreMetadata::parse(&text).unwrap();
        assert_eq!((meta.requires_dist.len(), meta.requires_dist_dropped), (2000, 1000));
        let roots: BTreeMap<String, Wanted> = [("fanout".to_string(), want(&[]))].into();
        let choice = choose("fanout", &want(&[]), &page(vec![file("fanout-1.0-py3-none-any.whl")]), &env());
        let choices: BTreeMap<String, Choice> = [("fanout".to_string(), choice)].into();
        let metadata = [(("fanout".to_string(), "1.0".to_string()), Ok(meta))].into();
        let (wanted, cut_short) = expand(&roots, &choices, &metadata, &env());
        assert_eq!(wanted.len(), MAX_PROJECTS);
        assert_eq!(cut_short, BTreeSet::from(["fanout".to_string()]));
    }

    #[test]
    fn pre_releases_only_when_named_or_nothing_else() {
        let p = page(vec![file("demo-1.0-py3-none-any.whl"), file("demo-2.0b1-py3-none-any.whl")]);
        assert_eq!(choose("demo", &want(&[]), &p, &env()).row.version.as_deref(), Some("1.0"));
        assert_eq!(choose("demo", &want(&[">=2.0b1"]), &p, &env()).row.version.as_deref(), Some("2.0b1"));
        let mut pre = env();
        pre.pre = true; // pip's --pre
        assert_eq!(choose("demo", &want(&[]), &p, &pre).row.version.as_deref(), Some("2.0b1"));
        let only_pre = page(vec![file("demo-2.0b1-py3-none-any.whl")]);
        assert_eq!(choose("demo", &want(&[]), &only_pre, &env()).row.version.as_deref(), Some("2.0b1"));
    }

    #[test]
    fn yanked_only_for_an_exact_pin_and_requires_python_filters() {
        let mut yanked = file("demo-2.0-py3-none-any.whl");
        yanked.yanked = Some("bad".into());
        let mut too_new = file("demo-3.0-py3-none-any.whl");
        too_new.requires_python = Some(">=3.14".into());
        let p = page(vec![file("demo-1.0-py3-none-any.whl"), yanked, too_new]);
        assert_eq!(choose("demo", &want(&[]), &p, &env()).row.version.as_deref(), Some("1.0"));
        assert_eq!(choose("demo", &want(&["==2.0"]), &p, &env()).row.version.as_deref(), Some("2.0"));
        let none = choose("demo", &want(&["==3.0"]), &p, &env()).row;
        assert_eq!(none.verdict, Verdict::NotFound);
    }

    #[test]
    fn as_pip_does_for_release_candidates_and_pre_releases_with_wheels() {
        // A 3.14.0rc2 interpreter satisfies Requires-Python >=3.14 (pip compares 3.14.0).
        let platforms = vec!["manylinux_2_17_x86_64".to_string()];
        let rc =
            TargetEnv::new(Target::new(MinorVersion { major: 3, minor: 14 }, true, platforms), "3.14.0rc2")
                .unwrap();
        let mut f = file("demo-1.0-py3-none-any.whl");
        f.requires_python = Some(">=3.14".into());
        assert_eq!(choose("demo", &want(&[]), &page(vec![f]), &rc).row.version.as_deref(), Some("1.0"));
        // Final releases with only GIL wheels, a pre-release with a cp313t wheel: pip takes the
        // pre-release, since no final one installs.
        let p = page(vec![
            file("demo-1.0-cp313-cp313-manylinux_2_17_x86_64.whl"),
            file("demo-1.1rc1-cp313-cp313t-manylinux_2_17_x86_64.whl"),
        ]);
        let row = choose("demo", &want(&[]), &p, &env()).row;
        assert_eq!((row.verdict, row.version.as_deref()), (Verdict::TargetWheel, Some("1.1rc1")));
        // `!=` naming a pre-release does not turn pre-releases on.
        let p = page(vec![file("demo-1.0-py3-none-any.whl"), file("demo-2.0b2-py3-none-any.whl")]);
        assert_eq!(choose("demo", &want(&["!=2.0b1"]), &p, &env()).row.version.as_deref(), Some("1.0"));
    }

    #[test]
    fn a_pin_takes_a_yanked_release_only_when_nothing_else_matches() {
        let mut yanked = file("demo-2.0-py3-none-any.whl");
        yanked.yanked = Some(String::new());
        let p = page(vec![file("demo-2.0.tar.gz"), yanked.clone()]);
        // The sdist of 2.0 is not yanked: it is what pip takes.
        let row = choose("demo", &want(&["==2.0"]), &p, &env()).row;
        assert_eq!((row.verdict, row.version.as_deref()), (Verdict::MustBuild, Some("2.0")));
        let row = choose("demo", &want(&["==2.0"]), &page(vec![yanked.clone()]), &env()).row;
        assert_eq!((row.verdict, row.version.as_deref()), (Verdict::PureWheel, Some("2.0")));
        assert!(row.notes[0].contains("yanked"));
        assert_eq!(
            choose("demo", &want(&[">=2.0"]), &page(vec![yanked]), &env()).row.verdict,
            Verdict::NotFound
        );
    }

    #[test]
    fn verdicts_at_the_release_pip_takes() {
        let p = page(vec![
            file("demo-2.0-cp39-abi3-manylinux_2_17_x86_64.whl"),
            file("demo-2.0-cp313-cp313-manylinux_2_17_x86_64.whl"),
            file("demo-1.0.tar.gz"),
            file("demo-0.9-cp313-cp313t-manylinux_2_17_x86_64.whl"),
        ]);
        let row = choose("demo", &want(&[]), &p, &env()).row;
        assert_eq!(
            (row.verdict, row.version.as_deref(), row.newest.as_deref()),
            (Verdict::MustBuild, Some("1.0"), Some("2.0"))
        );
        assert_eq!(row.prefer_binary.as_deref(), Some("0.9"));
        let row = choose("demo", &want(&[">=2"]), &p, &env()).row;
        assert_eq!((row.verdict, row.version.as_deref()), (Verdict::WillNotLoad, Some("2.0")));
        assert_eq!(row.wheel_mismatches, vec![WheelMismatch::Abi3, WheelMismatch::GilAbi]);
        let row = choose("demo", &want(&["<1"]), &p, &env()).row;
        assert_eq!((row.verdict, row.version.as_deref()), (Verdict::TargetWheel, Some("0.9")));
        let missing = choose("demo", &want(&[]), &ProjectPage { found: false, files: vec![] }, &env()).row;
        assert_eq!(missing.verdict, Verdict::NotFound);
    }
}
