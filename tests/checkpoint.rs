//! Online checkpoints of the storage engine: taken while writers run, they
//! hold exactly the writes up to their sequence number; copied beside the
//! store they open with the same keys; installed elsewhere they are under
//! the installing side's key; an unfinished copy or install never opens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use sealdb::storage::{
    complete_install, is_unfinished_install, Checkpoint, CheckpointInstaller, Direction, Engine,
    StorageOptions, INCOMPLETE_MARKER,
};
use sealdb::vfs::{KeyOptions, MemVfs, OsVfs, Vfs};
use sealdb::{Error, KeyProvider};

/// Small memtables, tables and blocks: a few hundred writes make several
/// tables on more than one level, each with several index partitions.
fn small() -> StorageOptions {
    StorageOptions {
        memtable_bytes: 16 << 10,
        block_bytes: 256,
        target_file_bytes: 32 << 10,
        level_base_bytes: 64 << 10,
        ..StorageOptions::default()
    }
}

fn open(vfs: &Arc<dyn Vfs>, dir: &str, p: Arc<dyn KeyProvider>) -> sealdb::Result<Engine> {
    Engine::open(vfs.clone(), dir, p, KeyOptions::default(), small())
}

fn contents(e: &Engine) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut it = e.iter(.., Direction::Forward, None).unwrap();
    let mut out = BTreeMap::new();
    for r in it.by_ref() {
        let (k, v) = r.unwrap();
        out.insert(k, v);
    }
    out
}

/// One write: its sequence number, key and value.
type Write = (u64, Vec<u8>, Vec<u8>);

/// Writes keys on another thread while a checkpoint is taken; returns the
/// engine, the checkpoint and every write as (sequence, key, value).
fn busy_checkpoint(
    vfs: &Arc<dyn Vfs>,
    p: Arc<dyn KeyProvider>,
) -> (Arc<Engine>, Checkpoint, Vec<Write>) {
    let e = Arc::new(open(vfs, "/db", p).unwrap());
    for i in 0..600u32 {
        e.put(format!("pre{i:05}").as_bytes(), &[b'p'; 100])
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (e, stop) = (e.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut log = Vec::new();
            let mut i = 0u32;
            // Some writes always follow the checkpoint.
            let mut after = 100;
            while i < 400 || after > 0 {
                if stop.load(Ordering::SeqCst) {
                    after -= 1;
                }
                let k = format!("k{i:06}").into_bytes();
                let v = vec![b'a' + (i % 26) as u8; 64 + (i % 50) as usize];
                let seq = e.put(&k, &v).unwrap();
                log.push((seq, k, v));
                i += 1;
                if i.is_multiple_of(97) {
                    e.delete(format!("pre{:05}", i % 600).as_bytes()).unwrap();
                }
            }
            log
        })
    };
    while e.stats().last_sequence < 1200 {
        std::thread::yield_now();
    }
    let cp = e.checkpoint().unwrap();
    stop.store(true, Ordering::SeqCst);
    let log = writer.join().unwrap();
    // Flushes and compactions after the checkpoint delete files the live
    // store no longer needs; the pinned ones stay.
    e.flush().unwrap();
    e.compact().unwrap();
    (e, cp, log)
}

#[test]
fn a_checkpoint_copy_holds_exactly_the_writes_up_to_its_sequence() {
    let mem = MemVfs::new();
    let vfs: Arc<dyn Vfs> = Arc::new(mem.clone());
    let (e, cp, log) = busy_checkpoint(&vfs, mem_provider(KEY32));
    let seq = cp.sequence();
    assert!(
        log.iter().any(|(s, _, _)| *s > seq),
        "writes went on after the checkpoint"
    );
    assert!(!cp.logs().is_empty());
    // The state at `seq`, read through the checkpoint's snapshot.
    let mut want = BTreeMap::new();
    let mut it = e.iter(.., Direction::Forward, Some(cp.snapshot())).unwrap();
    for r in it.by_ref() {
        let (k, v) = r.unwrap();
        want.insert(k, v);
    }
    drop(it);
    for (s, k, v) in &log {
        assert_eq!(want.get(k).filter(|_| *s <= seq), (*s <= seq).then_some(v));
    }
    cp.write_to(Path::new("/copy"), &[]).unwrap();
    drop(cp);
    let copy = open(&vfs, "/copy", mem_provider(KEY32)).unwrap();
    assert_eq!(contents(&copy), want);
    assert_eq!(copy.stats().last_sequence, seq);
    // The copy is a store of its own: it takes writes, the source is unchanged.
    copy.put(b"only-in-copy", b"1").unwrap();
    assert_eq!(e.get(b"only-in-copy").unwrap(), None);
}

#[test]
fn an_installed_checkpoint_is_under_the_installing_sides_key() {
    let mem = MemVfs::new();
    let vfs: Arc<dyn Vfs> = Arc::new(mem.clone());
    let (e, cp, _) = busy_checkpoint(&vfs, mem_provider(KEY32));
    let mut want = BTreeMap::new();
    let mut it = e.iter(.., Direction::Forward, Some(cp.snapshot())).unwrap();
    for r in it.by_ref() {
        let (k, v) = r.unwrap();
        want.insert(k, v);
    }
    drop(it);
    let source_keys: Vec<_> = cp.tables().iter().map(|t| t.key_id).collect();
    install(&vfs, &cp, "/inst", mem_provider(KEY16));
    let seq = cp.sequence();
    drop(cp);
    drop(e);
    assert!(matches!(
        open(&vfs, "/inst", mem_provider(KEY32)),
        Err(Error::KeyUnavailable { .. })
    ));
    let inst = open(&vfs, "/inst", mem_provider(KEY16)).unwrap();
    assert_eq!(contents(&inst), want);
    assert_eq!(inst.stats().last_sequence, seq);
    let status = inst.encryption_status().unwrap();
    assert_eq!(status.store_key_id, id_of(KEY16));
    for f in &status.files {
        assert!(
            !source_keys.contains(&f.key_id),
            "{} kept a source key",
            f.name
        );
        assert_eq!(f.cipher, sealdb::Cipher::Aes128Ctr);
    }
}

fn install(vfs: &Arc<dyn Vfs>, cp: &Checkpoint, dir: &str, p: Arc<dyn KeyProvider>) {
    install_checkpoint(vfs, cp, Path::new(dir), p, small()).unwrap();
    // Written and synced, still marked until its owner has moved it into
    // place and completes it.
    assert!(matches!(
        vfs.list(Path::new(dir))
            .map(|n| n.iter().any(|n| n == INCOMPLETE_MARKER)),
        Ok(true)
    ));
    assert!(is_unfinished_install(&**vfs, Path::new(dir)).unwrap());
    complete_install(&**vfs, Path::new(dir)).unwrap();
    assert!(!is_unfinished_install(&**vfs, Path::new(dir)).unwrap());
}

#[test]
fn tables_of_a_plaintext_store_are_rebuilt_when_installed_encrypted_and_back() {
    let mem = MemVfs::new();
    let vfs: Arc<dyn Vfs> = Arc::new(mem.clone());
    let (e, cp, _) = busy_checkpoint(&vfs, plaintext_provider());
    let want = {
        let mut w = BTreeMap::new();
        let mut it = e.iter(.., Direction::Forward, Some(cp.snapshot())).unwrap();
        for r in it.by_ref() {
            let (k, v) = r.unwrap();
            w.insert(k, v);
        }
        w
    };
    install(&vfs, &cp, "/enc", mem_provider(KEY24));
    drop(cp);
    drop(e);
    let enc = open(&vfs, "/enc", mem_provider(KEY24)).unwrap();
    assert_eq!(contents(&enc), want);
    let cp = enc.checkpoint().unwrap();
    install(&vfs, &cp, "/plain", plaintext_provider());
    drop(cp);
    let plain = open(&vfs, "/plain", plaintext_provider()).unwrap();
    assert_eq!(contents(&plain), want);
}

/// A table rebuilt under another framing takes its records in the order
/// the source wrote them: a data block moved behind the index, dropped or
/// given twice is refused, naming the table, and nothing opens.
#[test]
fn a_rebuilt_table_refuses_records_out_of_place() {
    let mem = MemVfs::new();
    let vfs: Arc<dyn Vfs> = Arc::new(mem.clone());
    let (_e, cp, _) = busy_checkpoint(&vfs, plaintext_provider());
    let t = cp.tables().iter().max_by_key(|t| t.size).unwrap().clone();
    let recs: Vec<Vec<u8>> = cp
        .table_records(t.number, 0)
        .unwrap()
        .map(|r| r.unwrap().1)
        .collect();
    // Data blocks come first; metadata records start with a zero count.
    let data = recs
        .iter()
        .take_while(|r| !r.starts_with(&[0, 0, 0, 0]))
        .count();
    assert!(
        data >= 2 && recs.len() >= data + 4,
        "{data} of {}",
        recs.len()
    );
    let moved = {
        let mut r = recs.clone();
        let block = r.remove(data - 1);
        r.insert(data + 1, block);
        r
    };
    let dropped = [&recs[..1], &recs[2..]].concat();
    let twice = [&recs[..2], &recs[1..]].concat();
    for (i, (what, records)) in [("moved", moved), ("dropped", dropped), ("twice", twice)]
        .into_iter()
        .enumerate()
    {
        let dir = format!("/enc{i}");
        let inst = CheckpointInstaller::create(
            vfs.clone(),
            Path::new(&dir),
            mem_provider(KEY24),
            KeyOptions::default(),
            small(),
            cp.flushed_sequence(),
        )
        .unwrap();
        let mut ti = inst.table(&t).unwrap();
        let err = records
            .into_iter()
            .try_for_each(|r| ti.add_record(r))
            .and_then(|()| ti.finish())
            .expect_err(what);
        assert!(matches!(err, Error::Corruption { .. }), "{what}: {err}");
        let name = format!("{:06}.sst", t.number);
        assert!(err.to_string().contains(&name), "{what}: {err}");
        drop(inst);
        assert!(open(&vfs, &dir, mem_provider(KEY24)).is_err(), "{what}");
    }
}

#[test]
fn a_resumed_stream_continues_at_the_record_it_names() {
    let mem = MemVfs::new();
    let vfs: Arc<dyn Vfs> = Arc::new(mem.clone());
    let (_e, cp, _) = busy_checkpoint(&vfs, mem_provider(KEY32));
    let t = cp.tables().iter().max_by_key(|t| t.size).unwrap().clone();
    let all: Vec<(u64, Vec<u8>)> = cp
        .table_records(t.number, 0)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert!(all.len() > 3);
    let (at, _) = all[all.len() / 2];
    let rest: Vec<(u64, Vec<u8>)> = cp
        .table_records(t.number, at)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rest, all[all.len() / 2..].to_vec());
    // An offset inside a record does not read as one.
    assert!(cp
        .table_records(t.number, at + 1)
        .unwrap()
        .next()
        .unwrap()
        .is_err());
}

#[test]
fn unfinished_copies_and_installs_do_not_open_and_targets_must_be_empty() {
    let mem = MemVfs::new();
    let vfs: Arc<dyn Vfs> = Arc::new(mem.clone());
    let e = open(&vfs, "/db", mem_provider(KEY32)).unwrap();
    e.put(b"a", b"1").unwrap();
    let cp = e.checkpoint().unwrap();
    {
        let inst = CheckpointInstaller::create(
            vfs.clone(),
            Path::new("/half"),
            mem_provider(KEY32),
            KeyOptions::default(),
            small(),
            cp.flushed_sequence(),
        )
        .unwrap();
        drop(inst);
    }
    assert!(vfs
        .exists(Path::new("/half").join(INCOMPLETE_MARKER).as_path())
        .unwrap());
    assert!(is_unfinished_install(&*vfs, Path::new("/half")).unwrap());
    assert!(matches!(
        open(&vfs, "/half", mem_provider(KEY32)),
        Err(Error::Incomplete { .. })
    ));
    // Neither a copy nor an install goes into a directory that holds files.
    assert!(matches!(
        cp.write_to(Path::new("/half"), &[]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        cp.write_to(Path::new("/db"), &[]),
        Err(Error::InvalidArgument { .. })
    ));
    // An install whose log tail does not reach the checkpoint is refused.
    let inst = CheckpointInstaller::create(
        vfs.clone(),
        Path::new("/short"),
        mem_provider(KEY32),
        KeyOptions::default(),
        small(),
        cp.flushed_sequence(),
    )
    .unwrap();
    for t in cp.tables() {
        let mut ti = inst.table(t).unwrap();
        for r in cp.table_records(t.number, 0).unwrap() {
            ti.add_record(r.unwrap().1).unwrap();
        }
        ti.finish().unwrap();
    }
    assert!(matches!(
        inst.finish(cp.sequence()),
        Err(Error::Corruption { .. })
    ));
    assert!(matches!(
        open(&vfs, "/short", mem_provider(KEY32)),
        Err(Error::Incomplete { .. })
    ));
}

#[cfg(unix)]
#[test]
fn on_a_real_disk_tables_are_hard_links() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let vfs: Arc<dyn Vfs> = Arc::new(OsVfs::new());
    let src = tmp.path().join("db");
    let e = Engine::open(
        vfs.clone(),
        &src,
        mem_provider(KEY32),
        KeyOptions::default(),
        small(),
    )
    .unwrap();
    for i in 0..2000u32 {
        e.put(format!("k{i:05}").as_bytes(), &[7u8; 80]).unwrap();
    }
    e.flush().unwrap();
    e.put(b"tail", b"in the log").unwrap();
    let cp = e.checkpoint().unwrap();
    let dst = tmp.path().join("cp");
    cp.write_to(&dst, &[]).unwrap();
    assert!(!cp.tables().is_empty());
    for t in cp.tables() {
        let name = format!("{:06}.sst", t.number);
        let a = std::fs::metadata(src.join(&name)).unwrap();
        let b = std::fs::metadata(dst.join(&name)).unwrap();
        assert_eq!(a.ino(), b.ino(), "{name} is a link");
    }
    drop(cp);
    let want = contents(&e);
    drop(e);
    let copy = Engine::open(
        vfs,
        &dst,
        mem_provider(KEY32),
        KeyOptions::default(),
        small(),
    )
    .unwrap();
    assert_eq!(contents(&copy), want);
    assert_eq!(
        copy.get(b"tail").unwrap().as_deref(),
        Some(&b"in the log"[..])
    );
}
