//! The backup manifest (`BACKUP`) and the descriptor that opens every data
//! file: what a backup holds, which backup of its chain holds each part,
//! and, for every file of its own, the size and digest it must have.
//!
//! `BACKUP` is a sealed file (kind `Backup`) under the backup's data key
//! holding exactly one record, so the MAC authenticates all of it. Its
//! payload (little-endian; `v` = LEB128 varint, `str`/`bytes` = `v` length
//! then the bytes):
//!
//! ```text
//!   "SEALBAK1" | u32 version = 2 | backup id [16] | i64 created (ms since epoch)
//!   | source store key id [16] | u64 sequence | u64 flushed sequence
//!   | u8 has parent [ | parent id [16] | SHA-256 of the parent's BACKUP [32]
//!                     | str parent location ]
//!   | v tables × ( v number | v level | v size | v entries | bytes smallest
//!                  | bytes largest | source IV [16, BE] | source key id [16]
//!                  | v record overhead | holder backup id [16] )
//!   | v audit head sequence
//!   | v audit segments × ( v number | v records | source IV [16, BE]
//!                          | v parts × ( holder id [16] | v records ) )
//!   | v log segments × ( v number )
//!   | v files × ( str name | u8 role | v number | v size | IV [16, BE]
//!                 | digest [32] | v records | v payload bytes )
//!   | v SQL tables × str name
//! ```
//!
//! A file's **digest** (version 2) is the SHA-256 of its 64-byte header
//! followed by the tag of each of its records, in order. Every body byte
//! is under exactly one record tag (a MAC keyed by the backup's data key,
//! bound to the file's header and the record's offset), so with the
//! header, the exact size and every tag verified, the digest of the tags
//! pins every byte of the file, at 16 hashed bytes per record instead of
//! all of them. Version 1 (still read) digested every byte of the file.
//!
//! `tables` and `audit segments` are the whole state at the checkpoint;
//! each names the backup of the chain whose directory holds its file (this
//! one, or an ancestor: an incremental backup copies only what its parent
//! chain lacks). An audit segment only grows, so it comes in parts, oldest
//! first, each a run of its records held by one backup: an incremental
//! backup adds a part with the records its parent did not have. `files`
//! are the files of this directory. The log tail is always in the newest
//! backup.
//!
//! A data file (`table-NNNNNN`, `log-NNNNNN`, `audit-NNNNNN`) is a sealed
//! file of kind `Backup` under the data key; its first record is the
//! descriptor `"SEALBKF1" | backup id [16] | u8 role | v number`, the
//! others are the source file's record payloads in order.

use crate::crypto::KeyId;
use crate::storage::key::{get_bytes, get_varint, put_varint};
use crate::storage::CheckpointTable;

/// Name of the manifest file in a backup directory.
pub const MANIFEST_FILE: &str = "BACKUP";

const MAGIC: &[u8; 8] = b"SEALBAK1";
/// The version written: file digests over the record tags.
const VERSION: u32 = 2;
/// The first version, still read: file digests over every byte.
const VERSION_WHOLE_FILE: u32 = 1;
const DESCRIPTOR_MAGIC: &[u8; 8] = b"SEALBKF1";

/// What a data file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A table of the store.
    Table = 1,
    /// A segment of the log tail.
    Log = 2,
    /// A segment of the audit log.
    Audit = 3,
}

impl Role {
    fn from_u8(b: u8) -> Option<Role> {
        Some(match b {
            1 => Role::Table,
            2 => Role::Log,
            3 => Role::Audit,
            _ => return None,
        })
    }

    /// The file name of part `number` of this role.
    pub fn file_name(self, number: u64) -> String {
        let prefix = match self {
            Role::Table => "table",
            Role::Log => "log",
            Role::Audit => "audit",
        };
        format!("{prefix}-{number:06}")
    }
}

/// A table of the backed-up state and the backup holding its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableEntry {
    /// The table as the source store had it.
    pub table: CheckpointTable,
    /// The backup whose directory holds `table-NNNNNN`.
    pub holder: [u8; 16],
}

/// An audit segment of the backed-up state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Its number (`AUDIT-NNNNNN.log`).
    pub number: u64,
    /// Records that belong to the backed-up state (up to the audit head).
    pub records: u64,
    /// The source segment's IV.
    pub iv: u128,
    /// Its records in runs, oldest first: (the backup whose `audit-NNNNNN`
    /// holds the run, how many records). The runs add up to `records`.
    pub parts: Vec<([u8; 16], u64)>,
}

/// What a file's digest in the manifest covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileDigest {
    /// SHA-256 of every byte of the file (manifest version 1).
    WholeFile,
    /// SHA-256 of the file's header and its record tags in order
    /// (version 2, written now).
    RecordTags,
}

/// One file of a backup directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Its name in the directory.
    pub name: String,
    /// What it holds.
    pub role: Role,
    /// Which table, log or audit segment.
    pub number: u64,
    /// Exact length in bytes.
    pub size: u64,
    /// Its header IV.
    pub iv: u128,
    /// Its digest (what it covers: [`Manifest::file_digest`]).
    pub sha256: [u8; 32],
    /// Payload records after the descriptor.
    pub records: u64,
    /// Sum of those payloads' lengths.
    pub payload_bytes: u64,
}

/// The link to the parent of an incremental backup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentLink {
    /// The parent's backup id.
    pub id: [u8; 16],
    /// SHA-256 of the parent's `BACKUP` file.
    pub manifest_sha256: [u8; 32],
    /// Where the parent was when this backup was made.
    pub location: String,
}

/// The decoded `BACKUP` payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// What the files' digests cover (by the manifest's version).
    pub file_digest: FileDigest,
    /// Random id of this backup.
    pub id: [u8; 16],
    /// When the checkpoint was taken (ms since the Unix epoch).
    pub created_ms: i64,
    /// The source store's key id (plaintext id for an unencrypted store).
    pub store_key_id: KeyId,
    /// The checkpoint's sequence number.
    pub sequence: u64,
    /// Its flushed sequence number (the tables hold everything up to it).
    pub flushed: u64,
    /// The parent, for an incremental backup.
    pub parent: Option<ParentLink>,
    /// Every table of the state.
    pub tables: Vec<TableEntry>,
    /// The audit head's sequence number at the checkpoint.
    pub audit_head: u64,
    /// Every audit segment of the state.
    pub audit: Vec<AuditEntry>,
    /// The log tail's segment numbers, oldest first (files of this backup).
    pub logs: Vec<u64>,
    /// The files of this directory.
    pub files: Vec<FileEntry>,
    /// Names of the SQL tables at the checkpoint.
    pub sql_tables: Vec<String>,
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn v(&mut self) -> Option<u64> {
        get_varint(self.buf, &mut self.pos)
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        get_bytes(self.buf, &mut self.pos, n)
    }
    fn arr<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = usize::try_from(self.v()?).ok()?;
        Some(self.take(n)?.to_vec())
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?).ok()
    }
    fn count(&mut self) -> Option<usize> {
        // Every item takes at least one byte: a count beyond what is left
        // is damage, not a reason to allocate.
        let n = usize::try_from(self.v()?).ok()?;
        (n <= self.buf.len() - self.pos).then_some(n)
    }
}

impl Manifest {
    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut o = Vec::with_capacity(256 + 128 * (self.tables.len() + self.files.len()));
        o.extend_from_slice(MAGIC);
        let version = match self.file_digest {
            FileDigest::WholeFile => VERSION_WHOLE_FILE,
            FileDigest::RecordTags => VERSION,
        };
        o.extend_from_slice(&version.to_le_bytes());
        o.extend_from_slice(&self.id);
        o.extend_from_slice(&self.created_ms.to_le_bytes());
        o.extend_from_slice(self.store_key_id.as_bytes());
        o.extend_from_slice(&self.sequence.to_le_bytes());
        o.extend_from_slice(&self.flushed.to_le_bytes());
        match &self.parent {
            None => o.push(0),
            Some(p) => {
                o.push(1);
                o.extend_from_slice(&p.id);
                o.extend_from_slice(&p.manifest_sha256);
                put_bytes(&mut o, p.location.as_bytes());
            }
        }
        put_varint(&mut o, self.tables.len() as u64);
        for e in &self.tables {
            let t = &e.table;
            put_varint(&mut o, t.number);
            put_varint(&mut o, t.level as u64);
            put_varint(&mut o, t.size);
            put_varint(&mut o, t.entries);
            put_bytes(&mut o, &t.smallest);
            put_bytes(&mut o, &t.largest);
            o.extend_from_slice(&t.iv.to_be_bytes());
            o.extend_from_slice(t.key_id.as_bytes());
            put_varint(&mut o, t.record_overhead);
            o.extend_from_slice(&e.holder);
        }
        put_varint(&mut o, self.audit_head);
        put_varint(&mut o, self.audit.len() as u64);
        for a in &self.audit {
            put_varint(&mut o, a.number);
            put_varint(&mut o, a.records);
            o.extend_from_slice(&a.iv.to_be_bytes());
            put_varint(&mut o, a.parts.len() as u64);
            for (holder, records) in &a.parts {
                o.extend_from_slice(holder);
                put_varint(&mut o, *records);
            }
        }
        put_varint(&mut o, self.logs.len() as u64);
        for n in &self.logs {
            put_varint(&mut o, *n);
        }
        put_varint(&mut o, self.files.len() as u64);
        for f in &self.files {
            put_bytes(&mut o, f.name.as_bytes());
            o.push(f.role as u8);
            put_varint(&mut o, f.number);
            put_varint(&mut o, f.size);
            o.extend_from_slice(&f.iv.to_be_bytes());
            o.extend_from_slice(&f.sha256);
            put_varint(&mut o, f.records);
            put_varint(&mut o, f.payload_bytes);
        }
        put_varint(&mut o, self.sql_tables.len() as u64);
        for t in &self.sql_tables {
            put_bytes(&mut o, t.as_bytes());
        }
        o
    }

    /// Parses [`Self::encode`]'s output; `None` if it is malformed.
    pub fn decode(buf: &[u8]) -> Option<Manifest> {
        let mut r = Reader { buf, pos: 0 };
        if r.take(8)? != MAGIC {
            return None;
        }
        let file_digest = match u32::from_le_bytes(r.arr()?) {
            VERSION => FileDigest::RecordTags,
            VERSION_WHOLE_FILE => FileDigest::WholeFile,
            _ => return None,
        };
        let id = r.arr()?;
        let created_ms = i64::from_le_bytes(r.arr()?);
        let store_key_id = KeyId::from_bytes(r.arr()?);
        let sequence = u64::from_le_bytes(r.arr()?);
        let flushed = u64::from_le_bytes(r.arr()?);
        let parent = match r.take(1)?[0] {
            0 => None,
            1 => Some(ParentLink {
                id: r.arr()?,
                manifest_sha256: r.arr()?,
                location: r.string()?,
            }),
            _ => return None,
        };
        let mut tables = Vec::new();
        for _ in 0..r.count()? {
            let table = CheckpointTable {
                number: r.v()?,
                level: usize::try_from(r.v()?).ok()?,
                size: r.v()?,
                entries: r.v()?,
                smallest: r.bytes()?,
                largest: r.bytes()?,
                iv: u128::from_be_bytes(r.arr()?),
                key_id: KeyId::from_bytes(r.arr()?),
                record_overhead: r.v()?,
            };
            tables.push(TableEntry {
                table,
                holder: r.arr()?,
            });
        }
        let audit_head = r.v()?;
        let mut audit = Vec::new();
        for _ in 0..r.count()? {
            let (number, records, iv) = (r.v()?, r.v()?, u128::from_be_bytes(r.arr()?));
            let mut parts = Vec::new();
            for _ in 0..r.count()? {
                parts.push((r.arr()?, r.v()?));
            }
            if parts.iter().map(|(_, n)| *n).sum::<u64>() != records {
                return None;
            }
            audit.push(AuditEntry {
                number,
                records,
                iv,
                parts,
            });
        }
        let mut logs = Vec::new();
        for _ in 0..r.count()? {
            logs.push(r.v()?);
        }
        let mut files = Vec::new();
        for _ in 0..r.count()? {
            files.push(FileEntry {
                name: r.string()?,
                role: Role::from_u8(r.take(1)?[0])?,
                number: r.v()?,
                size: r.v()?,
                iv: u128::from_be_bytes(r.arr()?),
                sha256: r.arr()?,
                records: r.v()?,
                payload_bytes: r.v()?,
            });
        }
        let mut sql_tables = Vec::new();
        for _ in 0..r.count()? {
            sql_tables.push(r.string()?);
        }
        (r.pos == buf.len()).then_some(Manifest {
            file_digest,
            id,
            created_ms,
            store_key_id,
            sequence,
            flushed,
            parent,
            tables,
            audit_head,
            audit,
            logs,
            files,
            sql_tables,
        })
    }

    /// The file of this directory holding part `number` of `role`.
    pub fn file(&self, role: Role, number: u64) -> Option<&FileEntry> {
        self.files
            .iter()
            .find(|f| f.role == role && f.number == number)
    }

    /// Bytes of this directory's data files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// The first record of a data file.
pub(crate) fn encode_descriptor(backup: &[u8; 16], role: Role, number: u64) -> Vec<u8> {
    let mut d = Vec::with_capacity(8 + 16 + 1 + 10);
    d.extend_from_slice(DESCRIPTOR_MAGIC);
    d.extend_from_slice(backup);
    d.push(role as u8);
    put_varint(&mut d, number);
    d
}

/// Parses a descriptor: (backup id, role, number).
pub(crate) fn decode_descriptor(d: &[u8]) -> Option<([u8; 16], Role, u64)> {
    let mut r = Reader { buf: d, pos: 0 };
    if r.take(8)? != DESCRIPTOR_MAGIC {
        return None;
    }
    let id = r.arr()?;
    let role = Role::from_u8(r.take(1)?[0])?;
    let number = r.v()?;
    (r.pos == d.len()).then_some((id, role, number))
}

/// Lower-case hex of an id or digest.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            file_digest: FileDigest::RecordTags,
            id: [7; 16],
            created_ms: 1_700_000_000_123,
            store_key_id: KeyId::of_key(b"0123456789abcdef"),
            sequence: 99,
            flushed: 80,
            parent: Some(ParentLink {
                id: [1; 16],
                manifest_sha256: [2; 32],
                location: "/backups/mon".into(),
            }),
            tables: vec![TableEntry {
                table: CheckpointTable {
                    number: 12,
                    level: 1,
                    size: 4096,
                    entries: 10,
                    smallest: b"a\0\0\0\0\0\0\0\x01".to_vec(),
                    largest: b"z\0\0\0\0\0\0\0\x01".to_vec(),
                    iv: u128::MAX - 5,
                    key_id: KeyId::of_key(b"fedcba9876543210"),
                    record_overhead: 28,
                },
                holder: [1; 16],
            }],
            audit_head: 5,
            audit: vec![AuditEntry {
                number: 1,
                records: 5,
                iv: 3,
                parts: vec![([1; 16], 2), ([7; 16], 3)],
            }],
            logs: vec![20, 21],
            files: vec![FileEntry {
                name: "log-000020".into(),
                role: Role::Log,
                number: 20,
                size: 500,
                iv: 9,
                sha256: [4; 32],
                records: 3,
                payload_bytes: 300,
            }],
            sql_tables: vec!["t".into(), "users".into()],
        }
    }

    #[test]
    fn manifest_round_trips_and_rejects_every_cut() {
        let m = sample();
        let b = m.encode();
        assert_eq!(Manifest::decode(&b), Some(m));
        for cut in 0..b.len() {
            assert!(Manifest::decode(&b[..cut]).is_none(), "cut at {cut}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert!(Manifest::decode(&longer).is_none());
        // Version 1 (whole-file digests) still reads; an unknown one not.
        let v1 = Manifest {
            file_digest: FileDigest::WholeFile,
            ..sample()
        };
        let b1 = v1.encode();
        assert_eq!(b1[8..12], 1u32.to_le_bytes());
        assert_eq!(Manifest::decode(&b1), Some(v1));
        let mut v3 = b.clone();
        v3[8..12].copy_from_slice(&3u32.to_le_bytes());
        assert!(Manifest::decode(&v3).is_none());
    }

    #[test]
    fn descriptors_round_trip() {
        let d = encode_descriptor(&[3; 16], Role::Audit, 300);
        assert_eq!(decode_descriptor(&d), Some(([3; 16], Role::Audit, 300)));
        assert!(decode_descriptor(&d[..d.len() - 1]).is_none());
    }
}
