//! Names of CPython versions, in the order a user's string becomes an installation:
//!
//! - [`VersionRequest`]: what was typed (`3`, `3.13t`, `3.13.5`, `3.15.0b4t`, `3.14+freethreaded`).
//!   Parts may be missing; the [`Variant`] never is: no suffix means the GIL build.
//! - [`Version`]: one exact CPython release (`3.13.5`, `3.15.0b4`), as the recipes list them.
//! - [`InstallKey`]: a resolved version plus its variant (`3.13.5t`), the on-disk identity of an
//!   installation under `<home>/versions/`.
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
}

impl VersionRequest {
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
        f.write_str(self.variant.suffix())
    }
}

impl FromStr for VersionRequest {
    type Err = VersionError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
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
        };
        if variant == Variant::Freethreaded && request.predates_free_threading() {
            return Err(VersionError::NoFreethreadingBefore313(input.to_string()));
        }
        Ok(request)
    }
}

/// An installed (or to-be-installed) build: exact version plus variant, e.g. `3.13.5t`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstallKey {
    pub version: Version,
    pub variant: Variant,
}

impl InstallKey {
    /// The interpreter's file name inside `<prefix>/bin`, as `make install` names it.
    pub fn interpreter_name(&self) -> String {
        format!("python{}{}", self.version.series(), self.variant.suffix())
    }
}

impl fmt::Display for InstallKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.version, self.variant.suffix())
    }
}

impl FromStr for InstallKey {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (body, variant) = split_variant(s);
        Ok(InstallKey { version: body.parse()?, variant })
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
        let request =
            |s: &str| VersionRequest { variant: Variant::Gil, ..s.parse::<VersionRequest>().unwrap() };
        assert!(request("3.12").predates_free_threading() && request("2").predates_free_threading());
        assert!(!request("3").predates_free_threading() && !request("3.13.5").predates_free_threading());
        assert_eq!(Variant::ALL.map(Variant::suffix), ["", "t"]);
    }

    fn request(s: &str) -> VersionRequest {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn request_round_trips() {
        for s in ["3", "3.13", "3.13t", "3.13.5", "3.13.5t", "3.15.0b4t", "3.15.0rc1", "3.14.0a7t", "3t"] {
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
}
