//! Core metadata: read from a wheel or sdist, and the fields ftpy uses.

use std::io::Read;

use super::METADATA_LIMIT;

/// `*.dist-info/METADATA` of a wheel, or the top-level `PKG-INFO` of an sdist.
pub(super) fn read_archive_metadata(filename: &str, bytes: &[u8]) -> Result<String, String> {
    read_archive_metadata_within(filename, bytes, SDIST_UNPACKED_LIMIT)
}

/// An sdist is read (decompressed) no further than this looking for its `PKG-INFO`, which comes
/// near the start of real ones: a small gzip file can expand a thousandfold.
const SDIST_UNPACKED_LIMIT: u64 = 1024 * 1024 * 1024;

fn read_archive_metadata_within(filename: &str, bytes: &[u8], unpacked_limit: u64) -> Result<String, String> {
    if filename.ends_with(".whl") {
        return zip_member(bytes, |n| n.ends_with(".dist-info/METADATA") && n.matches('/').count() == 1)
            .ok_or_else(|| "the wheel has no .dist-info/METADATA".to_string())?;
    }
    if filename.ends_with(".tar.gz") || filename.ends_with(".tgz") {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes).take(unpacked_limit));
        let found = (|| {
            for entry in archive.entries().map_err(|e| e.to_string())? {
                let mut entry = entry.map_err(|e| e.to_string())?;
                let path = entry.path().map_err(|e| e.to_string())?.into_owned();
                if path.components().count() == 2 && path.ends_with("PKG-INFO") {
                    return read_bounded_text(&mut entry);
                }
            }
            Err("the sdist has no PKG-INFO".to_string())
        })();
        if found.is_err() && archive.into_inner().limit() == 0 {
            return Err(format!(
                "the sdist unpacks to more than {} MiB before its PKG-INFO",
                unpacked_limit / (1024 * 1024)
            ));
        }
        return found;
    }
    if filename.ends_with(".zip") {
        return zip_member(bytes, |n| n.ends_with("/PKG-INFO") && n.matches('/').count() == 1)
            .ok_or_else(|| "the sdist has no PKG-INFO".to_string())?;
    }
    Err(format!("cannot read metadata from {}", crate::output::terminal_text::escape_control(filename)))
}

/// A metadata member of an archive, as text; one that unpacks to more than [`METADATA_LIMIT`]
/// is refused (it would be a bomb, not metadata).
fn read_bounded_text(member: &mut impl Read) -> Result<String, String> {
    let mut bytes = Vec::new();
    member.take(METADATA_LIMIT + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > METADATA_LIMIT {
        return Err(format!("its metadata is larger than {} MiB", METADATA_LIMIT / (1024 * 1024)));
    }
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// The text of the first member of a zip archive whose name `wanted` accepts.
fn zip_member(bytes: &[u8], wanted: impl Fn(&str) -> bool) -> Option<Result<String, String>> {
    let mut archive = match zip::ZipArchive::new(std::io::Cursor::new(bytes)) {
        Ok(archive) => archive,
        Err(e) => return Some(Err(e.to_string())),
    };
    for index in 0..archive.len() {
        let mut member = match archive.by_index(index) {
            Ok(member) => member,
            Err(e) => return Some(Err(e.to_string())),
        };
        let name = member.name().map(|n| n.into_owned()).unwrap_or_default();
        if wanted(&name) {
            return Some(read_bounded_text(&mut member));
        }
    }
    None
}

/// More dependencies than any real release declares (the largest have a few hundred).
pub const MAX_REQUIRES_DIST: usize = 2000;

/// The fields of core metadata ftpy uses.
#[derive(Clone, Debug, Default)]
pub struct CoreMetadata {
    pub requires_dist: Vec<String>,
    pub classifiers: Vec<String>,
    /// `Provides-Extra`: pip ignores (with a warning) any other extra asked for.
    pub provides_extra: Vec<String>,
    /// Metadata 2.2+: `Requires-Dist` declared dynamic, i.e. known only after a build.
    pub dynamic_requires: bool,
    /// `Requires-Dist` fields past [`MAX_REQUIRES_DIST`], not kept: metadata that declares more
    /// is lying, and following them all would be unbounded work.
    pub requires_dist_dropped: usize,
    /// `Metadata-Version`, e.g. (2, 1).
    pub version: Option<(u32, u32)>,
}

impl CoreMetadata {
    /// The header fields of core metadata, read as the email-style headers they are (`mailparse`,
    /// as uv reads them): folded lines joined, the description body after the first blank line
    /// left out. Text that is no such header block is an error, shown beside the package.
    pub fn parse(text: &str) -> Result<CoreMetadata, String> {
        let (headers, _) = mailparse::parse_headers(text.as_bytes())
            .map_err(|e| format!("its metadata cannot be read: {e}"))?;
        let mut meta = CoreMetadata::default();
        let fields = headers.iter().map(|h| (h.get_key_ref().trim().to_ascii_lowercase(), h.get_value()));
        for (key, value) in fields {
            let value = value.trim().to_string();
            match key.as_str() {
                "requires-dist" if meta.requires_dist.len() >= MAX_REQUIRES_DIST => {
                    meta.requires_dist_dropped += 1
                }
                "requires-dist" => meta.requires_dist.push(value),
                "classifier" => meta.classifiers.push(value),
                "provides-extra" => meta.provides_extra.push(crate::wheels::tags::normalize_name(&value)),
                "dynamic" if value.eq_ignore_ascii_case("requires-dist") => meta.dynamic_requires = true,
                "metadata-version" => {
                    let mut parts = value.split('.').map(|p| p.trim().parse::<u32>().unwrap_or(0));
                    meta.version = Some((parts.next().unwrap_or(0), parts.next().unwrap_or(0)));
                }
                _ => {}
            }
        }
        Ok(meta)
    }

    /// Metadata of an sdist (PKG-INFO): before Metadata 2.2 (PEP 643) every field may change
    /// when the package is built, so its dependencies are not known until then.
    pub fn parse_sdist(text: &str) -> Result<CoreMetadata, String> {
        let mut meta = CoreMetadata::parse(text)?;
        if meta.version.is_none_or(|v| v < (2, 2)) {
            meta.dynamic_requires = true;
        }
        Ok(meta)
    }

    /// The Free Threading trove classifier's last part, e.g. `3 - Stable`.
    pub fn free_threading_classifier(&self) -> Option<String> {
        self.classifiers
            .iter()
            .find_map(|c| c.strip_prefix("Programming Language :: Python :: Free Threading :: "))
            .map(String::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sdist_is_unpacked_only_so_far_looking_for_its_metadata() {
        let sdist = |filler: usize| {
            let mut tar =
                tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
            for (name, data) in
                [("demo-1.0/filler", vec![0u8; filler]), ("demo-1.0/PKG-INFO", b"Name: demo\n".to_vec())]
            {
                let mut header = tar::Header::new_gnu();
                header.set_size(data.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                tar.append_data(&mut header, name, data.as_slice()).unwrap();
            }
            tar.into_inner().unwrap().finish().unwrap()
        };
        let limit = 1024 * 1024;
        let small = sdist(1000);
        assert_eq!(read_archive_metadata_within("demo-1.0.tar.gz", &small, limit).unwrap(), "Name: demo\n");
        // 4 MiB of zeros compress to a few KB: a bomb in miniature.
        let bomb = sdist(4 * 1024 * 1024);
        assert!(bomb.len() < 64 * 1024);
        let error = read_archive_metadata_within("demo-1.0.tar.gz", &bomb, limit).unwrap_err();
        assert_eq!(error, "the sdist unpacks to more than 1 MiB before its PKG-INFO");
    }

    #[test]
    fn reads_core_metadata() {
        let meta = CoreMetadata::parse(
            "Metadata-Version: 2.4\nName: demo\nRequires-Dist: attrs>=23\nRequires-Dist: numpy; extra == \"fast\"\n\
             Classifier: Programming Language :: Python :: Free Threading :: 3 - Stable\nDynamic: Requires-Dist\n\
             Provides-Extra: Fast_Math\n\n\
             Requires-Dist: not-a-field\n",
        )
        .unwrap();
        assert_eq!(meta.requires_dist, vec!["attrs>=23", "numpy; extra == \"fast\""]);
        assert_eq!(meta.free_threading_classifier().as_deref(), Some("3 - Stable"));
        assert!(meta.dynamic_requires);
        assert_eq!(meta.provides_extra, vec!["fast-math"]);
        assert_eq!(meta.version, Some((2, 4)));
        assert!(CoreMetadata::parse_sdist("Metadata-Version: 2.1\nName: x\n").unwrap().dynamic_requires);
        assert!(!CoreMetadata::parse_sdist("Metadata-Version: 2.2\nName: x\n").unwrap().dynamic_requires);
        // A folded field is one value; CRLF line ends are line ends.
        let folded =
            CoreMetadata::parse("Name: x\r\nRequires-Dist: numpy;\r\n  extra == 'fast'\r\n").unwrap();
        assert_eq!(folded.requires_dist, vec!["numpy; extra == 'fast'"]);
        // What is no header block is an error beside the package, not a silent empty answer.
        let error = CoreMetadata::parse(" Name: x\n").unwrap_err();
        assert!(error.starts_with("its metadata cannot be read: "), "{error}");
    }
}
