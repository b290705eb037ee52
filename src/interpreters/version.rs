//! Names of CPython versions, in the order a user's string becomes an installation:
//!
//! - [`VersionRequest`]: what was typed (`3`, `3.13t`, `3.13.5`, `3.15.0b4t`, `3.14+freethreaded`).
//!   Parts may be missing; the [`Variant`] never is: no suffix means the GIL build.
//! - [`Version`]: one exact CPython release (`3.13.5`, `3.15.0b4`), as the recipes list them.
//! - [`BuildKind`]: what the build is for: a release interpreter, or one instrumented with
//!   ThreadSanitizer (`3.14t-tsan`), which only the free-threaded variant has.
//! - [`InstallKey`]: a resolved version plus its variant and build kind (`3.13.5t`,
//!   `3.14.6t-tsan`), the on-disk identity of an installation under `<home>/versions/`.
//!
//! Resolution (request to version) needs the recipes and lives in [`crate::interpreters::recipe`].

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Which build of CPython: the default one with the GIL, or the free-threaded one (PEP 703).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    Gil,
    Freethreaded,
}

impl Variant {
    /// Every build, the GIL one first: the order of a pair, of `list`'s columns, of twin
    /// environments.
    pub const ALL: [Variant; 2] = [Variant::Gil, Variant::Freethreaded];

    /// The other build of the same version.
    pub fn twin(self) -> Variant {
        match self {
            Variant::Gil => Variant::Freethreaded,
            Variant::Freethreaded => Variant::Gil,
        }
    }

    /// The suffix CPython itself uses for this build (`python3.13t`, ABI tag `cp313t`).
    pub fn suffix(self) -> &'static str {
        match self {
            Variant::Gil => "",
            Variant::Freethreaded => "t",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Variant::Gil => "GIL",
            Variant::Freethreaded => "free-threaded",
        }
    }
}

/// What a build is for. A ThreadSanitizer build is its own installation beside the release
/// build of the same version (`3.14.6t-tsan` beside `3.14.6t`): instrumented, several times
/// slower, and never what a plain request, a pair or a twin environment picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum BuildKind {
    #[default]
    Release,
    /// `--with-thread-sanitizer`; free-threaded only.
    Tsan,
}

impl BuildKind {
    /// What follows the variant in a key or request: `` or `-tsan`.
    pub fn suffix(self) -> &'static str {
        match self {
            BuildKind::Release => "",
            BuildKind::Tsan => "-tsan",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BuildKind::Release => "release",
            BuildKind::Tsan => "ThreadSanitizer",
        }
    }
}

/// The first minor version that has a free-threaded build. Ask [`MinorVersion::has_free_threading`]
/// and [`VersionRequest::predates_free_threading`] rather than comparing with it.
pub const FIRST_FREETHREADED: MinorVersion = MinorVersion { major: 3, minor: 13 };

/// The series ftpy recommends and defaults to: free-threading's guidance targets 3.14t (3.13t
/// lacks later thread-safety fixes and is slower; 3.14 made the free-threaded build supported).
pub const RECOMMENDED_SERIES: MinorVersion = MinorVersion { major: 3, minor: 14 };

/// A release series such as `3.13`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MinorVersion {
    pub major: u32,
    pub minor: u32,
}

impl MinorVersion {
    /// Whether this series has a free-threaded build at all (3.13 and later).
    pub fn has_free_threading(self) -> bool {
        self >= FIRST_FREETHREADED
    }
}

impl fmt::Display for MinorVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for MinorVersion {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || VersionError::InvalidSeries(s.to_string());
        let (major, minor) = s.split_once('.').ok_or_else(invalid)?;
        Ok(MinorVersion {
            major: parse_number(major).ok_or_else(invalid)?,
            minor: parse_number(minor).ok_or_else(invalid)?,
        })
    }
}

/// Alpha, beta and release candidate, in that order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PreKind {
    Alpha,
    Beta,
    Candidate,
}

impl PreKind {
    fn as_str(self) -> &'static str {
        match self {
            PreKind::Alpha => "a",
            PreKind::Beta => "b",
            PreKind::Candidate => "rc",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PreRelease {
    pub kind: PreKind,
    pub number: u32,
}

impl fmt::Display for PreRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.kind.as_str(), self.number)
    }
}

/// One exact CPython release.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    pub pre: Option<PreRelease>,
}

impl Version {
    pub fn series(&self) -> MinorVersion {
        MinorVersion { major: self.major, minor: self.minor }
    }

    pub fn is_final(&self) -> bool {
        self.pre.is_none()
    }

    /// `3.15.0` for `3.15.0b4`: the directory python.org keeps the tarball in.
    pub fn release_directory(&self) -> String {
        format!("{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch)).then_with(
            || match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            },
        )
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(pre) = &self.pre {
            write!(f, "{pre}")?;
        }
        Ok(())
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts = parse_parts(s).ok_or_else(|| VersionError::InvalidVersion(s.to_string()))?;
        match parts {
            Parts { major, minor: Some(minor), patch: Some(patch), pre } => {
                Ok(Version { major, minor, patch, pre })
            }
            _ => Err(VersionError::InvalidVersion(s.to_string())),
        }
    }
}

/// A version as a user asked for it; missing parts match anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRequest {
    pub major: u32,
    pub minor: Option<u32>,
    pub patch: Option<u32>,
    pub pre: Option<PreRelease>,
    pub variant: Variant,
    /// `-tsan` asks for the ThreadSanitizer build; without it, the release build only.
    pub build: BuildKind,
}

impl VersionRequest {
    /// The same request for the `build` kind: a ThreadSanitizer build exists only for the
    /// free-threaded variant (its races are what TSan is for), so a GIL request is refused.
    pub fn with_build(&self, build: BuildKind) -> Result<VersionRequest, VersionError> {
        let request = VersionRequest { build, ..self.clone() };
        if build == BuildKind::Tsan && self.variant == Variant::Gil {
            return Err(VersionError::TsanNeedsFreethreaded(request.to_string()));
        }
        Ok(request)
    }

    /// True when `version` is one this request accepts. A request that names the patch level
    /// without a pre-release accepts only that final release (`3.15.0` is not `3.15.0b4`).
    pub fn matches(&self, version: &Version) -> bool {
        if version.major != self.major
            || self.minor.is_some_and(|m| m != version.minor)
            || self.patch.is_some_and(|p| p != version.patch)
        {
            return false;
        }
        match (&self.pre, self.patch) {
            (Some(pre), _) => version.pre.as_ref() == Some(pre),
            (None, Some(_)) => version.pre.is_none(),
            (None, None) => true,
        }
    }

    /// True when `key` is an installation this request names: its variant, its build kind
    /// (`3.14t` is never `3.14.6t-tsan`) and a version it [`matches`](Self::matches).
    pub fn accepts_key(&self, key: &InstallKey) -> bool {
        key.variant == self.variant && key.build == self.build && self.matches(&key.version)
    }

    pub fn series(&self) -> Option<MinorVersion> {
        self.minor.map(|minor| MinorVersion { major: self.major, minor })
    }

    /// Whether everything the request accepts is older than free-threading (`3.12`, `2`).
    pub fn predates_free_threading(&self) -> bool {
        match self.series() {
            Some(series) => !series.has_free_threading(),
            None => self.major < FIRST_FREETHREADED.major,
        }
    }
}

impl fmt::Display for VersionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.major)?;
        if let Some(minor) = self.minor {
            write!(f, ".{minor}")?;
        }
        if let Some(patch) = self.patch {
            write!(f, ".{patch}")?;
        }
        if let Some(pre) = &self.pre {
            write!(f, "{pre}")?;
        }
        f.write_str(self.variant.suffix())?;
        f.write_str(self.build.suffix())
    }
}

impl FromStr for VersionRequest {
    type Err = VersionError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
        let (s, build) = split_build(s);
        let (body, variant) = split_variant(s);
        let parts = parse_parts(body).ok_or_else(|| VersionError::InvalidRequest(input.to_string()))?;
        if parts.pre.is_some() && parts.patch.is_none() {
            return Err(VersionError::InvalidRequest(input.to_string()));
        }
        let request = VersionRequest {
            major: parts.major,
            minor: parts.minor,
            patch: parts.patch,
            pre: parts.pre,
            variant,
            build,
        };
        if variant == Variant::Freethreaded && request.predates_free_threading() {
            return Err(VersionError::NoFreethreadingBefore313(input.to_string()));
        }
        if build == BuildKind::Tsan && variant == Variant::Gil {
            return Err(VersionError::TsanNeedsFreethreaded(input.to_string()));
        }
        Ok(request)
    }
}

/// An installed (or to-be-installed) build: exact version, variant and build kind, e.g.
/// `3.13.5t` or `3.14.6t-tsan`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstallKey {
    pub version: Version,
    pub variant: Variant,
    pub build: BuildKind,
}

impl InstallKey {
    /// The release build of `version` in `variant`.
    pub fn release(version: Version, variant: Variant) -> InstallKey {
        InstallKey { version, variant, build: BuildKind::Release }
    }

    /// The interpreter's file name inside `<prefix>/bin`, as `make install` names it (a TSan
    /// build names it as the release build does).
    pub fn interpreter_name(&self) -> String {
        format!("python{}{}", self.version.series(), self.variant.suffix())
    }

    /// The name of its `<home>/bin` link: `python3.14t`, or `python3.14t-tsan` for a TSan
    /// build, so that the release build's name always leads to the release build.
    pub fn link_name(&self) -> String {
        format!("{}{}", self.interpreter_name(), self.build.suffix())
    }
}

impl fmt::Display for InstallKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.version, self.variant.suffix(), self.build.suffix())
    }
}

impl FromStr for InstallKey {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (rest, build) = split_build(s);
        let (body, variant) = split_variant(rest);
        if build == BuildKind::Tsan && variant == Variant::Gil {
            return Err(VersionError::TsanNeedsFreethreaded(s.to_string()));
        }
        Ok(InstallKey { version: body.parse()?, variant, build })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VersionError {
    #[error(
        "`{0}` is not a version request; expected forms like 3, 3.13, 3.13t, 3.13.5, 3.13.5t or 3.15.0b4t"
    )]
    InvalidRequest(String),
    #[error("`{0}` is not a CPython version such as 3.13.5 or 3.15.0b4")]
    InvalidVersion(String),
    #[error("`{0}` is not a release series such as 3.13")]
    InvalidSeries(String),
    #[error(
        "`{0}` asks for a free-threaded build, but free-threaded CPython exists only from 3.13 on (PEP 703)"
    )]
    NoFreethreadingBefore313(String),
    #[error(
        "`{0}` asks for a ThreadSanitizer build of the GIL variant; ftpy builds ThreadSanitizer only free-threaded (--disable-gil), where the races are: ask for the free-threaded build, e.g. 3.14t"
    )]
    TsanNeedsFreethreaded(String),
}

/// `3.14t-tsan` is `3.14t` and the TSan build kind.
fn split_build(s: &str) -> (&str, BuildKind) {
    match s.strip_suffix(BuildKind::Tsan.suffix()) {
        Some(body) => (body, BuildKind::Tsan),
        None => (s, BuildKind::Release),
    }
}

fn split_variant(s: &str) -> (&str, Variant) {
    if let Some(body) = s.strip_suffix("+freethreaded") {
        (body, Variant::Freethreaded)
    } else if let Some(body) = s.strip_suffix('t').filter(|b| b.ends_with(|c: char| c.is_ascii_digit())) {
        (body, Variant::Freethreaded)
    } else {
        (s, Variant::Gil)
    }
}

struct Parts {
    major: u32,
    minor: Option<u32>,
    patch: Option<u32>,
    pre: Option<PreRelease>,
}

/// `3`, `3.13`, `3.13.5`, `3.15.0b4`, `3.15.0rc1`; nothing else.
fn parse_parts(s: &str) -> Option<Parts> {
    let (numbers, pre) = match s.find(['a', 'b', 'r']) {
        Some(at) => (&s[..at], Some(parse_pre(&s[at..])?)),
        None => (s, None),
    };
    let mut fields = numbers.split('.');
    let major = parse_number(fields.next()?)?;
    let minor = match fields.next() {
        Some(text) => Some(parse_number(text)?),
        None => None,
    };
    let patch = match fields.next() {
        Some(text) => Some(parse_number(text)?),
        None => None,
    };
    if fields.next().is_some() {
        return None;
    }
    Some(Parts { major, minor, patch, pre })
}

fn parse_pre(s: &str) -> Option<PreRelease> {
    let (kind, number) = if let Some(n) = s.strip_prefix("rc") {
        (PreKind::Candidate, n)
    } else if let Some(n) = s.strip_prefix('a') {
        (PreKind::Alpha, n)
    } else if let Some(n) = s.strip_prefix('b') {
        (PreKind::Beta, n)
    } else {
        return None;
    };
    Some(PreRelease { kind, number: parse_number(number)? })
}

fn parse_number(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_threading_starts_at_3_13() {
        let series = |s: &str| s.parse::<MinorVersion>().unwrap();
        assert!(!series("3.12").has_free_threading());
        assert!(series("3.13").has_free_threading() && series("4.0").has_free_threading());
        let request = |s: &str| VersionRequest {
            variant: Variant::Gil,
            build: BuildKind::Release,
            ..s.parse::<VersionRequest>().unwrap()
        };
        assert!(request("3.12").predates_free_threading() && request("2").predates_free_threading());
        assert!(!request("3").predates_free_threading() && !request("3.13.5").predates_free_threading());
        assert_eq!(Variant::ALL.map(Variant::suffix), ["", "t"]);
    }

    fn request(s: &str) -> VersionRequest {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn request_round_trips() {
        for s in [
            "3",
            "3.13",
            "3.13t",
            "3.13.5",
            "3.13.5t",
            "3.15.0b4t",
            "3.15.0rc1",
            "3.14.0a7t",
            "3t",
            "3.14t-tsan",
            "3.14.6t-tsan",
        ] {
            assert_eq!(request(s).to_string(), s);
        }
    }

    #[test]
    fn freethreaded_spellings_agree() {
        assert_eq!(request("3.14+freethreaded"), request("3.14t"));
        assert_eq!(request("3.13.5+freethreaded"), request("3.13.5t"));
        assert_eq!(request("  3.13t "), request("3.13t"));
    }

    #[test]
    fn no_suffix_means_gil() {
        assert_eq!(request("3.14").variant, Variant::Gil);
        assert_eq!(request("3.14t").variant, Variant::Freethreaded);
    }

    #[test]
    fn rejects_malformed_requests() {
        for s in [
            "",
            "t",
            "3.",
            ".3",
            "3..1",
            "3.13.5.1",
            "3.x",
            "latest",
            "3.13tt",
            "3.13T",
            "3.15b4",
            "3.15.0b",
            "3.15.0c1",
            "3.013",
            "-3",
            "3.13 t",
            "3.13.5+gil",
        ] {
            assert!(s.parse::<VersionRequest>().is_err(), "{s:?} should be rejected");
        }
    }

    #[test]
    fn freethreading_before_313_is_explained() {
        for s in ["3.12t", "3.12.4t", "2t", "2.7t"] {
            assert_eq!(
                s.parse::<VersionRequest>(),
                Err(VersionError::NoFreethreadingBefore313(s.to_string()))
            );
        }
        assert!("3.12".parse::<VersionRequest>().is_ok());
        assert!("3t".parse::<VersionRequest>().is_ok());
    }

    #[test]
    fn versions_order_prereleases_before_finals() {
        let mut versions: Vec<Version> = ["3.15.0", "3.15.0rc1", "3.15.0a2", "3.15.0b4", "3.14.10", "3.14.9"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        versions.sort();
        let printed: Vec<String> = versions.iter().map(ToString::to_string).collect();
        assert_eq!(printed, ["3.14.9", "3.14.10", "3.15.0a2", "3.15.0b4", "3.15.0rc1", "3.15.0"]);
    }

    #[test]
    fn exact_patch_request_does_not_match_its_prerelease() {
        let beta: Version = "3.15.0b4".parse().unwrap();
        assert!(!request("3.15.0").matches(&beta));
        assert!(!request("3.15.0t").matches(&beta));
        assert!(request("3.15.0b4").matches(&beta));
        assert!(request("3.15").matches(&beta));
        assert!(request("3").matches(&beta));
        assert!(!request("3.15.0b3").matches(&beta));
    }

    #[test]
    fn install_keys_round_trip_and_name_their_interpreter() {
        let key: InstallKey = "3.13.5t".parse().unwrap();
        assert_eq!(key.variant, Variant::Freethreaded);
        assert_eq!(key.to_string(), "3.13.5t");
        assert_eq!(key.interpreter_name(), "python3.13t");
        let key: InstallKey = "3.15.0b4".parse().unwrap();
        assert_eq!(key.interpreter_name(), "python3.15");
        assert_eq!(key.version.release_directory(), "3.15.0");
        assert!("3.13t".parse::<InstallKey>().is_err());
    }

    #[test]
    fn tsan_builds_have_their_own_key_and_only_free_threaded() {
        let key: InstallKey = "3.14.6t-tsan".parse().unwrap();
        assert_eq!((key.variant, key.build), (Variant::Freethreaded, BuildKind::Tsan));
        assert_eq!(key.to_string(), "3.14.6t-tsan");
        assert_eq!(key.interpreter_name(), "python3.14t");
        assert_eq!(key.link_name(), "python3.14t-tsan");
        let release: InstallKey = "3.14.6t".parse().unwrap();
        assert_eq!(release.build, BuildKind::Release);
        assert_eq!(release.link_name(), "python3.14t");
        assert_ne!(key, release);
        assert_eq!("3.14+freethreaded-tsan".parse::<VersionRequest>().unwrap(), request("3.14t-tsan"));
        assert_eq!(request("3.14t-tsan").build, BuildKind::Tsan);
        assert_eq!(request("3.14t").build, BuildKind::Release);
        for s in ["3.14-tsan", "3.14.6-tsan"] {
            assert_eq!(s.parse::<VersionRequest>(), Err(VersionError::TsanNeedsFreethreaded(s.to_string())));
        }
        assert!("3.14.6-tsan".parse::<InstallKey>().is_err());
        assert!("3.14t-tsan-tsan".parse::<VersionRequest>().is_err());
        assert!("3.14t-asan".parse::<VersionRequest>().is_err());
        assert_eq!(
            request("3.14").with_build(BuildKind::Tsan),
            Err(VersionError::TsanNeedsFreethreaded("3.14-tsan".into()))
        );
        assert_eq!(request("3.14t").with_build(BuildKind::Tsan), Ok(request("3.14t-tsan")));
    }
}
