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

use crate::package_index::{CoreMetadata, IndexClient, IndexError, IndexFile, ProjectPage};
use crate::wheel_tags::{DistFilename, Target, WheelMismatch, normalize_name};

/// What a requirement's chosen release offers the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// A compiled wheel built for the target ABI (`cp313t`).
    TargetWheel,
    /// A pure-Python wheel: loads anywhere.
    PureWheel,
    /// Only an sdist for the target: pip would build it.
    MustBuild,
    /// No release has anything installable: only abi3 or GIL-ABI (or other) wheels.
    WillNotLoad,
    /// No such project, or no release matches the requirement.
    NotFound,
    /// A path or URL: pip builds it from source; nothing to look up.
    DirectReference,
}

impl Verdict {
    pub fn is_ready(self) -> bool {
        matches!(self, Verdict::TargetWheel | Verdict::PureWheel)
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
    pub python_full: Version,
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
        Ok(TargetEnv { target, python_full, markers })
    }
}

/// One requirement the user named, with where it came from.
pub struct RootRequirement {
    pub text: String,
    pub origin: String,
}

#[derive(Default)]
struct Wanted {
    specifiers: Vec<VersionSpecifiers>,
    texts: Vec<String>,
    extras: BTreeSet<String>,
    required_by: Vec<String>,
    direct: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CoverageError {
    #[error("{origin}: `{text}` is not a valid requirement: {message}")]
    Invalid { text: String, origin: String, message: String },
    #[error(transparent)]
    Index(#[from] IndexError),
}

struct Choice {
    row: Row,
    /// The file whose metadata gives the dependencies and classifiers.
    metadata_file: Option<IndexFile>,
}

/// Check every root requirement and its dependencies against the index.
pub fn check(
    client: &IndexClient,
    env: &TargetEnv,
    roots: &[RootRequirement],
    direct_references: &[(String, String)],
) -> Result<Vec<Row>, CoverageError> {
    let mut wanted: BTreeMap<String, Wanted> = BTreeMap::new();
    let mut rows_direct: Vec<Row> = Vec::new();
    for root in roots {
        let requirement = Requirement::<pep508_rs::VerbatimUrl>::from_str(&root.text).map_err(|e| {
            CoverageError::Invalid {
                text: root.text.clone(),
                origin: root.origin.clone(),
                message: e.message.to_string(),
            }
        })?;
        if !requirement.marker.evaluate(&env.markers, &[]) {
            continue;
        }
        let name = normalize_name(requirement.name.as_ref());
        match &requirement.version_or_url {
            Some(VersionOrUrl::Url(url)) => {
                rows_direct.push(direct_row(&name, &url.to_string(), &root.origin));
                continue;
            }
            Some(VersionOrUrl::VersionSpecifier(specifiers)) => {
                wanted.entry(name.clone()).or_default().specifiers.push(specifiers.clone())
            }
            None => {}
        }
        let entry = wanted.entry(name).or_default();
        entry.direct = true;
        entry.texts.push(root.text.clone());
        entry.extras.extend(requirement.extras.iter().map(|e| e.to_string()));
    }
    for (text, origin) in direct_references {
        rows_direct.push(direct_row(text, text, origin));
    }

    let mut pages: HashMap<String, ProjectPage> = HashMap::new();
    let mut choices: BTreeMap<String, Choice> = BTreeMap::new();
    // The (version, extras) each dependency list was read for, so a change is read again.
    let mut expanded: HashMap<String, (Option<String>, BTreeSet<String>)> = HashMap::new();
    // What the metadata of the chosen release said: the classifier and notes, by name.
    let mut learned: HashMap<String, (Option<String>, Option<String>, Vec<String>)> = HashMap::new();
    for _round in 0..64 {
        let missing: Vec<String> = wanted.keys().filter(|n| !pages.contains_key(*n)).cloned().collect();
        for (name, page) in parallel(&missing, |name| client.project(name)) {
            pages.insert(name, page?);
        }
        for (name, want) in &wanted {
            let choice = choose(name, want, &pages[name], env);
            choices.insert(name.clone(), choice);
        }
        let to_expand: Vec<(String, IndexFile)> = choices
            .iter()
            .filter(|(name, c)| {
                let key = (c.row.version.clone(), wanted[*name].extras.clone());
                expanded.get(*name) != Some(&key) && c.metadata_file.is_some()
            })
            .map(|(name, c)| (name.clone(), c.metadata_file.clone().expect("filtered")))
            .collect();
        if to_expand.is_empty() {
            break;
        }
        let fetched = parallel(&to_expand, |(_, file)| client.metadata(file));
        for ((name, _), ((_, file), result)) in to_expand.iter().zip(fetched) {
            let version = choices[name].row.version.clone();
            expanded.insert(name.clone(), (version.clone(), wanted[name].extras.clone()));
            let mut notes = Vec::new();
            let metadata = match result {
                Ok(text) => CoreMetadata::parse(&text),
                Err(e) => {
                    notes.push(format!("dependencies unknown: {e}"));
                    learned.insert(name.clone(), (version, None, notes));
                    continue;
                }
            };
            if metadata.dynamic_requires && !file.filename.ends_with(".whl") {
                notes.push("dependencies are known only after building it".into());
            }
            // As pip does: an extra the release does not declare is ignored.
            let mut extras: Vec<ExtraName> = Vec::new();
            for extra in &wanted[name].extras {
                if metadata.provides_extra.contains(&normalize_name(extra)) {
                    extras.extend(ExtraName::from_str(extra).ok());
                } else {
                    notes.push(format!("has no extra `{extra}`"));
                }
            }
            let parent = format!("{name} {}", version.as_deref().unwrap_or("?"));
            for text in &metadata.requires_dist {
                let Ok(dep) = Requirement::<pep508_rs::VerbatimUrl>::from_str(text) else {
                    notes.push(format!("unreadable dependency `{text}`"));
                    continue;
                };
                if !dep.marker.evaluate(&env.markers, &extras) {
                    continue;
                }
                let dep_name = normalize_name(dep.name.as_ref());
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
            learned.insert(name.clone(), (version, metadata.free_threading_classifier(), notes));
        }
    }

    let mut rows: Vec<Row> = choices.into_values().map(|c| c.row).collect();
    for row in &mut rows {
        row.required_by = wanted[&row.name].required_by.clone();
        if let Some((version, classifier, notes)) = learned.get(&row.name)
            && *version == row.version
        {
            row.free_threading = classifier.clone();
            row.notes.extend(notes.iter().cloned());
        }
    }
    rows.sort_by(|a, b| b.direct.cmp(&a.direct).then_with(|| a.name.cmp(&b.name)));
    rows.extend(rows_direct);
    Ok(rows)
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
        notes: vec![format!("from {origin}; pip builds it from source")],
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
    let pinned = want
        .specifiers
        .iter()
        .flat_map(|s| s.iter())
        .any(|s| matches!(s.operator(), Operator::Equal | Operator::ExactEqual));
    let mut by_version: BTreeMap<Version, Vec<(&IndexFile, DistFilename)>> = BTreeMap::new();
    let mut yanked_skipped = false;
    for file in &page.files {
        let Some(parsed) = DistFilename::parse(&file.filename, name) else { continue };
        if let Some(requires) = &file.requires_python
            && let Ok(spec) = VersionSpecifiers::from_str(requires)
            && !spec.contains(&env.python_full)
        {
            continue;
        }
        if file.yanked.is_some() && !pinned {
            yanked_skipped = true;
            continue;
        }
        by_version.entry(parsed.version.clone()).or_default().push((file, parsed));
    }
    let allows = |v: &Version| want.specifiers.iter().all(|s| s.contains(v));
    let explicit_pre = want.specifiers.iter().flat_map(|s| s.iter()).any(|s| s.any_prerelease());
    let mut matching: Vec<&Version> = by_version.keys().filter(|v| allows(v)).collect();
    if !explicit_pre && matching.iter().any(|v| !v.any_prerelease()) {
        matching.retain(|v| !v.any_prerelease());
    }
    let installable = |v: &Version| by_version[v].iter().any(|(_, f)| !f.is_wheel() || env.target.accepts(f));
    let has_target_wheel =
        |v: &Version| by_version[v].iter().any(|(_, f)| f.is_wheel() && env.target.accepts(f));
    let newest = matching.last().copied();
    let chosen = matching.iter().rev().find(|v| installable(v)).copied();
    let Some(newest) = newest else {
        row.notes.push(if by_version.is_empty() {
            "the index lists no installable files for this Python".to_string()
        } else {
            format!("no release matches {}", row.requirement)
        });
        if yanked_skipped {
            row.notes.push("some releases are yanked".into());
        }
        return Choice { row, metadata_file: None };
    };
    let at = chosen.unwrap_or(newest);
    let files = &by_version[at];
    row.version = Some(at.to_string());
    if chosen.is_some_and(|c| c != newest) {
        row.newest = Some(newest.to_string());
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
        row.prefer_binary = matching.iter().rev().find(|v| has_target_wheel(v)).map(|v| v.to_string());
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
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<(T, R)>
where
    T: Clone + Send,
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
    use crate::version::MinorVersion;

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
    fn pre_releases_only_when_named_or_nothing_else() {
        let p = page(vec![file("demo-1.0-py3-none-any.whl"), file("demo-2.0b1-py3-none-any.whl")]);
        assert_eq!(choose("demo", &want(&[]), &p, &env()).row.version.as_deref(), Some("1.0"));
        assert_eq!(choose("demo", &want(&[">=2.0b1"]), &p, &env()).row.version.as_deref(), Some("2.0b1"));
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
