"""One prepared point query through the Python DB-API module.

The same workload as ffi/examples/point_query.rs (Rust) and
examples/c/bench_point_query.c (C): 10,000 rows, ``SELECT v FROM kv WHERE
id = ?`` for pseudo-random ids through one cursor (which keeps the prepared
statement), reading the text. Prints the best of three rounds in ns per query.

    SEALDB_LIBRARY=target/release/libsealdb_ffi.so PYTHONPATH=python \\
        python3 python/bench/point_query.py [QUERIES]
"""

import sys
import time

import sealdb

ROWS = 10_000


def main():
    queries = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    conn = sealdb.connect(":memory:")
    conn.execute("CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    conn.executemany("INSERT INTO kv (id, v) VALUES (?, ?)",
                     ((i, "value-%d" % i) for i in range(1, ROWS + 1)))
    conn.commit()
    cur = conn.cursor()
    best = float("inf")
    nbytes = 0
    for _ in range(3):
        start = time.perf_counter_ns()
        for i in range(queries):
            (v,) = cur.execute("SELECT v FROM kv WHERE id = ?", ((i * 7919) % ROWS + 1,)).fetchone()
            nbytes += len(v)
        best = min(best, (time.perf_counter_ns() - start) / queries)
    print("python: %d queries x 3 rounds, best %.0f ns/query (read %d bytes)" % (queries, best, nbytes))
    conn.close()


if __name__ == "__main__":
    main()
