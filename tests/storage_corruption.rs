//! Damaged and foreign stores (issue 3, "Bad input / faults must get a clear
//! error and lose nothing", and "Corruption tests", "Rotation"):
//!
//! - a flipped byte in any file of a store — an SSTable's data block,
//!   filter or index partition, top index or footer, a manifest record, `CURRENT`, a log record,
//!   the key registry, or any file's header — gives a typed error
//!   ([`Error::Corruption`], [`Error::Authentication`], [`Error::Truncated`])
//!   naming that file, on open or on the read that reaches it: never wrong
//!   data, never a panic; encrypted and plaintext stores alike;
//! - a log cut anywhere after its header is a torn tail: the store opens
//!   and holds a prefix of the log's writes; a cut table is an error;
//! - a table the manifest lists but that is gone, a directory holding
//!   other files, a store opened twice: [`Error::Corruption`],
//!   [`Error::NotAStore`], [`Error::Locked`];
//! - store-key rotation plus `rewrite_all` moves every live file to the new
//!   data key, after which the old store key is no longer needed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sealdb::storage::{Direction, Engine, Progress, StorageOptions, WriteBatch};
use sealdb::vfs::{FileKind, KeyOptions, MemVfs, OsVfs, SealedDir, Vfs};
use sealdb::{
    Error, KeyBytes, KeyId, KeyProvider, MemoryKeyProvider, Result, UnencryptedKeyProvider,
};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

const DIR: &str = "/db";
const KEY_A: &[u8; 32] = b"corruption-test-store-key-A-0001";
const KEY_B: &[u8; 16] = b"rotated-key-B-01";
/// Sealed file header length (frozen format constant).
const HEADER: u64 = 64;

fn dir() -> &'static Path {
    Path::new(DIR)
}

fn path(name: &str) -> PathBuf {
    dir().join(name)
}

fn mem_provider(k: &[u8]) -> Arc<dyn KeyProvider> {
    Arc::new(MemoryKeyProvider::new(KeyBytes::from_slice(k)).unwrap())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Encrypted,
    Plaintext,
}

impl Mode {
    fn provider(self) -> Arc<dyn KeyProvider> {
        match self {
            Mode::Encrypted => mem_provider(KEY_A),
            Mode::Plaintext => Arc::new(UnencryptedKeyProvider::dangerous_new()),
        }
    }
}

fn opts() -> StorageOptions {
    StorageOptions {
        memtable_bytes: 4 << 10,
        block_bytes: 256,
        target_file_bytes: 4 << 10,
        level_base_bytes: 16 << 10,
        l0_compaction_trigger: 4,
        auto_compaction: false,
        block_cache_bytes: 16 << 10,
        ..StorageOptions::default()
    }
}

fn open(vfs: &MemVfs, provider: Arc<dyn KeyProvider>) -> Result<Engine> {
    let v: Arc<dyn Vfs> = Arc::new(vfs.clone());
    Engine::open(v, dir(), provider, KeyOptions::default(), opts())
}

fn key(i: u64) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

fn value(i: u64, round: u64) -> Vec<u8> {
    let mut v = format!("value-{i}-{round}-").into_bytes();
    v.resize(20 + ((i * 7 + round) % 40) as usize, b'v');
    v
}

const KEYS: u64 = 200;

/// A closed store with tables on two levels (several blocks each), a
/// manifest, CURRENT, a log holding the last writes, and the key registry.
fn build_store(mode: Mode) -> (MemVfs, Model) {
    let mem = MemVfs::new();
    let db = open(&mem, mode.provider()).unwrap();
    let mut model = Model::new();
    for i in 0..KEYS {
        db.put(&key(i), &value(i, 0)).unwrap();
        model.insert(key(i), value(i, 0));
    }
    db.compact().unwrap();
    for i in (0..KEYS).step_by(3) {
        db.put(&key(i), &value(i, 1)).unwrap();
        model.insert(key(i), value(i, 1));
    }
    db.flush().unwrap();
    let mut b = WriteBatch::new();
    for i in (1..KEYS).step_by(5) {
        b.delete(key(i));
        model.remove(&key(i));
    }
    db.write(b).unwrap();
    for i in (2..KEYS).step_by(11) {
        db.put(&key(i), &value(i, 2)).unwrap();
        model.insert(key(i), value(i, 2));
    }
    // Stop without a clean close (which would write the memtable out), so
    // the store keeps a live log to damage. Every write was synced; wait
    // for background flushes so the files are the same every run.
    settle(&db, &mem);
    mem.crash();
    drop(db);
    (mem, model)
}

/// Waits until no memtable is waiting to be flushed and the logs of
/// flushed ones are deleted (only the live log is left).
fn settle(db: &Engine, mem: &MemVfs) {
    while db.stats().immutable_memtables > 0 || names_ending(mem, ".wal").len() > 1 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

fn copy_store(src: &MemVfs) -> MemVfs {
    let dst = MemVfs::new();
    dst.create_dir_all(dir()).unwrap();
    for name in src.list(dir()).unwrap() {
        let p = path(&name);
        dst.put_file(&p, &src.read_all(&p).unwrap());
    }
    dst
}

fn names(mem: &MemVfs) -> Vec<String> {
    mem.list(dir()).unwrap()
}

fn names_ending(mem: &MemVfs, suffix: &str) -> Vec<String> {
    names(mem)
        .into_iter()
        .filter(|n| n.ends_with(suffix))
        .collect()
}

fn manifest_name(mem: &MemVfs) -> String {
    let m: Vec<String> = names(mem)
        .into_iter()
        .filter(|n| n.starts_with("MANIFEST-"))
        .collect();
    assert_eq!(m.len(), 1, "one manifest: {m:?}");
    m[0].clone()
}

/// (file offset, length) of every record of a sealed file, read with the
/// store's own keys.
fn records(mem: &MemVfs, mode: Mode, name: &str, kind: FileKind) -> Vec<(u64, u64)> {
    table_records(mem, mode, name, kind)
        .into_iter()
        .map(|(off, len, _)| (off, len))
        .collect()
}

/// [`records`] with, for a table's records, the kind of metadata each is
/// (table format 3: a payload starting with a zero count and a kind
/// byte, 1 filter partition, 2 index partition, 3 top index; 0 for a data
/// block or the footer).
fn table_records(mem: &MemVfs, mode: Mode, name: &str, kind: FileKind) -> Vec<(u64, u64, u8)> {
    let v: Arc<dyn Vfs> = Arc::new(mem.clone());
    let sd = SealedDir::open(v, dir(), mode.provider(), KeyOptions::default()).unwrap();
    let r = sd.open_file(name, kind).unwrap();
    r.records()
        .map(|x| {
            let (off, payload) = x.unwrap();
            let meta = match payload.as_slice() {
                [0, 0, 0, 0, k @ 1..=3, ..] => *k,
                _ => 0,
            };
            (HEADER + off, r.record_len(payload.len()), meta)
        })
        .collect()
}

fn flip(mem: &MemVfs, name: &str, offset: u64) {
    mem.corrupt(&path(name), offset, |b| b[0] ^= 0x5a).unwrap();
}

/// Asserts `e` is a typed damage error naming `file`.
fn assert_names(e: &Error, file: &Path, ctx: &str) {
    let named = match e {
        Error::Corruption { file, .. }
        | Error::Authentication { file, .. }
        | Error::Truncated { file, .. } => file,
        other => panic!(
            "{ctx}: expected Corruption, Authentication or Truncated, got {other:?} ({other})"
        ),
    };
    assert_eq!(named, file, "{ctx}: the error names another file: {e}");
    assert!(e.is_corruption(), "{ctx}");
    assert!(
        e.to_string().contains(&file.display().to_string()),
        "{ctx}: message does not name the file: {e}"
    );
}

/// Opens and reads everything. Every failure must be a typed error naming
/// `file`; whatever is read must be right. Returns whether the damage was
/// detected.
fn detected(mem: &MemVfs, mode: Mode, file: &str, model: &Model, ctx: &str) -> bool {
    let file = path(file);
    let db = match open(mem, mode.provider()) {
        Err(e) => {
            assert_names(&e, &file, ctx);
            return true;
        }
        Ok(db) => db,
    };
    let mut found = false;
    for dirn in [Direction::Forward, Direction::Reverse] {
        let mut want: Vec<(&Vec<u8>, &Vec<u8>)> = model.iter().collect();
        if dirn == Direction::Reverse {
            want.reverse();
        }
        let mut it = match db.iter(.., dirn, None) {
            Ok(it) => it,
            Err(e) => {
                assert_names(&e, &file, ctx);
                found = true;
                continue;
            }
        };
        let mut i = 0;
        loop {
            match it.next() {
                None => break,
                Some(Ok((k, v))) => {
                    assert_eq!(
                        Some((&k, &v)),
                        want.get(i).copied(),
                        "{ctx}: {dirn:?} scan returned wrong data at {i}"
                    );
                    i += 1;
                }
                Some(Err(e)) => {
                    assert_names(&e, &file, ctx);
                    found = true;
                    break;
                }
            }
        }
        if !found {
            assert_eq!(i, want.len(), "{ctx}: {dirn:?} scan ended early");
        }
    }
    for i in 0..KEYS {
        match db.get(&key(i)) {
            Ok(v) => assert_eq!(
                v.as_ref(),
                model.get(&key(i)),
                "{ctx}: get({i}) returned wrong data"
            ),
            Err(e) => {
                assert_names(&e, &file, ctx);
                found = true;
            }
        }
    }
    found
}

/// The parts of a store worth damaging, as (label, file, offset).
fn targets(mem: &MemVfs, mode: Mode) -> Vec<(String, String, u64)> {
    let mut t = Vec::new();
    let mid = |(off, len): (u64, u64)| off + len / 2;
    let tables = names_ending(mem, ".sst");
    assert!(tables.len() >= 2, "tables: {tables:?}");
    let mut most_parts = 0;
    for name in &tables {
        let r = table_records(mem, mode, name, FileKind::Sstable);
        let n = r.len();
        let at = |i: usize| (r[i].0, r[i].1);
        // Data blocks, then per partition a filter and an index, then the
        // top index and the footer.
        let data = r.iter().take_while(|x| x.2 == 0).count();
        let kinds: Vec<u8> = r[data..n - 1].iter().map(|x| x.2).collect();
        let parts = kinds.len() / 2;
        assert!(
            data >= 1 && parts >= 1 && kinds.len() == 2 * parts + 1 && r[n - 1].2 == 0,
            "{name}: want data blocks, partitions, top index, footer; \
             have {data} data records then metadata {kinds:?}"
        );
        most_parts = most_parts.max(parts);
        assert!(kinds[..2 * parts].chunks(2).all(|c| c == [1, 2]) && kinds[2 * parts] == 3);
        t.push((format!("{name} first data block"), name.clone(), mid(at(0))));
        t.push((
            format!("{name} last data block"),
            name.clone(),
            mid(at(data - 1)),
        ));
        for (label, i) in [
            ("first filter partition", data),
            ("first index partition", data + 1),
            ("last filter partition", n - 4),
            ("last index partition", n - 3),
            ("top index", n - 2),
            ("footer", n - 1),
        ] {
            if label.starts_with("last") && parts == 1 {
                continue;
            }
            t.push((format!("{name} {label}"), name.clone(), mid(at(i))));
        }
        t.push((
            format!("{name} footer, last byte"),
            name.clone(),
            r[n - 1].0 + r[n - 1].1 - 1,
        ));
        t.push((format!("{name} header"), name.clone(), 20));
    }
    assert!(most_parts >= 2, "no table has two index partitions");
    let manifest = manifest_name(mem);
    for (i, rec) in records(mem, mode, &manifest, FileKind::Manifest)
        .into_iter()
        .enumerate()
    {
        t.push((format!("{manifest} record {i}"), manifest.clone(), mid(rec)));
    }
    t.push((format!("{manifest} header"), manifest.clone(), 10));
    let current = records(mem, mode, "CURRENT", FileKind::Manifest);
    t.push(("CURRENT record".into(), "CURRENT".into(), mid(current[0])));
    t.push((
        "CURRENT record length".into(),
        "CURRENT".into(),
        current[0].0,
    ));
    t.push(("CURRENT header".into(), "CURRENT".into(), 40));
    // The newest log with records (a reopen starts a new, empty one).
    let logs = names_ending(mem, ".wal");
    let log = logs
        .iter()
        .rev()
        .find(|l| !records(mem, mode, l, FileKind::Wal).is_empty())
        .expect("a log with records")
        .clone();
    let recs = records(mem, mode, &log, FileKind::Wal);
    assert!(recs.len() >= 3, "{log} has {} records", recs.len());
    t.push((format!("{log} first record"), log.clone(), mid(recs[0])));
    t.push((
        format!("{log} last record"),
        log.clone(),
        mid(recs[recs.len() - 1]),
    ));
    t.push((
        format!("{log} last record length"),
        log.clone(),
        recs[recs.len() - 1].0 + 1,
    ));
    t.push((format!("{log} header"), log.clone(), 33));
    t.push((
        "KEYREGISTRY record".into(),
        "KEYREGISTRY".into(),
        HEADER + 30,
    ));
    t.push(("KEYREGISTRY header".into(), "KEYREGISTRY".into(), 17));
    t
}

#[test]
fn a_flipped_byte_in_each_part_of_each_file_gives_a_typed_error_naming_it() {
    for mode in [Mode::Encrypted, Mode::Plaintext] {
        let (base, model) = build_store(mode);
        let targets = targets(&base, mode);
        for (label, file, offset) in &targets {
            let ctx = format!("{mode:?}: flipped byte in {label} (offset {offset})");
            let mem = copy_store(&base);
            flip(&mem, file, *offset);
            assert!(
                detected(&mem, mode, file, &model, &ctx),
                "{ctx}: the damage went unnoticed"
            );
        }
        // The undamaged store reads back whole.
        assert!(!detected(
            &copy_store(&base),
            mode,
            "none",
            &model,
            "undamaged"
        ));
        println!("{mode:?}: {} targeted corruptions detected", targets.len());
    }
}

/// Every file, bytes spread over its whole length: any flip is caught.
#[test]
fn flipped_bytes_anywhere_in_any_file_never_give_wrong_data() {
    let mut cases = 0;
    for mode in [Mode::Encrypted, Mode::Plaintext] {
        let (base, model) = build_store(mode);
        for name in names(&base) {
            if name == "LOCK" {
                continue;
            }
            let len = base.read_all(&path(&name)).unwrap().len() as u64;
            let step = (len / 23).max(1);
            let offsets = (0..HEADER)
                .step_by(9)
                .chain((HEADER..len).step_by(step as usize))
                .chain([len - 1]);
            for offset in offsets {
                let ctx = format!("{mode:?}: {name} (len {len}) byte {offset}");
                let mem = copy_store(&base);
                flip(&mem, &name, offset);
                assert!(
                    detected(&mem, mode, &name, &model, &ctx),
                    "{ctx}: the damage went unnoticed"
                );
                cases += 1;
            }
        }
    }
    println!("{cases} flipped bytes detected");
}

/// A log cut anywhere in its body is a torn tail: the store opens and holds
/// the writes of a prefix of the log's records. A cut table is an error.
#[test]
fn truncated_files() {
    let mode = Mode::Encrypted;
    // Tables, then a log of 20 single puts (one record each).
    let base = MemVfs::new();
    let db = open(&base, mode.provider()).unwrap();
    let mut model = Model::new();
    for i in 0..KEYS {
        db.put(&key(i), &value(i, 0)).unwrap();
        model.insert(key(i), value(i, 0));
    }
    db.flush().unwrap();
    let mut prefixes = vec![model.clone()];
    for i in 0..20u64 {
        let k = format!("tail{i:02}").into_bytes();
        db.put(&k, &value(i, 9)).unwrap();
        model.insert(k, value(i, 9));
        prefixes.push(model.clone());
    }
    // No clean close: the 20 puts must stay in the log (all were synced).
    settle(&db, &base);
    base.crash();
    drop(db);
    let log = names_ending(&base, ".wal").pop().unwrap();
    // The segment's start record, then one record per put.
    assert_eq!(records(&base, mode, &log, FileKind::Wal).len(), 21);
    let len = base.read_all(&path(&log)).unwrap().len() as u64;
    let mut seen = std::collections::BTreeSet::new();
    for cut in (HEADER..=len).step_by(13).chain([len - 1, len]) {
        let mem = copy_store(&base);
        mem.truncate(&path(&log), cut).unwrap();
        let db = open(&mem, mode.provider())
            .unwrap_or_else(|e| panic!("{log} cut at {cut}: open failed: {e}"));
        let got: Model = db
            .iter(.., Direction::Forward, None)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        let at = prefixes
            .iter()
            .position(|m| *m == got)
            .unwrap_or_else(|| panic!("{log} cut at {cut}: not a prefix of the log's writes"));
        seen.insert(at);
    }
    assert!(
        seen.contains(&0) && seen.contains(&20) && seen.len() > 10,
        "prefixes seen: {seen:?}"
    );

    let (base, model) = build_store(mode);
    for table in names_ending(&base, ".sst") {
        let tlen = base.read_all(&path(&table)).unwrap().len() as u64;
        for cut in [0, 10, HEADER, HEADER + 5, tlen / 2, tlen - 20, tlen - 1] {
            let mem = copy_store(&base);
            mem.truncate(&path(&table), cut).unwrap();
            let ctx = format!("{table} (len {tlen}) cut at {cut}");
            assert!(
                detected(&mem, mode, &table, &model, &ctx),
                "{ctx}: unnoticed"
            );
        }
    }
}

#[test]
fn a_table_listed_in_the_manifest_that_is_gone_fails_open_naming_it() {
    let (base, _) = build_store(Mode::Encrypted);
    for table in names_ending(&base, ".sst") {
        let mem = copy_store(&base);
        mem.remove(&path(&table)).unwrap();
        mem.sync_dir(dir()).unwrap();
        let e = open(&mem, Mode::Encrypted.provider())
            .err()
            .expect("open must fail");
        match &e {
            Error::Corruption { file, .. } => assert_eq!(file, &path(&table), "{e}"),
            other => panic!("missing {table}: expected Corruption, got {other:?}"),
        }
        assert!(e.to_string().contains(&table), "{e}");
    }
}

#[test]
fn a_directory_holding_other_files_is_not_a_store() {
    let mem = MemVfs::new();
    mem.create_dir_all(dir()).unwrap();
    mem.put_file(&path("notes.txt"), b"my notes");
    match open(&mem, Mode::Encrypted.provider()) {
        Err(Error::NotAStore { path }) => assert_eq!(path, dir()),
        other => panic!("expected NotAStore, got {:?}", other.err()),
    }
    assert_eq!(
        mem.read_all(&path("notes.txt")).unwrap(),
        b"my notes",
        "the foreign file is untouched"
    );
    assert_eq!(
        names(&mem),
        vec!["notes.txt".to_string()],
        "nothing was created there: {:?}",
        names(&mem)
    );

    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("photo.jpg"), b"\xff\xd8\xff").unwrap();
    let e = Engine::open(
        Arc::new(OsVfs::new()),
        tmp.path(),
        Mode::Encrypted.provider(),
        KeyOptions::default(),
        opts(),
    )
    .err()
    .expect("open must fail");
    assert!(
        matches!(&e, Error::NotAStore { path } if path == tmp.path()),
        "{e:?}"
    );
    assert!(!tmp.path().join("KEYREGISTRY").exists());
}

#[test]
fn a_store_opened_twice_is_locked() {
    let mem = MemVfs::new();
    let first = open(&mem, Mode::Encrypted.provider()).unwrap();
    first.put(b"k", b"v").unwrap();
    match open(&mem, Mode::Encrypted.provider()) {
        Err(Error::Locked { path }) => assert_eq!(path, dir().join("LOCK")),
        other => panic!("expected Locked, got {:?}", other.err()),
    }
    assert_eq!(
        first.get(b"k").unwrap().as_deref(),
        Some(&b"v"[..]),
        "the first handle still works"
    );
    first.close().unwrap();
    let again = open(&mem, Mode::Encrypted.provider()).unwrap();
    assert_eq!(again.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    drop(again);

    let tmp = tempfile::tempdir().unwrap();
    let os = |p: &Path| {
        Engine::open(
            Arc::new(OsVfs::new()),
            p,
            Mode::Encrypted.provider(),
            KeyOptions::default(),
            opts(),
        )
    };
    let first = os(tmp.path()).unwrap();
    first.put(b"k", b"v").unwrap();
    match os(tmp.path()) {
        Err(Error::Locked { path }) => assert_eq!(path, tmp.path().join("LOCK")),
        other => panic!("OsVfs: expected Locked, got {:?}", other.err()),
    }
    drop(first);
    let again = os(tmp.path()).unwrap();
    assert_eq!(again.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
}

/// Rotate the store key, rewrite everything under the new data key, and
/// the old key is no longer needed.
#[test]
fn store_key_rotation_and_rewrite_all_retire_the_old_key() {
    // Everything in bottom-level tables, nothing in the log.
    let mem = MemVfs::new();
    let mut model = Model::new();
    {
        let db = open(&mem, mem_provider(KEY_A)).unwrap();
        for i in 0..KEYS * 2 {
            db.put(&key(i), &value(i, 0)).unwrap();
            model.insert(key(i), value(i, 0));
        }
        db.compact().unwrap();
        db.close().unwrap();
    }
    let old_status = {
        let db = open(&mem, mem_provider(KEY_A)).unwrap();
        db.encryption_status().unwrap()
    };
    let old_data_keys: Vec<KeyId> = old_status.data_keys.iter().map(|k| k.id).collect();

    // Without the old key the rotated store cannot be opened yet.
    match open(&mem, mem_provider(KEY_B)) {
        Err(Error::KeyUnavailable { key_id }) => assert_eq!(key_id, KeyId::of_key(KEY_A)),
        other => panic!("expected KeyUnavailable, got {:?}", other.err()),
    }

    let rotating: Arc<dyn KeyProvider> = Arc::new(
        MemoryKeyProvider::new(KeyBytes::from_slice(KEY_B))
            .unwrap()
            .with_old_key(KeyBytes::from_slice(KEY_A))
            .unwrap(),
    );
    let db = open(&mem, rotating).unwrap();
    db.put(b"written-during-rotation", b"yes").unwrap();
    model.insert(b"written-during-rotation".to_vec(), b"yes".to_vec());
    let before = db.encryption_status().unwrap();
    assert_eq!(before.store_key_id, KeyId::of_key(KEY_B));
    assert!(
        before.active_share() < 1.0,
        "old files are still under old keys: {before:?}"
    );

    let mut seen: Vec<Progress> = Vec::new();
    db.rewrite_all(|p| seen.push(p)).unwrap();
    let last = *seen.last().expect("progress reported");
    assert!(last.files_total > 0, "{seen:?}");
    assert_eq!(last.files_done, last.files_total, "{seen:?}");
    assert_eq!(last.bytes_done, last.bytes_total, "{seen:?}");
    for w in seen.windows(2) {
        assert!(
            w[1].files_done >= w[0].files_done && w[1].files_total == w[0].files_total,
            "{seen:?}"
        );
    }

    let status = db.encryption_status().unwrap();
    assert_eq!(status.active_share(), 1.0, "{status:?}");
    assert!(!status.files.is_empty());
    for f in &status.files {
        assert_eq!(
            f.key_id, status.active_data_key_id,
            "{} is under an old key",
            f.name
        );
    }
    for k in &status.data_keys {
        assert!(
            !old_data_keys.contains(&k.id),
            "old data key {} is still kept",
            k.id
        );
        assert_eq!(k.store_key_id, KeyId::of_key(KEY_B));
    }
    let got: Model = db
        .iter(.., Direction::Forward, None)
        .unwrap()
        .collect::<Result<_>>()
        .unwrap();
    assert!(got == model);
    db.close().unwrap();

    // The new key alone opens it and reads everything; the old one alone no
    // longer does.
    let db = open(&mem, mem_provider(KEY_B))
        .unwrap_or_else(|e| panic!("reopen with only the new key: {e}"));
    let got: Model = db
        .iter(.., Direction::Forward, None)
        .unwrap()
        .collect::<Result<_>>()
        .unwrap();
    assert!(got == model, "after rotation");
    for (k, v) in &model {
        assert_eq!(db.get(k).unwrap().as_ref(), Some(v));
    }
    db.close().unwrap();
    match open(&mem, mem_provider(KEY_A)) {
        Err(Error::KeyUnavailable { key_id }) => assert_eq!(key_id, KeyId::of_key(KEY_B)),
        other => panic!(
            "the old key alone: expected KeyUnavailable, got {:?}",
            other.err()
        ),
    }
}

/// A clean close writes the memtable out: the next open has no log
/// records to replay, and every write is still there.
#[test]
fn a_clean_close_leaves_no_log_to_replay() {
    let mode = Mode::Encrypted;
    let mem = MemVfs::new();
    let db = open(&mem, mode.provider()).unwrap();
    for i in 0..50 {
        db.put(&key(i), &value(i, 0)).unwrap();
    }
    db.close().unwrap();
    for log in names_ending(&mem, ".wal") {
        // Only the segment's start record (which chains it to the last).
        assert_eq!(records(&mem, mode, &log, FileKind::Wal).len(), 1, "{log}");
    }
    let db = open(&mem, mode.provider()).unwrap();
    for i in 0..50 {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 0)));
    }
}
