/*
 * examples/c/example.c: sealdb from C.
 *
 * Opens (or creates) an encrypted database with a key file (made on first
 * use), creates a table as root, creates a user and grants it privileges,
 * logs in as that user, inserts and queries rows with prepared statements
 * (one row per call, and many with sealdb_execute_batch / sealdb_step_batch),
 * prints them, and shows what the user may not do.
 *
 *   cc -std=c11 -Iinclude examples/c/example.c -Ltarget/debug -lsealdb_ffi \
 *      -Wl,-rpath,$PWD/target/debug -o example
 *   ./example DB_DIR KEY_FILE
 *
 * Every call returns a result code; on failure the message is in
 * sealdb_errmsg() (this thread's last call).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sealdb.h"

/* Exits with the message of the failed call. */
static void check(int32_t rc, const char *what) {
    if (rc != SEALDB_OK) {
        const char *msg = sealdb_errmsg();
        fprintf(stderr, "example: %s failed: %s (code %d: %s)\n", what, msg ? msg : "?", rc,
                sealdb_code_description(rc));
        exit(1);
    }
}

/* Prints every row of `stmt` as `a|b|c`, like sqlite3. */
static int print_rows(sealdb_stmt *stmt) {
    int rows = 0;
    int32_t rc;
    while ((rc = sealdb_step(stmt)) == SEALDB_ROW) {
        int32_t n = 0;
        check(sealdb_column_count(stmt, &n), "column count");
        for (int32_t i = 0; i < n; i++) {
            int32_t type = 0;
            check(sealdb_column_type(stmt, i, &type), "column type");
            if (i > 0) putchar('|');
            if (type == SEALDB_NULL) {
                fputs("NULL", stdout);
            } else if (type == SEALDB_BLOB) {
                const uint8_t *data = NULL;
                size_t len = 0;
                check(sealdb_column_blob(stmt, i, &data, &len), "column blob");
                fputs("x'", stdout);
                for (size_t j = 0; j < len; j++) printf("%02x", data[j]);
                putchar('\'');
            } else {
                const char *text = NULL;
                check(sealdb_column_text(stmt, i, &text, NULL), "column text");
                fputs(text, stdout);
            }
        }
        putchar('\n');
        rows++;
    }
    if (rc != SEALDB_DONE) check(rc, "step");
    return rows;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s DB_DIR KEY_FILE\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1], *key_file = argv[2];
    printf("sealdb %s\n", sealdb_version());

    if (access(key_file, F_OK) != 0) {
        check(sealdb_key_file_generate(key_file, 256), "key file generation");
        printf("made a new 256-bit key file %s\n", key_file);
    }

    sealdb_db *db = NULL;
    check(sealdb_db_open_key_file(dir, key_file, &db), "open");

    /* As root (the holder of the key): schema, a user, privileges. */
    sealdb_conn *root = NULL;
    check(sealdb_connect_root(db, &root), "connect as root");
    check(sealdb_exec(root,
                      "CREATE TABLE IF NOT EXISTS notes ("
                      "  id INTEGER PRIMARY KEY, author TEXT NOT NULL, body TEXT, stars REAL, tag BLOB)"),
          "create table");
    check(sealdb_exec(root, "DELETE FROM notes"), "clear table");
    check(sealdb_exec(root, "CREATE USER IF NOT EXISTS alice WITH PASSWORD 'correct horse'"),
          "create user");
    check(sealdb_exec(root, "GRANT SELECT, INSERT ON notes TO alice"), "grant");
    check(sealdb_conn_free(root), "free root connection");

    /* A wrong password is refused (and audited). */
    sealdb_conn *conn = NULL;
    int32_t rc = sealdb_connect(db, "alice", "wrong", "127.0.0.1", "c-example", &conn);
    printf("login with a wrong password: error %d (%s)\n", rc, sealdb_code_description(rc));
    if (rc != SEALDB_ERR_AUTHENTICATION_FAILED) return 1;

    /* From here on: alice, with her privileges only. */
    check(sealdb_connect(db, "alice", "correct horse", "127.0.0.1", "c-example", &conn),
          "log in as alice");

    /* Insert rows with a prepared statement, in one transaction. */
    static const struct {
        const char *author, *body;
        double stars;
    } notes[] = {{"ann", "keys never touch the disk unwrapped", 4.5},
                 {"bob", "every block is authenticated", 5.0},
                 {"ann", NULL, 3.0}};
    sealdb_stmt *insert = NULL;
    check(sealdb_prepare(conn, "INSERT INTO notes (author, body, stars, tag) VALUES (?, ?, ?, ?)",
                         &insert),
          "prepare insert");
    check(sealdb_begin(conn), "begin");
    for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++) {
        const uint8_t tag[2] = {(uint8_t)i, 0xff};
        check(sealdb_reset(insert), "reset");
        check(sealdb_bind_text(insert, 1, notes[i].author, -1), "bind author");
        if (notes[i].body)
            check(sealdb_bind_text(insert, 2, notes[i].body, -1), "bind body");
        else
            check(sealdb_bind_null(insert, 2), "bind body");
        check(sealdb_bind_double(insert, 3, notes[i].stars), "bind stars");
        check(sealdb_bind_blob(insert, 4, tag, sizeof tag), "bind tag");
        int32_t rc = sealdb_step(insert);
        if (rc != SEALDB_DONE) check(rc, "insert");
    }
    check(sealdb_commit(conn), "commit");
    int64_t rowid = 0;
    check(sealdb_last_insert_rowid(conn, &rowid), "last insert rowid");
    printf("inserted %zu notes, last rowid %lld\n", sizeof notes / sizeof notes[0], (long long)rowid);
    check(sealdb_stmt_free(insert), "free insert");

    /* Query with a named parameter. */
    sealdb_stmt *query = NULL;
    check(sealdb_prepare(conn,
                         "SELECT id, author, body, stars, tag FROM notes WHERE author = :author ORDER BY id",
                         &query),
          "prepare query");
    int32_t author = 0;
    check(sealdb_bind_parameter_index(query, ":author", &author), "parameter index");
    check(sealdb_bind_text(query, author, "ann", -1), "bind :author");
    int32_t ncols = 0;
    int rows = print_rows(query);
    check(sealdb_column_count(query, &ncols), "column count");
    printf("%d rows of %d columns for ann\n", rows, ncols);
    check(sealdb_stmt_free(query), "free query");

    /* An aggregate. */
    sealdb_stmt *agg = NULL;
    check(sealdb_prepare(conn, "SELECT author, count(*), avg(stars) FROM notes GROUP BY author ORDER BY author",
                         &agg),
          "prepare aggregate");
    print_rows(agg);
    check(sealdb_stmt_free(agg), "free aggregate");

    /* Many rows per call: 1000 notes inserted from column arrays by one
     * sealdb_execute_batch, then read back 256 rows per sealdb_step_batch. */
    enum { BULK = 1000 };
    static sealdb_number bulk_stars[BULK];
    static size_t author_offsets[BULK + 1];
    static char authors[BULK * 8];
    for (size_t i = 0; i < BULK; i++) {
        bulk_stars[i].real = (double)(i % 5) + 1.0;
        int n = snprintf(authors + author_offsets[i], 8, "bulk%zu", i % 7);
        author_offsets[i + 1] = author_offsets[i] + (size_t)n;
    }
    sealdb_column_batch params[4] = {
        {.uniform_type = SEALDB_TEXT, .offsets = author_offsets,
         .data = (const uint8_t *)authors, .data_len = author_offsets[BULK]},
        {.uniform_type = SEALDB_NULL},
        {.uniform_type = SEALDB_REAL, .numbers = bulk_stars},
        {.uniform_type = SEALDB_NULL},
    };
    check(sealdb_prepare(conn, "INSERT INTO notes (author, body, stars, tag) VALUES (?, ?, ?, ?)",
                         &insert),
          "prepare bulk insert");
    uint64_t changes = 0;
    check(sealdb_begin(conn), "begin");
    check(sealdb_execute_batch(insert, BULK, params, 4, &changes), "bulk insert");
    check(sealdb_commit(conn), "commit");
    check(sealdb_stmt_free(insert), "free bulk insert");
    sealdb_stmt *bulk = NULL;
    check(sealdb_prepare(conn, "SELECT author, stars FROM notes WHERE author LIKE 'bulk%'", &bulk),
          "prepare bulk query");
    sealdb_batch batch;
    size_t read = 0, calls = 0;
    double stars = 0;
    while ((rc = sealdb_step_batch(bulk, 256, &batch)) == SEALDB_ROW) {
        const sealdb_column_batch *star = &batch.column[1];
        for (size_t i = 0; i < batch.rows; i++)
            if (star->types[i] == SEALDB_REAL) stars += star->numbers[i].real;
        read += batch.rows;
        calls++;
    }
    if (rc != SEALDB_DONE) check(rc, "step batch");
    check(sealdb_stmt_free(bulk), "free bulk query");
    printf("bulk: inserted %llu rows in one call, read %zu in %zu calls, %.0f stars\n",
           (unsigned long long)changes, read, calls, stars);
    if (changes != BULK || read != BULK || stars != 3000.0) return 1;

    /* Alice may not delete: a clear error, nothing changed, and the
     * connection goes on. So does a bad statement. */
    rc = sealdb_exec(conn, "DELETE FROM notes");
    char *msg = sealdb_conn_errmsg(conn);
    printf("alice deleting: error %d (%s): %s\n", rc, sealdb_code_description(rc), msg ? msg : "?");
    sealdb_string_free(msg);
    if (rc != SEALDB_ERR_PERMISSION_DENIED) return 1;
    rc = sealdb_exec(conn, "SELECT nope FROM notes");
    msg = sealdb_conn_errmsg(conn);
    printf("bad column: error %d (%s): %s\n", rc, sealdb_code_description(rc), msg ? msg : "?");
    sealdb_string_free(msg);

    check(sealdb_conn_free(conn), "free connection");
    check(sealdb_db_free(db), "free database");
    puts("ok");
    return 0;
}
