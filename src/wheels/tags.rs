//! Distribution file names and the wheel tags a target interpreter accepts.
//!
//! A wheel `name-1.0-cp313-cp313t-manylinux_2_17_x86_64.whl` loads in an interpreter only when
//! one of its (python, abi, platform) tag triples is among the interpreter's supported tags. For
//! a free-threaded CPython those are built the way pip's `packaging.tags` (26.1 and later, vendored
//! by pip 26.1) builds them: the `cp313t` ABI, `none`, and `abi3t` (PEP 803's stable ABI for
//! free-threaded builds, accepted for 3.15) for this and every older minor down to cp32, as
//! packaging lists it for any free-threaded CPython; never `abi3`, which free-threaded builds
//! cannot load. Over the platform tags of the machine or of `--platform`.

use std::collections::HashSet;
use std::str::FromStr;

use pep508_rs::PackageName;
use pep508_rs::pep440_rs::Version;

use crate::interpreters::version::MinorVersion;

/// One file of a release, as its name describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DistKind {
    Wheel { pythons: Vec<String>, abis: Vec<String>, platforms: Vec<String> },
    Sdist,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistFilename {
    /// Normalized project name (`foo-bar`).
    pub name: String,
    pub version: Version,
    pub kind: DistKind,
}

/// PEP 503 normalization, as `pep508_rs::PackageName` does it: lower case, runs of `-`, `_`, `.`
/// become one `-`. A string that is no valid name (a stray file name on an index page, say) is
/// only lower-cased: it keeps its leading or trailing punctuation or odd characters, so it never
/// equals the normalized name of a real project.
pub fn normalize_name(name: &str) -> String {
    match PackageName::from_str(name) {
        Ok(name) => name.to_string(),
        Err(_) => name.to_lowercase(),
    }
}

impl DistFilename {
    /// Parse a wheel or sdist file name of project `project`; `None` for anything else (eggs,
    /// `.exe` installers, names of another project).
    pub fn parse(filename: &str, project: &str) -> Option<DistFilename> {
        let project = normalize_name(project);
        if let Some(stem) = filename.strip_suffix(".whl") {
            let parts: Vec<&str> = stem.split('-').collect();
            if !(parts.len() == 5 || parts.len() == 6) || normalize_name(parts[0]) != project {
                return None;
            }
            let n = parts.len();
            let split = |s: &str| s.split('.').map(String::from).collect::<Vec<_>>();
            return Some(DistFilename {
                name: project,
                version: Version::from_str(parts[1]).ok()?,
                kind: DistKind::Wheel {
                    pythons: split(parts[n - 3]),
                    abis: split(parts[n - 2]),
                    platforms: split(parts[n - 1]),
                },
            });
        }
        let stem = [".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar"]
            .iter()
            .find_map(|ext| filename.strip_suffix(ext))?;
        // The name part may itself hold dashes: try each split from the right.
        for (i, _) in stem.match_indices('-').rev() {
            let (name, version) = (&stem[..i], &stem[i + 1..]);
            if normalize_name(name) == project {
                return Some(DistFilename {
                    name: project,
                    version: Version::from_str(version).ok()?,
                    kind: DistKind::Sdist,
                });
            }
        }
        None
    }

    pub fn is_wheel(&self) -> bool {
        matches!(self.kind, DistKind::Wheel { .. })
    }

    /// A wheel with no compiled code: `none` ABI on the `any` platform.
    pub fn is_pure_wheel(&self) -> bool {
        match &self.kind {
            DistKind::Wheel { abis, platforms, .. } => {
                abis.iter().all(|a| a == "none") && platforms.iter().all(|p| p == "any")
            }
            DistKind::Sdist => false,
        }
    }
}

/// The interpreter a wheel must load in.
#[derive(Clone, Debug)]
pub struct Target {
    pub series: MinorVersion,
    pub free_threaded: bool,
    pub platforms: Vec<String>,
    supported: HashSet<(String, String, String)>,
}

impl Target {
    pub fn new(series: MinorVersion, free_threaded: bool, platforms: Vec<String>) -> Target {
        let mut supported = HashSet::new();
        let nodot = format!("{}{}", series.major, series.minor);
        let cp = format!("cp{nodot}");
        let abi = format!("cp{nodot}{}", if free_threaded { "t" } else { "" });
        let abis = [abi, "none".to_string()];
        for plat in &platforms {
            for a in &abis {
                supported.insert((cp.clone(), a.clone(), plat.clone()));
            }
            // cp3X-abi3 wheels of older versions load in newer GIL interpreters; packaging
            // lists abi3t the same way for free-threaded ones.
            let stable = if free_threaded { "abi3t" } else { "abi3" };
            for minor in 2..=series.minor {
                supported.insert((format!("cp{}{minor}", series.major), stable.into(), plat.clone()));
            }
        }
        // packaging's compatible_tags: pyXY/py3 with no ABI, on the platforms and on `any`.
        let mut pythons = vec![format!("py{nodot}"), format!("py{}", series.major)];
        pythons.extend((0..series.minor).rev().map(|m| format!("py{}{m}", series.major)));
        for py in &pythons {
            for plat in platforms.iter().map(String::as_str).chain(["any"]) {
                supported.insert((py.clone(), "none".into(), plat.to_string()));
            }
        }
        supported.insert((cp, "none".into(), "any".into()));
        Target { series, free_threaded, platforms, supported }
    }

    /// The target tag of compiled wheels, e.g. `cp313t`.
    pub fn abi_tag(&self) -> String {
        format!("cp{}{}{}", self.series.major, self.series.minor, if self.free_threaded { "t" } else { "" })
    }

    /// Whether one of the wheel's tag triples is supported. Checked without spelling out the
    /// triples: a file name (which the index controls) with compressed tag sets of a thousand
    /// parts each stands for a billion of them.
    pub fn accepts(&self, file: &DistFilename) -> bool {
        let DistKind::Wheel { pythons, abis, platforms } = &file.kind else { return false };
        fn set(parts: &[String]) -> HashSet<&str> {
            parts.iter().map(String::as_str).collect()
        }
        let (pythons, abis, platforms) = (set(pythons), set(abis), set(platforms));
        self.supported.iter().any(|(py, abi, plat)| {
            pythons.contains(py.as_str()) && abis.contains(abi.as_str()) && platforms.contains(plat.as_str())
        })
    }

    /// Why a wheel does not load here, in a word: `abi3`, `cp313` (the GIL ABI), another
    /// Python, another platform.
    pub fn rejection(&self, file: &DistFilename) -> Option<WheelMismatch> {
        if !file.is_wheel() || self.accepts(file) {
            return None;
        }
        let DistKind::Wheel { pythons, abis, platforms } = &file.kind else { return None };
        let platform_fits = platforms.iter().any(|p| p == "any" || self.platforms.contains(p));
        let gil_abi = format!("cp{}{}", self.series.major, self.series.minor);
        let python_fits = pythons.iter().any(|p| *p == gil_abi || p.starts_with("py3") || p == "cp3");
        if platform_fits && abis.iter().any(|a| a == "abi3") && self.free_threaded {
            return Some(WheelMismatch::Abi3);
        }
        if platform_fits && python_fits && abis.contains(&gil_abi) && self.free_threaded {
            return Some(WheelMismatch::GilAbi);
        }
        if !platform_fits {
            return Some(WheelMismatch::Platform);
        }
        Some(WheelMismatch::Python)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WheelMismatch {
    Abi3,
    GilAbi,
    Python,
    Platform,
}

impl WheelMismatch {
    pub fn describe(self, target: &Target) -> String {
        match self {
            WheelMismatch::Abi3 => "abi3".into(),
            WheelMismatch::GilAbi => format!("cp{}{} (GIL ABI)", target.series.major, target.series.minor),
            WheelMismatch::Python => "other Pythons".into(),
            WheelMismatch::Platform => "other platforms".into(),
        }
    }
}

/// The platform tags of this machine, most specific first, as pip computes them: on Linux with
/// glibc 2.N, `manylinux_2_N_<arch>` down to `manylinux_2_5`, the legacy aliases, then
/// `linux_<arch>`; on macOS, `macosx_<major>_0_<arch>` and `universal2` down to 10.x.
pub fn host_platforms() -> Vec<String> {
    let arch = std::env::consts::ARCH;
    match std::env::consts::OS {
        "linux" => {
            let mut out = Vec::new();
            if let Some((major, minor)) = glibc_version() {
                for m in (0..=minor).rev() {
                    if major == 2 && m < 5 {
                        break;
                    }
                    out.push(format!("manylinux_{major}_{m}_{arch}"));
                    match m {
                        17 => out.push(format!("manylinux2014_{arch}")),
                        12 => out.push(format!("manylinux2010_{arch}")),
                        5 => out.push(format!("manylinux1_{arch}")),
                        _ => {}
                    }
                }
            }
            out.push(format!("linux_{arch}"));
            out
        }
        "macos" => {
            let arch = if arch == "aarch64" { "arm64" } else { arch };
            let mut out = Vec::new();
            for major in (11..=26).rev() {
                out.push(format!("macosx_{major}_0_{arch}"));
                out.push(format!("macosx_{major}_0_universal2"));
            }
            if arch == "x86_64" {
                for minor in (9..=16).rev() {
                    out.push(format!("macosx_10_{minor}_x86_64"));
                    out.push(format!("macosx_10_{minor}_universal2"));
                }
            }
            out
        }
        _ => vec![],
    }
}

/// `--platform` values, expanded as pip expands them: a legacy manylinux tag also accepts the
/// older legacy tags (manylinux2014 takes manylinux2010 and manylinux1 wheels).
pub fn custom_platforms(given: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in given {
        let mut add = |t: String| {
            if !out.contains(&t) {
                out.push(t);
            }
        };
        add(tag.clone());
        for (legacy, older) in [
            ("manylinux2014_", &["manylinux2010_", "manylinux1_"][..]),
            ("manylinux2010_", &["manylinux1_"][..]),
        ] {
            if let Some(arch) = tag.strip_prefix(legacy) {
                for o in older {
                    add(format!("{o}{arch}"));
                }
            }
        }
    }
    out
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn glibc_version() -> Option<(u32, u32)> {
    // SAFETY: gnu_get_libc_version returns a pointer to a static NUL-terminated string.
    let text = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) }.to_str().ok()?;
    let mut parts = text.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn glibc_version() -> Option<(u32, u32)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(ft: bool) -> Target {
        Target::new(
            MinorVersion { major: 3, minor: 13 },
            ft,
            custom_platforms(&["manylinux2014_x86_64".into()]),
        )
    }

    fn file(name: &str) -> DistFilename {
        DistFilename::parse(name, "demo").unwrap()
    }

    #[test]
    fn parses_wheels_and_sdists() {
        let w = file("Demo-1.2.0-cp313-cp313t-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
        assert_eq!(w.version, Version::from_str("1.2").unwrap());
        let DistKind::Wheel { platforms, .. } = &w.kind else { panic!("a wheel") };
        assert_eq!(platforms, &["manylinux_2_17_x86_64", "manylinux2014_x86_64"]);
        let w = file("demo-1.0-1-py3-none-any.whl");
        assert!(w.is_pure_wheel());
        assert_eq!(DistFilename::parse("demo_thing-2.0.tar.gz", "demo-thing").unwrap().kind, DistKind::Sdist);
        assert_eq!(
            DistFilename::parse("demo-thing-2.0rc1.zip", "Demo.Thing").unwrap().version.to_string(),
            "2.0rc1"
        );
        assert!(DistFilename::parse("other-1.0.tar.gz", "demo").is_none());
        assert!(DistFilename::parse("demo-1.0.win32.exe", "demo").is_none());
        assert!(DistFilename::parse("demo-notaversion-py3-none-any.whl", "demo").is_none());
        assert_eq!(normalize_name("Foo__Bar.baz"), "foo-bar-baz");
        // No valid name: never taken for a real project's.
        assert_eq!(normalize_name("demo-"), "demo-");
        assert_eq!(normalize_name("_Demo"), "_demo");
        assert_eq!(DistFilename::parse("demo_-1.0.tar.gz", "demo"), None);
    }

    #[test]
    fn free_threaded_targets_take_cp313t_and_pure_wheels_only() {
        let ft = target(true);
        assert!(ft.accepts(&file("demo-1.0-cp313-cp313t-manylinux2014_x86_64.whl")));
        assert!(ft.accepts(&file("demo-1.0-cp313-cp313t-manylinux1_x86_64.whl")));
        assert!(ft.accepts(&file("demo-1.0-py3-none-any.whl")));
        assert!(ft.accepts(&file("demo-1.0-py2.py3-none-any.whl")));
        let abi3 = file("demo-1.0-cp39-abi3-manylinux2014_x86_64.whl");
        assert!(!ft.accepts(&abi3));
        assert_eq!(ft.rejection(&abi3), Some(WheelMismatch::Abi3));
        let gil = file("demo-1.0-cp313-cp313-manylinux2014_x86_64.whl");
        assert_eq!(ft.rejection(&gil), Some(WheelMismatch::GilAbi));
        assert_eq!(
            ft.rejection(&file("demo-1.0-cp314-cp314t-manylinux2014_x86_64.whl")),
            Some(WheelMismatch::Python)
        );
        assert_eq!(ft.rejection(&file("demo-1.0-cp313-cp313t-win_amd64.whl")), Some(WheelMismatch::Platform));
        assert!(!ft.accepts(&file("demo-1.0-cp313-cp313t-manylinux_2_28_x86_64.whl")));

        let gil_target = target(false);
        assert!(gil_target.accepts(&abi3));
        assert!(gil_target.accepts(&gil));
        assert!(!gil_target.accepts(&file("demo-1.0-cp313-cp313t-manylinux2014_x86_64.whl")));
    }

    #[test]
    fn free_threaded_targets_take_abi3t_as_packaging_26_1_lists_it() {
        let on = |minor: u32, ft: bool| {
            Target::new(
                MinorVersion { major: 3, minor },
                ft,
                custom_platforms(&["manylinux2014_x86_64".into()]),
            )
        };
        let (ft315, gil315) = (on(15, true), on(15, false));
        assert_eq!(ft315.abi_tag(), "cp315t");
        assert!(ft315.accepts(&file("demo-1.0-cp315-cp315t-manylinux2014_x86_64.whl")));
        // PEP 803: built for both stable ABIs at once, or for abi3t alone.
        let both = file("demo-1.0-cp315-abi3.abi3t-manylinux2014_x86_64.whl");
        let abi3t = file("demo-1.0-cp315-abi3t-manylinux2014_x86_64.whl");
        assert!(ft315.accepts(&both) && ft315.accepts(&abi3t));
        assert!(gil315.accepts(&both), "the abi3 half loads in the GIL build");
        assert!(!gil315.accepts(&abi3t));
        // An older minimum loads in newer interpreters, as with abi3; a newer one does not.
        assert!(ft315.accepts(&file("demo-1.0-cp312-abi3t-manylinux2014_x86_64.whl")));
        let newer = file("demo-1.0-cp316-abi3t-manylinux2014_x86_64.whl");
        assert_eq!(ft315.rejection(&newer), Some(WheelMismatch::Python));
        // abi3 alone is still no use to a free-threaded build.
        let abi3 = file("demo-1.0-cp315-abi3-manylinux2014_x86_64.whl");
        assert_eq!(ft315.rejection(&abi3), Some(WheelMismatch::Abi3));
        // packaging lists abi3t for every free-threaded CPython, as it lists abi3 back to 3.2.
        assert!(on(14, true).accepts(&file("demo-1.0-cp314-abi3t-manylinux2014_x86_64.whl")));
        assert!(!on(14, true).accepts(&abi3t));
    }

    #[test]
    fn a_wheel_name_standing_for_a_billion_tag_triples_is_judged_at_once() {
        let parts = |prefix: &str| (0..1000).map(|i| format!("{prefix}{i}")).collect::<Vec<_>>().join(".");
        let name = format!(
            "demo-1.0-{}.cp313-{}.cp313t-{}.manylinux2014_x86_64.whl",
            parts("py"),
            parts("abi"),
            parts("plat")
        );
        let lying = file(&name);
        let started = std::time::Instant::now();
        assert!(target(true).accepts(&lying));
        assert!(!target(true).accepts(&file(&name.replace(".cp313t-", ".cp314t-"))));
        // Generous: it takes milliseconds; spelling out the 10^9 triples took minutes and GBs.
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    }

    #[test]
    fn host_platforms_end_with_the_generic_tag() {
        if std::env::consts::OS == "linux" {
            let p = host_platforms();
            assert_eq!(p.last().unwrap(), &format!("linux_{}", std::env::consts::ARCH));
            assert!(p.iter().any(|t| t.starts_with("manylinux2014_")));
        }
    }
}
