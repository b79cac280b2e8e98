//! Data-key rotation, store-key rotation and cipher transitions, across
//! reopen (issue 2, "Rotation and transitions across reopen").
//!
//! A hand-set clock (`common::TestClock`) forces or prevents period
//! rotation. After every switch, every file written before it must still
//! read back, and the encryption status must say which key protects what.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use sealdb::vfs::{FileHeader, FileKind, KeyOptions, MemVfs, SealedDir, Vfs};
use sealdb::{Cipher, Error, FileKeyProvider, KeyId, KeyProvider, UnencryptedKeyProvider};

use common::*;

fn migrate(o: KeyOptions) -> KeyOptions {
    KeyOptions {
        migrate_from_plaintext: true,
        ..o
    }
}

fn registry_header(vfs: &MemVfs) -> FileHeader {
    FileHeader::decode(
        &vfs.read_all(Path::new(REGISTRY)).expect("registry"),
        Path::new(REGISTRY),
    )
    .expect("registry header")
}

/// Size on disk of a file holding `payloads` in `mode`.
fn size(mode: Mode, payloads: &[&[u8]]) -> u64 {
    HEADER
        + payloads
            .iter()
            .map(|p| mode.record_len(p.len()))
            .sum::<u64>()
}

fn key_of(d: &SealedDir, name: &str) -> KeyId {
    d.file_header(name).expect("header").key_id
}

fn assert_reads(d: &SealedDir, files: &[(&str, &[u8])]) {
    for (name, payload) in files {
        assert_eq!(
            read_all_records(d, name, FileKind::Sstable),
            vec![payload.to_vec()],
            "{name}"
        );
    }
}

#[test]
fn period_rotation_across_reopen_and_maybe_rotate() {
    let vfs = MemVfs::new();
    let clock = TestClock::new(1_000);
    let opts = || clock.options(100);

    let d = open_mem(&vfs, mem_provider(KEY32), opts()).expect("open");
    let k1 = d.active_data_key();
    let st = d.encryption_status(|_| true).expect("status");
    assert_eq!(st.store_key_id, id_of(KEY32));
    assert_eq!(st.active_data_key_id, k1);
    assert_eq!(st.active_cipher, Cipher::Aes256Ctr);
    assert_eq!(st.data_keys.len(), 1);
    let info = &st.data_keys[0];
    assert_eq!(
        (
            info.id,
            info.cipher,
            info.created_unix,
            info.store_key_id,
            info.exposed
        ),
        (k1, Cipher::Aes256Ctr, 1_000, id_of(KEY32), false)
    );
    assert!(st.files.is_empty());
    assert_eq!(st.active_share(), 1.0);
    let a: &[u8] = b"file a, under the first data key";
    write_file(&d, "a", FileKind::Sstable, &[a]);
    drop(d);
    let registry = vfs.read_all(Path::new(REGISTRY)).expect("registry");

    // Within the period: same key, registry not rewritten.
    clock.set(1_099);
    let d = open_mem(&vfs, mem_provider(KEY32), opts()).expect("reopen");
    assert_eq!(d.active_data_key(), k1);
    assert!(!d.maybe_rotate().expect("maybe_rotate"));
    assert_eq!(
        vfs.read_all(Path::new(REGISTRY)).expect("registry"),
        registry
    );
    drop(d);

    // The period has passed: a new key on open.
    clock.set(1_100);
    let d = open_mem(&vfs, mem_provider(KEY32), opts()).expect("reopen");
    let k2 = d.active_data_key();
    assert_ne!(k2, k1);
    let b: &[u8] = b"file b, under the second data key, a little longer";
    write_file(&d, "b", FileKind::Sstable, &[b]);
    assert_eq!((key_of(&d, "a"), key_of(&d, "b")), (k1, k2));
    let st = d.encryption_status(|_| true).expect("status");
    assert_eq!(
        st.data_keys
            .iter()
            .map(|k| (k.id, k.created_unix))
            .collect::<Vec<_>>(),
        vec![(k1, 1_000), (k2, 1_100)]
    );
    let (sa, sb) = (size(Mode::Aes256, &[a]), size(Mode::Aes256, &[b]));
    let sizes: Vec<_> = st
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.size, f.key_id))
        .collect();
    assert_eq!(sizes, vec![("a", sa, k1), ("b", sb, k2)]);
    assert_eq!(st.total_bytes(), sa + sb);
    assert_eq!(st.active_bytes(), sb);
    assert_eq!(st.active_share(), sb as f64 / (sa + sb) as f64);
    // Only the files the caller counts as live are reported.
    let only_a = d.encryption_status(|n| n == "a").expect("status");
    assert_eq!(only_a.files.len(), 1);
    assert_eq!(only_a.active_share(), 0.0);

    // Periodic check on a live store.
    clock.set(1_150);
    assert!(!d.maybe_rotate().expect("not due"));
    assert_eq!(d.active_data_key(), k2);
    clock.set(1_200);
    assert!(d.maybe_rotate().expect("due"));
    let k3 = d.active_data_key();
    assert!(k3 != k1 && k3 != k2);
    let st = d.encryption_status(|_| true).expect("status");
    assert_eq!(st.active_share(), 0.0, "no file under the new key yet");
    let c: &[u8] = b"c";
    write_file(&d, "c", FileKind::Sstable, &[c]);
    let sc = size(Mode::Aes256, &[c]);
    let st = d.encryption_status(|_| true).expect("status");
    assert_eq!(st.active_share(), sc as f64 / (sa + sb + sc) as f64);
    drop(d);

    // The rotation was durable: a reopen (not due) finds k3 active, and
    // everything reads.
    vfs.crash();
    let d = open_mem(&vfs, mem_provider(KEY32), opts()).expect("reopen");
    assert_eq!(d.active_data_key(), k3);
    assert_eq!(
        d.encryption_status(|_| true)
            .expect("status")
            .data_keys
            .len(),
        3
    );
    assert_reads(&d, &[("a", a), ("b", b), ("c", c)]);
}

#[test]
fn plaintext_to_encrypted() {
    let vfs = MemVfs::new();
    let d = open_mem(&vfs, plaintext_provider(), still_options()).expect("plaintext store");
    let st = d.encryption_status(|_| true).expect("status");
    assert!(st.store_key_id.is_plaintext() && st.active_data_key_id.is_plaintext());
    assert_eq!(st.active_cipher, Cipher::Plaintext);
    assert!(st.data_keys.is_empty());
    let p: &[u8] = b"written while the store was plaintext";
    write_file(&d, "p", FileKind::Sstable, &[p]);
    assert_eq!(registry_header(&vfs).cipher, Cipher::Plaintext);
    drop(d);

    // A key on a plaintext store must be asked for explicitly.
    let e = expect_err(
        open_mem(&vfs, mem_provider(KEY16), still_options()),
        "key on a plaintext store",
    );
    assert!(matches!(e, Error::PlaintextStore { .. }), "{e:?}");

    let d = open_mem(&vfs, mem_provider(KEY16), migrate(still_options())).expect("migrate");
    let k = d.active_data_key();
    assert!(!k.is_plaintext());
    let e: &[u8] = b"written after the switch to AES-128";
    write_file(&d, "e", FileKind::Sstable, &[e]);
    assert_reads(&d, &[("p", p), ("e", e)]);
    let h = registry_header(&vfs);
    assert_eq!((h.cipher, h.key_id), (Cipher::Aes128Ctr, id_of(KEY16)));
    drop(d);

    // Now an ordinary encrypted store: no migration flag needed.
    let d = open_mem(&vfs, mem_provider(KEY16), still_options()).expect("reopen");
    assert_eq!(d.active_data_key(), k);
    assert_reads(&d, &[("p", p), ("e", e)]);
    let st = d.encryption_status(|_| true).expect("status");
    assert_eq!(st.store_key_id, id_of(KEY16));
    assert_eq!(st.active_cipher, Cipher::Aes128Ctr);
    assert_eq!(st.data_keys.len(), 1);
    assert!(!st.data_keys[0].exposed);
    let files: Vec<_> = st
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.cipher, f.key_id))
        .collect();
    assert_eq!(
        files,
        vec![
            ("e", Cipher::Aes128Ctr, k),
            ("p", Cipher::Plaintext, KeyId::PLAINTEXT)
        ]
    );
    let (sp, se) = (size(Mode::Plaintext, &[p]), size(Mode::Aes128, &[e]));
    assert_eq!(st.active_share(), se as f64 / (sp + se) as f64);
    // The store key alone can no longer be dropped for plaintext silently.
    drop(d);
    let e2 = expect_err(
        open_mem(&vfs, plaintext_provider(), still_options()),
        "plaintext provider on the now encrypted store",
    );
    assert!(
        matches!(e2, Error::KeyUnavailable { key_id } if key_id == id_of(KEY16)),
        "{e2:?}"
    );
}

#[test]
fn encrypted_to_plaintext_exposes_old_keys_and_back() {
    let vfs = MemVfs::new();
    let d = open_mem(&vfs, mem_provider(KEY32), still_options()).expect("open");
    let k1 = d.active_data_key();
    let e1: &[u8] = b"encrypted before the switch";
    write_file(&d, "e1", FileKind::Sstable, &[e1]);
    drop(d);

    let e = expect_err(
        open_mem(&vfs, plaintext_provider(), still_options()),
        "plaintext without the old key",
    );
    assert!(
        matches!(e, Error::KeyUnavailable { key_id } if key_id == id_of(KEY32)),
        "{e:?}"
    );

    let off: Arc<dyn KeyProvider> = Arc::new(
        UnencryptedKeyProvider::dangerous_new()
            .with_old_key(key(KEY32))
            .expect("old key"),
    );
    let d = open_mem(&vfs, off, still_options()).expect("switch to plaintext");
    let st = d.encryption_status(|_| true).expect("status");
    assert!(st.store_key_id.is_plaintext() && st.active_data_key_id.is_plaintext());
    assert_eq!(st.active_cipher, Cipher::Plaintext);
    assert_eq!(st.data_keys.len(), 1);
    assert_eq!(st.data_keys[0].id, k1);
    assert!(st.data_keys[0].exposed, "old data keys are exposed");
    let p1: &[u8] = b"plaintext after the switch";
    write_file(&d, "p1", FileKind::Sstable, &[p1]);
    assert_eq!(d.file_header("p1").expect("p1").cipher, Cipher::Plaintext);
    assert_reads(&d, &[("e1", e1), ("p1", p1)]);
    assert_eq!(registry_header(&vfs).cipher, Cipher::Plaintext);
    drop(d);

    // No key needed any more; exposure is remembered.
    let d = open_mem(&vfs, plaintext_provider(), still_options()).expect("plaintext reopen");
    assert_reads(&d, &[("e1", e1), ("p1", p1)]);
    let st = d.encryption_status(|_| true).expect("status");
    assert!(st.data_keys.iter().all(|k| k.exposed));
    let files: Vec<_> = st
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.key_id))
        .collect();
    assert_eq!(files, vec![("e1", k1), ("p1", KeyId::PLAINTEXT)]);
    drop(d);

    // And back to encrypted, with a different key size.
    let d = open_mem(&vfs, mem_provider(KEY16), migrate(still_options())).expect("re-encrypt");
    let k2 = d.active_data_key();
    assert!(!k2.is_plaintext() && k2 != k1);
    let e2: &[u8] = b"encrypted again";
    write_file(&d, "e2", FileKind::Sstable, &[e2]);
    assert_reads(&d, &[("e1", e1), ("p1", p1), ("e2", e2)]);
    drop(d);
    let d = open_mem(&vfs, mem_provider(KEY16), still_options()).expect("reopen");
    let st = d.encryption_status(|_| true).expect("status");
    // Both keys were made at the same (frozen) instant, so the report's
    // order between them is by random id: compare in a fixed order.
    let mut keys: Vec<_> = st
        .data_keys
        .iter()
        .map(|k| (k.id, k.cipher, k.exposed))
        .collect();
    keys.sort_by_key(|k| k.0 != k1);
    assert_eq!(
        keys,
        vec![
            (k1, Cipher::Aes256Ctr, true),
            (k2, Cipher::Aes128Ctr, false)
        ]
    );
    assert_reads(&d, &[("e1", e1), ("p1", p1), ("e2", e2)]);
}

/// (active store key, previous store key, cipher of new files, file name).
type Step = (&'static [u8], Option<&'static [u8]>, Cipher, &'static str);

#[test]
fn aes128_to_aes256_and_back_and_to_aes192() {
    let vfs = MemVfs::new();
    let mut files: Vec<(&str, &[u8], Cipher)> = Vec::new();
    let mut seen = HashSet::new();
    let steps: [Step; 4] = [
        (KEY16, None, Cipher::Aes128Ctr, "s128"),
        (KEY32, Some(KEY16), Cipher::Aes256Ctr, "s256"),
        (KEY16, Some(KEY32), Cipher::Aes128Ctr, "s128b"),
        (KEY24, Some(KEY16), Cipher::Aes192Ctr, "s192"),
    ];
    for (new, old, cipher, name) in steps {
        if let Some(old) = old {
            // The new key alone cannot read the registry yet...
            let e = expect_err(
                open_mem(&vfs, mem_provider(new), still_options()),
                "new key alone before rotation",
            );
            assert!(
                matches!(e, Error::KeyUnavailable { key_id } if key_id == id_of(old)),
                "{e:?}"
            );
        }
        let provider = match old {
            Some(old) => rotating_provider(new, old),
            None => mem_provider(new),
        };
        let d = open_mem(&vfs, provider, still_options()).expect("open with new + old");
        let k = d.active_data_key();
        assert!(seen.insert(k), "a fresh data key for every switch");
        let st = d.encryption_status(|_| true).expect("status");
        assert_eq!((st.store_key_id, st.active_cipher), (id_of(new), cipher));
        files.push((name, name.as_bytes(), cipher));
        write_file(&d, name, FileKind::Sstable, &[name.as_bytes()]);
        drop(d);
        // ...and after one open with both, the new key alone suffices.
        let d = open_mem(&vfs, mem_provider(new), still_options()).expect("new key alone");
        assert_eq!(d.active_data_key(), k);
        for (n, payload, c) in &files {
            assert_eq!(
                read_all_records(&d, n, FileKind::Sstable),
                vec![payload.to_vec()]
            );
            assert_eq!(d.file_header(n).expect("header").cipher, *c);
        }
        drop(d);
    }
    let d = open_mem(&vfs, mem_provider(KEY24), still_options()).expect("open");
    let st = d.encryption_status(|_| true).expect("status");
    let creators: Vec<_> = st
        .data_keys
        .iter()
        .map(|k| (k.cipher, k.store_key_id))
        .collect();
    // All four keys were created at the same (frozen) instant; compare as sets.
    let want = [
        (Cipher::Aes128Ctr, id_of(KEY16)),
        (Cipher::Aes256Ctr, id_of(KEY32)),
        (Cipher::Aes128Ctr, id_of(KEY16)),
        (Cipher::Aes192Ctr, id_of(KEY24)),
    ];
    assert_eq!(creators.len(), 4);
    for w in want {
        assert_eq!(
            creators.iter().filter(|c| **c == w).count(),
            want.iter().filter(|x| **x == w).count()
        );
    }
}

#[test]
fn store_key_rotation_needs_the_old_key_once() {
    let vfs = MemVfs::new();
    let d = open_mem(&vfs, mem_provider(KEY32), still_options()).expect("open");
    let k1 = d.active_data_key();
    let a: &[u8] = b"written under the first store key";
    write_file(&d, "a", FileKind::Sstable, &[a]);
    drop(d);
    let registry = vfs.read_all(Path::new(REGISTRY)).expect("registry");

    // New key only, before the registry was rewritten: names the old key.
    let e = expect_err(
        open_mem(&vfs, mem_provider(KEY32B), still_options()),
        "new key alone",
    );
    assert!(
        matches!(e, Error::KeyUnavailable { key_id } if key_id == id_of(KEY32)),
        "{e:?}"
    );
    assert!(e.to_string().contains(&id_of(KEY32).to_string()));
    assert_eq!(
        vfs.read_all(Path::new(REGISTRY)).expect("registry"),
        registry
    );

    // New + old: the registry moves to the new key, a new data key is made.
    let d = open_mem(&vfs, rotating_provider(KEY32B, KEY32), still_options()).expect("rotate");
    let k2 = d.active_data_key();
    assert_ne!(k2, k1);
    let st = d.encryption_status(|_| true).expect("status");
    assert_eq!(st.store_key_id, id_of(KEY32B));
    let creators: Vec<_> = st
        .data_keys
        .iter()
        .map(|k| (k.id, k.store_key_id))
        .collect();
    assert!(creators.contains(&(k1, id_of(KEY32))) && creators.contains(&(k2, id_of(KEY32B))));
    assert_eq!(registry_header(&vfs).key_id, id_of(KEY32B));
    assert_reads(&d, &[("a", a)]);
    let b: &[u8] = b"written under the second store key";
    write_file(&d, "b", FileKind::Sstable, &[b]);
    drop(d);

    // Now the new key alone suffices, and the old one alone does not.
    let d = open_mem(&vfs, mem_provider(KEY32B), still_options()).expect("new key alone");
    assert_eq!(d.active_data_key(), k2);
    assert_reads(&d, &[("a", a), ("b", b)]);
    drop(d);
    let e = expect_err(
        open_mem(&vfs, mem_provider(KEY32), still_options()),
        "old key alone",
    );
    assert!(
        matches!(e, Error::KeyUnavailable { key_id } if key_id == id_of(KEY32B)),
        "{e:?}"
    );
}

/// The same rotation with key files (`FileKeyProvider::with_old_key_file`).
#[test]
fn store_key_rotation_with_key_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (old, new) = (tmp.path().join("old.key"), tmp.path().join("new.key"));
    std::fs::write(&old, hex(KEY24)).expect("write");
    std::fs::write(&new, format!("{}\n", hex(KEY16))).expect("write");
    let file_provider = |with_old: bool| -> Arc<dyn KeyProvider> {
        let p = FileKeyProvider::new(&new).expect("new key file");
        Arc::new(if with_old {
            p.with_old_key_file(&old).expect("old key file")
        } else {
            p
        })
    };
    let vfs = MemVfs::new();
    let first = Arc::new(FileKeyProvider::new(&old).expect("old key file"));
    assert_eq!(first.key_id(), id_of(KEY24));
    let d = open_mem(&vfs, first, still_options()).expect("open");
    write_file(&d, "a", FileKind::Wal, &[b"aaa"]);
    drop(d);
    let e = expect_err(
        open_mem(&vfs, file_provider(false), still_options()),
        "new only",
    );
    assert!(
        matches!(e, Error::KeyUnavailable { key_id } if key_id == id_of(KEY24)),
        "{e:?}"
    );
    drop(open_mem(&vfs, file_provider(true), still_options()).expect("new + old"));
    let d = open_mem(&vfs, file_provider(false), still_options()).expect("new only, after");
    assert_eq!(
        read_all_records(&d, "a", FileKind::Wal),
        vec![b"aaa".to_vec()]
    );
    assert_eq!(
        d.encryption_status(|_| true).expect("st").active_cipher,
        Cipher::Aes128Ctr
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Old data keys stay as long as a file uses them; `retain_data_keys`
/// forgets the others (durably), never the active one.
#[test]
fn retain_data_keys_forgets_only_unused_keys() {
    let vfs = MemVfs::new();
    let clock = TestClock::new(10_000);
    let d = open_mem(&vfs, mem_provider(KEY16), clock.options(10)).expect("open");
    let k1 = d.active_data_key();
    write_file(&d, "a", FileKind::Sstable, &[b"a"]);
    clock.set(10_010);
    assert!(d.maybe_rotate().expect("rotate"));
    let k2 = d.active_data_key();
    write_file(&d, "b", FileKind::Sstable, &[b"b"]);
    clock.set(10_020);
    assert!(d.maybe_rotate().expect("rotate"));
    let k3 = d.active_data_key();
    assert_eq!(
        d.encryption_status(|_| true).expect("st").data_keys.len(),
        3
    );

    // Nothing to drop while every key is in use (the active one always is).
    assert!(!d
        .retain_data_keys(&HashSet::from([k1, k2]))
        .expect("retain"));
    // "a" was compacted away: k1 goes.
    vfs.remove(&path("a")).expect("rm");
    assert!(d.retain_data_keys(&HashSet::from([k2])).expect("retain"));
    let ids: Vec<_> = d
        .encryption_status(|_| true)
        .expect("st")
        .data_keys
        .iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(ids, vec![k2, k3]);
    drop(d);

    vfs.crash();
    let d = open_mem(&vfs, mem_provider(KEY16), clock.options(10)).expect("reopen");
    let ids: Vec<_> = d
        .encryption_status(|_| true)
        .expect("st")
        .data_keys
        .iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(ids, vec![k2, k3], "the forgetting was durable");
    assert_eq!(
        read_all_records(&d, "b", FileKind::Sstable),
        vec![b"b".to_vec()]
    );

    // A file that still needed a forgotten key names it.
    let e = d.retain_data_keys(&HashSet::new()).expect("retain");
    assert!(e, "k2 dropped");
    let err = expect_err(d.open_file("b", FileKind::Sstable), "forgotten key");
    assert!(
        matches!(&err, Error::DataKeyUnknown { key_id, file } if *key_id == k2 && file == &path("b")),
        "{err:?}"
    );
    assert_eq!(
        d.encryption_status(|_| true).expect("st").data_keys.len(),
        1,
        "the active key is never dropped"
    );
}

/// The registry and temporary files are not in the status; files whose
/// header cannot be read are skipped, not fatal.
#[test]
fn encryption_status_lists_only_sealed_data_files() {
    let vfs = MemVfs::new();
    let d = open_mem(&vfs, mem_provider(KEY32), still_options()).expect("open");
    write_file(&d, "a", FileKind::Wal, &[b"x"]);
    d.write_atomic("MANIFEST", FileKind::Manifest, b"m")
        .expect("atomic");
    vfs.put_file(&path("junk"), b"not a sealed file");
    vfs.put_file(&path("half.tmp"), b"");
    let st = d.encryption_status(|_| true).expect("status");
    let names: Vec<_> = st.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["MANIFEST", "a"]);
    assert!(st.files.iter().all(|f| f.key_id == d.active_data_key()));
    assert_eq!(st.active_share(), 1.0);
    let kinds: Vec<_> = st.files.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, vec![FileKind::Manifest, FileKind::Wal]);
    assert!(vfs
        .list(dir())
        .expect("list")
        .contains(&"KEYREGISTRY".to_string()));
}
