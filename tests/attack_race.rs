//! Attacks on the security catalog and the schema through concurrent
//! sessions (issue 13, class 2: lost updates).
//!
//! A statement that read the catalog before waiting for the writer slot
//! and published its change afterwards would overwrite whatever was
//! committed meanwhile: an ordinary user changing her own password could
//! undo an admin's REVOKE, DROP USER or another user's password reset.
//! Each attack forces the bad interleaving with the database's test hook
//! (`Db::set_test_hook`): the attacker's statement is held at a fixed
//! point while the admin's change commits, then released; what the admin
//! did must survive, in memory and after reopening.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use sealdb::db::{HookPoint, TestHook};
use sealdb::vfs::MemVfs;
use sealdb::{ClientInfo, Credentials, Db, Error, Options, PasswordCost, Session, Value};

fn open(vfs: &Arc<MemVfs>) -> Db {
    let options = Options {
        vfs: Some(vfs.clone()),
        password_cost: PasswordCost::dangerous_minimal(),
        ..Options::default()
    };
    Db::open_with(
        "/db",
        sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[9u8; 32])).unwrap(),
        options,
    )
    .unwrap()
}

fn login(db: &Db, user: &str, pw: &str) -> Result<Session, Error> {
    db.connect(Credentials::password(user, pw), ClientInfo::local("race"))
}

fn rows(s: &Session, sql: &str) -> Vec<Vec<Value>> {
    s.query(sql, &[])
        .unwrap()
        .collect_all()
        .unwrap()
        .into_iter()
        .map(|r| r.into_values())
        .collect()
}

/// Holds the first statement of `user` that reaches `point` until
/// [`Gate::release`].
struct Gate {
    state: Mutex<(bool, bool, bool)>, // (fired, paused, released)
    cv: Condvar,
    user: String,
    point: HookPoint,
}

impl Gate {
    fn install(db: &Db, user: &str, point: HookPoint) -> Arc<Gate> {
        let gate = Arc::new(Gate {
            state: Mutex::new((false, false, false)),
            cv: Condvar::new(),
            user: user.to_string(),
            point,
        });
        let g = gate.clone();
        let hook: TestHook = Arc::new(move |p, u| {
            if p != g.point || u != g.user {
                return;
            }
            let mut st = g.state.lock().unwrap();
            if st.0 {
                return;
            }
            st.0 = true;
            st.1 = true;
            g.cv.notify_all();
            while !st.2 {
                st = g.cv.wait(st).unwrap();
            }
        });
        db.set_test_hook(Some(hook));
        gate
    }

    fn wait_paused(&self) {
        let mut st = self.state.lock().unwrap();
        while !st.1 {
            let (s, t) = self.cv.wait_timeout(st, Duration::from_secs(30)).unwrap();
            st = s;
            assert!(
                !t.timed_out() || st.1,
                "the statement never reached the hook"
            );
        }
    }

    fn release(&self) {
        self.state.lock().unwrap().2 = true;
        self.cv.notify_all();
    }
}

/// A database with table `t`, users alice (SELECT on t) and bob.
fn setup(vfs: &Arc<MemVfs>) -> Db {
    let db = open(vfs);
    let root = db.root_session();
    for sql in [
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
        "INSERT INTO t VALUES (1, 'secret')",
        "CREATE USER alice WITH PASSWORD 'a1'",
        "CREATE USER bob WITH PASSWORD 'b1'",
        "GRANT SELECT, INSERT, UPDATE ON t TO alice",
        "GRANT CREATE ON DATABASE main TO alice",
    ] {
        root.execute(sql, &[]).unwrap();
    }
    db
}

/// Runs `attack` as alice on another thread, held at `point`; runs
/// `admin` as root while it is held; releases it; returns alice's result.
fn interleave(
    db: &Db,
    point: HookPoint,
    attack: &'static str,
    admin: &[&str],
) -> Result<u64, Error> {
    let gate = Gate::install(db, "alice", point);
    let db2 = db.clone();
    let worker = thread::spawn(move || {
        let alice = login(&db2, "alice", "a1").unwrap();
        alice.execute(attack, &[])
    });
    gate.wait_paused();
    let root = db.root_session();
    for sql in admin {
        root.execute(sql, &[]).unwrap();
    }
    gate.release();
    let r = worker.join().unwrap();
    db.set_test_hook(None);
    r
}

fn denied(r: Result<Vec<Vec<Value>>, Error>) -> bool {
    matches!(r, Err(Error::PermissionDenied { .. }))
}

fn alice_select(db: &Db, pw: &str) -> Result<Vec<Vec<Value>>, Error> {
    let alice = login(db, "alice", pw)?;
    let r = alice.query("SELECT v FROM t", &[])?.collect_all()?;
    Ok(r.into_iter().map(|r| r.into_values()).collect())
}

#[test]
fn own_password_change_does_not_undo_a_revoke() {
    let vfs = Arc::new(MemVfs::new());
    let db = setup(&vfs);
    let r = interleave(
        &db,
        HookPoint::BeforeWriterSlot,
        "ALTER USER alice WITH PASSWORD 'a2'",
        &["REVOKE SELECT ON t FROM alice"],
    );
    r.unwrap();
    assert!(denied(alice_select(&db, "a2")), "the REVOKE was undone");
    drop(db);
    let db = open(&vfs);
    assert!(
        denied(alice_select(&db, "a2")),
        "the REVOKE was undone on disk"
    );
}

#[test]
fn own_password_change_does_not_resurrect_a_dropped_user() {
    let vfs = Arc::new(MemVfs::new());
    let db = setup(&vfs);
    let root = db.root_session();
    root.execute("REVOKE ALL ON t FROM alice", &[]).unwrap();
    root.execute("REVOKE CREATE ON DATABASE main FROM alice", &[])
        .unwrap();
    drop(root);
    let r = interleave(
        &db,
        HookPoint::BeforeWriterSlot,
        "ALTER USER alice WITH PASSWORD 'a2'",
        &["DROP USER alice"],
    );
    assert!(r.is_err(), "a dropped user changed its password");
    for pw in ["a1", "a2"] {
        assert!(login(&db, "alice", pw).is_err(), "alice logs in again");
    }
    drop(db);
    let db = open(&vfs);
    for pw in ["a1", "a2"] {
        assert!(login(&db, "alice", pw).is_err(), "alice is back on disk");
    }
}

#[test]
fn own_password_change_does_not_undo_another_users_password_reset() {
    let vfs = Arc::new(MemVfs::new());
    let db = setup(&vfs);
    interleave(
        &db,
        HookPoint::BeforeWriterSlot,
        "ALTER USER alice WITH PASSWORD 'a2'",
        &["ALTER USER bob WITH PASSWORD 'b2'"],
    )
    .unwrap();
    assert!(
        login(&db, "bob", "b1").is_err(),
        "bob's old password is back"
    );
    login(&db, "bob", "b2").unwrap();
    login(&db, "alice", "a2").unwrap();
    drop(db);
    let db = open(&vfs);
    assert!(login(&db, "bob", "b1").is_err());
    login(&db, "bob", "b2").unwrap();
}

#[test]
fn admin_reset_and_own_change_serialize() {
    // Both change alice's password: the result is one of the two serial
    // orders (the held statement runs second, so its password wins), and
    // nothing else is lost.
    let vfs = Arc::new(MemVfs::new());
    let db = setup(&vfs);
    interleave(
        &db,
        HookPoint::BeforeWriterSlot,
        "ALTER USER alice WITH PASSWORD 'a2'",
        &[
            "ALTER USER alice WITH PASSWORD 'reset'",
            "CREATE USER carol WITH PASSWORD 'c1'",
        ],
    )
    .unwrap();
    login(&db, "alice", "a2").unwrap();
    login(&db, "carol", "c1").unwrap();
}

#[test]
fn held_update_is_authorized_under_the_revoke() {
    let vfs = Arc::new(MemVfs::new());
    let db = setup(&vfs);
    let r = interleave(
        &db,
        HookPoint::BeforeWriterSlot,
        "UPDATE t SET v = 'pwned'",
        &["REVOKE UPDATE ON t FROM alice"],
    );
    assert!(
        matches!(r, Err(Error::PermissionDenied { .. })),
        "UPDATE ran under a revoked grant: {r:?}"
    );
    let root = db.root_session();
    assert_eq!(
        rows(&root, "SELECT v FROM t"),
        vec![vec![Value::Text("secret".into())]]
    );
}

#[test]
fn held_insert_does_not_write_into_a_dropped_table() {
    let vfs = Arc::new(MemVfs::new());
    let db = setup(&vfs);
    let r = interleave(
        &db,
        HookPoint::BeforeWriterSlot,
        "INSERT INTO t VALUES (2, 'x')",
        &[
            "DROP TABLE t",
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
        ],
    );
    // The new t has no grant for alice: it is hidden from her.
    assert!(r.is_err(), "insert went through: {r:?}");
    let root = db.root_session();
    assert!(
        rows(&root, "SELECT * FROM t").is_empty(),
        "a row was written"
    );
}

#[test]
fn create_table_does_not_undo_a_revoke_or_another_table() {
    let vfs = Arc::new(MemVfs::new());
    let db = setup(&vfs);
    interleave(
        &db,
        HookPoint::BeforeWriterSlot,
        "CREATE TABLE mine (x)",
        &["REVOKE SELECT ON t FROM alice", "CREATE TABLE roots (y)"],
    )
    .unwrap();
    let root = db.root_session();
    assert!(denied(alice_select(&db, "a1")), "the REVOKE was undone");
    rows(&root, "SELECT * FROM roots");
    rows(&root, "SELECT * FROM mine");
    // alice owns her table.
    let alice = login(&db, "alice", "a1").unwrap();
    rows(&alice, "SELECT * FROM mine");
    drop((alice, root, db));
    let db = open(&vfs);
    assert!(denied(alice_select(&db, "a1")));
    let root = db.root_session();
    rows(&root, "SELECT * FROM roots");
    rows(&root, "SELECT * FROM mine");
}

#[test]
fn login_token_creation_does_not_undo_a_revoke() {
    let vfs = Arc::new(MemVfs::new());
    let db = setup(&vfs);
    let gate = Gate::install(&db, "alice", HookPoint::BeforeWriterSlot);
    let db2 = db.clone();
    let worker = thread::spawn(move || {
        let alice = login(&db2, "alice", "a1").unwrap();
        alice
            .create_login_token(Duration::from_secs(600))
            .map(|t| t.token().to_string())
    });
    gate.wait_paused();
    db.root_session()
        .execute("REVOKE SELECT ON t FROM alice", &[])
        .unwrap();
    gate.release();
    let token = worker.join().unwrap().unwrap();
    db.set_test_hook(None);
    assert!(denied(alice_select(&db, "a1")));
    db.connect(Credentials::token("alice", &token), ClientInfo::local("t"))
        .unwrap();
}

#[test]
fn writer_waits_for_the_previous_publish() {
    // alice's change is committed and held before it is published; root's
    // REVOKE must not start from the catalog before alice's change (it
    // waits for the writer slot, which alice still holds).
    let vfs = Arc::new(MemVfs::new());
    let db = setup(&vfs);
    let gate = Gate::install(&db, "alice", HookPoint::BeforePublish);
    let db2 = db.clone();
    let worker = thread::spawn(move || {
        let alice = login(&db2, "alice", "a1").unwrap();
        alice.execute("ALTER USER alice WITH PASSWORD 'a2'", &[])
    });
    gate.wait_paused();
    let db3 = db.clone();
    let admin = thread::spawn(move || {
        db3.root_session()
            .execute("REVOKE SELECT ON t FROM alice", &[])
    });
    thread::sleep(Duration::from_millis(200));
    assert!(
        !admin.is_finished(),
        "a writer ran while another held the slot"
    );
    gate.release();
    worker.join().unwrap().unwrap();
    admin.join().unwrap().unwrap();
    db.set_test_hook(None);
    assert!(denied(alice_select(&db, "a2")));
    drop(db);
    let db = open(&vfs);
    assert!(denied(alice_select(&db, "a2")));
}

#[test]
fn stale_explicit_transaction_gets_a_conflict() {
    let vfs = Arc::new(MemVfs::new());
    let db = setup(&vfs);
    let alice = login(&db, "alice", "a1").unwrap();
    alice.execute("BEGIN", &[]).unwrap();
    rows(&alice, "SELECT v FROM t");
    db.root_session()
        .execute("REVOKE SELECT ON t FROM alice", &[])
        .unwrap();
    let r = alice.execute("ALTER USER alice WITH PASSWORD 'a2'", &[]);
    assert!(matches!(r, Err(Error::Conflict)), "{r:?}");
    alice.execute("ROLLBACK", &[]).unwrap();
    assert!(denied(alice_select(&db, "a1")));
}

#[test]
fn password_loop_against_admin_changes() {
    // Real concurrency, no hook: alice changes her password in a loop
    // while root revokes, re-grants and finally revokes; the final state
    // is root's.
    let vfs = Arc::new(MemVfs::new());
    let db = setup(&vfs);
    let db2 = db.clone();
    let worker = thread::spawn(move || {
        let alice = login(&db2, "alice", "a1").unwrap();
        for i in 0..40 {
            let pw = if i % 2 == 0 { "a2" } else { "a1" };
            let sql = format!("ALTER USER alice WITH PASSWORD '{pw}'");
            match alice.execute(&sql, &[]) {
                Ok(_) | Err(Error::Busy { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
    });
    let root = db.root_session();
    for i in 0..40 {
        let sql = if i % 2 == 0 {
            "REVOKE SELECT ON t FROM alice"
        } else {
            "GRANT SELECT ON t TO alice"
        };
        root.execute(sql, &[]).unwrap();
        root.execute(&format!("CREATE USER u{i} WITH PASSWORD 'p'"), &[])
            .unwrap();
    }
    root.execute("REVOKE SELECT ON t FROM alice", &[]).unwrap();
    worker.join().unwrap();
    // alice's password is "a1" (40 changes, the last to "a1").
    assert!(denied(alice_select(&db, "a1")));
    for i in 0..40 {
        login(&db, &format!("u{i}"), "p").unwrap();
    }
}
