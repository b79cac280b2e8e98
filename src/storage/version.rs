//! Versions: which tables are live, per level, and the edits between them.
//!
//! A [`Version`] is immutable; readers hold an `Arc` to the one they started
//! with, so a compaction can replace tables without disturbing them. Level 0
//! holds flushed memtables, which may overlap (newest first); levels 1+ hold
//! non-overlapping tables sorted by key.
//!
//! ```text
//!   edit = tag-prefixed fields, each tag a varint:
//!     1 log_number v | 2 next_file v | 3 last_seq v
//!     4 deleted: level v, number v
//!     5 (format 1 "added", no identity: refused)
//!     6 added:   level v, number v, size v, entries v, smallest (len v, bytes),
//!                largest (len v, bytes), iv [16], key id [16], digest [16]
//!     7 log_iv [16]          IV of the segment log_number names
//!     8 newest_log v         newest log segment that may hold commits
//! ```
//!
//! A table's identity (header IV, key id, exact length, and its last 16
//! bytes, which in an encrypted file are the footer's MAC tag) is recorded
//! by the edit that adds it; a file that does not match is not that table,
//! however valid it is otherwise (an older table of the same store copied
//! over a live one, say).

use std::cmp::Ordering;
use std::sync::Arc;

use crate::crypto::KeyId;

use super::key::{cmp_ikey, get_bytes, get_varint, put_varint, user_key};

/// Number of levels.
pub(crate) const NUM_LEVELS: usize = 7;

/// One live table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileMeta {
    pub(crate) number: u64,
    pub(crate) size: u64,
    pub(crate) entries: u64,
    pub(crate) smallest: Vec<u8>,
    pub(crate) largest: Vec<u8>,
    /// Which file this is: see [`FileIdentity`].
    pub(crate) identity: FileIdentity,
}

/// What tells one table file from every other: `size` in [`FileMeta`] is
/// its exact length; these are the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    /// The random IV of its header.
    pub(crate) iv: u128,
    /// The data key it is under.
    pub(crate) key_id: KeyId,
    /// Its last 16 bytes (the footer's tag in an encrypted file).
    pub(crate) digest: [u8; 16],
}

impl FileMeta {
    /// Whether the table's user-key range intersects [lo, hi] (user keys).
    pub(crate) fn overlaps(&self, lo: &[u8], hi: &[u8]) -> bool {
        user_key(&self.largest) >= lo && user_key(&self.smallest) <= hi
    }
}

/// The live tables at one point in time.
#[derive(Clone, Debug, Default)]
pub(crate) struct Version {
    pub(crate) levels: Vec<Vec<Arc<FileMeta>>>,
}

/// A change to the live set (one manifest record).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct VersionEdit {
    pub(crate) log_number: Option<u64>,
    pub(crate) next_file: Option<u64>,
    pub(crate) last_seq: Option<u64>,
    pub(crate) deleted: Vec<(usize, u64)>,
    pub(crate) added: Vec<(usize, FileMeta)>,
    /// IV of the log segment `log_number` names.
    pub(crate) log_iv: Option<u128>,
    /// The newest log segment that may hold commits.
    pub(crate) newest_log: Option<u64>,
}

impl Version {
    pub(crate) fn new() -> Version {
        Version {
            levels: vec![Vec::new(); NUM_LEVELS],
        }
    }

    /// The version after `edit`. Fails if the edit names levels that do not
    /// exist or deletes tables that are not there.
    pub(crate) fn apply(&self, edit: &VersionEdit) -> Result<Version, String> {
        let mut v = self.clone();
        for &(level, number) in &edit.deleted {
            let files = v
                .levels
                .get_mut(level)
                .ok_or("edit names a level that does not exist")?;
            let before = files.len();
            files.retain(|f| f.number != number);
            if files.len() == before {
                return Err(format!(
                    "edit deletes table {number} which is not at level {level}"
                ));
            }
        }
        for (level, f) in &edit.added {
            v.levels
                .get_mut(*level)
                .ok_or("edit names a level that does not exist")?
                .push(Arc::new(f.clone()));
        }
        for (level, files) in v.levels.iter_mut().enumerate() {
            if level == 0 {
                files.sort_by_key(|f| std::cmp::Reverse(f.number));
            } else {
                files.sort_by(|a, b| cmp_ikey(&a.smallest, &b.smallest));
                for w in files.windows(2) {
                    if cmp_ikey(&w[0].largest, &w[1].smallest) != Ordering::Less {
                        return Err(format!(
                            "tables {} and {} overlap at level {level}",
                            w[0].number, w[1].number
                        ));
                    }
                }
            }
        }
        Ok(v)
    }

    /// Every live table with its level.
    pub(crate) fn all_files(&self) -> impl Iterator<Item = (usize, &Arc<FileMeta>)> {
        self.levels
            .iter()
            .enumerate()
            .flat_map(|(l, fs)| fs.iter().map(move |f| (l, f)))
    }

    /// An edit that recreates this version from nothing.
    pub(crate) fn snapshot_edit(&self) -> VersionEdit {
        VersionEdit {
            added: self.all_files().map(|(l, f)| (l, (**f).clone())).collect(),
            ..VersionEdit::default()
        }
    }

    /// Total bytes at `level`.
    pub(crate) fn level_bytes(&self, level: usize) -> u64 {
        self.levels[level].iter().map(|f| f.size).sum()
    }
}

impl VersionEdit {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (tag, v) in [
            (1, self.log_number),
            (2, self.next_file),
            (3, self.last_seq),
            (8, self.newest_log),
        ] {
            if let Some(v) = v {
                put_varint(&mut out, tag);
                put_varint(&mut out, v);
            }
        }
        if let Some(iv) = self.log_iv {
            put_varint(&mut out, 7);
            out.extend_from_slice(&iv.to_be_bytes());
        }
        for &(level, number) in &self.deleted {
            put_varint(&mut out, 4);
            put_varint(&mut out, level as u64);
            put_varint(&mut out, number);
        }
        for (level, f) in &self.added {
            put_varint(&mut out, 6);
            put_varint(&mut out, *level as u64);
            put_varint(&mut out, f.number);
            put_varint(&mut out, f.size);
            put_varint(&mut out, f.entries);
            for k in [&f.smallest, &f.largest] {
                put_varint(&mut out, k.len() as u64);
                out.extend_from_slice(k);
            }
            out.extend_from_slice(&f.identity.iv.to_be_bytes());
            out.extend_from_slice(f.identity.key_id.as_bytes());
            out.extend_from_slice(&f.identity.digest);
        }
        out
    }

    pub(crate) fn decode(buf: &[u8]) -> Option<VersionEdit> {
        let mut e = VersionEdit::default();
        let mut pos = 0;
        while pos < buf.len() {
            match get_varint(buf, &mut pos)? {
                1 => e.log_number = Some(get_varint(buf, &mut pos)?),
                2 => e.next_file = Some(get_varint(buf, &mut pos)?),
                3 => e.last_seq = Some(get_varint(buf, &mut pos)?),
                7 => e.log_iv = Some(u128::from_be_bytes(get_array(buf, &mut pos)?)),
                8 => e.newest_log = Some(get_varint(buf, &mut pos)?),
                4 => {
                    let level = get_varint(buf, &mut pos)? as usize;
                    e.deleted.push((level, get_varint(buf, &mut pos)?));
                }
                6 => {
                    let level = get_varint(buf, &mut pos)? as usize;
                    let number = get_varint(buf, &mut pos)?;
                    let size = get_varint(buf, &mut pos)?;
                    let entries = get_varint(buf, &mut pos)?;
                    let n = get_varint(buf, &mut pos)? as usize;
                    let smallest = get_bytes(buf, &mut pos, n)?.to_vec();
                    let n = get_varint(buf, &mut pos)? as usize;
                    let largest = get_bytes(buf, &mut pos, n)?.to_vec();
                    let identity = FileIdentity {
                        iv: u128::from_be_bytes(get_array(buf, &mut pos)?),
                        key_id: KeyId::from_bytes(get_array(buf, &mut pos)?),
                        digest: get_array(buf, &mut pos)?,
                    };
                    e.added.push((
                        level,
                        FileMeta {
                            number,
                            size,
                            entries,
                            smallest,
                            largest,
                            identity,
                        },
                    ));
                }
                _ => return None,
            }
        }
        Some(e)
    }
}

fn get_array<const N: usize>(buf: &[u8], pos: &mut usize) -> Option<[u8; N]> {
    get_bytes(buf, pos, N)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::key::{make_ikey, Kind};

    fn meta(n: u64, lo: &str, hi: &str) -> FileMeta {
        FileMeta {
            number: n,
            size: 100,
            entries: 2,
            smallest: make_ikey(lo.as_bytes(), 1, Kind::Put),
            largest: make_ikey(hi.as_bytes(), 1, Kind::Put),
            identity: FileIdentity {
                iv: u128::from(n) << 64 | 7,
                key_id: KeyId::of_key(b"a test key of 16"),
                digest: [n as u8; 16],
            },
        }
    }

    #[test]
    fn edits_round_trip_and_apply() {
        let e = VersionEdit {
            log_number: Some(3),
            next_file: Some(9),
            last_seq: Some(1000),
            deleted: vec![(0, 4)],
            added: vec![(1, meta(5, "a", "c")), (1, meta(6, "d", "f"))],
            log_iv: Some(u128::MAX - 3),
            newest_log: Some(11),
        };
        assert_eq!(VersionEdit::decode(&e.encode()), Some(e.clone()));
        let v = Version::new()
            .apply(&VersionEdit {
                added: vec![(0, meta(4, "a", "z"))],
                ..Default::default()
            })
            .expect("apply");
        let v = v.apply(&e).expect("apply");
        assert!(v.levels[0].is_empty());
        assert_eq!(
            v.levels[1].iter().map(|f| f.number).collect::<Vec<_>>(),
            vec![5, 6]
        );
        assert!(v
            .apply(&VersionEdit {
                deleted: vec![(2, 5)],
                ..Default::default()
            })
            .is_err());
        assert!(v
            .apply(&VersionEdit {
                added: vec![(1, meta(7, "b", "e"))],
                ..Default::default()
            })
            .is_err());
    }
}
