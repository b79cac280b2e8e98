//! Attacks on login tokens (issue 13, class 12): a token must not outlive
//! a password change, must be revocable from SQL as well as from Rust, and
//! must not live longer than `server.login_token.max_lifetime`; a user may
//! touch only its own tokens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;

use std::sync::Arc;
use std::time::Duration;

use sealdb::{
    ClientInfo, Credentials, Db, Error, ErrorCode, Options, PasswordCost, Session, Value,
};

fn setup() -> Db {
    let db = attack_common::open_db();
    let root = db.root_session();
    for sql in [
        "CREATE USER alice WITH PASSWORD 'a1'",
        "CREATE USER bob WITH PASSWORD 'b1'",
        "CREATE ROLE nologin_role",
    ] {
        root.execute(sql, &[]).unwrap();
    }
    db
}

fn login(db: &Db, user: &str, pw: &str) -> Session {
    db.connect(Credentials::password(user, pw), ClientInfo::local("t"))
        .unwrap()
}

fn with_token(db: &Db, user: &str, token: &str) -> Result<Session, Error> {
    db.connect(Credentials::token(user, token), ClientInfo::local("t"))
}

/// CREATE LOGIN TOKEN as `s`: (id, token, user, expires_at).
fn sql_token(s: &Session, sql: &str) -> Result<(String, String, String, String), Error> {
    let rows = s.query(sql, &[])?.collect_all()?;
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    Ok((
        r.get(0).unwrap(),
        r.get(1).unwrap(),
        r.get(2).unwrap(),
        r.get(3).unwrap(),
    ))
}

fn denied<T: std::fmt::Debug>(r: Result<T, Error>) {
    match r {
        Err(e) => assert_eq!(e.code(), ErrorCode::PermissionDenied, "{e}"),
        Ok(v) => panic!("expected a denial, got {v:?}"),
    }
}

#[test]
fn own_password_change_ends_own_tokens() {
    let db = setup();
    let alice = login(&db, "alice", "a1");
    let t_api = alice.create_login_token(Duration::from_secs(600)).unwrap();
    let (_, t_sql, user, _) =
        sql_token(&alice, "CREATE LOGIN TOKEN VALID FOR '10 minutes'").unwrap();
    assert_eq!(user, "alice");
    with_token(&db, "alice", t_api.token()).unwrap();
    with_token(&db, "alice", &t_sql).unwrap();
    alice
        .execute("ALTER USER alice WITH PASSWORD 'a2'", &[])
        .unwrap();
    assert!(with_token(&db, "alice", t_api.token()).is_err());
    assert!(with_token(&db, "alice", &t_sql).is_err());
}

#[test]
fn admin_password_reset_ends_the_users_tokens() {
    // The scenario a reset is for: alice's password leaked and the thief
    // made himself a token. The reset must lock him out.
    let db = setup();
    let thief = login(&db, "alice", "a1");
    let stolen = thief.create_login_token(Duration::from_secs(3600)).unwrap();
    let bobs = login(&db, "bob", "b1")
        .create_login_token(Duration::from_secs(3600))
        .unwrap();
    db.root_session()
        .execute("ALTER USER alice WITH PASSWORD 'reset'", &[])
        .unwrap();
    assert!(with_token(&db, "alice", stolen.token()).is_err());
    // Other users' tokens are untouched.
    with_token(&db, "bob", bobs.token()).unwrap();
    // PASSWORD NULL ends them too.
    let t = login(&db, "alice", "reset")
        .create_login_token(Duration::from_secs(60))
        .unwrap();
    db.root_session()
        .execute("ALTER USER alice WITH PASSWORD NULL", &[])
        .unwrap();
    assert!(with_token(&db, "alice", t.token()).is_err());
}

#[test]
fn tokens_created_and_revoked_from_sql() {
    let db = setup();
    let alice = login(&db, "alice", "a1");
    let (id1, t1, _, _) = sql_token(&alice, "CREATE LOGIN TOKEN").unwrap();
    let (id2, t2, _, _) = sql_token(&alice, "CREATE LOGIN TOKEN VALID FOR 3600").unwrap();
    assert!(t1.starts_with(&format!("sdbt_{id1}_")));
    let listed = alice
        .query("SHOW LOGIN TOKENS", &[])
        .unwrap()
        .collect_all()
        .unwrap();
    assert_eq!(listed.len(), 2);
    alice
        .execute(&format!("REVOKE LOGIN TOKEN '{id1}'"), &[])
        .unwrap();
    assert!(with_token(&db, "alice", &t1).is_err());
    with_token(&db, "alice", &t2).unwrap();
    // Revoking again: no such token.
    let e = alice
        .execute(&format!("REVOKE LOGIN TOKEN '{id1}'"), &[])
        .unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
    alice.execute("REVOKE ALL LOGIN TOKENS", &[]).unwrap();
    assert!(with_token(&db, "alice", &t2).is_err());
    let _ = id2;
    // An admin creates a token for a user and revokes all of them.
    let root = db.root_session();
    let (_, t3, user, _) = sql_token(&root, "CREATE LOGIN TOKEN FOR alice VALID FOR '1h'").unwrap();
    assert_eq!(user, "alice");
    let s = with_token(&db, "alice", &t3).unwrap();
    assert_eq!(s.user(), "alice");
    root.execute("REVOKE ALL LOGIN TOKENS FOR alice", &[])
        .unwrap();
    assert!(with_token(&db, "alice", &t3).is_err());
}

#[test]
fn a_user_cannot_touch_other_users_tokens() {
    let db = setup();
    let alice = login(&db, "alice", "a1");
    let bob = login(&db, "bob", "b1");
    let (bob_id, bob_token, _, _) = sql_token(&bob, "CREATE LOGIN TOKEN").unwrap();
    let mut attacks = 0;
    denied(sql_token(&alice, "CREATE LOGIN TOKEN FOR bob"));
    denied(sql_token(&alice, "CREATE LOGIN TOKEN FOR root"));
    denied(alice.execute(&format!("REVOKE LOGIN TOKEN '{bob_id}'"), &[]));
    denied(alice.execute("REVOKE ALL LOGIN TOKENS FOR bob", &[]));
    denied(alice.query("SHOW LOGIN TOKENS FOR bob", &[]).map(|_| ()));
    denied(alice.revoke_login_token(&bob_id));
    denied(alice.revoke_login_tokens("bob"));
    attacks += 7;
    // SHOW LOGIN TOKENS shows alice only her own (none).
    let rows = alice
        .query("SHOW LOGIN TOKENS", &[])
        .unwrap()
        .collect_all()
        .unwrap();
    assert!(rows.is_empty());
    // A token is bound to its user: bob's token does not log in alice.
    assert!(with_token(&db, "alice", &bob_token).is_err());
    attacks += 1;
    // A role without LOGIN gets no token, even from an admin.
    denied(sql_token(
        &db.root_session(),
        "CREATE LOGIN TOKEN FOR nologin_role",
    ));
    attacks += 1;
    // bob's token still works.
    with_token(&db, "bob", &bob_token).unwrap();
    println!("token attacks: {attacks}");
}

#[test]
fn maximum_lifetime() {
    let db = setup();
    let root = db.root_session();
    let alice = login(&db, "alice", "a1");
    let get = |sql: &str| -> String {
        root.query(sql, &[]).unwrap().collect_all().unwrap()[0]
            .get::<String>(0)
            .unwrap()
    };
    assert_eq!(
        get("SHOW CLUSTER SETTING server.login_token.max_lifetime"),
        "7 days"
    );
    // Beyond the maximum: refused, from SQL and from Rust.
    let e = sql_token(&alice, "CREATE LOGIN TOKEN VALID FOR '8 days'").unwrap_err();
    assert!(e.to_string().contains("at most 7 days"), "{e}");
    assert!(alice
        .create_login_token(Duration::from_secs(8 * 86_400))
        .is_err());
    assert!(alice
        .create_login_token(Duration::from_secs(u64::MAX))
        .is_err());
    let long = alice
        .create_login_token(Duration::from_secs(7 * 86_400))
        .unwrap();
    // Lowering the maximum shortens existing tokens.
    root.execute(
        "SET CLUSTER SETTING server.login_token.max_lifetime = '1 hour'",
        &[],
    )
    .unwrap();
    assert_eq!(
        get("SHOW CLUSTER SETTING server.login_token.max_lifetime"),
        "1 hour"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let rows = root
        .query("SHOW LOGIN TOKENS FOR alice", &[])
        .unwrap()
        .collect_all()
        .unwrap();
    let expires: String = rows[0].get(2).unwrap();
    let t = sealdb::auth::state::parse_timestamp(&expires).unwrap();
    assert!(t <= now + 3_600 + 5, "{expires}");
    with_token(&db, "alice", long.token()).unwrap();
    let e = sql_token(&alice, "CREATE LOGIN TOKEN VALID FOR '2 hours'").unwrap_err();
    assert!(e.to_string().contains("at most 1 hour"), "{e}");
    // Only admins change it; nonsense is refused.
    denied(alice.execute(
        "SET CLUSTER SETTING server.login_token.max_lifetime = '100 days'",
        &[],
    ));
    for bad in ["'0'", "'-1 day'", "'forever'"] {
        assert!(root
            .execute(
                &format!("SET CLUSTER SETTING server.login_token.max_lifetime = {bad}"),
                &[]
            )
            .is_err());
    }
}

fn open_on(vfs: &Arc<sealdb::vfs::MemVfs>) -> Db {
    Db::open_with(
        "/db",
        sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[11u8; 32])).unwrap(),
        Options {
            vfs: Some(vfs.clone()),
            password_cost: PasswordCost::dangerous_minimal(),
            ..Options::default()
        },
    )
    .unwrap()
}

#[test]
fn tokens_and_their_maximum_survive_a_reopen_bound_to_their_user() {
    // Tokens are stored by their user's id, with the maximum lifetime,
    // in the security catalog: both survive a reopen, and a token never
    // passes to a new user who takes its user's name.
    let vfs = Arc::new(sealdb::vfs::MemVfs::new());
    let (alice_token, bob_token) = {
        let db = open_on(&vfs);
        let root = db.root_session();
        root.execute("CREATE USER alice WITH PASSWORD 'a1'", &[])
            .unwrap();
        root.execute("CREATE USER bob WITH PASSWORD 'b1'", &[])
            .unwrap();
        root.execute(
            "SET CLUSTER SETTING server.login_token.max_lifetime = '2 hours'",
            &[],
        )
        .unwrap();
        let a = sql_token(&login(&db, "alice", "a1"), "CREATE LOGIN TOKEN").unwrap();
        let b = sql_token(&root, "CREATE LOGIN TOKEN FOR bob VALID FOR '90 minutes'").unwrap();
        (a.1, b.1)
    };
    let db = open_on(&vfs);
    let root = db.root_session();
    let rows = root
        .query("SHOW CLUSTER SETTING server.login_token.max_lifetime", &[])
        .unwrap()
        .collect_all()
        .unwrap();
    assert_eq!(rows[0].get::<String>(0).unwrap(), "2 hours");
    let s = with_token(&db, "alice", &alice_token).unwrap();
    assert_eq!(
        s.query("SELECT current_user", &[])
            .unwrap()
            .collect_all()
            .unwrap()[0]
            .get::<String>(0)
            .unwrap(),
        "alice"
    );
    with_token(&db, "bob", &bob_token).unwrap();
    // Another user's token does not log in as anyone else.
    assert!(with_token(&db, "bob", &alice_token).is_err());
    let listed = root
        .query("SHOW LOGIN TOKENS", &[])
        .unwrap()
        .collect_all()
        .unwrap();
    let users: Vec<String> = listed.iter().map(|r| r.get(1).unwrap()).collect();
    assert_eq!(users.len(), 2);
    assert!(users.contains(&"alice".to_string()) && users.contains(&"bob".to_string()));
    // A new alice inherits nothing of the old one's tokens.
    root.execute("DROP USER alice", &[]).unwrap();
    root.execute("CREATE USER alice WITH PASSWORD 'a2'", &[])
        .unwrap();
    drop((s, root, db));
    let db = open_on(&vfs);
    assert!(with_token(&db, "alice", &alice_token).is_err());
    with_token(&db, "bob", &bob_token).unwrap();
}

#[test]
fn token_statements_never_log_the_token() {
    let seen: Arc<std::sync::Mutex<Vec<sealdb::AuditRecord>>> = Arc::default();
    let sink = seen.clone();
    let db = Db::open_with(
        "/db",
        sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[12u8; 32])).unwrap(),
        Options {
            vfs: Some(Arc::new(sealdb::vfs::MemVfs::new())),
            password_cost: PasswordCost::dangerous_minimal(),
            audit_sink: Some(Arc::new(move |r: &sealdb::AuditRecord| {
                sink.lock().unwrap().push(r.clone())
            })),
            ..Options::default()
        },
    )
    .unwrap();
    db.root_session()
        .execute("CREATE USER alice WITH PASSWORD 'a1'", &[])
        .unwrap();
    let alice = login(&db, "alice", "a1");
    let (id, token, _, _) = sql_token(&alice, "CREATE LOGIN TOKEN").unwrap();
    let api = alice.create_login_token(Duration::from_secs(60)).unwrap();
    alice
        .execute(&format!("REVOKE LOGIN TOKEN '{id}'"), &[])
        .unwrap();
    let secret_of = |t: &str| t.rsplit('_').next().unwrap().to_string();
    let log = seen.lock().unwrap();
    for r in log.iter() {
        let json = r.to_json();
        assert!(!json.contains(&secret_of(&token)), "{json}");
        assert!(!json.contains(&secret_of(api.token())), "{json}");
    }
    assert!(log
        .iter()
        .any(|r| r.event == "security" && r.statement.contains("CREATE LOGIN TOKEN")));
    assert!(log
        .iter()
        .any(|r| r.event == "security" && r.statement.contains("REVOKE LOGIN TOKEN")));
    let _ = Value::Null;
}
