//! Attacks on row-level security through conflict clauses and data
//! changes, as an ordinary user (issue 13, items 5, 7, 9):
//!
//! - INSERT OR REPLACE / REPLACE / UPDATE OR REPLACE never delete a row the
//!   user may not see and delete; ON CONFLICT DO UPDATE never takes over or
//!   shows a row the user may not see and update, and its WHERE clause
//!   never runs on such a row (no error oracle) — as in PostgreSQL, the
//!   statement is refused with a permission error naming no value;
//! - conflict clauses that delete need the DELETE privilege; writing the
//!   hidden rowid needs the whole-table privilege;
//! - UPDATE and DELETE that read rows (WHERE, SET, RETURNING) match and
//!   return only rows the SELECT policies show (PostgreSQL's rule).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

use sealdb::ErrorCode;

/// `doc`: alice owns row 1, bob rows 2 and 3; each sees only their own.
const SETUP: &str = "
CREATE TABLE doc (id INTEGER PRIMARY KEY, owner TEXT, body TEXT, code TEXT UNIQUE);
INSERT INTO doc VALUES (1, 'alice', 'a-body', 'A1'), (2, 'bob', 'b-secret', 'B1'),
                       (3, 'bob', 'b-other', 'B2');
ALTER TABLE doc ENABLE ROW LEVEL SECURITY;
";

fn lab(policies: &str) -> Lab {
    let mut lab = Lab::new(SETUP);
    lab.user("alice").user("bob");
    lab.as_root("GRANT ALL ON doc TO alice, bob");
    lab.as_root(policies);
    lab
}

const OWN: &str = "CREATE POLICY own ON doc FOR ALL USING (owner = current_user)";

/// An expression that fails only when the row's body is bob's secret.
const ORACLE: &str = "CASE WHEN body = 'b-secret' THEN abs(-9223372036854775807 - 1) ELSE 1 END";

#[test]
fn conflict_clauses_never_replace_or_take_over_hidden_rows() {
    let mut n = Attacks::new("rls/conflict paths (item 5)");
    let attacks = [
        // Replacing bob's row by id or by a unique key.
        "INSERT OR REPLACE INTO doc VALUES (2, 'alice', 'mine now', 'Z9')",
        "REPLACE INTO doc VALUES (2, 'alice', 'mine now', 'Z9')",
        "INSERT OR REPLACE INTO doc VALUES (10, 'alice', 'x', 'B1')",
        "REPLACE INTO doc (id, owner, body, code) VALUES (11, 'alice', 'x', 'B2')",
        "INSERT OR REPLACE INTO doc VALUES (2, 'alice', 'x', 'Z8') RETURNING body",
        "INSERT OR REPLACE INTO doc SELECT 2, 'alice', 'x', 'Z7'",
        "INSERT OR REPLACE INTO doc VALUES (12, 'alice', 'ok', 'Z6'), (3, 'alice', 'x', 'Z5')",
        "REPLACE INTO doc VALUES (1, 'alice', 'x', 'B1')",
        // Taking bob's row over, or reading it through RETURNING.
        "INSERT INTO doc VALUES (2, 'alice', 'x', 'Z1') ON CONFLICT (id) DO UPDATE SET owner = 'alice'",
        "INSERT INTO doc VALUES (2, 'alice', 'x', 'Z1') ON CONFLICT (id) DO UPDATE SET body = excluded.body RETURNING *",
        "INSERT INTO doc VALUES (2, 'alice', 'x', 'Z1') ON CONFLICT (id) DO UPDATE SET code = code RETURNING body",
        "INSERT INTO doc VALUES (20, 'alice', 'x', 'B1') ON CONFLICT (code) DO UPDATE SET owner = 'alice' RETURNING body",
        "INSERT INTO doc VALUES (2, 'alice', 'x', 'Z1') ON CONFLICT (id) DO UPDATE SET body = body || '' WHERE owner = 'bob'",
        "INSERT INTO doc VALUES (2, 'alice', 'x', 'Z1') ON CONFLICT DO UPDATE SET owner = excluded.owner RETURNING id, owner, body, code",
        // UPDATE OR REPLACE colliding with bob's rows.
        "UPDATE OR REPLACE doc SET code = 'B1' WHERE id = 1",
        "UPDATE OR REPLACE doc SET id = 2 WHERE id = 1",
        "UPDATE OR REPLACE doc SET id = 3, code = 'B2' WHERE id = 1 RETURNING body",
    ];
    for a in attacks {
        let mut lab = self::lab(OWN);
        let e = lab.denied("alice", a);
        // The refusal names no value of the hidden row.
        for v in ["b-secret", "b-other", "B1", "B2"] {
            assert!(!e.to_string().contains(v), "{a}: {e}");
        }
        assert_eq!(
            lab.root_rows("SELECT id, owner, body, code FROM doc WHERE owner = 'bob' ORDER BY id"),
            "2|bob|b-secret|B1;3|bob|b-other|B2"
        );
        n.tried();
    }
    // The DO UPDATE WHERE clause and SET never run on a hidden row, so an
    // expression that fails on one value tells nothing: same refusal for
    // every hidden row, whatever its body.
    for target in [2, 3] {
        for clause in [
            format!("DO UPDATE SET body = 'x' WHERE {ORACLE} = 1"),
            format!("DO UPDATE SET body = {ORACLE}"),
            format!("DO UPDATE SET code = excluded.code WHERE {ORACLE} > 0"),
        ] {
            let mut lab = self::lab(OWN);
            let e = lab.denied(
                "alice",
                &format!("INSERT INTO doc VALUES ({target}, 'alice', 'x', 'Q{target}') ON CONFLICT (id) {clause}"),
            );
            assert_eq!(e.code(), ErrorCode::PermissionDenied, "{e}");
            assert!(!e.to_string().contains("overflow"), "{e}");
            n.tried();
        }
    }
}

#[test]
fn conflict_checks_follow_each_policy_kind() {
    let mut n = Attacks::new("rls/conflict policy kinds (item 5)");
    // Everyone sees every row, but changes only their own: replacing or
    // taking over bob's row is still refused (DELETE / UPDATE USING).
    let see_all = "CREATE POLICY sel ON doc FOR SELECT USING (true);
                   CREATE POLICY ins ON doc FOR INSERT WITH CHECK (owner = current_user);
                   CREATE POLICY upd ON doc FOR UPDATE USING (owner = current_user);
                   CREATE POLICY del ON doc FOR DELETE USING (owner = current_user)";
    for a in [
        "REPLACE INTO doc VALUES (2, 'alice', 'x', 'Z1')",
        "INSERT OR REPLACE INTO doc VALUES (9, 'alice', 'x', 'B1')",
        "INSERT INTO doc VALUES (2, 'alice', 'x', 'Z1') ON CONFLICT (id) DO UPDATE SET owner = 'alice'",
        "UPDATE OR REPLACE doc SET code = 'B2' WHERE id = 1",
    ] {
        let mut lab = self::lab(see_all);
        lab.denied("alice", a);
        n.tried();
    }
    // Bob's rows may be updated by anyone but not seen: ON CONFLICT DO
    // UPDATE still may not take one over (the SELECT policy).
    let blind = "CREATE POLICY sel ON doc FOR SELECT USING (owner = current_user);
                 CREATE POLICY ins ON doc FOR INSERT WITH CHECK (true);
                 CREATE POLICY upd ON doc FOR UPDATE USING (true);
                 CREATE POLICY del ON doc FOR DELETE USING (true)";
    for a in [
        "INSERT INTO doc VALUES (2, 'alice', 'x', 'Z1') ON CONFLICT (id) DO UPDATE SET body = 'x'",
        "INSERT INTO doc VALUES (2, 'alice', 'x', 'Z1') ON CONFLICT (id) DO UPDATE SET body = 'x' RETURNING body",
        "REPLACE INTO doc VALUES (3, 'alice', 'x', 'Z1')",
        "UPDATE OR REPLACE doc SET id = 2 WHERE id = 1",
    ] {
        let mut lab = self::lab(blind);
        lab.denied("alice", a);
        n.tried();
    }
    // Controls: one's own rows may be replaced and upserted.
    let mut lab = self::lab(OWN);
    assert_eq!(
        lab.ok("alice", "REPLACE INTO doc VALUES (1, 'alice', 'new', 'A1')"),
        "ok 1"
    );
    assert_eq!(
        lab.ok(
            "alice",
            "INSERT INTO doc VALUES (1, 'alice', 'x', 'A1') ON CONFLICT (id) DO UPDATE SET body = 'up' RETURNING body"
        ),
        "up"
    );
    assert_eq!(
        lab.ok(
            "alice",
            "INSERT INTO doc VALUES (2, 'alice', 'x', 'Z1') ON CONFLICT DO NOTHING"
        ),
        "ok 0"
    );
}

#[test]
fn conflict_deletes_need_the_delete_privilege() {
    let mut n = Attacks::new("rls/OR REPLACE needs DELETE (item 7)");
    let setup = "
        CREATE TABLE kv (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v TEXT);
        INSERT INTO kv VALUES (1, 'a', 'va'), (2, 'b', 'vb'), (3, 'c', 'vc');
        CREATE TABLE nr (k TEXT, v TEXT);
        INSERT INTO nr VALUES ('x', 'vx'), ('y', 'vy');
    ";
    let attacks = [
        "UPDATE OR REPLACE kv SET k = 'b' WHERE id = 1",
        "UPDATE OR REPLACE kv SET id = 2 WHERE id = 1",
        "UPDATE OR REPLACE kv SET rowid = 3 WHERE id = 1",
        "UPDATE OR REPLACE kv SET v = 'harmless' WHERE id = 1",
        "INSERT OR REPLACE INTO kv VALUES (2, 'z', 'overwritten')",
        "REPLACE INTO kv VALUES (3, 'c', 'overwritten')",
        "INSERT OR REPLACE INTO kv (k, v) VALUES ('a', 'taken')",
        "REPLACE INTO kv SELECT 1, 'a', 'again'",
    ];
    for a in attacks {
        let mut lab = Lab::new(setup);
        lab.user("alice");
        lab.as_root("GRANT SELECT, INSERT, UPDATE ON kv TO alice");
        let e = lab.denied("alice", a);
        assert!(e.to_string().contains("DELETE"), "{a}: {e}");
        n.tried();
    }
    // Moving rows of a table without INTEGER PRIMARY KEY (writing its
    // hidden rowid) needs the whole-table privilege, not a column's.
    for a in [
        "UPDATE nr SET rowid = 9 WHERE k = 'x'",
        "UPDATE nr SET _rowid_ = 1, v = 'moved' WHERE k = 'y'",
        "INSERT INTO nr (rowid, v) VALUES (1, 'clash')",
        "UPDATE OR REPLACE nr SET rowid = 2 WHERE k = 'x'",
    ] {
        let mut lab = Lab::new(setup);
        lab.user("alice");
        lab.as_root("GRANT SELECT, INSERT (v), UPDATE (v) ON nr TO alice");
        lab.denied("alice", a);
        n.tried();
    }
    // With DELETE, but a DELETE policy that hides the row: still refused.
    let mut lab = Lab::new(setup);
    lab.user("alice");
    lab.as_root(
        "GRANT ALL ON kv TO alice;
         ALTER TABLE kv ENABLE ROW LEVEL SECURITY;
         CREATE POLICY r ON kv FOR SELECT USING (true);
         CREATE POLICY w ON kv FOR INSERT WITH CHECK (true);
         CREATE POLICY u ON kv FOR UPDATE USING (true);
         CREATE POLICY d ON kv FOR DELETE USING (k <> 'b')",
    );
    lab.denied("alice", "UPDATE OR REPLACE kv SET k = 'b' WHERE id = 1");
    lab.denied("alice", "REPLACE INTO kv VALUES (2, 'q', 'q')");
    n.tried();
    n.tried();
    // A trigger body gets no more: its owner needs DELETE too.
    let mut lab = Lab::new(setup);
    lab.user("alice").user("bob");
    lab.as_root(
        "GRANT SELECT, INSERT, UPDATE ON kv TO alice;
         GRANT CREATE ON DATABASE main TO alice",
    );
    lab.ok("alice", "CREATE TABLE go (x INTEGER)");
    lab.ok("alice", "GRANT INSERT ON go TO bob");
    lab.ok(
        "alice",
        "CREATE TRIGGER via AFTER INSERT ON go BEGIN UPDATE OR REPLACE kv SET k = 'b' WHERE id = 1; END",
    );
    lab.denied("bob", "INSERT INTO go VALUES (1)");
    lab.denied("root", "INSERT INTO go VALUES (1)");
    n.tried();
    // Control: with DELETE it works.
    let mut lab = Lab::new(setup);
    lab.user("alice");
    lab.as_root("GRANT SELECT, INSERT, UPDATE, DELETE ON kv TO alice");
    assert_eq!(
        lab.ok("alice", "UPDATE OR REPLACE kv SET k = 'b' WHERE id = 1"),
        "ok 1"
    );
    assert_eq!(lab.root_rows("SELECT id FROM kv ORDER BY id"), "1;3");
}

#[test]
fn update_and_delete_see_only_what_select_policies_show() {
    let mut n = Attacks::new("rls/UPDATE and DELETE read through SELECT policies (item 9)");
    // Anyone may update and delete any row, but sees only their own.
    let policies = "CREATE POLICY sel ON doc FOR SELECT USING (owner = current_user);
                    CREATE POLICY ins ON doc FOR INSERT WITH CHECK (true);
                    CREATE POLICY upd ON doc FOR UPDATE USING (true);
                    CREATE POLICY del ON doc FOR DELETE USING (true)";
    // Statements that read rows match none of bob's: nothing changes and
    // nothing is returned, whatever bob's values.
    let matching = [
        "UPDATE doc SET body = 'pwned' WHERE body = 'b-secret'",
        "UPDATE doc SET body = 'pwned' WHERE owner = 'bob'",
        "UPDATE doc SET body = 'pwned' WHERE id = 2",
        "UPDATE doc SET body = 'pwned' WHERE id IN (2, 3)",
        "UPDATE doc SET body = 'pwned' WHERE body LIKE 'b-%'",
        "UPDATE doc SET body = 'pwned' WHERE length(body) = 8",
        "UPDATE doc SET body = 'pwned' WHERE code > 'B'",
        "UPDATE doc SET body = 'pwned' WHERE EXISTS (SELECT 1 WHERE 1) AND id > 1",
        "UPDATE doc SET body = body || '!' WHERE id > 1",
        "DELETE FROM doc WHERE body = 'b-secret'",
        "DELETE FROM doc WHERE owner = 'bob'",
        "DELETE FROM doc WHERE id = 2",
        "DELETE FROM doc WHERE code IN ('B1', 'B2')",
        "DELETE FROM doc WHERE body LIKE '%secret%'",
    ];
    for a in matching {
        let mut lab = self::lab(policies);
        let before = dump(&lab.db);
        assert_eq!(lab.ok("alice", a), "ok 0", "{a}");
        assert_eq!(before, dump(&lab.db), "{a} changed something");
        n.tried();
    }
    // RETURNING shows only alice's rows.
    for a in [
        "UPDATE doc SET owner = owner RETURNING body",
        "UPDATE doc SET code = code WHERE id > 0 RETURNING id, body",
        "UPDATE doc SET body = body RETURNING *",
        "DELETE FROM doc WHERE id > 1 RETURNING body",
        "DELETE FROM doc RETURNING body",
    ] {
        let mut lab = self::lab(policies);
        let got = lab.ok("alice", a);
        assert!(!got.contains("b-"), "{a} returned hidden rows: {got}");
        assert_eq!(
            lab.root_rows("SELECT count(*) FROM doc WHERE owner = 'bob'"),
            "2"
        );
        n.tried();
    }
    // No error oracle: a WHERE that fails on bob's secret never sees it.
    for stmt in [
        format!("UPDATE doc SET body = 'x' WHERE {ORACLE} = 1"),
        format!("UPDATE doc SET body = {ORACLE}"),
        format!("DELETE FROM doc WHERE {ORACLE} = 7"),
        format!("UPDATE doc SET body = 'y' WHERE id = 2 AND {ORACLE} = 1 RETURNING id"),
    ] {
        let mut lab = self::lab(policies);
        let r = lab.try_run("alice", &stmt);
        assert!(r.is_ok(), "{stmt}: {r:?}");
        assert_eq!(
            lab.root_rows("SELECT body FROM doc WHERE id = 2"),
            "b-secret"
        );
        n.tried();
    }
    // Rows that leave what the user may see cannot be returned.
    let mut lab = self::lab(policies);
    lab.denied(
        "alice",
        "UPDATE doc SET owner = 'bob' WHERE id = 1 RETURNING body",
    );
    lab.denied(
        "alice",
        "INSERT INTO doc VALUES (30, 'bob', 'gift', 'G1') RETURNING body",
    );
    n.tried();
    n.tried();
    // PostgreSQL's rule: an UPDATE that reads nothing is not filtered by
    // SELECT policies (the UPDATE policy lets alice change every row).
    let mut lab = self::lab(policies);
    assert_eq!(lab.ok("alice", "UPDATE doc SET body = 'blind'"), "ok 3");
}

/// Row policies in three-valued logic: a row is visible (USING) or may be
/// written (WITH CHECK) only where the policy's condition is true; where
/// it is NULL (`NOT NULL`, `NULL OR false`, `NULL AND true`) the row is
/// hidden or the write refused, never let through. For each condition,
/// alice's reads and inserts are compared with SQLite's WHERE over the
/// same rows (an oracle outside sealdb's evaluator).
#[test]
fn policies_let_through_only_rows_whose_condition_is_true() {
    let mut n = Attacks::new("rls/three-valued conditions");
    let vals = ["NULL", "0", "1"];
    let mut rows = Vec::new();
    for a in vals {
        for b in vals {
            rows.push(format!("({}, 'alice', {a}, {b})", rows.len() + 1));
        }
    }
    let setup = format!(
        "CREATE TABLE f (id INTEGER PRIMARY KEY, owner TEXT, a INTEGER, b INTEGER);
         INSERT INTO f VALUES {};",
        rows.join(", ")
    );
    let conds = [
        "a = 1",
        "NOT (a = 1)",
        "NOT a",
        "a OR b",
        "a AND b",
        "NOT (a OR b)",
        "NOT (a AND b)",
        "a = 1 OR b = 1",
        "a = 1 AND NOT (b = 0)",
        "(a = 0 OR b) AND NOT (a IS NULL)",
        "NOT (NOT (a = b))",
        "a IS NOT b OR NOT (a = 1 AND b = 1)",
        "a <> b",
        "NOT (a > b) OR a IS NULL",
    ];
    let lite = rusqlite::Connection::open_in_memory().unwrap();
    lite.execute_batch(&setup).unwrap();
    for cond in conds {
        let want: Vec<String> = {
            let mut st = lite
                .prepare(&format!("SELECT id FROM f WHERE {cond} ORDER BY id"))
                .unwrap();
            st.query_map([], |r| r.get::<_, i64>(0))
                .unwrap()
                .map(|v| v.unwrap().to_string())
                .collect()
        };
        let mut lab = Lab::new(&setup);
        lab.user("alice");
        lab.as_root(&format!(
            "ALTER TABLE f ENABLE ROW LEVEL SECURITY;
             GRANT SELECT, INSERT, UPDATE ON f TO alice;
             CREATE POLICY p ON f FOR ALL USING ({cond}) WITH CHECK ({cond})"
        ));
        // Reads: only the rows where the condition is true, however asked.
        assert_eq!(
            lab.ok("alice", "SELECT id FROM f ORDER BY id"),
            want.join(";"),
            "USING ({cond})"
        );
        n.tried();
        assert_eq!(
            lab.ok(
                "alice",
                "SELECT count(*) FROM f WHERE a IS NULL OR a IS NOT NULL"
            ),
            want.len().to_string(),
            "USING ({cond}), counted"
        );
        n.tried();
        // Writes: a new row passes WITH CHECK only where it is true.
        for (i, a) in vals.iter().enumerate() {
            for (j, b) in vals.iter().enumerate() {
                let id = 100 + 3 * i + j;
                let ok: bool = lite
                    .query_row(
                        &format!(
                            "SELECT coalesce(({cond}), 0) <> 0 FROM (SELECT {a} AS a, {b} AS b)"
                        ),
                        [],
                        |r| r.get(0),
                    )
                    .unwrap();
                let sql = format!("INSERT INTO f VALUES ({id}, 'alice', {a}, {b})");
                if ok {
                    lab.ok("alice", &sql);
                } else {
                    lab.denied("alice", &sql);
                }
                n.tried();
            }
        }
    }
}
