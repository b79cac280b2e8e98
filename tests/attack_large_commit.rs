//! A large transaction's commit, as an ordinary user: its log record is
//! written a chunk at a time (stop 40: records of 256 KiB or more are
//! streamed, and a large sorted commit's keys are made internal keys as
//! they are logged). The attacks: find the transaction's plaintext in any
//! file of the store, slip a denied write into the large transaction, read
//! another user's rows back through an index built from such a commit.
//! Each must fail: the files hold no plaintext (before and after a reopen),
//! the denied write changes nothing, the policy holds through the index.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

use std::path::Path;
use std::sync::Arc;

use sealdb::vfs::{MemVfs, Vfs};
use sealdb::{Db, ErrorCode, Options, PasswordCost, Session};

const MARKER: &str = "SEALDB-PLAINTEXT-MARKER";

fn open(vfs: &Arc<MemVfs>) -> Db {
    Db::open_with(
        "/db",
        sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[7u8; 32])).unwrap(),
        Options {
            vfs: Some(vfs.clone()),
            password_cost: PasswordCost::dangerous_minimal(),
            ..Options::default()
        },
    )
    .unwrap()
}

/// Whether any file of the store holds `needle`.
fn on_disk(vfs: &MemVfs, needle: &[u8]) -> bool {
    let dir = Path::new("/db");
    vfs.list(dir).unwrap().iter().any(|name| {
        let bytes = vfs.read_all(&dir.join(name)).unwrap_or_default();
        bytes.windows(needle.len()).any(|w| w == needle)
    })
}

/// Alice loads 4,000 rows (~600 KiB: a streamed log record) in one
/// transaction, with a denied write to bob's table slipped in.
fn alices_load(alice: &Session, first: i64) {
    alice.execute("BEGIN", &[]).unwrap();
    let ins = alice
        .prepare("INSERT INTO notes (id, owner, body) VALUES (?, 'alice', ?)")
        .unwrap();
    for i in first..first + 4000 {
        let body = format!("{MARKER}-{i:06}-{}", "x".repeat(120));
        ins.execute(&[&i, &body.as_str()]).unwrap();
    }
    let e = alice
        .execute(
            "INSERT INTO secrets (id, v) VALUES (1, 'alice was here')",
            &[],
        )
        .unwrap_err();
    // A table she may not touch at all is hidden as missing.
    assert!(
        matches!(
            e.code(),
            ErrorCode::PermissionDenied | ErrorCode::SqlUnknownObject
        ),
        "{e}"
    );
    alice.execute("COMMIT", &[]).unwrap();
}

#[test]
fn a_large_commit_is_sealed_checked_and_all_or_nothing() {
    let mut n = Attacks::new("large streamed commits");
    let vfs = Arc::new(MemVfs::new());
    let db = open(&vfs);
    let root = db.root_session();
    root.run_script(
        "CREATE TABLE secrets (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO secrets VALUES (7, 'bob only');",
        |_, _| {},
    )
    .unwrap();
    own_notes(&root, &["alice", "carol"]);
    let alice = login(&db, "alice");

    // The load is committed, the denied write is not, and no file shows
    // the rows' text.
    alices_load(&alice, 1);
    n.tried();
    assert_eq!(
        run(
            &root,
            "SELECT count(*) FROM notes WHERE body LIKE 'SEALDB%'"
        )
        .unwrap(),
        "4000"
    );
    assert_eq!(
        run(&root, "SELECT id, v FROM secrets").unwrap(),
        "7|bob only"
    );
    n.tried();
    assert!(
        !on_disk(&vfs, MARKER.as_bytes()),
        "the load's plaintext is on disk"
    );

    // An index built over it (one large sorted commit whose keys are made
    // internal as they are logged) answers under the row policy: carol
    // sees none of alice's rows through it, alice all of hers.
    root.execute("CREATE INDEX notes_body ON notes (body)", &[])
        .unwrap();
    let carol = login(&db, "carol");
    let probe = format!("SELECT count(*) FROM notes WHERE body >= '{MARKER}' AND body < 'T'");
    n.tried();
    assert_eq!(run(&carol, &probe).unwrap(), "0");
    assert_eq!(run(&alice, &probe).unwrap(), "4000");
    let one = format!(
        "SELECT id FROM notes WHERE body = '{MARKER}-000042-{}'",
        "x".repeat(120)
    );
    assert_eq!(run(&alice, &one).unwrap(), "42");
    n.tried();
    assert_eq!(run(&carol, &one).unwrap(), "");
    assert!(
        !on_disk(&vfs, MARKER.as_bytes()),
        "the index's plaintext is on disk"
    );

    // A second large commit, then the store closed and opened again:
    // both loads are there, the denied writes are not, nothing on disk
    // shows the text. (A commit cut short by a crash or a failed write at
    // any point of its record is `storage_faults`'
    // `faults_during_a_commit_streamed_to_the_log`.)
    alices_load(&alice, 10_000);
    drop((alice, carol, root));
    drop(db);
    let db = open(&vfs);
    let root = db.root_session();
    n.tried();
    assert_eq!(run(&root, "SELECT count(*) FROM notes").unwrap(), "8000");
    assert_eq!(run(&root, "PRAGMA integrity_check").unwrap(), "ok");
    assert_eq!(
        run(&root, "SELECT id, v FROM secrets").unwrap(),
        "7|bob only"
    );
    let carol = login(&db, "carol");
    assert_eq!(run(&carol, &probe).unwrap(), "0");
    assert!(!on_disk(&vfs, MARKER.as_bytes()));
}
