//! The recipes: which CPython releases exist, where their source is, and its published sha256.
//!
//! The files in `recipes/` (one per series) are compiled into the binary. A directory named by
//! `FTPY_RECIPES` adds series and releases or overrides them, release by release, without a
//! rebuild. [`RecipeBook::resolve`] turns a [`VersionRequest`] into the one [`Release`] to build.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::digest::Sha256Digest;
use crate::version::{InstallKey, MinorVersion, Variant, Version, VersionError, VersionRequest};

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
}

#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("cannot read the recipe directory {}", path.display())]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid recipe file {origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("no recipe for {request}{}", nearest_text(nearest))]
    NoMatch { request: VersionRequest, nearest: Vec<InstallKey> },
    #[error(
        "`{request}` has no pair: free-threaded builds, the second half of a pair, exist only from 3.13 on (PEP 703)"
    )]
    NoPair { request: VersionRequest },
    #[error(
        "{series} has no free-threaded build in the recipes, and ftpy never substitutes the GIL build for `{request}`"
    )]
    NoFreethreadedBuild { request: VersionRequest, series: MinorVersion },
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
}

impl RecipeBook {
    /// The recipes compiled into ftpy, then those in `overrides` (if given) on top.
    pub fn load(overrides: Option<&Path>) -> Result<Self, RecipeError> {
        let mut book = RecipeBook::default();
        for (name, text) in BUILTIN_RECIPES {
            book.merge_text(&format!("(built in) recipes/{name}"), text)?;
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
                let text = fs::read_to_string(&path).map_err(read_err)?;
                book.merge_text(&path.display().to_string(), &text)?;
            }
        }
        Ok(book)
    }

    /// Add the series and releases of one recipe file; a release with a version already known
    /// replaces it.
    pub fn merge_text(&mut self, origin: &str, text: &str) -> Result<(), RecipeError> {
        let invalid = |message: String| RecipeError::Invalid { origin: origin.to_string(), message };
        let file: RecipeFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let name: MinorVersion = file.series.parse().map_err(|e: VersionError| invalid(e.to_string()))?;
        let series = self.series.entry(name).or_insert_with(|| Series {
            name,
            free_threading: if name >= crate::version::FIRST_FREETHREADED {
                FreeThreading::Supported
            } else {
                FreeThreading::Unavailable
            },
            configure_flags: vec!["--with-ensurepip=install".to_string()],
            releases: Vec::new(),
        });
        if let Some(ft) = file.free_threading {
            if ft != FreeThreading::Unavailable && name < crate::version::FIRST_FREETHREADED {
                return Err(invalid(format!("series {name} cannot have a free-threaded build")));
            }
            series.free_threading = ft;
        }
        if let Some(flags) = file.configure_flags {
            series.configure_flags = flags;
        }
        for entry in file.releases {
            let version: Version = entry.version.parse().map_err(|e: VersionError| invalid(e.to_string()))?;
            if version.series() != name {
                return Err(invalid(format!("release {version} listed in series {name}")));
            }
            let sha256 =
                entry.sha256.parse().map_err(|e: crate::digest::InvalidDigest| invalid(e.to_string()))?;
            if !crate::download::is_supported_url(&entry.url) {
                let url = crate::redact::redact(&entry.url);
                return Err(invalid(format!("release {version}: unsupported url `{url}`")));
            }
            let release = Release { version, url: entry.url, sha256 };
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
            return Err(RecipeError::NoMatch { request: request.clone(), nearest: self.nearest(request) });
        }
        let newest_final = candidates.iter().rev().find(|(_, r)| r.version.is_final());
        let (series, release) = newest_final.or(candidates.last()).copied().expect("non-empty");
        Ok(Resolved {
            key: InstallKey { version: release.version.clone(), variant: request.variant },
            release,
            series,
        })
    }

    /// Both builds of the release `request` resolves to, GIL first. The request's own
    /// variant does not matter; the series must have a free-threaded build.
    pub fn resolve_pair(&self, request: &VersionRequest) -> Result<[Resolved<'_>; 2], RecipeError> {
        let too_old = match request.series() {
            Some(series) => series < crate::version::FIRST_FREETHREADED,
            None => request.major < crate::version::FIRST_FREETHREADED.major,
        };
        if too_old {
            return Err(RecipeError::NoPair { request: request.clone() });
        }
        let both = VersionRequest { variant: Variant::Freethreaded, ..request.clone() };
        let freethreaded = self.resolve(&both)?;
        let gil = Resolved {
            key: InstallKey { version: freethreaded.key.version.clone(), variant: Variant::Gil },
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

    /// What to offer instead when nothing matches: the newest releases of the requested series
    /// (or, without one, of each series), always in the requested variant.
    fn nearest(&self, request: &VersionRequest) -> Vec<InstallKey> {
        let key = |r: &Release| InstallKey { version: r.version.clone(), variant: request.variant };
        let usable = self.series.values().filter(|s| s.supports(request.variant));
        let same_series: Vec<InstallKey> = usable
            .clone()
            .filter(|s| Some(s.name) == request.series())
            .flat_map(|s| s.releases.iter().rev().take(5).map(key))
            .collect();
        if !same_series.is_empty() {
            return same_series;
        }
        usable.rev().filter_map(|s| s.releases.last().map(key)).take(5).collect()
    }

    #[cfg(test)]
    pub fn find(&self, version: &Version) -> Option<(&Series, &Release)> {
        let series = self.series.get(&version.series())?;
        series.releases.iter().find(|r| &r.version == version).map(|r| (series, r))
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
            book.merge_text(name, &text).unwrap();
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
        assert_eq!(
            err.to_string(),
            "no recipe for 3.16t; nearest available: 3.15.0b4t, 3.14.7rc1t, 3.13.14t"
        );
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
                "series = \"3.13\"\n[[release]]\nversion = \"3.13.5\"\nurl = \"file:///mirror/3.13.5/Python-3.13.5.tar.xz\"\nsha256 = \"{other}\"\n[[release]]\nversion = \"3.13.15\"\nurl = \"https://example.invalid/x\"\nsha256 = \"{other}\"\n"
            ),
        )
        .unwrap();
        let (series, release) = book.find(&"3.13.5".parse().unwrap()).unwrap();
        assert_eq!(release.sha256.to_string(), other);
        assert_eq!(series.free_threading, FreeThreading::Experimental, "series fields kept");
        assert_eq!(resolve(&book, "3.13t").unwrap(), "3.13.15t");
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
