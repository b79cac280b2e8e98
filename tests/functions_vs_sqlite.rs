//! SQL functions against SQLite: many generated calls per function (values
//! of every type, edge cases, NULLs, bad input, random strings, JSON
//! documents, date strings and modifiers, printf formats), each run as
//! `SELECT f(...)` on sealdb and on SQLite (rusqlite's bundled build, with
//! its math functions), comparing the outcome value by value: the same
//! storage class and the same value (reals bit for bit), or an error on
//! both sides.
//!
//! No difference is tolerated: a REAL's text form, `printf`'s digits and
//! `round()` follow SQLite 3.47+ exactly, as the bundled build computes
//! them. Non-deterministic functions (`random`, `'now'`) are checked by
//! their properties instead.
//!
//! Short by default (about 20,000 calls); `SEALDB_FN_CASES=N` runs N
//! random calls per generator, `SEALDB_FN_SEED` picks the seed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Once;

use rusqlite::types::ValueRef;
use sealdb::{Db, Value};

/// A value in SQLite's five storage classes.
#[derive(Clone, Debug, PartialEq)]
enum V {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Value(V),
    Error(String),
}

/// Both engines read the same time zone: set once, before any test reads
/// it, so `localtime` and `utc` are deterministic.
fn fix_time_zone() {
    static TZ: Once = Once::new();
    TZ.call_once(|| {
        // A zone with daylight saving time, in POSIX form (no tz database
        // needed): both glibc and sealdb read it.
        std::env::set_var("TZ", "EST5EDT,M3.2.0,M11.1.0");
    });
}

struct Engines {
    seal: Db,
    lite: rusqlite::Connection,
}

impl Engines {
    fn new() -> Engines {
        fix_time_zone();
        Engines {
            seal: Db::open_in_memory().unwrap(),
            lite: rusqlite::Connection::open_in_memory().unwrap(),
        }
    }

    fn seal(&self, sql: &str) -> Outcome {
        let s = self.seal.root_session();
        let rows = s.query(sql, &[]).and_then(|r| r.collect_all());
        match rows {
            Err(e) => Outcome::Error(e.to_string()),
            Ok(rows) => {
                let v = rows
                    .into_iter()
                    .next()
                    .and_then(|r| r.into_values().into_iter().next())
                    .unwrap_or(Value::Null);
                Outcome::Value(match v {
                    Value::Null => V::Null,
                    Value::Integer(i) => V::Int(i),
                    Value::Real(r) => V::Real(r),
                    Value::Text(t) => V::Text(t),
                    Value::Blob(b) => V::Blob(b),
                })
            }
        }
    }

    fn lite(&self, sql: &str) -> Outcome {
        let r = self.lite.query_row(sql, [], |row| {
            Ok(match row.get_ref(0)? {
                ValueRef::Null => V::Null,
                ValueRef::Integer(i) => V::Int(i),
                ValueRef::Real(r) => V::Real(r),
                ValueRef::Text(t) => V::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => V::Blob(b.to_vec()),
            })
        });
        match r {
            Ok(v) => Outcome::Value(v),
            Err(e) => Outcome::Error(e.to_string()),
        }
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n as u64).max(1)) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// SQL literals of every type, edge cases included. Reals have at most 15
/// significant digits, so their text forms agree between the versions.
const VALUES: &[&str] = &[
    "NULL",
    "0",
    "1",
    "-1",
    "2",
    "7",
    "42",
    "-17",
    "255",
    "1000000",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967296",
    "0.0",
    "0.5",
    "-0.5",
    "1.5",
    "2.5",
    "-2.5",
    "3.25",
    "100.0",
    "1e10",
    "1.5e-7",
    "123.456",
    "-98765.4321",
    "1e300",
    "-1e-300",
    "''",
    "'a'",
    "'abc'",
    "'Hello World'",
    "' 12 '",
    "'12'",
    "'-3.5'",
    "'1e3'",
    "'12abc'",
    "'x'",
    "'héllo wörld'",
    "'日本語'",
    "'it''s'",
    "'a\"b'",
    "'%'",
    "'a_b%c'",
    "'  padded  '",
    "'0x1F'",
    "'\\'",
    "x''",
    "x'00'",
    "x'414243'",
    "x'ff00'",
    "char(1, 9, 10, 31)",
];

const DATES: &[&str] = &[
    "'2024-02-29'",
    "'2023-02-31'",
    "'2000-01-01 00:00:00'",
    "'1999-12-31 23:59:59.999'",
    "'2024-06-15T12:30:45.123'",
    "'2024-06-15 12:30'",
    "'2024-06-15 12:30:45Z'",
    "'2024-06-15 12:30:45+05:30'",
    "'2024-06-15 12:30:45 -08:00'",
    "'2024-06-15 24:00:00'",
    "'12:30'",
    "'23:59:59.9999'",
    "'0000-01-01'",
    "'9999-12-31 23:59:59'",
    "'-0001-06-01'",
    "'1970-01-01'",
    "'2038-01-19 03:14:07'",
    "'1900-03-01 01:02:03'",
    "'2024-13-01'",
    "'2024-1-1'",
    "'2024-01-01 25:00'",
    "'garbage'",
    "''",
    "'2460000.5'",
    "2460000.5",
    "2440587.5",
    "0",
    "1700000000",
    "1700000000.5",
    "-1",
    "5373484.4",
    "5373485",
    "NULL",
    "'now'",
];

const MODIFIERS: &[&str] = &[
    "'+1 day'",
    "'-1 days'",
    "'+1.5 days'",
    "'+36 hours'",
    "'-90 minutes'",
    "'+30.5 seconds'",
    "'+1 month'",
    "'-13 months'",
    "'+1 year'",
    "'-100 years'",
    "'+2.5 months'",
    "'+0.5 years'",
    "'start of month'",
    "'start of year'",
    "'start of day'",
    "'end of month'",
    "'end of year'",
    "'end of day'",
    "'weekday 0'",
    "'weekday 3'",
    "'weekday -1'",
    "'weekday 7'",
    "'unixepoch'",
    "'julianday'",
    "'auto'",
    "'subsec'",
    "'subsecond'",
    "'ceiling'",
    "'floor'",
    "'localtime'",
    "'utc'",
    "'+01:30'",
    "'-12:00:30.5'",
    "'+0001-02-03'",
    "'-0001-00-10 01:02'",
    "'+10'",
    "'nonsense'",
    "'+1 fortnight'",
    "NULL",
    "'START OF MONTH'",
    "'+1 DAYS'",
];

const STRFTIME_FORMATS: &[&str] = &[
    "'%Y-%m-%d %H:%M:%S'",
    "'%d %e %f %F'",
    "'%G %g %V %u %w'",
    "'%H %k %I %l %p %P'",
    "'%j %J %s %S %T %R'",
    "'%U %W %%'",
    "'%Y%m%d'",
    "'%x'",
    "'no conversions'",
    "''",
    "NULL",
    "'%'",
];

const PRINTF_FORMATS: &[&str] = &[
    "'%d'",
    "'%5d'",
    "'%-5d|'",
    "'%05d'",
    "'%+d'",
    "'% d'",
    "'%,d'",
    "'%.3d'",
    "'%i'",
    "'%u'",
    "'%x'",
    "'%X'",
    "'%#x'",
    "'%#X'",
    "'%o'",
    "'%#o'",
    "'%c'",
    "'%5c|'",
    "'%.3c'",
    "'%s'",
    "'%10s|'",
    "'%-10s|'",
    "'%.2s'",
    "'%!.2s'",
    "'%!5s|'",
    "'%z'",
    "'%q'",
    "'%Q'",
    "'%w'",
    "'%#q'",
    "'%#Q'",
    "'%%'",
    "'%n'",
    "'%p'",
    "'%r'",
    "'%lld'",
    "'%ld'",
    "'%*d'",
    "'%-*d|'",
    "'%.*s'",
    "'%f'",
    "'%.2f'",
    "'%10.3f|'",
    "'%-10.1f|'",
    "'%+.1f'",
    "'%010.2f'",
    "'%e'",
    "'%.3e'",
    "'%E'",
    "'%g'",
    "'%G'",
    "'%.3g'",
    "'%#g'",
    "'%,.2f'",
    "'%!.3f'",
    "'%.0f'",
    "'%#.0f'",
    "'%j'",
    "'%J'",
    "'%y'",
    "'abc'",
    "'%'",
    "'%5'",
    "'%s %s %s'",
    "'%d%%'",
    "'%.20f'",
    "'%.15g'",
];

const JSON_DOCS: &[&str] = &[
    "'{\"a\":1,\"b\":[1,2,{\"c\":true}],\"d\":null}'",
    "'[1,2,3]'",
    "'[]'",
    "'{}'",
    "'\"str\"'",
    "'123'",
    "'-1.50'",
    "'1e3'",
    "'true'",
    "'null'",
    "' { \"x\" : [ 1 , 2 ] } '",
    "'{\"a\":{\"b\":{\"c\":[10,20,30]}}}'",
    "'{\"k\":\"v\\u0041\\n\",\"esc\":\"q\\\"x\"}'",
    "'{\"a b\":1,\"a.b\":2,\"\":3}'",
    "'[1,[2,[3,[4]]]]'",
    "'{\"dup\":1,\"dup\":2}'",
    "'{a:1,b:''two'',c:0x1F,d:.5,e:5.,f:+3,g:Infinity,h:NaN,}'",
    "'[1,2,]'",
    "'/* c */ [1] // x'",
    "'{\"a\":1'",
    "'[1,2'",
    "'{\"a\" 1}'",
    "'nul'",
    "''",
    "'{\"a\":01}'",
    "'[\"\\x41\"]'",
    "'[''single'']'",
    "'{\"big\":123456789012345678901234567890}'",
    "'[-0x10, 0XFF]'",
    "NULL",
    "'abc'",
    "'[1.5e3, -2E-2, 0.1]'",
];

const JSON_PATHS: &[&str] = &[
    "'$'",
    "'$.a'",
    "'$.b'",
    "'$.b[0]'",
    "'$.b[2].c'",
    "'$.b[#-1]'",
    "'$.b[#]'",
    "'$[0]'",
    "'$[1]'",
    "'$[#-1]'",
    "'$[5]'",
    "'$.x'",
    "'$.\"a b\"'",
    "'$.\"a.b\"'",
    "'$.a.b.c[1]'",
    "'$.k'",
    "'$.esc'",
    "'$.dup'",
    "'$.a[0]'",
    "'a'",
    "'$.'",
    "'$['",
    "'$[x]'",
    "'$.a.'",
    "NULL",
    "'$.new'",
    "'$.new.deep'",
    "'$[#-9]'",
    "'$.\"\"'",
];

const ARROW_PATHS: &[&str] = &[
    "'a'", "'b'", "0", "1", "-1", "'$.a'", "'[0]'", "'a b'", "'$.b[1]'", "'x'", "2", "'k'",
];

/// One generated call; `seed_kind` steers which generator it came from.
type Generator = fn(&mut Rng) -> String;

fn any_value(r: &mut Rng) -> String {
    if r.chance(10) {
        // A random short string of interesting characters.
        let chars = [
            "a", "Z", "0", "9", " ", "%", "_", "'", "\"", "\\", "é", "ß", "-", ".", "e", "x", "1",
        ];
        let n = r.below(8);
        let s: String = (0..n).map(|_| r.pick(&chars)).collect();
        return quote(&s);
    }
    r.pick(VALUES).to_string()
}

fn call_with(name: &str, args: &[String]) -> String {
    format!("{name}({})", args.join(", "))
}

fn gen_scalar(r: &mut Rng) -> String {
    // (name, min args, max args)
    const F: &[(&str, usize, usize)] = &[
        ("abs", 1, 1),
        ("char", 0, 3),
        ("coalesce", 2, 3),
        ("concat", 1, 3),
        ("concat_ws", 2, 4),
        ("glob", 2, 2),
        ("hex", 1, 1),
        ("iif", 2, 5),
        ("if", 2, 4),
        ("ifnull", 2, 2),
        ("instr", 2, 2),
        ("length", 1, 1),
        ("like", 2, 2),
        ("lower", 1, 1),
        ("ltrim", 1, 2),
        ("max", 2, 3),
        ("min", 2, 3),
        ("nullif", 2, 2),
        ("octet_length", 1, 1),
        ("quote", 1, 1),
        ("replace", 3, 3),
        ("round", 1, 2),
        ("rtrim", 1, 2),
        ("sign", 1, 1),
        ("soundex", 1, 1),
        ("substr", 2, 3),
        ("substring", 2, 3),
        ("trim", 1, 2),
        ("typeof", 1, 1),
        ("unhex", 1, 2),
        ("unicode", 1, 1),
        ("unistr_quote", 1, 1),
        ("upper", 1, 1),
        ("zeroblob", 1, 1),
        ("likely", 1, 1),
        ("unlikely", 1, 1),
    ];
    let (name, lo, hi) = F[r.below(F.len())];
    let n = lo + r.below(hi - lo + 1);
    let args: Vec<String> = (0..n).map(|_| any_value(r)).collect();
    call_with(name, &args)
}

fn gen_math(r: &mut Rng) -> String {
    const F: &[(&str, usize)] = &[
        ("ceil", 1),
        ("ceiling", 1),
        ("floor", 1),
        ("trunc", 1),
        ("sqrt", 1),
        ("exp", 1),
        ("ln", 1),
        ("log", 1),
        ("log", 2),
        ("log2", 1),
        ("log10", 1),
        ("pow", 2),
        ("power", 2),
        ("mod", 2),
        ("sin", 1),
        ("cos", 1),
        ("tan", 1),
        ("asin", 1),
        ("acos", 1),
        ("atan", 1),
        ("atan2", 2),
        ("sinh", 1),
        ("cosh", 1),
        ("tanh", 1),
        ("asinh", 1),
        ("acosh", 1),
        ("atanh", 1),
        ("degrees", 1),
        ("radians", 1),
        ("pi", 0),
        ("sign", 1),
    ];
    let (name, n) = F[r.below(F.len())];
    let args: Vec<String> = (0..n).map(|_| any_value(r)).collect();
    call_with(name, &args)
}

fn gen_unistr(r: &mut Rng) -> String {
    let pieces = [
        "a",
        "\\0041",
        "\\u00e9",
        "\\+01F600",
        "\\U0001F600",
        "\\\\",
        "\\x",
        "\\12",
        "b",
        "\\u12",
    ];
    let n = 1 + r.below(4);
    let s: String = (0..n).map(|_| r.pick(&pieces)).collect();
    format!("unistr({})", quote(&s))
}

fn gen_date(r: &mut Rng) -> String {
    let f = r.pick(&["date", "time", "datetime", "julianday", "unixepoch"]);
    let mut args = vec![r.pick(DATES).to_string()];
    for _ in 0..r.below(4) {
        args.push(r.pick(MODIFIERS).to_string());
    }
    if args[0] == "'now'" {
        // 'now' is checked by properties, not against SQLite's clock.
        args[0] = "'2024-03-10 06:59:59.5'".into();
    }
    call_with(f, &args)
}

fn gen_strftime(r: &mut Rng) -> String {
    let mut args = vec![
        r.pick(STRFTIME_FORMATS).to_string(),
        r.pick(DATES).to_string(),
    ];
    if args[1] == "'now'" {
        args[1] = "'2021-01-03 10:00'".into();
    }
    for _ in 0..r.below(3) {
        args.push(r.pick(MODIFIERS).to_string());
    }
    call_with("strftime", &args)
}

fn gen_timediff(r: &mut Rng) -> String {
    let mut a = r.pick(DATES).to_string();
    let mut b = r.pick(DATES).to_string();
    if a == "'now'" {
        a = "'2020-02-29'".into();
    }
    if b == "'now'" {
        b = "'2021-03-01 12:00'".into();
    }
    call_with("timediff", &[a, b])
}

fn gen_printf(r: &mut Rng) -> String {
    let mut fmt = r.pick(PRINTF_FORMATS).to_string();
    if r.chance(20) {
        // Two conversions joined.
        let second = r.pick(PRINTF_FORMATS);
        if fmt.len() > 2 && second.len() > 2 {
            fmt = format!("{}{}", &fmt[..fmt.len() - 1], &second[1..]);
        }
    }
    let mut args = vec![fmt];
    for _ in 0..r.below(4) {
        args.push(any_value(r));
    }
    call_with(if r.chance(50) { "printf" } else { "format" }, &args)
}

fn gen_json(r: &mut Rng) -> String {
    let doc = r.pick(JSON_DOCS).to_string();
    let path = r.pick(JSON_PATHS).to_string();
    let val = || -> String { String::new() };
    let _ = val;
    match r.below(20) {
        0 => format!("json({doc})"),
        1 => format!("json_valid({doc})"),
        2 => format!(
            "json_valid({doc}, {})",
            r.pick(&["1", "2", "3", "4", "8", "0", "16"])
        ),
        3 => format!("json_type({doc})"),
        4 => format!("json_type({doc}, {path})"),
        5 => format!("json_array_length({doc})"),
        6 => format!("json_array_length({doc}, {path})"),
        7 => format!("json_extract({doc}, {path})"),
        8 => format!("json_extract({doc}, {path}, {})", r.pick(JSON_PATHS)),
        9 => format!("({doc} -> {})", r.pick(ARROW_PATHS)),
        10 => format!("({doc} ->> {})", r.pick(ARROW_PATHS)),
        11 => {
            let f = r.pick(&["json_set", "json_insert", "json_replace"]);
            let v = json_value_arg(r);
            if r.chance(30) {
                let v2 = json_value_arg(r);
                format!("{f}({doc}, {path}, {v}, {}, {v2})", r.pick(JSON_PATHS))
            } else {
                format!("{f}({doc}, {path}, {v})")
            }
        }
        12 => format!("json_remove({doc}, {path})"),
        13 => format!("json_patch({doc}, {})", r.pick(JSON_DOCS)),
        14 => {
            let n = r.below(4);
            let args: Vec<String> = (0..n).map(|_| json_value_arg(r)).collect();
            call_with("json_array", &args)
        }
        15 => {
            let n = r.below(3);
            let mut args = Vec::new();
            for _ in 0..n {
                args.push(
                    r.pick(&["'a'", "'b c'", "'\"q'", "''", "1", "NULL"])
                        .to_string(),
                );
                args.push(json_value_arg(r));
            }
            call_with("json_object", &args)
        }
        16 => format!("json_quote({})", json_value_arg(r)),
        17 => format!("json_error_position({doc})"),
        18 => format!("json_pretty({doc})"),
        _ => format!("json_array_insert({doc}, {path}, {})", json_value_arg(r)),
    }
}

fn json_value_arg(r: &mut Rng) -> String {
    match r.below(6) {
        0 => format!(
            "json({})",
            r.pick(&["'[1,2]'", "'{\"z\":null}'", "'\"s\"'", "'3'"])
        ),
        1 => format!("json_array({}, {})", any_value(r), any_value(r)),
        2 => format!("json_object('k', {})", any_value(r)),
        _ => {
            let v = any_value(r);
            if v.starts_with("x'") || v.starts_with("char(") {
                "'blobless'".into()
            } else {
                v
            }
        }
    }
}

#[derive(Default)]
struct Tally {
    same: usize,
    /// Of `same`: both engines raised an error.
    both_errors: usize,
    diffs: Vec<String>,
}

fn compare(e: &Engines, sql: &str, t: &mut Tally) {
    let a = e.seal(sql);
    let b = e.lite(sql);
    let same = match (&a, &b) {
        (Outcome::Error(_), Outcome::Error(_)) => true,
        (Outcome::Value(V::Real(x)), Outcome::Value(V::Real(y))) => x == y,
        (x, y) => x == y,
    };
    if same {
        t.same += 1;
        if matches!(a, Outcome::Error(_)) {
            t.both_errors += 1;
        }
        return;
    }
    t.diffs
        .push(format!("{sql}\n    sealdb: {a:?}\n    sqlite: {b:?}"));
}

fn cases() -> usize {
    std::env::var("SEALDB_FN_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500)
}

fn seed() -> u64 {
    std::env::var("SEALDB_FN_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5ea1_db00_f00d_cafe)
}

fn run(name: &str, generator: Generator, scale: usize) {
    let e = Engines::new();
    let mut r = Rng(seed() ^ name.len() as u64 ^ (name.as_bytes()[0] as u64) << 32);
    let mut t = Tally::default();
    for _ in 0..cases() * scale {
        let sql = format!("SELECT {}", generator(&mut r));
        compare(&e, &sql, &mut t);
    }
    eprintln!(
        "{name}: {} same ({} both errors), {} differ",
        t.same,
        t.both_errors,
        t.diffs.len()
    );
    if !t.diffs.is_empty() {
        let shown: Vec<&String> = t.diffs.iter().take(25).collect();
        panic!(
            "{name}: {} of {} calls differ from SQLite; first ones:\n{}",
            t.diffs.len(),
            t.same + t.diffs.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn core_scalar_functions_match_sqlite() {
    run("scalar", gen_scalar, 3);
}

#[test]
fn math_functions_match_sqlite() {
    run("math", gen_math, 1);
}

#[test]
fn unistr_matches_sqlite() {
    run("unistr", gen_unistr, 1);
}

#[test]
fn date_and_time_functions_match_sqlite() {
    run("date", gen_date, 2);
}

#[test]
fn strftime_and_timediff_match_sqlite() {
    run("strftime", gen_strftime, 1);
    run("timediff", gen_timediff, 1);
}

#[test]
fn printf_matches_sqlite() {
    run("printf", gen_printf, 2);
}

#[test]
fn json_functions_match_sqlite() {
    run("json", gen_json, 3);
}

/// Fixed calls that the generators may miss.
#[test]
fn chosen_calls_match_sqlite() {
    let e = Engines::new();
    let mut t = Tally::default();
    let calls = [
        "json_array(json('[1]'), '[1]', json_object('a', json('{}')))",
        "json_object('a', json_extract('{\"x\":[1,2]}', '$.x'))",
        "json_object('a', json_extract('{\"x\":\"[1]\"}', '$.x'))",
        "json_set('{}', '$.a', json('[1,2]'), '$.b', '[1,2]')",
        "json_array(json_quote('x'), json_quote(1.5), json_quote(NULL))",
        "'{\"a\":[1,2,3]}' -> '$.a' -> 1",
        "'{\"a\":{\"b\":\"c\"}}' ->> '$.a' ->> 'b'",
        "json_group_array(x) FROM (SELECT 1 AS x UNION ALL SELECT NULL UNION ALL SELECT 'a')",
        "json_group_object(k, v) FROM (SELECT 'a' AS k, 1 AS v UNION ALL SELECT 'b', json('[2]'))",
        "json_group_array(json_object('id', x)) FROM (SELECT 1 AS x UNION ALL SELECT 2)",
        "json_group_array(x) FROM (SELECT 1 AS x) WHERE 0",
        "string_agg(x, '-') FROM (SELECT 'a' AS x UNION ALL SELECT 'b')",
        "date('2024-01-31', '+1 month')",
        "date('2024-01-31', '+1 month', 'floor')",
        "date('2024-01-31', '+1 month', 'ceiling')",
        "datetime(1700000000, 'unixepoch', 'localtime')",
        "datetime('2024-03-10 07:30', 'localtime')",
        "datetime('2024-03-10 02:30', 'utc')",
        "datetime('2024-11-03 01:30', 'utc')",
        "datetime('1850-07-01 12:00', 'localtime')",
        "datetime('2100-07-01 12:00', 'localtime', 'utc')",
        "unixepoch('2024-06-15 12:30:45.678', 'subsec')",
        "strftime('%s', '2024-06-15 12:30:45.678', 'subsec')",
        "time('12:30:45.678', 'subsec')",
        "julianday('2000-01-01 12:00')",
        "timediff('2024-03-01', '2024-02-28 12:00')",
        "timediff('2023-01-31', '2024-03-01')",
        "printf('%5.2f|%-8s|%08.3e|%+d', 3.14159, 'ab', 12345.678, 5)",
        "printf('%,d %,d', 1234567, -1000)",
        "printf('%.3c', 'xyz')",
        "printf('%s', NULL)",
        "printf(NULL)",
        "printf()",
        "format('%d items', 3)",
        "substr('abcdef', -2, -10)",
        "iif(0, 'a', NULL, 'b', 'c')",
        "iif(1, 'x')",
        "concat_ws(NULL, 'a')",
        "unhex('ab cd', ' ')",
        "unhex('abc')",
        "soundex('Robert')",
        "soundex('')",
        "likelihood(5, 0.5)",
        "log(2, 8)",
        "log(1, 8)",
        "ceil('2.5')",
        "floor(-0.5)",
        "trunc(2.7)",
        "mod(7, -3)",
        "mod(7, 0)",
        "octet_length('héllo')",
        "sqlite_version()",
    ];
    for c in calls {
        compare(&e, &format!("SELECT {c}"), &mut t);
    }
    assert!(
        t.diffs.is_empty(),
        "chosen calls differ:\n{}",
        t.diffs.join("\n")
    );
}
