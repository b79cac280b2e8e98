//! `audit`: the tamper-evident SQL audit log.
//!
//! Records go to append-only segment files `AUDIT-NNNNNN.log` beside the
//! store, sealed like every sealed file (AES-CTR + MAC under the active
//! data key), one new segment per session that writes. Each record's
//! payload holds its sequence number and the hash of the previous record
//! ([`chain`]), so the MAC stops anyone without the key and the chain
//! stops a key holder from quietly editing, removing or reordering
//! records. [`verify`] walks every segment and names the first record
//! that was altered, removed, reordered or cut off.
//!
//! Appending one record, under one lock:
//!
//! ```text
//!   1. store the head (seq, hash and the whole payload) in the LSM  ← commit
//!   2. append the record to the newest segment, fsync (SyncMode::Full)
//! ```
//!
//! A crash between 1 and 2 leaves the log one record behind a head that
//! holds that record; a crash inside 2 leaves, in addition, a torn tail.
//! The log is never ahead of the head, so a later session can never write
//! a sequence number twice (which would fork the chain for good). Opening
//! for writing finishes what a crash interrupted (`AuditLog::open`):
//!
//! ```text
//!   log ends at the head                       nothing to do
//!   log ends one record behind, head chains    write the head's record
//!   torn tail in the newest segment            re-seal it without the tail
//!   log ahead of the head, chaining from it    adopt it, log `audit_recovery`
//!                                              (the store lost writes: only
//!                                              SyncMode::Normal, or a rollback)
//!   anything else                              leave it: it is evidence, and
//!                                              verify names it
//! ```
//!
//! Checkpoints ([`checkpoint`]) keep (seq, hash) of the chain outside the
//! LSM: a sealed copy in the store directory, and an anchored copy the
//! operator keeps elsewhere.

pub mod chain;
pub mod checkpoint;
pub mod record;
mod segment;
pub mod verify;

pub mod cut;

use std::io::Write;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, MutexGuard};

pub use chain::HEAD_KEY;
pub use checkpoint::{AuditCheckpoint, SEALED_CHECKPOINT_FILE};
pub use record::AuditRecord;
pub use verify::{BadRecord, VerifyReport};

use crate::error::{Error, Result};
use crate::storage::Engine;
use crate::vfs::{FileKind, SealedDir, SealedWriter};

use chain::{encode_payload, hash_of, link_of, Head, Link, GENESIS};
use segment::{segment_name, segments, SegmentEnd};

/// A callback that sees every record as it is written.
pub type AuditSink = Arc<dyn Fn(&AuditRecord) + Send + Sync>;

struct Writer {
    /// The segment this session appends to (created at its first record).
    file: Option<SealedWriter>,
    /// Number of the newest segment.
    segment: u64,
    /// The last committed record.
    head: Head,
    /// Records since the sealed checkpoint was last written.
    since_checkpoint: u64,
    /// Why appending stopped (a record is committed but may not be in
    /// the log; a reopen writes it).
    failed: Option<String>,
}

/// The audit log of one open store.
pub struct AuditLog {
    engine: Arc<Engine>,
    sync: bool,
    sink: Option<AuditSink>,
    w: Mutex<Writer>,
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What one segment near the end of the log holds (read by
/// [`AuditLog::open`]).
struct Summary {
    name: String,
    records: u64,
    first: Option<Link>,
    /// Seq, hash and payload of its last intact record.
    last: Option<(u64, [u8; 32], Vec<u8>)>,
    /// Every record follows the one before it.
    chained: bool,
    /// Hash of the record with the head's seq, if here.
    at_head: Option<[u8; 32]>,
    end: SegmentEnd,
}

fn summarize(dir: &SealedDir, name: &str, newest: bool, head_seq: u64) -> Result<Summary> {
    let mut s = Summary {
        name: name.to_string(),
        records: 0,
        first: None,
        last: None,
        chained: true,
        at_head: None,
        end: SegmentEnd::Clean,
    };
    s.end = segment::scan(dir, name, newest, |_, payload| {
        let Some(link) = link_of(&payload) else {
            s.chained = false;
            return Ok(false);
        };
        if let Some((seq, hash, _)) = &s.last {
            if link.seq != seq + 1 || link.prev != *hash {
                s.chained = false;
                return Ok(false);
            }
        }
        let hash = hash_of(&payload);
        if link.seq == head_seq {
            s.at_head = Some(hash);
        }
        s.first.get_or_insert(link);
        s.records += 1;
        s.last = Some((link.seq, hash, payload));
        Ok(true)
    })?;
    Ok(s)
}

/// Whom an `audit_recovery` record names: the store's root (the name
/// `auth::ROOT` has; audit sits below auth and cannot import it).
const RECOVERY_USER: &str = "root";

/// What opening does about the end of the log.
enum Recovery {
    /// The log ends at the head.
    Consistent,
    /// The head's record is missing from the log: write it.
    WriteHead(Vec<u8>),
    /// The log goes on past the head, chaining from it: adopt its last
    /// record (the payload) as the head, from head seq `from`.
    Adopt { last: Vec<u8>, from: u64 },
    /// Not a crash's doing: leave it for verify to name.
    Leave,
}

impl AuditLog {
    /// Opens the log of `engine`'s store for appending (`sync`: every
    /// record is durable before the call returns), first finishing what a
    /// crash interrupted (see the module docs).
    pub fn open(engine: Arc<Engine>, sync: bool, sink: Option<AuditSink>) -> Result<AuditLog> {
        let dir = engine.sealed_dir();
        let read_only = engine.is_read_only();
        // One listing for the leftovers and the segments (each listing is
        // five system calls, a tenth of a reopen's): removing a re-seal
        // temporary leaves the segments as they were.
        let names = dir.vfs().list(dir.dir())?;
        if !read_only {
            segment::remove_leftovers(dir, &names)?;
        }
        let head = Head::read(&engine)?;
        let segs = segment::segments_in(names);
        let segment = segs.last().map_or(0, |(n, _)| *n);
        let log = AuditLog {
            engine,
            sync,
            sink,
            w: Mutex::new(Writer {
                file: None,
                segment,
                head,
                since_checkpoint: 0,
                failed: None,
            }),
        };
        // A read-only open inspects the evidence as it is: a record only
        // the head holds is checked from there by verify, a torn tail or a
        // log past the head is reported, never repaired.
        if !read_only {
            log.recover(segs)?;
        }
        Ok(log)
    }

    /// Recovers the log's tail; `segs` are the directory's segments.
    fn recover(&self, segs: Vec<(u64, String)>) -> Result<()> {
        let dir = self.engine.sealed_dir();
        let mut w = self.w.lock();
        let head = w.head.clone();
        // The newest segments, back to the one holding the head's record.
        let mut tail: Vec<Summary> = Vec::new();
        for (i, (_, name)) in segs.iter().enumerate().rev() {
            let s = summarize(dir, name, i + 1 == segs.len(), head.seq)?;
            let reached = s.first.is_some_and(|l| l.seq <= head.seq.max(1));
            tail.push(s);
            if reached {
                break;
            }
        }
        tail.reverse();
        let plan = Self::plan(&head, &tail);
        if matches!(plan, Recovery::Leave) {
            return Ok(());
        }
        // Drop a torn tail: remove newest segments left with no record,
        // re-seal the one with records without it.
        for s in tail.iter().rev() {
            match s.end {
                SegmentEnd::Torn { .. } if s.records == 0 => segment::remove(dir, &s.name)?,
                SegmentEnd::Torn { offset } => segment::reseal(dir, &s.name, Some(offset))?,
                _ => {}
            }
        }
        match plan {
            Recovery::WriteHead(record) => self.write_locked(&mut w, &record)?,
            Recovery::Adopt { last, from } => {
                self.engine.put(HEAD_KEY, &Head::encode(&last))?;
                w.head = Head::of(&last).unwrap_or_else(Head::genesis);
                let adopted = w.head.seq - from;
                drop(w);
                self.append(AuditRecord {
                    time_ms: unix_ms(),
                    event: "audit_recovery".into(),
                    user: RECOVERY_USER.into(),
                    statement: format!(
                        "the audit log held {adopted} record(s) past the store's head (record {from}), chained to it: adopted; the store lost its latest writes or was rolled back"
                    ),
                    outcome: "ok".into(),
                    ..AuditRecord::default()
                })?;
                w = self.w.lock();
            }
            Recovery::Consistent | Recovery::Leave => {}
        }
        if self.sync {
            self.write_sealed_checkpoint(&mut w, false)?;
        }
        Ok(())
    }

    /// Decides what opening does, from the summaries of the newest
    /// segments (oldest first).
    fn plan(head: &Head, tail: &[Summary]) -> Recovery {
        let Some(last_i) = tail.iter().rposition(|s| s.records > 0) else {
            // No record at all (or only torn ones).
            if tail.iter().any(|s| matches!(s.end, SegmentEnd::Bad { .. })) {
                return Recovery::Leave;
            }
            return match head.follows(0, &GENESIS) {
                _ if head.seq == 0 => Recovery::Consistent,
                Some(r) => Recovery::WriteHead(r.to_vec()),
                None => Recovery::Leave,
            };
        };
        // Everything from the last record on must be a clean end or a
        // torn tail; damage is evidence.
        if tail[last_i..]
            .iter()
            .any(|s| !s.chained || matches!(s.end, SegmentEnd::Bad { .. }))
        {
            return Recovery::Leave;
        }
        let Some((last_seq, last_hash, last_payload)) = &tail[last_i].last else {
            return Recovery::Leave;
        };
        if *last_seq == head.seq && *last_hash == head.hash {
            return Recovery::Consistent;
        }
        if let Some(r) = head.follows(*last_seq, last_hash) {
            return Recovery::WriteHead(r.to_vec());
        }
        if *last_seq > head.seq {
            // Adopt only a run that provably continues the head: from the
            // segment holding the head's record (or record 1) to the end,
            // every segment whole and linked to the one before.
            let Some(from_i) = tail
                .iter()
                .position(|s| s.first.is_some_and(|l| l.seq <= head.seq.max(1)))
            else {
                return Recovery::Leave;
            };
            let run: Vec<&Summary> = tail[from_i..].iter().filter(|s| s.records > 0).collect();
            let undamaged = tail[from_i..]
                .iter()
                .all(|s| !matches!(s.end, SegmentEnd::Bad { .. }));
            let whole = undamaged
                && run.iter().enumerate().all(|(i, s)| {
                    s.chained && (matches!(s.end, SegmentEnd::Clean) || i + 1 == run.len())
                });
            let linked = run.windows(2).all(|p| match (&p[0].last, &p[1].first) {
                (Some((seq, hash, _)), Some(l)) => l.seq == seq + 1 && l.prev == *hash,
                _ => false,
            });
            let continues = if head.seq == 0 {
                run.first()
                    .and_then(|s| s.first)
                    .is_some_and(|l| l.seq == 1 && l.prev == GENESIS)
            } else {
                run.first().and_then(|s| s.at_head) == Some(head.hash)
            };
            if whole && linked && continues {
                return Recovery::Adopt {
                    last: last_payload.clone(),
                    from: head.seq,
                };
            }
        }
        Recovery::Leave
    }

    /// Appends `payload` to this session's segment (created on first use)
    /// and makes it durable per the sync mode. The head must already hold it.
    fn write_locked(&self, w: &mut Writer, payload: &[u8]) -> Result<()> {
        let dir = self.engine.sealed_dir();
        if w.file.is_none() {
            let n = w.segment + 1;
            let f = dir.create_file(&segment_name(n), FileKind::AuditLog)?;
            dir.vfs().sync_dir(dir.dir())?;
            w.segment = n;
            w.file = Some(f);
        }
        if let Some(f) = w.file.as_mut() {
            f.append_record(payload)?;
            if self.sync {
                f.sync()?;
            } else {
                f.flush()?;
            }
        }
        Ok(())
    }

    /// Replaces the sealed checkpoint with the head if it moved (`force`:
    /// even if not). The log is synced first: the checkpoint must never
    /// name a record that is not durable.
    fn write_sealed_checkpoint(&self, w: &mut Writer, force: bool) -> Result<AuditCheckpoint> {
        let dir = self.engine.sealed_dir();
        let cp = AuditCheckpoint {
            seq: w.head.seq,
            hash: w.head.hash,
            time_ms: unix_ms(),
        };
        w.since_checkpoint = 0;
        if !force {
            // A damaged checkpoint file is left for verify to report.
            match checkpoint::read_sealed(dir) {
                Ok(Some(old)) if old.seq >= cp.seq => return Ok(cp),
                Ok(None) if cp.seq == 0 => return Ok(cp),
                Err(_) => return Ok(cp),
                Ok(_) => {}
            }
        }
        if let Some(f) = w.file.as_mut() {
            f.sync()?;
        }
        checkpoint::write_sealed(dir, &cp)?;
        Ok(cp)
    }

    /// Appends `rec` (its `seq` is assigned here) and returns the seq.
    pub fn append(&self, mut rec: AuditRecord) -> Result<u64> {
        let mut w = self.w.lock();
        if let Some(reason) = &w.failed {
            return Err(Error::Poisoned {
                reason: format!("the audit log stopped: {reason}"),
            });
        }
        rec.seq = w.head.seq + 1;
        let payload = encode_payload(rec.seq, &w.head.hash, &rec.to_json());
        // The commit point: from here on the record exists.
        self.engine.put(HEAD_KEY, &Head::encode(&payload))?;
        w.head = Head::of(&payload).unwrap_or_else(Head::genesis);
        if let Err(e) = self.write_locked(&mut w, &payload) {
            // Appending more would move the head past a record the log may
            // not have; a reopen writes it from the head.
            w.failed = Some(format!("writing record {} failed: {e}", rec.seq));
            return Err(e);
        }
        w.since_checkpoint += 1;
        // Not with SyncMode::Normal: a checkpoint must name durable records,
        // and syncing them here would cost that mode what it saves.
        if self.sync && w.since_checkpoint >= checkpoint::SEALED_EVERY {
            self.write_sealed_checkpoint(&mut w, false)?;
        }
        drop(w);
        if let Some(s) = &self.sink {
            s(&rec);
        }
        Ok(rec.seq)
    }

    /// Holds the writer with everything written handed to the file system
    /// (a walk of the log then sees every committed record, and no append
    /// runs while it walks).
    fn quiesce(&self) -> Result<MutexGuard<'_, Writer>> {
        let mut w = self.w.lock();
        if let Some(f) = w.file.as_mut() {
            f.flush()?;
        }
        Ok(w)
    }

    /// Walks the whole log of `engine`'s store without changing anything
    /// (see [`verify`]); `each` sees every intact record's JSON line (with
    /// `prev_hash` and `hash` added). Works on a store opened read-only.
    pub fn walk(engine: &Engine, each: impl FnMut(&str) -> Result<()>) -> Result<VerifyReport> {
        verify::walk(engine, None, each)
    }

    /// [`Self::walk`], also proving that the log still contains `anchor`.
    pub fn walk_against(
        engine: &Engine,
        anchor: &AuditCheckpoint,
        each: impl FnMut(&str) -> Result<()>,
    ) -> Result<VerifyReport> {
        verify::walk(engine, Some(anchor), each)
    }

    /// Checks the chain (see [`verify`]).
    pub fn verify(&self) -> Result<VerifyReport> {
        let _w = self.quiesce()?;
        verify::walk(&self.engine, None, |_| Ok(()))
    }

    /// Checks the chain and that it still contains `anchor` unchanged.
    pub fn verify_against(&self, anchor: &AuditCheckpoint) -> Result<VerifyReport> {
        let _w = self.quiesce()?;
        verify::walk(&self.engine, Some(anchor), |_| Ok(()))
    }

    /// Writes every intact record as one JSON line; stops at the first
    /// bad record (reported).
    pub fn export(&self, out: &mut dyn Write) -> Result<VerifyReport> {
        let _w = self.quiesce()?;
        verify::walk(&self.engine, None, |line| {
            writeln!(out, "{line}").map_err(|e| Error::Io {
                op: "write",
                path: "audit export".into(),
                source: e,
            })
        })
    }

    /// Verifies the whole chain, then returns its head as a checkpoint to
    /// keep outside the database (and stores it as the sealed checkpoint).
    /// Refuses (a `Corruption` error naming the first bad record) when the
    /// chain is not intact: anchoring a broken log would vouch for it.
    pub fn checkpoint(&self) -> Result<AuditCheckpoint> {
        let mut w = self.quiesce()?;
        if let Some(f) = w.file.as_mut() {
            f.sync()?;
        }
        let report = verify::walk(&self.engine, None, |_| Ok(()))?;
        if let Some(bad) = report.first_bad {
            return Err(Error::corruption(
                self.engine.sealed_dir().dir().join(&bad.file),
                bad.offset.unwrap_or(0),
                format!("the audit chain is broken, refusing to checkpoint it: {bad}"),
            ));
        }
        self.write_sealed_checkpoint(&mut w, true)
    }

    /// Re-seals every audit file not under the active data key (after a
    /// rotation), so the old key can be retired. This session's segment
    /// is closed first (the next record starts a new one). A damaged
    /// segment is left as it is — re-sealing it would hide the damage —
    /// and reported as an error after the others are done.
    pub fn reseal_all(&self) -> Result<()> {
        let dir = self.engine.sealed_dir();
        let mut w = self.w.lock();
        if let Some(mut f) = w.file.take() {
            f.sync()?;
        }
        let active = dir.active_data_key();
        let mut first_err = None;
        for (_, name) in segments(dir)? {
            if dir.file_header(&name).map_or(true, |h| h.key_id != active) {
                if let Err(e) = segment::reseal(dir, &name, None) {
                    first_err.get_or_insert(Error::corruption(
                        dir.dir().join(&name),
                        0,
                        format!(
                            "this audit segment does not read cleanly and stays under its old data key (audit verify names the bad record): {e}"
                        ),
                    ));
                }
            }
        }
        let cp_stale = dir
            .file_header(SEALED_CHECKPOINT_FILE)
            .is_ok_and(|h| h.key_id != active);
        if cp_stale {
            if let Some(cp) = checkpoint::read_sealed(dir)? {
                checkpoint::write_sealed(dir, &cp)?;
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}
