"""Rows read and written in batches (sealdb_step_batch, sealdb_execute_batch):
the values, the order and the errors must be what row-at-a-time gives."""

import datetime

import pytest

import sealdb
from sealdb import _batch


@pytest.fixture
def conn():
    c = sealdb.connect(":memory:")
    yield c
    c.close()


MIXED = [
    1, -2, 2 ** 63 - 1, -(2 ** 63), 0.5, -1e300, float("inf"), "", "ascii", "çé ünï 😀",
    "a\0b", b"", b"\0\1\xff", None,
]


def roundtrip(conn, values):
    """Writes ``values`` (one per row) with executemany and reads them back."""
    conn.execute("CREATE TABLE v (i INTEGER PRIMARY KEY, x)")
    conn.executemany("INSERT INTO v VALUES (?, ?)", list(enumerate(values)))
    return [r[0] for r in conn.execute("SELECT x FROM v ORDER BY i")]


@pytest.mark.parametrize("values", [
    list(range(-5, 5)),                       # one type: INTEGER
    [True, False, True],                      # bools are integers
    [0.25 * i for i in range(10)],            # REAL
    ["a%d" % i for i in range(10)],           # ASCII TEXT
    ["é%d" % i for i in range(10)],           # non-ASCII TEXT
    [b"\0%d" % i for i in range(10)],         # BLOB with NULs
    [None] * 5,                               # NULL
    [1, None, 3, None],                       # INTEGER and NULL
    ["x", None, "ÿ", None, ""],               # TEXT and NULL
    [None, 1.5],                              # REAL and NULL
    MIXED,                                    # everything
])
def test_values_round_trip(conn, values):
    expected = [int(v) if isinstance(v, bool) else v for v in values]
    assert roundtrip(conn, values) == expected


def test_converted_parameter_types(conn):
    d = datetime.date(2024, 2, 29)
    ts = datetime.datetime(2024, 2, 29, 12, 30, 1)
    got = roundtrip(conn, [bytearray(b"ab"), memoryview(b"cd"), d, ts, datetime.time(1, 2)])
    assert got == [b"ab", b"cd", "2024-02-29", "2024-02-29 12:30:01", "01:02:00"]


def test_nan_binds_null(conn):
    assert roundtrip(conn, [float("nan"), 1.0]) == [None, 1.0]


def test_many_rows_across_batches_in_order(conn):
    n = 3 * sealdb.Cursor._MAX_BATCH + 17
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, r REAL)")
    cur = conn.cursor()
    cur.executemany("INSERT INTO t VALUES (?, ?, ?)",
                    ((i, "s%d" % i, i / 4) for i in range(n)))
    assert cur.rowcount == n
    assert cur.lastrowid == n - 1
    expected = [(i, "s%d" % i, i / 4) for i in range(n)]
    assert conn.execute("SELECT * FROM t ORDER BY id").fetchall() == expected
    assert list(conn.execute("SELECT * FROM t ORDER BY id")) == expected
    # fetchone, fetchmany, iteration and fetchall mixed on one result.
    cur = conn.execute("SELECT * FROM t ORDER BY id")
    got = [cur.fetchone()]
    got += cur.fetchmany(100)
    for row in cur:
        got.append(row)
        if len(got) == 5000:
            break
    got += cur.fetchmany(3)
    got += cur.fetchall()
    assert got == expected
    assert cur.fetchone() is None
    assert cur.fetchall() == []


def test_fetchmany_reads_no_more_than_asked(conn):
    conn.execute("CREATE TABLE t (x)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(10)])
    cur = conn.execute("SELECT x FROM t ORDER BY x")
    assert cur.fetchmany(3) == [(0,), (1,), (2,)]
    assert cur._stmt is not None, "the result is still open in sealdb"
    assert list(cur._rows) == [], "and nothing beyond the 3 rows was read"
    assert cur.fetchmany(100) == [(i,) for i in range(3, 10)]
    assert cur.fetchmany(1) == []


def test_error_after_some_rows_comes_after_those_rows(conn):
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?, ?)",
                     [(i, -i) for i in range(1, 100)] + [(100, -(2 ** 63))])
    cur = conn.execute("SELECT abs(x) FROM t ORDER BY id")
    got = []
    with pytest.raises(sealdb.DataError):
        for (v,) in cur:
            got.append(v)
    assert got == list(range(1, 100))
    # The same through fetchall: the error, no partial list.
    with pytest.raises(sealdb.DataError):
        conn.execute("SELECT abs(x) FROM t ORDER BY id").fetchall()
    # The cursor is usable again.
    assert cur.execute("SELECT count(*) FROM t").fetchone() == (100,)


def test_executemany_errors_at_the_right_row(conn):
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x)")
    cur = conn.cursor()
    # An integer out of range in row 3: rows 0-2 run, then DataError.
    with pytest.raises(sealdb.DataError, match="64-bit"):
        cur.executemany("INSERT INTO t VALUES (?, ?)",
                        [(0, 1), (1, 2), (2, 3), (3, 2 ** 64), (4, 5)])
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (3,)
    with pytest.raises(sealdb.DataError, match="UTF-8"):
        cur.executemany("INSERT INTO t VALUES (?, ?)", [(10, "ok"), (11, "\udc80")])
    with pytest.raises(sealdb.ProgrammingError, match="not supported"):
        cur.executemany("INSERT INTO t VALUES (?, ?)", [(12, 1), (13, object())])
    with pytest.raises(sealdb.ProgrammingError, match="incorrect number of bindings"):
        cur.executemany("INSERT INTO t VALUES (?, ?)", [(14, 1), (15,)])
    with pytest.raises(sealdb.ProgrammingError, match="sequence or a mapping"):
        cur.executemany("INSERT INTO t VALUES (?, ?)", [(16, 1), "ab"])
    # A constraint failure in the middle of a batch.
    with pytest.raises(sealdb.IntegrityError):
        cur.executemany("INSERT INTO t VALUES (?, ?)", [(20, 1), (0, 1), (21, 1)])
    ids = [r[0] for r in conn.execute("SELECT id FROM t ORDER BY id")]
    assert ids == [0, 1, 2, 10, 12, 14, 16, 20]


def test_executemany_from_a_failing_iterator_runs_the_rows_before(conn):
    conn.execute("CREATE TABLE t (x)")

    def rows():
        yield (1,)
        yield (2,)
        raise KeyError("boom")

    with pytest.raises(KeyError):
        conn.executemany("INSERT INTO t VALUES (?)", rows())
    assert conn.execute("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (2,)]


def test_executemany_named_tuples_take_the_bulk_path(conn):
    import collections
    Row = collections.namedtuple("Row", "a b")
    rows = [Row(i, "r%d" % i) for i in range(5)]
    assert _batch.param_columns(rows, 2) is not None
    conn.execute("CREATE TABLE t (a, b)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", rows)
    assert conn.execute("SELECT a, b FROM t ORDER BY a").fetchall() == [tuple(r) for r in rows]
    assert conn.execute("SELECT a FROM t").fetchmany(-1) == []


def test_executemany_rows_of_mixed_kinds_and_subclassed_values(conn):
    # Rows that are not all plain tuples, and columns whose values are not
    # all of one exact type (bool among ints, an int subclass, a str
    # subclass): the bulk path must still see them and bind them as the
    # row-by-row path would.
    import enum

    class Level(enum.IntEnum):
        LOW = 1
        HIGH = 7

    class Name(str):
        pass

    rows = [(1, "a", 0.5), [2, "b", 1.5], (True, Name("c"), 2), [Level.HIGH, "d", None]]
    conn.execute("CREATE TABLE t (a, b, c)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    got = conn.execute("SELECT a, typeof(a), b, c, typeof(c) FROM t ORDER BY rowid").fetchall()
    assert got == [
        (1, "integer", "a", 0.5, "real"),
        (2, "integer", "b", 1.5, "real"),
        (1, "integer", "c", 2, "integer"),
        (7, "integer", "d", None, "null"),
    ]
    # A row of the wrong length or kind among them goes row by row and
    # fails at its row, after the rows before it.
    conn.execute("DELETE FROM t")
    with pytest.raises(sealdb.ProgrammingError):
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)", [(1, 2, 3), (4, 5)])
    assert conn.execute("SELECT a FROM t").fetchall() == [(1,)]
    assert _batch.param_columns([(1, 2), "ab"], 2) is None
    assert _batch.param_columns([], 2) is None


def test_executemany_named_parameters_and_no_parameters(conn):
    conn.execute("CREATE TABLE t (a, b)")
    cur = conn.cursor()
    cur.executemany("INSERT INTO t VALUES (:a, :b)", [{"a": 1, "b": "x"}, {"b": "y", "a": 2}])
    assert cur.rowcount == 2
    cur.executemany("INSERT INTO t VALUES (9, 'z')", [(), ()])
    assert cur.rowcount == 2
    cur.executemany("INSERT INTO t VALUES (?, ?)", [])
    assert cur.rowcount == 0
    assert conn.execute("SELECT a, b FROM t ORDER BY a, b").fetchall() == [
        (1, "x"), (2, "y"), (9, "z"), (9, "z")]


def test_executemany_refuses_statements_with_rows(conn):
    conn.execute("CREATE TABLE t (x)")
    with pytest.raises(sealdb.ProgrammingError):
        conn.executemany("INSERT INTO t VALUES (?) RETURNING x", [(1,), (2,)])
    with pytest.raises(sealdb.ProgrammingError):
        conn.executemany("SELECT ?", [("a",), ("b",)])
    with pytest.raises(sealdb.ProgrammingError):
        conn.executemany("SELECT ?", [({"x": 1},)])  # the row-by-row path


def test_closing_mid_iteration(conn):
    conn.execute("CREATE TABLE t (x)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1000)])
    cur = conn.execute("SELECT x FROM t")
    it = iter(cur)
    assert next(it) == (0,)
    assert next(it) == (1,)  # read in a batch
    cur.close()
    with pytest.raises(sealdb.ProgrammingError, match="closed cursor"):
        next(it)


def test_mixed_column_decoding_of_every_type():
    # The per-value path for a column mixing types, directly.
    from sealdb._ffi import ffi
    col = ffi.new("sealdb_column_batch *")
    types = bytes([_batch.INTEGER, _batch.REAL, _batch.TEXT, _batch.BLOB, _batch.NULL,
                   _batch.TEXT])
    nums = ffi.new("sealdb_number[]", 6)
    nums[0].integer = -7
    nums[1].real = 2.5
    offsets = ffi.new("size_t[]", [0, 0, 0, 3, 5, 5, 7])
    data = b"\xc3\xa9a\0\1\xc3\xa9"
    t = ffi.from_buffer("uint8_t[]", types)
    d = ffi.from_buffer("uint8_t[]", data)
    col.types, col.numbers, col.offsets, col.data, col.data_len = t, nums, offsets, d, len(data)
    assert _batch.column_values(col[0], 6) == [-7, 2.5, "éa", b"\0\1", None, "é"]
    bad = ffi.from_buffer("uint8_t[]", bytes([_batch.INTEGER, 42]))
    col.types = bad
    with pytest.raises(_batch.UnknownType):
        _batch.column_values(col[0], 2)
