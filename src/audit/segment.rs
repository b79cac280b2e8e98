//! Audit segments on disk: their names, reading one while telling a torn
//! tail from damage, and re-sealing one under the active data key.
//!
//! A segment `AUDIT-NNNNNN.log` is a sealed file of kind `AuditLog`, one
//! per session that wrote records, numbered in order. Only the newest
//! segment can end in a torn tail (the crash of the session writing it):
//! its last record cut short, or a tail of zeros some file systems leave in
//! space that was being appended. Anywhere else the same bytes are damage.
//!
//! Re-sealing copies the records of a segment, byte for byte, into a new
//! sealed file (fresh IV, the active data key) that then replaces it
//! atomically; the chain hashes payloads, so it is unchanged. It refuses a
//! segment with a damaged record: re-sealing must never launder evidence.

use crate::error::{Error, Result};
use crate::vfs::{FileKind, SealedDir, SealedReader, AUDIT_FILE_PREFIX, HEADER_LEN};

/// Suffix of segment names.
const SEGMENT_SUFFIX: &str = ".log";
/// Suffix of a segment being re-sealed.
const RESEAL_SUFFIX: &str = ".log.tmp";

/// The name of segment `n`.
pub(crate) fn segment_name(n: u64) -> String {
    format!("{AUDIT_FILE_PREFIX}{n:06}{SEGMENT_SUFFIX}")
}

/// Every segment, oldest first.
pub(crate) fn segments(dir: &SealedDir) -> Result<Vec<(u64, String)>> {
    Ok(segments_in(dir.vfs().list(dir.dir())?))
}

/// The segments among the names of a listing of the directory, oldest
/// first.
pub(crate) fn segments_in(names: Vec<String>) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = names
        .into_iter()
        .filter_map(|n| {
            let num = n
                .strip_prefix(AUDIT_FILE_PREFIX)?
                .strip_suffix(SEGMENT_SUFFIX)?
                .parse()
                .ok()?;
            Some((num, n))
        })
        .collect();
    out.sort();
    out
}

/// Removes re-seal temporaries a crash left behind (never read), named in
/// `names`, a listing of the directory.
pub(crate) fn remove_leftovers(dir: &SealedDir, names: &[String]) -> Result<()> {
    for name in names {
        if name.starts_with(AUDIT_FILE_PREFIX) && name.ends_with(RESEAL_SUFFIX) {
            dir.vfs().remove(&dir.dir().join(name))?;
        }
    }
    Ok(())
}

/// How a segment ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SegmentEnd {
    /// Exactly after its last record.
    Clean,
    /// In a torn tail starting at this body offset (newest segment only).
    Torn { offset: u64 },
    /// In damage: a record (or the header, offset 0) that does not read.
    Bad {
        /// File offset of the damage, when known.
        offset: Option<u64>,
        /// What is wrong.
        problem: String,
    },
}

/// Whether every byte of `name` from file offset `from` on is zero.
fn raw_tail_is_zero(dir: &SealedDir, name: &str, from: u64) -> Result<bool> {
    let f = dir.vfs().open(&dir.dir().join(name))?;
    let mut at = from;
    let mut buf = vec![0u8; 64 * 1024];
    while at < f.len() {
        let n = ((f.len() - at) as usize).min(buf.len());
        f.read_exact_at(at, &mut buf[..n])?;
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        at += n as u64;
    }
    Ok(true)
}

/// Reads segment `name`, handing each record to `each(body offset,
/// payload)` until it returns `false`, and says how the segment ends.
/// `newest`: whether it is the newest segment (where a tail may be torn).
/// Damage is reported in the [`SegmentEnd`]; only failures to read the
/// file at all are errors.
pub(crate) fn scan(
    dir: &SealedDir,
    name: &str,
    newest: bool,
    mut each: impl FnMut(u64, Vec<u8>) -> Result<bool>,
) -> Result<SegmentEnd> {
    let reader = match dir.open_file(name, FileKind::AuditLog) {
        Ok(r) => r,
        Err(e @ (Error::Truncated { .. } | Error::Corruption { .. })) => {
            // A header not yet (fully) on disk when the writer died.
            if newest && (matches!(e, Error::Truncated { .. }) || raw_tail_is_zero(dir, name, 0)?) {
                return Ok(SegmentEnd::Torn { offset: 0 });
            }
            return Ok(SegmentEnd::Bad {
                offset: Some(0),
                problem: format!("the segment cannot be opened: {e}"),
            });
        }
        Err(e @ (Error::Authentication { .. } | Error::DataKeyUnknown { .. })) => {
            return Ok(SegmentEnd::Bad {
                offset: Some(0),
                problem: format!("the segment cannot be opened: {e}"),
            })
        }
        Err(e) => return Err(e),
    };
    let mut offset = 0u64;
    loop {
        match reader.read_record(offset) {
            Ok(Some((payload, next))) => {
                if !each(offset, payload)? {
                    return Ok(SegmentEnd::Clean);
                }
                offset = next;
            }
            Ok(None) => return Ok(SegmentEnd::Clean),
            Err(e) if e.is_corruption() => {
                if newest && torn_at(&reader, offset, &e)? {
                    return Ok(SegmentEnd::Torn { offset });
                }
                return Ok(SegmentEnd::Bad {
                    offset: Some(HEADER_LEN + offset),
                    problem: format!("unreadable (edited, removed or damaged): {e}"),
                });
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether the failure to read the record at body `offset` is a torn tail:
/// the record runs past the end of the file, or only zeros follow.
fn torn_at(reader: &SealedReader, offset: u64, e: &Error) -> Result<bool> {
    Ok(matches!(e, Error::Truncated { .. }) || reader.tail_is_zero(offset)?)
}

/// Replaces segment `name` by a copy of its records that start before body
/// offset `upto` (all of them if `None`), sealed under the active data
/// key; atomic and durable. Fails if any of those records does not read.
pub(crate) fn reseal(dir: &SealedDir, name: &str, upto: Option<u64>) -> Result<()> {
    let reader = dir.open_file(name, FileKind::AuditLog)?;
    let tmp = format!("{name}.tmp");
    let tmp_path = dir.dir().join(&tmp);
    if dir.vfs().exists(&tmp_path)? {
        dir.vfs().remove(&tmp_path)?;
    }
    let mut w = dir.create_file(&tmp, FileKind::AuditLog)?;
    let end = upto.unwrap_or(reader.body_len());
    let mut offset = 0;
    while offset < end {
        match reader.read_record(offset)? {
            Some((payload, next)) => {
                w.append_record(&payload)?;
                offset = next;
            }
            None => break,
        }
    }
    w.sync()?;
    drop(w);
    dir.vfs().rename(&tmp_path, &dir.dir().join(name))?;
    dir.vfs().sync_dir(dir.dir())
}

/// Removes segment `name` (one that holds no record) durably.
pub(crate) fn remove(dir: &SealedDir, name: &str) -> Result<()> {
    dir.vfs().remove(&dir.dir().join(name))?;
    dir.vfs().sync_dir(dir.dir())
}
