//! Tests of the sqllogictest driver in `tests/slt/runner.rs`, with no SQL
//! engine: a fake [`SltDb`] answers a few fixed SQL strings from tables,
//! and small `.test` texts written to a temporary file exercise each rule
//! the driver copies from SQLite's runner (rendering, sorting, hashing,
//! conditions, halt, counting). The last test parses the real corpus, which
//! needs no engine either.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "slt/runner.rs"]
mod runner;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use runner::{
    format_fixed3, format_real_as_text, hash_line, is_skipped, normalise_script, parse_script,
    render_value, run_file, run_records, run_script, FileOutcome, RunOptions, SltDb, SltValue,
    DEFAULT_HASH_THRESHOLD, ENGINE_NAME,
};
use sqllogictest::{Condition, DefaultColumnType};

use SltValue::{Blob, Integer, Null, Real, Text};

/// An engine that knows only the SQL it was told about. Unknown SQL is an
/// error; the SQL `PANIC` panics. Every call is logged in `ran`.
#[derive(Default)]
struct FakeDb {
    statements: HashMap<String, Result<(), String>>,
    queries: HashMap<String, Result<Vec<Vec<SltValue>>, String>>,
    ran: Vec<String>,
}

impl FakeDb {
    fn new() -> Self {
        Self::default()
    }

    fn ok(mut self, sql: &str) -> Self {
        self.statements.insert(sql.into(), Ok(()));
        self
    }

    fn fails(mut self, sql: &str, error: &str) -> Self {
        self.statements.insert(sql.into(), Err(error.into()));
        self.queries.insert(sql.into(), Err(error.into()));
        self
    }

    fn rows(mut self, sql: &str, rows: Vec<Vec<SltValue>>) -> Self {
        self.queries.insert(sql.into(), Ok(rows));
        self
    }

    fn ran(&self, sql: &str) -> bool {
        self.ran.iter().any(|s| s == sql)
    }
}

impl SltDb for FakeDb {
    fn statement(&mut self, sql: &str) -> Result<(), String> {
        self.ran.push(sql.into());
        if sql == "PANIC" {
            panic!("fake engine asked to panic");
        }
        self.statements
            .get(sql)
            .cloned()
            .unwrap_or_else(|| Err(format!("no such statement: {sql}")))
    }

    fn query(&mut self, sql: &str) -> Result<Vec<Vec<SltValue>>, String> {
        self.ran.push(sql.into());
        if sql == "PANIC" {
            panic!("fake engine asked to panic");
        }
        self.queries
            .get(sql)
            .cloned()
            .unwrap_or_else(|| Err(format!("no such query: {sql}")))
    }
}

/// Writes `script` to a temporary `.test` file and runs it.
fn run_with(script: &str, db: &mut FakeDb, options: &RunOptions) -> FileOutcome {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("case.test");
    std::fs::write(&path, script).unwrap();
    run_file(&path, db, options)
}

fn run(script: &str, db: &mut FakeDb) -> FileOutcome {
    run_with(script, db, &RunOptions::default())
}

fn counts(outcome: &FileOutcome) -> (usize, usize, usize) {
    (outcome.passed, outcome.failed, outcome.skipped)
}

fn column(values: &[i64]) -> Vec<Vec<SltValue>> {
    values.iter().map(|&v| vec![Integer(v)]).collect()
}

#[test]
fn statement_ok_and_error_pass_and_fail() {
    let mut db = FakeDb::new()
        .ok("CREATE TABLE t1(a INTEGER)")
        .fails("CREATE TABLE t1(b INTEGER)", "table t1 already exists")
        .fails("INSERT INTO nowhere VALUES(1)", "no such table: nowhere")
        .ok("DROP TABLE t1");
    let outcome = run(
        "statement ok\nCREATE TABLE t1(a INTEGER)\n\n\
         statement error\nCREATE TABLE t1(b INTEGER)\n\n\
         statement ok\nINSERT INTO nowhere VALUES(1)\n\n\
         statement error\nDROP TABLE t1\n",
        &mut db,
    );
    assert_eq!(counts(&outcome), (2, 2, 0));
    assert_eq!(outcome.failures.len(), 2);
    let first = &outcome.failures[0];
    assert_eq!(first.line, 7);
    assert_eq!(first.sql, "INSERT INTO nowhere VALUES(1)");
    assert_eq!(first.expected, "ok");
    assert_eq!(first.got, "error: no such table: nowhere");
    let second = &outcome.failures[1];
    assert_eq!(second.line, 10);
    assert_eq!(second.expected, "an error");
    assert_eq!(second.got, "ok");
    let shown = second.to_string();
    assert!(shown.contains("line 10: DROP TABLE t1"), "{shown}");
}

#[test]
fn statement_error_with_a_pattern_checks_the_message() {
    let mut db = FakeDb::new()
        .fails("SELECT * FROM a", "no such table: a")
        .fails("SELECT * FROM b", "syntax error");
    let outcome = run(
        "statement error no such table\nSELECT * FROM a\n\n\
         statement error no such table\nSELECT * FROM b\n",
        &mut db,
    );
    assert_eq!(counts(&outcome), (1, 1, 0));
    assert!(outcome.failures[0].expected.contains("no such table"));
}

#[test]
fn multi_line_sql_is_joined_with_newlines() {
    let mut db = FakeDb::new().ok("CREATE TABLE t1(\n  a INTEGER\n)");
    let outcome = run("statement ok\nCREATE TABLE t1(\n  a INTEGER\n)\n", &mut db);
    assert_eq!(counts(&outcome), (1, 0, 0));
}

#[test]
fn integer_columns_render_like_sqlite3_column_int64() {
    let i = |v: SltValue| render_value(&v, 'I');
    assert_eq!(i(Integer(-5)), "-5");
    assert_eq!(i(Integer(i64::MIN)), "-9223372036854775808");
    assert_eq!(i(Real(3.9)), "3");
    assert_eq!(i(Real(-3.9)), "-3");
    assert_eq!(i(Real(1e30)), "9223372036854775807");
    assert_eq!(i(Real(-1e30)), "-9223372036854775808");
    assert_eq!(i(Text("  42xyz".into())), "42");
    assert_eq!(i(Text("-7.5".into())), "-7");
    assert_eq!(i(Text("+8".into())), "8");
    assert_eq!(i(Text("1e5".into())), "1");
    assert_eq!(i(Text("abc".into())), "0");
    assert_eq!(i(Text(String::new())), "0");
    assert_eq!(
        i(Text("99999999999999999999".into())),
        "9223372036854775807"
    );
    assert_eq!(
        i(Text("-99999999999999999999".into())),
        "-9223372036854775808"
    );
    assert_eq!(i(Blob(b"12".to_vec())), "12");
    assert_eq!(i(Null), "NULL");
}

#[test]
fn real_columns_render_like_sqlite_percent_point_3f() {
    let r = |v: SltValue| render_value(&v, 'R');
    assert_eq!(r(Integer(1)), "1.000");
    assert_eq!(r(Integer(-12)), "-12.000");
    assert_eq!(r(Real(2.5)), "2.500");
    assert_eq!(r(Real(1.0 / 3.0)), "0.333");
    assert_eq!(r(Real(2.0 / 3.0)), "0.667");
    // Exact ties round half away from zero, as SQLite's printf does (C's
    // printf would give 0.062).
    assert_eq!(r(Real(0.0625)), "0.063");
    assert_eq!(r(Real(-0.0625)), "-0.063");
    // 1.0005 is stored just below the tie, so it rounds down; 2.0005 just
    // above it.
    assert_eq!(r(Real(1.0005)), "1.000");
    assert_eq!(r(Real(2.0005)), "2.001");
    assert_eq!(r(Real(999.9995)), "1000.000");
    assert_eq!(r(Real(0.0005)), "0.001");
    assert_eq!(r(Real(0.0004)), "0.000");
    assert_eq!(r(Real(-0.0001)), "-0.000");
    assert_eq!(r(Real(-0.0)), "0.000");
    assert_eq!(r(Real(0.0)), "0.000");
    assert_eq!(r(Real(123456789.125)), "123456789.125");
    // At most 16 significant digits, then zeros.
    assert_eq!(r(Real(1e20)), "100000000000000000000.000");
    assert_eq!(r(Real(12345678901234.567)), "12345678901234.570");
    // As evidence/slt_lang_aggfunc.test expects for sum() and total()
    // past the i64 range (SQLite 3.40 printed more digits here).
    assert_eq!(r(Real(-9223372036854775808.0)), "-9223372036854776000.000");
    assert_eq!(
        r(Real(-18446744073709551616.0)),
        "-18446744073709550000.000"
    );
    assert_eq!(r(Text("1.5e2x".into())), "150.000");
    assert_eq!(r(Text(" -.5".into())), "-0.500");
    assert_eq!(r(Text("x".into())), "0.000");
    assert_eq!(r(Text("1e".into())), "1.000");
    assert_eq!(r(Null), "NULL");
    assert_eq!(format_fixed3(f64::INFINITY), "Inf");
}

#[test]
fn text_columns_render_like_sqlite3_column_text() {
    let t = |v: SltValue| render_value(&v, 'T');
    assert_eq!(t(Text("hello world".into())), "hello world");
    assert_eq!(t(Text(String::new())), "(empty)");
    assert_eq!(t(Text("a\tb".into())), "a@b");
    assert_eq!(t(Text("é".into())), "@@");
    assert_eq!(t(Text("a\0b".into())), "a");
    assert_eq!(t(Integer(5)), "5");
    assert_eq!(t(Blob(b"ab".to_vec())), "ab");
    assert_eq!(t(Blob(Vec::new())), "(empty)");
    assert_eq!(t(Null), "NULL");
    assert_eq!(t(Real(1.0)), "1.0");
    assert_eq!(t(Real(-2.5)), "-2.5");
    assert_eq!(t(Real(0.1)), "0.1");
    assert_eq!(t(Real(100.5)), "100.5");
    assert_eq!(t(Real(0.0)), "0.0");
    assert_eq!(t(Real(1.0 / 3.0)), "0.333333333333333");
    assert_eq!(t(Real(2.0 / 3.0)), "0.666666666666667");
    assert_eq!(t(Real(0.0001)), "0.0001");
    assert_eq!(t(Real(1.5e-7)), "1.5e-07");
    assert_eq!(t(Real(1e14)), "100000000000000.0");
    assert_eq!(t(Real(1e15)), "1.0e+15");
    assert_eq!(t(Real(1e20)), "1.0e+20");
    assert_eq!(t(Real(-1.25e100)), "-1.25e+100");
    assert_eq!(format_real_as_text(123456.789), "123456.789");
}

#[test]
fn query_renders_each_column_by_its_type_one_value_per_line() {
    let mut db = FakeDb::new().rows(
        "SELECT a, b, c FROM t",
        vec![
            vec![Integer(1), Real(2.5), Text("hello".into())],
            vec![Null, Null, Text(String::new())],
            vec![Real(7.9), Integer(3), Real(1.0)],
        ],
    );
    let outcome = run(
        "query IRT nosort\nSELECT a, b, c FROM t\n----\n\
         1\n2.500\nhello\nNULL\nNULL\n(empty)\n7\n3.000\n1.0\n",
        &mut db,
    );
    // 9 values are over the threshold of 8, so the file must hash them...
    assert_eq!(counts(&outcome), (0, 1, 0));
    assert!(outcome.failures[0].got.starts_with("9 values hashing to "));

    // ...and with hashing off the listed values match.
    let outcome = run(
        "hash-threshold 0\n\nquery IRT nosort\nSELECT a, b, c FROM t\n----\n\
         1\n2.500\nhello\nNULL\nNULL\n(empty)\n7\n3.000\n1.0\n",
        &mut db,
    );
    assert_eq!(counts(&outcome), (1, 0, 0));
}

#[test]
fn sort_modes_order_rendered_rows_or_values() {
    let rows = vec![
        vec![Integer(3), Text("c".into())],
        vec![Integer(1), Text("a".into())],
        vec![Integer(2), Text("b".into())],
    ];
    let mut db = FakeDb::new()
        .rows("SELECT x, y FROM t", rows)
        .rows("SELECT n FROM u", column(&[9, 10]));
    let outcome = run(
        "query IT nosort\nSELECT x, y FROM t\n----\n3\nc\n1\na\n2\nb\n\n\
         query IT\nSELECT x, y FROM t\n----\n3\nc\n1\na\n2\nb\n\n\
         query IT rowsort\nSELECT x, y FROM t\n----\n1\na\n2\nb\n3\nc\n\n\
         query IT valuesort\nSELECT x, y FROM t\n----\n1\n2\n3\na\nb\nc\n\n\
         query I rowsort\nSELECT n FROM u\n----\n10\n9\n\n\
         query IT nosort\nSELECT x, y FROM t\n----\n1\na\n2\nb\n3\nc\n",
        &mut db,
    );
    // Sorting compares rendered text, so "10" sorts before "9"; the last
    // record expects sorted rows without asking for a sort.
    assert_eq!(counts(&outcome), (5, 1, 0));
    assert_eq!(outcome.failures[0].line, 47);
}

#[test]
fn results_over_the_threshold_compare_as_an_md5_line() {
    assert_eq!(DEFAULT_HASH_THRESHOLD, 8);
    let one_to_nine: Vec<String> = (1..=9).map(|i| i.to_string()).collect();
    assert_eq!(
        hash_line(&one_to_nine),
        "9 values hashing to 22e400a2ddbb013acf2a5852d6ab69fc"
    );
    let mut db = FakeDb::new()
        .rows("SELECT nine", column(&[9, 8, 7, 6, 5, 4, 3, 2, 1]))
        .rows("SELECT eight", column(&[1, 2, 3, 4, 5, 6, 7, 8]))
        .rows(
            "SELECT abc",
            vec![vec![Text("a".into()), Text("b".into()), Text("c".into())]],
        );
    let outcome = run(
        "query I rowsort\nSELECT nine\n----\n9 values hashing to 22e400a2ddbb013acf2a5852d6ab69fc\n\n\
         query I nosort\nSELECT eight\n----\n1\n2\n3\n4\n5\n6\n7\n8\n\n\
         query I nosort\nSELECT nine\n----\n9 values hashing to 22e400a2ddbb013acf2a5852d6ab69fc\n\n\
         hash-threshold 2\n\n\
         query TTT\nSELECT abc\n----\n3 values hashing to 40c53c58fdafacc83cfff6ee3d2f6d69\n\n\
         hash-threshold 0\n\n\
         query I rowsort\nSELECT nine\n----\n1\n2\n3\n4\n5\n6\n7\n8\n9\n",
        &mut db,
    );
    // The unsorted nine values hash differently.
    assert_eq!(counts(&outcome), (4, 1, 0));
    assert_eq!(outcome.failures[0].line, 18);
    assert!(outcome.failures[0].got.starts_with("9 values hashing to "));
}

#[test]
fn skipif_and_onlyif_with_trailing_comments() {
    let mut db = FakeDb::new()
        .rows("SELECT 1", column(&[1]))
        .ok("CREATE TABLE t1(a)")
        .ok("CREATE TABLE t2(a)");
    let outcome = run(
        "skipif mysql # not compatible\nquery I rowsort\nSELECT 1\n----\n1\n\n\
         onlyif mysql # aggregate syntax: \nquery I rowsort\nSELECT mysql_only\n----\n1\n\n\
         skipif sqlite # not for us\nstatement ok\nCREATE sqlite_breaks\n\n\
         onlyif sqlite # empty RHS\nstatement ok\nCREATE TABLE t1(a)\n\n\
         skipif postgresql # PostgreSQL requires AS\nskipif mysql # two conditions\n\
         query I\nSELECT 1\n----\n1\n\n\
         onlyif SQLite\nstatement ok\nCREATE TABLE t2(a)\n\n\
         onlyif mssql  # this is allowed\nskipif mysql\nstatement ok\nCREATE mssql_only\n",
        &mut db,
    );
    assert_eq!(counts(&outcome), (4, 0, 3));
    assert!(!db.ran("SELECT mysql_only"));
    assert!(!db.ran("CREATE sqlite_breaks"));
    assert!(!db.ran("CREATE mssql_only"));
    assert!(db.ran("CREATE TABLE t2(a)"));
}

#[test]
fn the_crate_parser_alone_rejects_a_trailing_comment_after_skipif() {
    // Why normalise_script exists; if a later crate accepts this, the
    // clean-up can go.
    let raw = "skipif mysql # not compatible\nstatement ok\nSELECT 1\n";
    assert!(sqllogictest::parse::<DefaultColumnType>(raw).is_err());
    let (clean, line_map) = normalise_script(raw);
    assert_eq!(clean, "skipif mysql\nstatement ok\nSELECT 1\n");
    assert_eq!(line_map, vec![1, 2, 3]);
    assert!(sqllogictest::parse::<DefaultColumnType>(&clean).is_ok());
}

#[test]
fn conditions_compare_with_the_engine_name() {
    assert_eq!(ENGINE_NAME, "sqlite");
    let only = |l: &str| Condition::OnlyIf { label: l.into() };
    let skip = |l: &str| Condition::SkipIf { label: l.into() };
    assert!(!is_skipped(&[]));
    assert!(!is_skipped(&[only("sqlite")]));
    assert!(is_skipped(&[only("mysql")]));
    assert!(is_skipped(&[skip("sqlite")]));
    assert!(!is_skipped(&[skip("mysql"), skip("mssql")]));
    assert!(is_skipped(&[skip("mysql"), only("oracle")]));
}

#[test]
fn halt_under_a_condition_that_does_not_apply_is_skipped() {
    let mut db = FakeDb::new().ok("CREATE TABLE t1(a)");
    let outcome = run(
        "# skip this entire file if ms sql server\nonlyif mssql\nhalt\n\n\
         # skip this entire file if oracle\nonlyif oracle\nhalt\n\n\
         skipif sqlite\nhalt\n\n\
         statement ok\nCREATE TABLE t1(a)\n",
        &mut db,
    );
    // The statement after the guarded halts runs: neither halt applies,
    // and their conditions do not leak onto it.
    assert_eq!(counts(&outcome), (1, 0, 0));
    assert_eq!(outcome.halted_at, None);
    assert!(db.ran("CREATE TABLE t1(a)"));
}

#[test]
fn plain_halt_stops_the_file() {
    let mut db = FakeDb::new().ok("CREATE TABLE t1(a)").ok("NEVER RUN");
    let outcome = run("onlyif sqlite\nhalt\n\nstatement ok\nNEVER RUN\n", &mut db);
    assert_eq!(counts(&outcome), (0, 0, 0));
    assert_eq!(outcome.halted_at, Some(2));

    let mut db = FakeDb::new().ok("CREATE TABLE t1(a)").ok("NEVER RUN");
    let outcome = run(
        "statement ok\nCREATE TABLE t1(a)\n\nhalt\n\nstatement ok\nNEVER RUN\n\n\
         query I\nSELECT 1\n----\n1\n",
        &mut db,
    );
    assert_eq!(counts(&outcome), (1, 0, 0));
    assert_eq!(outcome.halted_at, Some(4));
    assert!(!db.ran("NEVER RUN"));
}

#[test]
fn query_error_passes_when_the_engine_fails() {
    let mut db = FakeDb::new()
        .fails("SELECT broken", "no such column: broken")
        .rows("SELECT 1", column(&[1]));
    let outcome = run(
        "query error\nSELECT broken\n\n\
         query error no such column\nSELECT broken\n\n\
         query error\nSELECT 1\n\n\
         query I\nSELECT broken\n----\n1\n",
        &mut db,
    );
    assert_eq!(counts(&outcome), (2, 2, 0));
    assert_eq!(outcome.failures[0].got, "1 rows");
    assert_eq!(outcome.failures[1].got, "error: no such column: broken");
}

#[test]
fn wrong_width_missing_rows_and_extra_rows_fail() {
    let mut db = FakeDb::new()
        .rows("SELECT a", column(&[1, 2]))
        .rows("SELECT none", Vec::new());
    let outcome = run(
        "query II\nSELECT a\n----\n1\n2\n\n\
         query I\nSELECT a\n----\n1\n\n\
         query I\nSELECT a\n----\n1\n2\n3\n\n\
         query I\nSELECT none\n----\n\n\
         query I\nSELECT none\n\n\
         query I\nSELECT a\n----\n1\n2\n",
        &mut db,
    );
    assert_eq!(counts(&outcome), (3, 3, 0));
    assert!(outcome.failures[0].got.contains("a row of 1 columns"));
}

#[test]
fn comment_and_blank_looking_lines_follow_sqlite() {
    let mut db = FakeDb::new()
        .rows("SELECT 1", column(&[1]))
        .rows("SELECT 2", column(&[2]));
    // A `#` line inside a record is skipped (the SQL is just `SELECT 1`),
    // and a line of spaces ends a record like an empty one.
    let outcome = run(
        "query I nosort\nSELECT 1\n# a comment inside the record\n----\n1\n   \n\
         query I nosort\nSELECT 2\n----\n2\n",
        &mut db,
    );
    assert_eq!(counts(&outcome), (2, 0, 0));
    assert_eq!(db.ran, vec!["SELECT 1".to_string(), "SELECT 2".to_string()]);
}

#[test]
fn failure_lines_point_into_the_original_file() {
    let mut db = FakeDb::new();
    let outcome = run(
        "# one\n# two\n\nskipif mysql # three\nstatement ok\nMISSING\n",
        &mut db,
    );
    assert_eq!(counts(&outcome), (0, 1, 0));
    assert_eq!(outcome.failures[0].line, 5);
}

#[test]
fn counts_cover_every_statement_and_query() {
    let mut db = FakeDb::new()
        .ok("CREATE TABLE t1(a)")
        .rows("SELECT a FROM t1", column(&[1]));
    let script = "hash-threshold 8\n\n\
        statement ok\nCREATE TABLE t1(a)\n\n\
        query I rowsort label-1\nSELECT a FROM t1\n----\n1\n\n\
        query I rowsort label-1\nSELECT a FROM t1\n----\n2\n\n\
        onlyif mysql # not here\nquery I rowsort label-1\nSELECT a FROM t1\n----\n1\n\n\
        skipif mysql\nstatement ok\nDROP TABLE nothing\n";
    let outcome = run_script(script, "inline", &mut db, &RunOptions::default());
    assert_eq!(counts(&outcome), (2, 2, 1));
    let records = parse_script(script, "inline").unwrap();
    let again = run_records(&records, &mut db, &RunOptions::default());
    assert_eq!(counts(&again), counts(&outcome));
}

#[test]
fn only_the_first_few_failures_keep_details() {
    let mut db = FakeDb::new();
    let script = "statement ok\nX\n\n".repeat(7);
    let outcome = run(&script, &mut db);
    assert_eq!(counts(&outcome), (0, 7, 0));
    assert_eq!(
        outcome.failures.len(),
        RunOptions::default().max_failures_kept
    );
    let options = RunOptions {
        max_failures_kept: 1,
        ..RunOptions::default()
    };
    assert_eq!(run_with(&script, &mut db, &options).failures.len(), 1);
}

#[test]
fn records_after_the_deadline_count_as_failed() {
    let mut db = FakeDb::new().ok("CREATE TABLE t1(a)");
    let options = RunOptions {
        deadline: Some(Instant::now()),
        ..RunOptions::default()
    };
    let outcome = run_with(
        "statement ok\nCREATE TABLE t1(a)\n\n\
         onlyif mysql\nstatement ok\nCREATE TABLE t1(a)\n\n\
         query I\nSELECT 1\n----\n1\n",
        &mut db,
        &options,
    );
    assert_eq!(counts(&outcome), (0, 2, 1));
    assert_eq!(outcome.timed_out_at, Some(1));
    assert!(db.ran.is_empty());
    assert!(outcome.failures[0].got.contains("time limit"));
}

#[test]
fn an_engine_panic_fails_one_record_and_the_file_goes_on() {
    let mut db = FakeDb::new().ok("CREATE TABLE t1(a)");
    let outcome = run(
        "statement ok\nPANIC\n\nquery I\nPANIC\n----\n1\n\nstatement ok\nCREATE TABLE t1(a)\n",
        &mut db,
    );
    assert_eq!(counts(&outcome), (1, 2, 0));
    assert!(outcome.failures[0]
        .got
        .contains("engine panicked: fake engine asked to panic"));
}

#[test]
fn a_file_that_does_not_parse_counts_its_records_as_failed() {
    let mut db = FakeDb::new();
    let outcome = run(
        "statement ok\nCREATE TABLE t1(a)\n\nstatement perhaps\nSELECT 1\n\nquery I\nSELECT 1\n",
        &mut db,
    );
    assert_eq!(counts(&outcome), (0, 3, 0));
    let error = outcome.file_error.unwrap();
    assert!(error.contains(":4:"), "{error}");
    assert!(db.ran.is_empty());

    let missing = run_file(
        Path::new("/nonexistent/dir/x.test"),
        &mut db,
        &RunOptions::default(),
    );
    assert!(missing.file_error.is_some());
    assert_eq!(missing.failed, 1);
}

#[test]
fn unsupported_record_kinds_fail_unless_skipped() {
    let mut db = FakeDb::new();
    let outcome = run(
        "system ok\necho hi\n\nonlyif mysql\nsystem ok\necho hi\n",
        &mut db,
    );
    assert_eq!(counts(&outcome), (0, 1, 1));
    assert!(outcome.failures[0].got.contains("unsupported record"));
}

/// Every `.test` file under `path`, sorted.
fn test_files(path: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            test_files(&entry, out);
        } else if entry.extension().is_some_and(|e| e == "test") {
            out.push(entry);
        }
    }
}

/// The corpus parses: every file, with no engine. Counts the statements
/// and queries the conformance run will see.
#[test]
fn the_corpus_parses() {
    let dir = std::env::var_os("SEALDB_SLT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt/corpus"));
    if !dir.is_dir() {
        panic!(
            "no sqllogictest corpus at {} (it is vendored in tests/slt/corpus)",
            dir.display()
        );
    }
    let mut files = Vec::new();
    test_files(&dir, &mut files);
    let mut errors = Vec::new();
    let mut sql_records = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        match parse_script(&text, &file.display().to_string()) {
            Ok(records) => {
                sql_records += records
                    .iter()
                    .filter(|(_, r)| {
                        matches!(
                            r,
                            sqllogictest::Record::Statement { .. }
                                | sqllogictest::Record::Query { .. }
                        )
                    })
                    .count();
            }
            Err(e) => errors.push(e),
        }
    }
    eprintln!(
        "{} files, {sql_records} statements and queries, {} parse errors",
        files.len(),
        errors.len()
    );
    assert!(errors.is_empty(), "{errors:#?}");
}
