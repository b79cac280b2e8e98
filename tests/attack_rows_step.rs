//! Attacks on a result set read through `Rows::step` (rows lent into
//! reused buffers, the statement's security borrowed per row rather than
//! counted), as an ordinary user: a stepped result shows exactly what
//! `next()` shows, row policies and column grants hold on every row, a
//! buffer reused from a visible row never carries a hidden value into the
//! next, and a prepared statement run again after a REVOKE is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

use sealdb::{ErrorCode, Session, Value};

/// alice owns rows 1, 3 and 5; bob 2 and 4. Bob's bodies are long, so a
/// buffer that held one would show it if it were not overwritten.
const SETUP: &str = "
CREATE TABLE doc (id INTEGER PRIMARY KEY, owner TEXT, body TEXT, secret TEXT);
INSERT INTO doc VALUES
  (1, 'alice', 'a', 's1'),
  (2, 'bob', 'bob-body-that-is-much-longer-than-alices', 's2'),
  (3, 'alice', NULL, 's3'),
  (4, 'bob', 'another-long-bob-body', 's4'),
  (5, 'alice', 'aa', 's5');
CREATE TABLE tag (doc INTEGER, label TEXT);
INSERT INTO tag VALUES (1, 't1'), (2, 't2-bob'), (3, 't3'), (4, 't4-bob'), (5, 't5');
ALTER TABLE doc ENABLE ROW LEVEL SECURITY;
";

fn lab() -> Lab {
    let mut lab = Lab::new(SETUP);
    lab.user("alice").user("bob");
    lab.as_root(
        "GRANT SELECT (id, owner, body) ON doc TO alice, bob;
         GRANT SELECT ON tag TO alice, bob;
         CREATE POLICY own ON doc FOR SELECT USING (owner = current_user)",
    );
    lab
}

fn stepped(s: &Session, q: &str) -> Result<Vec<Vec<Value>>, sealdb::Error> {
    let mut rows = s.query(q, &[])?;
    let mut out = Vec::new();
    while let Some(r) = rows.step()? {
        out.push(r.values().to_vec());
    }
    Ok(out)
}

fn nexted(s: &Session, q: &str) -> Vec<Vec<Value>> {
    let mut rows = s.query(q, &[]).unwrap();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        out.push(r.into_values());
    }
    out
}

#[test]
fn stepped_rows_show_only_what_the_user_may_read() {
    let mut lab = lab();
    let mut n = Attacks::new("rows_step/visible rows and columns");
    let queries = [
        "SELECT id, owner, body FROM doc",
        "SELECT body, id FROM doc ORDER BY id DESC",
        "SELECT d.id, t.label, d.body FROM tag t JOIN doc d ON d.id = t.doc",
        "SELECT t.label, d.body FROM tag t LEFT JOIN doc d ON d.id = t.doc ORDER BY t.doc",
        "SELECT id, (SELECT body FROM doc d2 WHERE d2.id = doc.id + 1) FROM doc",
        "SELECT owner, count(*), max(body) FROM doc GROUP BY owner",
        "SELECT id, body FROM doc WHERE id >= 1 AND id < 5",
        "SELECT id, body FROM doc WHERE id IN (1, 2, 3, 4)",
    ];
    for q in queries {
        n.tried();
        let s = lab.s("alice");
        let got = stepped(s, q).unwrap();
        assert_eq!(got, nexted(s, q), "{q}");
        let text = format!("{got:?}");
        for hidden in ["bob-body", "another-long", "s2", "s4", "\"bob\""] {
            assert!(!text.contains(hidden), "{q} showed {hidden}: {text}");
        }
        // The LEFT JOIN keeps bob's tags with NULL for the hidden rows.
        if q.contains("LEFT JOIN") {
            assert_eq!(got.len(), 5, "{q}");
            assert_eq!(got[1][1], Value::Null, "{q}");
        }
    }
    // The column not granted, alone or beside readable ones, is refused
    // before any row is lent.
    for q in [
        "SELECT secret FROM doc",
        "SELECT id, body, secret FROM doc",
        "SELECT d.id FROM tag t JOIN doc d ON d.id = t.doc WHERE d.secret = 's1'",
    ] {
        n.tried();
        let e = stepped(lab.s("alice"), q).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PermissionDenied, "{q}: {e}");
    }
    assert!(n.count() >= 11);
}

#[test]
fn a_prepared_statement_stepped_again_after_a_revoke_is_refused() {
    let mut lab = lab();
    let root = lab.db.root_session();
    let st = lab.s("alice").prepare("SELECT id, body FROM doc").unwrap();
    let mut rows = st.query(&[]).unwrap();
    let mut seen = 0;
    while rows.step().unwrap().is_some() {
        seen += 1;
    }
    assert_eq!(seen, 3);
    drop(rows);
    root.execute("REVOKE SELECT (body) ON doc FROM alice", &[])
        .unwrap();
    let e = match st.query(&[]) {
        Ok(mut rows) => rows.step().map(|_| ()).unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(e.code(), ErrorCode::PermissionDenied, "{e}");
}

/// A prepared statement's run leaves its operators and row buffers to the
/// next run of the same plan. Alice runs prepared lookups again and again,
/// by rowid, through an index and as a scan, some runs abandoned after a
/// row: a run never shows a row the policy in force hides, nor a value a
/// buffer held from a run before; a policy replaced, a column revoked and
/// granted again between runs take effect at the next run.
#[test]
fn a_prepared_lookup_run_again_follows_policy_and_grant_changes() {
    let mut lab = lab();
    lab.as_root("CREATE INDEX doc_owner ON doc(owner)");
    let root = lab.db.root_session();
    let alice = lab.s("alice");
    let mut n = Attacks::new("rows/prepared runs kept between runs");
    let run = |st: &sealdb::Statement<'_>,
               p: &Value,
               all: bool|
     -> Result<Vec<Vec<Value>>, sealdb::Error> {
        let mut rows = st.query(&[p])?;
        let mut out = Vec::new();
        while let Some(r) = rows.step()? {
            out.push(r.values().to_vec());
            if !all {
                break;
            }
        }
        Ok(out)
    };
    let by_id = alice
        .prepare("SELECT id, body FROM doc WHERE id = ?")
        .unwrap();
    let by_owner = alice
        .prepare("SELECT id, body FROM doc WHERE owner = ? ORDER BY id")
        .unwrap();
    let by_body = alice
        .prepare("SELECT id, body FROM doc WHERE body LIKE ? ORDER BY id")
        .unwrap();
    let ids = |rows: Vec<Vec<Value>>| -> Vec<i64> {
        rows.iter()
            .map(|r| match r[0] {
                Value::Integer(i) => i,
                _ => panic!("{r:?}"),
            })
            .collect()
    };
    let bodies = |rows: &[Vec<Value>]| -> String { format!("{rows:?}") };
    // Under the owner policy: her rows only, whatever ran before.
    for round in 0..3 {
        let all = round != 1;
        for id in 1..=5i64 {
            let got = run(&by_id, &Value::Integer(id), all).unwrap();
            assert_eq!(
                ids(got.clone()),
                if id % 2 == 1 { vec![id] } else { vec![] }
            );
            assert!(!bodies(&got).contains("bob"), "{got:?}");
            n.tried();
        }
        for who in ["bob", "alice", "bob"] {
            let got = run(&by_owner, &Value::Text(who.into()), true).unwrap();
            assert_eq!(
                ids(got.clone()),
                if who == "alice" {
                    vec![1, 3, 5]
                } else {
                    vec![]
                }
            );
            n.tried();
        }
        for pat in ["%bob%", "a%", "%long%"] {
            let got = run(&by_body, &Value::Text(pat.into()), all).unwrap();
            assert!(!bodies(&got).contains("bob"), "{pat}: {got:?}");
            n.tried();
        }
    }
    // The policy replaced by one showing every row: the next runs show
    // bob's rows (what the new policy grants), then hide them again.
    root.execute("DROP POLICY own ON doc", &[]).unwrap();
    root.execute("CREATE POLICY own ON doc FOR SELECT USING (true)", &[])
        .unwrap();
    assert_eq!(ids(run(&by_id, &Value::Integer(2), true).unwrap()), vec![2]);
    assert_eq!(
        ids(run(&by_owner, &Value::Text("bob".into()), true).unwrap()),
        vec![2, 4]
    );
    root.execute("DROP POLICY own ON doc", &[]).unwrap();
    root.execute(
        "CREATE POLICY own ON doc FOR SELECT USING (owner = current_user)",
        &[],
    )
    .unwrap();
    assert!(run(&by_id, &Value::Integer(2), true).unwrap().is_empty());
    assert!(run(&by_owner, &Value::Text("bob".into()), true)
        .unwrap()
        .is_empty());
    n.tried();
    // A column revoked between runs: refused; granted again: runs.
    root.execute("REVOKE SELECT (body) ON doc FROM alice", &[])
        .unwrap();
    for st in [&by_id, &by_owner, &by_body] {
        let e = run(st, &Value::Integer(1), true).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PermissionDenied, "{e}");
        n.tried();
    }
    root.execute("GRANT SELECT (body) ON doc TO alice", &[])
        .unwrap();
    assert_eq!(ids(run(&by_id, &Value::Integer(1), true).unwrap()), vec![1]);
    assert!(n.count() >= 37, "{}", n.count());
}
