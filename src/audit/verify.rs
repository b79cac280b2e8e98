//! Verifying the audit log: one pass over every segment, checking each
//! record against the one before it, then the end of the log against the
//! store's head and the checkpoints.
//!
//! The walk only reads, so it gives the same answer on a store opened
//! read-only as on one opened for writing (whose open may first have
//! finished what a crash interrupted; see `AuditLog::open`). It accepts
//! the two states a crash can leave and nothing else:
//!
//! - the newest segment ends in a torn tail (its last record cut short, or
//!   zeros): the tail is not a record and is skipped;
//! - the log is exactly one record behind the head, and the head holds
//!   that record, chained to the log's last one: the record is committed
//!   (storing the head is the commit) and is checked and exported from
//!   the head.
//!
//! Everything else is named as the first bad record: a record that does
//! not read (edited, damaged), a wrong sequence number (removed,
//! reordered), a broken previous-hash (rewritten), a log shorter than the
//! head or a checkpoint (cut off), a log *longer* than the head (the
//! store lost writes or was rolled back), a record that differs from the
//! head or a checkpoint.

use crate::error::Result;
use crate::storage::Engine;

use super::chain::{hash_of, hex, link_of, Head, GENESIS};
use super::checkpoint::{read_sealed, AuditCheckpoint};
use super::segment::{scan, segments, SegmentEnd};

/// The first problem [`crate::Db::audit_verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRecord {
    /// The sequence number the bad record should have had.
    pub seq: u64,
    /// The segment file.
    pub file: String,
    /// File offset of the record (None: the log ended early, or the
    /// problem is with the log as a whole).
    pub offset: Option<u64>,
    /// What is wrong.
    pub problem: String,
}

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.offset {
            Some(o) => write!(
                f,
                "record {} (file {}, offset {o}): {}",
                self.seq, self.file, self.problem
            ),
            None => write!(
                f,
                "record {} (after file {}): {}",
                self.seq, self.file, self.problem
            ),
        }
    }
}

/// What a verification of the audit log found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Records checked and found intact, in order.
    pub intact: u64,
    /// The head the store remembers (last seq).
    pub head_seq: u64,
    /// The head's hash, hex (take an [`AuditCheckpoint`] to anchor it).
    pub head_hash: String,
    /// The first bad record, if any.
    pub first_bad: Option<BadRecord>,
    /// The last record was read from the store's head, not the log: a
    /// crash came between committing it and writing it to the log (the
    /// next read-write open writes it there).
    pub last_from_head: bool,
    /// The newest segment ends in a torn tail (skipped; the next
    /// read-write open removes it).
    pub torn_tail: bool,
    /// The sealed checkpoint kept in the store, if any: its record was
    /// found unchanged unless `first_bad` says otherwise.
    pub sealed_checkpoint_seq: Option<u64>,
    /// The anchored checkpoint verified against, if any.
    pub anchor_seq: Option<u64>,
}

impl VerifyReport {
    /// Whether the chain is whole.
    pub fn is_intact(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// A checkpoint the log must contain.
struct Target {
    seq: u64,
    hash: [u8; 32],
    what: &'static str,
}

/// The state of one walk.
struct Walk<'a, F> {
    head: &'a Head,
    targets: Vec<Target>,
    expect: u64,
    prev: [u8; 32],
    /// Hash of the record at the head's seq.
    at_head: Option<[u8; 32]>,
    /// Where record head.seq + 1 is, if the log has it.
    past_head: Option<(String, u64)>,
    each: F,
}

impl<F: FnMut(&str) -> Result<()>> Walk<'_, F> {
    /// Checks the next record; `Ok(Some(bad))` names what is wrong.
    fn record(&mut self, file: &str, at: Option<u64>, payload: &[u8]) -> Result<Option<BadRecord>> {
        let bad = |problem: String| {
            Ok(Some(BadRecord {
                seq: self.expect,
                file: file.to_string(),
                offset: at,
                problem,
            }))
        };
        let Some(link) = link_of(payload) else {
            return bad("too short to be a record".into());
        };
        if link.seq != self.expect {
            return bad(format!(
                "found record {} where record {} belongs (records removed or reordered)",
                link.seq, self.expect
            ));
        }
        if link.prev != self.prev {
            return bad(
                "its previous-hash does not match the record before it (the chain was rewritten)"
                    .into(),
            );
        }
        let hash = hash_of(payload);
        for t in &self.targets {
            if t.seq == link.seq && t.hash != hash {
                return bad(format!(
                    "it differs from the {} (the log was rewritten up to here)",
                    t.what
                ));
            }
        }
        let json = String::from_utf8_lossy(&payload[40..]);
        let Some(body) = json.strip_suffix('}') else {
            return bad("not a JSON object".into());
        };
        let line = format!(
            "{body},\"prev_hash\":\"{}\",\"hash\":\"{}\"}}",
            hex(&self.prev),
            hex(&hash)
        );
        (self.each)(&line)?;
        if link.seq == self.head.seq {
            self.at_head = Some(hash);
        }
        if link.seq == self.head.seq + 1 {
            self.past_head = Some((file.to_string(), at.unwrap_or(0)));
        }
        self.prev = hash;
        self.expect += 1;
        Ok(None)
    }
}

/// Walks the whole log of `engine`'s store (see the module docs), handing
/// every intact record's JSON line (with `prev_hash` and `hash` added) to
/// `each`; `anchor` is an operator's checkpoint the log must contain.
pub(crate) fn walk(
    engine: &Engine,
    anchor: Option<&AuditCheckpoint>,
    each: impl FnMut(&str) -> Result<()>,
) -> Result<VerifyReport> {
    let dir = engine.sealed_dir();
    let head = Head::read(engine)?;
    let sealed = read_sealed(dir)?;
    let mut targets = Vec::new();
    if let Some(cp) = &sealed {
        targets.push(Target {
            seq: cp.seq,
            hash: cp.hash,
            what: "sealed checkpoint kept in the store",
        });
    }
    if let Some(cp) = anchor {
        targets.push(Target {
            seq: cp.seq,
            hash: cp.hash,
            what: "anchored checkpoint",
        });
    }
    let mut report = VerifyReport {
        intact: 0,
        head_seq: head.seq,
        head_hash: hex(&head.hash),
        first_bad: None,
        last_from_head: false,
        torn_tail: false,
        sealed_checkpoint_seq: sealed.as_ref().map(|c| c.seq),
        anchor_seq: anchor.map(|c| c.seq),
    };
    let mut w = Walk {
        head: &head,
        targets,
        expect: 1,
        prev: GENESIS,
        at_head: None,
        past_head: None,
        each,
    };
    let segs = segments(dir)?;
    let mut last_file = String::new();
    for (i, (_, name)) in segs.iter().enumerate() {
        let newest = i + 1 == segs.len();
        let mut bad = None;
        let end = scan(dir, name, newest, |offset, payload| {
            bad = w.record(name, Some(crate::vfs::HEADER_LEN + offset), &payload)?;
            Ok(bad.is_none())
        })?;
        if bad.is_none() {
            match end {
                SegmentEnd::Clean => {}
                SegmentEnd::Torn { .. } => report.torn_tail = true,
                SegmentEnd::Bad { offset, problem } => {
                    bad = Some(BadRecord {
                        seq: w.expect,
                        file: name.clone(),
                        offset,
                        problem,
                    })
                }
            }
        }
        if bad.is_some() {
            report.intact = w.expect - 1;
            report.first_bad = bad;
            return Ok(report);
        }
        last_file = name.clone();
    }
    // A record committed in the head but not yet written to the log.
    if let Some(record) = head.follows(w.expect - 1, &w.prev) {
        if let Some(bad) = w.record(&last_file, None, record)? {
            report.intact = w.expect - 1;
            report.first_bad = Some(bad);
            return Ok(report);
        }
        report.last_from_head = true;
    }
    let intact = w.expect - 1;
    report.intact = intact;
    let at_end = |seq: u64, problem: String| BadRecord {
        seq,
        file: last_file.clone(),
        offset: None,
        problem,
    };
    report.first_bad = if intact < head.seq {
        Some(at_end(
            intact + 1,
            format!(
                "missing: the log ends at record {intact} but the store's head is record {} (truncated)",
                head.seq
            ),
        ))
    } else if head.seq > 0 && w.at_head != Some(head.hash) {
        Some(at_end(
            head.seq,
            "the record differs from the stored head".into(),
        ))
    } else if intact > head.seq {
        let (file, offset) = w.past_head.clone().unwrap_or_default();
        Some(BadRecord {
            seq: head.seq + 1,
            file,
            offset: Some(offset),
            problem: format!(
                "the log continues past the store's head (record {}): the store lost its latest writes or was rolled back",
                head.seq
            ),
        })
    } else {
        w.targets.iter().find(|t| t.seq > intact).map(|t| {
            at_end(
                intact + 1,
                format!(
                    "missing: the log ends at record {intact} but the {} is record {} (the log and the store's head were cut back)",
                    t.what, t.seq
                ),
            )
        })
    };
    Ok(report)
}
