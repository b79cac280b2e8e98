//! `audit`: the tamper-evident SQL audit log.
//!
//! Records go to append-only segment files `AUDIT-NNNNNN.log` beside the
//! store, sealed like every sealed file (AES-CTR + MAC under the active
//! data key), one new segment per open. Each record's payload is
//!
//! ```text
//!   u64 seq (LE, from 1, no gaps) | 32-byte SHA-256 of the previous
//!   record's payload (zeros before the first) | JSON object (UTF-8)
//! ```
//!
//! so a record holds the hash of the previous one. The head of the chain
//! (last seq and its hash) is also written to the store under a system
//! key after every record, so cutting records off the end is detected as
//! well. [`AuditLog::verify`] walks every segment and names the first
//! record that was altered (MAC or hash mismatch), removed or reordered
//! (sequence or chain break), or cut off (the log ends before the head).
//! The MAC stops anyone without the key; the hash chain stops a key
//! holder from quietly rewriting history — the head can be exported and
//! anchored outside the database.
//!
//! Durability: with `SyncMode::Full` a record is synced before its head is
//! stored, so after a crash the log is never behind the head.

use std::io::Write;
use std::sync::Arc;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::storage::Engine;
use crate::vfs::{FileKind, SealedWriter, AUDIT_FILE_PREFIX};

/// Where the head of the chain is kept in the store.
pub const HEAD_KEY: &[u8] = b"\x00s/audit_head";

/// One audit record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditRecord {
    /// Position in the log (from 1).
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// `statement`, `denied`, `login`, `login_failed`, `security`,
    /// `key_rotation`, `encryption`.
    pub event: String,
    /// The session's user.
    pub user: String,
    /// Its active roles (besides itself).
    pub roles: Vec<String>,
    /// The client's address, if any.
    pub client_address: Option<String>,
    /// The application's name.
    pub application_name: String,
    /// The statement text, with placeholders.
    pub statement: String,
    /// Bound values (absent when redacted or none).
    pub values: Option<Vec<String>>,
    /// Tables and views touched.
    pub objects: Vec<String>,
    /// `read`, `write`, `read write` or empty.
    pub mode: String,
    /// Rows changed or returned.
    pub rows: u64,
    /// `ok` or `error`; `started` for an audited query that has begun
    /// (its `ok` or `error` record follows when its result is closed).
    pub outcome: String,
    /// The error's stable code.
    pub error_code: Option<u32>,
    /// The error's message (or a failed login's reason).
    pub error: Option<String>,
    /// How long the statement ran, in microseconds.
    pub duration_us: u64,
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl AuditRecord {
    /// The record as one JSON object (without chain fields).
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(256);
        o.push_str(&format!(
            "{{\"seq\":{},\"time_ms\":{},\"event\":",
            self.seq, self.time_ms
        ));
        json_str(&mut o, &self.event);
        o.push_str(",\"user\":");
        json_str(&mut o, &self.user);
        o.push_str(",\"roles\":[");
        for (i, r) in self.roles.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            json_str(&mut o, r);
        }
        o.push_str("],\"client_address\":");
        match &self.client_address {
            Some(a) => json_str(&mut o, a),
            None => o.push_str("null"),
        }
        o.push_str(",\"application_name\":");
        json_str(&mut o, &self.application_name);
        o.push_str(",\"statement\":");
        json_str(&mut o, &self.statement);
        o.push_str(",\"values\":");
        match &self.values {
            Some(vs) => {
                o.push('[');
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        o.push(',');
                    }
                    json_str(&mut o, v);
                }
                o.push(']');
            }
            None => o.push_str("null"),
        }
        o.push_str(",\"objects\":[");
        for (i, r) in self.objects.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            json_str(&mut o, r);
        }
        o.push_str("],\"mode\":");
        json_str(&mut o, &self.mode);
        o.push_str(&format!(",\"rows\":{},\"outcome\":", self.rows));
        json_str(&mut o, &self.outcome);
        o.push_str(",\"error_code\":");
        match self.error_code {
            Some(c) => o.push_str(&c.to_string()),
            None => o.push_str("null"),
        }
        o.push_str(",\"error\":");
        match &self.error {
            Some(e) => json_str(&mut o, e),
            None => o.push_str("null"),
        }
        o.push_str(&format!(",\"duration_us\":{}}}", self.duration_us));
        o
    }
}

/// A callback that sees every record as it is written.
pub type AuditSink = Arc<dyn Fn(&AuditRecord) + Send + Sync>;

struct Writer {
    file: Option<SealedWriter>,
    segment: u64,
    seq: u64,
    head: [u8; 32],
}

/// The audit log of one open store.
pub struct AuditLog {
    engine: Arc<Engine>,
    sync: bool,
    sink: Option<AuditSink>,
    w: Mutex<Writer>,
}

/// The first problem [`AuditLog::verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRecord {
    /// The sequence number the bad record should have had.
    pub seq: u64,
    /// The segment file.
    pub file: String,
    /// Body offset in that file (None: the log ended early).
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

/// What [`AuditLog::verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked and found intact, in order.
    pub intact: u64,
    /// The head the store remembers (last seq).
    pub head_seq: u64,
    /// The head's hash, hex (anchor it elsewhere for stronger evidence).
    pub head_hash: String,
    /// The first bad record, if any.
    pub first_bad: Option<BadRecord>,
}

impl VerifyReport {
    /// Whether the chain is whole.
    pub fn is_intact(&self) -> bool {
        self.first_bad.is_none()
    }
}

fn segment_name(n: u64) -> String {
    format!("{AUDIT_FILE_PREFIX}{n:06}.log")
}

fn read_head(engine: &Engine) -> Result<(u64, [u8; 32])> {
    match engine.get(HEAD_KEY)? {
        Some(v) if v.len() == 40 => {
            let mut s = [0u8; 8];
            s.copy_from_slice(&v[..8]);
            let mut h = [0u8; 32];
            h.copy_from_slice(&v[8..]);
            Ok((u64::from_le_bytes(s), h))
        }
        Some(_) => Err(Error::Corruption {
            file: "audit head".into(),
            offset: 0,
            what: "the stored head of the audit chain has the wrong size".into(),
        }),
        None => Ok((0, [0u8; 32])),
    }
}

impl AuditLog {
    /// Opens the log of `engine`'s store; `sync` makes every record
    /// durable before the call returns.
    pub fn open(engine: Arc<Engine>, sync: bool, sink: Option<AuditSink>) -> Result<AuditLog> {
        let (seq, head) = read_head(&engine)?;
        let segment = Self::segments(&engine)?
            .last()
            .map(|(n, _)| *n)
            .unwrap_or(0);
        Ok(AuditLog {
            engine,
            sync,
            sink,
            w: Mutex::new(Writer {
                file: None,
                segment,
                seq,
                head,
            }),
        })
    }

    fn segments(engine: &Engine) -> Result<Vec<(u64, String)>> {
        let dir = engine.sealed_dir();
        let mut out: Vec<(u64, String)> = dir
            .vfs()
            .list(dir.dir())?
            .into_iter()
            .filter_map(|n| {
                let num = n
                    .strip_prefix(AUDIT_FILE_PREFIX)?
                    .strip_suffix(".log")?
                    .parse()
                    .ok()?;
                Some((num, n))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Appends `rec` (its `seq` is assigned here) and returns the seq.
    pub fn append(&self, mut rec: AuditRecord) -> Result<u64> {
        let mut w = self.w.lock();
        if w.file.is_none() {
            let n = w.segment + 1;
            let f = self
                .engine
                .sealed_dir()
                .create_file(&segment_name(n), FileKind::AuditLog)?;
            let dir = self.engine.sealed_dir();
            dir.vfs().sync_dir(dir.dir())?;
            w.segment = n;
            w.file = Some(f);
        }
        rec.seq = w.seq + 1;
        let json = rec.to_json();
        let mut payload = Vec::with_capacity(40 + json.len());
        payload.extend_from_slice(&rec.seq.to_le_bytes());
        payload.extend_from_slice(&w.head);
        payload.extend_from_slice(json.as_bytes());
        let hash: [u8; 32] = Sha256::digest(&payload).into();
        if let Some(f) = w.file.as_mut() {
            f.append_record(&payload)?;
            if self.sync {
                f.sync()?;
            } else {
                f.flush()?;
            }
        }
        let mut head = Vec::with_capacity(40);
        head.extend_from_slice(&rec.seq.to_le_bytes());
        head.extend_from_slice(&hash);
        self.engine.put(HEAD_KEY, &head)?;
        w.seq = rec.seq;
        w.head = hash;
        drop(w);
        if let Some(s) = &self.sink {
            s(&rec);
        }
        Ok(rec.seq)
    }

    /// Walks the whole log: every record readable, in order, chained, and
    /// reaching the stored head. `each` sees every intact record's JSON
    /// line (with `prev_hash` and `hash` added).
    pub fn walk(engine: &Engine, mut each: impl FnMut(&str) -> Result<()>) -> Result<VerifyReport> {
        let (head_seq, head_hash) = read_head(engine)?;
        let mut expect = 1u64;
        let mut prev = [0u8; 32];
        let mut last_file = String::new();
        let dir = engine.sealed_dir();
        let report = |intact: u64, bad: Option<BadRecord>| VerifyReport {
            intact,
            head_seq,
            head_hash: hex(&head_hash),
            first_bad: bad,
        };
        for (_, name) in Self::segments(engine)? {
            let reader = match dir.open_file(&name, FileKind::AuditLog) {
                Ok(r) => r,
                Err(e) => {
                    return Ok(report(
                        expect - 1,
                        Some(BadRecord {
                            seq: expect,
                            file: name,
                            offset: Some(0),
                            problem: format!("the segment cannot be opened: {e}"),
                        }),
                    ))
                }
            };
            for item in reader.records() {
                let (offset, payload) = match item {
                    Ok(x) => x,
                    Err(e) => {
                        let at = match &e {
                            Error::Truncated { offset, .. } | Error::Corruption { offset, .. } => {
                                Some(*offset)
                            }
                            _ => None,
                        };
                        return Ok(report(
                            expect - 1,
                            Some(BadRecord {
                                seq: expect,
                                file: name,
                                offset: at,
                                problem: format!("unreadable (edited, removed or damaged): {e}"),
                            }),
                        ));
                    }
                };
                let bad = |problem: String| BadRecord {
                    seq: expect,
                    file: name.clone(),
                    offset: Some(offset),
                    problem,
                };
                if payload.len() < 40 {
                    return Ok(report(expect - 1, Some(bad("too short".into()))));
                }
                let mut s = [0u8; 8];
                s.copy_from_slice(&payload[..8]);
                let seq = u64::from_le_bytes(s);
                if seq != expect {
                    return Ok(report(
                        expect - 1,
                        Some(bad(format!(
                            "found record {seq} where record {expect} belongs (records removed or reordered)"
                        ))),
                    ));
                }
                if payload[8..40] != prev {
                    return Ok(report(
                        expect - 1,
                        Some(bad("its previous-hash does not match the record before it (the chain was rewritten)".into())),
                    ));
                }
                let hash: [u8; 32] = Sha256::digest(&payload).into();
                let json = String::from_utf8_lossy(&payload[40..]);
                let line = match json.strip_suffix('}') {
                    Some(body) => format!(
                        "{body},\"prev_hash\":\"{}\",\"hash\":\"{}\"}}",
                        hex(&prev),
                        hex(&hash)
                    ),
                    None => return Ok(report(expect - 1, Some(bad("not a JSON object".into())))),
                };
                each(&line)?;
                prev = hash;
                expect += 1;
            }
            last_file = name;
        }
        let intact = expect - 1;
        if intact < head_seq {
            return Ok(report(
                intact,
                Some(BadRecord {
                    seq: expect,
                    file: last_file,
                    offset: None,
                    problem: format!(
                        "missing: the log ends at record {intact} but the store's head is record {head_seq} (truncated)"
                    ),
                }),
            ));
        }
        if intact == head_seq && intact > 0 && prev != head_hash {
            return Ok(report(
                intact,
                Some(BadRecord {
                    seq: intact,
                    file: last_file,
                    offset: None,
                    problem: "the last record's hash differs from the stored head".into(),
                }),
            ));
        }
        Ok(report(intact, None))
    }

    /// Checks the chain (see [`Self::walk`]).
    pub fn verify(&self) -> Result<VerifyReport> {
        self.flush()?;
        Self::walk(&self.engine, |_| Ok(()))
    }

    /// Writes every intact record as one JSON line; stops at the first
    /// bad record (reported).
    pub fn export(&self, out: &mut dyn Write) -> Result<VerifyReport> {
        self.flush()?;
        Self::walk(&self.engine, |line| {
            writeln!(out, "{line}").map_err(|e| Error::Io {
                op: "write",
                path: "audit export".into(),
                source: e,
            })
        })
    }

    fn flush(&self) -> Result<()> {
        if let Some(f) = self.w.lock().file.as_mut() {
            f.flush()?;
        }
        Ok(())
    }
}
