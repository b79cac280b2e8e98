//! The manifest: an append-only log of [`VersionEdit`]s, so the live table
//! set survives restarts.
//!
//! ```text
//!   CURRENT            sealed, one record: the name of the live manifest
//!   MANIFEST-000042    sealed (kind Manifest), records = encoded edits;
//!                      the first is a snapshot of the whole version
//! ```
//!
//! Every open starts a new manifest (a snapshot, then edits) and switches
//! CURRENT to it atomically, so a manifest is never appended to after a
//! restart (which would reuse keystream) and old manifests are deleted.
//! An edit is synced before anything acts on it, so a record torn by a
//! crash was never relied on and recovery may stop there.

use crate::error::{Error, Result};
use crate::vfs::{FileKind, SealedDir, SealedWriter};

use super::version::{Version, VersionEdit};

/// Name of the pointer file.
pub(crate) const CURRENT: &str = "CURRENT";

pub(crate) fn manifest_name(number: u64) -> String {
    format!("MANIFEST-{number:06}")
}

/// What recovery found.
pub(crate) struct Recovered {
    pub(crate) version: Version,
    pub(crate) log_number: u64,
    pub(crate) next_file: u64,
    pub(crate) last_seq: u64,
}

/// The manifest being appended to.
pub(crate) struct Manifest {
    w: SealedWriter,
    pub(crate) number: u64,
}

impl Manifest {
    /// Starts manifest `number` with `snapshot`, makes it durable, and
    /// points CURRENT at it.
    pub(crate) fn create(dir: &SealedDir, number: u64, snapshot: &VersionEdit) -> Result<Manifest> {
        let name = manifest_name(number);
        let mut w = dir.create_file(&name, FileKind::Manifest)?;
        w.append_record(&snapshot.encode())?;
        w.sync()?;
        dir.vfs().sync_dir(dir.dir())?;
        dir.write_atomic(CURRENT, FileKind::Manifest, name.as_bytes())?;
        Ok(Manifest { w, number })
    }

    /// Appends an edit and syncs it.
    pub(crate) fn append(&mut self, edit: &VersionEdit) -> Result<()> {
        self.w.append_record(&edit.encode())?;
        self.w.sync()
    }

    /// Reads CURRENT and replays the manifest it names. `Ok(None)` if there
    /// is no CURRENT (a new store).
    pub(crate) fn recover(dir: &SealedDir) -> Result<Option<Recovered>> {
        if !dir.vfs().exists(&dir.dir().join(CURRENT))? {
            return Ok(None);
        }
        let name_bytes = dir.read_single(CURRENT, FileKind::Manifest)?;
        let name = String::from_utf8(name_bytes)
            .ok()
            .filter(|n| n.starts_with("MANIFEST-"))
            .ok_or_else(|| {
                Error::corruption(
                    dir.dir().join(CURRENT),
                    0,
                    "CURRENT does not name a manifest",
                )
            })?;
        let number: u64 = name["MANIFEST-".len()..].parse().map_err(|_| {
            Error::corruption(
                dir.dir().join(CURRENT),
                0,
                "CURRENT names a malformed manifest",
            )
        })?;
        let reader = dir.open_file(&name, FileKind::Manifest)?;
        let mut rec = Recovered {
            version: Version::new(),
            log_number: 0,
            next_file: number + 1,
            last_seq: 0,
        };
        let mut any = false;
        for item in reader.records() {
            let (offset, payload) = match item {
                Ok(r) => r,
                // A torn final edit was never synced, so never acted upon.
                Err(Error::Truncated { .. }) if any => break,
                Err(e) => return Err(e),
            };
            let edit = VersionEdit::decode(&payload).ok_or_else(|| {
                Error::corruption(reader.path(), offset, "malformed manifest edit")
            })?;
            rec.version = rec
                .version
                .apply(&edit)
                .map_err(|what| Error::corruption(reader.path(), offset, what))?;
            if let Some(n) = edit.log_number {
                rec.log_number = n;
            }
            if let Some(n) = edit.next_file {
                rec.next_file = rec.next_file.max(n);
            }
            if let Some(s) = edit.last_seq {
                rec.last_seq = rec.last_seq.max(s);
            }
            any = true;
        }
        if !any {
            return Err(Error::corruption(
                reader.path(),
                0,
                "manifest has no records",
            ));
        }
        for (_, f) in rec.version.all_files() {
            rec.next_file = rec.next_file.max(f.number + 1);
        }
        Ok(Some(rec))
    }
}
