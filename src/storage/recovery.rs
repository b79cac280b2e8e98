//! Recovery: what an open finds on disk, checked against what the manifest
//! says, before anything is written.
//!
//! ```text
//!   CURRENT ─(name, IV, key)─► MANIFEST-N ─(number, IV, key, length, digest)─► each table
//!                                   │
//!                                   ├─(number, IV)─► oldest live log segment ─(number, IV, length)─► next … ─► newest
//!                                   └─ newest log segment that may hold commits
//! ```
//!
//! Every file the store relies on is named by its identity, not only by
//! its name, so an older file of the same store put in the place of a live
//! one is refused ([`Error::Corruption`] naming the file). The checks:
//!
//! - each table is the file the manifest recorded (`SstReader::open`);
//! - the oldest live log segment (the manifest's log number) exists and is
//!   the one the manifest recorded; each later segment's start record names
//!   the one before it with its exact length, so a missing, replaced or
//!   shortened segment is refused; only the newest segment may end torn;
//! - the newest segment the manifest knows of exists; a segment newer than
//!   that may exist (a crash while it was made) but may hold no commit,
//!   otherwise the manifest lost edits (it was cut short);
//! - tables and manifests newer than the manifest knows are never deleted:
//!   a read-write open moves them to `quarantine/` and reports them
//!   ([`Recovered::newer`]).
//!
//! The log is replayed into memory only: opening needs no space in
//! proportion to the log (the memtable is flushed later, in the
//! background), and a read-only open does the same without writing.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::vfs::SealedDir;

use super::cache::BlockCache;
use super::key_hash::KeyHash;
use super::manifest::{Manifest, CURRENT};
use super::memtable::Memtable;
use super::sst::reader::SstReader;
use super::sst::table_name;
use super::version::Version;
use super::wal::{self, wal_name, SegmentId};
use super::{parse_manifest_number, parse_number};

/// Name of the subdirectory files newer than the manifest are moved to.
pub const QUARANTINE_DIR: &str = "quarantine";

/// The state of a store as found on disk.
/// The open table readers, by table number.
pub(crate) type TableMap = HashMap<u64, Arc<SstReader>, KeyHash>;

pub(crate) struct Recovered {
    pub(crate) version: Version,
    pub(crate) tables: TableMap,
    /// Everything the live log segments hold.
    pub(crate) mem: Memtable,
    /// The live log segments replayed, oldest first.
    pub(crate) segments: Vec<SegmentId>,
    pub(crate) next_file: u64,
    pub(crate) last_seq: u64,
    /// The last sequence number the tables hold (the manifest's).
    pub(crate) flushed_seq: u64,
    /// The live manifest's number (`None`: a new store).
    pub(crate) manifest_number: Option<u64>,
    /// Files newer than the manifest knows of (never deleted).
    pub(crate) newer: Vec<String>,
    /// The newest log segment, when a crash cut it inside its header or
    /// start record: it never held a commit. A read-write open removes it
    /// before it makes a segment of its own, since past that it would no
    /// longer be the newest, and an older segment must be whole.
    pub(crate) incomplete_log: Option<String>,
}

fn bad(sdir: &SealedDir, name: &str, what: impl Into<String>) -> Error {
    Error::corruption(sdir.dir().join(name), 0, what)
}

/// Reads and checks the store in `sdir`, whose file names are `names`.
pub(crate) fn recover(
    sdir: &SealedDir,
    names: &[String],
    cache: &Arc<BlockCache>,
) -> Result<Recovered> {
    let Some(m) = Manifest::recover(sdir, names)? else {
        return recover_without_manifest(sdir, names);
    };
    let known_next_file = m.next_file;
    let version = m.version;

    let mut tables = TableMap::with_hasher(KeyHash::random());
    for (_, f) in version.all_files() {
        let name = table_name(f.number);
        if !names.contains(&name) {
            return Err(bad(sdir, &name, "table listed in the manifest is missing"));
        }
        tables.insert(f.number, Arc::new(SstReader::open(sdir, f, cache.clone())?));
    }

    let mut segs: Vec<u64> = names
        .iter()
        .filter_map(|n| parse_number(n, ".wal"))
        .filter(|&n| n >= m.log_number)
        .collect();
    segs.sort_unstable();
    if m.log_number > 0 && segs.first() != Some(&m.log_number) {
        return Err(bad(
            sdir,
            &wal_name(m.log_number),
            format!(
                "the log segment the manifest names is missing{}",
                if segs.is_empty() {
                    String::new()
                } else {
                    format!(" but later segments exist ({})", wal_name(segs[0]))
                }
            ),
        ));
    }
    if m.newest_log > 0 && !segs.contains(&m.newest_log) {
        return Err(bad(
            sdir,
            &wal_name(m.newest_log),
            "a log segment the manifest knows of is missing",
        ));
    }
    let mem = Memtable::new(m.log_number);
    let mut next_seq = (m.last_seq > 0).then_some(m.last_seq + 1);
    let mut segments: Vec<SegmentId> = Vec::new();
    let mut incomplete_log = None;
    for (i, &n) in segs.iter().enumerate() {
        let newest = i + 1 == segs.len();
        let Some(r) = wal::replay(sdir, n, &mem, &mut next_seq, newest)? else {
            incomplete_log = Some(wal_name(n));
            continue;
        };
        if i == 0 && m.log_iv.is_some_and(|iv| iv != r.id.iv) {
            return Err(bad(
                sdir,
                &wal_name(n),
                "not the log segment the manifest names (another IV): an older segment put in its place?",
            ));
        }
        if let Some(prev) = segments.last() {
            if r.start.prev != Some(*prev) {
                return Err(bad(
                    sdir,
                    &wal_name(n),
                    format!(
                        "log segment does not follow {} as it was when this one was made: \
                         a segment is missing, replaced, or cut short",
                        wal_name(prev.number)
                    ),
                ));
            }
        }
        if n > m.newest_log && r.commits > 0 {
            return Err(bad(
                sdir,
                &wal_name(n),
                "log segment holds commits the manifest does not know of: the manifest lost its last edits",
            ));
        }
        segments.push(r.id);
    }
    let mut last_seq = m.last_seq;
    if let Some(s) = next_seq {
        last_seq = last_seq.max(s - 1);
    }

    let mut next_file = m.next_file;
    let mut newer = Vec::new();
    for n in names {
        if let Some(x) = parse_number(n, ".wal").or_else(|| parse_number(n, ".sst")) {
            next_file = next_file.max(x + 1);
        }
        let is_newer = match (parse_number(n, ".sst"), parse_manifest_number(n)) {
            (Some(x), _) => x >= known_next_file && !tables.contains_key(&x),
            (_, Some(x)) => x > m.manifest_number,
            _ => false,
        };
        if is_newer {
            newer.push(n.clone());
        }
        if let Some(x) = parse_manifest_number(n) {
            next_file = next_file.max(x + 1);
        }
    }
    Ok(Recovered {
        version,
        tables,
        mem,
        segments,
        next_file,
        last_seq,
        flushed_seq: m.last_seq,
        manifest_number: Some(m.manifest_number),
        newer,
        incomplete_log,
    })
}

/// No CURRENT: a new store, or one whose first open stopped before CURRENT
/// was written. Then no commit was ever acknowledged, so leftover segments
/// may hold none and there may be no table.
fn recover_without_manifest(sdir: &SealedDir, names: &[String]) -> Result<Recovered> {
    if names.iter().any(|n| n.ends_with(".sst")) {
        return Err(bad(sdir, CURRENT, "CURRENT is missing but tables exist"));
    }
    let mut newer = Vec::new();
    let mut next_file = 1;
    let probe = Memtable::new(0);
    for n in names {
        if let Some(x) = parse_number(n, ".wal") {
            let mut seq = None;
            if wal::replay(sdir, x, &probe, &mut seq, true)?.is_some_and(|r| r.commits > 0) {
                return Err(bad(
                    sdir,
                    CURRENT,
                    format!("CURRENT is missing but log segment {n} holds commits"),
                ));
            }
            next_file = next_file.max(x + 1);
            newer.push(n.clone());
        } else if let Some(x) = parse_manifest_number(n) {
            next_file = next_file.max(x + 1);
            newer.push(n.clone());
        }
    }
    Ok(Recovered {
        version: Version::new(),
        tables: TableMap::with_hasher(KeyHash::random()),
        mem: Memtable::new(0),
        segments: Vec::new(),
        next_file,
        last_seq: 0,
        flushed_seq: 0,
        manifest_number: None,
        newer,
        incomplete_log: None,
    })
}

/// Moves `names` into the quarantine subdirectory (never overwriting what
/// is there) and makes the moves durable.
pub(crate) fn quarantine(sdir: &SealedDir, names: &[String]) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let vfs = sdir.vfs();
    let qdir = sdir.dir().join(QUARANTINE_DIR);
    vfs.create_dir_all(&qdir)?;
    for n in names {
        let mut to = qdir.join(n);
        let mut k = 1;
        while vfs.exists(&to)? {
            to = qdir.join(format!("{n}.{k}"));
            k += 1;
        }
        vfs.rename(&sdir.dir().join(n), &to)?;
    }
    vfs.sync_dir(&qdir)?;
    vfs.sync_dir(sdir.dir())
}
