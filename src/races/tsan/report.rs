//! ThreadSanitizer's report files, read and grouped: each `WARNING: ThreadSanitizer: <kind>`
//! block up to its `SUMMARY:` line becomes a [`Warning`] (its sections, each a heading and a
//! stack of [`Frame`]s); [`group`] folds the warnings of every process into unique [`Race`]s,
//! keyed by the kind and the top frames of its two stacks (in either order), and attributes each
//! to the shared object of its first frame outside the TSan runtime and libc ([`Owners`]).
//!
//! The frame format is TSan's own (`    #0 func file:line:col (object+0xoff) (BuildId: ..)`);
//! `ftpy run --tsan` asks for it with the object's path rather than its file name
//! ([`STACK_TRACE_FORMAT`]); the sanitizers' common form (`#0 0x7f.. in func file:line`) is read
//! too. Everything is bounded: the bytes read per file, the files, the warnings, the sections
//! and frames kept.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use serde::Serialize;

use crate::races::tsan::owners::{Owner, Owners};

/// TSan's frame format with the shared object's path (`%m`) where its default has the file name.
pub const STACK_TRACE_FORMAT: &str = "    #%n %f %S (%m+%o)";

/// Bytes read from one report file; the rest is left unread (and said so).
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;
/// Report files read from one run (a file per process).
pub const MAX_FILES: usize = 4096;
/// Warnings parsed over the whole run.
pub const MAX_WARNINGS: usize = 20_000;
/// Sections kept per warning, frames kept per stack.
pub const MAX_SECTIONS: usize = 16;
pub const MAX_FRAMES: usize = 48;
/// Frames of each stack shown in a race's example.
pub const EXAMPLE_FRAMES: usize = 8;

/// One line of a stack: `#3 function file:line:col (object+0xoffset)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Frame {
    pub index: u32,
    pub function: String,
    /// `file:line:col`; `None` for `<null>` (no debug information).
    pub location: Option<String>,
    /// The shared object as TSan names it (its file name, or a path), if it says.
    pub object: Option<String>,
    pub offset: Option<u64>,
}

/// A heading (`Write of size 8 at 0x.. by thread T2:`) and the stack under it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Section {
    pub heading: String,
    pub frames: Vec<Frame>,
}

/// One `WARNING: ThreadSanitizer:` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// `data race`, `heap-use-after-free`, `thread leak`, `lock-order-inversion (potential deadlock)`...
    pub kind: String,
    pub pid: Option<u32>,
    pub sections: Vec<Section>,
    /// The `SUMMARY: ThreadSanitizer: ...` text after the prefix; empty when the block was cut.
    pub summary: String,
}

/// What the report files of a run held.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub warnings: Vec<Warning>,
    pub files: usize,
    /// A cap was reached: some of the output was not read.
    pub truncated: bool,
}

const WARNING_PREFIX: &str = "WARNING: ThreadSanitizer: ";
const SUMMARY_PREFIX: &str = "SUMMARY: ThreadSanitizer: ";

impl Warning {
    /// The stacks that say where it happened: the accesses of a race (`Read of size..`,
    /// `Previous write..`), the acquisitions of a lock-order inversion; for the kinds with no such
    /// stack, the first stack there is. At most two.
    pub fn identifying_stacks(&self) -> Vec<&Section> {
        let context = |h: &str| {
            h.starts_with("Location is")
                || (h.starts_with("Thread T") && h.contains(" created by "))
                || (h.starts_with("Mutex ") && h.contains(" created at"))
        };
        let mut stacks: Vec<&Section> =
            self.sections.iter().filter(|s| !s.frames.is_empty() && !context(&s.heading)).take(2).collect();
        if stacks.is_empty() {
            stacks.extend(self.sections.iter().find(|s| !s.frames.is_empty()));
        }
        stacks
    }
}

/// Parse one report file's text. `budget` is how many more warnings may be kept.
pub fn parse(text: &str, budget: usize) -> (Vec<Warning>, bool) {
    let mut warnings = Vec::new();
    let mut current: Option<Warning> = None;
    let mut truncated = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(WARNING_PREFIX) {
            if let Some(open) = current.take() {
                warnings.push(open); // a block cut short (the process died mid-report)
            }
            if warnings.len() >= budget {
                truncated = true;
                break;
            }
            let (kind, pid) = split_pid(rest);
            current = Some(Warning { kind, pid, sections: vec![], summary: String::new() });
            continue;
        }
        let Some(warning) = current.as_mut() else { continue };
        if let Some(summary) = line.strip_prefix(SUMMARY_PREFIX) {
            warning.summary = summary.trim().to_string();
            warnings.extend(current.take());
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            if warning.sections.is_empty() {
                warning.sections.push(Section { heading: String::new(), frames: vec![] });
            }
            let section = warning.sections.last_mut().expect("one section");
            if section.frames.len() < MAX_FRAMES
                && let Some(frame) = parse_frame(trimmed)
            {
                section.frames.push(frame);
            }
        } else if line.starts_with("  ") && !line.starts_with("   ") && !trimmed.is_empty() {
            if warning.sections.len() < MAX_SECTIONS {
                warning.sections.push(Section { heading: trimmed.to_string(), frames: vec![] });
            } else {
                truncated = true;
            }
        }
    }
    if let Some(open) = current {
        warnings.push(open);
    }
    (warnings, truncated)
}

/// `data race (pid=19291)` into the kind and the pid.
fn split_pid(rest: &str) -> (String, Option<u32>) {
    let rest = rest.trim();
    if let Some(at) = rest.rfind(" (pid=") {
        let pid = rest[at + 6..].trim_end_matches(')').parse().ok();
        return (rest[..at].to_string(), pid);
    }
    (rest.to_string(), None)
}

/// `#0 bump /tmp/racy.c:2:26 (libracy.so+0x117e) (BuildId: af09..)`.
pub fn parse_frame(line: &str) -> Option<Frame> {
    let line = line.trim().strip_prefix('#')?;
    let (index, mut rest) = line.split_once(' ')?;
    let index = index.parse().ok()?;
    rest = rest.trim();
    if rest.starts_with("0x")
        && let Some((_, after)) = rest.split_once(" in ")
    {
        rest = after;
    }
    if let Some(at) = rest.rfind(" (BuildId: ") {
        rest = rest[..at].trim_end();
    }
    let (mut object, mut offset) = (None, None);
    if rest.ends_with(')')
        && let Some(open) = rest.rfind(" (")
    {
        let inside = &rest[open + 2..rest.len() - 1];
        if let Some((name, hex)) = inside.rsplit_once("+0x") {
            object = Some(name.to_string());
            offset = u64::from_str_radix(hex, 16).ok();
            rest = rest[..open].trim_end();
        } else if inside.starts_with("0x") {
            rest = rest[..open].trim_end();
        }
    }
    let (function, location) = match rest.rsplit_once(' ') {
        // A source location has a line (`file.c:8:12`) or at least a path (`Objects/call.c`).
        Some((function, location)) if location == "<null>" || location.contains([':', '/']) => {
            (function.trim().to_string(), (location != "<null>").then(|| location.to_string()))
        }
        _ => (rest.to_string(), None),
    };
    Some(Frame { index, function, location, object, offset })
}

/// Read every `<prefix>.<pid>` report file in `dir` (TSan's `log_path` appends the pid).
pub fn read_dir(dir: &Path) -> std::io::Result<Parsed> {
    let mut parsed = Parsed::default();
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(parsed),
        Err(e) => return Err(e),
    };
    files.sort();
    if files.len() > MAX_FILES {
        files.truncate(MAX_FILES);
        parsed.truncated = true;
    }
    for path in files {
        let file = std::fs::File::open(&path)?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            bytes.truncate(MAX_FILE_BYTES as usize);
            parsed.truncated = true;
        }
        let budget = MAX_WARNINGS.saturating_sub(parsed.warnings.len());
        let (warnings, cut) = parse(&String::from_utf8_lossy(&bytes), budget);
        parsed.truncated |= cut;
        parsed.files += 1;
        parsed.warnings.extend(warnings);
    }
    Ok(parsed)
}

/// Where one of a race's stacks starts: its first frame outside the TSan runtime and libc.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Site {
    pub function: String,
    /// `file:line:col`, else `object+0xoffset`.
    pub location: String,
    pub object: Option<String>,
    pub owner: Owner,
}

/// A unique race (or other TSan finding) and how often it was reported.
#[derive(Clone, Debug, Serialize)]
pub struct Race {
    pub kind: String,
    /// One per identifying stack (two for a race: the access and the previous one).
    pub sites: Vec<Site>,
    /// Whom it is attributed to: the first site's owner outside CPython, else CPython.
    pub owner: Owner,
    pub occurrences: usize,
    pub processes: usize,
    /// TSan's one-line summary of the first occurrence.
    pub summary: String,
    /// The first occurrence's identifying stacks, their top frames.
    pub example: Vec<Section>,
}

impl Race {
    pub fn outside_cpython(&self) -> bool {
        self.owner != Owner::CPython
    }
}

/// The run's findings: unique races, most reported first.
#[derive(Clone, Debug, Serialize)]
pub struct TsanReport {
    pub races: Vec<Race>,
    /// Warnings read, over all processes.
    pub warnings: usize,
    /// Processes that wrote a report file.
    pub processes: usize,
    pub truncated: bool,
}

impl TsanReport {
    pub fn outside_cpython(&self) -> impl Iterator<Item = &Race> {
        self.races.iter().filter(|r| r.outside_cpython())
    }
}

/// Frames of the TSan runtime and its interceptors, or of libc: never where a race is.
fn is_runtime(frame: &Frame, owners: &Owners) -> bool {
    const PREFIXES: [&str; 5] = ["__tsan", "___interceptor_", "__interceptor_", "__sanitizer", "__asan"];
    if PREFIXES.iter().any(|p| frame.function.starts_with(p)) {
        return true;
    }
    if frame.object.as_deref().is_some_and(|o| owners.is_runtime_object(o)) {
        return true;
    }
    // Interceptors live in the executable, have no source line, and carry libc's names.
    const INTERCEPTED: [&str; 16] = [
        "malloc",
        "calloc",
        "realloc",
        "free",
        "memcpy",
        "memmove",
        "memset",
        "memcmp",
        "strlen",
        "strcmp",
        "strncmp",
        "strcpy",
        "posix_memalign",
        "aligned_alloc",
        "operator new",
        "operator delete",
    ];
    frame.location.is_none()
        && (INTERCEPTED.iter().any(|f| frame.function == *f || frame.function.starts_with(&format!("{f}(")))
            || frame.function.starts_with("pthread_")
            || frame.function.starts_with("sem_"))
}

fn site_of(section: &Section, owners: &Owners) -> Option<Site> {
    let frame = section.frames.iter().find(|f| !is_runtime(f, owners)).or(section.frames.first())?;
    let location = match (&frame.location, &frame.object, frame.offset) {
        (Some(location), _, _) => location.clone(),
        (None, Some(object), Some(offset)) => format!("{object}+{offset:#x}"),
        _ => "<unknown>".to_string(),
    };
    let owner = frame
        .object
        .as_deref()
        .map(|o| owners.owner_of(o))
        .unwrap_or(Owner::Unknown { object: String::new() });
    Some(Site { function: frame.function.clone(), location, object: frame.object.clone(), owner })
}

/// Fold the warnings into unique races: same kind and the same top sites, in either order.
pub fn group(parsed: &Parsed, owners: &Owners) -> TsanReport {
    struct Acc {
        race: Race,
        pids: BTreeSet<u32>,
    }
    let mut races: BTreeMap<(String, Vec<(String, String)>), Acc> = BTreeMap::new();
    let mut pids = BTreeSet::new();
    for warning in &parsed.warnings {
        pids.extend(warning.pid);
        let stacks = warning.identifying_stacks();
        let sites: Vec<Site> = stacks.iter().filter_map(|s| site_of(s, owners)).collect();
        let mut key: Vec<(String, String)> =
            sites.iter().map(|s| (s.function.clone(), s.location.clone())).collect();
        key.sort();
        let acc = races.entry((warning.kind.clone(), key)).or_insert_with(|| {
            let owner = sites
                .iter()
                .map(|s| &s.owner)
                .find(|o| **o != Owner::CPython)
                .or(sites.first().map(|s| &s.owner))
                .cloned()
                .unwrap_or(Owner::Unknown { object: String::new() });
            let example = stacks
                .iter()
                .map(|s| Section {
                    heading: s.heading.clone(),
                    frames: s.frames.iter().take(EXAMPLE_FRAMES).cloned().collect(),
                })
                .collect();
            Acc {
                race: Race {
                    kind: warning.kind.clone(),
                    sites,
                    owner,
                    occurrences: 0,
                    processes: 0,
                    summary: warning.summary.clone(),
                    example,
                },
                pids: BTreeSet::new(),
            }
        });
        acc.race.occurrences += 1;
        acc.pids.extend(warning.pid);
    }
    let mut races: Vec<Race> = races
        .into_values()
        .map(|mut acc| {
            acc.race.processes = acc.pids.len();
            acc.race
        })
        .collect();
    // Outside CPython first, then the most reported.
    races.sort_by(|a, b| {
        (b.outside_cpython(), b.occurrences)
            .cmp(&(a.outside_cpython(), a.occurrences))
            .then(a.kind.cmp(&b.kind))
    });
    TsanReport {
        races,
        warnings: parsed.warnings.len(),
        // TSan names the pid in every warning; a file per process is the fallback.
        processes: if pids.is_empty() { parsed.files } else { pids.len() },
        truncated: parsed.truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C_LIBRARY: &str = include_str!("../../../tests/fixtures/tsan/c_library.log");
    const KINDS: &str = include_str!("../../../tests/fixtures/tsan/kinds.log");
    const CPYTHON_RACECOUNTER: &str = include_str!("../../../tests/fixtures/tsan/cpython_racecounter.log");

    #[test]
    fn an_extension_race_under_cpython_is_the_extensions() {
        let (warnings, _) = parse(CPYTHON_RACECOUNTER, 100);
        assert_eq!(warnings.len(), 1);
        // The two accesses; the location and the two threads' creation are context.
        let stacks = warnings[0].identifying_stacks();
        assert_eq!(stacks.len(), 2);
        assert!(stacks[1].heading.starts_with("Previous write of size 8"));
        let parsed = Parsed { warnings, files: 1, truncated: false };
        let owners =
            Owners::scan(&[], None, Some(Path::new("/home/user/.local/share/ftpy/versions/3.14.6t-tsan")));
        let report = group(&parsed, &owners);
        let race = &report.races[0];
        assert_eq!(race.owner, Owner::Package { distribution: None, module: "racecounter._counter".into() });
        assert_eq!(race.sites[0].function, "increment");
        assert!(race.sites[0].location.ends_with("racecounter/counter.c:8:12"));
        assert_eq!(race.example[0].frames[1].function, "cfunction_vectorcall_NOARGS");
        assert_eq!(owners.owner_of(race.example[0].frames[1].object.as_deref().unwrap()), Owner::CPython);
        assert!(race.outside_cpython());
    }

    #[test]
    fn frames_with_and_without_source_and_build_id() {
        assert_eq!(
            parse_frame("    #0 bump /tmp/tsr/racy.c:2:26 (libracy.so+0x117e) (BuildId: af093f05ffdad35a)"),
            Some(Frame {
                index: 0,
                function: "bump".into(),
                location: Some("/tmp/tsr/racy.c:2:26".into()),
                object: Some("libracy.so".into()),
                offset: Some(0x117e),
            })
        );
        let interceptor = parse_frame("#0 pthread_create <null> (main+0x61eb1)").unwrap();
        assert_eq!((interceptor.function.as_str(), interceptor.location), ("pthread_create", None));
        let cpp = parse_frame("#2 ns::f(int, char) /src/a.cc:3:1 (/lib/x.so+0x10)").unwrap();
        assert_eq!((cpp.function.as_str(), cpp.object.as_deref()), ("ns::f(int, char)", Some("/lib/x.so")));
        let common = parse_frame("#0 0x7f848242d17f in bump /tmp/tsr/racy.c:2:26").unwrap();
        assert_eq!((common.function.as_str(), common.object), ("bump", None));
        let no_line =
            parse_frame("#7 _PyFunction_Vectorcall /src/Objects/call.c (/x/python3.14t+0x202b8f)").unwrap();
        assert_eq!(
            (no_line.function.as_str(), no_line.location.as_deref()),
            ("_PyFunction_Vectorcall", Some("/src/Objects/call.c"))
        );
        assert_eq!(parse_frame("#x nonsense"), None);
        assert_eq!(parse_frame("not a frame"), None);
    }

    #[test]
    fn the_blocks_of_a_real_report_file() {
        let (warnings, truncated) = parse(C_LIBRARY, 100);
        assert!(!truncated);
        assert_eq!(warnings.len(), 2);
        let race = &warnings[0];
        assert_eq!((race.kind.as_str(), race.pid), ("data race", Some(19291)));
        let headings: Vec<&str> = race.sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(headings.len(), 5);
        assert!(headings[0].starts_with("Write of size 8"));
        assert!(headings[1].starts_with("Previous write of size 8"));
        assert!(headings[2].starts_with("Location is global 'counter'"));
        assert_eq!(race.sections[0].frames.len(), 2);
        assert_eq!(race.summary, "data race /tmp/tsr/racy.c:2:26 in bump");
        assert_eq!(warnings[1].kind, "thread leak");
        assert_eq!(warnings[1].identifying_stacks().len(), 1);

        let (kinds, _) = parse(KINDS, 100);
        let names: Vec<&str> = kinds.iter().map(|w| w.kind.as_str()).collect();
        assert_eq!(names, ["data race", "heap-use-after-free", "lock-order-inversion (potential deadlock)"]);
        // The lock-order inversion's hint line is not a section.
        assert_eq!(kinds[2].identifying_stacks().len(), 2);
        assert!(kinds[2].sections.iter().all(|s| !s.heading.starts_with("Hint")));
    }

    #[test]
    fn a_cut_block_and_the_warning_budget() {
        let cut = &C_LIBRARY[..C_LIBRARY.find("  Location is").unwrap()];
        let (warnings, _) = parse(cut, 100);
        assert_eq!((warnings.len(), warnings[0].summary.as_str()), (1, ""));
        let (warnings, truncated) = parse(C_LIBRARY, 1);
        assert_eq!((warnings.len(), truncated), (1, true));
    }

    #[test]
    fn races_are_grouped_by_their_top_frames_in_either_order() {
        // The same race seen from the other thread, in a second process.
        let swapped = C_LIBRARY.replace("pid=19291", "pid=19300");
        let mut warnings = parse(C_LIBRARY, 100).0;
        warnings.extend(parse(&swapped, 100).0);
        let kinds = parse(KINDS, 100).0;
        // The heap race of the second file, seen from the other side: its two stacks swapped.
        let mut mirrored = kinds[0].clone();
        mirrored.sections.swap(0, 1);
        warnings.extend(kinds);
        warnings.push(mirrored);
        let parsed = Parsed { warnings, files: 3, truncated: false };
        let owners = Owners::for_tests(&[(
            "libracy.so",
            Owner::Package { distribution: Some("racy".into()), module: "libracy".into() },
        )]);
        let report = group(&parsed, &owners);
        assert_eq!(report.warnings, 8);
        assert_eq!(report.processes, 3);
        let first = &report.races[0];
        assert_eq!((first.kind.as_str(), first.occurrences, first.processes), ("data race", 2, 2));
        assert_eq!(
            first.owner,
            Owner::Package { distribution: Some("racy".into()), module: "libracy".into() }
        );
        assert_eq!(first.sites[0].function, "bump");
        // thread leak x2 (one per process), and the three kinds of the second file.
        assert_eq!(report.races.len(), 5);
        let leak = report.races.iter().find(|r| r.kind == "thread leak").unwrap();
        assert_eq!((leak.occurrences, leak.sites[0].function.as_str()), (2, "main"));
        // The lock-order inversion's top frames are the interceptor: the site is the caller.
        let inversion = report.races.iter().find(|r| r.kind.starts_with("lock-order")).unwrap();
        assert_eq!(inversion.sites.len(), 2);
        let heap =
            report.races.iter().find(|r| r.kind == "data race" && r.sites[0].function != "bump").unwrap();
        assert_eq!((heap.occurrences, heap.processes), (2, 1));
        assert_eq!(heap.owner, Owner::Unknown { object: "more".into() });
        assert!(inversion.sites.iter().all(|s| s.function == "main"));
    }
}
