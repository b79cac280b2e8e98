"""Peak memory and time of a bulk load through Python: sealdb against
Python's ``sqlite3`` (issue 19's "bulk load peak memory" goal).

Loads ROWS rows (default 2,000,000) of ``t (id INTEGER PRIMARY KEY, k
INTEGER, v TEXT)`` (``v`` 100 characters, the SQL runner's shape) in
transactions of TXN rows (default 10,000), each through one
``executemany``, into a fresh file store, and prints the elapsed time, rows
per second, the process's peak resident memory above what it held before
the store was opened, and the store's size on disk. Each engine runs in a
process of its own (``--engine``; without it this script starts one per
engine, alternately, ``--reps`` times), so one engine's memory never
counts against the other. sealdb uses its defaults (8 MiB memtables, up to
two more waiting to be flushed, a 64 MiB block cache); SQLite its own (a
2 MiB page cache, rollback journal).

    cargo build --release -p sealdb-ffi --lib
    SEALDB_LIBRARY=target/release/libsealdb_ffi.so PYTHONPATH=python \\
        python3 python/bench/load_memory.py [--rows N] [--txn N] [--reps N]
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

KEY = bytes(range(32))
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def chunk(start, n, seed):
    """Rows start+1 .. start+n: k and v from a small deterministic
    generator (made per transaction, so Python holds one chunk at a time)."""
    rows = []
    x = seed
    for i in range(start + 1, start + n + 1):
        x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        k = x >> 43
        v = "".join(ALPHABET[(x >> (j % 58)) % 62] for j in range(0, 100))
        rows.append((i, k, v))
    return rows


def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def worker(engine, rows, txn, workdir):
    base = peak_kib()
    if engine == "sealdb":
        import sealdb

        path = os.path.join(workdir, "sealdb")
        db = sealdb.connect(path, key=KEY)
    else:
        import sqlite3

        path = os.path.join(workdir, "sqlite.db")
        db = sqlite3.connect(path)
    cur = db.cursor()
    cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v TEXT)")
    db.commit()
    gen = 0.0
    t0 = time.perf_counter()
    for start in range(0, rows, txn):
        g = time.perf_counter()
        batch = chunk(start, min(txn, rows - start), start + 1)
        gen += time.perf_counter() - g
        if engine == "sqlite":
            cur.execute("BEGIN")
        else:
            cur.execute("BEGIN")
        cur.executemany("INSERT INTO t VALUES (?, ?, ?)", batch)
        cur.execute("COMMIT")
    elapsed = time.perf_counter() - t0 - gen
    cur.execute("SELECT count(*) FROM t")
    count = cur.fetchone()[0]
    peak = peak_kib()
    db.close()
    return {
        "engine": engine,
        "rows": count,
        "seconds": elapsed,
        "peak_mib": (peak - base) / 1024,
        "disk_mib": du(workdir) / 2**20,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--txn", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--engine", choices=["sealdb", "sqlite"])
    a = ap.parse_args()
    if a.engine:
        work = tempfile.mkdtemp(prefix="load_memory_")
        try:
            print(json.dumps(worker(a.engine, a.rows, a.txn, work)))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    results = {"sealdb": [], "sqlite": []}
    for _ in range(a.reps):
        for engine in results:
            out = subprocess.run(
                [sys.executable, __file__, "--engine", engine, "--rows", str(a.rows),
                 "--txn", str(a.txn)],
                check=True, capture_output=True, text=True,
            ).stdout
            results[engine].append(json.loads(out.strip().splitlines()[-1]))
    print(f"{a.rows} rows in transactions of {a.txn}, {a.reps} run(s) per engine")
    print("engine   rows/s (best)  seconds (best)  peak MiB above start (max)  disk MiB")
    for engine, rs in results.items():
        best = min(r["seconds"] for r in rs)
        print(f"{engine:8} {a.rows / best:13,.0f}  {best:14.2f}  "
              f"{max(r['peak_mib'] for r in rs):26.1f}  {rs[-1]['disk_mib']:8.1f}")


if __name__ == "__main__":
    main()
