//! The cost of authorization per statement: the same prepared point query
//! (and a one-row UPDATE) run as root (no checks), as a user holding a
//! table grant, as a user holding column grants, and as a user under a
//! row-level security policy. The difference to root is what the
//! privilege check (and RLS filter) costs. Run:
//! `cargo bench --bench authz`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use sealdb::crypto::{KeyBytes, MemoryKeyProvider};
use sealdb::vfs::MemVfs;
use sealdb::{ClientInfo, Credentials, Db, Options, PasswordCost, Session};

const ROWS: i64 = 10_000;

fn setup() -> Db {
    let db = Db::open_with(
        "/bench",
        MemoryKeyProvider::new(KeyBytes::from_slice(&[9u8; 32])).expect("key"),
        Options {
            vfs: Some(Arc::new(MemVfs::new())),
            password_cost: PasswordCost::dangerous_minimal(),
            ..Options::default()
        },
    )
    .expect("open");
    let root = db.root_session();
    root.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, owner TEXT, k INTEGER, v TEXT)",
        &[],
    )
    .expect("create");
    root.execute(
        "CREATE TABLE r (id INTEGER PRIMARY KEY, owner TEXT, k INTEGER, v TEXT)",
        &[],
    )
    .expect("create");
    let tx = root.transaction().expect("tx");
    let ins = root
        .prepare("INSERT INTO t VALUES (?, ?, ?, ?)")
        .expect("prepare");
    for i in 0..ROWS {
        let owner = if i % 2 == 0 { "dave" } else { "erin" };
        ins.execute(&[&i, &owner, &(i * 7), &"some value text"])
            .expect("insert");
    }
    drop(ins);
    root.execute("INSERT INTO r SELECT * FROM t", &[])
        .expect("copy");
    tx.commit().expect("commit");
    for stmt in [
        "CREATE USER carol WITH PASSWORD 'pw'",
        "CREATE USER colin WITH PASSWORD 'pw'",
        "CREATE USER dave WITH PASSWORD 'pw'",
        "GRANT SELECT, UPDATE ON t TO carol",
        "GRANT SELECT (id, k, v), UPDATE (v) ON t TO colin",
        "GRANT SELECT, UPDATE ON r TO dave",
        "ALTER TABLE r ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY mine ON r USING (owner = current_user)",
    ] {
        root.execute(stmt, &[]).expect(stmt);
    }
    db
}

fn login(db: &Db, user: &str) -> Session {
    db.connect(
        Credentials::password(user, "pw"),
        ClientInfo::local("bench"),
    )
    .expect("login")
}

fn bench(c: &mut Criterion) {
    let db = setup();
    // Each session reads its rows from a table of the same content; dave
    // (under a row policy) sees the even ids of `r`, which are queried.
    let sessions: Vec<(&str, Session, &str)> = vec![
        ("root", db.root_session(), "t"),
        ("table_grant", login(&db, "carol"), "t"),
        ("column_grants", login(&db, "colin"), "t"),
        ("rls_policy", login(&db, "dave"), "r"),
    ];
    let mut g = c.benchmark_group("point_select");
    for (name, s, table) in &sessions {
        let st = s
            .prepare(&format!("SELECT k, v FROM {table} WHERE id = ?"))
            .expect("prepare");
        let mut i = 0i64;
        g.bench_function(*name, |b| {
            b.iter(|| {
                i = (i + 2) % ROWS;
                let mut rows = st.query(&[&i]).expect("query");
                assert!(rows.next().expect("row").is_some());
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("point_update");
    for (name, s, table) in &sessions {
        let st = s
            .prepare(&format!("UPDATE {table} SET v = ? WHERE id = ?"))
            .expect("prepare");
        let mut i = 0i64;
        g.bench_function(*name, |b| {
            b.iter(|| {
                i = (i + 2) % ROWS;
                assert_eq!(
                    black_box(st.execute(&[&"new value", &i]).expect("update")),
                    1
                );
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
