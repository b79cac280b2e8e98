//! Verifying a backup without restoring it: every file of every backup of
//! the chain is read and checked (see `open.rs` for what each check
//! catches), nothing else may be in the directories, and the parts fit:
//! tables end in a footer for the entries the manifest says, the log tail
//! runs without a gap from the tables' sequence to the checkpoint's, audit
//! records are numbered without a gap, and every part the newest backup
//! needs is held by a backup of its chain.
//!
//! "No plaintext": every data file and the manifest are sealed under the
//! backup's data key and authenticate under it, so each of their bytes is
//! a header or ciphertext; the key-wrap file parses exactly, holding only
//! salts, costs and sealed wraps. Any other file is an error.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::storage::batch::{decode_record, Gap, LogChain};
use crate::storage::sst::Footer;
use crate::vfs::Vfs;

use super::manifest::{hex, Role, MANIFEST_FILE};
use super::open::{self, Opened};
use super::wrap::KEYS_FILE;
use super::{BackupKeys, BackupProgress};

/// One backup of a verified chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedBackup {
    /// Its directory.
    pub dir: PathBuf,
    /// Its id (hex).
    pub id: String,
    /// Data files checked.
    pub files: usize,
    /// Bytes of those files.
    pub bytes: u64,
}

/// What [`super::verify`] checked: the chain, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupVerifyReport {
    /// Every backup of the chain.
    pub backups: Vec<VerifiedBackup>,
}

impl BackupVerifyReport {
    /// Data files checked in all.
    pub fn files(&self) -> usize {
        self.backups.iter().map(|b| b.files).sum()
    }

    /// Their bytes.
    pub fn bytes(&self) -> u64 {
        self.backups.iter().map(|b| b.bytes).sum()
    }
}

pub(crate) fn verify(
    vfs: &dyn Vfs,
    dir: &std::path::Path,
    keys: &BackupKeys,
    progress: &mut dyn FnMut(BackupProgress),
) -> Result<BackupVerifyReport> {
    let newest = open::open(vfs, dir, keys)?;
    let chain = open::chain(vfs, newest, keys)?;
    let mut state = BackupProgress {
        files_done: 0,
        files_total: chain.iter().map(|b| b.manifest.files.len()).sum(),
        bytes_done: 0,
        bytes_total: chain.iter().map(|b| b.manifest.bytes()).sum(),
    };
    progress(state);
    for (i, b) in chain.iter().enumerate() {
        check_holders(b, &chain[i..])?;
        check_listing(vfs, b)?;
        check_files(vfs, b, &mut state, progress)?;
    }
    Ok(BackupVerifyReport {
        backups: chain
            .iter()
            .map(|b| VerifiedBackup {
                dir: b.dir.clone(),
                id: hex(&b.manifest.id),
                files: b.manifest.files.len(),
                bytes: b.manifest.bytes(),
            })
            .collect(),
    })
}

/// Every part `b` needs is held by `b` or one of its ancestors, with a
/// file for it there.
fn check_holders(b: &Opened, chain: &[Opened]) -> Result<()> {
    let by_id: HashMap<[u8; 16], &Opened> = chain.iter().map(|x| (x.manifest.id, x)).collect();
    let here = b.dir.join(MANIFEST_FILE);
    let parts = b
        .manifest
        .tables
        .iter()
        .map(|e| (Role::Table, e.table.number, e.holder))
        .chain(b.manifest.audit.iter().flat_map(|a| {
            a.parts
                .iter()
                .map(move |(holder, _)| (Role::Audit, a.number, *holder))
        }));
    for a in &b.manifest.audit {
        for (holder, records) in &a.parts {
            let found = by_id
                .get(holder)
                .and_then(|h| h.manifest.file(Role::Audit, a.number));
            if let Some(f) = found.filter(|f| f.records != *records) {
                return Err(Error::corruption(
                    &here,
                    0,
                    format!(
                        "audit segment {} needs {records} records from {}, which holds {}",
                        a.number, f.name, f.records
                    ),
                ));
            }
        }
    }
    for (role, number, holder) in parts {
        let h = by_id.get(&holder).ok_or_else(|| {
            Error::corruption(
                &here,
                0,
                format!(
                    "{role:?} {number} is held by backup {}, which is not in its chain",
                    hex(&holder)
                ),
            )
        })?;
        if h.manifest.file(role, number).is_none() {
            return Err(Error::corruption(
                h.dir.join(MANIFEST_FILE),
                0,
                format!("lists no file for {role:?} {number}, which a later backup needs"),
            ));
        }
    }
    for &n in &b.manifest.logs {
        if b.manifest.file(Role::Log, n).is_none() {
            return Err(Error::corruption(
                &here,
                0,
                format!("lists log segment {n} but no file for it"),
            ));
        }
    }
    Ok(())
}

/// Nothing in the directory but the manifest, the key wraps and the
/// listed files.
fn check_listing(vfs: &dyn Vfs, b: &Opened) -> Result<()> {
    let mut known: HashSet<&str> = b.manifest.files.iter().map(|f| f.name.as_str()).collect();
    if known.len() != b.manifest.files.len() {
        return Err(Error::corruption(
            b.dir.join(MANIFEST_FILE),
            0,
            "lists a file twice",
        ));
    }
    known.insert(MANIFEST_FILE);
    known.insert(KEYS_FILE);
    for name in vfs.list(&b.dir)? {
        if !known.contains(name.as_str()) {
            return Err(Error::corruption(
                b.dir.join(&name),
                0,
                "not part of the backup (an unexpected file)",
            ));
        }
    }
    Ok(())
}

fn check_files(
    vfs: &dyn Vfs,
    b: &Opened,
    state: &mut BackupProgress,
    progress: &mut dyn FnMut(BackupProgress),
) -> Result<()> {
    let m = &b.manifest;
    // The log tail, in order: one run of sequence numbers from the
    // tables' to the checkpoint's.
    let mut chain = LogChain::new((m.flushed > 0).then_some(m.flushed + 1));
    let mut ordered: Vec<&super::manifest::FileEntry> = m.files.iter().collect();
    let log_pos = |n: u64| m.logs.iter().position(|&x| x == n);
    ordered.sort_by_key(|f| (f.role, log_pos(f.number), f.number));
    for f in ordered {
        let path = b.dir.join(&f.name);
        let bad = |what: String| Error::corruption(&path, 0, what);
        match f.role {
            Role::Table => {
                let entry = m
                    .tables
                    .iter()
                    .find(|e| e.table.number == f.number && e.holder == m.id)
                    .ok_or_else(|| bad("a table the manifest's state does not hold".into()))?;
                // Only the last record's footer matters; each is parsed
                // (a length check for all but a footer) instead of kept.
                let mut last = None;
                let mut count = 0u64;
                open::read_file(vfs, b, f, |p| {
                    count += 1;
                    last = Footer::decode(p);
                    Ok(())
                })?;
                // Filter, index and footer; a format-3 table without data
                // has its top index and footer alone.
                let least = last.map_or(3, |l| if l.version < 3 { 3 } else { 2 });
                if count < least || last.map(|l| l.entries) != Some(entry.table.entries) {
                    return Err(bad(format!(
                        "does not end in a table footer for {} entries",
                        entry.table.entries
                    )));
                }
            }
            Role::Log => {
                if log_pos(f.number).is_none() {
                    return Err(bad("a log segment the manifest's tail does not name".into()));
                }
                open::read_file(vfs, b, f, |p| {
                    let r = decode_record(p).ok_or_else(|| bad("a malformed log record".into()))?;
                    match chain.push(r) {
                        Err(Gap { seq, want }) => Err(bad(format!(
                            "log record has sequence {seq}, expected {want}: part of the tail is missing"
                        ))),
                        Ok(_) => Ok(()),
                    }
                })?;
                // A commit split over several records that the segment
                // ends inside was cut off by a crash: dropped, as recovery
                // and restore drop it.
                chain.end_segment();
            }
            Role::Audit => {
                let mut prev: Option<u64> = None;
                open::read_file(vfs, b, f, |p| {
                    let seq = p
                        .get(..8)
                        .and_then(|s| s.try_into().ok())
                        .map(u64::from_le_bytes)
                        .ok_or_else(
                            || bad("an audit record too short to hold its number".into()),
                        )?;
                    if prev.is_some_and(|x| x + 1 != seq) {
                        return Err(bad(format!(
                            "audit record {seq} follows record {}",
                            prev.unwrap_or(0)
                        )));
                    }
                    prev = Some(seq);
                    Ok(())
                })?;
            }
        }
        state.files_done += 1;
        state.bytes_done += f.size;
        progress(*state);
    }
    let end = chain.next_seq().map_or(m.flushed, |n| n - 1);
    if end != m.sequence {
        return Err(Error::corruption(
            b.dir.join(MANIFEST_FILE),
            0,
            format!(
                "the tables and log tail end at sequence {end}, the checkpoint is at {}",
                m.sequence
            ),
        ));
    }
    Ok(())
}
