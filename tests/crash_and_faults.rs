//! Crashes and I/O failures (issue 2: "Crash simulation with the in-memory
//! vfs: the registry is never lost or half-written"; fault injection).
//!
//! The crash loops fail the N-th write, fsync, rename or directory fsync of
//! a `SealedDir::open` (or `maybe_rotate`) that rotates keys, for every N
//! until the operation completes without reaching the fault, then simulate
//! power loss (`MemVfs::crash`, or `crash_torn` keeping a random part of
//! unsynced data) and reopen. Reopening must always succeed with the keys
//! supplied, every file written and synced before must read back, and the
//! registry must afterwards be complete under the new store key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use sealdb::vfs::{FaultPlan, FaultVfs, FileKind, MemVfs, SealedDir, Vfs};
use sealdb::{Error, ErrorCode, KeyProvider};

use common::*;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Write,
    Sync,
    Rename,
    DirSync,
}

const OPS: [Op; 4] = [Op::Write, Op::Sync, Op::Rename, Op::DirSync];

fn arm(plan: &FaultPlan, op: Op, n: u64) {
    match op {
        Op::Write => plan.fail_nth_write(n),
        Op::Sync => plan.fail_nth_sync(n),
        Op::Rename => plan.fail_nth_rename(n),
        Op::DirSync => plan.fail_nth_dir_sync(n),
    }
}

fn faulty(mem: &MemVfs, plan: &Arc<FaultPlan>) -> Arc<dyn Vfs> {
    Arc::new(FaultVfs::new(Arc::new(mem.clone()), plan.clone()))
}

/// What changes at the faulty open.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// The rotation period passed (same store key).
    Period,
    /// The store key changes (AES-128 to AES-256), old key supplied.
    StoreKey,
    /// Switch to plaintext, old key supplied.
    ToPlaintext,
}

impl Change {
    fn provider(self) -> Arc<dyn KeyProvider> {
        match self {
            Change::Period => mem_provider(KEY16),
            Change::StoreKey => rotating_provider(KEY32, KEY16),
            Change::ToPlaintext => Arc::new(
                sealdb::UnencryptedKeyProvider::dangerous_new()
                    .with_old_key(key(KEY16))
                    .expect("old key"),
            ),
        }
    }
    /// The provider that must work once a reopen after the crash succeeded
    /// (the registry is then under the new key or none).
    fn provider_after(self) -> Arc<dyn KeyProvider> {
        match self {
            Change::Period => mem_provider(KEY16),
            Change::StoreKey => mem_provider(KEY32),
            Change::ToPlaintext => plaintext_provider(),
        }
    }
}

const F0: &[u8] = b"f0: written and synced before the faulty open";

/// A store under KEY16 at time 1000 (period 100) with a synced file "f0".
fn base(clock: &TestClock) -> MemVfs {
    let mem = MemVfs::new();
    let d = open_mem(&mem, mem_provider(KEY16), clock.options(100)).expect("base store");
    write_file(&d, "f0", FileKind::Wal, &[F0]);
    mem
}

/// After a crash: reopen, check f0, write and sync f1, crash again, reopen
/// with the post-change provider only, and check both files.
fn recover(mem: &MemVfs, clock: &TestClock, change: Change, ctx: &str) {
    let d = open_mem(mem, change.provider(), clock.options(100))
        .unwrap_or_else(|e| panic!("{ctx}: reopen after crash failed: {e}"));
    assert_eq!(
        read_all_records(&d, "f0", FileKind::Wal),
        vec![F0.to_vec()],
        "{ctx}"
    );
    write_file(&d, "f1", FileKind::Wal, &[b"f1"]);
    drop(d);
    mem.crash();
    let d = open_mem(mem, change.provider_after(), clock.options(100))
        .unwrap_or_else(|e| panic!("{ctx}: second reopen (new key only) failed: {e}"));
    assert_eq!(
        read_all_records(&d, "f0", FileKind::Wal),
        vec![F0.to_vec()],
        "{ctx}"
    );
    assert_eq!(
        read_all_records(&d, "f1", FileKind::Wal),
        vec![b"f1".to_vec()],
        "{ctx}"
    );
    assert!(mem.exists(Path::new(REGISTRY)).expect("exists"), "{ctx}");
}

#[test]
fn crash_at_every_point_of_a_rotating_open_never_loses_the_registry() {
    let mut points = 0;
    for change in [Change::Period, Change::StoreKey, Change::ToPlaintext] {
        for op in OPS {
            for torn in [false, true] {
                let mut fired = 0;
                for n in 1..=16u64 {
                    let ctx = format!("{change:?}, failing {op:?} #{n}, torn {torn}");
                    let clock = TestClock::new(1_000);
                    let mem = base(&clock);
                    let before = mem.read_all(Path::new(REGISTRY)).expect("registry");
                    clock.set(1_200);
                    let plan = FaultPlan::new();
                    plan.short_writes(true);
                    arm(&plan, op, n);
                    let hit = match SealedDir::open(
                        faulty(&mem, &plan),
                        DIR,
                        change.provider(),
                        clock.options(100),
                    ) {
                        Err(Error::Io { source, .. }) => {
                            assert!(source.to_string().contains("injected"), "{ctx}: {source}");
                            true
                        }
                        Err(e) => panic!("{ctx}: expected an I/O error, got {e:?}"),
                        Ok(_) => false,
                    };
                    if hit && op != Op::DirSync {
                        // Nothing was renamed over the registry.
                        assert_eq!(
                            mem.read_all(Path::new(REGISTRY)).expect("registry"),
                            before,
                            "{ctx}"
                        );
                    }
                    if torn {
                        mem.crash_torn(n * 7919 + op as u64);
                    } else {
                        mem.crash();
                    }
                    if hit {
                        // Power lost before the rename was made durable: the
                        // old registry, byte for byte.
                        assert_eq!(
                            mem.read_all(Path::new(REGISTRY)).expect("registry"),
                            before,
                            "{ctx}"
                        );
                    }
                    recover(&mem, &clock, change, &ctx);
                    points += 1;
                    if !hit {
                        break;
                    }
                    fired += 1;
                }
                assert!(
                    fired >= 1,
                    "{change:?} {op:?}: the open never reached the fault"
                );
            }
        }
    }
    assert!(points >= 3 * 4 * 2 * 2);
}

/// The very first open of a new store, cut short at every point: the next
/// open starts cleanly (a fresh store), never "registry missing".
#[test]
fn crash_during_the_first_open_of_a_new_store() {
    for op in OPS {
        for n in 1..=8u64 {
            let mem = MemVfs::new();
            let plan = FaultPlan::new();
            plan.short_writes(true);
            arm(&plan, op, n);
            let res = SealedDir::open(
                faulty(&mem, &plan),
                DIR,
                mem_provider(KEY32),
                still_options(),
            );
            let hit = match res {
                Err(Error::Io { .. }) => true,
                Err(e) => panic!("{op:?} #{n}: {e:?}"),
                Ok(_) => false,
            };
            mem.crash_torn(n);
            let d = open_mem(&mem, mem_provider(KEY32), still_options())
                .unwrap_or_else(|e| panic!("{op:?} #{n}: reopen failed: {e}"));
            write_file(&d, "f", FileKind::Wal, &[b"x"]);
            drop(d);
            mem.crash();
            let d = open_mem(&mem, mem_provider(KEY32), still_options()).expect("reopen");
            assert_eq!(
                read_all_records(&d, "f", FileKind::Wal),
                vec![b"x".to_vec()]
            );
            if !hit {
                assert!(n > 1, "{op:?}: the first open never reached the fault");
                break;
            }
        }
    }
}

/// `maybe_rotate` failing at every point on a live store: the store keeps
/// working under its old key, files written afterwards (and synced) survive
/// a crash, and rotation succeeds once the disk heals.
#[test]
fn failed_rotation_on_a_live_store_then_crash() {
    for op in OPS {
        for n in 1..=8u64 {
            let ctx = format!("failing {op:?} #{n}");
            let clock = TestClock::new(1_000);
            let mem = base(&clock);
            let plan = FaultPlan::new();
            plan.short_writes(true);
            let d = SealedDir::open(
                faulty(&mem, &plan),
                DIR,
                mem_provider(KEY16),
                clock.options(100),
            )
            .expect("open");
            let k1 = d.active_data_key();
            let before = mem.read_all(Path::new(REGISTRY)).expect("registry");
            clock.set(1_200);
            arm(&plan, op, n);
            let hit = match d.maybe_rotate() {
                Err(e) => {
                    assert_no_key_material(&e);
                    assert!(matches!(e, Error::Io { .. }), "{ctx}: {e:?}");
                    assert_eq!(d.active_data_key(), k1, "{ctx}: still the old key");
                    if op != Op::DirSync {
                        assert_eq!(
                            mem.read_all(Path::new(REGISTRY)).expect("registry"),
                            before,
                            "{ctx}"
                        );
                    }
                    true
                }
                Ok(rotated) => {
                    assert!(rotated, "{ctx}");
                    false
                }
            };
            plan.heal();
            // Keep working: a file under whatever key is active, synced.
            write_file(&d, "f2", FileKind::Wal, &[b"after the failure"]);
            let k_f2 = d.file_header("f2").expect("f2").key_id;
            assert_eq!(k_f2, d.active_data_key(), "{ctx}");
            drop(d);
            mem.crash_torn(n);
            let d = open_mem(&mem, mem_provider(KEY16), clock.options(100))
                .unwrap_or_else(|e| panic!("{ctx}: reopen failed: {e}"));
            assert_eq!(
                read_all_records(&d, "f0", FileKind::Wal),
                vec![F0.to_vec()],
                "{ctx}"
            );
            assert_eq!(
                read_all_records(&d, "f2", FileKind::Wal),
                vec![b"after the failure".to_vec()],
                "{ctx}"
            );
            if !hit {
                break;
            }
        }
    }
}

// ───────────────────────── fault injection ─────────────────────────

/// A failing write, fsync or rename during a rotating open returns `Io` and
/// leaves the registry on disk as it was; once healed, the open succeeds.
#[test]
fn failing_open_leaves_the_registry_unchanged() {
    for op in [Op::Write, Op::Sync, Op::Rename] {
        for n in 1..=2u64 {
            let clock = TestClock::new(1_000);
            let mem = base(&clock);
            let before = mem.read_all(Path::new(REGISTRY)).expect("registry");
            let plan = FaultPlan::new();
            arm(&plan, op, n);
            let res = SealedDir::open(
                faulty(&mem, &plan),
                DIR,
                rotating_provider(KEY32, KEY16),
                clock.options(100),
            );
            match res {
                Err(e @ Error::Io { .. }) => {
                    assert_no_key_material(&e);
                    assert_eq!(e.code(), ErrorCode::Io);
                    assert!(!e.is_retryable() && !e.is_corruption());
                }
                Err(e) => panic!("{op:?} #{n}: {e:?}"),
                Ok(_) if n > 1 => continue, // only one such operation
                Ok(_) => panic!("{op:?} #{n}: the fault did not fire"),
            }
            assert_eq!(mem.read_all(Path::new(REGISTRY)).expect("registry"), before);
            // The old key alone still opens it: nothing moved to the new key.
            drop(open_mem(&mem, mem_provider(KEY16), clock.options(1 << 40)).expect("old key"));
            assert_eq!(mem.read_all(Path::new(REGISTRY)).expect("registry"), before);
            plan.heal();
            let d = SealedDir::open(
                faulty(&mem, &plan),
                DIR,
                rotating_provider(KEY32, KEY16),
                clock.options(100),
            )
            .expect("healed");
            assert_eq!(read_all_records(&d, "f0", FileKind::Wal), vec![F0.to_vec()]);
            assert_ne!(mem.read_all(Path::new(REGISTRY)).expect("registry"), before);
        }
    }
}

/// A disk that fills up during the registry write: `Io` (StorageFull), the
/// registry unchanged.
#[test]
fn disk_full_during_registry_write() {
    for budget in [0u64, 10, 64, 100] {
        let clock = TestClock::new(1_000);
        let mem = base(&clock);
        let before = mem.read_all(Path::new(REGISTRY)).expect("registry");
        clock.set(5_000);
        let plan = FaultPlan::new();
        plan.disk_full_after(budget);
        let e = expect_err(
            SealedDir::open(
                faulty(&mem, &plan),
                DIR,
                mem_provider(KEY16),
                clock.options(100),
            ),
            "disk full",
        );
        assert!(
            matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull),
            "budget {budget}: {e:?}"
        );
        assert_eq!(mem.read_all(Path::new(REGISTRY)).expect("registry"), before);
    }
}

const REC: &[u8] = b"a record of some forty-odd bytes in length";

fn writer_setup(mode: Mode) -> (MemVfs, Arc<FaultPlan>, SealedDir) {
    let mem = MemVfs::new();
    let plan = FaultPlan::new();
    let d =
        SealedDir::open(faulty(&mem, &plan), DIR, mode.provider(), still_options()).expect("open");
    (mem, plan, d)
}

fn assert_poisoned(e: Error, ctx: &str) {
    assert_no_key_material(&e);
    assert!(matches!(e, Error::Poisoned { .. }), "{ctx}: {e:?}");
    assert_eq!(e.code(), ErrorCode::Poisoned);
    assert!(!e.is_retryable());
}

/// After a failed write, a writer refuses every further append, flush and
/// sync (retrying at the same offset would reuse keystream); the records
/// that reached the disk before still read back, and the torn part is
/// `Truncated`, never wrong bytes.
#[test]
fn writer_refuses_appends_after_a_failed_write() {
    for mode in Mode::ALL {
        for short in [false, true] {
            let ctx = format!("{mode:?} short {short}");
            let (_mem, plan, d) = writer_setup(mode);
            plan.short_writes(short);
            let mut w = d.create_file("w", FileKind::Wal).expect("create");
            w.append_record(REC).expect("append");
            w.sync().expect("sync");
            w.append_record(b"lost").expect("buffered");
            w.append_record(REC).expect("buffered");
            plan.fail_nth_write(1);
            let e = expect_err(w.flush(), "failing flush");
            assert!(matches!(e, Error::Io { op: "write", .. }), "{ctx}: {e:?}");
            assert_poisoned(expect_err(w.append_record(REC), "append"), &ctx);
            assert_poisoned(expect_err(w.flush(), "flush"), &ctx);
            assert_poisoned(expect_err(w.sync(), "sync"), &ctx);
            assert_poisoned(expect_err(w.append_record(b""), "append"), &ctx);
            drop(w);

            let mut got: Vec<_> = d
                .open_file("w", FileKind::Wal)
                .expect("open")
                .records()
                .collect();
            if short {
                // Half of the failed write reached the file (the short
                // record, then part of the next): it ends in a torn record.
                let e = got.pop().expect("items").expect_err("torn tail");
                assert!(matches!(e, Error::Truncated { .. }), "{ctx}: {e:?}");
                assert_eq!(got.len(), 2, "{ctx}");
            } else {
                assert_eq!(got.len(), 1, "{ctx}");
            }
            let written: [&[u8]; 3] = [REC, b"lost", REC];
            for (i, rec) in got.iter().enumerate() {
                assert_eq!(rec.as_ref().expect("whole record").1, written[i], "{ctx}");
            }
            // Poisoning is per writer: a new file works.
            write_file(&d, "w2", FileKind::Wal, &[REC]);
            assert_eq!(
                read_all_records(&d, "w2", FileKind::Wal),
                vec![REC.to_vec()]
            );
        }
    }
}

#[test]
fn writer_refuses_appends_after_a_failed_fsync() {
    for mode in Mode::ALL {
        let (_mem, plan, d) = writer_setup(mode);
        let mut w = d.create_file("w", FileKind::Wal).expect("create");
        w.append_record(REC).expect("append");
        plan.fail_nth_sync(1);
        let e = expect_err(w.sync(), "failing fsync");
        assert!(
            matches!(e, Error::Io { op: "fsync", .. }),
            "{mode:?}: {e:?}"
        );
        // No retried fsync that could "succeed" over lost pages.
        assert_poisoned(expect_err(w.sync(), "sync again"), "sync");
        assert_poisoned(expect_err(w.append_record(REC), "append"), "append");
        assert_poisoned(expect_err(w.flush(), "flush"), "flush");
    }
}

#[test]
fn writer_refuses_appends_after_disk_full_and_failed_internal_flush() {
    for mode in Mode::ALL {
        let (_mem, plan, d) = writer_setup(mode);
        let mut w = d.create_file("w", FileKind::Wal).expect("create");
        plan.disk_full_after(1000);
        // 300 KB of records: the writer flushes by itself past 256 KiB.
        let big = bytes_from_seed(5, 100_000);
        let mut err = None;
        for _ in 0..3 {
            if let Err(e) = w.append_record(&big) {
                err = Some(e);
                break;
            }
        }
        let e = err.expect("the internal flush hit the full disk");
        assert!(
            matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull),
            "{mode:?}: {e:?}"
        );
        plan.heal();
        assert_poisoned(expect_err(w.append_record(b"x"), "append"), "append");
        assert_poisoned(expect_err(w.sync(), "sync"), "sync");
    }
}

#[test]
fn failing_header_write_fails_create() {
    let (_mem, plan, d) = writer_setup(Mode::Aes256);
    plan.fail_nth_write(1);
    let e = expect_err(d.create_file("w", FileKind::Wal), "header write");
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    let e = expect_err(d.create_file("w", FileKind::Wal), "name taken");
    assert!(
        matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists),
        "{e:?}"
    );
}

/// A file appended past its last fsync and cut by a torn crash reads back
/// as a prefix of what was written: every synced record, then maybe some
/// of the rest, then a clean end or `Truncated`. Never wrong bytes.
#[test]
fn torn_tails_read_back_as_a_prefix() {
    for mode in Mode::ALL {
        for seed in 0..40u64 {
            let mem = MemVfs::new();
            let d = open_mem(&mem, mode.provider(), still_options()).expect("open");
            let payloads: Vec<Vec<u8>> = (0..12)
                .map(|i| bytes_from_seed(seed * 100 + i, (i as usize * 37 + seed as usize) % 300))
                .collect();
            let mut w = d.create_file("log", FileKind::Wal).expect("create");
            for p in &payloads[..5] {
                w.append_record(p).expect("append");
            }
            w.sync().expect("sync");
            mem.sync_dir(dir()).expect("sync dir");
            for p in &payloads[5..] {
                w.append_record(p).expect("append");
                w.flush().expect("flush");
            }
            drop(w);
            drop(d);
            mem.crash_torn(seed);
            let d = open_mem(&mem, mode.provider(), still_options()).expect("reopen");
            let r = d.open_file("log", FileKind::Wal).expect("open");
            let mut n = 0;
            for rec in r.records() {
                match rec {
                    Ok((_, p)) => {
                        assert_eq!(p, payloads[n], "{mode:?} seed {seed} record {n}");
                        n += 1;
                    }
                    Err(e) => {
                        assert!(
                            matches!(e, Error::Truncated { .. }),
                            "{mode:?} seed {seed}: {e:?}"
                        );
                    }
                }
            }
            assert!(n >= 5, "{mode:?} seed {seed}: synced records lost ({n})");
        }
    }
}
