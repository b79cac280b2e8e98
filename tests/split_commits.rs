//! Commits larger than the log's record limit
//! (`StorageOptions::log_record_bytes`, 1 GiB by default) are logged as
//! several records; recovery, restore and backup verification apply such a
//! commit all together or, when the log ends before its last record (a
//! crash while it was written), not at all, and the next commit takes its
//! sequence numbers.
//!
//! The attacks: the log cut at every record boundary (and inside records)
//! of a split commit, as a crash would leave it, with the commit going
//! through the ordinary path and as a sorted run of its own; a store whose
//! older log segment ends in such an abandoned commit, reopened, backed up,
//! verified and restored; a large SQL transaction and CREATE INDEX through
//! split records, reopened and restored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common::install_checkpoint;
use sealdb::backup::{self, BackupKeys, BackupOptions, KdfParams, RestoreOptions};
use sealdb::storage::{complete_install, Direction, Engine, StorageOptions, SyncMode, WriteBatch};
use sealdb::vfs::{FileKind, KeyOptions, MemVfs, OsVfs, SealedDir, Vfs, HEADER_LEN};
use sealdb::{Db, KeyBytes, KeyProvider, MemoryKeyProvider, Options, PasswordCost, Value};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

const DIR: &str = "/db";

fn provider() -> Arc<dyn KeyProvider> {
    Arc::new(MemoryKeyProvider::new(KeyBytes::from_slice(&[0x5a; 32])).unwrap())
}

/// Records of at most 256 bytes; `memtable_bytes` decides whether the big
/// commit (~11 KB, keys ascending) goes through the ordinary path or
/// becomes a sorted run of its own (from half a memtable).
fn opts(memtable_bytes: usize) -> StorageOptions {
    StorageOptions {
        sync: SyncMode::Full,
        memtable_bytes,
        log_record_bytes: 256,
        auto_compaction: false,
        ..StorageOptions::default()
    }
}

fn open(mem: &MemVfs, o: &StorageOptions) -> sealdb::Result<Engine> {
    Engine::open(
        Arc::new(mem.clone()),
        DIR,
        provider(),
        KeyOptions::default(),
        o.clone(),
    )
}

fn contents(e: &Engine) -> Model {
    e.iter(.., Direction::Forward, None)
        .unwrap()
        .collect::<sealdb::Result<Model>>()
        .unwrap()
}

/// `n` puts of keys `prefix00000..` in ascending order.
fn batch(prefix: &str, n: usize, tag: u8) -> (WriteBatch, Model) {
    let mut b = WriteBatch::new();
    let mut m = Model::new();
    for i in 0..n {
        let k = format!("{prefix}{i:05}").into_bytes();
        let v = vec![tag; 40 + i % 50];
        b.put(k.clone(), v.clone());
        m.insert(k, v);
    }
    (b, m)
}

fn union(a: &Model, b: &Model) -> Model {
    let mut m = a.clone();
    m.extend(b.iter().map(|(k, v)| (k.clone(), v.clone())));
    m
}

/// The files as they are (every write was synced: `SyncMode::Full`).
fn copy(src: &MemVfs) -> MemVfs {
    let dst = MemVfs::new();
    dst.create_dir_all(Path::new(DIR)).unwrap();
    for name in src.list(Path::new(DIR)).unwrap() {
        let p = Path::new(DIR).join(&name);
        dst.put_file(&p, &src.read_all(&p).unwrap());
    }
    dst
}

/// The largest log segment (the one the big commit went to: a sorted run
/// starts a segment after it) and the file offsets where its records end,
/// in order.
fn biggest_log(vfs: Arc<dyn Vfs>, dir: &Path, p: Arc<dyn KeyProvider>) -> (String, Vec<u64>) {
    let name = vfs
        .list(dir)
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".wal"))
        .max_by_key(|n| vfs.open(&dir.join(n)).unwrap().len())
        .expect("a log segment");
    let d = SealedDir::open(vfs, dir, p, KeyOptions::default()).unwrap();
    let r = d.open_file(&name, FileKind::Wal).unwrap();
    let ends = r
        .records()
        .map(|x| {
            let (offset, payload) = x.unwrap();
            HEADER_LEN + offset + r.record_len(payload.len())
        })
        .collect();
    (name, ends)
}

/// Cuts the newest segment at every record boundary of the split commit
/// and inside its records: the commit is there whole or not at all; a
/// commit made after the cut takes its sequence numbers, and the store
/// (the cut segment now an older one, ending in the abandoned records)
/// reopens with exactly what was acknowledged.
#[test]
fn a_split_commit_cut_anywhere_is_there_whole_or_not_at_all() {
    let o = opts(8 << 20);
    let mem = MemVfs::new();
    mem.create_dir_all(Path::new(DIR)).unwrap();
    let db = open(&mem, &o).unwrap();
    let (a, ma) = batch("a", 3, 1);
    let (b, mb) = batch("b", 150, 2);
    let (c, mc) = batch("c", 4, 3);
    db.write(a).unwrap();
    db.write(b).unwrap();
    let whole = copy(&mem);
    drop(db);
    let (name, ends) = biggest_log(Arc::new(whole.clone()), Path::new(DIR), provider());
    // The big commit's records are the segment's last ones: more than a
    // handful, or it was not split.
    let full = *ends.last().unwrap();
    assert!(full > 11_000, "the big commit is not in {name}: {ends:?}");
    let b_records = ends
        .iter()
        .rev()
        .take_while(|&&e| e > full - 11_000)
        .count();
    assert!(b_records >= 20, "the commit was not split: {ends:?}");
    let first_b = ends[ends.len() - b_records - 1];
    let mut cuts: Vec<u64> = ends[ends.len() - b_records - 1..].to_vec();
    cuts.extend((first_b..full).step_by(97));
    let wal = Path::new(DIR).join(&name);
    // Cuts after which the cut segment was still live (its replayed
    // memtable not yet flushed by the background thread) when the next
    // commit was made and the store checkpointed.
    let mut older = 0;
    for &cut in &cuts {
        let m = copy(&whole);
        m.truncate(&wal, cut).unwrap();
        let db = open(&m, &o).unwrap_or_else(|e| panic!("open after a cut at {cut}: {e}"));
        let before = if cut == full {
            union(&ma, &mb)
        } else {
            ma.clone()
        };
        assert!(
            contents(&db) == before,
            "cut at {cut} of {full}: not all or nothing"
        );
        db.write(c.clone()).unwrap();
        let cp = db.checkpoint().unwrap();
        // A cut inside a record leaves a torn tail, which the checkpoint
        // streams the older segment up to, not into.
        if cp.logs().len() > 1 && m.exists(&wal).unwrap() {
            older += 1;
            // Restored through the installer, record by record, as a
            // backup's restore does it.
            let vfs: Arc<dyn Vfs> = Arc::new(m.clone());
            install_checkpoint(&vfs, &cp, Path::new("/installed"), provider(), o.clone())
                .unwrap_or_else(|e| panic!("install after a cut at {cut}: {e}"));
            complete_install(&m, Path::new("/installed")).unwrap();
            let installed = Engine::open(
                Arc::new(m.clone()),
                "/installed",
                provider(),
                KeyOptions::default(),
                o.clone(),
            )
            .unwrap();
            assert!(
                contents(&installed) == union(&before, &mc),
                "cut at {cut} of {full}: the installed checkpoint"
            );
        }
        drop(cp);
        // Power lost now (the engine's handles die with it; every commit
        // was synced), then a reopen.
        m.crash();
        drop(db);
        let db = open(&m, &o).unwrap_or_else(|e| panic!("reopen after a cut at {cut}: {e}"));
        assert!(
            contents(&db) == union(&before, &mc),
            "cut at {cut} of {full}: the commit after it"
        );
    }
    assert!(cuts.len() > 100);
    eprintln!(
        "{older} of {} cuts reopened with the cut segment live",
        cuts.len()
    );
    assert!(older > 0, "the cut segment was never live after a reopen");
}

/// A commit large enough to become a sorted run of its own, split over
/// many records: reopened, every key with its value. (A cut inside it
/// cannot be made from the files afterwards: the segment after the run is
/// chained to its exact length, and the run is flushed at once. The
/// records are the ordinary ones, which the test above cuts; `batch.rs`
/// reads a split run's records back, and the crash tests kill the engine
/// inside such runs.)
#[test]
fn a_split_sorted_run_reopens_whole() {
    let o = opts(16 << 10);
    let mem = MemVfs::new();
    mem.create_dir_all(Path::new(DIR)).unwrap();
    let db = open(&mem, &o).unwrap();
    let (a, ma) = batch("a", 3, 1);
    let (b, mb) = batch("b", 150, 2);
    db.write(a).unwrap();
    db.write(b).unwrap();
    let want = union(&ma, &mb);
    assert!(contents(&db) == want);
    let image = copy(&mem);
    drop(db);
    let db = open(&image, &o).unwrap();
    assert!(contents(&db) == want, "the run after a crash");
    drop(db);
    let db = open(&mem, &o).unwrap();
    assert!(contents(&db) == want, "the run after a clean close");
}

// ------------------------------------------------------------- through SQL

fn key() -> MemoryKeyProvider {
    MemoryKeyProvider::new(KeyBytes::from_slice(&[7; 32])).unwrap()
}

fn db_options() -> Options {
    Options {
        password_cost: PasswordCost::dangerous_minimal(),
        storage: StorageOptions {
            sync: SyncMode::Normal,
            memtable_bytes: 256 << 10,
            log_record_bytes: 4096,
            ..StorageOptions::default()
        },
        ..Options::default()
    }
}

fn one_row(db: &Db, sql: &str) -> Vec<Value> {
    let s = db.root_session();
    let mut rows = s.query(sql, &[]).unwrap();
    rows.next().unwrap().expect("a row").into_values()
}

fn summary(db: &Db) -> Vec<Value> {
    let mut v = one_row(db, "SELECT count(*), sum(id), sum(length(v)) FROM t");
    v.extend(one_row(
        db,
        "SELECT count(*) FROM t WHERE v = 'row-1234-xxxxxxxxxx'",
    ));
    v
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn cheap() -> BackupOptions {
    BackupOptions {
        kdf: KdfParams::dangerous_minimal(),
        ..BackupOptions::default()
    }
}

/// A transaction of 3,000 rows and an index over them, each logged as
/// hundreds of records: reopened, backed up, verified and restored, the
/// same rows; then the log cut inside a later split transaction (a
/// crash): the transaction is gone whole, the next one takes its place,
/// and the store reopens, backs up and restores with exactly that.
#[test]
fn large_sql_transactions_through_split_records_reopen_back_up_and_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let db = Db::open_with(&src, key(), db_options()).unwrap();
    let s = db.root_session();
    s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
        .unwrap();
    s.execute("BEGIN", &[]).unwrap();
    let ins = s.prepare("INSERT INTO t (id, v) VALUES (?, ?)").unwrap();
    for i in 1..=3000i64 {
        ins.execute(&[&i, &format!("row-{i}-xxxxxxxxxx")]).unwrap();
    }
    s.execute("COMMIT", &[]).unwrap();
    s.execute("CREATE INDEX t_v ON t (v)", &[]).unwrap();
    let want = summary(&db);
    assert_eq!(want[0], Value::Integer(3000));
    assert_eq!(want[3], Value::Integer(1));
    drop(ins);
    drop((s, db));
    let db = Db::open_with(&src, key(), db_options()).unwrap();
    assert_eq!(summary(&db), want, "reopened");
    let bk = tmp.path().join("bk");
    db.backup(&bk, &cheap(), |_| {}).unwrap();
    drop(db);
    let keys = BackupKeys::provider(Arc::new(key()));
    backup::verify(&bk, &keys, None, |_| {}).unwrap();
    let dst = tmp.path().join("restored");
    Db::restore(&bk, &dst, key(), &RestoreOptions::default(), |_| {}).unwrap();
    let restored = Db::open_with(&dst, key(), db_options()).unwrap();
    assert_eq!(summary(&restored), want, "restored");
    drop(restored);

    // A small commit, a second large transaction, then the log cut
    // between two of the large one's records, as a crash while it was
    // written would leave it (the small commit keeps the cut segment live
    // after the reopen, until its memtable is flushed).
    let db = Db::open_with(&src, key(), db_options()).unwrap();
    // Compacted first, so no background work writes files while they are
    // copied below (the large transaction stays in the memtable).
    db.engine().compact().unwrap();
    let s = db.root_session();
    s.execute("INSERT INTO t (id, v) VALUES (4500, 'small')", &[])
        .unwrap();
    let want = summary(&db);
    s.execute("BEGIN", &[]).unwrap();
    for i in 3001..=4000i64 {
        s.execute(
            "INSERT INTO t (id, v) VALUES (?, 'later-row-xxxxxxxxxxxxxxx')",
            &[&i],
        )
        .unwrap();
    }
    s.execute("COMMIT", &[]).unwrap();
    // The files as a crash right now would leave them (a clean close
    // flushes the memtable and drops the log).
    let src = tmp.path().join("crashed");
    copy_dir(&tmp.path().join("src"), &src);
    drop((s, db));
    let p: Arc<dyn KeyProvider> = Arc::new(key());
    let (name, ends) = biggest_log(Arc::new(OsVfs::new()), &src, p);
    assert!(ends.len() > 10, "{name} holds {} records", ends.len());
    let cut = ends[ends.len() - 5];
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(src.join(&name))
        .unwrap();
    f.set_len(cut).unwrap();
    drop(f);
    let db = Db::open_with(&src, key(), db_options()).unwrap();
    // Backed up at once, while the cut segment (which ends in the
    // abandoned records) is still live: verified and restored, the rows
    // without the cut transaction.
    let bk2 = tmp.path().join("bk2");
    db.backup(&bk2, &cheap(), |_| {}).unwrap();
    assert_eq!(summary(&db), want, "the cut transaction is gone whole");
    let s = db.root_session();
    s.execute("INSERT INTO t (id, v) VALUES (5000, 'after')", &[])
        .unwrap();
    drop(s);
    let mut after = want.clone();
    after[0] = Value::Integer(3002);
    after[1] = match &want[1] {
        Value::Integer(n) => Value::Integer(n + 5000),
        other => panic!("sum(id) is {other:?}"),
    };
    after[2] = match &want[2] {
        Value::Integer(n) => Value::Integer(n + 5),
        other => panic!("sum(length(v)) is {other:?}"),
    };
    assert_eq!(summary(&db), after);
    drop(db);
    let db = Db::open_with(&src, key(), db_options()).unwrap();
    assert_eq!(summary(&db), after, "reopened");
    drop(db);
    backup::verify(&bk2, &keys, None, |_| {}).unwrap();
    let dst2 = tmp.path().join("restored2");
    Db::restore(&bk2, &dst2, key(), &RestoreOptions::default(), |_| {}).unwrap();
    let restored = Db::open_with(&dst2, key(), db_options()).unwrap();
    assert_eq!(summary(&restored), want, "restored");
}

/// A split commit with an operation too large for any record (over the
/// sealed file's 1 GiB) is refused before any of its records is written,
/// even when records before that operation would fit: otherwise they
/// would stay in the segment, and the next commit, taking the same
/// sequence numbers, would follow them there (the log would not replay).
#[test]
fn a_split_commit_refused_for_an_oversized_operation_leaves_the_log_as_it_was() {
    let o = opts(8 << 20);
    let mem = MemVfs::new();
    mem.create_dir_all(Path::new(DIR)).unwrap();
    let db = open(&mem, &o).unwrap();
    let (a, ma) = batch("a", 3, 1);
    db.write(a).unwrap();
    let (mut b, _) = batch("b", 20, 2);
    // A zeroed allocation the refusal never touches: no memory is used.
    b.put(b"b99999".to_vec(), vec![0u8; (1 << 30) + 1]);
    let e = db.write(b).unwrap_err();
    assert!(matches!(e, sealdb::Error::InvalidArgument { .. }), "{e:?}");
    assert!(db.poisoned().is_none());
    let (c, mc) = batch("c", 30, 3);
    db.write(c).unwrap();
    let want = union(&ma, &mc);
    assert!(contents(&db) == want);
    // As a crash now leaves the files: the log replays.
    let image = copy(&mem);
    drop(db);
    let db = open(&image, &o).unwrap();
    assert!(contents(&db) == want);
}
