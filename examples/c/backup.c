/*
 * examples/c/backup.c: a checkpoint, an encrypted backup and a restore
 * from C.
 *
 * Makes a database in WORK/db, copies it while it is open into
 * WORK/checkpoint (a store under the same key, as of that moment), backs
 * it up while it is open into WORK/backup (wrapped by the store key and by
 * a passphrase, one thread), restores it into WORK/restored under another
 * key unlocked by the passphrase, and checks the rows; verifies the
 * backup without restoring it; then shows the errors a wrong passphrase,
 * a tampered backup (the file named), a verify or a checkpoint by a user
 * who is not an admin and bad arguments give.
 *
 *   cc -std=c11 -Iinclude examples/c/backup.c -Ltarget/debug -lsealdb_ffi \
 *      -Wl,-rpath,$PWD/target/debug -o backup
 *   ./backup WORK        (WORK: an empty directory)
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealdb.h"

static void check(int32_t rc, const char *what) {
    if (rc != SEALDB_OK) {
        const char *msg = sealdb_errmsg();
        fprintf(stderr, "backup: %s failed: %s (code %d)\n", what, msg ? msg : "?", rc);
        exit(1);
    }
}

static void expect(int32_t rc, int32_t want, const char *what) {
    if (rc != want) {
        const char *msg = sealdb_errmsg();
        fprintf(stderr, "backup: %s gave %d, expected %d: %s\n", what, rc, want,
                msg ? msg : "");
        exit(1);
    }
    printf("%s: refused as expected (%s)\n", what, sealdb_code_description(rc));
}

static long long count_rows(sealdb_conn *conn) {
    sealdb_stmt *stmt = NULL;
    check(sealdb_prepare(conn, "SELECT count(*) FROM t", &stmt), "prepare");
    if (sealdb_step(stmt) != SEALDB_ROW) check(SEALDB_ERR_MISUSE, "step");
    int64_t n = 0;
    check(sealdb_column_int64(stmt, 0, &n), "column");
    check(sealdb_stmt_free(stmt), "free statement");
    return (long long)n;
}

/* Flips one byte of a data file of `dir`; its name goes to `name`. */
static void tamper(const char *dir, char *name, size_t name_len) {
    DIR *d = opendir(dir);
    if (!d) { perror(dir); exit(1); }
    struct dirent *e;
    name[0] = 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "table-", 6) == 0 || strncmp(e->d_name, "log-", 4) == 0) {
            snprintf(name, name_len, "%s", e->d_name);
            break;
        }
    }
    closedir(d);
    if (!name[0]) { fprintf(stderr, "backup: no data file in %s\n", dir); exit(1); }
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r+b");
    if (!f || fseek(f, 100, SEEK_SET) != 0) { perror(path); exit(1); }
    int c = fgetc(f);
    if (c == EOF || fseek(f, 100, SEEK_SET) != 0 || fputc(c ^ 0x20, f) == EOF) { perror(path); exit(1); }
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s WORK_DIR\n", argv[0]);
        return 2;
    }
    char db_dir[4096], backup_dir[4096], restored[4096], key1[4096], key2[4096], bad[4096];
    snprintf(db_dir, sizeof db_dir, "%s/db", argv[1]);
    snprintf(backup_dir, sizeof backup_dir, "%s/backup", argv[1]);
    snprintf(restored, sizeof restored, "%s/restored", argv[1]);
    snprintf(key1, sizeof key1, "%s/store1.key", argv[1]);
    snprintf(key2, sizeof key2, "%s/store2.key", argv[1]);
    snprintf(bad, sizeof bad, "%s/bad", argv[1]);
    check(sealdb_key_file_generate(key1, 256), "key 1");
    check(sealdb_key_file_generate(key2, 256), "key 2");

    sealdb_db *db = NULL;
    sealdb_conn *conn = NULL;
    check(sealdb_db_open_key_file(db_dir, key1, &db), "open");
    check(sealdb_connect_root(db, &conn), "connect");
    check(sealdb_exec(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"
                            "INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three');"
                            "CREATE USER ann WITH PASSWORD 'ann-pw'"),
          "fill");

    /* A checkpoint: a copy of the store as of now, under the same key. */
    char checkpoint[4096];
    snprintf(checkpoint, sizeof checkpoint, "%s/checkpoint", argv[1]);
    sealdb_checkpoint_report cp;
    check(sealdb_checkpoint(conn, checkpoint, &cp), "checkpoint");
    printf("checkpoint at sequence %llu into %s\n", (unsigned long long)cp.sequence, checkpoint);
    check(sealdb_exec(conn, "INSERT INTO t VALUES (4, 'four')"), "insert after the checkpoint");
    expect(sealdb_checkpoint(conn, checkpoint, NULL), SEALDB_ERR_INVALID_ARGUMENT,
           "a checkpoint into a directory that is not empty");
    {
        sealdb_db *copy = NULL;
        sealdb_conn *cc = NULL;
        check(sealdb_db_open_key_file(checkpoint, key1, &copy), "open the checkpoint");
        check(sealdb_connect_root(copy, &cc), "connect to the checkpoint");
        long long rows = count_rows(cc);
        printf("the checkpoint holds %lld rows (the store now 4)\n", rows);
        if (rows != 3) return 1;
        check(sealdb_conn_free(cc), "free checkpoint connection");
        check(sealdb_db_free(copy), "free checkpoint");
    }
    check(sealdb_exec(conn, "DELETE FROM t WHERE id = 4"), "delete row 4");

    /* The backup: its own key, wrapped by the store key and a passphrase. */
    sealdb_backup_options opts;
    memset(&opts, 0, sizeof opts);
    opts.passphrase = "a passphrase kept apart from the backup";
    opts.kdf_memory_kib = 8; /* cheap for the example; keep the default in real use */
    opts.kdf_iterations = 1;
    opts.threads = 1; /* 0, the default: one per CPU */
    check(sealdb_backup(conn, backup_dir, &opts), "backup");
    printf("backed up into %s\n", backup_dir);
    expect(sealdb_backup(conn, backup_dir, NULL), SEALDB_ERR_INVALID_ARGUMENT,
           "a backup into a directory that is not empty");

    /* Verify: every file checked, without restoring (admins only). */
    sealdb_backup_verify_report report;
    check(sealdb_backup_verify(conn, backup_dir, NULL, &report), "verify");
    printf("verified %u backup(s): %llu files, %llu bytes\n", report.backups,
           (unsigned long long)report.files, (unsigned long long)report.bytes);
    if (report.backups != 1 || report.files == 0) return 1;
    sealdb_conn *ann = NULL;
    check(sealdb_connect(db, "ann", "ann-pw", NULL, NULL, &ann), "connect ann");
    expect(sealdb_backup_verify(ann, backup_dir, NULL, &report), SEALDB_ERR_PERMISSION_DENIED,
           "a verify by a user who is not an admin");
    expect(sealdb_checkpoint(ann, bad, NULL), SEALDB_ERR_PERMISSION_DENIED,
           "a checkpoint by a user who is not an admin");
    expect(sealdb_checkpoint(conn, NULL, NULL), SEALDB_ERR_NULL_ARGUMENT,
           "a checkpoint without a directory");
    check(sealdb_conn_free(ann), "free ann");
    check(sealdb_conn_free(conn), "free connection");
    check(sealdb_db_free(db), "free database");

    /* The restore: under key 2, unlocked with the passphrase. */
    sealdb_restore_options ropts;
    memset(&ropts, 0, sizeof ropts);
    ropts.passphrase = "not it";
    expect(sealdb_restore_key_file(backup_dir, restored, key2, &ropts), SEALDB_ERR_BACKUP_KEY,
           "a restore with a wrong passphrase");
    ropts.passphrase = "a passphrase kept apart from the backup";
    ropts.threads = 2;
    check(sealdb_restore_key_file(backup_dir, restored, key2, &ropts), "restore");
    check(sealdb_db_open_key_file(restored, key2, &db), "open restored");
    check(sealdb_connect_root(db, &conn), "connect restored");
    long long n = count_rows(conn);
    printf("restored %s under another key: %lld rows\n", restored, n);
    if (n != 3) return 1;
    check(sealdb_conn_free(conn), "free connection");
    check(sealdb_db_free(db), "free database");

    /* Bad input. */
    expect(sealdb_restore_key_file(backup_dir, restored, key2, NULL),
           SEALDB_ERR_INVALID_ARGUMENT, "a restore into a store that exists");
    expect(sealdb_restore(backup_dir, bad, NULL, 0, NULL), SEALDB_ERR_NULL_ARGUMENT,
           "a restore without a key");
    expect(sealdb_restore_key_file(NULL, bad, key2, NULL), SEALDB_ERR_NULL_ARGUMENT,
           "a restore without a backup");
    expect(sealdb_backup(NULL, bad, NULL), SEALDB_ERR_NULL_ARGUMENT, "a backup without a connection");
    expect(sealdb_restore_key_file(bad, restored, key2, NULL), SEALDB_ERR_INVALID_ARGUMENT,
           "a restore from no backup");

    /* A tampered backup: verify names the file. */
    char name[256];
    tamper(backup_dir, name, sizeof name);
    check(sealdb_db_open_key_file(db_dir, key1, &db), "reopen");
    check(sealdb_connect_root(db, &conn), "reconnect");
    int32_t rc = sealdb_backup_verify(conn, backup_dir, NULL, NULL);
    const char *msg = sealdb_errmsg();
    if ((rc != SEALDB_ERR_CORRUPTION && rc != SEALDB_ERR_AUTHENTICATION) || !msg ||
        !strstr(msg, name)) {
        fprintf(stderr, "backup: verify of a tampered %s gave %d: %s\n", name, rc, msg ? msg : "");
        return 1;
    }
    printf("a tampered backup: refused as expected (%s)\n", msg);
    check(sealdb_conn_free(conn), "free connection");
    check(sealdb_db_free(db), "free database");
    return 0;
}
