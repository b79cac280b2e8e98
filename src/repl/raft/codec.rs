//! Bytes of the Raft layer: log entries and votes as stored in the node's
//! log store, and the messages nodes send each other.
//!
//! One hand-written, versioned format for both (docs/file-format.md,
//! "Replication"), so neither depends on how openraft lays out its types
//! and an upgrade of openraft cannot silently change what is on disk or on
//! the wire. Integers are LEB128 varints unless noted; a length always
//! precedes the bytes it counts.
//!
//! ```text
//!   log_id     = term | index                 (one leader per term)
//!   opt_log_id = 0 | 1 log_id
//!   vote       = term | (0 | 1 node voted for) | committed u8
//!   entry      = log_id | 0 (blank)
//!                       | 1 command
//!                       | 2 membership
//!   command    = 1 (write) | base | batch          batch = count | ops (storage's op form)
//!   membership = nconfigs | (nids | id…)… | nnodes | (id | len | address)…
//! ```
//!
//! Invariant: every decoder takes untrusted bytes (a peer's message, a
//! file that passed its MAC but may come from a bug) and returns `None` on
//! anything malformed — a count larger than the bytes left, a bad tag,
//! trailing bytes — never panics and never allocates more than the input
//! can justify.

use std::collections::{BTreeMap, BTreeSet};

use openraft::{
    CommittedLeaderId, Entry, EntryPayload, LeaderId, LogId, Membership, StoredMembership, Vote,
};

use super::types::{Command, Member, NodeId, TypeConfig};
use crate::storage::key::{get_bytes, get_varint, put_varint, Kind};
use crate::storage::WriteBatch;

/// Reads values from a byte slice; every read fails cleanly at the end.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn varint(&mut self) -> Option<u64> {
        get_varint(self.buf, &mut self.pos)
    }

    /// A count of items that each take at least `min_bytes`: refused if
    /// the bytes left cannot hold that many (no huge allocations).
    pub(crate) fn count(&mut self, min_bytes: usize) -> Option<usize> {
        let n = usize::try_from(self.varint()?).ok()?;
        (n.checked_mul(min_bytes.max(1))? <= self.remaining()).then_some(n)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        get_bytes(self.buf, &mut self.pos, 1)?.first().copied()
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        get_bytes(self.buf, &mut self.pos, n)
    }

    /// A length-prefixed byte string.
    pub(crate) fn blob(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        self.bytes(n)
    }

    pub(crate) fn bool(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// `Some(v)` only if every byte was consumed.
    pub(crate) fn finish<T>(self, v: T) -> Option<T> {
        (self.pos == self.buf.len()).then_some(v)
    }
}

pub(crate) fn put_blob(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

pub(crate) fn put_log_id(out: &mut Vec<u8>, id: &LogId<NodeId>) {
    put_varint(out, id.leader_id.term);
    put_varint(out, id.index);
}

pub(crate) fn get_log_id(r: &mut Reader) -> Option<LogId<NodeId>> {
    let term = r.varint()?;
    let index = r.varint()?;
    // Standard Raft (one leader per term): a log id names its term only.
    Some(LogId::new(CommittedLeaderId::new(term, 0), index))
}

pub(crate) fn put_opt_log_id(out: &mut Vec<u8>, id: &Option<LogId<NodeId>>) {
    match id {
        None => out.push(0),
        Some(id) => {
            out.push(1);
            put_log_id(out, id);
        }
    }
}

pub(crate) fn get_opt_log_id(r: &mut Reader) -> Option<Option<LogId<NodeId>>> {
    match r.u8()? {
        0 => Some(None),
        1 => Some(Some(get_log_id(r)?)),
        _ => None,
    }
}

pub(crate) fn put_vote(out: &mut Vec<u8>, v: &Vote<NodeId>) {
    put_varint(out, v.leader_id.term);
    match v.leader_id.voted_for {
        None => out.push(0),
        Some(n) => {
            out.push(1);
            put_varint(out, n);
        }
    }
    out.push(v.committed as u8);
}

pub(crate) fn get_vote(r: &mut Reader) -> Option<Vote<NodeId>> {
    let term = r.varint()?;
    let voted_for = match r.u8()? {
        0 => None,
        1 => Some(r.varint()?),
        _ => return None,
    };
    let committed = r.bool()?;
    Some(Vote {
        leader_id: LeaderId { term, voted_for },
        committed,
    })
}

pub(crate) fn put_membership(out: &mut Vec<u8>, m: &Membership<NodeId, Member>) {
    let configs = m.get_joint_config();
    put_varint(out, configs.len() as u64);
    for c in configs {
        put_varint(out, c.len() as u64);
        for id in c {
            put_varint(out, *id);
        }
    }
    let nodes: Vec<_> = m.nodes().collect();
    put_varint(out, nodes.len() as u64);
    for (id, node) in nodes {
        put_varint(out, *id);
        put_blob(out, node.address.as_bytes());
    }
}

pub(crate) fn get_membership(r: &mut Reader) -> Option<Membership<NodeId, Member>> {
    let nconfigs = r.count(1)?;
    let mut configs = Vec::with_capacity(nconfigs);
    for _ in 0..nconfigs {
        let n = r.count(1)?;
        let mut c = BTreeSet::new();
        for _ in 0..n {
            c.insert(r.varint()?);
        }
        configs.push(c);
    }
    let nnodes = r.count(2)?;
    let mut nodes = BTreeMap::new();
    for _ in 0..nnodes {
        let id = r.varint()?;
        let address = String::from_utf8(r.blob()?.to_vec()).ok()?;
        nodes.insert(id, Member { address });
    }
    // Every voter must have a node entry (openraft's own invariant; a
    // membership breaking it would panic inside openraft).
    if configs.iter().flatten().any(|id| !nodes.contains_key(id)) {
        return None;
    }
    Some(Membership::new(configs, nodes))
}

pub(crate) fn put_stored_membership(out: &mut Vec<u8>, m: &StoredMembership<NodeId, Member>) {
    put_opt_log_id(out, m.log_id());
    put_membership(out, m.membership());
}

pub(crate) fn get_stored_membership(r: &mut Reader) -> Option<StoredMembership<NodeId, Member>> {
    let log_id = get_opt_log_id(r)?;
    let m = get_membership(r)?;
    Some(StoredMembership::new(log_id, m))
}

pub(crate) fn put_batch(out: &mut Vec<u8>, b: &WriteBatch) {
    put_varint(out, b.ops.len() as u64);
    for (k, v) in &b.ops {
        out.push(crate::storage::batch::kind_of(v) as u8);
        put_blob(out, k);
        if let Some(v) = v {
            put_blob(out, v);
        }
    }
}

pub(crate) fn get_batch(r: &mut Reader) -> Option<WriteBatch> {
    let n = r.count(2)?;
    let mut b = WriteBatch::new();
    for _ in 0..n {
        match Kind::from_u8(r.u8()?)? {
            Kind::Put => {
                let k = r.blob()?.to_vec();
                let v = r.blob()?.to_vec();
                b.put(k, v);
            }
            Kind::Delete => {
                b.delete(r.blob()?.to_vec());
            }
        }
    }
    Some(b)
}

pub(crate) fn put_command(out: &mut Vec<u8>, c: &Command) {
    match c {
        Command::Write { base, batch } => {
            out.push(1);
            put_varint(out, *base);
            put_batch(out, batch);
        }
    }
}

pub(crate) fn get_command(r: &mut Reader) -> Option<Command> {
    match r.u8()? {
        1 => {
            let base = r.varint()?;
            let batch = get_batch(r)?;
            Some(Command::Write { base, batch })
        }
        _ => None,
    }
}

pub(crate) fn put_entry(out: &mut Vec<u8>, e: &Entry<TypeConfig>) {
    put_log_id(out, &e.log_id);
    match &e.payload {
        EntryPayload::Blank => out.push(0),
        EntryPayload::Normal(c) => {
            out.push(1);
            put_command(out, c);
        }
        EntryPayload::Membership(m) => {
            out.push(2);
            put_membership(out, m);
        }
    }
}

pub(crate) fn get_entry(r: &mut Reader) -> Option<Entry<TypeConfig>> {
    let log_id = get_log_id(r)?;
    let payload = match r.u8()? {
        0 => EntryPayload::Blank,
        1 => EntryPayload::Normal(get_command(r)?),
        2 => EntryPayload::Membership(get_membership(r)?),
        _ => return None,
    };
    Some(Entry { log_id, payload })
}

/// One entry as the log store keeps it.
pub(crate) fn encode_entry(e: &Entry<TypeConfig>) -> Vec<u8> {
    let mut out = Vec::new();
    put_entry(&mut out, e);
    out
}

/// Decodes what [`encode_entry`] wrote.
pub(crate) fn decode_entry(buf: &[u8]) -> Option<Entry<TypeConfig>> {
    let mut r = Reader::new(buf);
    let e = get_entry(&mut r)?;
    r.finish(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(a: &str) -> Member {
        Member { address: a.into() }
    }

    #[test]
    fn entries_round_trip_and_every_cut_fails() {
        let mut b = WriteBatch::new();
        b.put("k", "v").delete("gone");
        let mem = Membership::new(
            vec![BTreeSet::from([1, 2]), BTreeSet::from([2, 3])],
            BTreeMap::from([
                (1, member("a")),
                (2, member("b")),
                (3, member("c")),
                (4, member("d")),
            ]),
        );
        let entries = [
            Entry::<TypeConfig> {
                log_id: LogId::new(CommittedLeaderId::new(3, 2), 17),
                payload: EntryPayload::Blank,
            },
            Entry {
                log_id: LogId::new(CommittedLeaderId::new(4, 1), 18),
                payload: EntryPayload::Normal(Command::Write { base: 9, batch: b }),
            },
            Entry {
                log_id: LogId::new(CommittedLeaderId::new(u64::MAX, 7), u64::MAX),
                payload: EntryPayload::Membership(mem),
            },
        ];
        for e in &entries {
            let bytes = encode_entry(e);
            let back = decode_entry(&bytes).expect("decodes");
            assert_eq!(&back, e);
            for cut in 0..bytes.len() {
                assert!(decode_entry(&bytes[..cut]).is_none(), "cut at {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(decode_entry(&longer).is_none());
        }
    }

    #[test]
    fn a_voter_without_an_address_is_refused() {
        let mut out = Vec::new();
        put_varint(&mut out, 1);
        put_varint(&mut out, 1);
        put_varint(&mut out, 5);
        put_varint(&mut out, 0);
        assert!(get_membership(&mut Reader::new(&out)).is_none());
    }

    #[test]
    fn huge_counts_are_refused_without_allocating() {
        let mut out = Vec::new();
        put_log_id(&mut out, &LogId::new(CommittedLeaderId::new(1, 1), 1));
        out.push(1);
        out.push(1);
        put_varint(&mut out, 0);
        put_varint(&mut out, u64::MAX / 2);
        assert!(decode_entry(&out).is_none());
    }
}
