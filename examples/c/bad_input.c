/*
 * examples/c/bad_input.c: the C API under bad input. Every mistake must
 * give a clear result code and message, never a crash, and lose nothing:
 * NULL handles and arguments, use after free, wrong bind and column
 * indexes, invalid UTF-8, bad batch arrays, wrong keys, and calls from
 * several threads.
 *
 *   ./bad_input WORK_DIR        (prints "N passed, N failed"; exit 1 on failure)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealdb.h"

static int passed, failed;

#define EXPECT(cond)                                                       \
    do {                                                                   \
        if (cond) {                                                        \
            passed++;                                                      \
        } else {                                                           \
            failed++;                                                      \
            fprintf(stderr, "FAILED %s:%d: %s (last error %d: %s)\n",      \
                    __FILE__, __LINE__, #cond, sealdb_errcode(),           \
                    sealdb_errmsg() ? sealdb_errmsg() : "none");           \
        }                                                                  \
    } while (0)

#define EXPECT_RC(call, want) EXPECT((call) == (want))

static char work[4096];

static const char *path_in(const char *name) {
    static char buf[8][4200];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", work, name);
    return p;
}

static int errmsg_contains(const char *needle) {
    const char *m = sealdb_errmsg();
    return m != NULL && strstr(m, needle) != NULL;
}

static void null_arguments(void) {
    sealdb_db *db = (sealdb_db *)1; /* must be reset to NULL on failure */
    EXPECT_RC(sealdb_db_open_key_file(NULL, "k", &db), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT(db == NULL);
    EXPECT(errmsg_contains("path is NULL"));
    EXPECT_RC(sealdb_db_open_key_file("x", NULL, &db), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_db_open_in_memory(NULL), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_db_open_key("x", NULL, 32, &db), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_db_open_key_callback("x", NULL, NULL, &db), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_key_file_generate(NULL, 256), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_connect_root(NULL, NULL), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_exec(NULL, "SELECT 1"), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT(errmsg_contains("connection handle is NULL"));
    EXPECT_RC(sealdb_prepare(NULL, "SELECT 1", NULL), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_step(NULL), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_reset(NULL), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_bind_int64(NULL, 1, 1), SEALDB_ERR_NULL_ARGUMENT);
    int64_t v;
    EXPECT_RC(sealdb_column_int64(NULL, 0, &v), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_begin(NULL), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_conn_errcode(NULL), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT(sealdb_conn_errmsg(NULL) == NULL);
    /* Freeing NULL is a no-op, like free(NULL). */
    EXPECT_RC(sealdb_db_free(NULL), SEALDB_OK);
    EXPECT_RC(sealdb_conn_free(NULL), SEALDB_OK);
    EXPECT_RC(sealdb_stmt_free(NULL), SEALDB_OK);
    sealdb_string_free(NULL);

    /* NULL out-pointers and strings on live handles. */
    EXPECT_RC(sealdb_db_open_in_memory(&db), SEALDB_OK);
    sealdb_conn *conn = NULL;
    EXPECT_RC(sealdb_connect_root(db, &conn), SEALDB_OK);
    EXPECT_RC(sealdb_exec(conn, NULL), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_conn_errcode(conn), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_changes(conn, NULL), SEALDB_ERR_NULL_ARGUMENT);
    sealdb_stmt *stmt = NULL;
    EXPECT_RC(sealdb_prepare(conn, "SELECT ?", &stmt), SEALDB_OK);
    EXPECT_RC(sealdb_bind_text(stmt, 1, NULL, -1), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_bind_blob(stmt, 1, NULL, 4), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_bind_blob(stmt, 1, NULL, 0), SEALDB_OK); /* an empty blob */
    EXPECT_RC(sealdb_step(stmt), SEALDB_ROW);
    EXPECT_RC(sealdb_column_text(stmt, 0, NULL, NULL), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_stmt_free(stmt), SEALDB_OK);
    EXPECT_RC(sealdb_conn_free(conn), SEALDB_OK);
    EXPECT_RC(sealdb_db_free(db), SEALDB_OK);
}

static void use_after_free(void) {
    sealdb_db *db = NULL;
    sealdb_conn *conn = NULL;
    sealdb_stmt *stmt = NULL;
    EXPECT_RC(sealdb_db_open_in_memory(&db), SEALDB_OK);
    EXPECT_RC(sealdb_connect_root(db, &conn), SEALDB_OK);
    EXPECT_RC(sealdb_exec(conn, "CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)"), SEALDB_OK);
    EXPECT_RC(sealdb_prepare(conn, "SELECT x FROM t", &stmt), SEALDB_OK);
    EXPECT_RC(sealdb_step(stmt), SEALDB_ROW);
    EXPECT_RC(sealdb_stmt_free(stmt), SEALDB_OK);
    /* Every use of the freed statement is detected. */
    EXPECT_RC(sealdb_step(stmt), SEALDB_ERR_MISUSE);
    EXPECT(errmsg_contains("not a live statement handle"));
    int64_t v;
    EXPECT_RC(sealdb_column_int64(stmt, 0, &v), SEALDB_ERR_MISUSE);
    EXPECT_RC(sealdb_bind_int64(stmt, 1, 1), SEALDB_ERR_MISUSE);
    EXPECT_RC(sealdb_reset(stmt), SEALDB_ERR_MISUSE);
    EXPECT_RC(sealdb_stmt_free(stmt), SEALDB_ERR_MISUSE); /* double free */
    EXPECT_RC(sealdb_stmt_errcode(stmt), SEALDB_ERR_MISUSE);
    /* A handle of one kind passed as another. */
    EXPECT_RC(sealdb_step((sealdb_stmt *)conn), SEALDB_ERR_MISUSE);
    EXPECT_RC(sealdb_exec((sealdb_conn *)db, "SELECT 1"), SEALDB_ERR_MISUSE);
    /* A made-up pointer. */
    EXPECT_RC(sealdb_exec((sealdb_conn *)&v, "SELECT 1"), SEALDB_ERR_MISUSE);

    /* A statement outlives its connection and database handles. */
    EXPECT_RC(sealdb_prepare(conn, "SELECT count(*) FROM t", &stmt), SEALDB_OK);
    EXPECT_RC(sealdb_conn_free(conn), SEALDB_OK);
    EXPECT_RC(sealdb_db_free(db), SEALDB_OK);
    EXPECT_RC(sealdb_exec(conn, "SELECT 1"), SEALDB_ERR_MISUSE);
    EXPECT_RC(sealdb_conn_free(conn), SEALDB_ERR_MISUSE);
    EXPECT_RC(sealdb_db_free(db), SEALDB_ERR_MISUSE);
    sealdb_conn *c2 = NULL;
    EXPECT_RC(sealdb_connect_root(db, &c2), SEALDB_ERR_MISUSE);
    EXPECT(c2 == NULL);
    EXPECT_RC(sealdb_step(stmt), SEALDB_ROW);
    EXPECT_RC(sealdb_column_int64(stmt, 0, &v), SEALDB_OK);
    EXPECT(v == 2);
    EXPECT_RC(sealdb_stmt_free(stmt), SEALDB_OK);
}

static void wrong_indexes_and_order(void) {
    sealdb_db *db = NULL;
    sealdb_conn *conn = NULL;
    sealdb_stmt *stmt = NULL;
    EXPECT_RC(sealdb_db_open_in_memory(&db), SEALDB_OK);
    EXPECT_RC(sealdb_connect_root(db, &conn), SEALDB_OK);
    EXPECT_RC(sealdb_exec(conn, "CREATE TABLE t (a INTEGER, b TEXT)"), SEALDB_OK);
    EXPECT_RC(sealdb_prepare(conn, "SELECT a, b FROM t WHERE a > ?1 AND b <> :b", &stmt), SEALDB_OK);
    int32_t n = 0;
    EXPECT_RC(sealdb_bind_parameter_count(stmt, &n), SEALDB_OK);
    EXPECT(n == 2);
    EXPECT_RC(sealdb_bind_int64(stmt, 0, 1), SEALDB_ERR_RANGE);
    EXPECT(errmsg_contains("numbered from 1"));
    EXPECT_RC(sealdb_bind_int64(stmt, 3, 1), SEALDB_ERR_RANGE);
    EXPECT_RC(sealdb_bind_int64(stmt, -1, 1), SEALDB_ERR_RANGE);
    EXPECT_RC(sealdb_stmt_errcode(stmt), SEALDB_ERR_RANGE);
    char *msg = sealdb_stmt_errmsg(stmt);
    EXPECT(msg != NULL && strstr(msg, "out of range") != NULL);
    sealdb_string_free(msg);
    EXPECT_RC(sealdb_bind_parameter_index(stmt, ":nope", &n), SEALDB_ERR_RANGE);
    EXPECT_RC(sealdb_bind_parameter_index(stmt, ":b", &n), SEALDB_OK);
    EXPECT(n == 2);
    /* Columns before any row. */
    int64_t v;
    EXPECT_RC(sealdb_column_int64(stmt, 0, &v), SEALDB_ERR_MISUSE);
    EXPECT(errmsg_contains("no current row"));
    EXPECT_RC(sealdb_exec(conn, "INSERT INTO t VALUES (5, 'x')"), SEALDB_OK);
    EXPECT_RC(sealdb_bind_int64(stmt, 1, 0), SEALDB_OK);
    EXPECT_RC(sealdb_bind_text(stmt, 2, "y", -1), SEALDB_OK);
    EXPECT_RC(sealdb_step(stmt), SEALDB_ROW);
    EXPECT_RC(sealdb_column_int64(stmt, 2, &v), SEALDB_ERR_RANGE);
    EXPECT_RC(sealdb_column_int64(stmt, -1, &v), SEALDB_ERR_RANGE);
    const char *name = NULL;
    EXPECT_RC(sealdb_column_name(stmt, 9, &name), SEALDB_ERR_RANGE);
    /* Binding mid-result is refused; reset first. */
    EXPECT_RC(sealdb_bind_int64(stmt, 1, 9), SEALDB_ERR_MISUSE);
    EXPECT_RC(sealdb_column_int64(stmt, 0, &v), SEALDB_OK); /* the row is intact */
    EXPECT(v == 5);
    EXPECT_RC(sealdb_step(stmt), SEALDB_DONE);
    EXPECT_RC(sealdb_step(stmt), SEALDB_DONE);
    EXPECT_RC(sealdb_column_int64(stmt, 0, &v), SEALDB_ERR_MISUSE);
    EXPECT_RC(sealdb_reset(stmt), SEALDB_OK);
    EXPECT_RC(sealdb_bind_int64(stmt, 1, 9), SEALDB_OK);
    EXPECT_RC(sealdb_step(stmt), SEALDB_DONE);
    EXPECT_RC(sealdb_stmt_free(stmt), SEALDB_OK);

    /* SQL errors: a code per kind, the connection keeps working. */
    EXPECT_RC(sealdb_exec(conn, "SELEKT 1"), SEALDB_ERR_SQL_SYNTAX);
    EXPECT_RC(sealdb_exec(conn, "SELECT * FROM nope"), SEALDB_ERR_SQL_UNKNOWN_OBJECT);
    EXPECT_RC(sealdb_prepare(conn, "SELECT 1; SELECT 2", &stmt), SEALDB_ERR_SQL_MISUSE);
    EXPECT(stmt == NULL);
    EXPECT_RC(sealdb_commit(conn), SEALDB_ERR_SQL_MISUSE);
    EXPECT_RC(sealdb_exec(conn, "SELECT 1"), SEALDB_OK);
    EXPECT_RC(sealdb_conn_errcode(conn), SEALDB_OK);
    int64_t count = 0;
    EXPECT_RC(sealdb_prepare(conn, "SELECT count(*) FROM t", &stmt), SEALDB_OK);
    EXPECT_RC(sealdb_step(stmt), SEALDB_ROW);
    EXPECT_RC(sealdb_column_int64(stmt, 0, &count), SEALDB_OK);
    EXPECT(count == 1);
    EXPECT_RC(sealdb_stmt_free(stmt), SEALDB_OK);
    EXPECT_RC(sealdb_conn_free(conn), SEALDB_OK);
    EXPECT_RC(sealdb_db_free(db), SEALDB_OK);
}

static void invalid_utf8(void) {
    sealdb_db *db = NULL;
    sealdb_conn *conn = NULL;
    sealdb_stmt *stmt = NULL;
    const char bad[] = {'S', 'E', 'L', 'E', 'C', 'T', ' ', '\'', (char)0xff, '\'', 0};
    EXPECT_RC(sealdb_db_open_key_file(bad, "k", &db), SEALDB_ERR_INVALID_UTF8);
    EXPECT_RC(sealdb_db_open_in_memory(&db), SEALDB_OK);
    EXPECT_RC(sealdb_connect_root(db, &conn), SEALDB_OK);
    EXPECT_RC(sealdb_exec(conn, bad), SEALDB_ERR_INVALID_UTF8);
    EXPECT(errmsg_contains("not valid UTF-8"));
    EXPECT_RC(sealdb_prepare(conn, bad, &stmt), SEALDB_ERR_INVALID_UTF8);
    EXPECT_RC(sealdb_prepare(conn, "SELECT ?", &stmt), SEALDB_OK);
    EXPECT_RC(sealdb_bind_text(stmt, 1, bad, -1), SEALDB_ERR_INVALID_UTF8);
    EXPECT_RC(sealdb_bind_text(stmt, 1, "\xc3\xa9t\xc3\xa9", 4), SEALDB_ERR_INVALID_UTF8); /* cut mid-character */
    /* Explicit lengths allow embedded NULs. */
    EXPECT_RC(sealdb_bind_text(stmt, 1, "a\0b", 3), SEALDB_OK);
    EXPECT_RC(sealdb_step(stmt), SEALDB_ROW);
    const char *text = NULL;
    size_t len = 0;
    EXPECT_RC(sealdb_column_text(stmt, 0, &text, &len), SEALDB_OK);
    EXPECT(len == 3 && memcmp(text, "a\0b", 3) == 0);
    EXPECT_RC(sealdb_stmt_free(stmt), SEALDB_OK);
    EXPECT_RC(sealdb_conn_free(conn), SEALDB_OK);
    EXPECT_RC(sealdb_db_free(db), SEALDB_OK);
}

/* The batch calls: bad arrays and misuse give codes, good batches read
 * back exactly (valgrind checks every byte read from the arrays). */
static void batches(void) {
    sealdb_db *db = NULL;
    sealdb_conn *conn = NULL;
    sealdb_stmt *ins = NULL, *q = NULL;
    EXPECT_RC(sealdb_db_open_in_memory(&db), SEALDB_OK);
    EXPECT_RC(sealdb_connect_root(db, &conn), SEALDB_OK);
    EXPECT_RC(sealdb_exec(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)"), SEALDB_OK);
    EXPECT_RC(sealdb_prepare(conn, "INSERT INTO t VALUES (?, ?)", &ins), SEALDB_OK);

    sealdb_number ids[3] = {{.integer = 1}, {.integer = 2}, {.integer = 3}};
    const char text[] = "onetwo\xff";
    size_t offsets[4] = {0, 3, 6, 6};
    uint8_t types[3] = {SEALDB_TEXT, SEALDB_TEXT, SEALDB_NULL};
    sealdb_column_batch cols[2] = {
        {.uniform_type = SEALDB_INTEGER, .numbers = ids},
        {.types = types, .offsets = offsets, .data = (const uint8_t *)text, .data_len = 6},
    };
    uint64_t changes = 99;
    EXPECT_RC(sealdb_execute_batch(ins, 3, NULL, 2, &changes), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_execute_batch(ins, 3, cols, 1, &changes), SEALDB_ERR_RANGE);
    EXPECT(changes == 0);
    EXPECT_RC(sealdb_execute_batch(NULL, 3, cols, 2, &changes), SEALDB_ERR_NULL_ARGUMENT);
    /* An offset beyond data_len: row 0 runs, row 1 is refused. */
    offsets[2] = 7;
    EXPECT_RC(sealdb_execute_batch(ins, 3, cols, 2, &changes), SEALDB_ERR_RANGE);
    EXPECT(errmsg_contains("parameter 2 of row 1"));
    EXPECT(changes == 1); /* (1, 'one') */
    /* Invalid UTF-8 (the byte 0xff) in row 1: row 0 runs. */
    cols[1].data_len = 7;
    ids[0].integer = 10;
    EXPECT_RC(sealdb_execute_batch(ins, 2, cols, 2, &changes), SEALDB_ERR_INVALID_UTF8);
    EXPECT(changes == 1); /* (10, 'one') */
    /* A bad type code in row 0, and no types array: nothing runs. */
    offsets[2] = 6;
    types[0] = 77;
    ids[0].integer = 20;
    EXPECT_RC(sealdb_execute_batch(ins, 3, cols, 2, &changes), SEALDB_ERR_INVALID_ARGUMENT);
    EXPECT(changes == 0);
    types[0] = SEALDB_TEXT;
    cols[1].types = NULL;
    EXPECT_RC(sealdb_execute_batch(ins, 3, cols, 2, &changes), SEALDB_ERR_NULL_ARGUMENT);
    cols[1].types = types;
    EXPECT_RC(sealdb_execute_batch(ins, 3, cols, 2, &changes), SEALDB_OK);
    EXPECT(changes == 3); /* (20, 'one'), (2, 'two'), (3, NULL) */
    EXPECT_RC(sealdb_execute_batch(ins, 0, NULL, 2, NULL), SEALDB_ERR_NULL_ARGUMENT);

    /* Read back two rows a call. */
    EXPECT_RC(sealdb_prepare(conn, "SELECT id, s FROM t ORDER BY id", &q), SEALDB_OK);
    sealdb_batch b;
    EXPECT_RC(sealdb_step_batch(q, 0, &b), SEALDB_ERR_RANGE);
    EXPECT_RC(sealdb_step_batch(q, 2, NULL), SEALDB_ERR_NULL_ARGUMENT);
    static const int64_t want_ids[] = {1, 2, 3, 10, 20};
    static const char *const want_text[] = {"one", "two", NULL, "one", "one"};
    size_t rows = 0;
    int32_t rc;
    while ((rc = sealdb_step_batch(q, 2, &b)) == SEALDB_ROW) {
        EXPECT(b.columns == 2 && b.rows >= 1 && b.rows <= 2);
        const sealdb_column_batch *id = &b.column[0], *s = &b.column[1];
        EXPECT(id->uniform_type == SEALDB_INTEGER);
        for (size_t i = 0; i < b.rows && rows < 5; i++, rows++) {
            EXPECT(id->numbers[i].integer == want_ids[rows]);
            if (want_text[rows] == NULL) {
                EXPECT(s->types[i] == SEALDB_NULL);
                EXPECT(s->offsets[i + 1] == s->offsets[i]);
            } else {
                size_t len = s->offsets[i + 1] - s->offsets[i];
                EXPECT(s->types[i] == SEALDB_TEXT && len == strlen(want_text[rows]));
                EXPECT(memcmp(s->data + s->offsets[i], want_text[rows], len) == 0);
            }
        }
    }
    EXPECT_RC(rc, SEALDB_DONE);
    EXPECT(rows == 5);
    EXPECT(b.rows == 0 && b.columns == 2);
    /* Statements that return rows are refused by execute_batch. */
    EXPECT_RC(sealdb_execute_batch(q, 1, NULL, 0, &changes), SEALDB_ERR_SQL_MISUSE);
    EXPECT_RC(sealdb_stmt_free(q), SEALDB_OK);
    EXPECT_RC(sealdb_step_batch(q, 2, &b), SEALDB_ERR_MISUSE);
    EXPECT(b.rows == 0 && b.column == NULL);
    EXPECT_RC(sealdb_execute_batch(q, 1, NULL, 0, &changes), SEALDB_ERR_MISUSE);
    EXPECT_RC(sealdb_stmt_free(ins), SEALDB_OK);
    EXPECT_RC(sealdb_conn_free(conn), SEALDB_OK);
    EXPECT_RC(sealdb_db_free(db), SEALDB_OK);
}

static int32_t key_callback(void *user_data, const char *key_id, uint8_t *key_out, size_t *key_len) {
    (void)key_id;
    if (user_data == NULL) return 42; /* a failing provider */
    memcpy(key_out, user_data, 32);
    *key_len = 32;
    return SEALDB_KEY_FOUND;
}

static void keys(void) {
    sealdb_db *db = NULL;
    const char *dir = path_in("keys-db");
    const char *key_a = path_in("a.key");
    const char *key_b = path_in("b.key");
    EXPECT_RC(sealdb_key_file_generate(key_a, 256), SEALDB_OK);
    EXPECT_RC(sealdb_key_file_generate(key_a, 256), SEALDB_ERR_IO); /* never overwrites */
    EXPECT_RC(sealdb_key_file_generate(key_b, 100), SEALDB_ERR_INVALID_ARGUMENT);
    EXPECT_RC(sealdb_key_file_generate(key_b, 128), SEALDB_OK);
    EXPECT_RC(sealdb_db_open_key_file(dir, path_in("missing.key"), &db), SEALDB_ERR_IO);
    EXPECT_RC(sealdb_db_open_key_file(dir, key_a, &db), SEALDB_OK);
    sealdb_conn *conn = NULL;
    EXPECT_RC(sealdb_connect_root(db, &conn), SEALDB_OK);
    EXPECT_RC(sealdb_exec(conn, "CREATE TABLE kept (x); INSERT INTO kept VALUES (1)"), SEALDB_OK);
    sealdb_db *second = NULL;
    /* Open again in this process with the same key: the store is shared. */
    EXPECT_RC(sealdb_db_open_key_file(dir, key_a, &second), SEALDB_OK);
    sealdb_conn *conn2 = NULL;
    EXPECT_RC(sealdb_connect_root(second, &conn2), SEALDB_OK);
    EXPECT_RC(sealdb_exec(conn2, "UPDATE kept SET x = x"), SEALDB_OK);
    EXPECT_RC(sealdb_conn_free(conn2), SEALDB_OK);
    EXPECT_RC(sealdb_db_free(second), SEALDB_OK);
    /* Another key while it is open here: locked, nothing shared. */
    EXPECT_RC(sealdb_db_open_key_file(dir, key_b, &second), SEALDB_ERR_LOCKED);
    EXPECT(second == NULL);
    EXPECT_RC(sealdb_conn_free(conn), SEALDB_OK);
    EXPECT_RC(sealdb_db_free(db), SEALDB_OK);
    /* The wrong key is named as such; nothing is lost. */
    EXPECT_RC(sealdb_db_open_key_file(dir, key_b, &db), SEALDB_ERR_KEY_UNAVAILABLE);
    EXPECT(errmsg_contains("store key"));
    uint8_t short_key[8] = {0};
    EXPECT_RC(sealdb_db_open_key(dir, short_key, sizeof short_key, &db), SEALDB_ERR_INVALID_KEY);
    EXPECT_RC(sealdb_db_open_key_callback(dir, key_callback, NULL, &db), SEALDB_ERR_KEY_PROVIDER);
    EXPECT_RC(sealdb_db_open_key_file(dir, key_a, &db), SEALDB_OK);
    EXPECT_RC(sealdb_connect_root(db, &conn), SEALDB_OK);
    sealdb_stmt *stmt = NULL;
    int64_t v = 0;
    EXPECT_RC(sealdb_prepare(conn, "SELECT x FROM kept", &stmt), SEALDB_OK);
    EXPECT_RC(sealdb_step(stmt), SEALDB_ROW);
    EXPECT_RC(sealdb_column_int64(stmt, 0, &v), SEALDB_OK);
    EXPECT(v == 1);
    EXPECT_RC(sealdb_stmt_free(stmt), SEALDB_OK);
    EXPECT_RC(sealdb_conn_free(conn), SEALDB_OK);
    EXPECT_RC(sealdb_db_free(db), SEALDB_OK);

    /* Key bytes through a callback. */
    uint8_t key[32];
    for (int i = 0; i < 32; i++) key[i] = (uint8_t)(i * 7 + 1);
    EXPECT_RC(sealdb_db_open_key_callback(path_in("cb-db"), key_callback, key, &db), SEALDB_OK);
    EXPECT_RC(sealdb_db_free(db), SEALDB_OK);
    EXPECT_RC(sealdb_db_open_key(path_in("cb-db"), key, sizeof key, &db), SEALDB_OK);
    EXPECT_RC(sealdb_db_free(db), SEALDB_OK);

    /* A passphrase (cheap argon2id cost: tests only), never a key file. */
    const char *pass = "correct horse battery staple";
    const char *pdir = path_in("pass-db");
    EXPECT_RC(sealdb_db_open_passphrase(pdir, (const uint8_t *)pass, strlen(pass), 8, 1, &db),
              SEALDB_OK);
    EXPECT_RC(sealdb_db_free(db), SEALDB_OK);
    EXPECT_RC(sealdb_db_open_passphrase(pdir, (const uint8_t *)"wrong", 5, 8, 1, &db),
              SEALDB_ERR_KEY_UNAVAILABLE);
    EXPECT(db == NULL);
    EXPECT_RC(sealdb_db_open_passphrase(pdir, NULL, 4, 8, 1, &db), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_db_open_passphrase(pdir, (const uint8_t *)pass, strlen(pass), 8, 1, &db),
              SEALDB_OK);
    EXPECT_RC(sealdb_db_free(db), SEALDB_OK);
    const char *pass_file = path_in("pass.key");
    FILE *f = fopen(pass_file, "w");
    EXPECT(f != NULL);
    fputs("correct horse battery staple!!!!", f); /* 32 printable bytes */
    fclose(f);
    EXPECT_RC(sealdb_db_open_key_file(path_in("pass-file-db"), pass_file, &db),
              SEALDB_ERR_INVALID_KEY);
    EXPECT(errmsg_contains("passphrase"));
}

static void logins(void) {
    sealdb_db *db = NULL;
    sealdb_conn *root = NULL, *conn = NULL;
    EXPECT_RC(sealdb_db_open_in_memory(&db), SEALDB_OK);
    EXPECT_RC(sealdb_connect_root(db, &root), SEALDB_OK);
    EXPECT_RC(sealdb_exec(root, "CREATE TABLE t (x); INSERT INTO t VALUES (1)"), SEALDB_OK);
    EXPECT_RC(sealdb_exec(root, "CREATE USER alice WITH PASSWORD 'pw'"), SEALDB_OK);
    EXPECT_RC(sealdb_exec(root, "GRANT SELECT ON t TO alice"), SEALDB_OK);

    /* Unknown users and wrong passwords fail alike; the db handle keeps it. */
    EXPECT_RC(sealdb_connect(db, "alice", "nope", NULL, "bad_input", &conn), SEALDB_ERR_AUTHENTICATION_FAILED);
    EXPECT(conn == NULL);
    EXPECT_RC(sealdb_db_errcode(db), SEALDB_ERR_AUTHENTICATION_FAILED);
    char *msg = sealdb_db_errmsg(db);
    EXPECT(msg != NULL && strstr(msg, "authentication failed") != NULL);
    sealdb_string_free(msg);
    EXPECT_RC(sealdb_connect(db, "mallory", "pw", NULL, NULL, &conn), SEALDB_ERR_AUTHENTICATION_FAILED);
    EXPECT_RC(sealdb_connect(db, NULL, "pw", NULL, NULL, &conn), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_connect(db, "alice", NULL, NULL, NULL, &conn), SEALDB_ERR_NULL_ARGUMENT);
    EXPECT_RC(sealdb_connect(db, "alice", "pw", "not-an-ip", NULL, &conn), SEALDB_ERR_INVALID_ARGUMENT);
    EXPECT_RC(sealdb_connect(db, "al\xffice", "pw", NULL, NULL, &conn), SEALDB_ERR_INVALID_UTF8);
    EXPECT_RC(sealdb_connect(NULL, "alice", "pw", NULL, NULL, &conn), SEALDB_ERR_NULL_ARGUMENT);

    /* The right password: alice reads, may not write. */
    EXPECT_RC(sealdb_connect(db, "alice", "pw", "::1", "bad_input", &conn), SEALDB_OK);
    EXPECT_RC(sealdb_db_errcode(db), SEALDB_OK);
    EXPECT_RC(sealdb_exec(conn, "SELECT x FROM t"), SEALDB_OK);
    EXPECT_RC(sealdb_exec(conn, "INSERT INTO t VALUES (2)"), SEALDB_ERR_PERMISSION_DENIED);
    EXPECT(errmsg_contains("permission denied"));
    EXPECT_RC(sealdb_exec(conn, "CREATE USER eve WITH PASSWORD 'x'"), SEALDB_ERR_PERMISSION_DENIED);

    /* Login tokens. */
    char *token = NULL;
    EXPECT_RC(sealdb_create_login_token(conn, 3600, &token), SEALDB_OK);
    EXPECT(token != NULL && strlen(token) > 16);
    EXPECT_RC(sealdb_create_login_token(conn, 3600, NULL), SEALDB_ERR_NULL_ARGUMENT);
    sealdb_conn *by_token = NULL;
    EXPECT_RC(sealdb_connect_token(db, "alice", token, NULL, "bad_input", &by_token), SEALDB_OK);
    EXPECT_RC(sealdb_exec(by_token, "SELECT x FROM t"), SEALDB_OK);
    EXPECT_RC(sealdb_conn_free(by_token), SEALDB_OK);
    sealdb_string_free(token);
    EXPECT_RC(sealdb_connect_token(db, "alice", "forged", NULL, NULL, &by_token), SEALDB_ERR_AUTHENTICATION_FAILED);
    EXPECT_RC(sealdb_conn_free(conn), SEALDB_OK);

    /* Repeated failures from one address are throttled. */
    int32_t last = SEALDB_OK;
    for (int i = 0; i < 8; i++) last = sealdb_connect(db, "alice", "guess", "10.1.2.3", NULL, &conn);
    EXPECT_RC(last, SEALDB_ERR_LOGIN_THROTTLED);
    EXPECT_RC(sealdb_conn_free(root), SEALDB_OK);
    EXPECT_RC(sealdb_db_free(db), SEALDB_OK);
}

/* Threads: several share one connection (calls are serialized), others
 * have a connection each; every row must arrive, errors stay per thread. */
enum { THREADS = 6, ROWS_PER_THREAD = 50 };

struct worker {
    sealdb_db *db;
    sealdb_conn *shared;
    int id, ok;
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    sealdb_conn *own = NULL;
    sealdb_conn *conn = w->shared;
    if (w->id % 2 == 1) {
        if (sealdb_connect_root(w->db, &own) != SEALDB_OK) return NULL;
        conn = own;
    }
    sealdb_stmt *stmt = NULL;
    if (sealdb_prepare(conn, "INSERT INTO t (worker, n) VALUES (?, ?)", &stmt) != SEALDB_OK) return NULL;
    int ok = 1;
    for (int i = 0; i < ROWS_PER_THREAD; i++) {
        ok &= sealdb_reset(stmt) == SEALDB_OK;
        ok &= sealdb_bind_int64(stmt, 1, w->id) == SEALDB_OK;
        ok &= sealdb_bind_int64(stmt, 2, i) == SEALDB_OK;
        ok &= sealdb_step(stmt) == SEALDB_DONE;
        /* A mistake on this thread is reported on this thread only. */
        ok &= sealdb_bind_int64(stmt, 99, 0) == SEALDB_ERR_RANGE;
        ok &= sealdb_errcode() == SEALDB_ERR_RANGE;
    }
    ok &= sealdb_stmt_free(stmt) == SEALDB_OK;
    ok &= sealdb_conn_free(own) == SEALDB_OK;
    w->ok = ok;
    return NULL;
}

static void threads(void) {
    sealdb_db *db = NULL;
    sealdb_conn *conn = NULL;
    EXPECT_RC(sealdb_db_open_key_file(path_in("threads-db"), path_in("a.key"), &db), SEALDB_OK);
    EXPECT_RC(sealdb_connect_root(db, &conn), SEALDB_OK);
    EXPECT_RC(sealdb_exec(conn, "CREATE TABLE t (worker INTEGER, n INTEGER)"), SEALDB_OK);
    pthread_t tids[THREADS];
    struct worker ws[THREADS];
    for (int i = 0; i < THREADS; i++) {
        ws[i] = (struct worker){db, conn, i, 0};
        EXPECT(pthread_create(&tids[i], NULL, worker_main, &ws[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tids[i], NULL);
        EXPECT(ws[i].ok);
    }
    EXPECT_RC(sealdb_errcode(), SEALDB_OK); /* the workers' errors stayed theirs */
    sealdb_stmt *stmt = NULL;
    int64_t rows = 0, workers = 0;
    EXPECT_RC(sealdb_prepare(conn, "SELECT count(*), count(DISTINCT worker) FROM t", &stmt), SEALDB_OK);
    EXPECT_RC(sealdb_step(stmt), SEALDB_ROW);
    EXPECT_RC(sealdb_column_int64(stmt, 0, &rows), SEALDB_OK);
    EXPECT_RC(sealdb_column_int64(stmt, 1, &workers), SEALDB_OK);
    EXPECT(rows == THREADS * ROWS_PER_THREAD);
    EXPECT(workers == THREADS);
    EXPECT_RC(sealdb_stmt_free(stmt), SEALDB_OK);
    EXPECT_RC(sealdb_conn_free(conn), SEALDB_OK);
    EXPECT_RC(sealdb_db_free(db), SEALDB_OK);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s WORK_DIR\n", argv[0]);
        return 2;
    }
    snprintf(work, sizeof work, "%s", argv[1]);
    null_arguments();
    use_after_free();
    wrong_indexes_and_order();
    invalid_utf8();
    batches();
    keys();
    logins();
    threads();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
