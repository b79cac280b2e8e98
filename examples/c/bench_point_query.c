/*
 * examples/c/bench_point_query.c: one prepared point query through the C
 * API (the Rust baseline is ffi/examples/point_query.rs, the same workload:
 * 10,000 rows, SELECT v FROM kv WHERE id = ? for pseudo-random ids, reading
 * the text). Prints the best of three rounds in ns per query.
 *
 *   cargo build --release -p sealdb-ffi --lib
 *   cc -O2 -Iinclude examples/c/bench_point_query.c -Ltarget/release -lsealdb_ffi \
 *      -Wl,-rpath,$PWD/target/release -o bench && ./bench [QUERIES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sealdb.h"

#define ROWS 10000

static void check(int32_t rc, int32_t want, const char *what) {
    if (rc != want) {
        fprintf(stderr, "%s: %d %s\n", what, rc, sealdb_errmsg() ? sealdb_errmsg() : "");
        exit(1);
    }
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
    long queries = argc > 1 ? atol(argv[1]) : 200000;
    sealdb_db *db = NULL;
    sealdb_conn *conn = NULL;
    sealdb_stmt *stmt = NULL;
    check(sealdb_db_open_in_memory(&db), SEALDB_OK, "open");
    check(sealdb_connect_root(db, &conn), SEALDB_OK, "connect");
    check(sealdb_exec(conn, "CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"), SEALDB_OK, "create");
    check(sealdb_begin(conn), SEALDB_OK, "begin");
    check(sealdb_prepare(conn, "INSERT INTO kv (id, v) VALUES (?, ?)", &stmt), SEALDB_OK, "prepare insert");
    for (int64_t id = 1; id <= ROWS; id++) {
        char v[32];
        snprintf(v, sizeof v, "value-%lld", (long long)id);
        check(sealdb_reset(stmt), SEALDB_OK, "reset");
        check(sealdb_bind_int64(stmt, 1, id), SEALDB_OK, "bind");
        check(sealdb_bind_text(stmt, 2, v, -1), SEALDB_OK, "bind");
        check(sealdb_step(stmt), SEALDB_DONE, "insert");
    }
    check(sealdb_stmt_free(stmt), SEALDB_OK, "free");
    check(sealdb_commit(conn), SEALDB_OK, "commit");

    check(sealdb_prepare(conn, "SELECT v FROM kv WHERE id = ?", &stmt), SEALDB_OK, "prepare");
    double best = 1e300;
    size_t bytes = 0;
    for (int round = 0; round < 3; round++) {
        double start = now_ns();
        for (long i = 0; i < queries; i++) {
            int64_t id = (i * 7919) % ROWS + 1;
            const char *text = NULL;
            size_t len = 0;
            check(sealdb_reset(stmt), SEALDB_OK, "reset");
            check(sealdb_bind_int64(stmt, 1, id), SEALDB_OK, "bind");
            check(sealdb_step(stmt), SEALDB_ROW, "step");
            check(sealdb_column_text(stmt, 0, &text, &len), SEALDB_OK, "column");
            bytes += len;
        }
        double per = (now_ns() - start) / queries;
        if (per < best) best = per;
    }
    printf("c: %ld queries x 3 rounds, best %.0f ns/query (read %zu bytes)\n", queries, best, bytes);
    check(sealdb_stmt_free(stmt), SEALDB_OK, "free");
    check(sealdb_conn_free(conn), SEALDB_OK, "free");
    check(sealdb_db_free(db), SEALDB_OK, "free");
    return 0;
}
