//! Issue 13's attacks through the C ABI, as an ordinary user: one or more
//! per class (lost updates, deep statements, script audit records, login
//! tokens, hidden objects, SHOW USERS, login refusals, throttling,
//! audited reads). The Rust suites (`tests/attack_*.rs`) attack each class
//! at length; these show the C surface gives the same answers.

// Every unsafe block here calls an export with pointers to live locals.
#![allow(clippy::undocumented_unsafe_blocks)]

use std::ffi::{c_char, CStr, CString};
use std::ptr::{null, null_mut};
use std::sync::{Arc, Condvar, Mutex};

use sealdb::db::{HookPoint, TestHook};
use sealdb::{Db, Options, PasswordCost};

use crate::conn::*;
use crate::db::*;
use crate::error::*;
use crate::stmt::*;

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

/// A database with cheap password hashes (the C open functions use the
/// default cost, far too slow for many logins in a debug build), handed
/// out as a C handle, and a root connection.
fn open_cheap() -> (*mut sealdb_db, *mut sealdb_conn) {
    let db = Db::open_with(
        "/db",
        sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[21u8; 32])).expect("key"),
        Options {
            vfs: Some(Arc::new(sealdb::vfs::MemVfs::new())),
            password_cost: PasswordCost::dangerous_minimal(),
            ..Options::default()
        },
    )
    .expect("open");
    let handle = DBS.insert(Arc::new(DbInner {
        db,
        err: ErrorSlot::default(),
    }));
    let mut conn = null_mut();
    assert_eq!(unsafe { sealdb_connect_root(handle, &mut conn) }, SEALDB_OK);
    (handle, conn)
}

fn rust_db(db: *mut sealdb_db) -> Db {
    DBS.get(db).expect("live").db.clone()
}

fn exec(conn: *mut sealdb_conn, sql: &str) -> i32 {
    let sql = c(sql);
    unsafe { sealdb_exec(conn, sql.as_ptr()) }
}

fn ok(conn: *mut sealdb_conn, sql: &str) {
    assert_eq!(exec(conn, sql), SEALDB_OK, "{sql}: {}", msg());
}

fn msg() -> String {
    let p = sealdb_errmsg();
    if p.is_null() {
        return String::new();
    }
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn login(
    db: *mut sealdb_db,
    user: &str,
    pw: &str,
    addr: Option<&str>,
) -> Result<*mut sealdb_conn, (i32, String)> {
    let (u, p) = (c(user), c(pw));
    let a = addr.map(c);
    let mut conn = null_mut();
    let rc = unsafe {
        sealdb_connect(
            db,
            u.as_ptr(),
            p.as_ptr(),
            a.as_ref().map_or(null(), |a| a.as_ptr()),
            null(),
            &mut conn,
        )
    };
    if rc == SEALDB_OK {
        Ok(conn)
    } else {
        Err((rc, msg()))
    }
}

fn login_token(db: *mut sealdb_db, user: &str, token: &str) -> i32 {
    let (u, t) = (c(user), c(token));
    let mut conn = null_mut();
    let rc = unsafe { sealdb_connect_token(db, u.as_ptr(), t.as_ptr(), null(), null(), &mut conn) };
    if rc == SEALDB_OK {
        sealdb_conn_free(conn);
    }
    rc
}

/// All rows of `sql` as text.
fn rows(conn: *mut sealdb_conn, sql: &str) -> Result<Vec<Vec<Option<String>>>, (i32, String)> {
    let s = c(sql);
    let mut stmt = null_mut();
    let rc = unsafe { sealdb_prepare(conn, s.as_ptr(), &mut stmt) };
    if rc != SEALDB_OK {
        return Err((rc, msg()));
    }
    let mut out = Vec::new();
    loop {
        match sealdb_step(stmt) {
            SEALDB_ROW => {
                let mut n = 0;
                unsafe { sealdb_column_count(stmt, &mut n) };
                let mut row = Vec::new();
                for i in 0..n {
                    let mut p: *const c_char = null();
                    let mut len = 0usize;
                    unsafe { sealdb_column_text(stmt, i, &mut p, &mut len) };
                    row.push(
                        (!p.is_null())
                            .then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()),
                    );
                }
                out.push(row);
            }
            SEALDB_DONE => break,
            rc => {
                let e = (rc, msg());
                sealdb_stmt_free(stmt);
                return Err(e);
            }
        }
    }
    sealdb_stmt_free(stmt);
    Ok(out)
}

fn audit_log(db: *mut sealdb_db) -> String {
    let mut out = Vec::new();
    rust_db(db).audit_export(&mut out).expect("export");
    String::from_utf8(out).expect("utf-8")
}

/// root; alice (SELECT on t); bob.
fn setup() -> (*mut sealdb_db, *mut sealdb_conn) {
    let (db, root) = open_cheap();
    for sql in [
        "CREATE TABLE t (x INTEGER)",
        "INSERT INTO t VALUES (1)",
        "CREATE TABLE secret (a INTEGER, b TEXT)",
        "CREATE USER alice WITH PASSWORD 'a1'",
        "CREATE USER bob WITH PASSWORD 'b1'",
        "GRANT SELECT ON t TO alice",
    ] {
        ok(root, sql);
    }
    (db, root)
}

#[test]
fn c_lost_update_of_the_security_catalog() {
    let (db, root) = setup();
    // alice's password change is held before the writer slot while root
    // revokes; the revoke must survive.
    let gate = Arc::new((Mutex::new((false, false)), Condvar::new()));
    let g = gate.clone();
    let hook: TestHook = Arc::new(move |p, u| {
        if p != HookPoint::BeforeWriterSlot || u != "alice" {
            return;
        }
        let (m, cv) = &*g;
        let mut st = m.lock().expect("lock");
        if st.0 {
            return;
        }
        st.0 = true;
        cv.notify_all();
        while !st.1 {
            st = cv.wait(st).expect("wait");
        }
    });
    rust_db(db).set_test_hook(Some(hook));
    let alice = login(db, "alice", "a1", None).expect("alice") as usize;
    let worker = std::thread::spawn(move || {
        exec(
            alice as *mut sealdb_conn,
            "ALTER USER alice WITH PASSWORD 'a2'",
        )
    });
    {
        let (m, cv) = &*gate;
        let mut st = m.lock().expect("lock");
        while !st.0 {
            st = cv.wait(st).expect("wait");
        }
    }
    ok(root, "REVOKE SELECT ON t FROM alice");
    {
        let (m, cv) = &*gate;
        m.lock().expect("lock").1 = true;
        cv.notify_all();
    }
    assert_eq!(worker.join().expect("join"), SEALDB_OK);
    rust_db(db).set_test_hook(None);
    let alice2 = login(db, "alice", "a2", None).expect("new password");
    let r = rows(alice2, "SELECT x FROM t");
    // With SELECT gone alice holds nothing on t: it is hidden from her.
    assert_eq!(
        r.map_err(|e| e.0),
        Err(SEALDB_ERR_SQL_UNKNOWN_OBJECT),
        "the REVOKE was undone"
    );
    sealdb_conn_free(alice as *mut sealdb_conn);
    sealdb_conn_free(alice2);
    sealdb_conn_free(root);
    sealdb_db_free(db);
}

#[test]
fn c_deep_statements_on_a_small_stack() {
    let (db, root) = setup();
    let conn = login(db, "alice", "a1", None).expect("alice") as usize;
    let codes = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let conn = conn as *mut sealdb_conn;
            let mut codes = Vec::new();
            for sql in [
                format!("SELECT 1{}", "+1".repeat(2_000)),
                format!("SELECT 1 WHERE 1{}", " AND 1".repeat(20_000)),
                format!("SELECT 'a'{}", "||'a'".repeat(6_000)),
                format!("SELECT {}1{}", "(".repeat(5_000), ")".repeat(5_000)),
            ] {
                codes.push(exec(conn, &sql));
                let s = c(&sql);
                let mut stmt = null_mut();
                codes.push(unsafe { sealdb_prepare(conn, s.as_ptr(), &mut stmt) });
            }
            // Just under the limit runs.
            let r = rows(conn, &format!("SELECT 1{}", "+1".repeat(999)));
            (codes, r)
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow");
    let (codes, under) = codes;
    assert!(
        codes.iter().all(|c| *c == SEALDB_ERR_SQL_TOO_COMPLEX),
        "{codes:?}"
    );
    assert_eq!(codes.len(), 8);
    assert_eq!(under.expect("runs"), vec![vec![Some("1000".to_string())]]);
    sealdb_conn_free(conn as *mut sealdb_conn);
    sealdb_conn_free(root);
    sealdb_db_free(db);
}

#[test]
fn c_script_audit_records_hold_no_other_passwords() {
    let (db, root) = setup();
    ok(
        root,
        "CREATE USER carol WITH PASSWORD 'pw-one-xyz'; INSERT INTO t VALUES (2); ALTER USER bob WITH PASSWORD 'pw-two-xyz'",
    );
    let log = audit_log(db);
    assert!(
        !log.contains("pw-one-xyz") && !log.contains("pw-two-xyz"),
        "{log}"
    );
    assert!(log.contains("CREATE USER carol PASSWORD <redacted>"));
    assert!(log.contains("ALTER ROLE bob PASSWORD <redacted>"));
    sealdb_conn_free(root);
    sealdb_db_free(db);
}

#[test]
fn c_login_tokens() {
    let (db, root) = setup();
    let alice = login(db, "alice", "a1", None).expect("alice");
    // From the C function, and from SQL.
    let mut tok: *mut c_char = null_mut();
    assert_eq!(
        unsafe { sealdb_create_login_token(alice, 600, &mut tok) },
        SEALDB_OK
    );
    let token = unsafe { CStr::from_ptr(tok) }
        .to_str()
        .expect("utf-8")
        .to_string();
    unsafe { sealdb_string_free(tok) };
    let sql = rows(alice, "CREATE LOGIN TOKEN VALID FOR '10 minutes'").expect("sql token");
    let (sql_id, sql_token) = (
        sql[0][0].clone().expect("id"),
        sql[0][1].clone().expect("token"),
    );
    assert_eq!(login_token(db, "alice", &token), SEALDB_OK);
    assert_eq!(login_token(db, "alice", &sql_token), SEALDB_OK);
    // Beyond the maximum lifetime: refused.
    let mut t2: *mut c_char = null_mut();
    assert_eq!(
        unsafe { sealdb_create_login_token(alice, 30 * 86_400, &mut t2) },
        SEALDB_ERR_SQL_MISUSE
    );
    // Revocation from C: another user's token is not bob's to revoke.
    let bob = login(db, "bob", "b1", None).expect("bob");
    let id = c(&sql_id);
    let mut existed = false;
    assert_eq!(
        unsafe { sealdb_revoke_login_token(bob, id.as_ptr(), &mut existed) },
        SEALDB_ERR_PERMISSION_DENIED
    );
    let mut n = 0u64;
    let alice_name = c("alice");
    assert_eq!(
        unsafe { sealdb_revoke_login_tokens(bob, alice_name.as_ptr(), &mut n) },
        SEALDB_ERR_PERMISSION_DENIED
    );
    assert_eq!(
        unsafe { sealdb_revoke_login_token(alice, id.as_ptr(), &mut existed) },
        SEALDB_OK
    );
    assert!(existed);
    assert_ne!(login_token(db, "alice", &sql_token), SEALDB_OK);
    // A password change ends the rest.
    ok(alice, "ALTER USER alice WITH PASSWORD 'a2'");
    assert_ne!(login_token(db, "alice", &token), SEALDB_OK);
    assert_eq!(
        unsafe { sealdb_revoke_login_tokens(alice, null(), &mut n) },
        SEALDB_OK
    );
    assert_eq!(n, 0);
    assert_eq!(
        unsafe { sealdb_revoke_login_tokens(alice, null(), null_mut()) },
        SEALDB_ERR_NULL_ARGUMENT
    );
    for h in [alice, bob, root] {
        sealdb_conn_free(h);
    }
    sealdb_db_free(db);
}

#[test]
fn c_hidden_objects_and_show_users() {
    let (db, root) = setup();
    ok(root, "CREATE INDEX secret_idx ON secret (b)");
    let alice = login(db, "alice", "a1", None).expect("alice");
    let mut attacks = 0;
    for (hidden, missing) in [
        ("SELECT * FROM Secret", "SELECT * FROM Nothing"),
        (
            "SELECT x FROM t WHERE x IN (SELECT zz FROM Secret)",
            "SELECT x FROM t WHERE x IN (SELECT zz FROM Nothing)",
        ),
        (
            "DELETE FROM t WHERE x IN (SELECT zz FROM SECRET)",
            "DELETE FROM t WHERE x IN (SELECT zz FROM NOTHING)",
        ),
        ("DROP INDEX secret_idx", "DROP INDEX nothing_idx"),
    ] {
        let h = (exec(alice, hidden), msg());
        let m = (exec(alice, missing), msg());
        let swapped =
            m.1.replace("Nothing", "Secret")
                .replace("NOTHING", "SECRET")
                .replace("nothing_idx", "secret_idx");
        assert_eq!((h.0, h.1.clone()), (m.0, swapped), "{hidden}");
        attacks += 1;
    }
    let users = rows(alice, "SHOW USERS").expect("show");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0][0].as_deref(), Some("alice"));
    println!("C hidden-object attacks: {attacks}");
    sealdb_conn_free(alice);
    sealdb_conn_free(root);
    sealdb_db_free(db);
}

#[test]
fn c_login_refusals_and_throttling() {
    let (db, root) = setup();
    ok(
        root,
        "SET CLUSTER SETTING server.host_based_authentication.configuration = 'host all bob all reject\nhost all all 10.0.0.0/8 password\nlocal all all password'",
    );
    let wrong = login(db, "alice", "nope", Some("10.0.0.1")).expect_err("wrong password");
    for (user, pw, addr) in [("bob", "b1", "10.0.0.1"), ("alice", "a1", "172.16.0.1")] {
        let e = login(db, user, pw, Some(addr)).expect_err("refused");
        assert_eq!(e, wrong, "{user} from {addr}");
        assert!(!e.1.contains("rule") && !e.1.contains("reject"), "{}", e.1);
    }
    // The IPv4-mapped form of an address shares its failure counter.
    for i in 0..sealdb::auth::FREE_FAILURES {
        let addr = if i % 2 == 0 {
            "10.7.7.7"
        } else {
            "::ffff:10.7.7.7"
        };
        let e = login(db, "alice", "bad", Some(addr)).expect_err("bad password");
        assert_eq!(e.0, SEALDB_ERR_AUTHENTICATION_FAILED);
    }
    let e = login(db, "alice", "a1", Some("::ffff:10.7.7.7")).expect_err("throttled");
    assert_eq!(e.0, SEALDB_ERR_LOGIN_THROTTLED);
    let e = login(db, "alice", "a1", Some("10.7.7.7")).expect_err("throttled");
    assert_eq!(e.0, SEALDB_ERR_LOGIN_THROTTLED);
    sealdb_conn_free(root);
    sealdb_db_free(db);
}

#[test]
fn c_audited_read_is_logged_when_it_starts() {
    let (db, root) = setup();
    ok(root, "ALTER TABLE t EXPERIMENTAL_AUDIT SET READ");
    let alice = login(db, "alice", "a1", None).expect("alice");
    let s = c("SELECT x FROM t");
    let mut stmt = null_mut();
    assert_eq!(
        unsafe { sealdb_prepare(alice, s.as_ptr(), &mut stmt) },
        SEALDB_OK
    );
    assert_eq!(sealdb_step(stmt), SEALDB_ROW);
    // One row read, result still open: the read is on record.
    let log = audit_log(db);
    let line = log
        .lines()
        .rfind(|l| l.contains("SELECT x FROM t"))
        .expect("logged");
    assert!(line.contains("\"outcome\":\"started\""), "{line}");
    sealdb_stmt_free(stmt);
    sealdb_conn_free(alice);
    sealdb_conn_free(root);
    sealdb_db_free(db);
}

/// The column count and names of a prepared query are known before it
/// runs; asking for them is a read of the statement and must be refused
/// exactly as running it would be: a hidden table's columns never show,
/// and the error is the one a missing table gives.
#[test]
fn c_column_names_before_step_reveal_nothing_hidden() {
    let (db, root) = setup();
    let alice = login(db, "alice", "a1", None).expect("alice");
    let prep = |conn: *mut sealdb_conn, sql: &str| {
        let s = c(sql);
        let mut stmt = null_mut();
        // SAFETY: NUL-terminated SQL, out-pointer to a local.
        assert_eq!(
            unsafe { sealdb_prepare(conn, s.as_ptr(), &mut stmt) },
            SEALDB_OK,
            "{sql}"
        );
        stmt
    };
    let describe = |stmt: *mut sealdb_stmt| -> Result<Vec<String>, (i32, String)> {
        let mut n = -1;
        // SAFETY: out-pointer to a local.
        let rc = unsafe { sealdb_column_count(stmt, &mut n) };
        if rc != SEALDB_OK {
            return Err((rc, msg()));
        }
        (0..n)
            .map(|i| {
                let mut p: *const c_char = null();
                // SAFETY: out-pointer to a local; the name is read before
                // the statement runs again.
                let rc = unsafe { sealdb_column_name(stmt, i, &mut p) };
                if rc != SEALDB_OK {
                    return Err((rc, msg()));
                }
                // SAFETY: a NUL-terminated name owned by the statement.
                Ok(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
            })
            .collect()
    };
    let decltypes =
        |stmt: *mut sealdb_stmt, n: i32| -> Result<Vec<Option<String>>, (i32, String)> {
            (0..n)
                .map(|i| {
                    let mut p: *const c_char = null();
                    // SAFETY: out-pointer to a local; the text is read before
                    // the statement runs again.
                    let rc = unsafe { sealdb_column_decltype(stmt, i, &mut p) };
                    if rc != SEALDB_OK {
                        return Err((rc, msg()));
                    }
                    if p.is_null() {
                        return Ok(None);
                    }
                    // SAFETY: a NUL-terminated text owned by the statement.
                    Ok(Some(
                        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned(),
                    ))
                })
                .collect()
        };
    // Root sees the names before the first step, and the same ones after.
    let q = prep(root, "SELECT a, b || '!', count(*) AS n FROM secret");
    assert_eq!(
        describe(q),
        Ok(vec![
            "a".to_string(),
            "b || '!'".to_string(),
            "n".to_string()
        ])
    );
    assert_eq!(
        decltypes(q, 3),
        Ok(vec![Some("INTEGER".into()), None, None])
    );
    let mut p: *const c_char = null();
    // SAFETY: out-pointer to a local.
    assert_eq!(
        unsafe { sealdb_column_decltype(q, 3, &mut p) },
        SEALDB_ERR_RANGE
    );
    assert_eq!(sealdb_step(q), SEALDB_ROW);
    assert_eq!(describe(q).map(|v| v.len()), Ok(3));
    assert_eq!(
        decltypes(q, 3),
        Ok(vec![Some("INTEGER".into()), None, None])
    );
    sealdb_stmt_free(q);
    let q = prep(root, "INSERT INTO t VALUES (2)");
    assert_eq!(describe(q), Ok(vec![]));
    sealdb_stmt_free(q);

    // Alice: a table she may read is described; a hidden one fails as a
    // missing one does, before and when stepping.
    let q = prep(alice, "SELECT x * 2 FROM t");
    assert_eq!(describe(q), Ok(vec!["x * 2".to_string()]));
    sealdb_stmt_free(q);
    let mut attacks = 0;
    for (hidden, missing) in [
        ("SELECT * FROM secret", "SELECT * FROM nothing"),
        ("SELECT a, b FROM secret", "SELECT a, b FROM nothing"),
        (
            "SELECT x FROM t WHERE x IN (SELECT a FROM secret)",
            "SELECT x FROM t WHERE x IN (SELECT a FROM nothing)",
        ),
        (
            "SELECT (SELECT b FROM secret LIMIT 1) FROM t",
            "SELECT (SELECT b FROM nothing LIMIT 1) FROM t",
        ),
    ] {
        let h = prep(alice, hidden);
        let m = prep(alice, missing);
        let (dh, dm) = (describe(h), describe(m));
        let dm = dm.map_err(|(rc, e)| (rc, e.replace("nothing", "secret")));
        assert!(dh.is_err(), "{hidden}: {dh:?}");
        assert_eq!(dh, dm, "{hidden}");
        // The declared types are refused the same way.
        let (th, tm) = (decltypes(h, 1), decltypes(m, 1));
        let tm = tm.map_err(|(rc, e)| (rc, e.replace("nothing", "secret")));
        assert!(th.is_err(), "{hidden}: {th:?}");
        assert_eq!(th, tm, "{hidden}");
        assert_ne!(sealdb_step(h), SEALDB_ROW, "{hidden}");
        sealdb_stmt_free(h);
        sealdb_stmt_free(m);
        attacks += 1;
    }
    println!("C column-name attacks: {attacks}");
    sealdb_conn_free(alice);
    sealdb_conn_free(root);
    sealdb_db_free(db);
}

/// A prepared INSERT run again and again through `sealdb_step` keeps its
/// plan between runs: after a REVOKE, and after a stricter INSERT policy,
/// the next run is refused and writes nothing; a GRANT lets it run again.
#[test]
fn c_prepared_insert_is_checked_again_after_revoke_and_new_policy() {
    let (db, root) = setup();
    for sql in [
        "CREATE TABLE doc (id INTEGER PRIMARY KEY, owner TEXT)",
        "ALTER TABLE doc ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY see ON doc FOR SELECT USING (true)",
        "CREATE POLICY ins ON doc FOR INSERT WITH CHECK (true)",
        "GRANT SELECT, INSERT ON doc TO alice",
    ] {
        ok(root, sql);
    }
    let alice = login(db, "alice", "a1", None).expect("alice");
    let sql = c("INSERT INTO doc (id, owner) VALUES (?, ?)");
    let mut st = null_mut();
    assert_eq!(
        unsafe { sealdb_prepare(alice, sql.as_ptr(), &mut st) },
        SEALDB_OK
    );
    let run = |id: i64, owner: &str| -> i32 {
        let o = c(owner);
        assert_eq!(sealdb_reset(st), SEALDB_OK);
        assert_eq!(sealdb_bind_int64(st, 1, id), SEALDB_OK);
        assert_eq!(
            unsafe { sealdb_bind_text(st, 2, o.as_ptr(), -1) },
            SEALDB_OK
        );
        sealdb_step(st)
    };
    let count = || rows(root, "SELECT count(*) FROM doc").expect("count")[0][0].clone();
    for id in 1..=3 {
        assert_eq!(run(id, "alice"), SEALDB_DONE);
    }
    ok(root, "REVOKE INSERT ON doc FROM alice");
    assert_eq!(run(4, "alice"), SEALDB_ERR_PERMISSION_DENIED, "{}", msg());
    ok(root, "GRANT INSERT ON doc TO alice");
    assert_eq!(run(5, "alice"), SEALDB_DONE, "{}", msg());
    ok(root, "DROP POLICY ins ON doc");
    ok(
        root,
        "CREATE POLICY ins ON doc FOR INSERT WITH CHECK (owner = current_user)",
    );
    assert_eq!(run(6, "bob"), SEALDB_ERR_PERMISSION_DENIED, "{}", msg());
    assert_eq!(run(7, "alice"), SEALDB_DONE, "{}", msg());
    assert_eq!(count(), Some("5".to_string()));
    sealdb_stmt_free(st);
    sealdb_conn_free(alice);
    sealdb_conn_free(root);
    sealdb_db_free(db);
}

/// A prepared query stepped, reset and bound again through the C ABI
/// keeps its operators and row buffers from run to run: no run shows a
/// row the policy in force hides or a value a buffer held before (runs
/// abandoned after one row among them); a replaced policy and a revoked
/// column take effect at the next run.
#[test]
fn c_prepared_lookup_is_checked_again_after_revoke_and_new_policy() {
    let (db, root) = setup();
    for sql in [
        "CREATE TABLE doc (id INTEGER PRIMARY KEY, owner TEXT, body TEXT)",
        "CREATE INDEX doc_owner ON doc(owner)",
        "INSERT INTO doc VALUES (1, 'alice', 'a'), (2, 'bob', 'bob-secret-much-longer-than-alices'), \
         (3, 'alice', NULL), (4, 'bob', 'bob-other-secret')",
        "ALTER TABLE doc ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY see ON doc FOR SELECT USING (owner = current_user)",
        "GRANT SELECT (id, owner, body) ON doc TO alice",
    ] {
        ok(root, sql);
    }
    let alice = login(db, "alice", "a1", None).expect("alice");
    let prepare = |sql: &str| {
        let sql = c(sql);
        let mut st = null_mut();
        assert_eq!(
            unsafe { sealdb_prepare(alice, sql.as_ptr(), &mut st) },
            SEALDB_OK
        );
        st
    };
    let by_id = prepare("SELECT id, body FROM doc WHERE id = ?");
    let by_owner = prepare("SELECT id, body FROM doc WHERE owner = ?");
    // The rows of one run (at most `limit`) as "id:body", or the error.
    let run = |st: *mut sealdb_stmt, bind: &dyn Fn(*mut sealdb_stmt), limit: usize| {
        assert_eq!(sealdb_reset(st), SEALDB_OK);
        bind(st);
        let mut out = Vec::new();
        while out.len() < limit {
            match sealdb_step(st) {
                SEALDB_ROW => {
                    let (mut id, mut p, mut len) = (0i64, null(), 0usize);
                    unsafe { sealdb_column_int64(st, 0, &mut id) };
                    unsafe { sealdb_column_text(st, 1, &mut p, &mut len) };
                    let body = if p.is_null() {
                        "NULL".to_string()
                    } else {
                        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
                    };
                    out.push(format!("{id}:{body}"));
                }
                SEALDB_DONE => break,
                rc => return Err((rc, msg())),
            }
        }
        Ok(out)
    };
    let id =
        |i: i64| move |st: *mut sealdb_stmt| assert_eq!(sealdb_bind_int64(st, 1, i), SEALDB_OK);
    let owner = |o: &'static str| {
        move |st: *mut sealdb_stmt| {
            let o = c(o);
            assert_eq!(
                unsafe { sealdb_bind_text(st, 1, o.as_ptr(), -1) },
                SEALDB_OK
            );
        }
    };
    let mut attacks = 0;
    for round in 0..3 {
        let limit = if round == 1 { 1 } else { usize::MAX };
        for i in 1..=4 {
            let got = run(by_id, &id(i), limit).expect("run");
            let want: Vec<String> = match i {
                1 => vec!["1:a".into()],
                3 => vec!["3:NULL".into()],
                _ => vec![],
            };
            assert_eq!(got, want, "id {i} round {round}");
            attacks += 1;
        }
        for o in ["bob", "alice", "bob"] {
            let got = run(by_owner, &owner(o), limit).expect("run");
            assert!(got.iter().all(|r| !r.contains("bob")), "{o}: {got:?}");
            assert_eq!(got.is_empty(), o == "bob", "{o}: {got:?}");
            attacks += 1;
        }
    }
    // A policy showing every row: the next run shows bob's row (what the
    // new policy grants); the owner policy again: hidden again.
    ok(root, "DROP POLICY see ON doc");
    ok(root, "CREATE POLICY see ON doc FOR SELECT USING (true)");
    assert_eq!(
        run(by_id, &id(2), usize::MAX).expect("run"),
        vec!["2:bob-secret-much-longer-than-alices".to_string()]
    );
    ok(root, "DROP POLICY see ON doc");
    ok(
        root,
        "CREATE POLICY see ON doc FOR SELECT USING (owner = current_user)",
    );
    assert_eq!(
        run(by_id, &id(2), usize::MAX).expect("run"),
        Vec::<String>::new()
    );
    assert_eq!(
        run(by_id, &id(1), usize::MAX).expect("run"),
        vec!["1:a".to_string()]
    );
    attacks += 2;
    // A column revoked between runs: refused; granted again: runs.
    ok(root, "REVOKE SELECT (body) ON doc FROM alice");
    for st in [by_id, by_owner] {
        let e = run(st, &id(1), usize::MAX).expect_err("revoked");
        assert_eq!(e.0, SEALDB_ERR_PERMISSION_DENIED, "{e:?}");
        attacks += 1;
    }
    ok(root, "GRANT SELECT (body) ON doc TO alice");
    assert_eq!(
        run(by_id, &id(3), usize::MAX).expect("run"),
        vec!["3:NULL".to_string()]
    );
    println!("C prepared-lookup attacks: {attacks}");
    sealdb_stmt_free(by_id);
    sealdb_stmt_free(by_owner);
    sealdb_conn_free(alice);
    sealdb_conn_free(root);
    sealdb_db_free(db);
}

/// An ordinary user's transaction large enough for its log record to be
/// written a chunk at a time (stop 40), through the C ABI on a store on
/// disk: none of its text reaches any file, a denied write slipped into it
/// changes nothing, the rest commits whole.
#[test]
fn c_large_commit_reaches_the_disk_sealed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("db");
    let db = Db::open_with(
        &path,
        sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[22u8; 32])).expect("key"),
        Options {
            password_cost: PasswordCost::dangerous_minimal(),
            ..Options::default()
        },
    )
    .expect("open");
    let db = DBS.insert(Arc::new(DbInner {
        db,
        err: ErrorSlot::default(),
    }));
    let mut root = null_mut();
    assert_eq!(unsafe { sealdb_connect_root(db, &mut root) }, SEALDB_OK);
    for sql in [
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, owner TEXT, body TEXT)",
        "CREATE TABLE secret (a INTEGER, b TEXT)",
        "ALTER TABLE notes ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY own_read ON notes FOR SELECT USING (owner = current_user)",
        "CREATE POLICY own_write ON notes FOR INSERT WITH CHECK (owner = current_user)",
        "CREATE USER alice WITH PASSWORD 'a1'",
        "GRANT SELECT, INSERT ON notes TO alice",
    ] {
        ok(root, sql);
    }
    let marker = "SEALDB-C-PLAINTEXT-MARKER";
    let alice = login(db, "alice", "a1", None).expect("alice");
    ok(alice, "BEGIN");
    let sql = c("INSERT INTO notes (id, owner, body) VALUES (?, 'alice', ?)");
    let mut st = null_mut();
    assert_eq!(
        unsafe { sealdb_prepare(alice, sql.as_ptr(), &mut st) },
        SEALDB_OK
    );
    for i in 0..4000i64 {
        let body = c(&format!("{marker}-{i:06}-{}", "x".repeat(120)));
        assert_eq!(sealdb_reset(st), SEALDB_OK);
        assert_eq!(sealdb_bind_int64(st, 1, i), SEALDB_OK);
        assert_eq!(
            unsafe { sealdb_bind_text(st, 2, body.as_ptr(), -1) },
            SEALDB_OK
        );
        assert_eq!(sealdb_step(st), SEALDB_DONE, "{}", msg());
    }
    sealdb_stmt_free(st);
    assert_ne!(
        exec(alice, "INSERT INTO secret VALUES (1, 'alice was here')"),
        SEALDB_OK
    );
    assert_eq!(
        exec(alice, "INSERT INTO notes VALUES (99999, 'bob', 'forged')"),
        SEALDB_ERR_PERMISSION_DENIED,
        "{}",
        msg()
    );
    ok(alice, "COMMIT");
    let count = |sql: &str| rows(root, sql).expect("count")[0][0].clone();
    assert_eq!(
        count("SELECT count(*) FROM notes"),
        Some("4000".to_string())
    );
    assert_eq!(count("SELECT count(*) FROM secret"), Some("0".to_string()));
    for entry in std::fs::read_dir(&path).expect("dir") {
        let entry = entry.expect("entry");
        if entry.path().is_file() {
            let bytes = std::fs::read(entry.path()).expect("read");
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                "{:?} holds the plaintext",
                entry.path()
            );
        }
    }
    sealdb_conn_free(alice);
    sealdb_conn_free(root);
    sealdb_db_free(db);
}

/// Rowids across transactions through the C ABI (stop 41: a committed
/// transaction leaves the table's largest rowid to the next one reading
/// at its commit): bob writes between alice's transactions, a row she
/// cannot see, right above her largest; her insert at its rowid is
/// refused as a duplicate and leaves his row intact, and her rowid-less
/// insert takes the true largest + 1.
#[test]
fn c_stale_largest_rowid_never_overwrites_a_hidden_row() {
    let (db, root) = open_cheap();
    for sql in [
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, owner TEXT, body TEXT)",
        "ALTER TABLE notes ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY own_read ON notes FOR SELECT USING (owner = current_user)",
        "CREATE POLICY own_write ON notes FOR INSERT WITH CHECK (owner = current_user)",
        "CREATE USER alice WITH PASSWORD 'a1'",
        "CREATE USER bob WITH PASSWORD 'b1'",
        "GRANT SELECT, INSERT ON notes TO alice, bob",
    ] {
        ok(root, sql);
    }
    let alice = login(db, "alice", "a1", None).expect("alice");
    let bob = login(db, "bob", "b1", None).expect("bob");
    for round in 0..10i64 {
        let base = round * 10;
        ok(alice, "BEGIN");
        for i in base + 1..=base + 3 {
            ok(
                alice,
                &format!("INSERT INTO notes VALUES ({i}, current_user, 'a')"),
            );
        }
        ok(alice, "COMMIT");
        let b = base + 4;
        ok(
            bob,
            &format!("INSERT INTO notes VALUES ({b}, current_user, 'bob secret')"),
        );
        if round % 2 == 0 {
            ok(alice, "BEGIN");
        }
        assert_eq!(
            exec(
                alice,
                &format!("INSERT INTO notes VALUES ({b}, current_user, 'overwrite')")
            ),
            SEALDB_ERR_SQL_CONSTRAINT,
            "round {round}: {}",
            msg()
        );
        ok(
            alice,
            "INSERT INTO notes (owner, body) VALUES (current_user, 'auto')",
        );
        let mut last = 0i64;
        assert_eq!(
            unsafe { sealdb_last_insert_rowid(alice, &mut last) },
            SEALDB_OK
        );
        assert_eq!(last, b + 1, "round {round}");
        if round % 2 == 0 {
            ok(alice, "COMMIT");
        }
    }
    let count = |sql: &str| rows(root, sql).expect("count")[0][0].clone();
    assert_eq!(
        count("SELECT count(*) FROM notes WHERE owner = 'bob' AND body = 'bob secret'"),
        Some("10".to_string())
    );
    assert_eq!(
        count("SELECT count(*) FROM notes WHERE body = 'overwrite'"),
        Some("0".to_string())
    );
    sealdb_conn_free(alice);
    sealdb_conn_free(bob);
    sealdb_conn_free(root);
    sealdb_db_free(db);
}
