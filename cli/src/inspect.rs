//! Opening a store to look at it without changing it: what `audit verify`,
//! `audit export` and `encryption-status` use, so that checking the
//! evidence never alters it (no recovery writes, no new log or manifest, no
//! deletions; works on a read-only copy). Also where the files these
//! commands write are created: owner-only (0600), since an audit export is
//! as sensitive as the data it describes.

use std::fs::File;
use std::path::Path;

use sealdb::{Db, Options};

use crate::store_key::StoreKeyArgs;
use crate::Fallible;

/// Opens the database in `db` read-only with the store key `keys` name.
pub fn open_read_only(db: &Path, keys: &StoreKeyArgs) -> Fallible<Db> {
    Ok(Db::open_read_only(
        db,
        keys.provider(None)?,
        Options::default(),
    )?)
}

/// Creates or truncates `path`, readable and writable by its owner only
/// (an existing file's mode is set to 0600 too, before anything is written).
pub fn create_private(path: &Path) -> Fallible<File> {
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let f = o.open(path).map_err(fail)?;
    #[cfg(unix)]
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(fail)?;
    Ok(f)
}
