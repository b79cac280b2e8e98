"""Bulk paths of the Python binding against Python's ``sqlite3``.

Three operations on a table ``t (id INTEGER PRIMARY KEY, name TEXT, score
REAL)`` of ROWS rows (default 100,000), for sealdb and for ``sqlite3``, in
the same process and alternately:

- ``executemany``: ``INSERT INTO t VALUES (?, ?, ?)`` for every row, in one
  transaction (the time includes the COMMIT);
- ``fetchall``: ``SELECT id, name, score FROM t`` then ``fetchall()``;
- ``iterate``: the same query, ``for row in cursor`` (summing one column so
  the rows are used).

Each repetition uses a fresh store in a temporary directory (``--memory``
for in-memory stores instead). Prints, per operation, the fastest and the
median of the repetitions in ms and the ratio sealdb / sqlite3 of both,
twice: for wall-clock time and for the process's CPU time (all threads;
steadier on a shared machine, and blind to waits for the disk).

    cargo build --release -p sealdb-ffi --lib
    SEALDB_LIBRARY=target/release/libsealdb_ffi.so PYTHONPATH=python \\
        python3 python/bench/bulk.py [--rows N] [--reps N] [--memory]
"""

import argparse
import os
import shutil
import sqlite3
import statistics
import tempfile
import time

import sealdb

KEY = bytes(range(32))
CREATE = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL)"
INSERT = "INSERT INTO t VALUES (?, ?, ?)"
SELECT = "SELECT id, name, score FROM t"


def rows_of(n):
    return [(i, "name-%07d" % i, i * 0.5) for i in range(1, n + 1)]


def open_sealdb(workdir, memory):
    if memory:
        return sealdb.connect(":memory:")
    return sealdb.connect(os.path.join(workdir, "sealdb"), key=KEY)


def open_sqlite(workdir, memory):
    if memory:
        return sqlite3.connect(":memory:")
    return sqlite3.connect(os.path.join(workdir, "sqlite.db"))


class Timer:
    """Wall-clock and process CPU seconds of a block, added to ``times``
    as ``times[op] = (wall, cpu)``."""

    def __init__(self, times, op):
        self.times, self.op = times, op

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc):
        self.times[self.op] = (time.perf_counter() - self.wall,
                               time.process_time() - self.cpu)


def one_round(opener, data, memory):
    """Times the three operations on a fresh store; returns
    {op: (wall seconds, cpu seconds)}."""
    workdir = tempfile.mkdtemp(prefix="sealdb-bulk-")
    try:
        conn = opener(workdir, memory)
        conn.execute(CREATE)
        conn.commit()
        times = {}
        with Timer(times, "executemany"):
            conn.executemany(INSERT, data)
            conn.commit()

        with Timer(times, "fetchall"):
            rows = conn.execute(SELECT).fetchall()
        assert len(rows) == len(data) and rows[-1] == data[-1], rows[-1]
        del rows

        total = 0
        with Timer(times, "iterate"):
            for row in conn.execute(SELECT):
                total += row[0]
        assert total == len(data) * (len(data) + 1) // 2
        conn.close()
        return times
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--memory", action="store_true", help="in-memory stores")
    args = parser.parse_args()
    data = rows_of(args.rows)
    results = {"sealdb": [], "sqlite3": []}
    for rep in range(args.reps):
        # Alternate which goes first, so drift in machine load hits both.
        order = [("sealdb", open_sealdb), ("sqlite3", open_sqlite)]
        if rep % 2:
            order.reverse()
        for name, opener in order:
            results[name].append(one_round(opener, data, args.memory))
    print("%d rows, %d repetitions, %s stores, library %s" % (
        args.rows, args.reps, "in-memory" if args.memory else "file",
        sealdb._ffi.LIBRARY_PATH))
    for clock, which in (("wall", 0), ("cpu", 1)):
        print("%-16s %10s %10s %10s %10s %8s %8s" % (
            "%s ms" % clock, "sealdb min", "median", "sqlite min", "median",
            "x (min)", "x (med)"))
        for op in ("executemany", "fetchall", "iterate"):
            s = [r[op][which] * 1000 for r in results["sealdb"]]
            q = [r[op][which] * 1000 for r in results["sqlite3"]]
            print("%-16s %10.1f %10.1f %10.1f %10.1f %8.2f %8.2f" % (
                op, min(s), statistics.median(s), min(q), statistics.median(q),
                min(s) / min(q), statistics.median(s) / statistics.median(q)))


if __name__ == "__main__":
    main()
