//! Entry points for fuzzing every decoder of bytes from disk: one function
//! per target, taking the fuzzer's bytes and driving the same code the
//! store runs on them. The `fuzz/` crate (excluded from the workspace, run
//! with cargo-afl) calls them, and `tests/fuzz_corpus.rs` replays every
//! corpus file through them in the normal test run.
//!
//! A target must never panic, loop forever or allocate without bound:
//! every input either decodes or gives an error. What each one covers:
//!
//! ```text
//!   sealed_file     a whole sealed file: header, record framing (plaintext
//!                   and encrypted, head tag and record tag paths)
//!   table_file      a plaintext table: footer, index, filter, every block,
//!                   point lookups
//!   table_block     one block (prefix-compressed entries), searches
//!   log_record      one WAL record payload (commit group)
//!   log_segment     a plaintext WAL segment: start record, chain, replay
//!   manifest_edit   one manifest edit, applied to an empty version
//!   current         the payload of CURRENT
//!   key_registry    the key registry payload
//!   audit_segment   a plaintext audit segment, walked and verified
//!   auth_catalog    the security catalog value
//! ```
//!
//! Not part of the API (hidden from the docs); stable only as far as the
//! corpus needs.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::crypto::{FileKeys, KeyBytes, UnencryptedKeyProvider};
use crate::storage::cache::BlockCache;
use crate::storage::memtable::Memtable;
use crate::storage::sst::block::Block;
use crate::storage::sst::reader::SstReader;
use crate::storage::version::{FileIdentity, FileMeta, Version, VersionEdit};
use crate::storage::{batch, manifest, wal, Engine, StorageOptions};
use crate::vfs::{FileHeader, FileKind, KeyOptions, MemVfs, SealedDir, SealedReader, Vfs};

const DIR: &str = "/fuzz";

/// A plaintext store on a [`MemVfs`], opened once: its directory accepts
/// plaintext files, so the structure behind the record framing is
/// reachable by a fuzzer that cannot forge tags.
struct Scratch {
    vfs: MemVfs,
    dir: SealedDir,
}

fn scratch() -> &'static Scratch {
    static S: OnceLock<Scratch> = OnceLock::new();
    S.get_or_init(|| {
        let vfs = MemVfs::new();
        let v: Arc<dyn Vfs> = Arc::new(vfs.clone());
        let provider = Arc::new(UnencryptedKeyProvider::dangerous_new());
        let dir = SealedDir::open(v, DIR, provider, KeyOptions::default())
            .unwrap_or_else(|e| panic!("fuzz scratch directory: {e}"));
        Scratch { vfs, dir }
    })
}

/// Puts `data` as file `name` of the scratch directory, runs `f`, removes it.
fn with_file<T>(name: &str, data: &[u8], f: impl FnOnce(&Scratch) -> T) -> T {
    let s = scratch();
    let path = Path::new(DIR).join(name);
    s.vfs.put_file(&path, data);
    let out = f(s);
    let _ = s.vfs.remove(&path);
    out
}

/// A whole sealed file: header checks, then every record. Encrypted
/// headers get a fixed key of their cipher, so the tag checks run.
pub fn sealed_file(data: &[u8]) {
    let Ok(header) = FileHeader::decode(data, Path::new("f")) else {
        return;
    };
    let vfs = MemVfs::new();
    let path = Path::new("/f");
    vfs.put_file(path, data);
    let Ok(file) = vfs.open(path) else {
        return;
    };
    let keys = |h: &FileHeader| -> crate::Result<Option<Arc<FileKeys>>> {
        if !h.cipher.is_encrypted() {
            return Ok(None);
        }
        let bytes = KeyBytes::from_slice(&[0x42; 32][..h.cipher.key_len()]);
        Ok(Some(Arc::new(FileKeys::derive(
            h.cipher, h.key_id, &bytes,
        )?)))
    };
    let Ok(r) = SealedReader::open(file, path.to_path_buf(), header.kind, keys) else {
        return;
    };
    for rec in r.records() {
        if rec.is_err() {
            break;
        }
    }
    let _ = r.last_tag();
}

/// A plaintext table file, opened as the manifest would (its identity taken
/// from the file itself), then every block read and a few keys looked up.
pub fn table_file(data: &[u8]) {
    let Ok(h) = FileHeader::decode(data, Path::new("t")) else {
        return;
    };
    let mut digest = [0u8; 16];
    let body = &data[data.len().min(64)..];
    let n = body.len().min(16);
    digest[16 - n..].copy_from_slice(&body[body.len() - n..]);
    let meta = FileMeta {
        number: 1,
        size: data.len() as u64,
        entries: 0,
        smallest: Vec::new(),
        largest: Vec::new(),
        identity: FileIdentity {
            iv: h.iv,
            key_id: h.key_id,
            digest,
        },
    };
    with_file("000001.sst", data, |s| {
        let cache = Arc::new(BlockCache::new(1 << 20));
        let Ok(t) = SstReader::open(&s.dir, &meta, cache) else {
            return;
        };
        // The footer, index and filter are read on first use.
        let Ok(n) = t.num_blocks() else {
            let _ = t.get(b"k", &crate::storage::key::seek_key(b"k", 1));
            return;
        };
        for i in 0..n.min(64) {
            if let Ok(b) = t.block(i) {
                for j in 0..b.len().min(4) {
                    let k = crate::storage::key::user_key(b.key(j)).to_vec();
                    let _ = t.get(&k, &crate::storage::key::seek_key(&k, u64::MAX >> 8));
                }
            }
        }
        let _ = t.get(b"k", &crate::storage::key::seek_key(b"k", 1));
    })
}

/// One table block: decode, then search it.
pub fn table_block(data: &[u8]) {
    if let Some(b) = Block::decode(data) {
        for i in 0..b.len() {
            let _ = (b.key(i), b.value(i));
        }
        let probe = data.get(..data.len().min(12)).unwrap_or_default();
        let _ = b.lower_bound(probe);
        let _ = b.upper_bound_back(probe);
        let _ = b.charge();
    }
}

/// One WAL record payload, applied to a memtable.
pub fn log_record(data: &[u8]) {
    if let Some(r) = batch::decode_record(data) {
        let mem = Memtable::new(0);
        mem.apply(r.seq, &r.batch);
        let _ = mem.get(b"k", u64::MAX >> 8);
    }
}

/// A plaintext WAL segment (number 1), replayed as the newest and as an
/// older segment.
pub fn log_segment(data: &[u8]) {
    with_file("000001.wal", data, |s| {
        for newest in [true, false] {
            let mem = Memtable::new(1);
            let mut next = None;
            let _ = wal::replay(&s.dir, 1, &mem, &mut next, newest);
        }
    });
    let _ = wal::StartRecord::decode(data);
}

/// One manifest edit, applied to an empty version and re-encoded.
pub fn manifest_edit(data: &[u8]) {
    if let Some(e) = VersionEdit::decode(data) {
        let _ = Version::new().apply(&e);
        let again = VersionEdit::decode(&e.encode());
        assert!(
            again.as_ref() == Some(&e),
            "a manifest edit does not round-trip"
        );
    }
}

/// The payload of CURRENT.
pub fn current(data: &[u8]) {
    if let Some((n, iv, id)) = manifest::decode_current(data) {
        let name = manifest::manifest_name(n);
        let again = manifest::encode_current(&name, iv, id);
        assert!(
            manifest::decode_current(&again) == Some((n, iv, id)),
            "CURRENT does not round-trip"
        );
    }
}

/// The key registry payload.
pub fn key_registry(data: &[u8]) {
    if let Ok(r) = crate::crypto::DataKeyRegistry::decode(data) {
        let _ = r.keys();
        let _ = crate::crypto::DataKeyRegistry::decode(&r.encode());
    }
}

/// An engine over a plaintext store, opened read-only once, whose
/// directory the audit target drops segments into.
fn audit_engine() -> &'static (MemVfs, Engine) {
    static E: OnceLock<(MemVfs, Engine)> = OnceLock::new();
    E.get_or_init(|| {
        let vfs = MemVfs::new();
        let open = |ro: bool| {
            let v: Arc<dyn Vfs> = Arc::new(vfs.clone());
            let p = Arc::new(UnencryptedKeyProvider::dangerous_new());
            let (k, o) = (KeyOptions::default(), StorageOptions::default());
            if ro {
                Engine::open_read_only(v, "/audit", p, k, o)
            } else {
                Engine::open(v, "/audit", p, k, o)
            }
        };
        let e = open(false).and_then(|e| e.close());
        let e = e.and_then(|_| open(true));
        let e = e.unwrap_or_else(|e| panic!("fuzz audit store: {e}"));
        (vfs, e)
    })
}

/// A plaintext audit segment (the only one), walked and verified.
pub fn audit_segment(data: &[u8]) {
    let (vfs, engine) = audit_engine();
    let path = Path::new("/audit").join(format!("{}000001.log", crate::vfs::AUDIT_FILE_PREFIX));
    vfs.put_file(&path, data);
    let _ = crate::audit::AuditLog::walk(engine, |_| Ok(()));
    let _ = vfs.remove(&path);
}

/// The security catalog value.
pub fn auth_catalog(data: &[u8]) {
    let _ = crate::auth::codec::decode(data);
}

/// A fuzz target: takes the fuzzer's bytes, never panics.
pub type Target = fn(&[u8]);

/// Every target by name (the corpus directories' names).
pub const TARGETS: &[(&str, Target)] = &[
    ("sealed_file", sealed_file),
    ("table_file", table_file),
    ("table_block", table_block),
    ("log_record", log_record),
    ("log_segment", log_segment),
    ("manifest_edit", manifest_edit),
    ("current", current),
    ("key_registry", key_registry),
    ("audit_segment", audit_segment),
    ("auth_catalog", auth_catalog),
];

/// Files of a small real store, one list per target, to seed the corpora
/// (`cargo test --test fuzz_corpus -- --ignored` writes them).
pub fn seeds() -> crate::Result<Vec<(&'static str, Vec<u8>)>> {
    let mut out = Vec::new();
    let vfs = MemVfs::new();
    let v: Arc<dyn Vfs> = Arc::new(vfs.clone());
    let p = Arc::new(UnencryptedKeyProvider::dangerous_new());
    let opts = StorageOptions {
        block_bytes: 128,
        ..StorageOptions::default()
    };
    let e = Engine::open(v.clone(), "/seed", p, KeyOptions::default(), opts)?;
    for i in 0..40u32 {
        e.put(format!("key{i:03}").as_bytes(), &i.to_le_bytes())?;
    }
    e.delete(b"key007")?;
    e.flush()?;
    e.put(b"tail", b"in the log")?;
    let dir = e.sealed_dir();
    for name in vfs.list(Path::new("/seed"))? {
        let bytes = vfs.read_all(&Path::new("/seed").join(&name))?;
        let kind = if name.ends_with(".sst") {
            Some((FileKind::Sstable, "table_file"))
        } else if name.ends_with(".wal") {
            Some((FileKind::Wal, "log_segment"))
        } else if name.starts_with("MANIFEST-") || name == "CURRENT" {
            Some((FileKind::Manifest, "manifest_edit"))
        } else if name == crate::vfs::sealed_dir::REGISTRY_FILE {
            Some((FileKind::KeyRegistry, "key_registry"))
        } else {
            None
        };
        let Some((kind, target)) = kind else { continue };
        out.push(("sealed_file", bytes.clone()));
        if matches!(target, "table_file" | "log_segment") {
            out.push((target, bytes.clone()));
        }
        let r = dir.open_file(&name, kind)?;
        for rec in r.records() {
            let (_, payload) = rec?;
            let t = match (target, name.as_str()) {
                (_, "CURRENT") => "current",
                ("table_file", _) => "table_block",
                ("log_segment", _) => "log_record",
                (t, _) => t,
            };
            out.push((t, payload));
        }
    }
    e.close()?;

    // An audit segment and the security catalog, from a database.
    let vfs = MemVfs::new();
    let options = crate::db::Options {
        vfs: Some(Arc::new(vfs.clone())),
        password_cost: crate::auth::PasswordCost::dangerous_minimal(),
        ..crate::db::Options::default()
    };
    let db = crate::db::Db::open_with("/db", UnencryptedKeyProvider::dangerous_new(), options)?;
    let root = db.root_session();
    root.execute("CREATE TABLE t (a INTEGER, b TEXT)", &[])?;
    root.execute("ALTER TABLE t EXPERIMENTAL_AUDIT SET READ WRITE", &[])?;
    root.execute("INSERT INTO t VALUES (1, 'x'), (2, NULL)", &[])?;
    root.execute("CREATE USER alice WITH PASSWORD 'pw'", &[])?;
    root.execute("CREATE ROLE r", &[])?;
    root.execute("GRANT SELECT (a) ON t TO r", &[])?;
    root.execute("GRANT r TO alice", &[])?;
    if let Some(auth) = db.engine().get(b"\x00s/auth")? {
        out.push(("auth_catalog", auth));
    }
    drop(root);
    drop(db);
    for name in vfs.list(Path::new("/db"))? {
        if name.starts_with(crate::vfs::AUDIT_FILE_PREFIX) {
            out.push((
                "audit_segment",
                vfs.read_all(&Path::new("/db").join(&name))?,
            ));
        }
    }
    Ok(out)
}
