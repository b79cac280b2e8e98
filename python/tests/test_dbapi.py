"""DB-API 2.0 conformance and error mapping of the sealdb Python module."""

import datetime
import os

import pytest

import sealdb
from sealdb import _ffi

KEY = bytes(range(32))


@pytest.fixture
def dbdir(tmp_path):
    return str(tmp_path / "db")


@pytest.fixture
def conn(dbdir):
    c = sealdb.connect(dbdir, key=KEY)
    c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL, data BLOB)")
    c.commit()
    yield c
    c.close()


# ------------------------------------------------------------ module globals


def test_module_globals():
    assert sealdb.apilevel == "2.0"
    assert sealdb.threadsafety in (0, 1, 2, 3)
    assert sealdb.paramstyle == "qmark"
    assert sealdb.sealdb_version.count(".") == 2


def test_exception_hierarchy():
    assert issubclass(sealdb.Warning, Exception)
    assert issubclass(sealdb.Error, Exception)
    assert issubclass(sealdb.InterfaceError, sealdb.Error)
    assert issubclass(sealdb.DatabaseError, sealdb.Error)
    for cls in (sealdb.DataError, sealdb.OperationalError, sealdb.IntegrityError,
                sealdb.InternalError, sealdb.ProgrammingError, sealdb.NotSupportedError):
        assert issubclass(cls, sealdb.DatabaseError)
        # Optional extension: the classes are also connection attributes.
        assert getattr(sealdb.Connection, cls.__name__) is cls


def test_type_objects_and_constructors():
    assert sealdb.Binary(b"ab") == b"ab"
    assert sealdb.Date(2024, 1, 2) == datetime.date(2024, 1, 2)
    assert isinstance(sealdb.TimestampFromTicks(0), datetime.datetime)
    assert isinstance(sealdb.DateFromTicks(0), datetime.date)
    assert isinstance(sealdb.TimeFromTicks(0), datetime.time)
    assert sealdb.NUMBER == _ffi.lib.SEALDB_INTEGER
    assert sealdb.STRING == _ffi.lib.SEALDB_TEXT
    assert sealdb.BINARY != _ffi.lib.SEALDB_TEXT


def test_header_is_what_python_declares():
    # The cdef is the header; every function the C example uses is there.
    for name in ("sealdb_prepare", "sealdb_step", "sealdb_column_text", "sealdb_stmt_free"):
        assert hasattr(_ffi.lib, name)


# ------------------------------------------------------------ connect and keys


def test_reopen_with_key_file_keeps_data(tmp_path, dbdir):
    key_file = str(tmp_path / "store.key")
    sealdb.generate_key_file(key_file)
    with pytest.raises(sealdb.OperationalError) as e:
        sealdb.generate_key_file(key_file)  # never overwrites a key
    assert e.value.code == _ffi.lib.SEALDB_ERR_IO
    c = sealdb.connect(dbdir, key_file=key_file)
    c.execute("CREATE TABLE kept (x)")
    c.execute("INSERT INTO kept VALUES (42)")
    c.commit()
    c.close()
    c = sealdb.connect(dbdir, key_file=key_file)
    assert c.execute("SELECT x FROM kept").fetchall() == [(42,)]
    c.close()


def test_wrong_key_is_an_operational_error(dbdir):
    sealdb.connect(dbdir, key=KEY).close()
    with pytest.raises(sealdb.OperationalError) as e:
        sealdb.connect(dbdir, key=bytes(32))
    assert e.value.code == _ffi.lib.SEALDB_ERR_KEY_UNAVAILABLE
    assert "store key" in str(e.value)
    with pytest.raises(sealdb.OperationalError) as e:
        sealdb.connect(dbdir, key=b"short")
    assert e.value.code == _ffi.lib.SEALDB_ERR_INVALID_KEY
    # Nothing was lost: the right key still opens it.
    sealdb.connect(dbdir, key=KEY).close()


def test_passphrase_opens_the_store(tmp_path, dbdir):
    cheap = dict(kdf_memory_kib=8, kdf_iterations=1)  # tests only: cheap argon2
    c = sealdb.connect(dbdir, passphrase="correct horse battery staple", **cheap)
    c.execute("CREATE TABLE kept (x)")
    c.execute("INSERT INTO kept VALUES (7)")
    c.commit()
    c.close()
    # The salt and cost are kept in the store, never the passphrase.
    header = (tmp_path / "db" / "KEYDERIVATION").read_bytes()
    assert header.startswith(b"SEALKDF\n") and b"horse" not in header
    with pytest.raises(sealdb.OperationalError) as e:
        sealdb.connect(dbdir, passphrase="wrong horse", **cheap)
    assert e.value.code == _ffi.lib.SEALDB_ERR_KEY_UNAVAILABLE
    # bytes work as well as str; the data is there.
    c = sealdb.connect(dbdir, passphrase=b"correct horse battery staple", **cheap)
    assert c.execute("SELECT x FROM kept").fetchall() == [(7,)]
    c.close()
    with pytest.raises(sealdb.ProgrammingError):
        sealdb.connect(dbdir, passphrase="x", key=KEY)
    with pytest.raises(sealdb.ProgrammingError):
        sealdb.connect(dbdir, passphrase=42)


def test_a_passphrase_in_a_key_file_is_refused(tmp_path, dbdir):
    key_file = tmp_path / "pass.key"
    key_file.write_text("correct horse battery staple!!!!")  # 32 printable bytes
    with pytest.raises(sealdb.OperationalError) as e:
        sealdb.connect(dbdir, key_file=str(key_file))
    assert e.value.code == _ffi.lib.SEALDB_ERR_INVALID_KEY
    assert "passphrase" in str(e.value)


def test_missing_key_file(tmp_path, dbdir):
    with pytest.raises(sealdb.OperationalError) as e:
        sealdb.connect(dbdir, key_file=str(tmp_path / "nope.key"))
    assert e.value.code == _ffi.lib.SEALDB_ERR_IO


def test_connect_argument_mistakes(dbdir):
    with pytest.raises(sealdb.ProgrammingError):
        sealdb.connect(dbdir)
    with pytest.raises(sealdb.ProgrammingError):
        sealdb.connect(dbdir, key=KEY, key_file="x")
    with pytest.raises(sealdb.ProgrammingError):
        sealdb.connect(dbdir, key="not bytes")
    with pytest.raises(sealdb.ProgrammingError):
        sealdb.connect(":memory:", key=KEY)
    with pytest.raises(sealdb.ProgrammingError):
        sealdb.connect(dbdir, key=KEY, password="pw")


def test_store_open_twice_shares_it(conn, dbdir):
    # Like sqlite3: a second connection to the same path (same key) works
    # and sees committed data.
    conn.execute("INSERT INTO t (name) VALUES ('shared')")
    conn.commit()
    other = sealdb.connect(dbdir, key=KEY)
    assert other.execute("SELECT name FROM t").fetchall() == [("shared",)]
    other.close()
    # Another key while it is open: refused, nothing shared.
    with pytest.raises(sealdb.OperationalError) as e:
        sealdb.connect(dbdir, key=bytes(32))
    assert e.value.code == _ffi.lib.SEALDB_ERR_LOCKED


def test_in_memory():
    c = sealdb.connect(":memory:")
    assert c.execute("SELECT 1 + 1").fetchone() == (2,)
    c.close()


def test_users_log_in_with_their_privileges(dbdir):
    lib = _ffi.lib
    root = sealdb.connect(dbdir, key=KEY)
    root.execute("CREATE TABLE t (x)")
    root.execute("INSERT INTO t VALUES (1)")
    root.execute("CREATE USER alice WITH PASSWORD 'pw'")
    root.execute("GRANT SELECT ON t TO alice")
    root.commit()
    root.close()
    with pytest.raises(sealdb.OperationalError) as e:
        sealdb.connect(dbdir, key=KEY, user="alice", password="wrong")
    assert e.value.code == lib.SEALDB_ERR_AUTHENTICATION_FAILED
    with pytest.raises(sealdb.OperationalError) as e:
        sealdb.connect(dbdir, key=KEY, user="nobody", password="pw")
    assert e.value.code == lib.SEALDB_ERR_AUTHENTICATION_FAILED
    with pytest.raises(sealdb.ProgrammingError):
        sealdb.connect(dbdir, key=KEY, user="alice")
    with pytest.raises(sealdb.ProgrammingError) as e:
        sealdb.connect(dbdir, key=KEY, user="alice", password="pw", client_address="nowhere")
    assert e.value.code == lib.SEALDB_ERR_INVALID_ARGUMENT

    alice = sealdb.connect(dbdir, key=KEY, user="alice", password="pw",
                           client_address="127.0.0.1", application_name="pytest")
    assert alice.execute("SELECT x FROM t").fetchall() == [(1,)]
    with pytest.raises(sealdb.ProgrammingError) as e:
        alice.execute("INSERT INTO t VALUES (2)")
    assert e.value.code == lib.SEALDB_ERR_PERMISSION_DENIED
    assert "permission denied" in str(e.value)
    alice.rollback()  # the refused INSERT had opened the implicit transaction
    token = alice.create_login_token(60)
    alice.close()

    alice = sealdb.connect(dbdir, key=KEY, user="alice", token=token)
    assert alice.execute("SELECT count(*) FROM t").fetchone() == (1,)
    alice.close()
    with pytest.raises(sealdb.OperationalError):
        sealdb.connect(dbdir, key=KEY, user="alice", token="forged")


# ------------------------------------------------------------ cursor basics


def test_description_rowcount_lastrowid(conn):
    cur = conn.cursor()
    assert cur.description is None
    assert cur.rowcount == -1
    assert cur.arraysize == 1
    assert cur.execute("INSERT INTO t (name, score) VALUES (?, ?)", ("ann", 1.5)) is cur
    assert cur.rowcount == 1
    assert cur.lastrowid == 1
    assert cur.description is None
    cur.execute("INSERT INTO t (name) VALUES ('bob'), ('cy')")
    assert cur.rowcount == 2
    assert cur.lastrowid == 3
    cur.execute("UPDATE t SET score = 2.0 WHERE id > ?", (1,))
    assert cur.rowcount == 2
    cur.execute("SELECT id, name AS who FROM t ORDER BY id")
    assert [d[0] for d in cur.description] == ["id", "who"]
    assert all(len(d) == 7 for d in cur.description)
    assert cur.rowcount == -1
    cur.execute("DELETE FROM t WHERE id = 99")
    assert cur.rowcount == 0
    cur.execute("CREATE TABLE other (x)")
    assert cur.rowcount == -1


def test_fetch_methods(conn):
    conn.executemany("INSERT INTO t (name) VALUES (?)", [("n%02d" % i,) for i in range(10)])
    cur = conn.execute("SELECT name FROM t ORDER BY name")
    assert cur.fetchone() == ("n00",)
    assert cur.fetchmany() == [("n01",)]
    cur.arraysize = 3
    assert cur.fetchmany() == [("n02",), ("n03",), ("n04",)]
    assert cur.fetchmany(2) == [("n05",), ("n06",)]
    assert cur.fetchall() == [("n07",), ("n08",), ("n09",)]
    assert cur.fetchone() is None
    assert cur.fetchmany(5) == []
    assert cur.fetchall() == []
    assert [r[0] for r in conn.execute("SELECT id FROM t WHERE id <= 3 ORDER BY id")] == [1, 2, 3]


def test_description_type_codes_are_declared_types(conn):
    conn.execute("CREATE TABLE typed (id INTEGER PRIMARY KEY, who VARCHAR(20), born DATE, "
                 "at TIMESTAMP, price DECIMAL(10,2), pic BLOB, f DOUBLE, untyped)")
    cur = conn.execute("SELECT id, who, born, at, price, pic, f, untyped, id + 1, "
                       "upper(who) FROM typed")
    codes = [d[1] for d in cur.description]
    # As sqlite3_column_decltype: the declared type of a column read
    # directly, None for an expression or a column declared without one.
    assert codes == ["INTEGER", "VARCHAR(20)", "DATE", "TIMESTAMP", "DECIMAL(10,2)",
                     "BLOB", "DOUBLE", None, None, None]
    # PEP 249: each type code compares equal to one type object.
    kinds = [sealdb.NUMBER, sealdb.STRING, sealdb.DATETIME, sealdb.DATETIME, sealdb.NUMBER,
             sealdb.BINARY, sealdb.NUMBER]
    objects = [sealdb.STRING, sealdb.BINARY, sealdb.NUMBER, sealdb.DATETIME]
    for code, kind in zip(codes, kinds):
        assert code == kind
        assert [o for o in objects if o == code] == [kind], code
    assert sealdb.ROWID == codes[0]
    # Known before any row is read, also for an empty result; through a view.
    conn.execute("CREATE VIEW tv AS SELECT who AS name, price * 2 AS p FROM typed")
    cur = conn.execute("SELECT * FROM tv WHERE 0")
    assert [d[:2] for d in cur.description] == [("name", "VARCHAR(20)"), ("p", None)]


def test_empty_result_has_description(conn):
    cur = conn.execute("SELECT id, name FROM t WHERE id < 0")
    assert [d[0] for d in cur.description] == ["id", "name"]
    assert cur.fetchall() == []


def test_fetch_without_result_set_is_an_error(conn):
    cur = conn.cursor()
    with pytest.raises(sealdb.ProgrammingError):
        cur.fetchone()
    cur.execute("INSERT INTO t (name) VALUES ('x')")
    with pytest.raises(sealdb.Error):
        cur.fetchall()


def test_many_rows_stream(conn):
    conn.executemany("INSERT INTO t (name, score) VALUES (?, ?)",
                     (("r%d" % i, i / 2) for i in range(1000)))
    conn.commit()
    rows = conn.execute("SELECT id, score FROM t ORDER BY id").fetchall()
    assert len(rows) == 1000
    assert rows[-1] == (1000, 999 / 2)
    assert conn.execute("SELECT count(*), sum(id) FROM t").fetchone() == (1000, 500500)


# ------------------------------------------------------------ parameters


def test_qmark_numeric_and_named_parameters(conn):
    conn.execute("INSERT INTO t (name, score) VALUES (?, ?)", ["ann", 1.0])
    conn.execute("INSERT INTO t (name, score) VALUES (?2, ?1)", (2.0, "bob"))
    conn.execute("INSERT INTO t (name, score) VALUES (:1, :2)", ("cy", 3.0))
    conn.execute("INSERT INTO t (name, score) VALUES ($1, $2)", ("dee", 4.0))
    conn.execute("INSERT INTO t (name, score) VALUES (:name, :score)", {"name": "eve", "score": 5.0})
    rows = conn.execute("SELECT name, score FROM t ORDER BY id").fetchall()
    assert rows == [("ann", 1.0), ("bob", 2.0), ("cy", 3.0), ("dee", 4.0), ("eve", 5.0)]
    # A numbered parameter used twice counts once.
    assert conn.execute("SELECT ?1 + ?1, ?2", (20, "x")).fetchone() == (40, "x")


def test_wrong_parameter_count(conn):
    with pytest.raises(sealdb.ProgrammingError, match="uses 2, and there are 1"):
        conn.execute("INSERT INTO t (name, score) VALUES (?, ?)", ("ann",))
    with pytest.raises(sealdb.ProgrammingError, match="uses 1, and there are 2"):
        conn.execute("SELECT ?", (1, 2))
    with pytest.raises(sealdb.ProgrammingError):
        conn.execute("SELECT ?")
    with pytest.raises(sealdb.ProgrammingError):
        conn.execute("SELECT :a", {"b": 1})
    with pytest.raises(sealdb.ProgrammingError):
        conn.execute("SELECT :a", {"a": 1, "b": 2})


def test_wrong_parameter_types(conn):
    with pytest.raises(sealdb.ProgrammingError, match="type list is not supported"):
        conn.execute("SELECT ?", ([1],))
    with pytest.raises(sealdb.ProgrammingError, match="type object is not supported"):
        conn.execute("SELECT ?", (object(),))
    with pytest.raises(sealdb.ProgrammingError):
        conn.execute("SELECT ?", "a")  # a str is not a parameter sequence
    with pytest.raises(sealdb.ProgrammingError):
        conn.execute("SELECT ?", 5)
    with pytest.raises(sealdb.DataError):
        conn.execute("SELECT ?", (2 ** 63,))
    with pytest.raises(sealdb.DataError):
        conn.execute("SELECT ?", ("\udc80",))  # a lone surrogate is not UTF-8
    with pytest.raises(sealdb.ProgrammingError):
        conn.execute(b"SELECT 1")
    # The cursor and connection work after all that.
    assert conn.execute("SELECT ?", (1,)).fetchone() == (1,)


def test_type_round_trips(conn):
    conn.execute("CREATE TABLE v (x)")
    values = [None, 0, -1, 2 ** 63 - 1, -(2 ** 63), 1.25, -0.5, 1e300, "", "héllo wörld ✓",
              "a\x00b", b"", b"\x00\xff\x01", True, False]
    for v in values:
        conn.execute("INSERT INTO v VALUES (?)", (v,))
    conn.execute("INSERT INTO v VALUES (?)", (bytearray(b"ba"),))
    conn.execute("INSERT INTO v VALUES (?)", (memoryview(b"mv"),))
    got = [r[0] for r in conn.execute("SELECT x FROM v ORDER BY rowid")]
    want = values[:-2] + [1, 0, b"ba", b"mv"]
    assert got == want
    assert [type(x) for x in got] == [type(x) for x in want]


def test_dates_are_stored_as_iso_text(conn):
    d = datetime.date(2024, 2, 29)
    ts = datetime.datetime(2024, 2, 29, 12, 30, 5)
    assert conn.execute("SELECT ?, ?", (d, ts)).fetchone() == ("2024-02-29", "2024-02-29 12:30:05")


# ------------------------------------------------------------ transactions


def test_commit_and_rollback(dbdir):
    c = sealdb.connect(dbdir, key=KEY)
    assert not c.in_transaction
    c.execute("CREATE TABLE x (v)")
    assert c.in_transaction  # PEP 249: changes open a transaction
    c.commit()
    assert not c.in_transaction
    c.execute("INSERT INTO x VALUES (1)")
    c.rollback()
    assert c.execute("SELECT count(*) FROM x").fetchone() == (0,)
    c.execute("INSERT INTO x VALUES (2)")
    c.commit()
    c.execute("INSERT INTO x VALUES (3)")
    c.close()  # without commit: rolled back
    c = sealdb.connect(dbdir, key=KEY)
    assert c.execute("SELECT v FROM x").fetchall() == [(2,)]
    c.rollback()  # nothing open: harmless
    c.commit()
    c.close()


def test_select_does_not_open_a_transaction(conn):
    conn.execute("SELECT * FROM t").fetchall()
    assert not conn.in_transaction


def test_context_manager_commits_or_rolls_back(conn):
    with conn:
        conn.execute("INSERT INTO t (name) VALUES ('kept')")
    assert not conn.in_transaction
    with pytest.raises(ZeroDivisionError):
        with conn:
            conn.execute("INSERT INTO t (name) VALUES ('dropped')")
            1 / 0
    assert [r[0] for r in conn.execute("SELECT name FROM t")] == ["kept"]
    assert not conn.closed


def test_autocommit_mode(dbdir):
    c = sealdb.connect(dbdir, key=KEY, autocommit=True)
    c.execute("CREATE TABLE x (v)")
    c.execute("INSERT INTO x VALUES (1)")
    assert not c.in_transaction
    c.execute("BEGIN")
    c.execute("INSERT INTO x VALUES (2)")
    c.execute("ROLLBACK")
    c.close()
    c = sealdb.connect(dbdir, key=KEY)
    assert c.execute("SELECT v FROM x").fetchall() == [(1,)]
    c.close()


def test_explicit_begin_without_autocommit(conn):
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t (name) VALUES ('a')")
    conn.execute("COMMIT")
    assert not conn.in_transaction


def test_executemany(conn):
    cur = conn.cursor()
    cur.executemany("INSERT INTO t (name, score) VALUES (?, ?)", [("a", 1), ("b", 2), ("c", 3)])
    assert cur.rowcount == 3
    cur.executemany("UPDATE t SET score = score * 10 WHERE name = ?", iter([("a",), ("b",), ("zz",)]))
    assert cur.rowcount == 2
    with pytest.raises(sealdb.ProgrammingError):
        cur.executemany("SELECT ?", [(1,), (2,)])
    with pytest.raises(sealdb.IntegrityError):
        cur.executemany("INSERT INTO t (name) VALUES (?)", [("d",), ("a",)])
    # The failed statement undid only itself; "d" is still in the transaction.
    assert sorted(r[0] for r in conn.execute("SELECT name FROM t")) == ["a", "b", "c", "d"]


def test_executescript(conn):
    conn.executescript("CREATE TABLE s (x); INSERT INTO s VALUES (1); INSERT INTO s VALUES (2);")
    assert conn.execute("SELECT sum(x) FROM s").fetchone() == (3,)
    with pytest.raises(sealdb.ProgrammingError):
        conn.executescript("INSERT INTO s VALUES (3); SELEC")


# ------------------------------------------------------------ errors


def test_error_mapping(conn):
    lib = _ffi.lib
    cases = [
        ("SELEC 1", (), sealdb.ProgrammingError, lib.SEALDB_ERR_SQL_SYNTAX),
        ("SELECT * FROM nope", (), sealdb.ProgrammingError, lib.SEALDB_ERR_SQL_UNKNOWN_OBJECT),
        ("SELECT nope FROM t", (), sealdb.ProgrammingError, lib.SEALDB_ERR_SQL_UNKNOWN_OBJECT),
        ("CREATE TABLE t (x)", (), sealdb.ProgrammingError, lib.SEALDB_ERR_SQL_UNKNOWN_OBJECT),
        ("INSERT INTO t (name) VALUES (NULL)", (), sealdb.IntegrityError, lib.SEALDB_ERR_SQL_CONSTRAINT),
        ("SELECT abs(-9223372036854775807 - 1)", (), sealdb.DataError, lib.SEALDB_ERR_SQL_VALUE),
        ("COMMIT", (), sealdb.ProgrammingError, lib.SEALDB_ERR_SQL_MISUSE),
    ]
    conn.execute("INSERT INTO t (name) VALUES ('dup')")
    conn.commit()
    cases.append(("INSERT INTO t (name) VALUES ('dup')", (), sealdb.IntegrityError,
                  lib.SEALDB_ERR_SQL_CONSTRAINT))
    for sql, params, cls, code in cases:
        with pytest.raises(cls) as e:
            conn.execute(sql, params)
        assert e.value.code == code, sql
        assert str(e.value), sql
        conn.rollback()
    # Every failure left the connection usable.
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_error_class_by_code():
    from sealdb import _error_class
    lib = _ffi.lib
    assert _error_class(lib.SEALDB_ERR_IO) is sealdb.OperationalError
    assert _error_class(lib.SEALDB_ERR_BUSY) is sealdb.OperationalError
    assert _error_class(lib.SEALDB_ERR_CORRUPTION) is sealdb.DatabaseError
    assert _error_class(lib.SEALDB_ERR_AUTHENTICATION) is sealdb.DatabaseError
    assert _error_class(lib.SEALDB_ERR_MISUSE) is sealdb.InterfaceError
    assert _error_class(lib.SEALDB_ERR_NULL_ARGUMENT) is sealdb.InterfaceError
    assert _error_class(lib.SEALDB_ERR_PANIC) is sealdb.InternalError
    assert _error_class(lib.SEALDB_ERR_RANGE) is sealdb.ProgrammingError
    assert _error_class(lib.SEALDB_ERR_PERMISSION_DENIED) is sealdb.ProgrammingError
    assert _error_class(lib.SEALDB_ERR_AUTHENTICATION_FAILED) is sealdb.OperationalError
    assert _error_class(lib.SEALDB_ERR_LOGIN_THROTTLED) is sealdb.OperationalError
    assert _error_class(12345) is sealdb.DatabaseError


# ------------------------------------------------------------ closed objects


def test_closed_connection(dbdir):
    c = sealdb.connect(dbdir, key=KEY)
    cur = c.cursor()
    busy = c.execute("SELECT 1 UNION ALL SELECT 2")  # an open result set
    assert busy.fetchone() == (1,)
    c.close()
    with pytest.raises(sealdb.ProgrammingError):
        busy.fetchone()
    c.close()  # twice is fine
    assert c.closed
    for call in (c.cursor, c.commit, c.rollback, lambda: c.execute("SELECT 1"),
                 lambda: cur.execute("SELECT 1"), cur.fetchone, lambda: c.in_transaction):
        with pytest.raises(sealdb.ProgrammingError, match="closed"):
            call()
    # The store is released: it can be opened again.
    sealdb.connect(dbdir, key=KEY).close()


def test_closed_cursor(conn):
    cur = conn.execute("SELECT 1")
    cur.close()
    cur.close()
    with pytest.raises(sealdb.ProgrammingError, match="closed cursor"):
        cur.execute("SELECT 1")
    with pytest.raises(sealdb.ProgrammingError, match="closed cursor"):
        cur.fetchall()
    with conn.cursor() as c2:
        assert c2.execute("SELECT 2").fetchone() == (2,)
    with pytest.raises(sealdb.ProgrammingError):
        c2.fetchone()


def test_cursor_reuses_its_statement(conn):
    cur = conn.cursor()
    conn.executemany("INSERT INTO t (id, name) VALUES (?, ?)", [(i, "n%d" % i) for i in range(1, 6)])
    for i in (3, 1, 5, 2):
        assert cur.execute("SELECT name FROM t WHERE id = ?", (i,)).fetchone() == ("n%d" % i,)
    # Half-read result, then the same SQL again: a fresh result.
    cur.execute("SELECT id FROM t WHERE id >= ? ORDER BY id", (2,))
    assert cur.fetchone() == (2,)
    cur.execute("SELECT id FROM t WHERE id >= ? ORDER BY id", (4,))
    assert cur.fetchall() == [(4,), (5,)]
    # A schema change between runs is picked up.
    cur.execute("SELECT * FROM t WHERE id = ?", (1,))
    assert len(cur.description) == 4
    conn.execute("ALTER TABLE t ADD COLUMN extra TEXT")
    cur.execute("SELECT * FROM t WHERE id = ?", (1,))
    assert len(cur.description) == 5
    # A failed binding leaves nothing behind for the next run.
    with pytest.raises(sealdb.ProgrammingError):
        cur.execute("SELECT name FROM t WHERE id = ?", ([1],))
    assert cur.execute("SELECT name FROM t WHERE id = ?", (4,)).fetchall() == [("n4",)]


def test_cursor_survives_closing_mid_result(conn):
    conn.executemany("INSERT INTO t (name) VALUES (?)", [("a",), ("b",)])
    cur = conn.execute("SELECT name FROM t")
    assert cur.fetchone() is not None
    cur.execute("SELECT 7")  # a new statement replaces the open result
    assert cur.fetchall() == [(7,)]


def test_library_path_is_known():
    assert os.path.exists(_ffi.LIBRARY_PATH)


# ------------------------------------------------------------ backup and restore


def test_backup_and_restore_round_trip(tmp_path):
    src = str(tmp_path / "src")
    c = sealdb.connect(src, key=KEY, autocommit=True)
    c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    c.executemany("INSERT INTO t VALUES (?, ?)", [(i, "row %d" % i) for i in range(50)])
    full = str(tmp_path / "full")
    c.backup(full, passphrase="py secret", kdf_memory_kib=8, kdf_iterations=1)
    c.execute("INSERT INTO t VALUES (50, 'after')")
    inc = str(tmp_path / "inc")
    c.backup(inc, parent=full)
    with pytest.raises(sealdb.ProgrammingError):
        c.backup(full)  # not empty
    c.close()

    other = bytes(range(100, 132))
    dst = str(tmp_path / "restored")
    with pytest.raises(sealdb.OperationalError) as e:
        sealdb.restore(full, dst, key=other, passphrase="wrong")
    assert e.value.code == 305 and "wrong passphrase" in str(e.value)
    assert not os.path.exists(dst)
    sealdb.restore(full, dst, key=other, passphrase="py secret")
    r = sealdb.connect(dst, key=other)
    assert r.execute("SELECT count(*) FROM t").fetchone() == (50,)
    r.close()
    # The incremental chain, unlocked by the source's store key.
    dst2 = str(tmp_path / "restored2")
    sealdb.restore(inc, dst2, key=other, backup_key=KEY)
    r = sealdb.connect(dst2, key=other)
    assert r.execute("SELECT count(*), max(id) FROM t").fetchone() == (51, 50)
    r.close()
    with pytest.raises(sealdb.ProgrammingError):
        sealdb.restore(inc, dst2, key=other, backup_key=KEY)  # not empty


def test_checkpoint_makes_a_copy_that_opens_under_the_same_keys(tmp_path):
    # A key store and a passphrase store (whose copy needs its salt).
    for name, keys in (("k", {"key": KEY}),
                       ("p", {"passphrase": "py store pass", "kdf_memory_kib": 8,
                              "kdf_iterations": 1})):
        src = str(tmp_path / (name + "src"))
        c = sealdb.connect(src, autocommit=True, **keys)
        c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        c.executemany("INSERT INTO t VALUES (?, ?)", [(i, "row %d" % i) for i in range(20)])
        cp = str(tmp_path / (name + "cp"))
        r = c.checkpoint(cp)
        assert r["sequence"] > 0 and r["tables"] >= 0
        c.execute("INSERT INTO t VALUES (20, 'after')")
        with pytest.raises(sealdb.ProgrammingError):
            c.checkpoint(cp)  # not empty
        c.execute("BEGIN")
        with pytest.raises(sealdb.DatabaseError) as e:
            c.checkpoint(str(tmp_path / (name + "in-txn")))
        assert e.value.code == 604
        c.execute("ROLLBACK")
        c.close()
        copy = sealdb.connect(cp, **keys)
        assert copy.execute("SELECT count(*), max(id) FROM t").fetchone() == (20, 19)
        copy.close()
        # The source is whole and goes on.
        c = sealdb.connect(src, **keys)
        assert c.execute("SELECT count(*) FROM t").fetchone() == (21,)
        c.close()
    # Only admins; nothing is made.
    root = sealdb.connect(str(tmp_path / "ksrc"), key=KEY, autocommit=True)
    root.execute("CREATE USER cy WITH PASSWORD 'pw'")
    cy = sealdb.connect(str(tmp_path / "ksrc"), key=KEY, user="cy", password="pw")
    with pytest.raises(sealdb.ProgrammingError) as e:
        cy.checkpoint(str(tmp_path / "cy"))
    assert e.value.code == 700
    assert not os.path.exists(str(tmp_path / "cy"))
    cy.close()
    root.close()


def test_a_passphrase_stores_backup_restores_by_the_store_passphrase(tmp_path):
    # The backup's store-key wrap records the store's salt: the store's
    # passphrase alone unlocks it, here under another key.
    src = str(tmp_path / "src")
    keys = {"passphrase": "py store pass", "kdf_memory_kib": 8, "kdf_iterations": 1}
    c = sealdb.connect(src, autocommit=True, **keys)
    c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    c.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(7)])
    bk = str(tmp_path / "bk")
    c.backup(bk)
    wraps = [v for k, v in c.execute("SHOW BACKUP ?", (bk,)).fetchall() if k == "key_wrap"]
    assert len(wraps) == 1 and wraps[0].startswith("store passphrase (store key "), wraps
    c.close()
    target = str(tmp_path / "restored")
    with pytest.raises(sealdb.DatabaseError) as e:
        sealdb.restore(bk, target, key=KEY, passphrase="not it")
    assert "wrong store passphrase" in str(e.value)
    assert not os.path.exists(target)
    sealdb.restore(bk, target, key=KEY, passphrase="py store pass")
    r = sealdb.connect(target, key=KEY)
    assert r.execute("SELECT count(*) FROM t").fetchone() == (7,)
    r.close()


def test_backup_and_restore_threads(tmp_path):
    src = str(tmp_path / "src")
    c = sealdb.connect(src, key=KEY, autocommit=True)
    c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    c.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(30)])
    for bad in (-1, 2 ** 32, 1.5, True, "2"):
        with pytest.raises(sealdb.ProgrammingError):
            c.backup(str(tmp_path / "never"), threads=bad)
        with pytest.raises(sealdb.ProgrammingError):
            sealdb.restore(str(tmp_path / "never"), str(tmp_path / "never2"), key=KEY,
                           threads=bad)
    assert not os.path.exists(str(tmp_path / "never"))
    c.backup(str(tmp_path / "one"), threads=1)
    c.backup(str(tmp_path / "all"), threads=0)
    c.close()
    for name, threads in (("one", 1), ("all", None)):
        dst = str(tmp_path / (name + "-restored"))
        sealdb.restore(str(tmp_path / name), dst, key=KEY, threads=threads)
        r = sealdb.connect(dst, key=KEY)
        assert r.execute("SELECT count(*) FROM t").fetchone() == (30,)
        r.close()


def test_verify_backup_checks_a_chain_and_names_a_tampered_file(tmp_path):
    src = str(tmp_path / "src")
    c = sealdb.connect(src, key=KEY, autocommit=True)
    c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    c.executemany("INSERT INTO t VALUES (?, ?)", [(i, "row %d" % i) for i in range(50)])
    full = str(tmp_path / "full")
    c.backup(full, passphrase="py verify", store_key=False, kdf_memory_kib=8, kdf_iterations=1)
    c.execute("INSERT INTO t VALUES (50, 'after')")
    inc = str(tmp_path / "inc")
    c.backup(inc, parent=full, passphrase="py verify", kdf_memory_kib=8, kdf_iterations=1)
    r = c.verify_backup(inc, passphrase="py verify")
    assert r["backups"] == 2 and r["files"] >= 2
    assert r["bytes"] == sum(
        os.path.getsize(os.path.join(d, n)) for d in (full, inc) for n in os.listdir(d)
        if n.startswith(("table-", "log-", "audit-")))
    with pytest.raises(sealdb.OperationalError) as e:
        c.verify_backup(full)  # the passphrase is its only wrap
    assert e.value.code == 305
    # One byte changed in a data file of the parent: the file is named.
    victim = sorted(n for n in os.listdir(full) if n.startswith("log-"))[0]
    path = os.path.join(full, victim)
    with open(path, "r+b") as f:
        f.seek(120)
        b = f.read(1)
        f.seek(120)
        f.write(bytes([b[0] ^ 0x10]))
    with pytest.raises(sealdb.DatabaseError) as e:
        c.verify_backup(inc, passphrase=b"py verify")
    assert victim in str(e.value) and e.value.code in (200, 210)
    # Only admins.
    c.execute("CREATE USER vera WITH PASSWORD 'pw'")
    vera = sealdb.connect(src, key=KEY, user="vera", password="pw")
    with pytest.raises(sealdb.ProgrammingError) as e:
        vera.verify_backup(inc, passphrase="py verify")
    assert e.value.code == 700
    vera.close()
    c.close()


def test_backup_needs_an_admin(tmp_path):
    src = str(tmp_path / "src")
    root = sealdb.connect(src, key=KEY, autocommit=True)
    root.execute("CREATE USER ann WITH PASSWORD 'pw'")
    ann = sealdb.connect(src, key=KEY, user="ann", password="pw")
    with pytest.raises(sealdb.ProgrammingError) as e:
        ann.backup(str(tmp_path / "b"))
    assert e.value.code == 700
    assert not os.path.exists(str(tmp_path / "b"))
    ann.close()
    root.close()
