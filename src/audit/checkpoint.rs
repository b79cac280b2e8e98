//! Checkpoints of the audit chain: a (sequence number, hash) that the log
//! must still contain, unchanged, however it grows.
//!
//! Because every record holds the hash of the one before it, the hash of
//! record `seq` commits to the whole prefix 1..=seq: a log that still has
//! a record `seq` with that hash has every earlier record exactly as it
//! was. Two checkpoints exist:
//!
//! - the **sealed checkpoint**, `AUDIT-CHECKPOINT` in the store directory: a
//!   sealed file outside the LSM, replaced atomically at open and every
//!   [`SEALED_EVERY`] records (with `SyncMode::Full`; with `Normal` only
//!   when a checkpoint is taken, since it must name durable records). It is a second copy of (an earlier) head,
//!   so rolling back the LSM, or cutting the log, is caught even when the
//!   head in the LSM was rolled back to match. Anyone who can copy files
//!   can put an older checkpoint file back, so it only raises the bar.
//! - the **anchored checkpoint** ([`AuditCheckpoint`]): the same facts as a
//!   small text file for the operator to keep elsewhere (another machine,
//!   a ticket, a printout). Verified against it, the log proves it still
//!   contains that prefix — which holds even against a key holder, who can
//!   otherwise re-seal a rewritten log and head.
//!
//! Anchored checkpoint text (UTF-8, `\n` line ends, exactly these lines):
//!
//! ```text
//!   sealdb-audit-checkpoint 1
//!   seq <decimal>
//!   hash <64 lower-case hex digits>
//!   time_ms <decimal, ms since the Unix epoch, when it was taken>
//! ```
//!
//! Sealed checkpoint payload (one record): `b"ACKP" | u32 version = 1 |
//! u64 seq | [32] hash | i64 time_ms`, little-endian.

use crate::error::{Error, Result};
use crate::vfs::{FileKind, SealedDir};

use super::chain::hex;

/// Name of the sealed checkpoint file.
pub const SEALED_CHECKPOINT_FILE: &str = "AUDIT-CHECKPOINT";
/// Records between two updates of the sealed checkpoint.
pub(crate) const SEALED_EVERY: u64 = 1024;

const TEXT_MAGIC: &str = "sealdb-audit-checkpoint 1";
const SEALED_MAGIC: &[u8; 4] = b"ACKP";
const SEALED_LEN: usize = 4 + 4 + 8 + 32 + 8;

/// A point of the audit chain to keep outside the database: the log must
/// always contain record `seq` with hash `hash` (and so every record
/// before it unchanged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditCheckpoint {
    /// The record's sequence number (0: the empty log).
    pub seq: u64,
    /// SHA-256 of its payload.
    pub hash: [u8; 32],
    /// When the checkpoint was taken (ms since the Unix epoch).
    pub time_ms: i64,
}

impl AuditCheckpoint {
    /// The hash as 64 hex digits (as `audit export` shows it).
    pub fn hash_hex(&self) -> String {
        hex(&self.hash)
    }

    /// The checkpoint as the text to keep (see the module docs).
    pub fn to_text(&self) -> String {
        format!(
            "{TEXT_MAGIC}\nseq {}\nhash {}\ntime_ms {}\n",
            self.seq,
            self.hash_hex(),
            self.time_ms
        )
    }

    /// Parses [`Self::to_text`]'s output; anything else is
    /// [`Error::InvalidArgument`] saying what is wrong.
    pub fn parse(text: &str) -> Result<AuditCheckpoint> {
        let bad = |what: String| Error::InvalidArgument {
            what: format!("not an audit checkpoint: {what}"),
        };
        let mut lines = text.lines();
        if lines.next() != Some(TEXT_MAGIC) {
            return Err(bad(format!("the first line must be `{TEXT_MAGIC}`")));
        }
        let mut field = |name: &str| -> Result<String> {
            let line = lines
                .next()
                .ok_or_else(|| bad(format!("the `{name}` line is missing")))?;
            line.strip_prefix(name)
                .and_then(|r| r.strip_prefix(' '))
                .map(str::to_string)
                .ok_or_else(|| bad(format!("expected a `{name} ...` line")))
        };
        let seq = field("seq")?;
        let seq: u64 = seq
            .parse()
            .map_err(|_| bad(format!("`{seq}` is not a sequence number")))?;
        let hash_text = field("hash")?;
        let hash = decode_hash(&hash_text)
            .ok_or_else(|| bad("the hash must be 64 hex digits".to_string()))?;
        let time = field("time_ms")?;
        let time_ms: i64 = time
            .parse()
            .map_err(|_| bad(format!("`{time}` is not a time in ms")))?;
        if lines.any(|l| !l.trim().is_empty()) {
            return Err(bad("unexpected lines after `time_ms`".to_string()));
        }
        Ok(AuditCheckpoint { seq, hash, time_ms })
    }

    fn encode_sealed(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(SEALED_LEN);
        p.extend_from_slice(SEALED_MAGIC);
        p.extend_from_slice(&1u32.to_le_bytes());
        p.extend_from_slice(&self.seq.to_le_bytes());
        p.extend_from_slice(&self.hash);
        p.extend_from_slice(&self.time_ms.to_le_bytes());
        p
    }

    fn decode_sealed(p: &[u8]) -> Option<AuditCheckpoint> {
        if p.len() != SEALED_LEN || &p[..4] != SEALED_MAGIC || p[4..8] != 1u32.to_le_bytes() {
            return None;
        }
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&p[8..16]);
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&p[16..48]);
        let mut time = [0u8; 8];
        time.copy_from_slice(&p[48..56]);
        Some(AuditCheckpoint {
            seq: u64::from_le_bytes(seq),
            hash,
            time_ms: i64::from_le_bytes(time),
        })
    }
}

fn decode_hash(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Reads the sealed checkpoint (`None` if the store has none yet). A file
/// that does not authenticate or decode is an error, never ignored.
pub(crate) fn read_sealed(dir: &SealedDir) -> Result<Option<AuditCheckpoint>> {
    let path = dir.dir().join(SEALED_CHECKPOINT_FILE);
    if !dir.vfs().exists(&path)? {
        return Ok(None);
    }
    let payload = dir.read_single(SEALED_CHECKPOINT_FILE, FileKind::AuditLog)?;
    AuditCheckpoint::decode_sealed(&payload)
        .map(Some)
        .ok_or_else(|| Error::corruption(path, 0, "not an audit checkpoint"))
}

/// Replaces the sealed checkpoint, atomically and durably, under the
/// active data key.
pub(crate) fn write_sealed(dir: &SealedDir, cp: &AuditCheckpoint) -> Result<()> {
    dir.write_atomic(
        SEALED_CHECKPOINT_FILE,
        FileKind::AuditLog,
        &cp.encode_sealed(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_and_refusals() {
        let cp = AuditCheckpoint {
            seq: 42,
            hash: [0xab; 32],
            time_ms: 1_700_000_000_123,
        };
        let text = cp.to_text();
        assert_eq!(AuditCheckpoint::parse(&text).expect("parse"), cp);
        assert_eq!(
            AuditCheckpoint::parse(&text.replace('\n', "\r\n")).expect("crlf"),
            cp
        );
        let bad = [
            String::new(),
            text.replace("sealdb-audit-checkpoint 1", "sealdb-audit-checkpoint 2"),
            text.replace("seq 42", "seq -1"),
            text.replace("seq 42", "sequence 42"),
            text.replace(&"ab".repeat(32), &"ab".repeat(31)),
            text.replace(&"ab".repeat(32), &format!("{}zz", "ab".repeat(31))),
            text.replace("time_ms 1700000000123\n", ""),
            format!("{text}extra\n"),
        ];
        for b in &bad {
            assert!(
                matches!(
                    AuditCheckpoint::parse(b),
                    Err(Error::InvalidArgument { .. })
                ),
                "{b:?}"
            );
        }
        let sealed = cp.encode_sealed();
        assert_eq!(AuditCheckpoint::decode_sealed(&sealed), Some(cp));
        assert_eq!(AuditCheckpoint::decode_sealed(&sealed[1..]), None);
    }
}
