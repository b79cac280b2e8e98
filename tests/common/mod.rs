//! Helpers shared by the integration tests of the `crypto` and `vfs` layers:
//! fixed test keys, a settable clock, a model of the record format, and the
//! check that no error ever shows key material.
//!
//! The test keys are printable ASCII on purpose: if an error message ever
//! embedded raw key bytes, they would show up as text and the check in
//! [`assert_no_key_material`] would catch them.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sealdb::vfs::{KeyOptions, MemVfs, SealedDir, Vfs};
use sealdb::{
    Cipher, Error, KeyBytes, KeyId, KeyProvider, MemoryKeyProvider, UnencryptedKeyProvider,
};

pub const KEY16: &[u8; 16] = b"sixteen-byte-k#1";
pub const KEY16B: &[u8; 16] = b"sixteen-byte-k#2";
pub const KEY24: &[u8; 24] = b"twenty-four-byte-key#001";
pub const KEY32: &[u8; 32] = b"thirty-two-byte-store-key-#00001";
pub const KEY32B: &[u8; 32] = b"thirty-two-byte-store-key-#00002";

/// Every store key the tests use; none may ever appear in an error.
pub const ALL_KEYS: [&[u8]; 5] = [KEY16, KEY16B, KEY24, KEY32, KEY32B];

/// The store directory used on [`MemVfs`].
pub const DIR: &str = "/db";
pub const REGISTRY: &str = "/db/KEYREGISTRY";

pub fn dir() -> &'static Path {
    Path::new(DIR)
}

pub fn path(name: &str) -> PathBuf {
    dir().join(name)
}

pub fn key(bytes: &[u8]) -> KeyBytes {
    KeyBytes::from_slice(bytes)
}

pub fn id_of(bytes: &[u8]) -> KeyId {
    KeyId::of_key(bytes)
}

pub fn mem_provider(k: &[u8]) -> Arc<dyn KeyProvider> {
    Arc::new(MemoryKeyProvider::new(key(k)).expect("valid test key"))
}

/// `new` active, `old` offered for data written before a rotation.
pub fn rotating_provider(new: &[u8], old: &[u8]) -> Arc<dyn KeyProvider> {
    Arc::new(
        MemoryKeyProvider::new(key(new))
            .and_then(|p| p.with_old_key(key(old)))
            .expect("valid test keys"),
    )
}

pub fn plaintext_provider() -> Arc<dyn KeyProvider> {
    Arc::new(UnencryptedKeyProvider::dangerous_new())
}

/// The four ways a store can seal its files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Plaintext,
    Aes128,
    Aes192,
    Aes256,
}

impl Mode {
    pub const ALL: [Mode; 4] = [Mode::Plaintext, Mode::Aes128, Mode::Aes192, Mode::Aes256];

    pub fn store_key(self) -> Option<&'static [u8]> {
        match self {
            Mode::Plaintext => None,
            Mode::Aes128 => Some(KEY16),
            Mode::Aes192 => Some(KEY24),
            Mode::Aes256 => Some(KEY32),
        }
    }

    pub fn provider(self) -> Arc<dyn KeyProvider> {
        match self.store_key() {
            None => plaintext_provider(),
            Some(k) => mem_provider(k),
        }
    }

    pub fn cipher(self) -> Cipher {
        match self {
            Mode::Plaintext => Cipher::Plaintext,
            Mode::Aes128 => Cipher::Aes128Ctr,
            Mode::Aes192 => Cipher::Aes192Ctr,
            Mode::Aes256 => Cipher::Aes256Ctr,
        }
    }

    pub fn encrypted(self) -> bool {
        self != Mode::Plaintext
    }

    /// Bytes a record with `payload` bytes takes in the body: encrypted
    /// records carry a head tag (after the length) and a record tag.
    pub fn record_len(self, payload: usize) -> u64 {
        (RECORD_OVERHEAD + payload + if self.encrypted() { 2 * TAG_LEN } else { 0 }) as u64
    }
}

/// Length of the plaintext file header (frozen format constant).
pub const HEADER: u64 = 64;
/// len u32 + crc32(len) u32 + crc32(payload) u32.
pub const RECORD_OVERHEAD: usize = 12;
/// Length of the record tag of encrypted files.
pub const TAG_LEN: usize = 16;

/// The plaintext frame of one record: `len | crc32(len) | payload | crc32(payload)`
/// (docs: `vfs::sealed`).
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let mut f = Vec::with_capacity(payload.len() + RECORD_OVERHEAD);
    f.extend_from_slice(&len);
    f.extend_from_slice(&crc32fast::hash(&len).to_le_bytes());
    f.extend_from_slice(payload);
    f.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    f
}

/// A clock the test sets by hand, for forcing (or preventing) rotation.
#[derive(Clone)]
pub struct TestClock(Arc<AtomicU64>);

impl TestClock {
    pub fn new(start: u64) -> Self {
        TestClock(Arc::new(AtomicU64::new(start)))
    }
    pub fn set(&self, t: u64) {
        self.0.store(t, Ordering::SeqCst);
    }
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    /// Options with this clock and a rotation period of `period_secs`.
    pub fn options(&self, period_secs: u64) -> KeyOptions {
        let c = self.0.clone();
        KeyOptions {
            rotation_period: Duration::from_secs(period_secs),
            clock: Arc::new(move || c.load(Ordering::SeqCst)),
            ..KeyOptions::default()
        }
    }
}

/// Options whose clock never moves and whose period is long: no rotation
/// except on a store-key change.
pub fn still_options() -> KeyOptions {
    TestClock::new(1_000_000).options(7 * 24 * 3600)
}

pub fn open_mem(
    vfs: &MemVfs,
    provider: Arc<dyn KeyProvider>,
    options: KeyOptions,
) -> sealdb::Result<SealedDir> {
    SealedDir::open(Arc::new(vfs.clone()), DIR, provider, options)
}

/// Flips bit `bit` (counting from the first byte's least significant bit)
/// of a live file.
pub fn flip_bit(vfs: &MemVfs, file: &Path, bit: u64) {
    let len = vfs.read_all(file).expect("file to corrupt exists").len() as u64;
    assert!(bit / 8 < len, "bit {bit} is beyond the file ({len} bytes)");
    vfs.corrupt(file, bit / 8, |b| b[0] ^= 1 << (bit % 8))
        .expect("corrupt");
}

/// Copies `len` bytes of `from` at `from_off` over `to` at `to_off`.
pub fn splice(vfs: &MemVfs, from: &Path, from_off: u64, to: &Path, to_off: u64, len: usize) {
    let src = vfs.read_all(from).expect("source file");
    let chunk = src[from_off as usize..from_off as usize + len].to_vec();
    vfs.corrupt(to, to_off, |b| b[..len].copy_from_slice(&chunk))
        .expect("splice");
}

fn hex(bytes: &[u8], upper: bool) -> String {
    bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Panics if the `Display`, alternate `Display`, `Debug`, or the `Display` of
/// any `source()` of `err` shows any test store key or any of `extra`
/// (raw bytes or hex in either case).
pub fn assert_no_key_material_in(err: &Error, extra: &[&[u8]]) {
    let mut shown = vec![err.to_string(), format!("{err:#}"), format!("{err:?}")];
    let mut src = std::error::Error::source(err);
    while let Some(s) = src {
        shown.push(s.to_string());
        shown.push(format!("{s:?}"));
        src = s.source();
    }
    // Secrets shorter than 8 bytes could match by chance; the tests use none.
    for k in ALL_KEYS
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .filter(|k| k.len() >= 8)
    {
        for text in &shown {
            assert!(
                !contains(text.as_bytes(), k),
                "raw key bytes appear in error text {text:?}"
            );
            assert!(
                !text.contains(&hex(k, false)) && !text.contains(&hex(k, true)),
                "hex key appears in error text {text:?}"
            );
        }
    }
}

pub fn assert_no_key_material(err: &Error) {
    assert_no_key_material_in(err, &[]);
}

/// The error of `r`, checked to carry no key material; panics (with
/// `what`) if `r` is `Ok`.
pub fn expect_err<T>(r: sealdb::Result<T>, what: &str) -> Error {
    match r {
        Ok(_) => panic!("{what}: expected an error, got Ok"),
        Err(e) => {
            assert_no_key_material(&e);
            e
        }
    }
}

/// Writes `payloads` as records of a new synced file `name` (and syncs the
/// directory), returning each record's body offset.
pub fn write_file(
    d: &SealedDir,
    name: &str,
    kind: sealdb::vfs::FileKind,
    payloads: &[&[u8]],
) -> Vec<u64> {
    let mut w = d.create_file(name, kind).expect("create file");
    let offs = payloads
        .iter()
        .map(|p| w.append_record(p).expect("append"))
        .collect();
    w.sync().expect("sync file");
    drop(w);
    d.vfs().sync_dir(d.dir()).expect("sync dir");
    offs
}

/// All payloads of file `name`, failing on any error.
pub fn read_all_records(d: &SealedDir, name: &str, kind: sealdb::vfs::FileKind) -> Vec<Vec<u8>> {
    let r = d.open_file(name, kind).expect("open file");
    r.records()
        .map(|rec| rec.map(|(_, p)| p))
        .collect::<sealdb::Result<Vec<_>>>()
        .expect("read records")
}

/// Deterministic pseudo-random bytes (xorshift64*), so that big payloads do
/// not have to go through proptest's shrinking machinery byte by byte.
pub fn bytes_from_seed(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// xorshift64*, seeded, so a failing random test replays.
pub struct Rng(pub u64);

impl Rng {
    /// The next number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// The names of all live files in the store directory.
pub fn list(vfs: &MemVfs) -> Vec<String> {
    vfs.list(dir()).expect("list")
}

/// Installs checkpoint `cp` into `dir` record by record, as a backup's
/// restore does (each table's records, then each log segment's records
/// and its end) and finishes it at the checkpoint's sequence number; the
/// directory stays marked incomplete for the caller to complete.
pub fn install_checkpoint(
    vfs: &Arc<dyn Vfs>,
    cp: &sealdb::storage::Checkpoint,
    dir: &Path,
    p: Arc<dyn KeyProvider>,
    opts: sealdb::storage::StorageOptions,
) -> sealdb::Result<()> {
    let inst = sealdb::storage::CheckpointInstaller::create(
        vfs.clone(),
        dir,
        p,
        KeyOptions::default(),
        opts,
        cp.flushed_sequence(),
    )?;
    for t in cp.tables() {
        let mut ti = inst.table(t)?;
        for r in cp.table_records(t.number, 0)? {
            ti.add_record(r?.1)?;
        }
        ti.finish()?;
    }
    for l in cp.logs() {
        for r in cp.log_records(l.number, 0)? {
            inst.add_log_record(&r?.1)?;
        }
        inst.end_log_segment();
    }
    inst.finish(cp.sequence())
}
