"""Attacks on access control through the Python DB-API (issue 13, items
1, 3, 4, 5, 7, 8, 9, 11): at least one per class, as an ordinary user.
The Rust suites (tests/attack_*.rs) try many more; these show the same
rules hold through the C ABI as Python uses it.

Users log in under a `trust` host rule so the tests spend no time on
password hashing.
"""

import pytest

import sealdb
from sealdb import _ffi

KEY = bytes(range(32))
lib = _ffi.lib


@pytest.fixture
def lab(tmp_path):
    path = str(tmp_path / "db")
    root = sealdb.connect(path, key=KEY, autocommit=True)
    root.executescript("""
        SET CLUSTER SETTING server.host_based_authentication.configuration = 'local all all trust';
        CREATE TABLE t (id INTEGER PRIMARY KEY, owner TEXT, pub TEXT, secret TEXT, code TEXT UNIQUE);
        INSERT INTO t VALUES (1, 'alice', 'p1', 's1', 'A'), (2, 'bob', 'p2', 's2', 'B');
        CREATE USER alice; CREATE USER bob;
        GRANT CREATE ON DATABASE main TO alice;
    """)
    users = {}

    def user(name):
        if name not in users:
            users[name] = sealdb.connect(path, key=KEY, user=name, password="unused",
                                         autocommit=True)
        return users[name]

    yield root, user
    for c in users.values():
        c.close()
    root.close()


def rows(conn, sql):
    return conn.execute(sql).fetchall()


def refused(conn, sql, code=lib.SEALDB_ERR_PERMISSION_DENIED):
    with pytest.raises(sealdb.DatabaseError) as e:
        conn.execute(sql)
    assert e.value.code == code, str(e.value)
    return e.value


def test_trigger_chains_fail_closed(lab):
    root, user = lab
    alice = user("alice")
    alice.execute("CREATE TABLE loot (v TEXT)")
    for i in range(1, 18):
        alice.execute("CREATE TABLE c%d (x INTEGER)" % i)
    for i in range(1, 17):
        alice.execute("CREATE TRIGGER k%d AFTER INSERT ON c%d BEGIN INSERT INTO c%d VALUES (1); END"
                      % (i, i, i + 1))
    # The 17th level (past the old analysis limit of 16) steals. alice
    # cannot see t: her own trigger fails as if t were missing.
    alice.execute("CREATE TRIGGER k17 AFTER INSERT ON c17 BEGIN INSERT INTO loot SELECT secret FROM t; END")
    refused(alice, "INSERT INTO c1 VALUES (1)", lib.SEALDB_ERR_SQL_UNKNOWN_OBJECT)
    # Fired by root, it still runs as alice and is refused.
    refused(root, "INSERT INTO c1 VALUES (1)")
    assert rows(root, "SELECT count(*) FROM loot") == [(0,)]


def test_trojan_trigger_and_when_oracle(lab):
    root, user = lab
    alice = user("alice")
    alice.execute("CREATE TABLE mine (x INTEGER)")
    alice.execute("CREATE TABLE loot (v TEXT)")
    alice.execute("GRANT INSERT ON mine TO public")
    alice.execute("CREATE TRIGGER trojan AFTER INSERT ON mine BEGIN INSERT INTO loot SELECT secret FROM t; END")
    refused(root, "INSERT INTO mine VALUES (1)")
    alice.execute("DROP TRIGGER trojan")
    alice.execute("CREATE TRIGGER spy AFTER INSERT ON mine "
                  "WHEN (SELECT secret FROM t WHERE id = 2) = 's2' BEGIN INSERT INTO loot VALUES ('yes'); END")
    refused(root, "INSERT INTO mine VALUES (2)")
    assert rows(root, "SELECT count(*) FROM loot") == [(0,)]
    # Planting a trigger on another's table needs TRIGGER, not CREATE.
    root.execute("GRANT CREATE ON t TO alice")
    refused(alice, "CREATE TRIGGER p AFTER INSERT ON t BEGIN DELETE FROM loot; END")


def test_raise_only_inside_trigger_programs(lab):
    root, user = lab
    alice = user("alice")
    # RAISE where no trigger program runs: refused, nothing made.
    for sql in ("SELECT RAISE(IGNORE)",
                "CREATE VIEW v AS SELECT RAISE(ABORT, 'x')",
                "CREATE TABLE d (a DEFAULT (RAISE(IGNORE)))",
                "CREATE TABLE c (a CHECK (RAISE(IGNORE)))"):
        refused(alice, sql, lib.SEALDB_ERR_SQL_MISUSE)
    assert rows(alice, "SELECT count(*) FROM sqlite_schema WHERE name IN ('v', 'd', 'c')") == [(0,)]
    # In her trigger: SQLite's semantics, her message, a constraint error.
    alice.execute("CREATE TABLE mine (x INTEGER)")
    alice.execute("CREATE TRIGGER skip BEFORE INSERT ON mine WHEN new.x < 0 BEGIN SELECT RAISE(IGNORE); END")
    alice.execute("CREATE TRIGGER stop BEFORE INSERT ON mine WHEN new.x = 0 "
                  "BEGIN SELECT RAISE(ABORT, 'zero from ' || current_user); END")
    assert alice.execute("INSERT INTO mine VALUES (1), (-1), (2)").rowcount == 2
    with pytest.raises(sealdb.IntegrityError) as e:
        alice.execute("INSERT INTO mine VALUES (3), (0)")
    assert e.value.code == lib.SEALDB_ERR_SQL_CONSTRAINT
    assert "zero from alice" in str(e.value)
    assert rows(alice, "SELECT x FROM mine ORDER BY x") == [(1,), (2,)]
    # No oracle through the message: she may not read t.secret.
    alice.execute("CREATE TRIGGER leak BEFORE INSERT ON mine WHEN new.x = 9 "
                  "BEGIN SELECT RAISE(ABORT, (SELECT secret FROM t WHERE id = 2)); END")
    for conn in (alice, root):
        with pytest.raises(sealdb.DatabaseError) as e:
            conn.execute("INSERT INTO mine VALUES (9)")
        assert "s2" not in str(e.value)
        assert e.value.code in (lib.SEALDB_ERR_PERMISSION_DENIED,
                                lib.SEALDB_ERR_SQL_UNKNOWN_OBJECT), str(e.value)


def test_conflict_clauses_respect_row_level_security(lab):
    root, user = lab
    root.executescript("""
        GRANT ALL ON t TO alice, bob;
        ALTER TABLE t ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON t FOR ALL USING (owner = current_user);
    """)
    alice = user("alice")
    refused(alice, "REPLACE INTO t VALUES (2, 'alice', 'x', 'x', 'Z')")
    refused(alice, "INSERT INTO t VALUES (2, 'alice', 'x', 'x', 'Z') "
                   "ON CONFLICT (id) DO UPDATE SET owner = 'alice' RETURNING secret")
    refused(alice, "UPDATE OR REPLACE t SET code = 'B' WHERE id = 1")
    # UPDATE that reads rows matches none the SELECT policy hides.
    cur = alice.execute("UPDATE t SET pub = 'pwned' WHERE secret = 's2'")
    assert cur.rowcount == 0
    assert rows(root, "SELECT owner, pub, secret, code FROM t WHERE id = 2") == [("bob", "p2", "s2", "B")]


def test_or_replace_needs_delete(lab):
    root, user = lab
    root.execute("GRANT SELECT, INSERT, UPDATE ON t TO alice")
    alice = user("alice")
    e = refused(alice, "UPDATE OR REPLACE t SET code = 'B' WHERE id = 1")
    assert "DELETE" in str(e)
    assert rows(root, "SELECT count(*) FROM t") == [(2,)]


def test_names_are_not_identities(lab):
    root, user = lab
    root.execute("GRANT SELECT (id, pub) ON t TO alice")
    root.execute("GRANT CREATE ON t TO alice")
    alice = user("alice")
    alice.execute("ALTER TABLE t RENAME COLUMN pub TO tmp")
    alice.execute("ALTER TABLE t RENAME COLUMN secret TO pub")
    refused(alice, "SELECT pub FROM t")
    assert rows(alice, "SELECT tmp FROM t ORDER BY id") == [("p1",), ("p2",)]
    # A session of a dropped user ends, even when the name is reused.
    bob = user("bob")
    root.executescript("DROP USER bob; CREATE USER bob; GRANT SELECT ON t TO bob")
    e = refused(bob, "SELECT 1")
    assert "no longer exists" in str(e)


def test_owners_survive_reopens(tmp_path):
    # Ownership hangs on object ids: across reopens nobody gains another's
    # table, and a name reused after a DROP is not its old owner's.
    path = str(tmp_path / "db")

    def session(who=None):
        if who is None:
            return sealdb.connect(path, key=KEY, autocommit=True)
        return sealdb.connect(path, key=KEY, user=who, password="unused", autocommit=True)

    root = session()
    root.executescript("""
        SET CLUSTER SETTING server.host_based_authentication.configuration = 'local all all trust';
        CREATE USER alice; CREATE USER bob;
        GRANT CREATE ON DATABASE main TO alice, bob;
    """)
    alice, bob = session("alice"), session("bob")
    alice.executescript("CREATE TABLE hers (v TEXT); INSERT INTO hers VALUES ('a');"
                        "CREATE TABLE gone (v TEXT); DROP TABLE gone;")
    bob.executescript("CREATE TABLE his (v TEXT); INSERT INTO his VALUES ('b');")
    root.executescript("CREATE TABLE gone (v TEXT); INSERT INTO gone VALUES ('root''s');")
    for c in (alice, bob, root):
        c.close()

    def hidden_or_denied(conn, sql):
        with pytest.raises(sealdb.DatabaseError) as e:
            conn.execute(sql)
        assert e.value.code in (lib.SEALDB_ERR_PERMISSION_DENIED,
                                lib.SEALDB_ERR_SQL_UNKNOWN_OBJECT), str(e.value)

    root, alice, bob = session(), session("alice"), session("bob")
    assert rows(alice, "SELECT v FROM hers") == [("a",)]
    for sql in ("SELECT v FROM his", "DROP TABLE his", "ALTER TABLE his RENAME TO mine",
                "GRANT SELECT ON his TO alice", "SELECT v FROM gone", "DROP TABLE gone",
                "GRANT SELECT ON gone TO bob"):
        hidden_or_denied(alice, sql)
    bob.execute("CREATE TABLE later (v TEXT)")
    hidden_or_denied(alice, "DROP TABLE later")
    root.execute("REASSIGN OWNED BY alice TO bob")
    for c in (alice, bob, root):
        c.close()
    root, alice, bob = session(), session("alice"), session("bob")
    hidden_or_denied(alice, "DROP TABLE hers")
    bob.execute("DROP TABLE hers")
    hidden_or_denied(bob, "DROP TABLE gone")
    assert rows(root, "SELECT v FROM gone") == [("root's",)]
    for c in (alice, bob, root):
        c.close()


def test_revoke_only_what_you_granted(lab):
    root, user = lab
    root.execute("CREATE USER carol")
    root.execute("GRANT SELECT ON t TO alice, bob WITH GRANT OPTION")
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    alice.execute("GRANT SELECT ON t TO carol WITH GRANT OPTION")
    bob.execute("REVOKE SELECT ON t FROM carol")
    assert rows(carol, "SELECT count(*) FROM t") == [(2,)]
    carol.execute("GRANT SELECT ON t TO bob")
    refused(root, "REVOKE SELECT ON t FROM alice", lib.SEALDB_ERR_SQL_MISUSE)
    root.execute("REVOKE SELECT ON t FROM alice CASCADE")
    refused(carol, "SELECT count(*) FROM t", lib.SEALDB_ERR_SQL_UNKNOWN_OBJECT)
    assert rows(bob, "SELECT count(*) FROM t") == [(2,)]


def test_drop_if_exists_treats_hidden_as_missing(lab):
    # A migration script an ordinary user runs twice: IF EXISTS of a
    # missing table is no error (as in sqlite3); of a table the user may
    # not see, the same silent skip, and the table stays.
    root, user = lab
    alice = user("alice")
    for _ in range(2):
        alice.executescript("""
            DROP TABLE IF EXISTS mig; DROP VIEW IF EXISTS mig_v;
            CREATE TABLE mig (a INTEGER); CREATE VIEW mig_v AS SELECT a FROM mig;
            INSERT INTO mig VALUES (1);
        """)
        assert rows(alice, "SELECT count(*) FROM mig_v") == [(1,)]
    for name in ("nothing", "t"):
        alice.execute("DROP TABLE IF EXISTS %s" % name)
        alice.execute("DROP VIEW IF EXISTS %s" % name)
        with pytest.raises(sealdb.DatabaseError) as e:
            alice.execute("DROP TABLE %s" % name)
        assert str(e.value) == "no such table: %s" % name
    assert rows(root, "SELECT count(*) FROM t") == [(2,)]


def test_reused_insert_is_checked_again_after_revoke_and_new_policy(lab):
    """A cursor runs one INSERT again and again (the statement and its plan
    are kept between runs): after a REVOKE, and after a stricter INSERT
    policy, the next run is refused and writes nothing."""
    root, user = lab
    root.executescript("""
        CREATE TABLE doc (id INTEGER PRIMARY KEY, owner TEXT);
        ALTER TABLE doc ENABLE ROW LEVEL SECURITY;
        CREATE POLICY see ON doc FOR SELECT USING (true);
        CREATE POLICY ins ON doc FOR INSERT WITH CHECK (true);
        GRANT SELECT, INSERT ON doc TO alice;
    """)
    cur = user("alice").cursor()
    sql = "INSERT INTO doc (id, owner) VALUES (?, ?)"
    cur.executemany(sql, [(1, "alice"), (2, "alice")])
    cur.execute(sql, (3, "alice"))
    root.execute("REVOKE INSERT ON doc FROM alice")
    with pytest.raises(sealdb.DatabaseError) as e:
        cur.execute(sql, (4, "alice"))
    assert e.value.code == lib.SEALDB_ERR_PERMISSION_DENIED, str(e.value)
    with pytest.raises(sealdb.DatabaseError) as e:
        cur.executemany(sql, [(5, "alice")])
    assert e.value.code == lib.SEALDB_ERR_PERMISSION_DENIED, str(e.value)
    root.execute("GRANT INSERT ON doc TO alice")
    cur.execute(sql, (6, "alice"))
    root.executescript("""
        DROP POLICY ins ON doc;
        CREATE POLICY ins ON doc FOR INSERT WITH CHECK (owner = current_user);
    """)
    with pytest.raises(sealdb.DatabaseError) as e:
        cur.execute(sql, (7, "bob"))
    assert e.value.code == lib.SEALDB_ERR_PERMISSION_DENIED, str(e.value)
    cur.execute(sql, (8, "alice"))
    assert rows(root, "SELECT id FROM doc ORDER BY id") == [(1,), (2,), (3,), (6,), (8,)]


def test_a_cursor_run_again_follows_policy_and_grant_changes(lab):
    """A cursor executing the same SELECT again reuses its prepared
    statement, which keeps its operators and row buffers from run to run:
    no run shows a row the policy in force hides, or a value a buffer held
    before (runs abandoned after one row among them); a replaced policy and
    a revoked column take effect at the next run."""
    root, user = lab
    root.executescript("""
        CREATE INDEX t_owner ON t(owner);
        ALTER TABLE t ENABLE ROW LEVEL SECURITY;
        CREATE POLICY see ON t FOR SELECT USING (owner = current_user);
        GRANT SELECT (id, owner, pub, secret) ON t TO alice;
    """)
    alice = user("alice")
    by_id = alice.cursor()
    by_owner = alice.cursor()
    for rnd in range(3):
        for i in (1, 2, 1, 2):
            by_id.execute("SELECT id, secret FROM t WHERE id = ?", (i,))
            got = by_id.fetchone() if rnd == 1 else by_id.fetchall()
            if i == 1:
                assert got in ((1, "s1"), [(1, "s1")]), got
            else:
                assert got in (None, []), got
        for who in ("bob", "alice", "bob"):
            by_owner.execute("SELECT id, secret FROM t WHERE owner = ?", (who,))
            got = by_owner.fetchall()
            assert got == ([(1, "s1")] if who == "alice" else []), (who, got)
    root.execute("DROP POLICY see ON t")
    root.execute("CREATE POLICY see ON t FOR SELECT USING (true)")
    by_id.execute("SELECT id, secret FROM t WHERE id = ?", (2,))
    assert by_id.fetchall() == [(2, "s2")]
    root.execute("DROP POLICY see ON t")
    root.execute("CREATE POLICY see ON t FOR SELECT USING (owner = current_user)")
    by_id.execute("SELECT id, secret FROM t WHERE id = ?", (2,))
    assert by_id.fetchall() == []
    root.execute("REVOKE SELECT (secret) ON t FROM alice")
    with pytest.raises(sealdb.DatabaseError) as e:
        by_id.execute("SELECT id, secret FROM t WHERE id = ?", (1,))
        by_id.fetchall()
    assert e.value.code == lib.SEALDB_ERR_PERMISSION_DENIED, str(e.value)
    root.execute("GRANT SELECT (secret) ON t TO alice")
    by_id.execute("SELECT id, secret FROM t WHERE id = ?", (1,))
    assert by_id.fetchall() == [(1, "s1")]
