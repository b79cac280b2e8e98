//! Secrets are types (STYLE.md 11; issue 2, "Secrets"):
//!
//! - the key types implement neither `Debug` nor `Display`, checked at
//!   compile time (a probe that resolves to an inherent constant only when
//!   the trait is implemented, the "autoref specialization" trick of the
//!   `impls` crate, written out here so no dependency is needed);
//! - no error shows a key, raw or hex (every error produced in the
//!   bad-input tests is checked by `common::assert_no_key_material`; here the
//!   providers' own error paths with printable keys are checked too);
//! - store keys never reach the disk, and data keys only in an encrypted
//!   registry while the store is encrypted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use sealdb::crypto::DataKeyRegistry;
use sealdb::vfs::{FileKind, MemVfs, SealedDir, Vfs};
use sealdb::{
    ActiveStoreKey, CallbackKeyProvider, FileKeyProvider, KeyBytes, KeyId, KeyProvider,
    MemoryKeyProvider, StoreKey, UnencryptedKeyProvider,
};

use common::*;

/// `Probe::<T>::IS_DEBUG` is the inherent constant (true) when `T: Debug`,
/// and otherwise falls back to the trait's default (false). Only works for
/// concrete types, which is all we need.
mod probe {
    use std::marker::PhantomData;

    pub struct Probe<T: ?Sized>(PhantomData<T>);

    pub trait NotDebug {
        const IS_DEBUG: bool = false;
    }
    impl<T: ?Sized> NotDebug for Probe<T> {}
    impl<T: ?Sized + std::fmt::Debug> Probe<T> {
        pub const IS_DEBUG: bool = true;
    }

    pub trait NotDisplay {
        const IS_DISPLAY: bool = false;
    }
    impl<T: ?Sized> NotDisplay for Probe<T> {}
    impl<T: ?Sized + std::fmt::Display> Probe<T> {
        pub const IS_DISPLAY: bool = true;
    }
}

macro_rules! is_debug {
    ($t:ty) => {{
        #[allow(unused_imports)]
        use probe::NotDebug as _;
        probe::Probe::<$t>::IS_DEBUG
    }};
}

macro_rules! is_display {
    ($t:ty) => {{
        #[allow(unused_imports)]
        use probe::NotDisplay as _;
        probe::Probe::<$t>::IS_DISPLAY
    }};
}

// Compile-time: these fail the build if a key type gains `Debug`/`Display`.
const _: () = assert!(!is_debug!(KeyBytes));
const _: () = assert!(!is_debug!(StoreKey));
const _: () = assert!(!is_debug!(ActiveStoreKey));
const _: () = assert!(!is_debug!(MemoryKeyProvider));
const _: () = assert!(!is_debug!(FileKeyProvider));
const _: () = assert!(!is_debug!(UnencryptedKeyProvider));
const _: () = assert!(!is_debug!(CallbackKeyProvider));
const _: () = assert!(!is_debug!(DataKeyRegistry));
const _: () = assert!(!is_debug!(SealedDir));
const _: () = assert!(!is_display!(KeyBytes));
const _: () = assert!(!is_display!(StoreKey));

// The probe itself works: it does see `Debug`/`Display` where they exist
// (so the checks above are not vacuous).
const _: () = assert!(is_debug!(KeyId));
const _: () = assert!(is_display!(KeyId));
const _: () = assert!(is_debug!(sealdb::Error));
const _: () = assert!(is_display!(sealdb::Error));
const _: () = assert!(is_debug!(Vec<u8>));
const _: () = assert!(!is_display!(Vec<u8>));

#[test]
fn key_types_have_no_debug_or_display() {
    // The same facts at run time, so they show up in the test report.
    let no_debug = [
        ("KeyBytes", is_debug!(KeyBytes)),
        ("StoreKey", is_debug!(StoreKey)),
        ("ActiveStoreKey", is_debug!(ActiveStoreKey)),
        ("MemoryKeyProvider", is_debug!(MemoryKeyProvider)),
        ("FileKeyProvider", is_debug!(FileKeyProvider)),
        ("UnencryptedKeyProvider", is_debug!(UnencryptedKeyProvider)),
        ("CallbackKeyProvider", is_debug!(CallbackKeyProvider)),
        ("DataKeyRegistry", is_debug!(DataKeyRegistry)),
    ];
    for (name, has) in no_debug {
        assert!(!has, "{name} implements Debug");
    }
    assert!(is_debug!(KeyId), "the probe detects Debug");
}

/// Error paths of the providers, with keys that are printable text (so a
/// leak would be visible): none of them shows the key.
#[test]
fn provider_errors_never_show_key_bytes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let secrets: [&[u8]; 4] = [
        b"my-secret-key-of-twenty-five",
        b"0123456789abcdef0123456789abcdef0123456789", // 42 hex digits
        b"ABCDEF0123456789ABCDEF0123456789ABCDEF0",    // odd hex
        b"printable secret of the wrong size, 44 bytes",
    ];
    for (i, s) in secrets.iter().enumerate() {
        let p = tmp.path().join(format!("k{i}"));
        std::fs::write(&p, s).expect("write");
        let e = expect_err(FileKeyProvider::new(&p), "bad key file");
        assert_no_key_material_in(&e, &[s]);
        let e = expect_err(MemoryKeyProvider::new(key(s)), "bad key");
        assert_no_key_material_in(&e, &[s]);
        let e = expect_err(StoreKey::new(key(s)), "bad key");
        assert_no_key_material_in(&e, &[s]);
        let owned = s.to_vec();
        let cb = CallbackKeyProvider::new(move |_| Ok(Some(KeyBytes::from_slice(&owned))));
        let e = match cb.active_key() {
            Ok(_) => panic!("a wrong-size key from a callback was accepted"),
            Err(e) => e,
        };
        assert_no_key_material_in(&e, &[s]);
    }
}

/// Every error a store can produce while its key is wrong, missing, or its
/// files are damaged, shown every way: no store key appears (a summary of
/// the bad-input scenarios; `bad_input.rs` checks each error as well).
#[test]
fn store_errors_never_show_key_bytes() {
    let vfs = MemVfs::new();
    let d = open_mem(&vfs, mem_provider(KEY32), still_options()).expect("open");
    write_file(&d, "f", FileKind::Wal, &[b"payload payload payload"]);
    let mut errors = Vec::new();
    fn push(errors: &mut Vec<sealdb::Error>, r: sealdb::Result<SealedDir>) {
        if let Err(e) = r {
            errors.push(e);
        }
    }
    drop(d);
    push(
        &mut errors,
        open_mem(&vfs, mem_provider(KEY32B), still_options()),
    );
    push(
        &mut errors,
        open_mem(&vfs, mem_provider(KEY16), still_options()),
    );
    push(
        &mut errors,
        open_mem(&vfs, plaintext_provider(), still_options()),
    );
    let d = open_mem(&vfs, mem_provider(KEY32), still_options()).expect("open");
    for bit in [0u64, 100, 8 * 64 + 3, 8 * 64 + 70, 8 * 64 + 8 * 40] {
        flip_bit(&vfs, &path("f"), bit);
        if let Err(e) = d
            .open_file("f", FileKind::Wal)
            .and_then(|r| r.read_record(0))
        {
            errors.push(e);
        }
        flip_bit(&vfs, &path("f"), bit);
    }
    drop(d);
    flip_bit(&vfs, Path::new(REGISTRY), 8 * 80);
    push(
        &mut errors,
        open_mem(&vfs, mem_provider(KEY32), still_options()),
    );
    assert!(errors.len() >= 9, "every scenario failed: {}", errors.len());
    for e in &errors {
        assert_no_key_material(e);
    }
}

/// Store keys never reach the disk; with encryption on, neither do data keys
/// in the clear (the registry is encrypted). Switching to plaintext writes
/// the data keys into a plaintext registry, which is exactly why they are
/// then marked exposed.
#[test]
fn key_bytes_never_reach_the_disk_in_the_clear() {
    let vfs = MemVfs::new();
    let steps: [(&[u8], Option<&[u8]>); 3] =
        [(KEY16, None), (KEY32, Some(KEY16)), (KEY24, Some(KEY32))];
    for (k, old) in steps {
        let provider: Arc<dyn KeyProvider> = match old {
            None => mem_provider(k),
            Some(o) => rotating_provider(k, o),
        };
        let d = open_mem(&vfs, provider, still_options()).expect("open");
        write_file(
            &d,
            &format!("f{}", k.len()),
            FileKind::Sstable,
            &[b"some data"],
        );
    }
    let disk: Vec<u8> = vfs
        .list(dir())
        .expect("list")
        .iter()
        .flat_map(|n| vfs.read_all(&path(n)).expect("read"))
        .collect();
    assert!(disk.len() > 3 * 64);
    for k in ALL_KEYS {
        assert!(
            !disk.windows(k.len()).any(|w| w == k),
            "a store key is on disk in the clear"
        );
    }
}

/// Issue 14, item 8: a password written without quotes (or with its
/// keyword forgotten) is a syntax error that never shows the token, in the
/// error or in the audit log.
#[test]
fn unquoted_password_never_appears_in_syntax_errors_or_the_audit_log() {
    use std::sync::Mutex;
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = seen.clone();
    let options = sealdb::Options {
        vfs: Some(Arc::new(MemVfs::new())),
        audit_sink: Some(Arc::new(move |r: &sealdb::AuditRecord| {
            sink.lock().unwrap().push(r.to_json())
        })),
        password_cost: sealdb::PasswordCost::dangerous_minimal(),
        ..sealdb::Options::default()
    };
    let db = sealdb::Db::open_with("/db", MemoryKeyProvider::new(key(KEY32)).unwrap(), options)
        .expect("open");
    let root = db.root_session();
    root.execute("CREATE USER bob", &[]).expect("user");
    let secret = "Hunter2Secret";
    let statements = [
        format!("CREATE USER carl WITH PASSWORD {secret}"),
        format!("CREATE USER carl PASSWORD {secret} LOGIN"),
        format!("ALTER USER bob WITH PASSWORD {secret}"),
        format!("ALTER ROLE bob PASSWORD \"{secret}\""),
        format!("ALTER USER bob WITH LOGIN PASSWORD 4242{secret}"),
        // The keyword forgotten: the password stands where an option belongs.
        format!("ALTER USER bob WITH {secret}"),
        format!("CREATE ROLE carl LOGIN {secret}"),
    ];
    for sql in &statements {
        let e = match root.execute(sql, &[]) {
            Ok(_) => panic!("{sql}: accepted"),
            Err(e) => e,
        };
        assert!(
            matches!(
                e,
                sealdb::Error::Sql {
                    kind: sealdb::SqlErrorKind::Syntax,
                    ..
                }
            ),
            "{sql}: {e:?}"
        );
        for shown in [e.to_string(), format!("{e:?}")] {
            assert!(
                !shown.contains(secret),
                "{sql}: the password is shown: {shown}"
            );
        }
        assert!(e.to_string().contains("not shown"), "{sql}: {e}");
    }
    // A quoted password in a statement that fails later is not shown either.
    let e = root
        .execute(&format!("CREATE USER carl PASSWORD '{secret}' BOGUS"), &[])
        .expect_err("bad option");
    assert!(!e.to_string().contains(secret), "{e}");
    // The user still works: nothing half-applied.
    root.execute(&format!("ALTER USER bob PASSWORD '{secret}'"), &[])
        .expect("quoted password");
    let mut export = Vec::new();
    db.audit_export(&mut export).expect("export");
    let export = String::from_utf8(export).expect("utf8");
    assert!(export.contains("PASSWORD <redacted>"), "{export}");
    assert!(!export.contains(secret), "{export}");
    assert!(seen.lock().unwrap().iter().all(|r| !r.contains(secret)));
}

/// Issue 14, item 8: bound values stay out of audit records unless the
/// operator opts in with `sql.audit.redact_values = false`.
#[test]
fn bound_values_are_redacted_from_the_audit_log_by_default() {
    let db = sealdb::Db::open_in_memory().expect("open");
    let root = db.root_session();
    root.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, ssn TEXT)", &[])
        .expect("table");
    root.execute("ALTER TABLE t EXPERIMENTAL_AUDIT SET READ WRITE", &[])
        .expect("audit");
    let setting = |root: &sealdb::Session| -> String {
        let rows = root
            .query("SHOW CLUSTER SETTING sql.audit.redact_values", &[])
            .expect("show")
            .collect_all()
            .expect("rows");
        rows[0].get::<String>(0).expect("text")
    };
    assert_eq!(setting(&root), "true");
    root.execute("INSERT INTO t VALUES (?, ?)", &[&1i64, &"078-05-1120"])
        .expect("insert");
    root.execute("SET CLUSTER SETTING sql.audit.redact_values = false", &[])
        .expect("opt in");
    assert_eq!(setting(&root), "false");
    root.execute("INSERT INTO t VALUES (?, ?)", &[&2i64, &"219-09-9999"])
        .expect("insert");
    let mut export = Vec::new();
    db.audit_export(&mut export).expect("export");
    let export = String::from_utf8(export).expect("utf8");
    let inserts: Vec<&str> = export
        .lines()
        .filter(|l| l.contains("\"statement\":\"INSERT INTO t VALUES (?, ?)\""))
        .collect();
    assert_eq!(inserts.len(), 2, "{export}");
    assert!(inserts[0].contains("\"values\":null"), "{}", inserts[0]);
    assert!(!export.contains("078-05-1120"), "{export}");
    assert!(
        inserts[1].contains("\"values\":[\"2\",\"219-09-9999\"]"),
        "{}",
        inserts[1]
    );
}
