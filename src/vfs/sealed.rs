//! Sealed files: a plaintext header, then a body of authenticated records,
//! encrypted with AES-CTR addressed by byte offset.
//!
//! ```text
//!   file   ┌──────────── header (64 bytes, plaintext) ────────────┐
//!          │ magic[8] ver u16 kind u8 cipher u8 rsvd[4]           │
//!          │ data-key id[16]  IV[16]  crc32(bytes 0..48) u32 rsvd[12] │
//!          ├──────────── body (offsets below are body offsets) ───┤
//!          │ record │ record │ record │ ...                        │
//!          └──────────────────────────────────────────────────────┘
//!   record   CTR@o(len u32 | crc32(len) u32) ‖ head tag[16]
//!            ‖ CTR@o+24(payload | crc32(payload) u32) ‖ tag[16]
//! ```
//!
//! - The body keystream starts at body offset 0 with counter = IV; any byte
//!   range can be decrypted alone ([`SealedReader::read_raw`]).
//! - The CRCs are inside the encryption (a CRC of plaintext in the clear
//!   would leak it). The tag (absent for plaintext files) covers the header,
//!   the record's offset and its ciphertext: see `crypto::mac`.
//! - The head tag authenticates the length on its own (it is the MAC of the
//!   8 length bytes as if they were a record at body offset `o + 8`), so a
//!   reader trusts a length before it uses it: an edited length is
//!   [`Error::Authentication`], and [`Error::Truncated`] means an authentic
//!   record really runs past the end of the file (a torn tail, or a file
//!   cut short). The record tag covers everything from `o` to itself.
//! - `crc32(len)` lets a reader of a plaintext file tell a damaged length
//!   field (corruption) from a record cut short by the end of the file.
//! - Writers only append; a writer whose write failed refuses further writes,
//!   because retrying at the same offset would reuse keystream.
//!
//! Full byte-level spec: docs/file-format.md.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::crypto::keys::fill_random;
use crate::crypto::mac::{FileMac, TAG_LEN};
use crate::crypto::{Cipher, FileKeys, KeyId};
use crate::error::{Error, Result};

use super::{ReadFile, WriteFile};

mod stream;
pub(crate) use stream::RecordSink;

/// Length of the plaintext file header.
pub const HEADER_LEN: u64 = 64;
/// The first 8 bytes of every sealdb file.
pub const MAGIC: [u8; 8] = *b"\x89SEALDB\n";
/// The format version this code writes and reads. Version 1 (no head tag,
/// so record lengths were used before they were authenticated) is refused.
pub const FORMAT_VERSION: u16 = 2;
/// Largest record payload (1 GiB): anything longer is corruption.
pub const MAX_RECORD: usize = 1 << 30;
/// Bytes a record adds to its payload besides the tags.
pub const RECORD_OVERHEAD: usize = 12;
/// Bytes from a record's start to its payload in an encrypted file:
/// length, crc32(length), head tag.
const ENCRYPTED_HEAD: usize = 8 + TAG_LEN;

/// Bytes on disk of a record with `payload_len` payload bytes.
fn record_size(encrypted: bool, payload_len: usize) -> u64 {
    (RECORD_OVERHEAD + payload_len + if encrypted { 2 * TAG_LEN } else { 0 }) as u64
}

/// What a file is for. The numbers are the on-disk encoding (frozen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum FileKind {
    /// The data-key registry (encrypted under the store key).
    KeyRegistry = 1,
    /// A write-ahead log segment.
    Wal = 2,
    /// A sorted table.
    Sstable = 3,
    /// The manifest (log of the live file set).
    Manifest = 4,
    /// The audit log.
    AuditLog = 5,
    /// A backup.
    Backup = 6,
    /// A temporary or spill file.
    Temp = 7,
}

impl FileKind {
    /// Decodes the on-disk byte.
    pub fn from_u8(b: u8) -> Option<FileKind> {
        Some(match b {
            1 => FileKind::KeyRegistry,
            2 => FileKind::Wal,
            3 => FileKind::Sstable,
            4 => FileKind::Manifest,
            5 => FileKind::AuditLog,
            6 => FileKind::Backup,
            7 => FileKind::Temp,
            _ => return None,
        })
    }
}

/// The plaintext header of a sealed file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHeader {
    /// What the file is for.
    pub kind: FileKind,
    /// How its body is encrypted.
    pub cipher: Cipher,
    /// The key its body is encrypted under (plaintext id if none).
    pub key_id: KeyId,
    /// The initial counter, random per file; also the file's identity.
    pub iv: u128,
}

impl FileHeader {
    /// The 64 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN as usize] {
        let mut h = [0u8; HEADER_LEN as usize];
        h[..8].copy_from_slice(&MAGIC);
        h[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        h[10] = self.kind as u8;
        h[11] = self.cipher as u8;
        h[16..32].copy_from_slice(self.key_id.as_bytes());
        h[32..48].copy_from_slice(&self.iv.to_be_bytes());
        let crc = crc32fast::hash(&h[..48]);
        h[48..52].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// Parses and checks header bytes; `file` names the file in errors.
    pub fn decode(h: &[u8], file: &Path) -> Result<FileHeader> {
        let bad = |what: &str| Error::corruption(file, 0, what);
        if h.len() < HEADER_LEN as usize {
            return Err(Error::Truncated {
                file: file.to_path_buf(),
                offset: 0,
                needed: HEADER_LEN,
                len: h.len() as u64,
            });
        }
        if h[..8] != MAGIC {
            return Err(bad("not a sealdb file (bad magic number)"));
        }
        let crc = u32::from_le_bytes([h[48], h[49], h[50], h[51]]);
        if crc != crc32fast::hash(&h[..48]) {
            return Err(bad("file header checksum mismatch"));
        }
        if h[12..16] != [0; 4] || h[52..64] != [0; 12] {
            return Err(bad("reserved header bytes are not zero"));
        }
        let version = u16::from_le_bytes([h[8], h[9]]);
        if version != FORMAT_VERSION {
            return Err(bad(&format!(
                "unsupported file format version {version} (this sealdb reads version {FORMAT_VERSION} only; \
                 a version-1 store must be exported with the sealdb release that wrote it)"
            )));
        }
        let kind = FileKind::from_u8(h[10]).ok_or_else(|| bad("unknown file kind"))?;
        let cipher = Cipher::from_u8(h[11]).ok_or_else(|| bad("unknown cipher"))?;
        let mut id = [0u8; 16];
        id.copy_from_slice(&h[16..32]);
        let key_id = KeyId::from_bytes(id);
        if cipher.is_encrypted() == key_id.is_plaintext() {
            return Err(bad("cipher and key id disagree"));
        }
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&h[32..48]);
        Ok(FileHeader {
            kind,
            cipher,
            key_id,
            iv: u128::from_be_bytes(iv),
        })
    }

    fn aad(&self) -> [u8; 48] {
        let mut a = [0u8; 48];
        a.copy_from_slice(&self.encode()[..48]);
        a
    }
}

/// Per-file crypto state shared by writer and reader.
#[derive(Clone)]
struct Seal {
    keys: Arc<FileKeys>,
    mac: FileMac,
}

impl Seal {
    fn new(header: &FileHeader, keys: Arc<FileKeys>) -> Seal {
        let mac = keys.file_mac(&header.aad());
        Seal { keys, mac }
    }
}

/// Writes a new sealed file, record by record. Records are buffered and
/// reach the file on [`SealedWriter::flush`] or [`SealedWriter::sync`] (or
/// when the buffer grows past 256 KiB).
pub struct SealedWriter {
    file: Box<dyn WriteFile>,
    path: PathBuf,
    header: FileHeader,
    seal: Option<Seal>,
    /// Body offset of the next record (records buffered included).
    pos: u64,
    /// Records not yet written, in `buf[..used]`; the bytes after are
    /// scratch (kept so the buffer is not zeroed for every record).
    buf: Vec<u8>,
    used: usize,
    /// The first failed write's error, as text: later refusals name it,
    /// so the store's reason for stopping keeps its cause (a full disk).
    failed: Option<String>,
    last_tag: [u8; TAG_LEN],
}

const FLUSH_AT: usize = 256 * 1024;

impl SealedWriter {
    /// Starts a sealed file in `file` (which must be empty): writes its
    /// header with a fresh random IV. `keys` is `None` for plaintext.
    pub(crate) fn create(
        mut file: Box<dyn WriteFile>,
        path: PathBuf,
        kind: FileKind,
        keys: Option<Arc<FileKeys>>,
    ) -> Result<SealedWriter> {
        if !file.is_empty() {
            return Err(Error::InvalidArgument {
                what: format!(
                    "{} is not empty; sealed files are written once",
                    path.display()
                ),
            });
        }
        let mut iv = [0u8; 16];
        fill_random(&mut iv)?;
        let header = FileHeader {
            kind,
            cipher: keys.as_ref().map_or(Cipher::Plaintext, |k| k.cipher()),
            key_id: keys.as_ref().map_or(KeyId::PLAINTEXT, |k| k.id()),
            iv: u128::from_be_bytes(iv),
        };
        let seal = keys.map(|k| Seal::new(&header, k));
        file.append(&header.encode())?;
        Ok(SealedWriter {
            file,
            path,
            header,
            seal,
            pos: 0,
            buf: Vec::with_capacity(64 * 1024),
            used: 0,
            failed: None,
            last_tag: [0; TAG_LEN],
        })
    }

    /// The file's header.
    pub fn header(&self) -> &FileHeader {
        &self.header
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Body offset where the next record will start (= body length so far).
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Bytes on disk a record with `payload_len` bytes of payload takes.
    pub fn record_len(&self, payload_len: usize) -> u64 {
        record_size(self.seal.is_some(), payload_len)
    }

    /// The last 16 bytes of the body written so far (for an encrypted file
    /// the tag of the last record): a digest of the file that the layers
    /// above record to recognise it later.
    pub fn last_tag(&self) -> [u8; TAG_LEN] {
        self.last_tag
    }

    /// Appends one record; returns its body offset.
    pub fn append_record(&mut self, payload: &[u8]) -> Result<u64> {
        self.append_record_in_place(payload.len(), |slot| {
            let (body, rest) = slot.split_at_mut(payload.len());
            body.copy_from_slice(payload);
            rest[..4].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
            Ok(())
        })
    }

    /// Appends a record of `payload_len` bytes whose payload `fill` writes
    /// straight into the writer's buffer: `fill` gets a slot of
    /// [`slot_len`]`(payload_len)` bytes and leaves in it the payload
    /// then its CRC32 (little-endian), the last [`TAG_LEN`] bytes being
    /// scratch ([`SealedReader::read_body`] does exactly that), so a
    /// record moved from one file to another is copied once. If `fill`
    /// fails, nothing is appended (the plaintext it wrote is dropped from
    /// the buffer) and the writer stays usable.
    pub(crate) fn append_record_in_place(
        &mut self,
        payload_len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<()>,
    ) -> Result<u64> {
        self.check()?;
        if payload_len > MAX_RECORD {
            return Err(Error::InvalidArgument {
                what: format!("record of {payload_len} bytes exceeds the 1 GiB limit"),
            });
        }
        let offset = self.pos;
        let start = self.used;
        let head_len = if self.seal.is_some() {
            ENCRYPTED_HEAD
        } else {
            8
        };
        let body = start + head_len;
        let end = body + payload_len + 4;
        let record_end = if self.seal.is_some() {
            end + TAG_LEN
        } else {
            end
        };
        // The buffer keeps its length from flush to flush: bytes are
        // zeroed only when it grows, not once per record.
        if self.buf.len() < end + TAG_LEN {
            self.buf.resize(end + TAG_LEN, 0);
        }
        let len = (payload_len as u32).to_le_bytes();
        self.buf[start..start + 4].copy_from_slice(&len);
        self.buf[start + 4..start + 8].copy_from_slice(&crc32fast::hash(&len).to_le_bytes());
        // Nothing is appended until `used` moves: on any error below the
        // bytes written past it (plaintext included) are never flushed.
        fill(&mut self.buf[body..end + TAG_LEN])?;
        debug_assert_eq!(
            self.buf[body + payload_len..end],
            crc32fast::hash(&self.buf[body..body + payload_len]).to_le_bytes()
        );
        if let Some(seal) = &self.seal {
            let iv = self.header.iv;
            let head = &mut self.buf[start..start + 8];
            seal.keys.apply_keystream(iv, offset, head)?;
            let head_tag = seal.keys.tag(&seal.mac, iv, offset + 8, head);
            self.buf[start + 8..body].copy_from_slice(&head_tag);
            let at = offset + head_len as u64;
            seal.keys
                .apply_keystream(iv, at, &mut self.buf[body..end])?;
            let tag = seal.keys.tag(&seal.mac, iv, offset, &self.buf[start..end]);
            self.buf[end..record_end].copy_from_slice(&tag);
        }
        roll_last_tag(&mut self.last_tag, &self.buf[start..record_end]);
        self.used = record_end;
        self.pos += (record_end - start) as u64;
        if self.used >= FLUSH_AT {
            self.flush()?;
        }
        Ok(offset)
    }

    /// Whether a write failed (then part of a record may be in the file,
    /// and the writer refuses more). An append that failed while this
    /// stayed false wrote nothing: a record over the size limit.
    pub(crate) fn is_failed(&self) -> bool {
        self.failed.is_some()
    }

    fn check(&self) -> Result<()> {
        if let Some(first) = &self.failed {
            return Err(Error::Poisoned {
                reason: format!(
                    "an earlier write to {} failed ({first})",
                    self.path.display()
                ),
            });
        }
        Ok(())
    }

    /// Writes buffered records to the file (not yet durable).
    pub fn flush(&mut self) -> Result<()> {
        self.check()?;
        if self.used == 0 {
            return Ok(());
        }
        match self.file.append(&self.buf[..self.used]) {
            Ok(()) => {
                self.used = 0;
                // A large record (a bulk load's commit) grew the buffer:
                // it is not kept for the life of the file.
                if self.buf.len() > 4 * FLUSH_AT {
                    self.buf = Vec::new();
                }
                Ok(())
            }
            Err(e) => {
                self.fail(&e);
                Err(e)
            }
        }
    }

    /// Writes buffered records and makes the whole file durable.
    pub fn sync(&mut self) -> Result<()> {
        self.flush()?;
        self.file.sync().inspect_err(|e| self.fail(e))
    }

    /// Marks the writer failed by `e` (the first failure is kept).
    fn fail(&mut self, e: &Error) {
        if self.failed.is_none() {
            self.failed = Some(e.to_string());
        }
    }
}

/// Moves `written` (the next bytes of the body) into `last`, the last
/// [`TAG_LEN`] bytes of the body (see [`SealedWriter::last_tag`]).
fn roll_last_tag(last: &mut [u8; TAG_LEN], written: &[u8]) {
    match written.len() {
        n if n >= TAG_LEN => last.copy_from_slice(&written[n - TAG_LEN..]),
        // Fewer bytes than a tag (a short plaintext record): shift them in.
        n => {
            last.copy_within(n.., 0);
            last[TAG_LEN - n..].copy_from_slice(written);
        }
    }
}

/// A record read with its tag: (payload, offset of the next record, tag).
pub(crate) type TaggedRecord = (Vec<u8>, u64, [u8; TAG_LEN]);

/// What [`SealedReader::read_body`] tells besides the payload.
pub(crate) struct RecordRead {
    /// Body offset of the next record.
    pub(crate) next: u64,
    /// The record's verified tag (zeros in a plaintext file).
    pub(crate) tag: [u8; TAG_LEN],
}

/// A record head read and authenticated by [`SealedReader::read_head`]:
/// its payload length is trusted; its body is not read yet.
pub(crate) struct RecordHead {
    offset: u64,
    len: usize,
    /// The head as stored (ciphertext in an encrypted file): the record
    /// tag covers it.
    head: [u8; ENCRYPTED_HEAD],
}

impl RecordHead {
    /// Length of the record's payload.
    pub(crate) fn payload_len(&self) -> usize {
        self.len
    }
}

/// Bytes of the slot that [`SealedReader::read_body`] reads a record of
/// `payload_len` bytes into and [`SealedWriter::append_record_in_place`]
/// fills: the payload, its CRC32, then room for a tag.
pub(crate) const fn slot_len(payload_len: usize) -> usize {
    payload_len + 4 + TAG_LEN
}

/// Files up to this size are read whole when a [`SealedReader`] opens them.
const PREFETCH_MAX: u64 = 64 << 10;

/// A small file read whole in one call: the bytes it had when opened,
/// served from memory. A sealed file is read a record at a time, each
/// record two reads (its length, then the rest), so a manifest of a few
/// edits, the key registry or `CURRENT` cost a dozen system calls where one
/// does; with the log segments and the audit log that was a fifth of a
/// reopen's calls. Files are only ever appended to, so the prefix read at
/// open does not change; reads past it go to the file, as before.
struct Prefetched {
    file: Arc<dyn ReadFile>,
    bytes: Vec<u8>,
}

impl Prefetched {
    /// `file` (of `len` bytes) itself if it is memory-mapped or large,
    /// else read whole.
    fn wrap(file: Arc<dyn ReadFile>, len: u64) -> Result<Arc<dyn ReadFile>> {
        if file.as_slice().is_some() || len > PREFETCH_MAX {
            return Ok(file);
        }
        let mut bytes = vec![0; len as usize];
        file.read_exact_at(0, &mut bytes)?;
        Ok(Arc::new(Prefetched { file, bytes }))
    }
}

impl ReadFile for Prefetched {
    fn len(&self) -> u64 {
        self.file.len()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let held = usize::try_from(offset)
            .ok()
            .and_then(|start| self.bytes.get(start..start.checked_add(buf.len())?));
        match held {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => self.file.read_exact_at(offset, buf),
        }
    }

    fn release(&self, offset: u64, len: u64) {
        self.file.release(offset, len);
    }
}

/// Reads a sealed file: checks its header, then verifies every record read.
pub struct SealedReader {
    file: Arc<dyn ReadFile>,
    path: PathBuf,
    header: FileHeader,
    seal: Option<Seal>,
    body_len: u64,
}

impl SealedReader {
    /// Reads the header of `file` (at `path`) and checks its kind; `keys`
    /// resolves the data key named in the header.
    pub(crate) fn open(
        file: Arc<dyn ReadFile>,
        path: PathBuf,
        kind: FileKind,
        keys: impl FnOnce(&FileHeader) -> Result<Option<Arc<FileKeys>>>,
    ) -> Result<SealedReader> {
        let len = file.len();
        if len < HEADER_LEN {
            return Err(Error::Truncated {
                file: path,
                offset: 0,
                needed: HEADER_LEN,
                len,
            });
        }
        let file = Prefetched::wrap(file, len)?;
        let mut h = [0u8; HEADER_LEN as usize];
        file.read_exact_at(0, &mut h)?;
        let header = FileHeader::decode(&h, &path)?;
        if header.kind != kind {
            return Err(Error::corruption(
                &path,
                10,
                format!("expected a {kind:?} file, found {:?}", header.kind),
            ));
        }
        let seal = match keys(&header)? {
            Some(k) if k.id() == header.key_id && k.cipher() == header.cipher => {
                Some(Seal::new(&header, k))
            }
            None if !header.cipher.is_encrypted() => None,
            _ => {
                return Err(Error::corruption(
                    &path,
                    11,
                    "header names a key that does not fit its cipher",
                ));
            }
        };
        Ok(SealedReader {
            file,
            path,
            header,
            seal,
            body_len: len - HEADER_LEN,
        })
    }

    /// The file's header.
    pub fn header(&self) -> &FileHeader {
        &self.header
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes on disk a record with `payload_len` bytes of payload takes.
    pub fn record_len(&self, payload_len: usize) -> u64 {
        record_size(self.seal.is_some(), payload_len)
    }

    /// The last 16 bytes of the file (see [`SealedWriter::last_tag`]), or
    /// fewer if the body is shorter.
    pub fn last_tag(&self) -> Result<[u8; TAG_LEN]> {
        let mut t = [0u8; TAG_LEN];
        let n = self.body_len.min(TAG_LEN as u64) as usize;
        self.file
            .read_exact_at(HEADER_LEN + self.body_len - n as u64, &mut t[TAG_LEN - n..])?;
        Ok(t)
    }

    /// Length of the body in bytes.
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    fn truncated(&self, offset: u64, needed: u64) -> Error {
        Error::Truncated {
            file: self.path.clone(),
            offset: HEADER_LEN + offset,
            needed,
            len: HEADER_LEN + self.body_len,
        }
    }

    /// Reads and verifies the record at body `offset`. Returns its payload
    /// and the offset of the next record, or `None` exactly at the end of
    /// the body. A record cut short by the end of the file gives
    /// [`Error::Truncated`]; damage gives [`Error::Corruption`] or
    /// [`Error::Authentication`].
    pub fn read_record(&self, offset: u64) -> Result<Option<(Vec<u8>, u64)>> {
        Ok(self
            .read_record_tagged(offset)?
            .map(|(payload, next, _)| (payload, next)))
    }

    /// [`Self::read_record`], also returning the record's verified tag
    /// (all zeros in a plaintext file, which has none): the tags of a
    /// file, in order, stand for its bytes (a backup's manifest digests
    /// them instead of hashing every byte again).
    pub(crate) fn read_record_tagged(&self, offset: u64) -> Result<Option<TaggedRecord>> {
        let mut payload = Vec::new();
        Ok(self
            .read_record_into(offset, &mut payload)?
            .map(|r| (payload, r.next, r.tag)))
    }

    /// [`Self::read_record_tagged`] into `out`, whose allocation is kept
    /// from record to record (its content is replaced by the payload).
    pub(crate) fn read_record_into(
        &self,
        offset: u64,
        out: &mut Vec<u8>,
    ) -> Result<Option<RecordRead>> {
        let Some(head) = self.read_head(offset)? else {
            return Ok(None);
        };
        // Only bytes beyond the buffer's old length are zeroed before the
        // read overwrites them.
        out.resize(slot_len(head.payload_len()), 0);
        let r = self.read_body(&head, out)?;
        out.truncate(head.payload_len());
        Ok(Some(r))
    }

    /// Reads and authenticates the head of the record at body `offset`:
    /// its length, trusted from here on. `None` exactly at the end of the
    /// body; [`Error::Truncated`] if the record (as long as its
    /// authentic head says) runs past the end of the file.
    pub(crate) fn read_head(&self, offset: u64) -> Result<Option<RecordHead>> {
        if offset == self.body_len {
            return Ok(None);
        }
        let head_len = if self.seal.is_some() {
            ENCRYPTED_HEAD
        } else {
            8
        };
        if offset.saturating_add(head_len as u64) > self.body_len {
            return Err(self.truncated(offset, head_len as u64));
        }
        let mut head = [0u8; ENCRYPTED_HEAD];
        self.file
            .read_exact_at(HEADER_LEN + offset, &mut head[..head_len])?;
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&head[..8]);
        if let Some(seal) = &self.seal {
            // The length is authenticated before it is used.
            let (len_ct, head_tag) = head.split_at(8);
            if !seal
                .keys
                .verify(&seal.mac, self.header.iv, offset + 8, len_ct, head_tag)
            {
                return Err(Error::Authentication {
                    file: self.path.clone(),
                    offset: HEADER_LEN + offset,
                });
            }
            seal.keys
                .apply_keystream(self.header.iv, offset, &mut len_bytes)?;
        }
        let len = u32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        let len_crc = u32::from_le_bytes([len_bytes[4], len_bytes[5], len_bytes[6], len_bytes[7]]);
        if crc32fast::hash(&len_bytes[..4]) != len_crc || len as usize > MAX_RECORD {
            return Err(Error::corruption(
                &self.path,
                HEADER_LEN + offset,
                "record length is damaged",
            ));
        }
        let total = record_size(self.seal.is_some(), len as usize);
        if offset + total > self.body_len {
            return Err(self.truncated(offset, total));
        }
        Ok(Some(RecordHead {
            offset,
            len: len as usize,
            head,
        }))
    }

    /// Reads the body of the record whose head is `head` into `slot`
    /// ([`slot_len`] of its payload length), authenticates it, decrypts it
    /// and checks its CRC: the slot then holds the payload and its CRC32
    /// (little-endian), what [`SealedWriter::append_record_in_place`]
    /// wants; its last [`TAG_LEN`] bytes are scratch. The bytes are
    /// copied out of the file before they are authenticated, never checked
    /// in place: a file changed under a mapping cannot swap them after the
    /// check.
    pub(crate) fn read_body(&self, head: &RecordHead, slot: &mut [u8]) -> Result<RecordRead> {
        let offset = head.offset;
        let payload_len = head.len;
        let next = offset + record_size(self.seal.is_some(), payload_len);
        if slot.len() != slot_len(payload_len) {
            return Err(Error::InvalidArgument {
                what: format!(
                    "a {}-byte slot for a record of {payload_len} bytes",
                    slot.len()
                ),
            });
        }
        let mut stored = [0u8; TAG_LEN];
        match &self.seal {
            Some(seal) => {
                self.file
                    .read_exact_at(HEADER_LEN + offset + ENCRYPTED_HEAD as u64, slot)?;
                let (body, tag) = slot.split_at_mut(payload_len + 4);
                if !seal
                    .keys
                    .verify_parts(&seal.mac, self.header.iv, offset, &head.head, body, tag)
                {
                    return Err(Error::Authentication {
                        file: self.path.clone(),
                        offset: HEADER_LEN + offset,
                    });
                }
                stored.copy_from_slice(tag);
                seal.keys
                    .apply_keystream(self.header.iv, offset + ENCRYPTED_HEAD as u64, body)?;
            }
            // A plaintext file: nothing is authenticated, the CRCs catch
            // accidental damage.
            None => self
                .file
                .read_exact_at(HEADER_LEN + offset + 8, &mut slot[..payload_len + 4])?,
        }
        let c = &slot[payload_len..payload_len + 4];
        let crc = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        if crc32fast::hash(&slot[..payload_len]) != crc {
            return Err(Error::corruption(
                &self.path,
                HEADER_LEN + offset,
                "record checksum mismatch",
            ));
        }
        Ok(RecordRead { next, tag: stored })
    }

    /// [`ReadFile::release`] of body bytes `offset..offset + len`.
    pub(crate) fn release(&self, offset: u64, len: u64) {
        let end = offset.saturating_add(len).min(self.body_len);
        if end > offset {
            self.file.release(HEADER_LEN + offset, end - offset);
        }
    }

    /// Decrypts `buf.len()` body bytes at `offset` without verifying them
    /// (the raw keystream view; records are what carry integrity).
    pub fn read_raw(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        if offset.saturating_add(buf.len() as u64) > self.body_len {
            return Err(self.truncated(offset, buf.len() as u64));
        }
        self.file.read_exact_at(HEADER_LEN + offset, buf)?;
        if let Some(seal) = &self.seal {
            seal.keys.apply_keystream(self.header.iv, offset, buf)?;
        }
        Ok(())
    }

    /// Whether every stored byte from body `offset` to the end is zero (what
    /// some file systems leave after a crash in space that was being
    /// appended but never synced).
    pub fn tail_is_zero(&self, offset: u64) -> Result<bool> {
        let mut at = offset;
        let mut buf = vec![0u8; 64 * 1024];
        while at < self.body_len {
            let n = ((self.body_len - at) as usize).min(buf.len());
            self.file.read_exact_at(HEADER_LEN + at, &mut buf[..n])?;
            if buf[..n].iter().any(|&b| b != 0) {
                return Ok(false);
            }
            at += n as u64;
        }
        Ok(true)
    }

    /// Iterates over the records from the start of the body.
    pub fn records(&self) -> Records<'_> {
        Records {
            reader: self,
            offset: Some(0),
        }
    }
}

/// Iterator over a file's records: `(body offset, payload)`; stops after the
/// first error.
pub struct Records<'a> {
    reader: &'a SealedReader,
    offset: Option<u64>,
}

impl Iterator for Records<'_> {
    type Item = Result<(u64, Vec<u8>)>;
    fn next(&mut self) -> Option<Self::Item> {
        let at = self.offset?;
        match self.reader.read_record(at) {
            Ok(Some((payload, next))) => {
                self.offset = Some(next);
                Some(Ok((at, payload)))
            }
            Ok(None) => {
                self.offset = None;
                None
            }
            Err(e) => {
                self.offset = None;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{KeyBytes, MemoryKeyProvider, UnencryptedKeyProvider};
    use crate::vfs::{KeyOptions, MemVfs, SealedDir, Vfs};

    fn dir(vfs: &Arc<MemVfs>, name: &str, key: Option<u8>) -> Result<SealedDir> {
        let provider: Arc<dyn crate::crypto::KeyProvider> = match key {
            Some(b) => Arc::new(MemoryKeyProvider::new(KeyBytes::from_slice(&[b; 32]))?),
            None => Arc::new(UnencryptedKeyProvider::dangerous_new()),
        };
        let vfs: Arc<dyn Vfs> = vfs.clone();
        SealedDir::open(vfs, name, provider, KeyOptions::default())
    }

    /// A file read through this test counts the reads that reach it.
    struct Counting {
        inner: parking_lot::Mutex<Vec<u8>>,
        reads: std::sync::atomic::AtomicUsize,
    }

    impl ReadFile for Counting {
        fn len(&self) -> u64 {
            self.inner.lock().len() as u64
        }
        fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
            self.reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let data = self.inner.lock();
            let start = offset as usize;
            buf.copy_from_slice(data.get(start..start + buf.len()).ok_or_else(|| {
                Error::io(
                    "read",
                    Path::new("t"),
                    std::io::ErrorKind::UnexpectedEof.into(),
                )
            })?);
            Ok(())
        }
    }

    /// A small sealed file is read whole in one read when opened, and its
    /// records then come from memory; a large one is read record by
    /// record. Reads past what the file held at open reach the file.
    #[test]
    fn small_files_are_read_in_one_call() -> Result<()> {
        let vfs = Arc::new(MemVfs::new());
        let d = dir(&vfs, "/a", None)?;
        for (name, records, size) in [("small", 30, 100), ("large", 30, 4000)] {
            let mut w = d.create_file(name, FileKind::Manifest)?;
            let payloads: Vec<Vec<u8>> = (0..records).map(|i| vec![i as u8; size]).collect();
            for p in &payloads {
                w.append_record(p)?;
            }
            w.sync()?;
            let file = Arc::new(Counting {
                inner: parking_lot::Mutex::new(vfs.read_all(&Path::new("/a").join(name))?),
                reads: Default::default(),
            });
            let r =
                SealedReader::open(file.clone(), name.into(), FileKind::Manifest, |_| Ok(None))?;
            let back: Vec<Vec<u8>> = r
                .records()
                .map(|r| r.map(|(_, p)| p))
                .collect::<Result<_>>()?;
            assert_eq!(back, payloads, "{name}");
            let reads = file.reads.load(std::sync::atomic::Ordering::Relaxed);
            if name == "small" {
                assert_eq!(reads, 1, "{name}");
            } else {
                assert!(reads > 2 * records, "{name}: {reads} reads");
            }
        }
        let file = Arc::new(Counting {
            inner: parking_lot::Mutex::new(vec![7; 100]),
            reads: Default::default(),
        });
        let p = Prefetched::wrap(file.clone(), 100)?;
        file.inner.lock().extend_from_slice(&[9; 50]);
        file.inner.lock()[0] = 1;
        let mut b = [0u8; 20];
        p.read_exact_at(90, &mut b)?;
        assert_eq!(&b[..10], &[7; 10]);
        assert_eq!(&b[10..], &[9; 10]);
        p.read_exact_at(0, &mut b[..1])?;
        assert_eq!(b[0], 7, "the prefix is what the file held at open");
        assert!(p.read_exact_at(140, &mut b).is_err());
        assert_eq!(p.len(), 150);
        Ok(())
    }

    /// A record moved from one file to another through the writer's own
    /// buffer reads back equal; a fill that fails appends nothing, leaks
    /// no plaintext into the file, and the writer goes on.
    #[test]
    fn records_moved_in_place_between_files() -> Result<()> {
        for (from_key, to_key) in [(Some(1), Some(2)), (None, Some(2)), (Some(1), None)] {
            let vfs = Arc::new(MemVfs::new());
            let (src_dir, dst_dir) = (dir(&vfs, "/a", from_key)?, dir(&vfs, "/b", to_key)?);
            let payloads: Vec<Vec<u8>> = (0..40usize)
                .map(|i| (0..i * 997 % 9000).map(|j| (i * 31 + j) as u8).collect())
                .collect();
            let mut w = src_dir.create_file("src", FileKind::Sstable)?;
            for p in &payloads {
                w.append_record(p)?;
            }
            w.sync()?;
            let r = src_dir.open_file("src", FileKind::Sstable)?;
            let mut out = dst_dir.create_file("dst", FileKind::Sstable)?;
            let secret = b"PLAINTEXT-THAT-MUST-NOT-BE-WRITTEN";
            let (mut at, mut n) = (0, 0);
            while let Some(head) = r.read_head(at)? {
                // Every third record: a fill that fails after writing
                // plaintext into the slot appends nothing.
                if n % 3 == 0 {
                    let before = out.position();
                    let e = out.append_record_in_place(head.payload_len(), |slot| {
                        let n = secret.len().min(slot.len());
                        slot[..n].copy_from_slice(&secret[..n]);
                        Err(Error::InvalidArgument { what: "no".into() })
                    });
                    assert!(e.is_err());
                    assert_eq!(out.position(), before);
                }
                let mut next = 0;
                out.append_record_in_place(head.payload_len(), |slot| {
                    next = r.read_body(&head, slot)?.next;
                    Ok(())
                })?;
                at = next;
                n += 1;
            }
            out.sync()?;
            assert_eq!(n, payloads.len());
            let raw = vfs.read_all(Path::new("/b/dst"))?;
            assert!(!raw.windows(8).any(|w| w == &secret[..8]));
            let back: Vec<Vec<u8>> = dst_dir
                .open_file("dst", FileKind::Sstable)?
                .records()
                .map(|r| r.map(|(_, p)| p))
                .collect::<Result<_>>()?;
            assert_eq!(back, payloads);
        }
        Ok(())
    }

    /// A writer whose write failed refuses every later one naming the
    /// first failure, so a store stopped by a later refusal still says why
    /// (a full disk), whatever refused first.
    #[test]
    fn a_failed_writer_names_its_first_failure() -> Result<()> {
        use crate::vfs::{FaultPlan, FaultVfs};
        let plan = FaultPlan::new();
        let vfs: Arc<dyn Vfs> = Arc::new(FaultVfs::new(Arc::new(MemVfs::new()), plan.clone()));
        let provider: Arc<dyn crate::crypto::KeyProvider> =
            Arc::new(UnencryptedKeyProvider::dangerous_new());
        let d = SealedDir::open(vfs, "/f", provider, KeyOptions::default())?;
        let mut w = d.create_file("w", FileKind::Wal)?;
        w.append_record(b"fits")?;
        w.sync()?;
        plan.disk_full_from_nth_write(1);
        let first = w.append_record(b"does not").and_then(|_| w.sync());
        assert!(first.is_err() && w.is_failed());
        let first = first.map(|_| ());
        for _ in 0..2 {
            match w.append_record(b"later") {
                Err(Error::Poisoned { reason }) => {
                    assert!(reason.contains("disk full"), "{reason} (first: {first:?})")
                }
                other => panic!("{other:?}"),
            }
        }
        Ok(())
    }
}
