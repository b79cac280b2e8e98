//! The sqllogictest record driver: reads one `.test` file, runs its records
//! against anything that implements [`SltDb`], and counts what passed.
//!
//! It reproduces SQLite's own runner (`sqllogictest.c` with `slt_sqlite.c`),
//! because the corpus under `tests/slt/corpus` holds SQLite's answers, and
//! it parses with the `sqllogictest` crate after a small clean-up pass:
//!
//! ```text
//!   .test text ──► normalise_script ──► sqllogictest::parse ──► records
//!                  (drop `#` lines,       (crate parser)          │
//!                   blank out spaces,                             ▼
//!                   cut `skipif x # ..`)             run_records: conditions,
//!                                                    halt, hash-threshold,
//!                                                    statement, query
//!                                                                 │
//!      SltDb::statement / SltDb::query ◄──────────────────────────┘
//!                    │
//!                    ▼  render_value(value, type char)  ──►  sort  ──►  values
//!                       or "N values hashing to <md5>"  ──►  compare with file
//! ```
//!
//! Why the records are driven here and not by `sqllogictest::Runner`:
//! - the crate rejects a trailing `# comment` after `skipif x`/`onlyif x`
//!   (SQLite reads only the first two tokens), so those lines are cut;
//! - the crate honours `halt` even when `onlyif mssql` guards it, and a
//!   condition before a `halt` leaks onto the next statement; here the
//!   conditions are tracked from the `Condition` records themselves and
//!   apply to exactly the next record, whatever it is;
//! - SQLite skips `#` lines anywhere, also inside a record, and treats a line
//!   of spaces as blank; the crate does neither.
//!
//! Rules kept from SQLite's runner, which define "pass":
//! - engine name `sqlite`: `onlyif sqlite` runs, `skipif sqlite` and
//!   `onlyif <other>` skip (names compare case-insensitively);
//! - every value is one line (value-wise), rendered by its column's type
//!   character: `I` as `%lld` of `sqlite3_column_int64`, `R` as `%.3f` of
//!   `sqlite3_column_double`, `T` as `sqlite3_column_text` with bytes outside
//!   `' '..='~'` shown as `@` and the empty string as `(empty)`; NULL is
//!   `NULL` in every column type;
//! - `rowsort` sorts rows and `valuesort` sorts single values, both by the
//!   rendered bytes; `nosort` (the default) keeps the engine's order;
//! - with more values than the hash threshold (8 unless a `hash-threshold N`
//!   record says otherwise; 0 turns hashing off), the result is the one line
//!   `N values hashing to <md5>`, the MD5 of every value followed by `\n`;
//! - `statement error` and `query error` pass when the engine returns `Err`
//!   (and the error text matches the regex, if the record gives one).
//!
//! Deliberate differences, all stricter or no-ops for this corpus: the
//! number of values must equal the number of expected lines (SQLite stops
//! at the shorter); a row whose width differs from the type string fails;
//! result labels (`label-N`) are not cross-checked, because a query that
//! matches its expected values already agrees with every other query of its
//! label; `statement count N` is checked as `statement ok` (the trait reports
//! no row counts).
//!
//! Counting: every `statement` and `query` record is exactly one of passed,
//! failed (also: a wrong answer, an engine panic, a record left when the file
//! hit its time limit, an unsupported record kind) or skipped (by a
//! condition). Records after a `halt` that applies are not counted at all.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;

use md5::{Digest, Md5};
use sqllogictest::{
    Condition, Control, DefaultColumnType, ExpectedError, QueryExpect, Record, SortMode,
    StatementExpect,
};

/// The engine name that `skipif`/`onlyif` conditions are compared with.
pub const ENGINE_NAME: &str = "sqlite";

/// The hash threshold in force before any `hash-threshold` record.
pub const DEFAULT_HASH_THRESHOLD: usize = 8;

/// A value returned by the engine under test; the engine's own value type
/// maps onto it one to one.
#[derive(Debug, Clone, PartialEq)]
pub enum SltValue {
    /// SQL NULL.
    Null,
    /// A 64-bit signed integer.
    Integer(i64),
    /// An IEEE-754 double.
    Real(f64),
    /// A UTF-8 string.
    Text(String),
    /// A byte string.
    Blob(Vec<u8>),
}

/// The database under test, as the driver sees it.
pub trait SltDb {
    /// Runs a statement whose result rows, if any, are not checked.
    fn statement(&mut self, sql: &str) -> Result<(), String>;
    /// Runs a query and returns all its rows.
    fn query(&mut self, sql: &str) -> Result<Vec<Vec<SltValue>>, String>;
}

/// How to run one file.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// When this instant has passed, every remaining statement and query of
    /// the file counts as failed without being run. It is checked between
    /// records, so one record that never returns is not interrupted.
    pub deadline: Option<Instant>,
    /// How many failures keep their details in [`FileOutcome::failures`].
    pub max_failures_kept: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            deadline: None,
            max_failures_kept: 5,
        }
    }
}

/// One record that failed: where, what ran, what the file expected, and
/// what the engine gave.
#[derive(Debug, Clone, PartialEq)]
pub struct SltFailure {
    /// 1-based line of the record's first line in the original file.
    pub line: usize,
    /// The SQL text of the record (empty for a non-SQL reason).
    pub sql: String,
    /// The expected outcome, one value per line.
    pub expected: String,
    /// The engine's outcome, rendered like `expected`.
    pub got: String,
}

impl fmt::Display for SltFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "line {}: {}", self.line, one_line(&self.sql, 160))?;
        writeln!(f, "  expected: {}", one_line(&self.expected, 240))?;
        write!(f, "  got:      {}", one_line(&self.got, 240))
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileOutcome {
    /// Statements and queries whose outcome matched.
    pub passed: usize,
    /// Statements and queries that did not match, could not run, or were
    /// left when the time limit hit.
    pub failed: usize,
    /// Statements and queries skipped by `skipif`/`onlyif`.
    pub skipped: usize,
    /// The first few failures, in file order.
    pub failures: Vec<SltFailure>,
    /// The line of the `halt` record that stopped the file, if one did.
    pub halted_at: Option<usize>,
    /// The line of the first record not run because the deadline had passed.
    pub timed_out_at: Option<usize>,
    /// Why the file could not run at all: it could not be read or parsed
    /// (then `failed` counts its lines that start a statement or a query),
    /// or, when a caller sets it, the database could not be opened.
    pub file_error: Option<String>,
}

impl FileOutcome {
    fn fail(&mut self, keep: usize, failure: SltFailure) {
        self.failed += 1;
        if self.failures.len() < keep {
            self.failures.push(failure);
        }
    }
}

/// Reads `path` and runs it against `db`. A file that cannot be read or
/// parsed yields an outcome with [`FileOutcome::file_error`] set.
pub fn run_file(path: &Path, db: &mut dyn SltDb, options: &RunOptions) -> FileOutcome {
    match std::fs::read_to_string(path) {
        Ok(script) => run_script(&script, &path.display().to_string(), db, options),
        Err(e) => FileOutcome {
            file_error: Some(format!("cannot read {}: {e}", path.display())),
            failed: 1,
            ..FileOutcome::default()
        },
    }
}

/// Runs the text of a `.test` file against `db`; `name` appears in parse
/// errors.
pub fn run_script(
    script: &str,
    name: &str,
    db: &mut dyn SltDb,
    options: &RunOptions,
) -> FileOutcome {
    match parse_script(script, name) {
        Ok(records) => run_records(&records, db, options),
        Err(e) => FileOutcome {
            failed: count_sql_records(script).max(1),
            file_error: Some(e),
            ..FileOutcome::default()
        },
    }
}

/// A parsed record with the line it starts on in the original file.
pub type LocatedRecord = (usize, Record<DefaultColumnType>);

/// Parses the text of a `.test` file into records, each with the 1-based
/// line of the original text it starts on (0 for records without one).
pub fn parse_script(script: &str, name: &str) -> Result<Vec<LocatedRecord>, String> {
    let (text, line_map) = normalise_script(script);
    let records = sqllogictest::parse_with_name::<DefaultColumnType>(&text, name).map_err(|e| {
        let original = original_line(&line_map, e.location().line() as usize);
        format!("{name}:{original}: {}", e.kind())
    })?;
    Ok(records
        .into_iter()
        .map(|r| (original_line(&line_map, record_line(&r)), r))
        .collect())
}

/// Rewrites the text the way SQLite's runner reads it, so that the crate's
/// parser sees the same records: `#` comment lines go (anywhere, as SQLite
/// skips them even inside a record), lines of only spaces become empty, and
/// `skipif`/`onlyif` lines keep only their first two tokens. Returns the new
/// text and, for each of its lines, the 1-based line it came from.
pub fn normalise_script(script: &str) -> (String, Vec<usize>) {
    let mut text = String::with_capacity(script.len());
    let mut line_map = Vec::new();
    for (index, line) in script.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('#') {
            continue;
        }
        let mut tokens = line.split_whitespace();
        match tokens.next() {
            None => {}
            Some(word @ ("skipif" | "onlyif")) => {
                text.push_str(word);
                if let Some(label) = tokens.next() {
                    text.push(' ');
                    text.push_str(label);
                }
            }
            Some(_) => text.push_str(line),
        }
        text.push('\n');
        line_map.push(index + 1);
    }
    (text, line_map)
}

fn original_line(line_map: &[usize], line: usize) -> usize {
    match line {
        0 => 0,
        n => line_map.get(n - 1).copied().unwrap_or(n),
    }
}

fn record_line(record: &Record<DefaultColumnType>) -> usize {
    match record {
        Record::Statement { loc, .. }
        | Record::Query { loc, .. }
        | Record::Halt { loc }
        | Record::HashThreshold { loc, .. }
        | Record::Include { loc, .. }
        | Record::System { loc, .. }
        | Record::Let { loc, .. }
        | Record::Sleep { loc, .. }
        | Record::Subtest { loc, .. } => loc.line() as usize,
        _ => 0,
    }
}

/// Lines that start a statement or a query record; used to weigh a file
/// that does not parse.
fn count_sql_records(script: &str) -> usize {
    script
        .lines()
        .filter(|l| matches!(l.split_whitespace().next(), Some("statement" | "query")))
        .count()
}

/// Whether a record guarded by `conditions` is skipped for [`ENGINE_NAME`].
pub fn is_skipped(conditions: &[Condition]) -> bool {
    conditions.iter().any(|c| match c {
        Condition::OnlyIf { label } => !label.eq_ignore_ascii_case(ENGINE_NAME),
        Condition::SkipIf { label } => label.eq_ignore_ascii_case(ENGINE_NAME),
    })
}

/// Runs parsed records against `db`.
pub fn run_records(
    records: &[LocatedRecord],
    db: &mut dyn SltDb,
    options: &RunOptions,
) -> FileOutcome {
    let keep = options.max_failures_kept;
    let mut outcome = FileOutcome::default();
    let mut pending: Vec<Condition> = Vec::new();
    let mut threshold = DEFAULT_HASH_THRESHOLD;
    let mut default_sort: Option<SortMode> = None;

    for (line, record) in records {
        let line = *line;
        match record {
            Record::Condition(condition) => {
                pending.push(condition.clone());
                continue;
            }
            // Comments were removed before parsing; a blank line ends the
            // reach of any condition before it.
            Record::Comment(_) => continue,
            Record::Newline => {
                pending.clear();
                continue;
            }
            _ => {}
        }
        let skip = is_skipped(&std::mem::take(&mut pending));
        match record {
            Record::Halt { .. } if !skip => {
                outcome.halted_at = Some(line);
                break;
            }
            Record::HashThreshold { threshold: t, .. } if !skip => {
                threshold = usize::try_from(*t).unwrap_or(usize::MAX);
            }
            Record::Control(Control::SortMode(mode)) => default_sort = Some(*mode),
            Record::Statement { sql, expected, .. } => {
                if skip {
                    outcome.skipped += 1;
                } else if past_deadline(options, &mut outcome, line) {
                    outcome.fail(keep, timeout_failure(line, sql));
                } else {
                    match run_statement(db, sql, expected) {
                        Ok(()) => outcome.passed += 1,
                        Err((expected, got)) => outcome.fail(
                            keep,
                            SltFailure {
                                line,
                                sql: sql.clone(),
                                expected,
                                got,
                            },
                        ),
                    }
                }
            }
            Record::Query { sql, expected, .. } => {
                if skip {
                    outcome.skipped += 1;
                } else if past_deadline(options, &mut outcome, line) {
                    outcome.fail(keep, timeout_failure(line, sql));
                } else {
                    match run_query(db, sql, expected, default_sort, threshold) {
                        Ok(()) => outcome.passed += 1,
                        Err((expected, got)) => outcome.fail(
                            keep,
                            SltFailure {
                                line,
                                sql: sql.clone(),
                                expected,
                                got,
                            },
                        ),
                    }
                }
            }
            Record::Include { .. } | Record::System { .. } | Record::Let { .. } => {
                if skip {
                    outcome.skipped += 1;
                } else {
                    outcome.fail(
                        keep,
                        SltFailure {
                            line,
                            sql: String::new(),
                            expected: "a statement or query record".into(),
                            got: format!("unsupported record: {}", first_line(record)),
                        },
                    );
                }
            }
            // Skipped halts and thresholds, other controls, sleeps,
            // subtests, connections: nothing to do for a single-connection
            // SQLite-format corpus.
            _ => {}
        }
    }
    outcome
}

fn past_deadline(options: &RunOptions, outcome: &mut FileOutcome, line: usize) -> bool {
    let past = options.deadline.is_some_and(|d| Instant::now() >= d);
    if past && outcome.timed_out_at.is_none() {
        outcome.timed_out_at = Some(line);
    }
    past
}

fn timeout_failure(line: usize, sql: &str) -> SltFailure {
    SltFailure {
        line,
        sql: sql.to_string(),
        expected: "to run before the file's time limit".into(),
        got: "not run: time limit reached".into(),
    }
}

fn first_line(record: &Record<DefaultColumnType>) -> String {
    record.to_string().lines().next().unwrap_or("").to_string()
}

/// Calls into the engine; a panic becomes an error string so that one bad
/// record does not end the run.
fn guarded<T>(call: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".into());
            Err(format!("engine panicked: {message}"))
        }
    }
}

/// A mismatch: (expected, got).
type Mismatch = (String, String);

fn run_statement(
    db: &mut dyn SltDb,
    sql: &str,
    expected: &StatementExpect,
) -> Result<(), Mismatch> {
    let result = guarded(|| db.statement(sql));
    match (expected, result) {
        (StatementExpect::Ok | StatementExpect::Count(_), Ok(())) => Ok(()),
        (StatementExpect::Ok | StatementExpect::Count(_), Err(e)) => {
            Err(("ok".into(), format!("error: {e}")))
        }
        (StatementExpect::Error(want), Err(e)) => check_error(want, &e),
        (StatementExpect::Error(want), Ok(())) => Err((describe_error(want), "ok".into())),
    }
}

fn check_error(want: &ExpectedError, got: &str) -> Result<(), Mismatch> {
    if want.is_match(got, None) {
        Ok(())
    } else {
        Err((describe_error(want), format!("error: {got}")))
    }
}

fn describe_error(want: &ExpectedError) -> String {
    match want {
        ExpectedError::Empty => "an error".into(),
        other => format!("an error matching {other}"),
    }
}

fn run_query(
    db: &mut dyn SltDb,
    sql: &str,
    expected: &QueryExpect<DefaultColumnType>,
    default_sort: Option<SortMode>,
    threshold: usize,
) -> Result<(), Mismatch> {
    let (types, sort_mode, results) = match expected {
        QueryExpect::Error(want) => {
            return match guarded(|| db.query(sql)) {
                Err(e) => check_error(want, &e),
                Ok(rows) => Err((describe_error(want), format!("{} rows", rows.len()))),
            };
        }
        QueryExpect::Results {
            types,
            sort_mode,
            results,
            ..
        } => (types, sort_mode.or(default_sort), results),
    };
    let expected_text = || results.join("\n");
    let mut type_chars = String::with_capacity(types.len());
    for t in types {
        match t {
            DefaultColumnType::Integer => type_chars.push('I'),
            DefaultColumnType::FloatingPoint => type_chars.push('R'),
            DefaultColumnType::Text => type_chars.push('T'),
            DefaultColumnType::Any => {
                return Err((
                    expected_text(),
                    "not run: the type string may hold only T, I and R".into(),
                ))
            }
        }
    }
    if type_chars.is_empty() {
        return Err((expected_text(), "not run: missing type string".into()));
    }

    let rows = guarded(|| db.query(sql)).map_err(|e| (expected_text(), format!("error: {e}")))?;
    let width = type_chars.len();
    if let Some(row) = rows.iter().find(|r| r.len() != width) {
        return Err((
            expected_text(),
            format!(
                "a row of {} columns for type string {type_chars}",
                row.len()
            ),
        ));
    }
    let mut rendered: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .zip(type_chars.chars())
                .map(|(v, t)| render_value(v, t))
                .collect()
        })
        .collect();
    let values: Vec<String> = match sort_mode {
        None | Some(SortMode::NoSort) => rendered.into_iter().flatten().collect(),
        Some(SortMode::RowSort) => {
            rendered.sort();
            rendered.into_iter().flatten().collect()
        }
        Some(SortMode::ValueSort) => {
            let mut flat: Vec<String> = rendered.into_iter().flatten().collect();
            flat.sort();
            flat
        }
    };
    let got = if threshold > 0 && values.len() > threshold {
        vec![hash_line(&values)]
    } else {
        values
    };
    if got == *results {
        Ok(())
    } else {
        Err((expected_text(), got.join("\n")))
    }
}

/// `N values hashing to <md5>`: the MD5 of each value followed by `\n`.
pub fn hash_line(values: &[String]) -> String {
    let mut md5 = Md5::new();
    for v in values {
        md5.update(v.as_bytes());
        md5.update(b"\n");
    }
    format!("{} values hashing to {:x}", values.len(), md5.finalize())
}

/// Renders one value for a column of type `I`, `R` or `T` as SQLite's
/// runner does. NULL is `NULL` whatever the type.
pub fn render_value(value: &SltValue, column_type: char) -> String {
    match (value, column_type) {
        (SltValue::Null, _) => "NULL".into(),
        (v, 'I') => as_integer(v).to_string(),
        (v, 'R') => format_fixed3(as_real(v)),
        (v, _) => render_text(v),
    }
}

/// `sqlite3_column_int64`: a REAL truncates toward zero (saturating), a
/// TEXT or BLOB takes its leading integer like `sqlite3Atoi64`.
fn as_integer(value: &SltValue) -> i64 {
    match value {
        SltValue::Null => 0,
        SltValue::Integer(i) => *i,
        // `as` saturates at the i64 bounds and maps NaN to 0, as SQLite's
        // doubleToInt64 does for the bounds.
        SltValue::Real(r) => *r as i64,
        SltValue::Text(s) => leading_integer(s.as_bytes()),
        SltValue::Blob(b) => leading_integer(b),
    }
}

/// `sqlite3_column_double`: a TEXT or BLOB takes its leading number like
/// `sqlite3AtoF`, 0.0 when there is none.
fn as_real(value: &SltValue) -> f64 {
    match value {
        SltValue::Null => 0.0,
        SltValue::Integer(i) => *i as f64,
        SltValue::Real(r) => *r,
        SltValue::Text(s) => leading_real(s.as_bytes()),
        SltValue::Blob(b) => leading_real(b),
    }
}

/// SQLite's isspace: space, \t, \n, \v, \f, \r.
fn is_sqlite_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn leading_integer(bytes: &[u8]) -> i64 {
    let mut i = 0;
    while i < bytes.len() && is_sqlite_space(bytes[i]) {
        i += 1;
    }
    let negative = match bytes.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut magnitude: u128 = 0;
    while let Some(d) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
        magnitude = (magnitude * 10 + u128::from(d - b'0')).min(1 << 64);
        i += 1;
    }
    let signed = if negative {
        -(magnitude as i128)
    } else {
        magnitude as i128
    };
    signed.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn leading_real(bytes: &[u8]) -> f64 {
    let mut i = 0;
    while i < bytes.len() && is_sqlite_space(bytes[i]) {
        i += 1;
    }
    let start = i;
    if matches!(bytes.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let from = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - from
    };
    let mut mantissa_digits = digits(&mut i);
    if bytes.get(i) == Some(&b'.') {
        let mut j = i + 1;
        let fraction_digits = digits(&mut j);
        if mantissa_digits + fraction_digits > 0 {
            i = j;
            mantissa_digits += fraction_digits;
        }
    }
    if mantissa_digits == 0 {
        return 0.0;
    }
    let mut end = i;
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if digits(&mut j) > 0 {
            end = j;
        }
    }
    std::str::from_utf8(&bytes[start..end])
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// `sqlite3_column_text`: control and non-ASCII bytes become `@` (byte by
/// byte, as the C runner does), text ends at a NUL byte, and the empty
/// string is `(empty)`.
fn render_text(value: &SltValue) -> String {
    let bytes: Vec<u8> = match value {
        SltValue::Null => return "NULL".into(),
        SltValue::Integer(i) => return i.to_string(),
        SltValue::Real(r) => return format_real_as_text(*r),
        SltValue::Text(s) => s.as_bytes().to_vec(),
        SltValue::Blob(b) => b.clone(),
    };
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    if end == 0 {
        return "(empty)".into();
    }
    bytes[..end]
        .iter()
        .map(|&b| {
            if (b' '..=b'~').contains(&b) {
                b as char
            } else {
                '@'
            }
        })
        .collect()
}

/// A positive finite double as significant decimal digits (ASCII) and the
/// position of the decimal point: value = 0.d1d2d3... × 10^point. Like
/// SQLite's `sqlite3FpDecode`, which works from about 19 digits.
fn decimal_digits(r: f64) -> (Vec<u8>, i32) {
    let text = format!("{r:.18e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    (digits, exponent + 1)
}

/// SQLite's `sqlite3FpDecode` rounding: with `round_to <= 0`, keep
/// `-round_to` digits after the decimal point; otherwise keep `round_to`
/// significant digits; never more than `max_digits`. Rounds half up and
/// drops trailing zeros.
fn round_digits(digits: &mut Vec<u8>, point: &mut i32, round_to: i32, max_digits: i32) {
    let mut keep = round_to;
    if keep <= 0 {
        keep = *point - round_to;
        if keep == 0 && digits.first().is_some_and(|&d| d >= b'5') {
            digits.insert(0, b'0');
            *point += 1;
            keep = 1;
        }
    }
    let n = digits.len() as i32;
    if keep > 0 && (keep < n || n > max_digits) {
        let keep = keep.min(max_digits) as usize;
        let round_up = digits.get(keep).is_some_and(|&d| d >= b'5');
        digits.truncate(keep);
        if round_up {
            let mut j = keep;
            loop {
                if j == 0 {
                    digits.insert(0, b'1');
                    *point += 1;
                    break;
                }
                j -= 1;
                if digits[j] == b'9' {
                    digits[j] = b'0';
                } else {
                    digits[j] += 1;
                    break;
                }
            }
        }
    }
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
}

/// Appends the digits before the decimal point, then the point, then up to
/// `decimals` digits after it (zero padded when `pad`), as SQLite's printf
/// does for its fixed-point form.
fn push_fixed(out: &mut String, digits: &[u8], point: i32, decimals: i32, pad: bool) {
    let digit = |j: i32| {
        usize::try_from(j)
            .ok()
            .and_then(|j| digits.get(j))
            .map_or('0', |&d| d as char)
    };
    if point <= 0 {
        out.push('0');
    } else {
        (0..point).for_each(|j| out.push(digit(j)));
    }
    out.push('.');
    let n = digits.len() as i32;
    for k in 0..decimals {
        let j = point + k;
        if !pad && j >= n {
            break;
        }
        out.push(if j < 0 { '0' } else { digit(j) });
    }
}

/// `sqlite3_snprintf("%.3f", r)`.
pub fn format_fixed3(r: f64) -> String {
    if r.is_nan() {
        return "NaN".into();
    }
    if r.is_infinite() {
        return if r < 0.0 { "-Inf" } else { "Inf" }.into();
    }
    if r == 0.0 {
        return "0.000".into();
    }
    let (mut digits, mut point) = decimal_digits(r.abs());
    round_digits(&mut digits, &mut point, -3, 16);
    let mut out = String::new();
    if r < 0.0 {
        out.push('-');
    }
    push_fixed(&mut out, &digits, point, 3, true);
    out
}

/// A REAL as `sqlite3_column_text` renders it: `%!.15g`, so `1.0`, `0.1`,
/// `1.0e+20`, `1.5e-07`.
pub fn format_real_as_text(r: f64) -> String {
    if r.is_nan() {
        return "NaN".into();
    }
    if r.is_infinite() {
        return if r < 0.0 { "-Inf" } else { "Inf" }.into();
    }
    if r == 0.0 {
        return "0.0".into();
    }
    let (mut digits, mut point) = decimal_digits(r.abs());
    round_digits(&mut digits, &mut point, 15, 20);
    let mut out = String::new();
    if r < 0.0 {
        out.push('-');
    }
    let exponent = point - 1;
    if !(-4..=14).contains(&exponent) {
        push_fixed(&mut out, &digits, 1, 14, false);
        if out.ends_with('.') {
            out.push('0');
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exponent.abs()));
    } else {
        push_fixed(&mut out, &digits, point, 14 - exponent, false);
        if out.ends_with('.') {
            out.push('0');
        }
    }
    out
}

fn one_line(text: &str, max_chars: usize) -> String {
    let flat = text.replace('\n', " ⏎ ");
    if flat.chars().count() <= max_chars {
        flat
    } else {
        let cut: String = flat.chars().take(max_chars).collect();
        format!("{cut}…")
    }
}
