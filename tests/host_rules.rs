//! Who may log in from where, and how: host rules (IPv4, IPv6, CIDR,
//! IPv4-mapped IPv6, order, reject, no match, local vs host, `+role`,
//! methods, the default, bad rule text, set by SQL and by options,
//! persisted), login throttling, login tokens (expiry, revocation, DROP
//! USER, NOLOGIN) and VALID UNTIL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sealdb::{
    AuditRecord, ClientInfo, Credentials, Db, Error, ErrorCode, Options, PasswordCost, Session,
};

const HBA: &str = "server.host_based_authentication.configuration";

struct Fixture {
    vfs: Arc<sealdb::vfs::MemVfs>,
    audit: Arc<Mutex<Vec<AuditRecord>>>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            vfs: Arc::new(sealdb::vfs::MemVfs::new()),
            audit: Arc::default(),
        }
    }

    fn options(&self, host_rules: Option<&str>) -> Options {
        let sink = self.audit.clone();
        Options {
            vfs: Some(self.vfs.clone()),
            password_cost: PasswordCost::dangerous_minimal(),
            host_rules: host_rules.map(str::to_string),
            audit_sink: Some(Arc::new(move |r: &AuditRecord| {
                sink.lock().unwrap().push(r.clone())
            })),
            ..Options::default()
        }
    }

    fn try_open(&self, host_rules: Option<&str>) -> sealdb::Result<Db> {
        Db::open_with(
            "/db",
            sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[5u8; 32])).unwrap(),
            self.options(host_rules),
        )
    }

    fn open(&self) -> Db {
        self.try_open(None).unwrap()
    }

    fn last_reason(&self) -> String {
        let a = self.audit.lock().unwrap();
        let r = a.last().unwrap();
        format!("{} {}", r.event, r.error.clone().unwrap_or_default())
    }
}

/// A database with users alice and bob (password `pw`), role staff (bob
/// is a member through team), and `rules` as host rules.
fn setup(rules: &str) -> (Fixture, Db) {
    let f = Fixture::new();
    let db = f.open();
    let root = db.root_session();
    root.run_script(
        "CREATE USER alice WITH PASSWORD 'pw';
         CREATE USER bob WITH PASSWORD 'pw';
         CREATE ROLE staff; CREATE ROLE team;
         GRANT staff TO team; GRANT team TO bob;",
        |_, _| {},
    )
    .unwrap();
    if !rules.is_empty() {
        set_rules(&root, rules).unwrap();
    }
    (f, db)
}

fn set_rules(root: &Session, rules: &str) -> sealdb::Result<u64> {
    root.execute(
        &format!(
            "SET CLUSTER SETTING {HBA} = '{}'",
            rules.replace('\'', "''")
        ),
        &[],
    )
}

fn addr(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn pw_from(db: &Db, user: &str, pw: &str, from: Option<IpAddr>) -> Result<Session, Error> {
    db.connect(
        Credentials::password(user, pw),
        ClientInfo::new(from, "hba"),
    )
}

fn can(db: &Db, user: &str, from: &str) -> bool {
    let a = if from == "local" { None } else { addr(from) };
    pw_from(db, user, "pw", a).is_ok()
}

fn fail_msg(r: Result<Session, Error>) -> String {
    let e = r.err().expect("login should fail");
    assert_eq!(e.code(), ErrorCode::AuthenticationFailed, "{e}");
    e.to_string()
}

#[test]
fn ipv4_addresses_and_cidr_blocks() {
    let (_f, db) = setup(
        "host all all 10.0.0.0/8 password
         host all all 192.168.1.7 password
         host all all 172.16.0.0/12 password
         host all all 0.0.0.0/0 reject",
    );
    for (from, ok) in [
        ("10.0.0.1", true),
        ("10.255.255.255", true),
        ("11.0.0.0", false),
        ("9.255.255.255", false),
        ("192.168.1.7", true),
        ("192.168.1.8", false),
        ("172.16.0.1", true),
        ("172.31.255.254", true),
        ("172.32.0.1", false),
    ] {
        assert_eq!(can(&db, "alice", from), ok, "from {from}");
    }
}

#[test]
fn ipv6_addresses_and_cidr_blocks() {
    let (_f, db) = setup(
        "host all all 2001:db8::/32 password
         host all all ::1/128 password
         host all all fe80::1 password",
    );
    for (from, ok) in [
        ("2001:db8::5", true),
        ("2001:db8:ffff:ffff::1", true),
        ("2001:db9::1", false),
        ("::1", true),
        ("::2", false),
        ("fe80::1", true),
        ("fe80::2", false),
        ("10.0.0.1", false),
    ] {
        assert_eq!(can(&db, "alice", from), ok, "from {from}");
    }
    // An IPv6 rule never matches an IPv4 client and vice versa.
    assert!(!can(&db, "alice", "127.0.0.1"));
}

#[test]
fn ipv4_mapped_ipv6_clients_match_ipv4_rules() {
    let (_f, db) =
        setup("host all all 10.0.0.0/8 password\nhost all all ::ffff:192.168.0.9 password");
    assert!(can(&db, "alice", "::ffff:10.1.2.3"));
    assert!(!can(&db, "alice", "::ffff:11.1.2.3"));
    // A rule written as a mapped address matches the plain IPv4 client.
    assert!(can(&db, "alice", "192.168.0.9"));
    assert!(can(&db, "alice", "::ffff:192.168.0.9"));
}

#[test]
fn ipv4_mapped_ipv6_cidr_block_in_ipv6_notation() {
    // ::ffff:10.0.0.0/104 is the IPv6 spelling of 10.0.0.0/8.
    let (_f, db) = setup("host all all ::ffff:10.0.0.0/104 password");
    assert!(can(&db, "alice", "10.200.0.1"));
    assert!(can(&db, "alice", "::ffff:10.200.0.1"));
    assert!(!can(&db, "alice", "11.0.0.1"));
}

#[test]
fn first_matching_rule_decides() {
    let (_f, db) = setup(
        "host all alice 10.0.0.0/8 reject
         host all all 10.0.0.0/8 password",
    );
    assert!(!can(&db, "alice", "10.0.0.1"));
    assert!(can(&db, "bob", "10.0.0.1"));
    let root = db.root_session();
    set_rules(
        &root,
        "host all all 10.0.0.0/8 password\nhost all alice 10.0.0.0/8 reject",
    )
    .unwrap();
    assert!(can(&db, "alice", "10.0.0.1"), "the earlier rule now wins");
    // A narrower rule after a broader one never gets a say.
    set_rules(
        &root,
        "host all all 10.0.0.0/8 password\nhost all all 10.1.0.0/16 reject",
    )
    .unwrap();
    assert!(can(&db, "alice", "10.1.2.3"));
}

#[test]
fn reject_refuses_even_the_right_password_and_logs_which_rule() {
    let (f, db) = setup(
        "host all alice all reject  # alice is suspended
         host all all all password",
    );
    // The client learns nothing about the rules (issue 13, class 15):
    // the refusal reads like a wrong password; the audit log says why.
    let msg = fail_msg(pw_from(&db, "alice", "pw", addr("10.0.0.1")));
    assert_eq!(msg, "authentication failed: wrong user name or password");
    assert!(f
        .last_reason()
        .starts_with("login_failed rejected by host rule `host all alice all reject`"));
    assert!(can(&db, "bob", "10.0.0.1"));
    // `reject` cannot be combined with a method.
    let e = set_rules(&db.root_session(), "host all all all reject,password").unwrap_err();
    assert!(e.to_string().contains("cannot be combined"), "{e}");
}

#[test]
fn no_matching_rule_rejects() {
    let (f, db) = setup("host all bob 10.0.0.0/8 password");
    let msg = fail_msg(pw_from(&db, "alice", "pw", addr("10.0.0.1")));
    assert_eq!(msg, "authentication failed: wrong user name or password");
    assert_eq!(
        f.last_reason(),
        "login_failed no host rule allows user alice from 10.0.0.1"
    );
    let msg = fail_msg(pw_from(&db, "bob", "pw", None));
    assert_eq!(msg, "authentication failed: wrong user name or password");
    assert!(f.last_reason().ends_with("from a local connection"));
    // Unknown users get the same answer.
    let msg = fail_msg(pw_from(&db, "nobody", "pw", addr("10.0.0.1")));
    assert_eq!(msg, "authentication failed: wrong user name or password");
}

#[test]
fn local_and_host_connections() {
    let (_f, db) = setup("local all all password");
    assert!(can(&db, "alice", "local"));
    assert!(!can(&db, "alice", "127.0.0.1"));
    let root = db.root_session();
    set_rules(&root, "host all all all password").unwrap();
    assert!(!can(&db, "alice", "local"));
    assert!(can(&db, "alice", "127.0.0.1"));
    set_rules(&root, "all all all all password").unwrap();
    assert!(can(&db, "alice", "local"));
    assert!(can(&db, "alice", "::1"));
    // An address rule never matches a local connection.
    set_rules(&root, "all all all 127.0.0.1 password").unwrap();
    assert!(!can(&db, "alice", "local"));
    assert!(can(&db, "alice", "127.0.0.1"));
}

#[test]
fn plus_role_matches_members_directly_and_through_roles() {
    let (_f, db) = setup(
        "host all +staff all password
         host all alice,carol 10.0.0.0/8 password",
    );
    assert!(can(&db, "bob", "192.0.2.1"), "bob is in staff through team");
    assert!(!can(&db, "alice", "192.0.2.1"));
    assert!(can(&db, "alice", "10.0.0.1"), "user lists work");
    let root = db.root_session();
    root.execute("GRANT staff TO alice", &[]).unwrap();
    assert!(can(&db, "alice", "192.0.2.1"));
    root.execute("REVOKE team FROM bob", &[]).unwrap();
    assert!(!can(&db, "bob", "192.0.2.1"));
}

#[test]
fn method_must_be_allowed_by_the_rule() {
    let (f, db) = setup("host all all all token\nlocal all all password");
    let msg = fail_msg(pw_from(&db, "alice", "pw", addr("10.0.0.1")));
    assert_eq!(msg, "authentication failed: wrong user name or password");
    assert!(f.last_reason().contains("method password not allowed"));
    // A token from the same address is fine.
    let alice = pw_from(&db, "alice", "pw", None).unwrap();
    let tok = alice.create_login_token(Duration::from_secs(60)).unwrap();
    db.connect(
        Credentials::token("alice", tok.token()),
        ClientInfo::new(addr("10.0.0.1"), "api"),
    )
    .unwrap();
    // Trust credentials need a trust rule.
    let msg = fail_msg(db.connect(Credentials::trusted("alice"), ClientInfo::local("x")));
    assert_eq!(msg, "authentication failed: wrong user name or password");
    assert!(f.last_reason().contains("method trust not allowed"));
}

#[test]
fn trust_rule_admits_known_users_only() {
    let (_f, db) = setup("local all all trust\nhost all all all password");
    let s = db
        .connect(Credentials::trusted("alice"), ClientInfo::local("x"))
        .unwrap();
    assert_eq!(s.user(), "alice");
    fail_msg(db.connect(Credentials::trusted("nobody"), ClientInfo::local("x")));
    fail_msg(db.connect(
        Credentials::trusted("alice"),
        ClientInfo::new(addr("10.0.0.1"), "x"),
    ));
}

#[test]
fn default_rules_allow_password_and_token_from_anywhere() {
    let (_f, db) = setup("");
    let root = db.root_session();
    let shown = root
        .query(&format!("SHOW CLUSTER SETTING {HBA}"), &[])
        .unwrap()
        .collect_all()
        .unwrap();
    assert_eq!(shown.len(), 1);
    assert!(can(&db, "alice", "local"));
    assert!(can(&db, "alice", "203.0.113.9"));
    assert!(can(&db, "alice", "2001:db8::1"));
    let alice = pw_from(&db, "alice", "pw", None).unwrap();
    let tok = alice.create_login_token(Duration::from_secs(60)).unwrap();
    for from in [None, addr("203.0.113.9")] {
        db.connect(
            Credentials::token("alice", tok.token()),
            ClientInfo::new(from, "x"),
        )
        .unwrap();
    }
    fail_msg(db.connect(Credentials::trusted("alice"), ClientInfo::local("x")));
    // Setting the empty configuration restores the default.
    set_rules(&root, "host all all 10.0.0.0/8 password").unwrap();
    assert!(!can(&db, "alice", "203.0.113.9"));
    set_rules(&root, "").unwrap();
    assert!(can(&db, "alice", "203.0.113.9"));
}

#[test]
fn bad_rule_text_is_refused_clearly_and_changes_nothing() {
    let (_f, db) = setup("host all all 10.0.0.0/8 password");
    let root = db.root_session();
    for (rules, says) in [
        (
            "hots all all all password",
            "unknown connection type `hots`",
        ),
        ("host all all 10.0.0.0/33 password", "bad prefix length"),
        ("host all all 2001:db8::/129 password", "bad prefix length"),
        ("host all all 10.0.0.300 password", "is not an address"),
        ("host all all all passwd", "unknown method `passwd`"),
        ("host all all password", "expected 5 fields"),
        ("local all all all password", "expected 4 fields"),
        ("host otherdb all all password", "database field"),
        (
            "host all all 10.0.0.0/8 password\nhost all all all kerberos",
            "host all all all kerberos",
        ),
    ] {
        let e = set_rules(&root, rules).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{rules}: {e}");
        assert!(e.to_string().contains(says), "{rules}: {e}");
        assert!(e.to_string().contains("host rule `"), "{rules}: {e}");
    }
    // The old rules still apply.
    assert!(can(&db, "alice", "10.0.0.1"));
    assert!(!can(&db, "alice", "11.0.0.1"));
    // Only admins may set them.
    let alice = pw_from(&db, "alice", "pw", addr("10.0.0.1")).unwrap();
    let e = set_rules(&alice, "host all all all trust").unwrap_err();
    assert_eq!(e.code(), ErrorCode::PermissionDenied);
    assert!(!can(&db, "alice", "11.0.0.1"));
}

#[test]
fn rules_set_by_sql_persist_across_reopen() {
    let (f, db) = setup("host all all 10.0.0.0/8 password");
    drop(db);
    let db = f.open();
    assert!(can(&db, "alice", "10.0.0.1"));
    assert!(!can(&db, "alice", "11.0.0.1"));
}

#[test]
fn rules_set_by_options_apply_and_persist() {
    let f = Fixture::new();
    {
        let db = f.open();
        db.root_session()
            .execute("CREATE USER alice WITH PASSWORD 'pw'", &[])
            .unwrap();
    }
    {
        let db = f
            .try_open(Some("host all all 192.0.2.0/24 password"))
            .unwrap();
        assert!(can(&db, "alice", "192.0.2.77"));
        assert!(!can(&db, "alice", "10.0.0.1"));
    }
    {
        // Not given again: the stored rules stay.
        let db = f.open();
        assert!(!can(&db, "alice", "10.0.0.1"));
        assert!(can(&db, "alice", "192.0.2.77"));
    }
    // Bad rules in the options fail the open with the same clear error.
    let e = f
        .try_open(Some("host all all nowhere password"))
        .err()
        .unwrap();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    assert!(e.to_string().contains("`nowhere` is not an address"), "{e}");
    let db = f.open();
    assert!(can(&db, "alice", "192.0.2.77"));
}

#[test]
fn repeated_failures_are_throttled_per_address_and_user() {
    let (f, db) = setup("");
    let here = addr("10.0.0.1");
    for _ in 0..sealdb::auth::FREE_FAILURES {
        fail_msg(pw_from(&db, "alice", "bad", here));
    }
    // Now even the right password waits.
    let e = pw_from(&db, "alice", "pw", here).err().unwrap();
    assert!(
        matches!(e, Error::LoginThrottled { retry_after_ms } if retry_after_ms > 0),
        "{e}"
    );
    assert_eq!(e.code(), ErrorCode::LoginThrottled);
    assert_eq!(f.last_reason(), "login_failed throttled");
    // Other users and other addresses are not affected.
    assert!(can(&db, "bob", "10.0.0.1"));
    assert!(can(&db, "alice", "10.0.0.2"));
    assert!(can(&db, "alice", "local"));
    // Unknown users are throttled the same way (no hint that they do not exist).
    for _ in 0..sealdb::auth::FREE_FAILURES {
        fail_msg(pw_from(&db, "ghost", "bad", here));
    }
    assert!(matches!(
        pw_from(&db, "ghost", "bad", here).err().unwrap(),
        Error::LoginThrottled { .. }
    ));
}

#[test]
fn throttle_waits_then_lets_the_right_password_in() {
    let (_f, db) = setup("");
    let here = addr("10.0.0.3");
    for _ in 0..sealdb::auth::FREE_FAILURES {
        fail_msg(pw_from(&db, "alice", "bad", here));
    }
    let Error::LoginThrottled { retry_after_ms } = pw_from(&db, "alice", "pw", here).err().unwrap()
    else {
        panic!("not throttled")
    };
    assert!(retry_after_ms <= 1000, "first wait is at most a second");
    std::thread::sleep(Duration::from_millis(retry_after_ms + 50));
    pw_from(&db, "alice", "pw", here).unwrap();
    // A success forgets the failures.
    for _ in 0..sealdb::auth::FREE_FAILURES - 1 {
        fail_msg(pw_from(&db, "alice", "bad", here));
    }
    pw_from(&db, "alice", "pw", here).unwrap();
}

fn token_login(db: &Db, user: &str, token: &str) -> Result<Session, Error> {
    db.connect(Credentials::token(user, token), ClientInfo::local("api"))
}

#[test]
fn tokens_expire() {
    let (_f, db) = setup("");
    let alice = pw_from(&db, "alice", "pw", None).unwrap();
    let gone = alice.create_login_token(Duration::from_secs(0)).unwrap();
    let msg = fail_msg(token_login(&db, "alice", gone.token()));
    assert_eq!(
        msg,
        "authentication failed: invalid, expired or revoked login token"
    );
    let short = alice.create_login_token(Duration::from_secs(1)).unwrap();
    token_login(&db, "alice", short.token()).unwrap();
    std::thread::sleep(Duration::from_millis(2100));
    fail_msg(token_login(&db, "alice", short.token()));
}

#[test]
fn tokens_belong_to_their_user_and_garbage_is_refused() {
    let (_f, db) = setup("");
    let alice = pw_from(&db, "alice", "pw", None).unwrap();
    let tok = alice.create_login_token(Duration::from_secs(60)).unwrap();
    assert!(tok.expires_at > 0);
    fail_msg(token_login(&db, "bob", tok.token()));
    fail_msg(token_login(&db, "alice", "not-a-token"));
    fail_msg(token_login(&db, "alice", ""));
    let mut forged = tok.token().to_string();
    let last = forged.pop().unwrap();
    forged.push(if last == 'a' { 'b' } else { 'a' });
    fail_msg(token_login(&db, "alice", &forged));
    // The token is not a password.
    fail_msg(pw_from(&db, "alice", tok.token(), None));
    token_login(&db, "alice", tok.token()).unwrap();
}

#[test]
fn tokens_are_revoked_one_by_one_or_all_at_once() {
    let (_f, db) = setup("");
    let alice = pw_from(&db, "alice", "pw", None).unwrap();
    let bob = pw_from(&db, "bob", "pw", None).unwrap();
    let t1 = alice.create_login_token(Duration::from_secs(60)).unwrap();
    let t2 = alice.create_login_token(Duration::from_secs(60)).unwrap();
    let t3 = alice.create_login_token(Duration::from_secs(60)).unwrap();
    let tb = bob.create_login_token(Duration::from_secs(60)).unwrap();
    // Bob may not revoke alice's tokens, one or all.
    let e = bob.revoke_login_token(&t1.id).unwrap_err();
    assert_eq!(e.code(), ErrorCode::PermissionDenied);
    let e = bob.revoke_login_tokens("alice").unwrap_err();
    assert_eq!(e.code(), ErrorCode::PermissionDenied);
    token_login(&db, "alice", t1.token()).unwrap();
    // One by one.
    assert!(alice.revoke_login_token(&t1.id).unwrap());
    assert!(!alice.revoke_login_token(&t1.id).unwrap(), "already gone");
    fail_msg(token_login(&db, "alice", t1.token()));
    token_login(&db, "alice", t2.token()).unwrap();
    // All of a user's, by an admin.
    assert_eq!(db.root_session().revoke_login_tokens("alice").unwrap(), 2);
    fail_msg(token_login(&db, "alice", t2.token()));
    fail_msg(token_login(&db, "alice", t3.token()));
    token_login(&db, "bob", tb.token()).unwrap();
    // And one's own.
    assert_eq!(bob.revoke_login_tokens("bob").unwrap(), 1);
    fail_msg(token_login(&db, "bob", tb.token()));
}

#[test]
fn tokens_stop_working_after_drop_user() {
    let (_f, db) = setup("");
    let alice = pw_from(&db, "alice", "pw", None).unwrap();
    let tok = alice.create_login_token(Duration::from_secs(60)).unwrap();
    drop(alice);
    let root = db.root_session();
    root.execute("DROP USER alice", &[]).unwrap();
    fail_msg(token_login(&db, "alice", tok.token()));
    // A new user of the same name does not inherit the old tokens.
    root.execute("CREATE USER alice WITH PASSWORD 'pw2'", &[])
        .unwrap();
    fail_msg(token_login(&db, "alice", tok.token()));
}

#[test]
fn tokens_stop_working_without_login() {
    let (_f, db) = setup("");
    let alice = pw_from(&db, "alice", "pw", None).unwrap();
    let tok = alice.create_login_token(Duration::from_secs(60)).unwrap();
    let root = db.root_session();
    root.execute("ALTER USER alice NOLOGIN", &[]).unwrap();
    let msg = fail_msg(token_login(&db, "alice", tok.token()));
    assert!(msg.contains("revoked login token"), "{msg}");
    let msg = fail_msg(pw_from(&db, "alice", "pw", None));
    assert!(msg.contains("not permitted to log in"), "{msg}");
    // A role that cannot log in gets no token.
    let e = alice
        .create_login_token(Duration::from_secs(60))
        .err()
        .unwrap();
    assert_eq!(e.code(), ErrorCode::PermissionDenied, "{e}");
}

#[test]
fn tokens_do_not_come_back_with_login() {
    let (_f, db) = setup("");
    let alice = pw_from(&db, "alice", "pw", None).unwrap();
    let tok = alice.create_login_token(Duration::from_secs(60)).unwrap();
    let root = db.root_session();
    root.execute("ALTER USER alice NOLOGIN", &[]).unwrap();
    root.execute("ALTER USER alice LOGIN", &[]).unwrap();
    fail_msg(token_login(&db, "alice", tok.token()));
}

#[test]
fn tokens_survive_reopen_but_revocations_too() {
    let (f, db) = setup("");
    let alice = pw_from(&db, "alice", "pw", None).unwrap();
    let keep = alice.create_login_token(Duration::from_secs(60)).unwrap();
    let gone = alice.create_login_token(Duration::from_secs(60)).unwrap();
    alice.revoke_login_token(&gone.id).unwrap();
    drop(alice);
    drop(db);
    let db = f.open();
    token_login(&db, "alice", keep.token()).unwrap();
    fail_msg(token_login(&db, "alice", gone.token()));
}

#[test]
fn valid_until() {
    let (f, db) = setup("");
    let root = db.root_session();
    root.execute("ALTER USER alice VALID UNTIL '2001-02-03 04:05:06'", &[])
        .unwrap();
    let msg = fail_msg(pw_from(&db, "alice", "pw", None));
    assert_eq!(msg, "authentication failed: the login of alice has expired");
    assert_eq!(f.last_reason(), "login_failed VALID UNTIL passed");
    // A wrong password learns nothing about the expiry.
    let msg = fail_msg(pw_from(&db, "alice", "bad", None));
    assert_eq!(msg, "authentication failed: wrong user name or password");
    root.execute("ALTER USER alice VALID UNTIL '2999-01-01'", &[])
        .unwrap();
    assert!(can(&db, "alice", "local"));
    root.execute("ALTER USER alice VALID UNTIL NULL", &[])
        .unwrap();
    assert!(can(&db, "alice", "local"));
    // Tokens obey it too.
    let alice = pw_from(&db, "alice", "pw", None).unwrap();
    let tok = alice.create_login_token(Duration::from_secs(60)).unwrap();
    root.execute("ALTER USER alice VALID UNTIL '2020-01-01T00:00:00Z'", &[])
        .unwrap();
    fail_msg(token_login(&db, "alice", tok.token()));
    let e = root
        .execute("ALTER USER alice VALID UNTIL 'next tuesday'", &[])
        .unwrap_err();
    assert!(e.to_string().contains("invalid timestamp"), "{e}");
    // A new user may be created already expired.
    root.execute(
        "CREATE USER late WITH PASSWORD 'pw' VALID UNTIL '1999-12-31'",
        &[],
    )
    .unwrap();
    assert!(!can(&db, "late", "local"));
}
