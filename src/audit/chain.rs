//! The hash chain: how a record's payload links to the one before it, and
//! the head of the chain that the store keeps.
//!
//! ```text
//!   payload   u64 seq (LE, from 1, no gaps) | [32] SHA-256 of the previous
//!             payload (zeros before the first) | JSON object (UTF-8)
//!   hash      SHA-256(payload)
//! ```
//!
//! The head is stored in the LSM under [`HEAD_KEY`], and it is stored
//! *before* the record reaches the log (write-ahead): storing the head is
//! the one step that commits a record. The head therefore carries the
//! record's whole payload, so that a crash between the two steps loses
//! nothing — the log is then exactly one record behind, and that record is
//! in the head, to be written again at the next open:
//!
//! ```text
//!   head value   v2: u8 2 | payload of the last committed record
//!                v1: u64 seq | [32] hash      (40 bytes; older stores)
//! ```
//!
//! Invariant (kill -9 at any instant, or power loss with `SyncMode::Full`):
//! the log holds records 1..=head.seq, or 1..=head.seq-1 plus possibly a
//! torn prefix of record head.seq. It is never ahead of the head.

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::storage::Engine;

/// Where the head of the chain is kept in the store.
pub const HEAD_KEY: &[u8] = b"\x00s/audit_head";

/// The previous-hash of record 1.
pub(crate) const GENESIS: [u8; 32] = [0u8; 32];

/// Bytes before the JSON in a payload.
pub(crate) const LINK_LEN: usize = 40;

const HEAD_V2: u8 = 2;

/// The fixed part of a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) seq: u64,
    pub(crate) prev: [u8; 32],
}

/// Builds a payload.
pub(crate) fn encode_payload(seq: u64, prev: &[u8; 32], json: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(LINK_LEN + json.len());
    p.extend_from_slice(&seq.to_le_bytes());
    p.extend_from_slice(prev);
    p.extend_from_slice(json.as_bytes());
    p
}

/// The link of a payload, or `None` if it is too short to have one.
pub(crate) fn link_of(payload: &[u8]) -> Option<Link> {
    if payload.len() < LINK_LEN {
        return None;
    }
    let mut s = [0u8; 8];
    s.copy_from_slice(&payload[..8]);
    let mut prev = [0u8; 32];
    prev.copy_from_slice(&payload[8..LINK_LEN]);
    Some(Link {
        seq: u64::from_le_bytes(s),
        prev,
    })
}

/// The hash a payload is known by (and the next record's previous-hash).
pub(crate) fn hash_of(payload: &[u8]) -> [u8; 32] {
    Sha256::digest(payload).into()
}

/// Lower-case hex.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The head of the chain as the store remembers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    /// The last committed record (0: none).
    pub(crate) seq: u64,
    /// Its hash ([`GENESIS`] when there is none).
    pub(crate) hash: [u8; 32],
    /// Its payload (absent in a v1 head and before the first record).
    pub(crate) record: Option<Vec<u8>>,
}

impl Head {
    /// The head of an empty log.
    pub(crate) fn genesis() -> Head {
        Head {
            seq: 0,
            hash: GENESIS,
            record: None,
        }
    }

    /// The head after committing `payload`.
    pub(crate) fn of(payload: &[u8]) -> Option<Head> {
        let link = link_of(payload)?;
        Some(Head {
            seq: link.seq,
            hash: hash_of(payload),
            record: Some(payload.to_vec()),
        })
    }

    /// The value stored under [`HEAD_KEY`] for a head with a record.
    pub(crate) fn encode(payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(1 + payload.len());
        v.push(HEAD_V2);
        v.extend_from_slice(payload);
        v
    }

    /// Reads the head from the store.
    pub(crate) fn read(engine: &Engine) -> Result<Head> {
        Head::decode(engine.get(HEAD_KEY)?)
    }

    /// The head a stored value (or its absence) describes.
    pub(crate) fn decode(value: Option<Vec<u8>>) -> Result<Head> {
        let bad = |what: &str| Error::Corruption {
            file: "audit head".into(),
            offset: 0,
            what: what.into(),
        };
        match value {
            None => Ok(Head::genesis()),
            Some(v) if v.len() == LINK_LEN => {
                let mut s = [0u8; 8];
                s.copy_from_slice(&v[..8]);
                let mut hash = [0u8; 32];
                hash.copy_from_slice(&v[8..]);
                Ok(Head {
                    seq: u64::from_le_bytes(s),
                    hash,
                    record: None,
                })
            }
            Some(v) if v.first() == Some(&HEAD_V2) => Head::of(&v[1..]).ok_or_else(|| {
                bad("the stored head of the audit chain holds a record too short to be one")
            }),
            Some(_) => Err(bad(
                "the stored head of the audit chain has an unknown format",
            )),
        }
    }

    /// The head's record, if it is the one that follows a log ending at
    /// `(last_seq, last_hash)`.
    pub(crate) fn follows(&self, last_seq: u64, last_hash: &[u8; 32]) -> Option<&[u8]> {
        let record = self.record.as_deref()?;
        let link = link_of(record)?;
        (link.seq == last_seq + 1 && link.prev == *last_hash).then_some(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip_and_head_follows() {
        let p1 = encode_payload(1, &GENESIS, "{\"a\":1}");
        let l = link_of(&p1).expect("link");
        assert_eq!((l.seq, l.prev), (1, GENESIS));
        assert!(link_of(&p1[..39]).is_none());
        let h1 = Head::of(&p1).expect("head");
        assert_eq!(h1.seq, 1);
        let p2 = encode_payload(2, &h1.hash, "{}");
        let h2 = Head::of(&p2).expect("head");
        assert_eq!(h2.follows(1, &h1.hash), Some(&p2[..]));
        assert_eq!(h2.follows(1, &GENESIS), None, "wrong previous hash");
        assert_eq!(h2.follows(0, &h1.hash), None, "not the next seq");
        assert_eq!(Head::genesis().follows(0, &GENESIS), None, "no record");
        assert_eq!(h1.follows(0, &GENESIS), Some(&p1[..]));
    }
}
