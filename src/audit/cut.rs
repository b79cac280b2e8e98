//! What of the audit log belongs to a checkpoint of the store.
//!
//! The audit log lives beside the store, outside the LSM, and goes on
//! growing while a checkpoint is copied; its head (last sequence number
//! and hash) is inside the LSM. A checkpoint at sequence S therefore holds
//! exactly the records up to the head as stored at S: every one of them
//! was written before its head was stored, so they are all there, and
//! records after them belong to later writes. [`cut_at`] finds, segment
//! by segment, how many records that is and where they end.
//!
//! Records are read as the log's verifier reads them; the cut stops at the
//! first one that does not read (damage is kept as it is, for `audit
//! verify` on the copy to report, not hidden).

use crate::error::Result;
use crate::storage::{Engine, Snapshot};
use crate::vfs::{FileKind, HEADER_LEN};

use super::chain::{Head, HEAD_KEY};

/// The part of one segment that belongs to a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentCut {
    /// File name (`AUDIT-NNNNNN.log`).
    pub name: String,
    /// Segment number.
    pub number: u64,
    /// Records that belong to the checkpoint.
    pub records: u64,
    /// File length through the last of them.
    pub len: u64,
    /// The segment's header IV (which file it is).
    pub iv: u128,
}

/// The audit log as of a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditCut {
    /// The head's sequence number as stored at the checkpoint (0: none).
    pub head_seq: u64,
    /// Segments holding records up to it, oldest first.
    pub segments: Vec<SegmentCut>,
}

/// The records of `engine`'s audit log that belong to the state `snapshot`
/// reads.
pub fn cut_at(engine: &Engine, snapshot: &Snapshot) -> Result<AuditCut> {
    let head = Head::decode(engine.get_at(HEAD_KEY, snapshot)?)?.seq;
    let mut cut = AuditCut {
        head_seq: head,
        segments: Vec::new(),
    };
    if head == 0 {
        return Ok(cut);
    }
    let dir = engine.sealed_dir();
    'segments: for (number, name) in super::segment::segments(dir)? {
        let Ok(reader) = dir.open_file(&name, FileKind::AuditLog) else {
            break;
        };
        let mut seg = SegmentCut {
            name,
            number,
            records: 0,
            len: HEADER_LEN,
            iv: reader.header().iv,
        };
        for item in reader.records() {
            let Ok((offset, payload)) = item else {
                if seg.records > 0 {
                    cut.segments.push(seg);
                }
                break 'segments;
            };
            let seq = payload.get(..8).map_or(u64::MAX, |s| {
                u64::from_le_bytes(s.try_into().unwrap_or([0xff; 8]))
            });
            if seq > head {
                if seg.records > 0 {
                    cut.segments.push(seg);
                }
                break 'segments;
            }
            seg.records += 1;
            seg.len = HEADER_LEN + offset + reader.record_len(payload.len());
            if seq == head {
                cut.segments.push(seg);
                break 'segments;
            }
        }
        if seg.records > 0 {
            cut.segments.push(seg);
        }
    }
    Ok(cut)
}
