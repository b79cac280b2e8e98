//! Issue 14: what binds the files of a store together, attacked on real
//! files the store wrote (the OS file system, in a temporary directory).
//!
//! - every older file of the store put in the place of a live one is
//!   refused with a typed error naming the file: a table (also one that
//!   still holds a revoked login), the manifest, CURRENT, a log segment,
//!   the key registry after a rotation; and exhaustively, every version of
//!   every file the store held over sessions in place of every live file;
//! - the manifest cut short anywhere, or a record length edited without
//!   the key (CRC32 is affine, so its check can be fixed up), is refused;
//!   so is a log segment that is missing, cut or replaced while a later
//!   one exists;
//! - files newer than the manifest are moved to `quarantine/`, not deleted;
//! - a read-only open writes nothing (the directory is byte-for-byte and
//!   time-for-time the same afterwards), works on a `chmod -R a-w` copy,
//!   and replays the log's tail into memory;
//! - files are created 0600, the directory 0700.
//!
//! Full-disk behaviour is in `disk_full.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sealdb::storage::{Direction, Engine, StorageOptions, SyncMode, QUARANTINE_DIR};
use sealdb::vfs::{FaultPlan, FaultVfs, FileKind, KeyOptions, OsVfs, SealedDir, Vfs};
use sealdb::{
    ClientInfo, Credentials, Db, Error, KeyBytes, KeyProvider, MemoryKeyProvider, Options,
    PasswordCost, Result,
};

const KEY: &[u8; 32] = b"integrity-test-store-key-#000001";

fn provider() -> Arc<dyn KeyProvider> {
    Arc::new(MemoryKeyProvider::new(KeyBytes::from_slice(KEY)).unwrap())
}

fn opts() -> StorageOptions {
    StorageOptions {
        auto_compaction: false,
        ..StorageOptions::default()
    }
}

fn open(dir: &Path) -> Result<Engine> {
    Engine::open(
        Arc::new(OsVfs::new()),
        dir,
        provider(),
        KeyOptions::default(),
        opts(),
    )
}

fn open_ro(dir: &Path) -> Result<Engine> {
    Engine::open_read_only(
        Arc::new(OsVfs::new()),
        dir,
        provider(),
        KeyOptions::default(),
        opts(),
    )
}

fn key(i: u64) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

fn value(i: u64, round: u64) -> Vec<u8> {
    format!("value-{i}-{round}").into_bytes()
}

fn names(dir: &Path, suffix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(suffix) || (suffix == "MANIFEST" && n.starts_with("MANIFEST-")))
        .collect();
    v.sort();
    v
}

/// Copies the files of a store, open or not, as a crash would leave them:
/// a consistent image even while the open store's background work
/// creates and removes files (a flush after recovery removes the old log
/// segment), so the copy starts over until no file appeared or vanished
/// while it ran. (Copying file by file without that flaked under load: a
/// segment removed after the old manifest was copied made an image no
/// crash leaves.)
fn copy_dir(from: &Path, to: &Path) {
    let listing = || {
        let mut v: Vec<_> = std::fs::read_dir(from)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()) && e.file_name() != "LOCK")
            .map(|e| e.file_name())
            .collect();
        v.sort();
        v
    };
    for _ in 0..1000 {
        let _ = std::fs::remove_dir_all(to);
        std::fs::create_dir_all(to).unwrap();
        let before = listing();
        let mut whole = true;
        for name in &before {
            match std::fs::copy(from.join(name), to.join(name)) {
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => whole = false,
                Err(err) => panic!("copy {}: {err}", from.join(name).display()),
            }
        }
        if whole && listing() == before {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("{} kept changing while it was copied", from.display());
}

fn all(e: &Engine) -> BTreeMap<Vec<u8>, Vec<u8>> {
    e.iter(.., Direction::Forward, None)
        .unwrap()
        .collect::<Result<_>>()
        .unwrap()
}

/// Every file (recursively) with its content and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            out.extend(snapshot(&p));
        } else {
            let mtime = e.metadata().unwrap().modified().unwrap();
            out.insert(p.clone(), (std::fs::read(&p).unwrap(), mtime));
        }
    }
    out
}

/// The open must fail with a corruption-class error naming `file`.
#[track_caller]
fn refused<T>(r: Result<T>, file: &str, ctx: &str) -> Error {
    match r {
        Ok(_) => panic!("{ctx}: BUG: the store opened (old data served as current)"),
        Err(e) => {
            assert!(e.is_corruption(), "{ctx}: not a corruption error: {e:?}");
            let named = match &e {
                Error::Corruption { file: f, .. }
                | Error::Authentication { file: f, .. }
                | Error::Truncated { file: f, .. } => f.clone(),
                other => panic!("{ctx}: {other:?}"),
            };
            assert!(
                named.to_string_lossy().ends_with(file),
                "{ctx}: the error names {} instead of {file}: {e}",
                named.display()
            );
            e
        }
    }
}

/// A store with two generations of tables: `old` holds copies of the
/// tables of the first, the live directory those of the second.
fn two_generations(root: &Path) -> (PathBuf, PathBuf) {
    let dir = root.join("db");
    let old = root.join("old");
    std::fs::create_dir_all(&old).unwrap();
    let e = open(&dir).unwrap();
    for i in 0..200 {
        e.put(&key(i), &value(i, 1)).unwrap();
    }
    e.flush().unwrap();
    for i in 0..200 {
        e.put(&key(i), &value(i, 2)).unwrap();
    }
    e.flush().unwrap();
    for t in names(&dir, ".sst") {
        std::fs::copy(dir.join(&t), old.join(&t)).unwrap();
    }
    for i in 0..200 {
        e.put(&key(i), &value(i, 3)).unwrap();
    }
    e.compact().unwrap();
    e.close().unwrap();
    (dir, old)
}

#[test]
fn an_older_table_copied_over_a_live_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, old) = two_generations(tmp.path());
    let live = names(&dir, ".sst");
    assert!(!live.is_empty());
    let mut cases = 0;
    for o in names(&old, ".sst") {
        for l in &live {
            let keep = std::fs::read(dir.join(l)).unwrap();
            std::fs::copy(old.join(&o), dir.join(l)).unwrap();
            let before = snapshot(&dir);
            refused(open(&dir), l, &format!("{o} copied over {l}"));
            refused(open_ro(&dir), l, &format!("{o} over {l}, read-only"));
            // The refused open changed nothing (no recovery, no deletion).
            let mut after = snapshot(&dir);
            after.remove(&dir.join("LOCK"));
            let mut b = before;
            b.remove(&dir.join("LOCK"));
            assert_eq!(
                b.keys().collect::<Vec<_>>(),
                after.keys().collect::<Vec<_>>()
            );
            std::fs::write(dir.join(l), keep).unwrap();
            cases += 1;
        }
    }
    assert!(cases >= 2, "{cases}");
    // Untouched, it opens with the newest values.
    let e = open(&dir).unwrap();
    assert_eq!(e.get(&key(7)).unwrap(), Some(value(7, 3)));
}

/// The demonstration: an older table of the same store brought a
/// changed password back. Now the store refuses to open.
#[test]
fn a_table_from_before_a_password_change_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let old = tmp.path().join("old");
    std::fs::create_dir_all(&old).unwrap();
    let options = || Options {
        password_cost: PasswordCost::dangerous_minimal(),
        ..Options::default()
    };
    let open_db = |o: Options| {
        Db::open_with(
            &dir,
            MemoryKeyProvider::new(KeyBytes::from_slice(KEY)).unwrap(),
            o,
        )
    };
    let db = open_db(options()).unwrap();
    db.root_session()
        .execute("CREATE USER alice WITH PASSWORD 'old-secret'", &[])
        .unwrap();
    db.engine().flush().unwrap();
    drop(db);
    for t in names(&dir, ".sst") {
        std::fs::copy(dir.join(&t), old.join(&t)).unwrap();
    }
    let db = open_db(options()).unwrap();
    db.root_session()
        .execute("ALTER USER alice WITH PASSWORD 'new-secret'", &[])
        .unwrap();
    db.engine().compact().unwrap();
    drop(db);
    let db = open_db(options()).unwrap();
    let login = |db: &Db, pw: &str| {
        db.connect(Credentials::password("alice", pw), ClientInfo::local("t"))
            .is_ok()
    };
    assert!(!login(&db, "old-secret") && login(&db, "new-secret"));
    drop(db);
    let live = names(&dir, ".sst");
    for o in names(&old, ".sst") {
        for l in &live {
            let keep = std::fs::read(dir.join(l)).unwrap();
            std::fs::copy(old.join(&o), dir.join(l)).unwrap();
            match open_db(options()) {
                Ok(db) => assert!(
                    !login(&db, "old-secret"),
                    "BUG: {o} over {l} brought the old password back"
                ),
                Err(e) => {
                    assert!(e.is_corruption(), "{e:?}");
                    assert!(e.to_string().contains(l.as_str()), "{e}");
                }
            }
            std::fs::write(dir.join(l), keep).unwrap();
        }
    }
}

/// Two sessions; the first one's CURRENT and manifest are kept.
fn two_sessions(root: &Path) -> (PathBuf, PathBuf) {
    let dir = root.join("db");
    let old = root.join("old");
    std::fs::create_dir_all(&old).unwrap();
    let e = open(&dir).unwrap();
    for i in 0..50 {
        e.put(&key(i), &value(i, 1)).unwrap();
    }
    e.close().unwrap();
    for n in names(&dir, "MANIFEST")
        .into_iter()
        .chain(["CURRENT".to_string()])
    {
        std::fs::copy(dir.join(&n), old.join(&n)).unwrap();
    }
    let e = open(&dir).unwrap();
    for i in 0..50 {
        e.put(&key(i), &value(i, 2)).unwrap();
    }
    e.close().unwrap();
    (dir, old)
}

#[test]
fn an_older_manifest_or_current_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, old) = two_sessions(tmp.path());
    let live_manifest = names(&dir, "MANIFEST").pop().unwrap();
    let old_manifest = names(&old, "MANIFEST").pop().unwrap();
    assert_ne!(live_manifest, old_manifest);
    let restore = snapshot(&dir);
    let put_back = || {
        for (p, (bytes, _)) in &restore {
            std::fs::write(p, bytes).unwrap();
        }
    };

    // The older manifest under the live name: CURRENT knows its identity.
    std::fs::copy(old.join(&old_manifest), dir.join(&live_manifest)).unwrap();
    refused(
        open(&dir),
        &live_manifest,
        "older manifest under the live name",
    );
    put_back();

    // The older CURRENT: it names a manifest that is gone.
    std::fs::copy(old.join("CURRENT"), dir.join("CURRENT")).unwrap();
    refused(open(&dir), &old_manifest, "older CURRENT");
    put_back();

    // Older CURRENT and manifest together: that manifest names a log
    // segment that is gone while later ones exist.
    std::fs::copy(old.join("CURRENT"), dir.join("CURRENT")).unwrap();
    std::fs::copy(old.join(&old_manifest), dir.join(&old_manifest)).unwrap();
    let e = refused(open(&dir), ".wal", "older CURRENT and manifest");
    assert!(e.to_string().contains("missing"), "{e}");
    std::fs::remove_file(dir.join(&old_manifest)).unwrap();
    put_back();

    let e = open(&dir).unwrap();
    assert_eq!(e.get(&key(3)).unwrap(), Some(value(3, 2)));
}

/// Body offsets of the records of a sealed file (read-only, so the store
/// is not touched).
fn record_offsets(dir: &Path, name: &str, kind: FileKind) -> Vec<(u64, u64)> {
    let sd = SealedDir::open_read_only(
        Arc::new(OsVfs::new()),
        dir,
        provider(),
        KeyOptions::default(),
    )
    .unwrap();
    let r = sd.open_file(name, kind).unwrap();
    r.records()
        .map(|x| {
            let (off, payload) = x.unwrap();
            (64 + off, r.record_len(payload.len()))
        })
        .collect()
}

fn truncate(p: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .set_len(len)
        .unwrap();
}

#[test]
fn a_manifest_cut_short_anywhere_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let e = open(&dir).unwrap();
    for round in 0..4 {
        for i in 0..30 {
            e.put(&key(i + 30 * round), &value(i, round)).unwrap();
        }
        e.flush().unwrap();
    }
    e.close().unwrap();
    let manifest = names(&dir, "MANIFEST").pop().unwrap();
    let recs = record_offsets(&dir, &manifest, FileKind::Manifest);
    assert!(recs.len() >= 5, "{recs:?}");
    let full = std::fs::read(dir.join(&manifest)).unwrap();
    // Every record boundary but the end, and a cut inside every record.
    let cuts: Vec<u64> = recs
        .iter()
        .flat_map(|&(off, len)| [off, off + len / 2])
        .filter(|&c| c > recs[0].0 + recs[0].1)
        .collect();
    for cut in cuts {
        truncate(&dir.join(&manifest), cut);
        let before = names(&dir, "");
        refused(open(&dir), ".wal", &format!("manifest cut at {cut}"));
        refused(
            open_ro(&dir),
            ".wal",
            &format!("manifest cut at {cut}, read-only"),
        );
        let mut after = names(&dir, "");
        after.retain(|n| n != "LOCK");
        let mut b = before;
        b.retain(|n| n != "LOCK");
        assert_eq!(b, after, "a refused open deleted or made files");
        std::fs::write(dir.join(&manifest), &full).unwrap();
    }
    assert_eq!(all(&open(&dir).unwrap()).len(), 120);
}

/// XORs `delta` into the encrypted length of the record at file offset
/// `at` and fixes up the encrypted crc32(length): CRC32 is affine, so
/// crc(x ^ d) = crc(x) ^ crc(d) ^ crc(0) for inputs of one length. Under
/// format 1 this made a record look torn and silently dropped the rest.
fn edit_length(p: &Path, at: u64, delta: u32) {
    let mut b = std::fs::read(p).unwrap();
    let d = delta.to_le_bytes();
    let fix = crc32fast::hash(&d) ^ crc32fast::hash(&[0; 4]);
    let at = at as usize;
    for i in 0..4 {
        b[at + i] ^= d[i];
        b[at + 4 + i] ^= fix.to_le_bytes()[i];
    }
    std::fs::write(p, b).unwrap();
}

#[test]
fn a_record_length_edited_without_the_key_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let e = open(&dir).unwrap();
    for round in 0..3 {
        for i in 0..10 {
            e.put(&key(i), &value(i, round)).unwrap();
        }
        e.flush().unwrap();
    }
    let live = tmp.path().join("crash");
    for i in 0..10 {
        e.put(&key(i), &value(i, 9)).unwrap();
    }
    copy_dir(&dir, &live);
    drop(e);

    // In the manifest: the second edit's length now runs past the end.
    let manifest = names(&dir, "MANIFEST").pop().unwrap();
    let recs = record_offsets(&dir, &manifest, FileKind::Manifest);
    let keep = std::fs::read(dir.join(&manifest)).unwrap();
    edit_length(&dir.join(&manifest), recs[1].0, 0x0010_0000);
    match refused(open(&dir), &manifest, "manifest length edited") {
        Error::Authentication { .. } => {}
        other => panic!("expected Authentication, got {other:?}"),
    }
    std::fs::write(dir.join(&manifest), keep).unwrap();

    // In the newest log segment: a commit in the middle.
    let wal = names(&live, ".wal").pop().unwrap();
    let recs = record_offsets(&live, &wal, FileKind::Wal);
    assert!(recs.len() > 5);
    edit_length(&live.join(&wal), recs[3].0, 0x0100_0000);
    match refused(open(&live), &wal, "log record length edited") {
        Error::Authentication { .. } => {}
        other => panic!("expected Authentication, got {other:?}"),
    }
}

#[test]
fn an_older_log_segment_copied_over_the_live_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let first = tmp.path().join("first");
    let second = tmp.path().join("second");
    let e = open(&dir).unwrap();
    for i in 0..10 {
        e.put(&key(i), &value(i, 1)).unwrap();
    }
    copy_dir(&dir, &first);
    drop(e);
    // The first crash image's segment, with its commits.
    let old_seg = names(&first, ".wal").pop().unwrap();
    let old_bytes = std::fs::read(first.join(&old_seg)).unwrap();
    let e = open(&first).unwrap();
    for i in 0..10 {
        e.put(&key(i), &value(i, 2)).unwrap();
    }
    copy_dir(&first, &second);
    drop(e);
    let live_seg = names(&second, ".wal").pop().unwrap();
    assert_ne!(old_seg, live_seg);
    let keep = std::fs::read(second.join(&live_seg)).unwrap();
    std::fs::write(second.join(&live_seg), &old_bytes).unwrap();
    let e = refused(
        open(&second),
        &live_seg,
        "an older segment over the live one",
    );
    assert!(e.to_string().contains("not"), "{e}");
    std::fs::write(second.join(&live_seg), keep).unwrap();
    let e = open(&second).unwrap();
    assert_eq!(e.get(&key(4)).unwrap(), Some(value(4, 2)));
}

/// Two live segments at once: a store reopened after a crash whose
/// replayed log could not be flushed (the disk filled up), so the older
/// segment stays live and the newer one's start record binds it.
#[test]
fn a_cut_missing_or_replaced_older_segment_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let crash = tmp.path().join("crash");
    let e = open(&dir).unwrap();
    for i in 0..20 {
        e.put(&key(i), &vec![b'x'; 1000]).unwrap();
    }
    copy_dir(&dir, &crash);
    drop(e);
    let plan = FaultPlan::new();
    // Room for the open's new segment, manifest and CURRENT, not for the
    // table the replayed log would be flushed to.
    plan.disk_full_after(4096);
    let vfs: Arc<dyn Vfs> = Arc::new(FaultVfs::new(Arc::new(OsVfs::new()), plan.clone()));
    let e = Engine::open(vfs, &crash, provider(), KeyOptions::default(), opts()).unwrap();
    for i in 0..20 {
        assert_eq!(
            e.get(&key(i)).unwrap(),
            Some(vec![b'x'; 1000]),
            "reads while full"
        );
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while e.poisoned().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        e.poisoned().is_some(),
        "the flush should have hit the full disk"
    );
    drop(e);
    let segs = names(&crash, ".wal");
    assert_eq!(segs.len(), 2, "{segs:?}");
    assert!(
        names(&crash, ".sst").is_empty(),
        "the failed flush left its table"
    );
    let (older, newer) = (segs[0].clone(), segs[1].clone());
    let keep = snapshot(&crash);
    let put_back = || {
        for (p, (bytes, _)) in &keep {
            std::fs::write(p, bytes).unwrap();
        }
    };

    // The older segment cut at a record boundary (its last commit dropped).
    let recs = record_offsets(&crash, &older, FileKind::Wal);
    truncate(&crash.join(&older), recs.last().unwrap().0);
    refused(
        open(&crash),
        &newer,
        "older segment cut at a record boundary",
    );
    put_back();
    // ... or gone.
    std::fs::remove_file(crash.join(&older)).unwrap();
    let e = refused(open(&crash), &older, "older segment removed");
    assert!(e.to_string().contains("later segments exist"), "{e}");
    put_back();
    // ... or the newest one gone (the manifest knows of it).
    std::fs::remove_file(crash.join(&newer)).unwrap();
    refused(open(&crash), &newer, "newest segment removed");
    put_back();

    // Untouched: nothing committed was lost, and now the flush happens.
    let e = open(&crash).unwrap();
    for i in 0..20 {
        assert_eq!(e.get(&key(i)).unwrap(), Some(vec![b'x'; 1000]));
    }
    e.flush().unwrap();
    e.close().unwrap();
    assert_eq!(names(&crash, ".wal").len(), 1);
}

#[test]
fn an_older_key_registry_after_a_rotation_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let now = Arc::new(AtomicU64::new(1_000_000));
    let keys = || {
        let c = now.clone();
        KeyOptions {
            rotation_period: Duration::from_secs(100),
            clock: Arc::new(move || c.load(Ordering::SeqCst)),
            ..KeyOptions::default()
        }
    };
    let open_k = || Engine::open(Arc::new(OsVfs::new()), &dir, provider(), keys(), opts());
    let e = open_k().unwrap();
    for i in 0..20 {
        e.put(&key(i), &value(i, 1)).unwrap();
    }
    e.close().unwrap();
    let old_registry = std::fs::read(dir.join("KEYREGISTRY")).unwrap();
    now.fetch_add(1000, Ordering::SeqCst);
    let e = open_k().unwrap();
    e.rewrite_all(|_| {}).unwrap();
    e.close().unwrap();
    std::fs::write(dir.join("KEYREGISTRY"), &old_registry).unwrap();
    match open_k() {
        Err(Error::DataKeyUnknown { .. }) => {}
        Err(e) => panic!("expected DataKeyUnknown, got {e:?}"),
        Ok(_) => panic!("BUG: an older key registry was accepted"),
    }
}

#[test]
fn files_newer_than_the_manifest_are_quarantined_not_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let e = open(&dir).unwrap();
    for i in 0..40 {
        e.put(&key(i), &value(i, 1)).unwrap();
    }
    e.flush().unwrap();
    e.close().unwrap();
    let table = names(&dir, ".sst").pop().unwrap();
    let manifest = names(&dir, "MANIFEST").pop().unwrap();
    std::fs::copy(dir.join(&table), dir.join("900000.sst")).unwrap();
    std::fs::copy(dir.join(&manifest), dir.join("MANIFEST-900001")).unwrap();
    let ro = open_ro(&dir).unwrap();
    assert_eq!(ro.quarantined(), ["900000.sst", "MANIFEST-900001"]);
    drop(ro);
    assert!(dir.join("900000.sst").exists(), "read-only moved a file");
    let e = open(&dir).unwrap();
    assert_eq!(e.quarantined(), ["900000.sst", "MANIFEST-900001"]);
    assert_eq!(all(&e).len(), 40);
    e.close().unwrap();
    let q = dir.join(QUARANTINE_DIR);
    assert!(q.join("900000.sst").exists() && q.join("MANIFEST-900001").exists());
    assert!(!dir.join("900000.sst").exists());
    assert!(open(&dir).unwrap().quarantined().is_empty());
}

#[test]
fn a_database_logs_what_it_quarantined_in_the_audit_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let open_db = || {
        Db::open(
            &dir,
            MemoryKeyProvider::new(KeyBytes::from_slice(KEY)).unwrap(),
        )
    };
    let db = open_db().unwrap();
    db.root_session()
        .execute("CREATE TABLE t (a INTEGER)", &[])
        .unwrap();
    db.engine().flush().unwrap();
    drop(db);
    let table = names(&dir, ".sst").pop().unwrap();
    std::fs::copy(dir.join(&table), dir.join("900000.sst")).unwrap();
    let db = open_db().unwrap();
    let mut out = Vec::new();
    assert!(db.audit_export(&mut out).unwrap().is_intact());
    let log = String::from_utf8(out).unwrap();
    assert!(
        log.lines().any(|l| l.contains("\"security\"")
            && l.contains("quarantine")
            && l.contains("900000.sst")),
        "{log}"
    );
}

#[cfg(unix)]
fn set_tree_writable(p: &Path, writable: bool) {
    use std::os::unix::fs::PermissionsExt;
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            set_tree_writable(&e.path(), writable);
        }
        let mode = e.metadata().unwrap().permissions().mode();
        let mode = if writable {
            mode | 0o200
        } else {
            mode & !0o222
        };
        std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let mode = std::fs::metadata(p).unwrap().permissions().mode();
    let mode = if writable {
        mode | 0o200
    } else {
        mode & !0o222
    };
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
#[test]
fn a_read_only_open_writes_nothing_and_replays_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let copy = tmp.path().join("copy");
    let e = open(&dir).unwrap();
    for i in 0..100 {
        e.put(&key(i), &value(i, 1)).unwrap();
    }
    e.flush().unwrap();
    for i in 0..100 {
        e.put(&key(i), &value(i, 2)).unwrap();
    }
    // A crash copy: the second round is only in the log.
    copy_dir(&dir, &copy);
    drop(e);
    set_tree_writable(&copy, false);
    let before = snapshot(&copy);
    std::thread::sleep(Duration::from_millis(20));
    let ro = open_ro(&copy).unwrap();
    assert!(ro.is_read_only());
    for i in 0..100 {
        assert_eq!(ro.get(&key(i)).unwrap(), Some(value(i, 2)));
    }
    assert!(matches!(ro.put(b"k", b"v"), Err(Error::ReadOnly { .. })));
    assert!(matches!(ro.flush(), Err(Error::ReadOnly { .. })));
    assert!(matches!(ro.compact(), Err(Error::ReadOnly { .. })));
    let st = ro.encryption_status().unwrap();
    assert!(st.files.iter().any(|f| f.name.ends_with(".wal")));
    drop(ro);
    assert!(
        before == snapshot(&copy),
        "the read-only open changed the store"
    );
    set_tree_writable(&copy, true);
}

#[cfg(unix)]
#[test]
fn a_read_only_database_verifies_and_exports_the_audit_log_without_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let open_db = || {
        Db::open(
            &dir,
            MemoryKeyProvider::new(KeyBytes::from_slice(KEY)).unwrap(),
        )
    };
    let db = open_db().unwrap();
    let root = db.root_session();
    root.execute("CREATE TABLE t (a INTEGER)", &[]).unwrap();
    root.execute("CREATE TABLE audited (a INTEGER)", &[])
        .unwrap();
    root.execute("ALTER TABLE audited EXPERIMENTAL_AUDIT SET READ WRITE", &[])
        .unwrap();
    for i in 0..5i64 {
        root.execute("INSERT INTO t VALUES (?)", &[&i]).unwrap();
        root.execute("INSERT INTO audited VALUES (?)", &[&i])
            .unwrap();
    }
    drop(root);
    drop(db);
    set_tree_writable(&dir, false);
    let before = snapshot(&dir);
    let db = Db::open_read_only(
        &dir,
        MemoryKeyProvider::new(KeyBytes::from_slice(KEY)).unwrap(),
        Options::default(),
    )
    .unwrap();
    let report = db.audit_verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert!(report.intact >= 6, "{report:?}");
    let mut out = Vec::new();
    db.audit_export(&mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap().lines().count() as u64,
        report.intact
    );
    let rows = db
        .root_session()
        .query("SELECT count(*) FROM t", &[])
        .unwrap()
        .collect_all()
        .unwrap();
    assert_eq!(rows[0].get::<i64>(0).unwrap(), 5);
    assert!(matches!(
        db.root_session().execute("INSERT INTO t VALUES (9)", &[]),
        Err(Error::ReadOnly { .. })
    ));
    // Reading an audited table needs an audit record, which cannot be
    // written: refused, not read unaudited.
    assert!(matches!(
        db.root_session()
            .query("SELECT count(*) FROM audited", &[])
            .and_then(|r| r.collect_all()),
        Err(Error::ReadOnly { .. })
    ));
    drop(db);
    assert!(before == snapshot(&dir), "a read-only Db changed the store");
    set_tree_writable(&dir, true);
}

#[cfg(unix)]
#[test]
fn store_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a").join("db");
    let e = open(&dir).unwrap();
    e.put(b"k", b"v").unwrap();
    e.flush().unwrap();
    for n in std::fs::read_dir(&dir).unwrap() {
        let n = n.unwrap();
        let mode = n.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{:?} has mode {mode:o}", n.file_name());
    }
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o077, 0, "the store directory has mode {mode:o}");
    drop(e);
}

#[test]
fn a_read_only_open_of_a_missing_or_empty_directory_is_not_a_store() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(
        open_ro(&tmp.path().join("nope")),
        Err(Error::NotAStore { .. })
    ));
    assert!(matches!(open_ro(tmp.path()), Err(Error::NotAStore { .. })));
    assert!(!tmp.path().join("nope").exists());
    let _ = SyncMode::Full;
}

/// Every regular file of `dir` (the lock aside) and its bytes. A file an
/// open store's background work removes while it is listed (an obsolete
/// log segment or table) is left out: it is no longer a live file.
fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()) && e.file_name() != "LOCK")
        .filter_map(|e| {
            let name = e.file_name().into_string().unwrap();
            match std::fs::read(e.path()) {
                Ok(bytes) => Some((name, bytes)),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
                Err(err) => panic!("reading {name}: {err}"),
            }
        })
        .collect()
}

/// What a store serves: the rows of `t`, which of ann's passwords log in,
/// and the audit log's verdict (intact, and how many records).
#[derive(Debug, PartialEq)]
struct Served {
    rows: Vec<(i64, String)>,
    old_password: bool,
    new_password: bool,
    audit: (bool, u64),
}

fn served(db: &Db) -> Served {
    let rows = db
        .root_session()
        .query("SELECT id, v FROM t ORDER BY id", &[])
        .unwrap()
        .collect_all()
        .unwrap()
        .iter()
        .map(|r| (r.get::<i64>(0).unwrap(), r.get::<String>(1).unwrap()))
        .collect();
    let login = |pw: &str| {
        db.connect(Credentials::password("ann", pw), ClientInfo::local("t"))
            .is_ok()
    };
    let (old_password, new_password) = (login("old-pw"), login("new-pw"));
    // A broken audit log is reported by the report or, where a file
    // cannot even be read as an audit file, by a corruption error.
    let audit = match db.audit_verify() {
        Ok(report) => (report.is_intact(), report.intact),
        Err(e) => {
            assert!(e.is_corruption(), "audit verify: {e:?}");
            (false, 0)
        }
    };
    Served {
        rows,
        old_password,
        new_password,
        audit,
    }
}

/// The bar, checked exhaustively on real files: the store lives
/// through sessions that write, flush, compact, change a password and
/// rotate the data key, and every version of every file it ever held (any
/// name) is put in the place of every live file of its final state (left
/// as a crash leaves it, with commits only in the log). Each such store
/// is refused at open with a corruption-class or key error, or — where
/// the older file is equivalent (a key registry holding the same keys, an
/// older sealed audit checkpoint, which only lowers a lower bound) — opens
/// serving exactly the current rows and passwords, its audit log either
/// whole or reported broken (the audit log is evidence the store keeps
/// serving beside). The one exception is the documented residual limit:
/// an older copy of the newest log segment is that segment cut at a
/// record boundary, which looks like a crash before the last sync; the
/// store then serves an earlier state of its own history. Never old data
/// as current otherwise.
#[test]
fn every_older_file_in_place_of_every_live_one_is_refused_or_harmless() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let now = Arc::new(AtomicU64::new(1_000_000));
    let options = || {
        let c = now.clone();
        Options {
            password_cost: PasswordCost::dangerous_minimal(),
            storage: StorageOptions {
                sync: SyncMode::Full,
                ..StorageOptions::default()
            },
            keys: KeyOptions {
                rotation_period: Duration::from_secs(100),
                clock: Arc::new(move || c.load(Ordering::SeqCst)),
                ..KeyOptions::default()
            },
            ..Options::default()
        }
    };
    let open_db = |d: &Path| {
        Db::open_with(
            d,
            MemoryKeyProvider::new(KeyBytes::from_slice(KEY)).unwrap(),
            options(),
        )
    };
    let mut versions: Vec<BTreeMap<String, Vec<u8>>> = Vec::new();
    let insert = |db: &Db, ids: std::ops::Range<i64>| {
        for i in ids {
            db.root_session()
                .execute("INSERT INTO t VALUES (?, ?)", &[&i, &format!("row {i}")])
                .unwrap();
        }
    };

    let db = open_db(&dir).unwrap();
    let root = db.root_session();
    root.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
        .unwrap();
    root.execute("ALTER TABLE t EXPERIMENTAL_AUDIT SET WRITE", &[])
        .unwrap();
    root.execute("CREATE USER ann WITH PASSWORD 'old-pw'", &[])
        .unwrap();
    insert(&db, 0..20);
    versions.push(files_of(&dir));
    db.engine().flush().unwrap();
    versions.push(files_of(&dir));
    drop((root, db));
    versions.push(files_of(&dir));

    let db = open_db(&dir).unwrap();
    db.root_session()
        .execute("ALTER USER ann WITH PASSWORD 'new-pw'", &[])
        .unwrap();
    insert(&db, 20..40);
    versions.push(files_of(&dir));
    db.engine().compact().unwrap();
    versions.push(files_of(&dir));
    drop(db);
    versions.push(files_of(&dir));

    // A new data key at this open (the rotation period has passed).
    now.fetch_add(1000, Ordering::SeqCst);
    let db = open_db(&dir).unwrap();
    insert(&db, 40..45);
    versions.push(files_of(&dir));
    insert(&db, 45..50);
    db.engine().flush().unwrap();
    insert(&db, 50..55);
    versions.push(files_of(&dir));
    insert(&db, 55..60);
    // The final state, as a crash would leave it: the last commits only
    // in the log.
    let live = files_of(&dir);
    drop(db);

    let restore = |to: &Path, files: &BTreeMap<String, Vec<u8>>| {
        if to.exists() {
            std::fs::remove_dir_all(to).unwrap();
        }
        std::fs::create_dir_all(to).unwrap();
        for (name, bytes) in files {
            std::fs::write(to.join(name), bytes).unwrap();
        }
    };
    let trial = tmp.path().join("trial");
    restore(&trial, &live);
    let want = served(&open_db(&trial).unwrap());
    assert_eq!(want.rows.len(), 60);
    assert!(!want.old_password && want.new_password && want.audit.0);

    let mut older: Vec<(&str, &Vec<u8>)> = Vec::new();
    for v in &versions {
        for (name, bytes) in v {
            if !older.iter().any(|(_, b)| *b == bytes) {
                older.push((name, bytes));
            }
        }
    }
    let newest_log = live.keys().filter(|n| n.ends_with(".wal")).max().unwrap();
    let tail_cut = |live_name: &str, old_name: &str, old_bytes: &[u8]| {
        live_name == newest_log && old_name == live_name && live[live_name].starts_with(old_bytes)
    };
    let (mut trials, mut refused, mut harmless, mut audit_broken, mut as_crash) = (0, 0, 0, 0, 0);
    for (live_name, live_bytes) in &live {
        for (old_name, old_bytes) in &older {
            if *old_bytes == live_bytes {
                continue;
            }
            trials += 1;
            let what = format!("{old_name} (older) in place of {live_name}");
            let mut files = live.clone();
            files.insert(live_name.clone(), old_bytes.to_vec());
            restore(&trial, &files);
            match open_db(&trial) {
                Err(e) => {
                    assert!(
                        e.is_corruption()
                            || matches!(
                                e,
                                Error::DataKeyUnknown { .. } | Error::KeyUnavailable { .. }
                            ),
                        "{what}: not a corruption or key error: {e:?}"
                    );
                    refused += 1;
                }
                Ok(db) if tail_cut(live_name, old_name, old_bytes) => {
                    // The residual limit (crypto-threat-model.md): the
                    // newest log segment cut at a record boundary looks
                    // like a crash before the last sync. The store serves
                    // an earlier state of itself, never anything else.
                    let got = served(&db);
                    assert!(
                        want.rows.starts_with(&got.rows)
                            && (got.old_password, got.new_password)
                                == (want.old_password, want.new_password),
                        "BUG: {what}: not a prefix of the store's history: {got:?}"
                    );
                    as_crash += 1;
                }
                Ok(db) => {
                    let got = served(&db);
                    assert_eq!(
                        (&got.rows, got.old_password, got.new_password),
                        (&want.rows, want.old_password, want.new_password),
                        "BUG: {what} changed what the store serves"
                    );
                    if got.audit.0 {
                        assert!(
                            got.audit.1 >= want.audit.1,
                            "{what}: the audit log verifies short: {got:?} vs {want:?}"
                        );
                        harmless += 1;
                    } else {
                        audit_broken += 1;
                    }
                }
            }
        }
    }
    println!(
        "{trials} swaps of {} older file versions over {} live files: {refused} refused at open, \
         {audit_broken} opened with the audit log reported broken, {as_crash} the newest log \
         cut back (served as after a crash), {harmless} harmless (an older sealed audit checkpoint)",
        older.len(),
        live.len()
    );
    assert!(refused > trials / 2, "{refused} of {trials} refused");
}

/// A crash while the newest log segment's header was being written leaves
/// a file shorter than a header. The next open accepts it (it never held a
/// commit) and must remove it: once that open has made a segment of its
/// own, the cut one is an older segment, which must be whole, so a crash
/// of that run before its log was flushed would leave a store no open
/// accepts. (Found by `storage_crash`'s random kills.)
#[test]
fn a_log_segment_cut_inside_its_header_is_removed_by_the_open_that_accepts_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, crash1, crash2) = (
        tmp.path().join("db"),
        tmp.path().join("crash1"),
        tmp.path().join("crash2"),
    );
    // A store as a crash leaves it: synced commits in the log, not flushed.
    let e = open(&dir).expect("create");
    e.put(b"k", b"v").expect("put");
    copy_dir(&dir, &crash1);
    drop(e);
    let number_of = |n: &str| n.strip_suffix(".wal").and_then(|s| s.parse::<u64>().ok());
    let names: Vec<String> = std::fs::read_dir(&crash1)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let live = names
        .iter()
        .filter_map(|n| number_of(n))
        .max()
        .expect("a log segment");
    let highest = names
        .iter()
        .filter_map(|n| n.split(['.', '-']).find_map(|p| p.parse::<u64>().ok()))
        .max()
        .expect("numbered files");
    // The crash came while the next segment's header was being written.
    let header = std::fs::read(crash1.join(format!("{live:06}.wal"))).expect("read segment");
    let cut = crash1.join(format!("{:06}.wal", highest + 1));
    std::fs::write(&cut, &header[..26]).expect("write a cut segment");
    // That store opens; its run commits and crashes before a flush.
    let e = open(&crash1).expect("open the crashed store");
    assert_eq!(e.get(b"k").expect("get"), Some(b"v".to_vec()));
    assert!(!cut.exists(), "the cut segment was removed");
    e.put(b"k2", b"v2").expect("put");
    copy_dir(&crash1, &crash2);
    drop(e);
    let e = open(&crash2).expect("open after the second crash");
    assert_eq!(e.get(b"k").expect("get"), Some(b"v".to_vec()));
    assert_eq!(e.get(b"k2").expect("get"), Some(b"v2".to_vec()));
}
