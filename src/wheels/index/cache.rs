//! The on-disk page cache: private files, written whole or not at all.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub(super) struct CachedPage {
    pub(super) url: String,
    pub(super) fetched_at: u64,
    pub(super) content_type: String,
    pub(super) body: String,
}

/// Write a cache file readable by its owner only (it may hold a private index's pages or
/// metadata), through a temporary file so that a reader never sees half of it
/// ([`crate::system::files::write_atomic_with_mode`], mode 0600). The cache
/// directory is made (or narrowed to) 0700. A cache that cannot be written is no error.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let Some(dir) = path.parent() else { return };
    match fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            if meta.permissions().mode() & 0o077 != 0 {
                let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
            }
        }
        Ok(_) => return,
        Err(_) => {
            if fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).is_err() {
                return;
            }
        }
    }
    let _ = crate::system::files::write_atomic_with_mode(path, bytes, 0o600);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::TempDir::new().unwrap();
        let dir = home.path().join("cache/index");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        write_atomically(&dir.join("page-x.json"), b"{}");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("page-x.json")), 0o600);
        // A cache directory left open by an older ftpy is narrowed; no temporary file stays.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        write_atomically(&dir.join("meta-y"), b"Name: y");
        assert_eq!((mode(&dir), mode(&dir.join("meta-y"))), (0o700, 0o600));
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
    }
}
