//! Key files and passphrases (issue 14, item 7), on real directories.
//!
//! - A key file holds hex only. A passphrase-looking file (16, 24 or 32
//!   printable bytes, which used to become the AES key byte for byte, so a
//!   dictionary search against the public key id found it at once) is
//!   refused with a typed error that says what to use instead.
//! - `PassphraseKeyProvider` stretches a passphrase with argon2id and a
//!   per-store salt kept in `KEYDERIVATION`: the same passphrase gives
//!   different keys in different stores; a wrong passphrase, a damaged or
//!   missing header, or a header whose cost was lowered, fail closed;
//!   changing the passphrase and moving from a key file work.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use sealdb::crypto::provider::generate_key_file;
use sealdb::vfs::key_derivation_file::KEY_DERIVATION_FILE;
use sealdb::{Db, Error, FileKeyProvider, KdfParams, KeyBytes, PassphraseKeyProvider};

const PASS: &str = "correct horse battery staple";

fn cheap(p: &str) -> PassphraseKeyProvider {
    PassphraseKeyProvider::new(p)
        .unwrap()
        .with_params(KdfParams::dangerous_minimal())
}

fn write_rows(dir: &Path, provider: impl sealdb::KeyProvider + 'static) {
    let db = Db::open(dir, provider).unwrap();
    let root = db.root_session();
    root.execute("CREATE TABLE IF NOT EXISTS t (v TEXT)", &[])
        .unwrap();
    root.execute("INSERT INTO t VALUES ('kept')", &[]).unwrap();
}

fn count(db: &Db) -> i64 {
    db.root_session()
        .query("SELECT count(*) FROM t", &[])
        .unwrap()
        .collect_all()
        .unwrap()[0]
        .get(0)
        .unwrap()
}

fn open_err(dir: &Path, provider: impl sealdb::KeyProvider + 'static) -> Error {
    match Db::open(dir, provider) {
        Ok(_) => panic!("opened"),
        Err(e) => e,
    }
}

#[test]
fn passphrase_looking_key_files_are_refused_with_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    for pass in [
        &b"sixteen byte pw!"[..],
        &b"twenty-four bytes passwd"[..],
        &b"correct horse battery staple!!!!"[..],
        &b"correct horse battery staple!!!!\n"[..],
    ] {
        let p = tmp.path().join("pass.key");
        std::fs::write(&p, pass).unwrap();
        let e = match FileKeyProvider::new(&p) {
            Ok(_) => panic!("{:?} became a key", String::from_utf8_lossy(pass)),
            Err(e) => e,
        };
        assert!(matches!(e, Error::InvalidKey { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("hex digits") && msg.contains("passphrase"),
            "{msg}"
        );
        assert!(
            !msg.contains(std::str::from_utf8(pass).unwrap().trim()),
            "{msg}"
        );
    }
    // Raw binary keys too: the one format is the generated one.
    let p = tmp.path().join("raw.key");
    std::fs::write(&p, [0x9cu8; 32]).unwrap();
    let e = FileKeyProvider::new(&p)
        .err()
        .expect("raw binary key accepted");
    assert!(
        matches!(e, Error::InvalidKey { .. }) && e.to_string().contains("hex"),
        "{e}"
    );
    let g = tmp.path().join("gen.key");
    let id = generate_key_file(&g, 256).unwrap();
    assert_eq!(FileKeyProvider::new(&g).unwrap().key_id(), id);
}

#[test]
fn a_passphrase_opens_its_store_and_nothing_else_does() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    write_rows(&a, cheap(PASS));
    write_rows(&b, cheap(PASS));
    // A salt per store: the same passphrase makes different store keys.
    let id = |dir: &PathBuf| {
        Db::open(dir, cheap(PASS))
            .unwrap()
            .engine()
            .sealed_dir()
            .store_key_id()
    };
    assert_ne!(id(&a), id(&b));
    let header = std::fs::read(a.join(KEY_DERIVATION_FILE)).unwrap();
    assert!(header.starts_with(b"SEALKDF\n"));
    assert!(
        !header.windows(5).any(|w| w == b"horse"),
        "the passphrase is not stored"
    );
    assert_eq!(count(&Db::open(&a, cheap(PASS)).unwrap()), 1);

    let e = open_err(&a, cheap("correct horse battery stapler"));
    assert!(matches!(e, Error::KeyUnavailable { .. }), "{e:?}");
    let e = PassphraseKeyProvider::new("")
        .err()
        .expect("empty passphrase");
    assert!(matches!(e, Error::InvalidKey { .. }));
    // The default provider refuses a store made with a weaker cost
    // (rather than derive at whatever cost the header names).
    let e = open_err(&a, PassphraseKeyProvider::new(PASS).unwrap());
    assert!(matches!(e, Error::InvalidKey { .. }), "{e:?}");
    assert!(e.to_string().contains("weaker"), "{e}");
    // A passphrase file works like the passphrase (one final line end dropped).
    let f = tmp.path().join("pass.txt");
    std::fs::write(&f, format!("{PASS}\n")).unwrap();
    let p = PassphraseKeyProvider::from_file(&f)
        .unwrap()
        .with_params(KdfParams::dangerous_minimal());
    assert_eq!(count(&Db::open(&a, p).unwrap()), 1);
}

#[test]
fn a_tampered_or_missing_key_derivation_header_fails_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    write_rows(&dir, cheap(PASS));
    let path = dir.join(KEY_DERIVATION_FILE);
    let good = std::fs::read(&path).unwrap();

    // Another salt (checksum fixed, as anyone can): another key.
    let mut other = good.clone();
    other[30] ^= 0xff;
    let crc = crc32fast::hash(&other[..40]);
    other[40..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &other).unwrap();
    let e = open_err(&dir, cheap(PASS));
    assert!(matches!(e, Error::KeyUnavailable { .. }), "{e:?}");
    // A damaged byte: corruption.
    let mut bad = good.clone();
    bad[20] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    assert!(open_err(&dir, cheap(PASS)).is_corruption());
    // Missing: a new salt is tried, gives another key, and nothing is
    // written (the store is not taken over).
    std::fs::remove_file(&path).unwrap();
    let e = open_err(&dir, cheap(PASS));
    assert!(matches!(e, Error::KeyUnavailable { .. }), "{e:?}");
    assert!(
        !path.exists(),
        "a header was written for a store that did not open"
    );
    std::fs::write(&path, &good).unwrap();
    assert_eq!(count(&Db::open(&dir, cheap(PASS)).unwrap()), 1);
}

#[test]
fn changing_the_passphrase_and_moving_from_a_key_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let key = tmp.path().join("store.key");
    generate_key_file(&key, 256).unwrap();
    write_rows(&dir, FileKeyProvider::new(&key).unwrap());
    assert!(!dir.join(KEY_DERIVATION_FILE).exists());
    // To a passphrase, offering the old key once.
    let e = open_err(&dir, cheap(PASS));
    assert!(matches!(e, Error::KeyUnavailable { .. }), "{e:?}");
    assert!(!dir.join(KEY_DERIVATION_FILE).exists());
    let raw = sealdb::crypto::provider::read_key_file(&key).unwrap();
    write_rows(&dir, cheap(PASS).with_old_key(raw).unwrap());
    assert!(dir.join(KEY_DERIVATION_FILE).exists());
    assert_eq!(count(&Db::open(&dir, cheap(PASS)).unwrap()), 2);
    assert!(Db::open(&dir, FileKeyProvider::new(&key).unwrap()).is_err());
    // A new passphrase, offering the old one once.
    let new = "purple monkey dishwasher";
    write_rows(&dir, cheap(new).with_old_passphrase(PASS).unwrap());
    assert_eq!(count(&Db::open(&dir, cheap(new)).unwrap()), 3);
    let e = open_err(&dir, cheap(PASS));
    assert!(matches!(e, Error::KeyUnavailable { .. }), "{e:?}");
    // And the provider is not a key file in disguise.
    let e = cheap(new)
        .with_old_key(KeyBytes::from_slice(b"short"))
        .err();
    assert!(matches!(e, Some(Error::InvalidKey { .. })));
}

/// The id of the key `db`'s provider encrypts under now.
fn active_key_id(db: &Db) -> sealdb::KeyId {
    match db
        .engine()
        .sealed_dir()
        .key_provider()
        .active_key()
        .unwrap()
    {
        sealdb::crypto::ActiveStoreKey::Key(k) => k.id(),
        sealdb::crypto::ActiveStoreKey::DangerousPlaintext => panic!("plaintext"),
    }
}

/// A checkpoint and a restore run from an open passphrase-keyed store
/// make stores under the same passphrase, and leave the open store's
/// provider on its own salt. Before: a checkpoint lacked the salt (it did
/// not open: "store key … is not available") and made the live provider
/// derive a new one, as `RESTORE FROM` did, so the open store's next
/// registry write would have been under a key no passphrase opens.
#[test]
fn checkpoints_and_restores_of_a_passphrase_keyed_store_keep_its_salt() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, cp, bk, restored) = (
        tmp.path().join("src"),
        tmp.path().join("cp"),
        tmp.path().join("bk"),
        tmp.path().join("restored"),
    );
    write_rows(&src, cheap(PASS));
    let db = Db::open(&src, cheap(PASS)).unwrap();
    let live = active_key_id(&db);
    assert_eq!(db.engine().sealed_dir().store_key_id(), live);
    db.checkpoint(&cp).unwrap();
    assert_eq!(active_key_id(&db), live);
    let root = db.root_session();
    root.execute(&format!("BACKUP TO '{}'", bk.display()), &[])
        .unwrap();
    root.execute(
        &format!(
            "RESTORE FROM '{}' TO '{}'",
            bk.display(),
            restored.display()
        ),
        &[],
    )
    .unwrap();
    assert_eq!(active_key_id(&db), live);
    root.execute("INSERT INTO t VALUES ('after')", &[]).unwrap();
    drop(root);
    drop(db);
    assert_eq!(count(&Db::open(&src, cheap(PASS)).unwrap()), 2);
    assert_eq!(count(&Db::open(&cp, cheap(PASS)).unwrap()), 1);
    assert_eq!(count(&Db::open(&restored, cheap(PASS)).unwrap()), 1);
    let e = open_err(&restored, cheap("another passphrase"));
    assert!(matches!(e, Error::KeyUnavailable { .. }), "{e:?}");

    // One provider, two stores with different salts: the second is refused.
    let other = tmp.path().join("other");
    write_rows(&other, cheap(PASS));
    let shared = std::sync::Arc::new(cheap(PASS));
    let _a = Db::open(&src, shared.clone()).unwrap();
    let e = open_err(&other, shared.clone());
    assert!(matches!(e, Error::KeyProvider { .. }), "{e:?}");
    assert!(e.to_string().contains("another salt"), "{e}");
}

/// A backup of a passphrase-keyed store records the store's salt and
/// cost beside its store-key wrap (a "store passphrase" wrap), so the
/// store's passphrase alone unlocks it away from the store: restored
/// under a key held in memory, and under a fresh provider of the same
/// passphrase (a new salt); verified; shown by SQL. A wrong passphrase
/// is a typed error naming the wrap; an edited salt is refused.
#[test]
fn a_backup_of_a_passphrase_keyed_store_opens_with_the_store_passphrase_alone() {
    use sealdb::backup::{self, BackupKeys, BackupOptions, RestoreOptions, WrapKind};
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n);
    write_rows(&p("src"), cheap(PASS));
    let db = Db::open(p("src"), cheap(PASS)).unwrap();
    let live = active_key_id(&db);
    db.backup(p("bk"), &BackupOptions::default(), |_| {})
        .unwrap();
    let rows = db
        .root_session()
        .query(&format!("SHOW BACKUP '{}'", p("bk").display()), &[])
        .unwrap()
        .collect_all()
        .unwrap();
    let wraps: Vec<String> = rows
        .iter()
        .filter(|r| r.get::<String>(0).unwrap() == "key_wrap")
        .map(|r| r.get::<String>(1).unwrap())
        .collect();
    assert_eq!(
        wraps,
        [format!(
            "store passphrase (store key {live}, argon2id m=8 KiB, t=1, p=1)"
        )]
    );
    drop(db);

    let by_pass = BackupKeys::passphrase(PASS);
    let info = backup::show(&p("bk"), &by_pass, None).unwrap();
    assert_eq!(
        info.wraps,
        [WrapKind::StorePassphrase {
            key_id: live,
            params: KdfParams::dangerous_minimal()
        }]
    );
    backup::verify(&p("bk"), &by_pass, None, |_| {}).unwrap();
    let fresh = BackupKeys::provider(std::sync::Arc::new(cheap(PASS)));
    backup::verify(&p("bk"), &fresh, None, |_| {}).unwrap();

    // Under another key provider, unlocked by the passphrase.
    let mem = || sealdb::MemoryKeyProvider::new(KeyBytes::from_slice(&[7u8; 32])).unwrap();
    let opts = |keys: BackupKeys| RestoreOptions {
        keys,
        threads: 1,
        ..RestoreOptions::default()
    };
    Db::restore(
        p("bk"),
        p("under-key"),
        mem(),
        &opts(by_pass.clone()),
        |_| {},
    )
    .unwrap();
    assert_eq!(count(&Db::open(p("under-key"), mem()).unwrap()), 1);
    assert!(!p("under-key").join(KEY_DERIVATION_FILE).exists());
    // Under the same passphrase, nothing else given: the restoring
    // provider derives the backup's key from the recorded salt, and the
    // new store has a salt of its own.
    Db::restore(
        p("bk"),
        p("same"),
        cheap(PASS),
        &RestoreOptions::default(),
        |_| {},
    )
    .unwrap();
    assert_eq!(count(&Db::open(p("same"), cheap(PASS)).unwrap()), 1);
    assert_ne!(
        std::fs::read(p("src").join(KEY_DERIVATION_FILE)).unwrap(),
        std::fs::read(p("same").join(KEY_DERIVATION_FILE)).unwrap()
    );

    // A wrong passphrase names the wrap; nothing is restored.
    for keys in [
        BackupKeys::passphrase("another passphrase"),
        BackupKeys::provider(std::sync::Arc::new(cheap("another passphrase"))),
    ] {
        match Db::restore(p("bk"), p("wrong"), mem(), &opts(keys), |_| {}) {
            Err(Error::BackupKey { tried, .. }) => assert!(
                tried.starts_with(&format!("wrap 1 (store passphrase (store key {live}"))
                    && tried.contains("wrong store passphrase"),
                "{tried}"
            ),
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("restored with a wrong passphrase"),
        }
        assert!(!p("wrong").exists());
    }

    // The salt edited (both checksums fixed, as an attacker would): the
    // passphrase derives another key, and the open store's own provider,
    // which holds the key by its id, sees the sealed copy differ.
    let keys_file = p("bk").join(backup::KEYS_FILE);
    let mut b = std::fs::read(&keys_file).unwrap();
    let hdr = 8 + 2 + 2 + 1;
    assert_eq!(&b[hdr..hdr + 8], b"SEALKDF\n");
    b[hdr + 30] ^= 0x40;
    let crc = crc32fast::hash(&b[hdr..hdr + 40]);
    b[hdr + 40..hdr + 44].copy_from_slice(&crc.to_le_bytes());
    let n = b.len() - 4;
    let crc = crc32fast::hash(&b[..n]);
    b[n..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&keys_file, &b).unwrap();
    let e = backup::verify(&p("bk"), &by_pass, None, |_| {}).unwrap_err();
    assert!(e.to_string().contains("wrong store passphrase"), "{e}");
    let db = Db::open(p("src"), cheap(PASS)).unwrap();
    let bound = BackupKeys::provider(db.engine().sealed_dir().key_provider().clone());
    let e = backup::verify(&p("bk"), &bound, None, |_| {}).unwrap_err();
    assert!(e.to_string().contains("damaged or was altered"), "{e}");
}
