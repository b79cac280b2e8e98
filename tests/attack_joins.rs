//! Attacks through RIGHT and FULL joins and UPDATE ... FROM, as an
//! ordinary user (issue 18). UPDATE ... FROM reads its FROM tables as a
//! SELECT does and changes its target as an UPDATE does: both checks
//! apply, and row policies of both filter rows before they are joined. Every side of a join is a FROM source like
//! any other: a column without SELECT privilege is refused wherever it is
//! read (result, ON, USING, NATURAL, `*`, the coalesced USING column,
//! WHERE, GROUP BY, ORDER BY); a hidden table stays missing; row-level
//! security removes the rows a user may not see before the join, so a
//! hidden row never appears as an unmatched row, never turns a matched
//! row into an unmatched one that says more than "no visible row
//! matches", and no expression ever runs on it (no error oracle); the
//! right side of a RIGHT or FULL join that would hold unbounded rows stops
//! with an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

/// `secret`: alice may read id, owner and note (not pay) of her own rows
/// and the shared one (a row policy). `ids` lists 1..6 for everyone.
/// `pub` is alice's to change. `hidden` is invisible to her.
const SETUP: &str = "
CREATE TABLE secret (id INTEGER PRIMARY KEY, owner TEXT, pay INTEGER, note TEXT);
INSERT INTO secret VALUES (1, 'alice', 100, 'a1'), (2, 'bob', 900, 'b2'),
                          (3, 'alice', 150, 'a3'), (4, 'bob', 950, 'b4'), (5, 'carol', 500, 'c5');
CREATE TABLE shared (id INTEGER);
INSERT INTO shared VALUES (5);
CREATE TABLE ids (id INTEGER, pay INTEGER);
INSERT INTO ids VALUES (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6);
CREATE TABLE pub (id INTEGER PRIMARY KEY, v);
INSERT INTO pub VALUES (1, 'p1'), (2, 'p2'), (3, 'p3'), (4, 'p4'), (5, 'p5'), (6, 'p6');
CREATE TABLE hidden (x INTEGER, id INTEGER);
INSERT INTO hidden VALUES (42, 2);
CREATE TABLE lim (id INTEGER PRIMARY KEY, v, w);
INSERT INTO lim VALUES (1, 'l1', 'w1'), (2, 'l2', 'w2');
CREATE TABLE mine (id INTEGER PRIMARY KEY, owner TEXT, v);
INSERT INTO mine VALUES (1, 'alice', 'm1'), (2, 'bob', 'm2'), (3, 'alice', 'm3'), (4, 'bob', 'm4');
ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON secret FOR SELECT USING (owner = current_user OR id IN (SELECT id FROM shared));
ALTER TABLE mine ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine_read ON mine FOR SELECT USING (owner = current_user);
CREATE POLICY mine_change ON mine FOR UPDATE USING (owner = current_user);
";

fn lab() -> Lab {
    let mut lab = Lab::new(SETUP);
    lab.user("alice");
    lab.as_root(
        "GRANT SELECT (id, owner, note) ON secret TO alice;
         GRANT SELECT ON ids TO alice;
         GRANT SELECT, INSERT, UPDATE, DELETE ON pub TO alice;
         GRANT SELECT (id), UPDATE (v) ON lim TO alice;
         GRANT SELECT, UPDATE ON mine TO alice;
         GRANT CREATE ON DATABASE main TO alice",
    );
    lab
}

/// Reads of a column without privilege (or of a hidden table) through
/// RIGHT and FULL joins: each must be refused.
const FORBIDDEN_READS: &[&str] = &[
    "SELECT s.pay FROM ids RIGHT JOIN secret AS s ON s.id = ids.id",
    "SELECT s.pay FROM secret AS s RIGHT JOIN ids ON s.id = ids.id",
    "SELECT s.pay FROM secret AS s FULL JOIN ids ON s.id = ids.id",
    "SELECT ids.id FROM ids RIGHT JOIN secret AS s ON s.pay > 500",
    "SELECT ids.id FROM ids FULL JOIN secret AS s ON s.id = ids.id AND s.pay > 500",
    "SELECT ids.id FROM ids FULL JOIN secret AS s ON s.id = ids.id WHERE s.pay > 500",
    "SELECT count(*) FROM ids RIGHT JOIN secret AS s ON s.id = ids.id GROUP BY s.pay",
    "SELECT ids.id FROM ids FULL JOIN secret AS s ON s.id = ids.id ORDER BY s.pay",
    "SELECT max(s.pay) FROM ids RIGHT JOIN secret AS s ON s.id = ids.id",
    "SELECT * FROM ids RIGHT JOIN secret AS s ON s.id = ids.id",
    "SELECT * FROM ids FULL JOIN secret AS s ON s.id = ids.id",
    "SELECT s.* FROM ids FULL JOIN secret AS s ON s.id = ids.id",
    // USING and NATURAL name pay (ids has a pay column too).
    "SELECT ids.id FROM ids RIGHT JOIN secret USING (pay)",
    "SELECT ids.id FROM ids FULL JOIN secret USING (pay)",
    "SELECT ids.id FROM secret FULL JOIN ids USING (pay)",
    "SELECT count(*) FROM ids NATURAL RIGHT JOIN secret",
    "SELECT count(*) FROM ids NATURAL FULL JOIN secret",
    "SELECT count(*) FROM secret NATURAL FULL JOIN ids",
    // The unqualified USING column of a FULL join reads both copies.
    "SELECT pay FROM ids FULL JOIN secret USING (pay)",
    "SELECT pay FROM secret FULL JOIN ids USING (pay)",
    "SELECT pay FROM secret RIGHT JOIN ids USING (pay)",
    "SELECT * FROM ids FULL JOIN secret USING (id)",
    "SELECT * FROM ids RIGHT JOIN secret USING (id) RIGHT JOIN ids AS i2 USING (id)",
    "SELECT id FROM ids FULL JOIN secret USING (id) FULL JOIN ids AS i2 USING (id) WHERE secret.pay > 3",
    // In a subquery, a view, a CTE.
    "SELECT (SELECT max(s.pay) FROM ids RIGHT JOIN secret AS s ON s.id = ids.id)",
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM ids FULL JOIN secret AS s ON s.id = ids.id WHERE s.pay = 900)",
    "WITH c AS (SELECT s.pay FROM ids FULL JOIN secret AS s USING (id)) SELECT count(*) FROM c",
    "CREATE VIEW peek AS SELECT s.pay FROM ids RIGHT JOIN secret AS s USING (id)",
    // A hidden table, on either side.
    "SELECT 1 FROM ids RIGHT JOIN hidden ON 1",
    "SELECT 1 FROM hidden RIGHT JOIN ids ON 1",
    "SELECT 1 FROM ids FULL JOIN hidden USING (id)",
    "SELECT count(*) FROM hidden NATURAL FULL JOIN ids",
    "SELECT 1 FROM ids FULL JOIN ids AS b ON b.id IN (SELECT id FROM hidden)",
    // Data changes reading through them.
    "INSERT INTO pub (v) SELECT s.pay FROM ids RIGHT JOIN secret AS s USING (id)",
    "DELETE FROM pub WHERE id IN (SELECT ids.id FROM ids FULL JOIN secret AS s ON s.id = ids.id WHERE s.pay > 500)",
    "UPDATE pub SET v = (SELECT max(s.pay) FROM ids RIGHT JOIN secret AS s USING (id))",
    "DELETE FROM pub WHERE id IN (SELECT id FROM ids RIGHT JOIN hidden USING (id))",
];

#[test]
fn forbidden_columns_and_hidden_tables_are_refused_through_right_and_full_joins() {
    let mut n = Attacks::new("joins/privileges through RIGHT and FULL joins");
    let mut lab = lab();
    for a in FORBIDDEN_READS {
        let e = lab.denied("alice", a);
        for v in ["900", "950", "b2", "b4", "42"] {
            assert!(!e.to_string().contains(v), "{a}: {e}");
        }
        // A hidden table is missing, in the user's spelling.
        if a.contains("hidden") {
            assert!(e.to_string().contains("no such table: hidden"), "{a}: {e}");
        }
        n.tried();
    }
    // The columns alice may read work through every kind of join.
    assert_eq!(
        lab.ok(
            "alice",
            "SELECT ids.id, s.note FROM secret AS s RIGHT JOIN ids ON s.id = ids.id ORDER BY ids.id"
        ),
        "1|a1;2|NULL;3|a3;4|NULL;5|c5;6|NULL"
    );
}

#[test]
fn hidden_rows_never_appear_as_unmatched_rows() {
    let mut n = Attacks::new("joins/row-level security in RIGHT and FULL joins");
    let mut lab = lab();
    // What alice sees of secret: ids 1, 3, 5. Every join must behave as
    // if the table held only those rows.
    assert_eq!(
        lab.ok("alice", "SELECT id FROM secret ORDER BY id"),
        "1;3;5"
    );
    lab.as_root(
        "CREATE TABLE visible AS SELECT id, owner, note FROM secret WHERE owner = 'alice' OR id = 5;
         GRANT SELECT ON visible TO alice",
    );
    for (q, as_if) in [
        (
            "SELECT s.id, ids.id FROM secret AS s FULL JOIN ids ON s.id = ids.id ORDER BY 2, 1",
            "SELECT s.id, ids.id FROM visible AS s FULL JOIN ids ON s.id = ids.id ORDER BY 2, 1",
        ),
        (
            "SELECT s.id, ids.id FROM ids RIGHT JOIN secret AS s ON s.id = ids.id ORDER BY 1",
            "SELECT s.id, ids.id FROM ids RIGHT JOIN visible AS s ON s.id = ids.id ORDER BY 1",
        ),
        (
            "SELECT count(*), count(s.id), count(ids.id) FROM secret AS s FULL JOIN ids ON s.id = ids.id",
            "SELECT count(*), count(s.id), count(ids.id) FROM visible AS s FULL JOIN ids ON s.id = ids.id",
        ),
        (
            // ON true: every visible row pairs with every id; none unmatched.
            "SELECT count(*) FROM ids FULL JOIN secret AS s ON 1",
            "SELECT count(*) FROM ids FULL JOIN visible AS s ON 1",
        ),
        (
            // ON false: every visible row comes out unmatched, no other.
            "SELECT s.id FROM ids FULL JOIN secret AS s ON 0 WHERE s.id IS NOT NULL ORDER BY 1",
            "SELECT s.id FROM ids FULL JOIN visible AS s ON 0 WHERE s.id IS NOT NULL ORDER BY 1",
        ),
        (
            "SELECT id, s.note FROM ids FULL JOIN secret AS s USING (id) ORDER BY 1",
            "SELECT id, s.note FROM ids FULL JOIN visible AS s USING (id) ORDER BY 1",
        ),
        (
            "SELECT id FROM ids NATURAL RIGHT JOIN (SELECT id, note FROM secret) ORDER BY 1",
            "SELECT id FROM ids NATURAL RIGHT JOIN (SELECT id, note FROM visible) ORDER BY 1",
        ),
        (
            "SELECT a.id, b.id FROM secret AS a FULL JOIN secret AS b ON a.id = b.id + 2 ORDER BY 1, 2",
            "SELECT a.id, b.id FROM visible AS a FULL JOIN visible AS b ON a.id = b.id + 2 ORDER BY 1, 2",
        ),
        (
            "SELECT ids.id, s.owner FROM ids LEFT JOIN pub ON pub.id = ids.id RIGHT JOIN secret AS s ON s.id = ids.id ORDER BY 1",
            "SELECT ids.id, s.owner FROM ids LEFT JOIN pub ON pub.id = ids.id RIGHT JOIN visible AS s ON s.id = ids.id ORDER BY 1",
        ),
        (
            "SELECT count(*) FROM ids FULL JOIN secret AS s ON s.id = ids.id WHERE s.owner = 'bob'",
            "SELECT count(*) FROM ids FULL JOIN visible AS s ON s.id = ids.id WHERE s.owner = 'bob'",
        ),
        (
            "SELECT count(*) FROM ids RIGHT JOIN secret AS s ON s.id = ids.id WHERE ids.id IN (2, 4)",
            "SELECT count(*) FROM ids RIGHT JOIN visible AS s ON s.id = ids.id WHERE ids.id IN (2, 4)",
        ),
    ] {
        let got = lab.ok("alice", q);
        assert_eq!(got, lab.ok("alice", as_if), "{q}");
        for v in ["b2", "b4", "bob"] {
            assert!(!got.contains(v), "{q}: {got}");
        }
        n.tried();
    }
    // No expression ever runs on a hidden row: an error that only bob's
    // rows would raise is no oracle, in ON or in WHERE.
    for q in [
        "SELECT count(*) FROM ids FULL JOIN secret AS s ON CASE WHEN s.owner = 'bob' THEN abs(-9223372036854775808) ELSE s.id = ids.id END",
        "SELECT count(*) FROM ids RIGHT JOIN secret AS s ON s.id = ids.id WHERE CASE WHEN s.owner = 'bob' THEN abs(-9223372036854775808) ELSE 1 END",
        "SELECT count(*) FROM secret AS s RIGHT JOIN ids ON s.id = ids.id WHERE CASE WHEN s.owner = 'bob' THEN abs(-9223372036854775808) ELSE 1 END",
        "SELECT count(*) FROM secret AS s FULL JOIN ids USING (id) GROUP BY CASE WHEN s.owner = 'bob' THEN abs(-9223372036854775808) END",
    ] {
        lab.ok("alice", q);
        n.tried();
    }
}

#[test]
fn a_table_function_reading_the_left_side_of_a_right_join_is_refused() {
    let mut n = Attacks::new("joins/table-valued functions on the right of RIGHT/FULL");
    let mut lab = lab();
    for a in [
        "SELECT * FROM pub RIGHT JOIN pragma_table_info(pub.v) ON 1",
        "SELECT * FROM ids FULL JOIN pragma_table_info(ids.id) ON 1",
    ] {
        let e = lab.refused("alice", a);
        assert!(e.to_string().contains("not supported"), "{a}: {e}");
        n.tried();
    }
    // With a constant argument it is an ordinary right side: the hidden
    // table has no columns, as one that does not exist.
    assert_eq!(
        lab.ok(
            "alice",
            "SELECT * FROM ids RIGHT JOIN pragma_table_info('hidden') ON 1"
        ),
        lab.ok(
            "alice",
            "SELECT * FROM ids RIGHT JOIN pragma_table_info('nosuch') ON 1"
        ),
    );
    n.tried();
    assert_eq!(
        lab.ok(
            "alice",
            "SELECT count(*) FROM ids RIGHT JOIN pragma_table_info('pub') ON 0"
        ),
        "2"
    );
}

#[test]
fn an_unbounded_right_side_stops_at_its_memory_limit() {
    let mut n = Attacks::new("joins/right side memory");
    let mut lab = lab();
    for a in [
        "SELECT count(*) FROM ids RIGHT JOIN (WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) \
         SELECT n, zeroblob(1000000) AS z FROM r) AS big ON big.n = ids.id",
        "SELECT count(*) FROM ids FULL JOIN (WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) \
         SELECT n, zeroblob(1000000) AS z FROM r) AS big ON 0",
    ] {
        let e = lab.refused("alice", a);
        assert!(e.to_string().contains("RIGHT or FULL JOIN"), "{a}: {e}");
        n.tried();
    }
}

/// UPDATE ... FROM statements alice may not run: a column she may not
/// read (in SET, WHERE, ON, USING, NATURAL, RETURNING), a column she may
/// not update, a table she may not change, a hidden table.
const FORBIDDEN_UPDATES: &[&str] = &[
    "UPDATE pub SET v = s.pay FROM secret AS s WHERE s.id = pub.id",
    "UPDATE pub SET v = 'x' FROM secret AS s WHERE s.id = pub.id AND s.pay > 500",
    "UPDATE pub SET v = 'x' FROM secret AS s WHERE s.pay > 0",
    "UPDATE pub SET v = 'x' FROM ids JOIN secret AS s ON s.pay = ids.pay WHERE ids.id = pub.id",
    "UPDATE pub SET v = 'x' FROM ids JOIN secret USING (pay) WHERE ids.id = pub.id",
    "UPDATE pub SET v = 'x' FROM ids NATURAL JOIN secret",
    "UPDATE pub SET v = 'x' FROM ids FULL JOIN secret USING (pay) WHERE pay = pub.id",
    "UPDATE pub SET v = 'x' FROM ids RIGHT JOIN secret AS s ON s.id = ids.id WHERE s.pay = 900",
    "UPDATE pub SET v = q.p FROM (SELECT pay AS p, id FROM secret) AS q WHERE q.id = pub.id",
    "UPDATE pub SET v = 'x' FROM secret AS s WHERE s.id = pub.id AND EXISTS (SELECT 1 FROM secret AS t WHERE t.pay > 0)",
    "WITH c AS (SELECT id, pay FROM secret) UPDATE pub SET v = c.pay FROM c WHERE c.id = pub.id",
    // Target columns: w may be neither read nor set, id not set.
    "UPDATE lim SET w = ids.id FROM ids WHERE ids.id = lim.id",
    "UPDATE lim SET v = lim.w FROM ids WHERE ids.id = lim.id",
    "UPDATE lim SET v = 'x' FROM ids WHERE ids.id = lim.id AND lim.w = 'w1'",
    "UPDATE lim SET id = ids.id + 10 FROM ids WHERE ids.id = lim.id",
    "UPDATE lim SET v = 'x' FROM ids WHERE ids.id = lim.id RETURNING w",
    // Tables she may not change, or see.
    "UPDATE secret SET note = 'x' FROM ids WHERE ids.id = secret.id",
    "UPDATE ids SET pay = 0 FROM pub WHERE pub.id = ids.id",
    "UPDATE hidden SET x = 0 FROM ids",
    "UPDATE pub SET v = hidden.x FROM hidden WHERE hidden.id = pub.id",
    "UPDATE pub SET v = 'x' FROM ids JOIN hidden USING (id) WHERE ids.id = pub.id",
    "UPDATE pub SET v = 'x' FROM ids WHERE ids.id = pub.id AND ids.id IN (SELECT id FROM hidden)",
];

#[test]
fn update_from_needs_every_privilege_it_uses() {
    let mut n = Attacks::new("joins/UPDATE ... FROM privileges");
    let mut lab = lab();
    for a in FORBIDDEN_UPDATES {
        let e = lab.denied("alice", a);
        for v in ["900", "950", "b2", "b4", "42", "w1", "w2"] {
            assert!(!e.to_string().contains(v), "{a}: {e}");
        }
        if a.contains("hidden") {
            assert!(e.to_string().contains("no such table: hidden"), "{a}: {e}");
        }
        n.tried();
    }
    // What she may do works: read lim.id, set lim.v.
    assert_eq!(
        lab.ok(
            "alice",
            "UPDATE lim SET v = ids.pay * 10 FROM ids WHERE ids.id = lim.id"
        ),
        "ok 2"
    );
    assert_eq!(
        lab.root_rows("SELECT v, w FROM lim ORDER BY id"),
        "10|w1;20|w2"
    );
    // A CTE and a subquery in FROM are hers to name.
    assert_eq!(
        lab.ok(
            "alice",
            "WITH c AS (SELECT 1 AS id) UPDATE pub SET v = 'cte' FROM c WHERE c.id = pub.id"
        ),
        "ok 1"
    );
    assert_eq!(
        lab.ok(
            "alice",
            "UPDATE pub SET v = q.n FROM (SELECT id, note AS n FROM secret) AS q WHERE q.id = pub.id RETURNING id, v"
        ),
        "1|a1;3|a3;5|c5"
    );
}

#[test]
fn update_from_joins_only_the_rows_the_user_may_see() {
    let mut n = Attacks::new("joins/UPDATE ... FROM row-level security");
    let mut lab = lab();
    // FROM rows: only secret's visible rows (1, 3, 5) match.
    assert_eq!(
        lab.ok(
            "alice",
            "UPDATE pub SET v = s.note FROM secret AS s WHERE s.id = pub.id"
        ),
        "ok 3"
    );
    assert_eq!(
        lab.root_rows("SELECT v FROM pub ORDER BY id"),
        "a1;p2;a3;p4;c5;p6"
    );
    n.tried();
    // Probing hidden rows: no match, no error, nothing changed.
    for a in [
        "UPDATE pub SET v = 'hit' FROM secret AS s WHERE s.owner = 'bob'",
        "UPDATE pub SET v = 'hit' FROM secret AS s WHERE s.id = 2",
        "UPDATE pub SET v = 'hit' FROM ids LEFT JOIN secret AS s USING (id) WHERE s.owner = 'bob'",
        "UPDATE pub SET v = 'hit' FROM secret AS s RIGHT JOIN ids USING (id) WHERE s.note = 'b2'",
        "UPDATE pub SET v = 'hit' FROM secret AS s WHERE CASE WHEN s.owner = 'bob' THEN abs(-9223372036854775808) END",
        "UPDATE pub SET v = 'hit' FROM secret AS s JOIN ids ON CASE WHEN s.owner = 'bob' THEN abs(-9223372036854775808) END",
    ] {
        let before = dump(&lab.db);
        assert_eq!(lab.ok("alice", a), "ok 0", "{a}");
        assert_eq!(before, dump(&lab.db), "{a}");
        n.tried();
    }
    // The target's rows: only hers (SELECT and UPDATE policies), whatever
    // the FROM matches, and exactly as the same change without FROM.
    for (with_from, without) in [
        (
            "UPDATE mine SET v = 'x' || ids.id FROM ids WHERE ids.id = mine.id",
            "UPDATE mine SET v = 'x' || id WHERE id IN (SELECT id FROM ids)",
        ),
        (
            "UPDATE mine SET v = 'all' FROM ids",
            "UPDATE mine SET v = 'all' WHERE EXISTS (SELECT 1 FROM ids)",
        ),
        (
            "UPDATE mine SET v = 'bob' FROM ids WHERE mine.owner = 'bob'",
            "UPDATE mine SET v = 'bob' WHERE owner = 'bob'",
        ),
        (
            "UPDATE mine SET owner = 'bob' FROM ids WHERE ids.id = mine.id",
            "UPDATE mine SET owner = 'bob' WHERE id IN (SELECT id FROM ids)",
        ),
    ] {
        let mut a = self::lab();
        let mut b = self::lab();
        let ra = a.try_run("alice", with_from).map_err(|e| e.code());
        let rb = b.try_run("alice", without).map_err(|e| e.code());
        assert_eq!(ra, rb, "{with_from} / {without}");
        assert_eq!(dump(&a.db), dump(&b.db), "{with_from} / {without}");
        let rows = a.root_rows("SELECT id, owner, v FROM mine ORDER BY id");
        assert!(
            rows.contains("2|bob|m2") && rows.contains("4|bob|m4"),
            "{with_from}: {rows}"
        );
        n.tried();
    }
    // A self-join through an alias sees the same rows.
    assert_eq!(
        lab.ok(
            "alice",
            "UPDATE mine SET v = m2.v FROM mine AS m2 WHERE m2.id = mine.id + 1 RETURNING id"
        ),
        ""
    );
    assert_eq!(
        lab.ok(
            "alice",
            "UPDATE mine SET v = m2.v FROM mine AS m2 WHERE m2.id = mine.id + 2 RETURNING id, v"
        ),
        "1|m3"
    );
    n.tried();
}

#[test]
fn update_from_refusals_are_clear_and_change_nothing() {
    let mut n = Attacks::new("joins/UPDATE ... FROM refusals");
    let mut lab = lab();
    for (a, says) in [
        (
            "UPDATE pub SET v = max(ids.id) FROM ids",
            "misuse of aggregate",
        ),
        ("UPDATE pub SET v = 1 FROM ids, ids", "ambiguous table name"),
        (
            "UPDATE pub SET v = ids.id FROM ids WHERE ids.id = pub.id RETURNING ids.pay",
            "no such column: ids.pay",
        ),
        (
            "UPDATE pub SET v = 1 FROM ids JOIN ids AS j ON j.id = pub.id",
            "no such column: pub.id",
        ),
        ("UPDATE pub SET v = pub.v FROM pub", "ambiguous column name"),
    ] {
        let e = lab.refused("alice", a);
        assert!(e.to_string().contains(says), "{a}: {e}");
        n.tried();
    }
}
