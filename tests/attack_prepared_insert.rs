//! Attacks on a prepared INSERT that keeps its plan between runs (the plan
//! stays in the statement while the schema and the security catalog it
//! was made under are current), as an ordinary user: a run after a
//! REVOKE, a narrowed column grant, a new INSERT policy or a changed table
//! is checked and planned under the catalog in force at that run, never
//! the one the plan was made under.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

use sealdb::{ClientInfo, Credentials, ErrorCode, Session};

const SETUP: &str = "
CREATE TABLE doc (id INTEGER PRIMARY KEY, owner TEXT, body TEXT);
ALTER TABLE doc ENABLE ROW LEVEL SECURITY;
CREATE POLICY see ON doc FOR SELECT USING (true);
";

fn alice(lab: &Lab) -> Session {
    lab.db
        .connect(
            Credentials::password("alice", "pw-alice"),
            ClientInfo::local("attack"),
        )
        .unwrap()
}

fn denied(e: sealdb::Error) {
    assert_eq!(e.code(), ErrorCode::PermissionDenied, "{e}");
}

#[test]
fn a_kept_insert_plan_is_checked_under_the_catalog_of_each_run() {
    let mut n = Attacks::new("prepared insert across catalog changes");
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root(
        "GRANT SELECT, INSERT ON doc TO alice;
         CREATE POLICY mine ON doc FOR INSERT WITH CHECK (true)",
    );
    let s = alice(&lab);
    let st = s
        .prepare("INSERT INTO doc (id, owner, body) VALUES (?, ?, ?)")
        .unwrap();
    for id in 1..=3i64 {
        st.execute(&[&id, &"alice", &"b"]).unwrap();
    }
    // Revoked: the kept plan must not carry the old right.
    lab.root
        .execute("REVOKE INSERT ON doc FROM alice", &[])
        .unwrap();
    denied(st.execute(&[&4i64, &"alice", &"b"]).unwrap_err());
    n.tried();
    // Granted again: runs.
    lab.root
        .execute("GRANT INSERT ON doc TO alice", &[])
        .unwrap();
    st.execute(&[&5i64, &"alice", &"b"]).unwrap();
    // Narrowed to two columns: naming the third is refused.
    lab.root
        .run_script(
            "REVOKE INSERT ON doc FROM alice; GRANT INSERT (id, owner) ON doc TO alice",
            |_, _| {},
        )
        .unwrap();
    denied(st.execute(&[&6i64, &"alice", &"b"]).unwrap_err());
    n.tried();
    lab.root
        .execute("GRANT INSERT ON doc TO alice", &[])
        .unwrap();
    st.execute(&[&7i64, &"alice", &"b"]).unwrap();
    // A stricter INSERT policy made after the plan: its check applies.
    lab.root
        .run_script(
            "DROP POLICY mine ON doc;
             CREATE POLICY mine ON doc FOR INSERT WITH CHECK (owner = current_user)",
            |_, _| {},
        )
        .unwrap();
    denied(st.execute(&[&8i64, &"bob", &"forged"]).unwrap_err());
    n.tried();
    st.execute(&[&9i64, &"alice", &"b"]).unwrap();
    // The table changed under the plan: the new column's default is
    // written, and the row is the table's new shape.
    lab.root
        .run_script(
            "ALTER TABLE doc ADD COLUMN tag TEXT DEFAULT 'new'; UPDATE doc SET tag = 'old'",
            |_, _| {},
        )
        .unwrap();
    st.execute(&[&10i64, &"alice", &"b"]).unwrap();
    assert_eq!(
        lab.root_rows("SELECT id, owner, tag FROM doc ORDER BY id"),
        "1|alice|old;2|alice|old;3|alice|old;5|alice|old;7|alice|old;9|alice|old;10|alice|new"
    );
    // The refused runs wrote nothing, and later runs keep working.
    for id in 11..=20i64 {
        st.execute(&[&id, &"alice", &"b"]).unwrap();
    }
    assert_eq!(lab.root_rows("SELECT count(*) FROM doc"), "17");
    // Revoked while the plan is kept across many runs: still refused.
    lab.root
        .execute("REVOKE INSERT ON doc FROM alice", &[])
        .unwrap();
    for id in 21..=23i64 {
        denied(st.execute(&[&id, &"alice", &"b"]).unwrap_err());
        n.tried();
    }
    assert_eq!(lab.root_rows("SELECT count(*) FROM doc"), "17");
}
