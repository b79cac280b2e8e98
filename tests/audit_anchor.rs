//! The audit chain beyond the store (issue 14, items 4 and 5), on real
//! directories:
//!
//! - an anchored checkpoint ([`Db::audit_checkpoint`], kept by the
//!   operator) catches what a key holder can otherwise do undetected:
//!   rewrite the whole log and its head, or cut both back;
//! - the sealed checkpoint kept in the store, outside the LSM, catches a
//!   log and head cut back together by someone who did not know of it;
//! - a log *longer* than the head (the store lost writes or was rolled
//!   back) is named by a verification as found, and a read-write open
//!   adopts it with an `audit_recovery` record instead of forking the chain;
//! - rotation re-seals the audit segments under the new data key (the
//!   chain is unchanged), so the old key is retired, and the encryption
//!   status lists them; a damaged segment is left as evidence.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use sealdb::audit::{AuditLog, HEAD_KEY, SEALED_CHECKPOINT_FILE};
use sealdb::storage::{Engine, StorageOptions};
use sealdb::vfs::{FileKind, KeyOptions, OsVfs};
use sealdb::{AuditCheckpoint, Db, Error, FileKeyProvider, KeyProvider, Options, PasswordCost};
use sha2::{Digest, Sha256};

struct Store {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    key: PathBuf,
}

fn options() -> Options {
    Options {
        password_cost: PasswordCost::dangerous_minimal(),
        ..Options::default()
    }
}

impl Store {
    fn new() -> Store {
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("a.key");
        sealdb::crypto::provider::generate_key_file(&key, 256).unwrap();
        let dir = tmp.path().join("db");
        Store {
            _tmp: tmp,
            dir,
            key,
        }
    }

    fn open(&self) -> Db {
        Db::open_with(
            &self.dir,
            FileKeyProvider::new(&self.key).unwrap(),
            options(),
        )
        .unwrap()
    }

    /// One session of audited work.
    fn session(&self, n: i64) {
        let db = self.open();
        let root = db.root_session();
        root.execute(
            "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)",
            &[],
        )
        .unwrap();
        root.execute("ALTER TABLE t EXPERIMENTAL_AUDIT SET READ WRITE", &[])
            .unwrap();
        for i in 0..n {
            root.execute("INSERT INTO t (v) VALUES (?)", &[&format!("row {i}")])
                .unwrap();
        }
    }

    fn segments(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("AUDIT-") && n.ends_with(".log"))
            .collect();
        v.sort();
        v
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The head value the store holds now.
    fn head_value(&self) -> Vec<u8> {
        self.open().engine().get(HEAD_KEY).unwrap().unwrap()
    }

    /// What a key holder (or a rollback of the LSM) can do: store `value`
    /// as the head.
    fn put_head(&self, value: &[u8]) {
        let db = self.open();
        db.engine().put(HEAD_KEY, value).unwrap();
        db.engine().flush().unwrap();
    }

    /// Verification as a read-only open would do it: no recovery first.
    fn walk_as_found(&self) -> sealdb::VerifyReport {
        let provider: Arc<dyn KeyProvider> = Arc::new(FileKeyProvider::new(&self.key).unwrap());
        let engine = Engine::open(
            Arc::new(OsVfs::new()),
            &self.dir,
            provider,
            KeyOptions::default(),
            StorageOptions::default(),
        )
        .unwrap();
        AuditLog::walk(&engine, |_| Ok(())).unwrap()
    }

    /// Every record's payload, in order (read with the key).
    fn payloads(&self) -> Vec<(String, Vec<u8>)> {
        self.payloads_in(&self.open())
    }

    fn payloads_in(&self, db: &Db) -> Vec<(String, Vec<u8>)> {
        let sealed = db.engine().sealed_dir();
        let mut out = Vec::new();
        for name in self.segments() {
            let r = sealed.open_file(&name, FileKind::AuditLog).unwrap();
            for item in r.records() {
                out.push((name.clone(), item.unwrap().1));
            }
        }
        out
    }

    /// Re-seals segment `name` holding `payloads`, as a key holder can.
    fn reseal(&self, name: &str, payloads: &[Vec<u8>]) {
        let forged = format!("{name}.forged");
        {
            let db = self.open();
            let mut w = db
                .engine()
                .sealed_dir()
                .create_file(&forged, FileKind::AuditLog)
                .unwrap();
            for p in payloads {
                w.append_record(p).unwrap();
            }
            w.sync().unwrap();
        }
        std::fs::rename(self.path(&forged), self.path(name)).unwrap();
    }
}

fn hash(p: &[u8]) -> [u8; 32] {
    Sha256::digest(p).into()
}

fn head_of(payload: &[u8]) -> Vec<u8> {
    let mut v = vec![2u8];
    v.extend_from_slice(payload);
    v
}

#[test]
fn anchored_checkpoint_catches_a_key_holder_rewriting_log_and_head() {
    let store = Store::new();
    store.session(3);
    store.session(3);
    let cp = store.open().audit_checkpoint().unwrap();
    assert!(cp.seq >= 6, "{cp:?}");
    let cp = AuditCheckpoint::parse(&cp.to_text()).unwrap();
    store.session(2);
    let db = store.open();
    let r = db.audit_verify_against(&cp).unwrap();
    assert!(r.is_intact(), "{r:?}");
    assert_eq!(r.anchor_seq, Some(cp.seq));
    assert!(r.intact > cp.seq);
    drop(db);

    // The key holder edits record 2 and rebuilds everything after it:
    // chain, segments, head, and removes the sealed checkpoint.
    let recs = store.payloads();
    let mut prev = [0u8; 32];
    let mut forged: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, (file, p)) in recs.iter().enumerate() {
        let mut json = p[40..].to_vec();
        if i == 1 {
            json = String::from_utf8(json)
                .unwrap()
                .replace("root", "toor")
                .into_bytes();
        }
        let mut np = p[..8].to_vec();
        np.extend_from_slice(&prev);
        np.extend_from_slice(&json);
        prev = hash(&np);
        forged.push((file.clone(), np));
    }
    for name in store.segments() {
        let ps: Vec<Vec<u8>> = forged
            .iter()
            .filter(|(f, _)| *f == name)
            .map(|(_, p)| p.clone())
            .collect();
        store.reseal(&name, &ps);
    }
    store.put_head(&head_of(&forged.last().unwrap().1));
    std::fs::remove_file(store.path(SEALED_CHECKPOINT_FILE)).unwrap();

    // Without an anchor the rewrite is invisible: that is what a key holder can do.
    let db = store.open();
    let plain = db.audit_verify().unwrap();
    assert!(plain.is_intact(), "{plain:?}");
    // The anchor catches it.
    let r = db.audit_verify_against(&cp).unwrap();
    let bad = r.first_bad.expect("rewrite not caught by the anchor");
    assert_eq!(bad.seq, cp.seq, "{bad}");
    assert!(bad.problem.contains("anchored checkpoint"), "{bad}");
}

#[test]
fn log_and_head_cut_back_together_are_caught_by_the_checkpoints() {
    let store = Store::new();
    store.session(3);
    let old_head = store.head_value();
    let kept = store.segments();
    store.session(3);
    let cp = store.open().audit_checkpoint().unwrap();
    // Cut the log back to the end of the first session and the head with it.
    for name in store.segments().iter().filter(|n| !kept.contains(n)) {
        std::fs::remove_file(store.path(name)).unwrap();
    }
    store.put_head(&old_head);
    // The sealed checkpoint in the store still says how far the log went.
    let db = store.open();
    let r = db.audit_verify().unwrap();
    let bad = r
        .first_bad
        .expect("cut back: not caught by the sealed checkpoint");
    assert!(bad.problem.contains("sealed checkpoint"), "{bad}");
    assert!(bad.problem.contains("missing"), "{bad}");
    drop(db);
    // Put an older sealed checkpoint back (or none): only the anchor is left.
    std::fs::remove_file(store.path(SEALED_CHECKPOINT_FILE)).unwrap();
    let db = store.open();
    assert!(db.audit_verify().unwrap().is_intact());
    let r = db.audit_verify_against(&cp).unwrap();
    let bad = r.first_bad.expect("cut back: not caught by the anchor");
    assert!(
        bad.problem.contains("missing") && bad.problem.contains("anchored checkpoint"),
        "{bad}"
    );
    assert_eq!(bad.seq, r.intact + 1);
    assert!(r.intact < cp.seq);
}

#[test]
fn log_longer_than_head_is_named_then_adopted_with_a_record() {
    let store = Store::new();
    store.session(2);
    let old_head = store.head_value();
    let old_seq = u64::from_le_bytes(old_head[1..9].try_into().unwrap());
    store.session(3);
    let total = store.payloads().len() as u64;
    // The store loses its latest writes: the head goes back.
    store.put_head(&old_head);
    let found = store.walk_as_found();
    let bad = found
        .first_bad
        .expect("log longer than the head: not detected");
    assert_eq!(bad.seq, old_seq + 1, "{bad}");
    assert!(
        bad.problem.contains("continues past the store's head"),
        "{bad}"
    );
    // A read-write open adopts the records (they chain from the head) and
    // says so in the log itself.
    let db = store.open();
    let r = db.audit_verify().unwrap();
    assert!(r.is_intact(), "{r:?}");
    assert_eq!(r.intact, total + 1);
    let mut out = Vec::new();
    db.audit_export(&mut out).unwrap();
    let last = String::from_utf8(out)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    assert!(last.contains("\"event\":\"audit_recovery\""), "{last}");
    assert!(
        last.contains(&format!(
            "{} record(s) past the store's head (record {old_seq})",
            total - old_seq
        )),
        "{last}"
    );
}

#[test]
fn a_forked_head_is_left_as_evidence() {
    let store = Store::new();
    store.session(2);
    store.session(2);
    // A head that does not chain to the log (another history).
    let recs = store.payloads();
    let (_, last) = recs.last().unwrap();
    let mut other = last[..40].to_vec();
    other.extend_from_slice(b"{\"forged\":true}");
    store.put_head(&head_of(&other));
    let db = store.open();
    let r = db.audit_verify().unwrap();
    let bad = r.first_bad.expect("forked head: not detected");
    assert!(
        bad.problem.contains("differs from the stored head"),
        "{bad}"
    );
    // Appending goes on from the head and never hides the fork.
    db.root_session()
        .execute("INSERT INTO t (v) VALUES ('later')", &[])
        .unwrap();
    assert!(!db.audit_verify().unwrap().is_intact());
}

#[test]
fn checkpoint_refuses_a_broken_chain_and_a_damaged_sealed_checkpoint_is_an_error() {
    let store = Store::new();
    store.session(3);
    store.open().audit_checkpoint().unwrap();
    let seg = store.segments()[0].clone();
    let mut bytes = std::fs::read(store.path(&seg)).unwrap();
    let mid = 64 + (bytes.len() - 64) / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(store.path(&seg), &bytes).unwrap();
    let e = store
        .open()
        .audit_checkpoint()
        .expect_err("checkpoint of a broken chain");
    assert!(matches!(e, Error::Corruption { .. }), "{e:?}");
    assert!(e.to_string().contains("refusing to checkpoint"), "{e}");
    bytes[mid] ^= 0x20;
    std::fs::write(store.path(&seg), &bytes).unwrap();

    let cp = store.path(SEALED_CHECKPOINT_FILE);
    let mut b = std::fs::read(&cp).unwrap();
    let last = b.len() - 1;
    b[last] ^= 1;
    std::fs::write(&cp, &b).unwrap();
    let e = store
        .open()
        .audit_verify()
        .expect_err("damaged sealed checkpoint");
    assert!(e.is_corruption(), "{e:?}");
}

/// The engine's own files and every audit file under `active`.
fn all_under(status: &sealdb::vfs::EncryptionStatus) -> bool {
    status
        .files
        .iter()
        .all(|f| f.key_id == status.active_data_key_id)
}

#[test]
fn rotation_reseals_audit_segments_and_retires_the_old_data_key() {
    let store = Store::new();
    store.session(3);
    store.session(3);
    store.open().audit_checkpoint().unwrap();
    let before = store.payloads();
    let status = store.open().encryption_status().unwrap();
    let old_key = status.active_data_key_id;
    let audit_files: Vec<&str> = status
        .files
        .iter()
        .filter(|f| f.name.starts_with("AUDIT-"))
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        audit_files.len(),
        store.segments().len() + 1,
        "{audit_files:?}"
    );
    assert!(audit_files.contains(&SEALED_CHECKPOINT_FILE));

    // A new store key (so a new data key), then rotate.
    let new_key = store._tmp.path().join("b.key");
    sealdb::crypto::provider::generate_key_file(&new_key, 256).unwrap();
    let provider = || {
        FileKeyProvider::new(&new_key)
            .unwrap()
            .with_old_key_file(&store.key)
            .unwrap()
    };
    let db = Db::open_with(&store.dir, provider(), options()).unwrap();
    let mid = db.encryption_status().unwrap();
    assert_ne!(mid.active_data_key_id, old_key);
    assert!(
        !all_under(&mid),
        "audit segments are still under the old key"
    );
    assert!(mid.active_share() < 1.0);
    db.rotate_keys(|_| {}).unwrap();
    let after = db.encryption_status().unwrap();
    assert!(all_under(&after), "{:?}", after.files);
    assert!((after.active_share() - 1.0).abs() < f64::EPSILON);
    assert!(
        after
            .files
            .iter()
            .any(|f| f.name.ends_with(".log") && f.name.starts_with("AUDIT-")),
        "audit segments listed"
    );
    assert!(
        after.data_keys.iter().all(|k| k.id != old_key),
        "the old data key was retired"
    );
    let r = db.audit_verify().unwrap();
    assert!(r.is_intact(), "{r:?}");
    // The records are byte for byte the same (the chain is unchanged).
    let now = store.payloads_in(&db);
    drop(db);
    assert_eq!(
        now[..before.len()]
            .iter()
            .map(|(_, p)| p)
            .collect::<Vec<_>>(),
        before.iter().map(|(_, p)| p).collect::<Vec<_>>()
    );
    // The new key alone opens it now.
    let db = Db::open_with(
        &store.dir,
        FileKeyProvider::new(&new_key).unwrap(),
        options(),
    )
    .unwrap();
    assert!(db.audit_verify().unwrap().is_intact());
}

#[test]
fn rotation_leaves_a_damaged_segment_under_its_key_and_says_so() {
    let store = Store::new();
    store.session(3);
    store.session(3);
    store.session(3);
    let damaged = store.segments()[1].clone();
    let mut bytes = std::fs::read(store.path(&damaged)).unwrap();
    let mid = 64 + (bytes.len() - 64) / 2;
    bytes[mid] ^= 0x08;
    std::fs::write(store.path(&damaged), &bytes).unwrap();
    let new_key = store._tmp.path().join("b.key");
    sealdb::crypto::provider::generate_key_file(&new_key, 256).unwrap();
    let db = Db::open_with(
        &store.dir,
        FileKeyProvider::new(&new_key)
            .unwrap()
            .with_old_key_file(&store.key)
            .unwrap(),
        options(),
    )
    .unwrap();
    let e = db
        .rotate_keys(|_| {})
        .expect_err("a damaged segment was re-sealed");
    assert!(e.to_string().contains(&damaged), "{e}");
    let status = db.encryption_status().unwrap();
    let stale: Vec<&str> = status
        .files
        .iter()
        .filter(|f| f.key_id != status.active_data_key_id)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        stale,
        vec![damaged.as_str()],
        "only the damaged segment keeps its key"
    );
    assert_eq!(
        std::fs::read(store.path(&damaged)).unwrap(),
        bytes,
        "left untouched"
    );
    let bad = db
        .audit_verify()
        .unwrap()
        .first_bad
        .expect("damage still named");
    assert_eq!(bad.file, damaged);
}
