//! The recipes: which CPython releases exist, where their source is, and its published sha256.
//!
//! The files in `recipes/` (one per series) are compiled into the binary. A directory named by
//! `FTPY_RECIPES` adds series and releases or overrides them, release by release, without a
//! rebuild. [`RecipeBook::resolve`] turns a [`VersionRequest`] into the one [`Release`] to build.
//!
//! What an override may not do silently: change the sha256 of a release the built-in recipes
//! know (it must say `replaces_sha256 = "<the built-in digest>"`, and is then warned about at
//! install), define a release that another override file defines too, or give `configure_flags`
//! that [`crate::interpreters::configure_guard`] refuses.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Diagnose, ExitCode};
use crate::interpreters::digest::Sha256Digest;
use crate::interpreters::version::{
    BuildKind, InstallKey, MinorVersion, Variant, Version, VersionError, VersionRequest,
};

include!(concat!(env!("OUT_DIR"), "/builtin_recipes.rs"));

/// How far a series has come with free-threading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FreeThreading {
    /// No free-threaded build (before 3.13).
    Unavailable,
    /// PEP 703 phase I: built with `--disable-gil`, not officially supported (3.13).
    Experimental,
    /// PEP 779: officially supported (3.14 on).
    Supported,
}

impl FreeThreading {
    pub fn describe(self) -> &'static str {
        match self {
            FreeThreading::Unavailable => "no free-threaded build",
            FreeThreading::Experimental => "free-threading is experimental in this series",
            FreeThreading::Supported => "free-threading is supported in this series",
        }
    }
}

/// One source release as upstream published it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    pub version: Version,
    /// The upstream address, used when no mirror is configured.
    pub url: String,
    pub sha256: Sha256Digest,
    /// Set when an override file replaced the digest the built-in recipes publish.
    pub replaced: Option<DigestOverride>,
}

/// A published digest that an override replaced, knowingly (`replaces_sha256`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestOverride {
    pub published: Sha256Digest,
    /// The override file.
    pub origin: String,
}

impl Release {
    /// `Python-3.13.5.tar.xz`
    pub fn file_name(&self) -> String {
        format!("Python-{}.tar.xz", self.version)
    }

    /// The address of this release's tarball on a mirror laid out like python.org's `ftp/python/`.
    pub fn mirror_url(&self, base: &str) -> String {
        format!("{}/{}/{}", base.trim_end_matches('/'), self.version.release_directory(), self.file_name())
    }
}

#[derive(Clone, Debug)]
pub struct Series {
    pub name: MinorVersion,
    pub free_threading: FreeThreading,
    /// Flags every build of this series gets, before variant and profile flags.
    pub configure_flags: Vec<String>,
    /// Sorted, oldest first.
    pub releases: Vec<Release>,
}

impl Series {
    pub fn supports(&self, variant: Variant) -> bool {
        variant == Variant::Gil || self.free_threading != FreeThreading::Unavailable
    }
}

/// A request resolved against the recipes.
#[derive(Clone, Debug)]
pub struct Resolved<'a> {
    pub key: InstallKey,
    pub release: &'a Release,
    pub series: &'a Series,
}

#[derive(Clone, Debug, Default)]
pub struct RecipeBook {
    series: BTreeMap<MinorVersion, Series>,
    /// The digest of every built-in release, as upstream published it.
    published: BTreeMap<Version, Sha256Digest>,
    /// Which override file defines each release it overrides or adds.
    overridden_by: BTreeMap<Version, String>,
}

/// Where a recipe file comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layer {
    BuiltIn,
    Override,
}

/// Recipe files are a few KB; anything this large is not one.
const MAX_RECIPE_FILE_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("cannot read the recipe directory {}", path.display())]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the recipe file {}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid recipe file {origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("release {version} is defined by two recipe files: {first} and {second}")]
    Duplicate { version: Version, first: String, second: String },
    #[error(
        "{origin} changes the sha256 of {version}, a published release: ftpy's built-in recipe has {published}, the override has {replacement}"
    )]
    DigestChanged { origin: String, version: Version, published: Sha256Digest, replacement: Sha256Digest },
    #[error("no recipe for {request}{}{}", did_you_mean_text(did_you_mean), nearest_text(nearest))]
    NoMatch {
        request: VersionRequest,
        /// Releases or series whose name is one typo away from the request (see [`did_you_mean`]).
        did_you_mean: Vec<String>,
        /// The closest releases, closest first (see [`RecipeBook::nearest`]).
        nearest: Vec<InstallKey>,
    },
    #[error(
        "`{request}` has no pair: free-threaded builds, the second half of a pair, exist only from 3.13 on (PEP 703)"
    )]
    NoPair { request: VersionRequest },
    #[error(
        "{series} has no free-threaded build in the recipes, and ftpy never substitutes the GIL build for `{request}`"
    )]
    NoFreethreadedBuild { request: VersionRequest, series: MinorVersion },
}

fn did_you_mean_text(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        return String::new();
    }
    format!(" (did you mean {}?)", one_of(suggestions))
}

/// `a`, `a or b`, `a, b or c`.
pub fn one_of(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn nearest_text(nearest: &[InstallKey]) -> String {
    if nearest.is_empty() {
        return String::new();
    }
    let names: Vec<String> = nearest.iter().map(ToString::to_string).collect();
    format!("; nearest available: {}", names.join(", "))
}

/// The on-disk form of a recipe file. Series-level fields are optional so that an override file
/// can add releases without repeating them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipeFile {
    series: String,
    free_threading: Option<FreeThreading>,
    configure_flags: Option<Vec<String>>,
    #[serde(default, rename = "release")]
    releases: Vec<ReleaseEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseEntry {
    version: String,
    url: String,
    sha256: String,
    /// In an override: the built-in digest this release's `sha256` knowingly replaces.
    replaces_sha256: Option<String>,
}

impl RecipeBook {
    /// The recipes compiled into ftpy, then those in `overrides` (if given) on top.
    pub fn load(overrides: Option<&Path>) -> Result<Self, RecipeError> {
        let mut book = RecipeBook::default();
        for (name, text) in BUILTIN_RECIPES {
            book.merge(&format!("(built in) recipes/{name}"), text, Layer::BuiltIn)?;
        }
        if let Some(dir) = overrides {
            let read_err = |source| RecipeError::ReadDir { path: dir.to_path_buf(), source };
            let mut files: Vec<PathBuf> = fs::read_dir(dir)
                .map_err(read_err)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for path in files {
                let text = read_recipe_file(&path)?;
                book.merge_text(&path.display().to_string(), &text)?;
            }
        }
        Ok(book)
    }

    /// Add the series and releases of one override file; a release with a version already
    /// known replaces it, within the rules in the module's doc.
    pub fn merge_text(&mut self, origin: &str, text: &str) -> Result<(), RecipeError> {
        self.merge(origin, text, Layer::Override)
    }

    fn merge(&mut self, origin: &str, text: &str, layer: Layer) -> Result<(), RecipeError> {
        let invalid = |message: String| RecipeError::Invalid { origin: origin.to_string(), message };
        let file: RecipeFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let name: MinorVersion = file.series.parse().map_err(|e: VersionError| invalid(e.to_string()))?;
        let series = self.series.entry(name).or_insert_with(|| Series {
            name,
            free_threading: if name.has_free_threading() {
                FreeThreading::Supported
            } else {
                FreeThreading::Unavailable
            },
            configure_flags: vec!["--with-ensurepip=install".to_string()],
            releases: Vec::new(),
        });
        if let Some(ft) = file.free_threading {
            if ft != FreeThreading::Unavailable && !name.has_free_threading() {
                return Err(invalid(format!("series {name} cannot have a free-threaded build")));
            }
            series.free_threading = ft;
        }
        if let Some(flags) = file.configure_flags {
            // The same guard as --configure-opt: a recipe cannot move the prefix or flip the
            // variant either.
            if let Some(refusal) =
                flags.iter().find_map(|f| crate::interpreters::configure_guard::check(f).err())
            {
                return Err(invalid(format!("configure_flags: {refusal}")));
            }
            series.configure_flags = flags;
        }
        for entry in file.releases {
            let version: Version = entry.version.parse().map_err(|e: VersionError| invalid(e.to_string()))?;
            if version.series() != name {
                return Err(invalid(format!("release {version} listed in series {name}")));
            }
            let sha256 = entry
                .sha256
                .parse()
                .map_err(|e: crate::interpreters::digest::InvalidDigest| invalid(e.to_string()))?;
            if !crate::interpreters::download::is_supported_url(&entry.url) {
                let url = crate::output::redact::redact(&entry.url);
                return Err(invalid(format!("release {version}: unsupported url `{url}`")));
            }
            if let Some(why) = unusable_url(&entry.url) {
                let url =
                    crate::output::terminal_text::escape_control(&crate::output::redact::redact(&entry.url))
                        .into_owned();
                return Err(invalid(format!("release {version}: url `{url}` {why}")));
            }
            let replaces: Option<Sha256Digest> = match &entry.replaces_sha256 {
                Some(text) => {
                    Some(text.parse().map_err(|e: crate::interpreters::digest::InvalidDigest| {
                        invalid(format!("release {version}: replaces_sha256: {e}"))
                    })?)
                }
                None => None,
            };
            let mut replaced = None;
            if layer == Layer::Override {
                if let Some(first) = self.overridden_by.insert(version.clone(), origin.to_string()) {
                    if first == origin {
                        return Err(invalid(format!("release {version} is listed twice")));
                    }
                    return Err(RecipeError::Duplicate { version, first, second: origin.to_string() });
                }
                match (self.published.get(&version), replaces) {
                    (Some(published), Some(replaces)) if *published != replaces => {
                        return Err(invalid(format!(
                            "release {version}: replaces_sha256 is {replaces}, but the built-in recipe's sha256 is {published}"
                        )));
                    }
                    (Some(published), replaces) if *published != sha256 => {
                        if replaces.is_none() {
                            return Err(RecipeError::DigestChanged {
                                origin: origin.to_string(),
                                version,
                                published: *published,
                                replacement: sha256,
                            });
                        }
                        replaced = Some(DigestOverride { published: *published, origin: origin.to_string() });
                    }
                    (None, Some(_)) => {
                        return Err(invalid(format!(
                            "release {version}: replaces_sha256 is given, but the built-in recipes have no {version} to replace"
                        )));
                    }
                    _ => {}
                }
            } else {
                self.published.insert(version.clone(), sha256);
            }
            let series = self.series.get_mut(&name).expect("inserted above");
            let release = Release { version, url: entry.url, sha256, replaced };
            match series.releases.binary_search_by(|r| r.version.cmp(&release.version)) {
                Ok(at) => series.releases[at] = release,
                Err(at) => series.releases.insert(at, release),
            }
        }
        Ok(())
    }

    pub fn series(&self) -> impl Iterator<Item = &Series> {
        self.series.values()
    }

    /// The newest final release matching `request`; a pre-release only when the request names it,
    /// or when no final release matches yet. The variant is never changed.
    pub fn resolve(&self, request: &VersionRequest) -> Result<Resolved<'_>, RecipeError> {
        let candidates = self.candidates(request);
        if candidates.is_empty() {
            if let Some(series) = request.series().and_then(|s| self.series.get(&s)) {
                if !series.supports(request.variant) {
                    return Err(RecipeError::NoFreethreadedBuild {
                        request: request.clone(),
                        series: series.name,
                    });
                }
            }
            return Err(RecipeError::NoMatch {
                request: request.clone(),
                did_you_mean: did_you_mean(self, &request.to_string()),
                nearest: self.nearest(request),
            });
        }
        let newest_final = candidates.iter().rev().find(|(_, r)| r.version.is_final());
        let (series, release) = newest_final.or(candidates.last()).copied().expect("non-empty");
        Ok(Resolved {
            key: InstallKey {
                version: release.version.clone(),
                variant: request.variant,
                build: request.build,
            },
            release,
            series,
        })
    }

    /// Both builds of the release `request` resolves to, GIL first. The request's own
    /// variant does not matter; the series must have a free-threaded build.
    pub fn resolve_pair(&self, request: &VersionRequest) -> Result<[Resolved<'_>; 2], RecipeError> {
        if request.predates_free_threading() {
            return Err(RecipeError::NoPair { request: request.clone() });
        }
        // A pair is of release builds: a TSan request is refused before it gets here.
        let both =
            VersionRequest { variant: Variant::Freethreaded, build: BuildKind::Release, ..request.clone() };
        let freethreaded = self.resolve(&both)?;
        let gil = Resolved {
            key: InstallKey::release(freethreaded.key.version.clone(), Variant::Gil),
            ..freethreaded.clone()
        };
        Ok([gil, freethreaded])
    }

    /// Matching releases in ascending order, from series that have the requested variant.
    fn candidates(&self, request: &VersionRequest) -> Vec<(&Series, &Release)> {
        self.series
            .values()
            .filter(|s| s.supports(request.variant))
            .flat_map(|s| s.releases.iter().map(move |r| (s, r)))
            .filter(|(_, r)| request.matches(&r.version))
            .collect()
    }

    /// What to offer instead when nothing matches, closest first, at most five, always in the
    /// requested variant: the requested series' releases first (finals before pre-releases,
    /// then by distance from the requested patch level), then the newest release of each other
    /// series by distance from the requested one (a final when the series has one).
    fn nearest(&self, request: &VersionRequest) -> Vec<InstallKey> {
        let key = |r: &Release| InstallKey {
            version: r.version.clone(),
            variant: request.variant,
            build: request.build,
        };
        let usable = self.series.values().filter(|s| s.supports(request.variant));
        let wanted_patch = request.patch.unwrap_or(u32::MAX);
        if let Some(series) = usable.clone().find(|s| Some(s.name) == request.series())
            && !series.releases.is_empty()
        {
            let mut releases: Vec<&Release> = series.releases.iter().collect();
            releases.sort_by_key(|r| {
                (!r.version.is_final(), r.version.patch.abs_diff(wanted_patch), std::cmp::Reverse(&r.version))
            });
            return releases.into_iter().take(5).map(key).collect();
        }
        let wanted = series_rank(request.major, request.minor.unwrap_or(u32::MAX / 2));
        let mut offers: Vec<(u64, &Release)> = usable
            .filter_map(|s| {
                let newest_final = s.releases.iter().rev().find(|r| r.version.is_final());
                let offer = newest_final.or(s.releases.last())?;
                Some((series_rank(s.name.major, s.name.minor).abs_diff(wanted), offer))
            })
            .collect();
        offers.sort_by_key(|(distance, r)| (*distance, !r.version.is_final(), std::cmp::Reverse(&r.version)));
        offers.into_iter().take(5).map(|(_, r)| key(r)).collect()
    }

    #[cfg(test)]
    pub fn find(&self, version: &Version) -> Option<(&Series, &Release)> {
        let series = self.series.get(&version.series())?;
        series.releases.iter().find(|r| &r.version == version).map(|r| (series, r))
    }
}

/// Closeness of series for [`RecipeBook::nearest`]: 3.14 is next to 3.13 and 3.15.
fn series_rank(major: u32, minor: u32) -> u64 {
    u64::from(major) * 1000 + u64::from(minor)
}

/// Releases and series one typo (a character added or dropped, or two swapped) away
/// from `typed`, a request as the user wrote it (`3.14.66t`, `3.41t`, `3.1.4t`): at most
/// three, series before releases, newest first, in the typed variant. Empty when nothing is
/// that close. A changed digit is no typo: `3.16` is another version, not a slip for `3.15`.
pub fn did_you_mean(book: &RecipeBook, typed: &str) -> Vec<String> {
    let typed = typed.trim();
    let (body, suffix) = match typed.strip_suffix("+freethreaded").or_else(|| typed.strip_suffix('t')) {
        Some(body) => (body, Variant::Freethreaded.suffix()),
        None => (typed, Variant::Gil.suffix()),
    };
    let variant = if suffix.is_empty() { Variant::Gil } else { Variant::Freethreaded };
    // A request is a few characters; anything long is no typo of a version.
    if body.is_empty() || body.len() > 24 {
        return Vec::new();
    }
    let mut close: Vec<(bool, Version, String)> = Vec::new();
    for series in book.series().filter(|s| s.supports(variant)) {
        let name = series.name.to_string();
        if let Some(newest) = series.releases.last()
            && typo_distance(body, &name) == 1
        {
            close.push((false, newest.version.clone(), name));
        }
        for release in &series.releases {
            let name = release.version.to_string();
            if typo_distance(body, &name) == 1 {
                close.push((true, release.version.clone(), name));
            }
        }
    }
    close.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    close.into_iter().take(3).map(|(_, _, name)| format!("{name}{suffix}")).collect()
}

/// Edits (insert, delete, swap two neighbours; a substitution counts as two) between two short
/// strings: the optimal string alignment distance without substitutions.
fn typo_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = if a[i - 1] == b[j - 1] { 0 } else { 2 };
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// One override file: a regular file (not a directory or a FIFO that happens to be named
/// `x.toml`) of a bounded size.
fn read_recipe_file(path: &Path) -> Result<String, RecipeError> {
    let read_err = |source| RecipeError::ReadFile { path: path.to_path_buf(), source };
    let meta = fs::metadata(path).map_err(read_err)?;
    if !meta.is_file() {
        let what = if meta.is_dir() { "a directory" } else { "not a regular file" };
        return Err(read_err(std::io::Error::other(format!("it is {what}"))));
    }
    let mut text = String::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_RECIPE_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(read_err)?;
    if text.len() as u64 > MAX_RECIPE_FILE_BYTES {
        return Err(RecipeError::Invalid {
            origin: path.display().to_string(),
            message: format!("larger than {} KiB, which no recipe file is", MAX_RECIPE_FILE_BYTES >> 10),
        });
    }
    Ok(text)
}

/// Why a release's `url` (of a supported scheme) cannot be fetched, if it cannot: white space
/// or control characters, which a URL parser drops or refuses (the download would fail, or fetch
/// another address than the one shown), or an http(s) address that does not parse.
fn unusable_url(url: &str) -> Option<String> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some(
            "contains white space or a control character: percent-encode it (a space is %20)".into(),
        );
    }
    if url.starts_with("file://") {
        return None;
    }
    match url::Url::parse(url) {
        Ok(parsed) if parsed.host_str().is_some_and(|h| !h.is_empty()) => None,
        Ok(_) => Some("has no host".into()),
        Err(e) => Some(format!("is not a valid URL: {e}")),
    }
}

// Beside the recipes rather than in version.rs, because its "did you mean" reads them (and
// version.rs stays a leaf).
impl Diagnose for VersionError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Usage
    }

    fn hints(&self) -> Vec<String> {
        match self {
            VersionError::NoFreethreadingBefore313(typed) => {
                let mut hints = typo_hint(typed);
                hints.push(
                    "ask for 3.13t or newer (`ftpy list --available`), or drop the `t` for a GIL-only build"
                        .into(),
                );
                hints
            }
            _ => vec!["a version looks like 3.13, 3.13t, 3.13.5, 3.13.5t or 3.15.0b4t".into()],
        }
    }
}

/// "did you mean" for a request refused before the recipes were consulted (`3.1.4t`), from
/// the built-in recipes.
fn typo_hint(typed: &str) -> Vec<String> {
    let Ok(book) = RecipeBook::load(None) else { return Vec::new() };
    let close = did_you_mean(&book, typed);
    if close.is_empty() {
        return Vec::new();
    }
    vec![format!("did you mean {}?", one_of(&close))]
}

impl Diagnose for RecipeError {
    fn exit_code(&self) -> ExitCode {
        match self {
            RecipeError::NoMatch { .. } | RecipeError::NoFreethreadedBuild { .. } => ExitCode::NotFound,
            _ => ExitCode::Usage,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            RecipeError::NoPair { .. } => vec![
                "ask for 3.13t or newer (`ftpy list --available`), or drop the `t` for a GIL-only build".into(),
            ],
            RecipeError::NoMatch { request, .. }
                if request.series().is_some_and(|s| !s.has_free_threading()) =>
            {
                vec!["ftpy's recipes start at 3.13, the first series with a free-threaded build".into()]
            }
            RecipeError::NoMatch { .. } => vec![
                "`ftpy list --available` shows every release the recipes know".into(),
                "a release newer than ftpy's recipes needs a recipe file in the directory named by FTPY_RECIPES, or a newer ftpy".into(),
            ],
            RecipeError::NoFreethreadedBuild { .. } => {
                vec!["ask for the GIL build explicitly (no `t`) if that is what you want".into()]
            }
            RecipeError::Invalid { .. } | RecipeError::ReadFile { .. } => {
                vec!["fix or remove the file, or unset FTPY_RECIPES".into()]
            }
            RecipeError::Duplicate { .. } => {
                vec!["keep that release in one of the two files: which one wins must not depend on file names".into()]
            }
            RecipeError::DigestChanged { published, .. } => vec![
                "a different sha256 for a published release means different bytes than upstream published; nothing was downloaded or built".into(),
                format!("if you made that tarball yourself and mean it, add `replaces_sha256 = \"{published}\"` to that [[release]] entry; otherwise remove the override"),
            ],
            RecipeError::ReadDir { .. } => {
                vec!["FTPY_RECIPES (or --recipes) must name an existing directory of recipe files".into()]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640";

    fn book(series: &[(&str, &str, &[&str])]) -> RecipeBook {
        let mut book = RecipeBook::default();
        for (name, ft, versions) in series {
            let mut text = format!("series = \"{name}\"\nfree_threading = \"{ft}\"\n");
            for v in *versions {
                text.push_str(&format!(
                    "[[release]]\nversion = \"{v}\"\nurl = \"https://example.invalid/{v}/Python-{v}.tar.xz\"\nsha256 = \"{DIGEST}\"\n"
                ));
            }
            book.merge(name, &text, Layer::BuiltIn).unwrap();
        }
        book
    }

    fn sample() -> RecipeBook {
        book(&[
            ("3.12", "unavailable", &["3.12.9", "3.12.10"]),
            ("3.13", "experimental", &["3.13.0", "3.13.4", "3.13.5", "3.13.14"]),
            ("3.14", "supported", &["3.14.0", "3.14.5", "3.14.6", "3.14.7rc1"]),
            ("3.15", "supported", &["3.15.0a1", "3.15.0b4"]),
        ])
    }

    fn resolve(book: &RecipeBook, request: &str) -> Result<String, RecipeError> {
        book.resolve(&request.parse().unwrap()).map(|r| r.key.to_string())
    }

    #[test]
    fn picks_newest_final_and_keeps_the_variant() {
        let book = sample();
        assert_eq!(resolve(&book, "3.13t").unwrap(), "3.13.14t");
        assert_eq!(resolve(&book, "3.13").unwrap(), "3.13.14");
        assert_eq!(resolve(&book, "3.13.5t").unwrap(), "3.13.5t");
        assert_eq!(resolve(&book, "3").unwrap(), "3.14.6");
        assert_eq!(resolve(&book, "3t").unwrap(), "3.14.6t");
    }

    #[test]
    fn prerelease_never_leaks_into_a_series_that_has_a_final() {
        // pyenv's prefix matching picks 3.14.7rc1 here.
        let book = sample();
        assert_eq!(resolve(&book, "3.14t").unwrap(), "3.14.6t");
        assert_eq!(resolve(&book, "3.14").unwrap(), "3.14.6");
    }

    #[test]
    fn prerelease_when_named_or_when_series_has_no_final() {
        let book = sample();
        assert_eq!(resolve(&book, "3.14.7rc1t").unwrap(), "3.14.7rc1t");
        assert_eq!(resolve(&book, "3.15t").unwrap(), "3.15.0b4t");
        assert_eq!(resolve(&book, "3.15.0a1").unwrap(), "3.15.0a1");
    }

    #[test]
    fn exact_final_does_not_fall_back_to_its_prerelease() {
        let err = resolve(&sample(), "3.15.0t").unwrap_err();
        assert_eq!(err.to_string(), "no recipe for 3.15.0t; nearest available: 3.15.0b4t, 3.15.0a1t");
    }

    #[test]
    fn missing_version_lists_nearest_in_the_same_variant() {
        let err = resolve(&sample(), "3.13.99t").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no recipe for 3.13.99t; nearest available: 3.13.14t, 3.13.5t, 3.13.4t, 3.13.0t"
        );
        let err = resolve(&sample(), "3.16t").unwrap_err();
        assert_eq!(err.to_string(), "no recipe for 3.16t; nearest available: 3.15.0b4t, 3.14.6t, 3.13.14t");
    }

    #[test]
    fn nearest_puts_the_closest_first_and_finals_before_prereleases() {
        // Issue 12: a pre-release came first and the closest series last.
        let err = resolve(&sample(), "3.14.66t").unwrap_err();
        assert!(
            err.to_string().ends_with("nearest available: 3.14.6t, 3.14.5t, 3.14.0t, 3.14.7rc1t"),
            "{err}"
        );
        let err = resolve(&sample(), "3.12.99").unwrap_err();
        assert!(err.to_string().ends_with("nearest available: 3.12.10, 3.12.9"), "{err}");
        let err = resolve(&sample(), "3.11").unwrap_err();
        assert!(err.to_string().ends_with("nearest available: 3.12.10, 3.13.14, 3.14.6, 3.15.0b4"), "{err}");
        let err = resolve(&sample(), "4t").unwrap_err();
        assert!(err.to_string().ends_with("nearest available: 3.15.0b4t, 3.14.6t, 3.13.14t"), "{err}");
    }

    #[test]
    fn typos_get_a_did_you_mean() {
        let book = sample();
        let err = resolve(&book, "3.14.66t").unwrap_err();
        assert!(
            err.to_string().starts_with("no recipe for 3.14.66t (did you mean 3.14.6t?); nearest"),
            "{err}"
        );
        let err = resolve(&book, "3.41t").unwrap_err();
        assert!(err.to_string().starts_with("no recipe for 3.41t (did you mean 3.14t?); nearest"), "{err}");
        assert_eq!(did_you_mean(&book, "3.1.4t"), ["3.14t", "3.13.4t"]);
        assert_eq!(did_you_mean(&book, "3.1.4"), ["3.14", "3.13.4"]);
        // Only series that have the variant, and nothing for what is not one typo away.
        assert_eq!(did_you_mean(&book, "3.21t"), Vec::<String>::new());
        assert_eq!(did_you_mean(&book, "3.21"), ["3.12"]);
        assert_eq!(did_you_mean(&book, "9.99.99t"), Vec::<String>::new());
        assert_eq!(did_you_mean(&book, &"9".repeat(100)), Vec::<String>::new());
        assert_eq!(typo_distance("3.41", "3.14"), 1);
        assert_eq!(typo_distance("3.14.66", "3.14.6"), 1);
        assert_eq!(typo_distance("3.13", "3.13"), 0);
        assert_eq!(typo_distance("3.16", "3.15"), 2);
        assert_eq!(did_you_mean(&book, "3.16t"), Vec::<String>::new());
    }

    #[test]
    fn pairs_are_two_builds_of_one_release() {
        let book = sample();
        for request in ["3.14", "3.14t"] {
            let pair = book.resolve_pair(&request.parse().unwrap()).unwrap();
            assert_eq!([pair[0].key.to_string(), pair[1].key.to_string()], ["3.14.6", "3.14.6t"]);
        }
        assert!(matches!(book.resolve_pair(&"3.12".parse().unwrap()), Err(RecipeError::NoPair { .. })));
        let pair = book.resolve_pair(&"3".parse().unwrap()).unwrap();
        assert_eq!(pair[1].key.to_string(), "3.14.6t");
    }

    #[test]
    fn missing_freethreaded_build_is_an_error_never_a_gil_build() {
        // pyenv builds a GIL interpreter when the `t` definition is missing; we refuse.
        let book = book(&[("3.13", "unavailable", &["3.13.11"])]);
        let err = resolve(&book, "3.13.11t").unwrap_err();
        assert!(matches!(err, RecipeError::NoFreethreadedBuild { .. }), "{err}");
        assert_eq!(resolve(&book, "3.13.11").unwrap(), "3.13.11");
    }

    #[test]
    fn override_replaces_a_release_and_adds_new_ones() {
        let mut book = sample();
        let other = "0".repeat(64);
        book.merge_text(
            "override",
            &format!(
                "series = \"3.13\"\n[[release]]\nversion = \"3.13.5\"\nurl = \"file:///mirror/3.13.5/Python-3.13.5.tar.xz\"\nsha256 = \"{other}\"\nreplaces_sha256 = \"{DIGEST}\"\n[[release]]\nversion = \"3.13.15\"\nurl = \"https://example.invalid/x\"\nsha256 = \"{other}\"\n"
            ),
        )
        .unwrap();
        let (series, release) = book.find(&"3.13.5".parse().unwrap()).unwrap();
        assert_eq!(release.sha256.to_string(), other);
        let replaced = release.replaced.as_ref().expect("the replaced digest is kept for a warning");
        assert_eq!((replaced.published.to_string().as_str(), replaced.origin.as_str()), (DIGEST, "override"));
        assert_eq!(series.free_threading, FreeThreading::Experimental, "series fields kept");
        assert_eq!(resolve(&book, "3.13t").unwrap(), "3.13.15t");
    }

    fn release_text(version: &str, sha256: &str, extra: &str) -> String {
        format!(
            "series = \"3.13\"\n[[release]]\nversion = \"{version}\"\nurl = \"file:///m/{version}/Python-{version}.tar.xz\"\nsha256 = \"{sha256}\"\n{extra}"
        )
    }

    #[test]
    fn a_changed_digest_of_a_published_release_needs_replaces_sha256() {
        let other = "0".repeat(64);
        let err = sample().merge_text("mine.toml", &release_text("3.13.5", &other, "")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "mine.toml changes the sha256 of 3.13.5, a published release: ftpy's built-in recipe has {DIGEST}, the override has {other}"
            )
        );
        // A stale or mistyped replaces_sha256 is no licence either.
        let stale = format!("replaces_sha256 = \"{}\"\n", "1".repeat(64));
        let err = sample().merge_text("mine.toml", &release_text("3.13.5", &other, &stale)).unwrap_err();
        assert!(err.to_string().contains("but the built-in recipe's sha256 is"), "{err}");
        let err = sample().merge_text("mine.toml", &release_text("3.13.77", &other, &stale)).unwrap_err();
        assert!(err.to_string().contains("no 3.13.77 to replace"), "{err}");
        // The same digest from another place (a mirror) needs nothing, and is no replacement.
        let mut book = sample();
        book.merge_text("mirror.toml", &release_text("3.13.5", DIGEST, "")).unwrap();
        assert_eq!(book.find(&"3.13.5".parse().unwrap()).unwrap().1.replaced, None);
    }

    #[test]
    fn two_override_files_may_not_define_the_same_release() {
        let mut book = sample();
        book.merge_text("/r/a.toml", &release_text("3.13.77", DIGEST, "")).unwrap();
        let err = book.merge_text("/r/b.toml", &release_text("3.13.77", DIGEST, "")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "release 3.13.77 is defined by two recipe files: /r/a.toml and /r/b.toml"
        );
        let twice = format!(
            "{}[[release]]\nversion = \"3.13.78\"\nurl = \"https://x\"\nsha256 = \"{DIGEST}\"\n",
            release_text("3.13.78", DIGEST, "")
        );
        let err = sample().merge_text("/r/c.toml", &twice).unwrap_err();
        assert!(err.to_string().contains("release 3.13.78 is listed twice"), "{err}");
    }

    #[test]
    fn configure_flags_pass_the_configure_opt_guard() {
        for flag in ["--prefix=/", "--pre=/usr", "--disable-gil", "--with-lto", "prefix=/x", "--host"] {
            let text =
                format!("series = \"3.13\"\nconfigure_flags = [\"--with-ensurepip=install\", \"{flag}\"]\n");
            let err = sample().merge_text("flags.toml", &text).unwrap_err();
            assert!(
                err.to_string().starts_with("invalid recipe file flags.toml: configure_flags: `"),
                "{flag}: {err}"
            );
        }
        let text =
            "series = \"3.13\"\nconfigure_flags = [\"--with-ensurepip=install\", \"--enable-shared\"]\n";
        sample().merge_text("flags.toml", text).unwrap();
    }

    #[test]
    fn override_directory_entries_that_are_not_files_are_named() {
        let dir = tempfile::TempDir::new().unwrap();
        fs::create_dir(dir.path().join("x.toml")).unwrap();
        let err = RecipeBook::load(Some(dir.path())).unwrap_err();
        let path = dir.path().join("x.toml");
        assert!(matches!(&err, RecipeError::ReadFile { path: p, .. } if *p == path), "{err:?}");
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert_eq!(cause, "it is a directory");
        fs::remove_dir(&path).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        let err = RecipeBook::load(Some(dir.path())).unwrap_err();
        assert!(matches!(&err, RecipeError::ReadFile { path: p, .. } if *p == path), "{err:?}");
        fs::remove_file(&path).unwrap();
        fs::write(&path, format!("# {}\nseries = \"3.13\"\n", "x".repeat(2 << 20))).unwrap();
        let err = RecipeBook::load(Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("larger than 1024 KiB"), "{err}");
    }

    #[test]
    fn rejects_bad_recipe_files() {
        let mut book = RecipeBook::default();
        for text in [
            "series = \"3.13\"\n[[release]]\nversion = \"3.14.0\"\nurl = \"https://x\"\nsha256 = \"00\"\n",
            &format!(
                "series = \"3.13\"\n[[release]]\nversion = \"3.13.0\"\nurl = \"https://x\"\nsha256 = \"{}\"\n",
                "z".repeat(64)
            ),
            &format!(
                "series = \"3.13\"\n[[release]]\nversion = \"3.13.0\"\nurl = \"ftp://x\"\nsha256 = \"{DIGEST}\"\n"
            ),
            "series = \"3.13\"\nunknown = 1\n",
            "series = \"3.12\"\nfree_threading = \"supported\"\n",
        ] {
            assert!(matches!(book.merge_text("t", text), Err(RecipeError::Invalid { .. })), "{text}");
        }
    }

    #[test]
    fn builtin_recipes_load_and_cover_313_on() {
        let book = RecipeBook::load(None).unwrap();
        let (series, release) = book.find(&"3.13.5".parse().unwrap()).expect("3.13.5 is in the recipes");
        assert_eq!(release.sha256.to_string(), DIGEST);
        assert_eq!(series.free_threading, FreeThreading::Experimental);
        assert_eq!(book.find(&"3.13.0".parse().unwrap()).unwrap().0.name.to_string(), "3.13");
        let (series, _) = book.find(&"3.14.0".parse().unwrap()).unwrap();
        assert_eq!(series.free_threading, FreeThreading::Supported);
        assert_eq!(
            release.mirror_url("file:///srv/mirror/"),
            "file:///srv/mirror/3.13.5/Python-3.13.5.tar.xz"
        );
        let beta = "3.15.0b4".parse().unwrap();
        let (_, beta) = book.find(&beta).unwrap();
        assert_eq!(beta.mirror_url("http://m"), "http://m/3.15.0/Python-3.15.0b4.tar.xz");
        assert_eq!(beta.url, "https://www.python.org/ftp/python/3.15.0/Python-3.15.0b4.tar.xz");
    }
}
