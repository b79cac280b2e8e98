//! Scalar SQL functions, looked up by name: `abs`, `length`, `substr`,
//! `round`, `coalesce`, `replace`, `quote`, ...
//!
//! [`call_scalar`] evaluates one call on already-evaluated arguments;
//! [`ScalarCall::resolve`] finds the function once, when an expression is
//! bound, so that evaluating a row does no lookup by name (an unknown name
//! or a wrong argument count still fails only when the call is evaluated,
//! with the same error [`call_scalar`] gives);
//! [`check_scalar`] answers, without evaluating anything, whether a name and
//! argument count make a valid call, so the binder can reject `abs(1, 2)`
//! or `nosuch(1)` before a statement runs. Names are matched
//! case-insensitively. An unknown name is an
//! [`SqlErrorKind::UnknownFunction`] error ("no such function: foo"); a wrong
//! number of arguments is [`SqlErrorKind::Misuse`] ("wrong number of
//! arguments to function abs()"), both in SQLite's words.
//!
//! Every function follows SQLite's `func.c`, including its corners:
//!
//! * NULL in gives NULL out, except where SQLite says otherwise
//!   (`coalesce`, `ifnull`, `iif`, `quote(NULL)` = `'NULL'`, `hex(NULL)` =
//!   `''`, `char(NULL)` = U+0000).
//! * Arguments are converted the way SQLite's `sqlite3_value_*` accessors
//!   convert them: a number given where text is wanted is its text form; a
//!   text given where a number is wanted is its numeric prefix; an integer
//!   argument such as `substr`'s start is read as a 32-bit C `int`
//!   (truncating, as SQLite does).
//! * `abs(i64::MIN)` is an overflow error; `abs` of text or a blob is a
//!   REAL.
//! * `round` reproduces SQLite's printf-based rounding (which rounds 2.675
//!   to 2.68 and keeps 16 significant digits), and always returns a REAL.
//! * `length` counts characters up to the first NUL (documented SQLite
//!   behaviour), bytes for a blob.
//!
//! Invariant: no function panics or allocates without bound on any input;
//! `zeroblob` refuses more than SQLite's default length limit.
//!
//! The aggregate forms of `min`, `max` and `count` live in
//! [`crate::sql::aggregate`]; here `min` and `max` take two or more
//! arguments.

use std::cmp::Ordering;
use std::fmt::Write as _;

use crate::error::{Error, Result, SqlErrorKind};
use crate::types::{
    format_real_quoted, glob, like, parse_real_prefix, sqlite_printf_float, Collation, FloatStyle,
    Value,
};

/// SQLite's default `SQLITE_LIMIT_LENGTH`: the largest string or blob, in
/// bytes, and `substr`'s default length.
const MAX_LENGTH: i64 = 1_000_000_000;

/// A NULL to lend out for missing arguments.
static NULL: Value = Value::Null;

/// One entry of the function table.
struct ScalarFunction {
    name: &'static str,
    min_args: usize,
    max_args: usize,
    eval: ScalarFn,
}

/// "Any number of arguments".
const MANY: usize = usize::MAX;

const fn entry(
    name: &'static str,
    min_args: usize,
    max_args: usize,
    eval: fn(&[Value]) -> Result<Value>,
) -> ScalarFunction {
    ScalarFunction {
        name,
        min_args,
        max_args,
        eval,
    }
}

/// Every scalar function, by lower-case name: (name, min args, max args).
static FUNCTIONS: &[ScalarFunction] = &[
    entry("abs", 1, 1, f_abs),
    entry("char", 0, MANY, f_char),
    entry("coalesce", 2, MANY, f_coalesce),
    entry("glob", 2, 2, f_glob),
    entry("hex", 1, 1, f_hex),
    entry("ifnull", 2, 2, f_coalesce),
    entry("iif", 3, 3, f_iif),
    entry("instr", 2, 2, f_instr),
    entry("length", 1, 1, f_length),
    entry("like", 2, 3, f_like),
    entry("lower", 1, 1, f_lower),
    entry("ltrim", 1, 2, f_ltrim),
    entry("max", 2, MANY, f_max),
    entry("min", 2, MANY, f_min),
    entry("nullif", 2, 2, f_nullif),
    entry("quote", 1, 1, f_quote),
    entry("replace", 3, 3, f_replace),
    entry("round", 1, 2, f_round),
    entry("rtrim", 1, 2, f_rtrim),
    entry("substr", 2, 3, f_substr),
    entry("substring", 2, 3, f_substr),
    entry("trim", 1, 2, f_trim),
    entry("typeof", 1, 1, f_typeof),
    entry("unicode", 1, 1, f_unicode),
    entry("upper", 1, 1, f_upper),
    entry("zeroblob", 1, 1, f_zeroblob),
];

/// Finds a function and checks its argument count.
fn lookup(name: &str, nargs: usize) -> Result<&'static ScalarFunction> {
    let lower = name.to_ascii_lowercase();
    let f = FUNCTIONS.iter().find(|f| f.name == lower).ok_or_else(|| {
        Error::sql(
            SqlErrorKind::UnknownFunction,
            format!("no such function: {name}"),
        )
    })?;
    if nargs < f.min_args || nargs > f.max_args {
        return Err(Error::sql(
            SqlErrorKind::Misuse,
            format!("wrong number of arguments to function {name}()"),
        ));
    }
    Ok(f)
}

/// Whether `name(nargs arguments)` is a valid scalar function call: `Ok`,
/// or the error [`call_scalar`] would give for it.
pub fn check_scalar(name: &str, nargs: usize) -> Result<()> {
    lookup(name, nargs).map(|_| ())
}

/// The names of all scalar functions, lower case.
pub fn scalar_function_names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|f| f.name)
}

/// A function of the table, on evaluated arguments.
type ScalarFn = fn(&[Value]) -> Result<Value>;

/// A scalar function call resolved at bind time: the name (for errors and
/// EXPLAIN) and, when the name and argument count are valid, the function.
#[derive(Clone, Debug)]
pub struct ScalarCall {
    name: String,
    nargs: usize,
    eval: Option<ScalarFn>,
}

impl ScalarCall {
    /// Resolves `name` called with `nargs` arguments. Never fails: an
    /// invalid call keeps failing where it did, at evaluation.
    pub fn resolve(name: &str, nargs: usize) -> ScalarCall {
        ScalarCall {
            name: name.to_string(),
            nargs,
            eval: lookup(name, nargs).ok().map(|f| f.eval),
        }
    }

    /// Resolves `name` as [`Self::resolve`], comparing under `coll` when
    /// it compares (see [`needs_collation`]).
    pub fn resolve_collated(name: &str, nargs: usize, coll: Collation) -> ScalarCall {
        let mut call = ScalarCall::resolve(name, nargs);
        if call.eval.is_some() && needs_collation(name) {
            call.eval = Some(match (name.to_ascii_lowercase().as_str(), coll) {
                (_, Collation::Binary) => return call,
                ("min", Collation::NoCase) => |a| min_max(a, false, Collation::NoCase),
                ("min", _) => |a| min_max(a, false, Collation::Rtrim),
                ("max", Collation::NoCase) => |a| min_max(a, true, Collation::NoCase),
                ("max", _) => |a| min_max(a, true, Collation::Rtrim),
                (_, Collation::NoCase) => |a| nullif(a, Collation::NoCase),
                _ => |a| nullif(a, Collation::Rtrim),
            });
        }
        call
    }

    /// The name as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Evaluates the call on `args`.
    pub fn call(&self, args: &[Value]) -> Result<Value> {
        match self.eval {
            Some(f) if args.len() == self.nargs => f(args),
            _ => call_scalar(&self.name, args),
        }
    }
}

/// Evaluates the scalar function `name` (case-insensitive) on `args`.
pub fn call_scalar(name: &str, args: &[Value]) -> Result<Value> {
    (lookup(name, args.len())?.eval)(args)
}

// ---------------------------------------------------------------------------
// Argument helpers
// ---------------------------------------------------------------------------

/// Argument `i`, or NULL if missing (the arity check makes that unreachable).
fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&NULL)
}

/// SQLite's `sqlite3_value_int`: the 64-bit integer value truncated to a C
/// `int` (so 4294967297 reads as 1, as in SQLite).
fn int32(v: &Value) -> i64 {
    i64::from(v.to_i64() as i32)
}

/// The text up to the first NUL, as SQLite's C-string loops see it.
fn until_nul(s: &str) -> &str {
    s.split('\0').next().unwrap_or(s)
}

fn count_to_value(n: usize) -> Value {
    Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

fn overflow() -> Error {
    Error::sql(SqlErrorKind::Overflow, "integer overflow")
}

fn upper_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(s, "{byte:02X}");
    }
    s
}

// ---------------------------------------------------------------------------
// The functions
// ---------------------------------------------------------------------------

/// `abs(X)`: INTEGER stays INTEGER (`abs(i64::MIN)` overflows); anything
/// else but NULL is read as a REAL (`abs('-3')` is 3.0, `abs('x')` 0.0).
fn f_abs(args: &[Value]) -> Result<Value> {
    Ok(match arg(args, 0) {
        Value::Null => Value::Null,
        Value::Integer(i) => Value::Integer(i.checked_abs().ok_or_else(overflow)?),
        v => {
            let r = v.to_f64();
            Value::Real(if r < 0.0 { -r } else { r })
        }
    })
}

/// `char(X1, ..., XN)`: the text of the given code points; an argument
/// outside 0..=0x10FFFF (or a surrogate, which UTF-8 cannot hold) gives
/// U+FFFD; NULL reads as 0.
fn f_char(args: &[Value]) -> Result<Value> {
    let text = args
        .iter()
        .map(|v| {
            u32::try_from(v.to_i64())
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}')
        })
        .collect();
    Ok(Value::Text(text))
}

/// `coalesce(X, Y, ...)` and `ifnull(X, Y)`: the first argument that is
/// not NULL, else NULL.
fn f_coalesce(args: &[Value]) -> Result<Value> {
    Ok(args
        .iter()
        .find(|v| !v.is_null())
        .cloned()
        .unwrap_or(Value::Null))
}

/// `glob(P, X)`: `X GLOB P` as 1 or 0; NULL if either is NULL.
fn f_glob(args: &[Value]) -> Result<Value> {
    match (arg(args, 0).to_text(), arg(args, 1).to_text()) {
        (Some(pattern), Some(text)) => Ok(Value::from(glob(&pattern, &text))),
        _ => Ok(Value::Null),
    }
}

/// `hex(X)`: upper-case hex of the blob, or of the UTF-8 bytes of the text
/// form; `''` for NULL.
fn f_hex(args: &[Value]) -> Result<Value> {
    let bytes = arg(args, 0).to_bytes().unwrap_or_default();
    Ok(Value::Text(upper_hex(&bytes)))
}

/// `iif(C, A, B)`: A when C is true, else B (also when C is NULL).
fn f_iif(args: &[Value]) -> Result<Value> {
    let chosen = if arg(args, 0).truthy() == Some(true) {
        1
    } else {
        2
    };
    Ok(arg(args, chosen).clone())
}

/// `instr(X, Y)`: the 1-based position of the first Y in X, in characters
/// (in bytes when both are blobs); 0 when absent, 1 when Y is empty, NULL
/// when either is NULL.
fn f_instr(args: &[Value]) -> Result<Value> {
    let (x, y) = (arg(args, 0), arg(args, 1));
    if x.is_null() || y.is_null() {
        return Ok(Value::Null);
    }
    if let (Value::Blob(hay), Value::Blob(needle)) = (x, y) {
        if needle.is_empty() {
            return Ok(Value::Integer(1));
        }
        let pos = hay
            .windows(needle.len())
            .position(|w| w == needle.as_slice());
        return Ok(pos.map_or(Value::Integer(0), |p| count_to_value(p.saturating_add(1))));
    }
    let hay = x.to_text().unwrap_or_default();
    let needle = y.to_text().unwrap_or_default();
    Ok(match hay.find(&needle) {
        Some(p) => count_to_value(
            hay.get(..p)
                .map_or(0, |s| s.chars().count())
                .saturating_add(1),
        ),
        None => Value::Integer(0),
    })
}

/// `length(X)`: characters of text up to the first NUL; bytes of a blob;
/// characters of a number's text form; NULL for NULL.
fn f_length(args: &[Value]) -> Result<Value> {
    Ok(match arg(args, 0) {
        Value::Null => Value::Null,
        Value::Text(s) => count_to_value(until_nul(s).chars().count()),
        Value::Blob(b) => count_to_value(b.len()),
        v => count_to_value(v.to_text().map_or(0, |s| s.len())),
    })
}

/// `like(P, X [, E])`: `X LIKE P [ESCAPE E]` as 1 or 0; NULL if any
/// argument is NULL; an escape that is not exactly one character is an
/// error (checked first, as in SQLite).
fn f_like(args: &[Value]) -> Result<Value> {
    let mut escape = None;
    if let Some(e) = args.get(2) {
        let Some(e) = e.to_text() else {
            return Ok(Value::Null);
        };
        let mut chars = until_nul(&e).chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => escape = Some(c),
            _ => {
                return Err(Error::sql(
                    SqlErrorKind::Misuse,
                    "ESCAPE expression must be a single character",
                ))
            }
        }
    }
    match (arg(args, 0).to_text(), arg(args, 1).to_text()) {
        (Some(pattern), Some(text)) => Ok(Value::from(like(&pattern, &text, escape))),
        _ => Ok(Value::Null),
    }
}

/// `lower(X)`: ASCII letters to lower case; other characters unchanged.
fn f_lower(args: &[Value]) -> Result<Value> {
    Ok(arg(args, 0)
        .to_text()
        .map_or(Value::Null, |s| Value::Text(s.to_ascii_lowercase())))
}

/// `upper(X)`: ASCII letters to upper case; other characters unchanged.
fn f_upper(args: &[Value]) -> Result<Value> {
    Ok(arg(args, 0)
        .to_text()
        .map_or(Value::Null, |s| Value::Text(s.to_ascii_uppercase())))
}

/// Scalar `min`/`max` (SQLite's `minmaxFunc`): NULL if any argument is
/// NULL; `min` keeps the last of equal values, `max` the first.
fn min_max(args: &[Value], max: bool, coll: Collation) -> Result<Value> {
    if args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let mut best = arg(args, 0);
    for v in args.iter().skip(1) {
        let ord = coll.compare(best, v);
        let take = if max {
            ord == Ordering::Less
        } else {
            ord != Ordering::Less
        };
        if take {
            best = v;
        }
    }
    Ok(best.clone())
}

fn f_max(args: &[Value]) -> Result<Value> {
    min_max(args, true, Collation::Binary)
}

fn f_min(args: &[Value]) -> Result<Value> {
    min_max(args, false, Collation::Binary)
}

/// `nullif(X, Y)`: NULL when X equals Y under [`compare`], else X.
fn f_nullif(args: &[Value]) -> Result<Value> {
    nullif(args, Collation::Binary)
}

fn nullif(args: &[Value], coll: Collation) -> Result<Value> {
    let (x, y) = (arg(args, 0), arg(args, 1));
    Ok(if coll.compare(x, y) == Ordering::Equal {
        Value::Null
    } else {
        x.clone()
    })
}

/// Whether the function `name` compares its arguments, and so takes the
/// collating sequence of its first argument that has one (SQLite's
/// `SQLITE_FUNC_NEEDCOLL`: `min`, `max`, `nullif`).
pub fn needs_collation(name: &str) -> bool {
    ["min", "max", "nullif"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
}

/// `quote(X)`: X as an SQL literal: `NULL`, `12`, `1.5`, `'it''s'`,
/// `X'00FF'`. A REAL is written as its text form (17 digits at most, which
/// read back as the same double), infinity as `9.0e+999`.
fn f_quote(args: &[Value]) -> Result<Value> {
    let quoted = match arg(args, 0) {
        Value::Null => "NULL".to_owned(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => format_real_quoted(*r),
        Value::Text(s) => format!("'{}'", until_nul(s).replace('\'', "''")),
        Value::Blob(b) => format!("X'{}'", upper_hex(b)),
    };
    Ok(Value::Text(quoted))
}

/// `replace(X, Y, Z)`: every Y in X replaced by Z, left to right. NULL if
/// any is NULL; X as text when Y is empty.
fn f_replace(args: &[Value]) -> Result<Value> {
    let (x, y, z) = (arg(args, 0), arg(args, 1), arg(args, 2));
    let (Some(text), Some(pattern)) = (x.to_text(), y.to_text()) else {
        return Ok(Value::Null);
    };
    if pattern.is_empty() {
        // X as text (SQLite 3.47+; it used to be X unchanged).
        return Ok(Value::Text(text));
    }
    let Some(replacement) = z.to_text() else {
        return Ok(Value::Null);
    };
    Ok(Value::Text(text.replace(&pattern, &replacement)))
}

/// `round(X [, N])`: X rounded to N decimal places (N clamped to 0..=30),
/// always a REAL; NULL if either is NULL.
fn f_round(args: &[Value]) -> Result<Value> {
    let mut digits = 0;
    if let Some(n) = args.get(1) {
        if n.is_null() {
            return Ok(Value::Null);
        }
        digits = int32(n).clamp(0, 30);
    }
    let x = arg(args, 0);
    if x.is_null() {
        return Ok(Value::Null);
    }
    Ok(Value::real(sqlite_round(
        x.to_f64(),
        usize::try_from(digits).unwrap_or(0),
    )))
}

/// SQLite's `roundFunc`: values beyond 2^52 have no fraction to round;
/// `n == 0` rounds half away from zero by adding ±0.5 and truncating; other
/// `n` print with printf's `%!.*f` and read the text back.
fn sqlite_round(r: f64, n: usize) -> f64 {
    const LIMIT: f64 = 4_503_599_627_370_496.0; // 2^52
    if !(-LIMIT..=LIMIT).contains(&r) {
        return r;
    }
    if n == 0 {
        let adjusted = r + if r < 0.0 { -0.5 } else { 0.5 };
        return (adjusted as i64) as f64;
    }
    let text = sqlite_printf_float(r, FloatStyle::Fixed, n, true, false);
    parse_real_prefix(text.as_bytes()).0
}

/// `substr(X, Y [, Z])`: Z characters of X (bytes when X is a blob)
/// starting at the 1-based position Y, with SQLite's rules for the corners:
/// a negative Y counts from the end, Y = 0 is a position before the first
/// character (so `substr('abc', 0, 2)` is `'a'`), a negative Z takes the
/// characters before Y. Y and Z are 64-bit integers (SQLite 3.47+). NULL
/// if any argument is NULL.
fn f_substr(args: &[Value]) -> Result<Value> {
    // A port of SQLite 3.47+'s substrFunc (64-bit positions).
    let x = arg(args, 0);
    if x.is_null() || matches!(x, Value::Blob(b) if b.is_empty()) {
        // SQLite gets a NULL pointer for an empty blob and returns NULL.
        return Ok(Value::Null);
    }
    let mut p1 = arg(args, 1).to_i64();
    let text: Vec<char> = match x {
        Value::Blob(_) => Vec::new(),
        _ => until_nul(&x.to_text().unwrap_or_default())
            .chars()
            .collect(),
    };
    let len = match x {
        Value::Blob(b) => i64::try_from(b.len()).unwrap_or(i64::MAX),
        _ => i64::try_from(text.len()).unwrap_or(i64::MAX),
    };
    let mut p2 = match args.get(2) {
        Some(z) => {
            if z.is_null() {
                return Ok(Value::Null);
            }
            z.to_i64()
        }
        None => i64::MAX,
    };
    if p1 == 0 && arg(args, 1).is_null() {
        return Ok(Value::Null);
    }
    if p1 < 0 {
        p1 = p1.saturating_add(len);
        if p1 < 0 {
            p2 = if p2 < 0 { 0 } else { p2.saturating_add(p1) };
            p1 = 0;
        }
    } else if p1 > 0 {
        p1 -= 1;
    } else if p2 > 0 {
        p2 -= 1;
    }
    if p2 < 0 {
        p2 = if p2 < p1.saturating_neg() {
            p1
        } else {
            p2.saturating_neg()
        };
        p1 -= p2;
    }
    let start = p1.clamp(0, len);
    let end = start.saturating_add(p2.max(0)).clamp(0, len);
    let (start, end) = (
        usize::try_from(start).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    Ok(match x {
        Value::Blob(b) => Value::Blob(b.get(start..end).unwrap_or(&[]).to_vec()),
        _ => Value::Text(text.get(start..end).unwrap_or(&[]).iter().collect()),
    })
}

/// `trim`, `ltrim`, `rtrim` with an optional set of characters to remove
/// (default: the space character only).
fn trim_impl(args: &[Value], left: bool, right: bool) -> Result<Value> {
    let Some(text) = arg(args, 0).to_text() else {
        return Ok(Value::Null);
    };
    let set: Vec<char> = match args.get(1) {
        None => vec![' '],
        Some(v) => match v.to_text() {
            None => return Ok(Value::Null),
            Some(s) => until_nul(&s).chars().collect(),
        },
    };
    let mut s = text.as_str();
    if left {
        s = s.trim_start_matches(|c| set.contains(&c));
    }
    if right {
        s = s.trim_end_matches(|c| set.contains(&c));
    }
    Ok(Value::Text(s.to_owned()))
}

fn f_trim(args: &[Value]) -> Result<Value> {
    trim_impl(args, true, true)
}

fn f_ltrim(args: &[Value]) -> Result<Value> {
    trim_impl(args, true, false)
}

fn f_rtrim(args: &[Value]) -> Result<Value> {
    trim_impl(args, false, true)
}

/// `typeof(X)`: "null", "integer", "real", "text" or "blob".
fn f_typeof(args: &[Value]) -> Result<Value> {
    Ok(Value::Text(arg(args, 0).type_name().to_owned()))
}

/// `unicode(X)`: the code point of the first character of X's text form;
/// NULL for NULL, empty text, or text starting with NUL.
fn f_unicode(args: &[Value]) -> Result<Value> {
    Ok(arg(args, 0)
        .to_text()
        .and_then(|s| until_nul(&s).chars().next())
        .map_or(Value::Null, |c| Value::Integer(i64::from(u32::from(c)))))
}

/// `zeroblob(N)`: a blob of N zero bytes (none if N < 0); more than
/// SQLite's length limit is an error.
fn f_zeroblob(args: &[Value]) -> Result<Value> {
    let n = arg(args, 0).to_i64().max(0);
    if n > MAX_LENGTH {
        return Err(Error::sql(SqlErrorKind::Overflow, "string or blob too big"));
    }
    Ok(Value::Blob(vec![0; usize::try_from(n).unwrap_or(0)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(v: i64) -> Value {
        Value::Integer(v)
    }
    fn r(v: f64) -> Value {
        Value::Real(v)
    }
    fn t(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
    fn b(v: &[u8]) -> Value {
        Value::Blob(v.to_vec())
    }
    const N: Value = Value::Null;

    /// Calls a function that must succeed.
    fn call(name: &str, args: &[Value]) -> Value {
        call_scalar(name, args).unwrap_or_else(|e| panic!("{name}{args:?}: {e}"))
    }

    fn kind_of(res: Result<Value>) -> Option<SqlErrorKind> {
        match res {
            Err(Error::Sql { kind, .. }) => Some(kind),
            _ => None,
        }
    }

    #[test]
    fn names_are_case_insensitive_and_checked() {
        assert_eq!(call("ABS", &[i(-1)]), i(1));
        assert_eq!(call("Abs", &[i(-1)]), i(1));
        assert_eq!(
            kind_of(call_scalar("nosuch", &[])),
            Some(SqlErrorKind::UnknownFunction)
        );
        let err = call_scalar("nosuch", &[]).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("no such function: nosuch"));
        assert_eq!(kind_of(call_scalar("abs", &[])), Some(SqlErrorKind::Misuse));
        let err = call_scalar("abs", &[i(1), i(2)])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("wrong number of arguments to function abs()")
        );
        assert!(call_scalar("coalesce", &[N]).is_err());
        assert!(call_scalar("coalesce", &[]).is_err());
        assert!(
            call_scalar("min", &[i(1)]).is_err(),
            "one-argument min is the aggregate"
        );
        assert!(call_scalar("iif", &[i(1), i(2)]).is_err());
        assert!(check_scalar("substr", 2).is_ok());
        assert!(check_scalar("SUBSTRING", 3).is_ok());
        assert!(check_scalar("substr", 4).is_err());
        assert!(check_scalar("char", 0).is_ok());
        assert!(scalar_function_names().any(|n| n == "round"));
        assert!(call_scalar("random", &[]).is_err());
    }

    #[test]
    fn abs() {
        assert_eq!(call("abs", &[i(-5)]), i(5));
        assert_eq!(call("abs", &[i(i64::MAX)]), i(i64::MAX));
        assert_eq!(call("abs", &[i(-i64::MAX)]), i(i64::MAX));
        assert_eq!(
            kind_of(call_scalar("abs", &[i(i64::MIN)])),
            Some(SqlErrorKind::Overflow)
        );
        assert_eq!(call("abs", &[r(-1.5)]), r(1.5));
        assert_eq!(call("abs", &[t("12")]), r(12.0));
        assert_eq!(call("abs", &[t(" -3 ")]), r(3.0));
        assert_eq!(call("abs", &[t("abc")]), r(0.0));
        assert_eq!(call("abs", &[b(b"-3")]), r(3.0));
        assert_eq!(call("abs", &[b(b"")]), r(0.0));
        assert_eq!(call("abs", &[N]), N);
        let neg_zero = call("abs", &[r(-0.0)]);
        assert!(matches!(neg_zero, Value::Real(z) if z == 0.0));
    }

    #[test]
    fn length() {
        assert_eq!(call("length", &[t("héllo")]), i(5));
        assert_eq!(call("length", &[t("")]), i(0));
        assert_eq!(call("length", &[t("a\0b")]), i(1));
        assert_eq!(call("length", &[b(&[1, 2, 0])]), i(3));
        assert_eq!(call("length", &[i(-123)]), i(4));
        assert_eq!(call("length", &[r(12.5)]), i(4));
        assert_eq!(call("length", &[r(-0.0)]), i(3));
        assert_eq!(call("length", &[N]), N);
    }

    #[test]
    fn lower_upper() {
        assert_eq!(call("upper", &[t("héllo")]), t("HéLLO"));
        assert_eq!(call("lower", &[t("HÉLLO")]), t("hÉllo"));
        assert_eq!(call("upper", &[r(12.5)]), t("12.5"));
        assert_eq!(call("upper", &[b(b"ab")]), t("AB"));
        assert_eq!(call("lower", &[N]), N);
    }

    #[test]
    fn substr_corners() {
        let s = |args: &[Value]| call("substr", args);
        let abc = t("abcdef");
        assert_eq!(s(&[abc.clone(), i(2)]), t("bcdef"));
        assert_eq!(s(&[abc.clone(), i(2), i(3)]), t("bcd"));
        assert_eq!(s(&[abc.clone(), i(0), i(3)]), t("ab"));
        assert_eq!(s(&[abc.clone(), i(0)]), t("abcdef"));
        assert_eq!(s(&[abc.clone(), i(-2)]), t("ef"));
        assert_eq!(s(&[abc.clone(), i(-10), i(3)]), t(""));
        assert_eq!(s(&[abc.clone(), i(-10), i(6)]), t("ab"));
        assert_eq!(s(&[abc.clone(), i(3), i(-2)]), t("ab"));
        assert_eq!(s(&[abc.clone(), i(3), i(-5)]), t("ab"));
        assert_eq!(s(&[abc.clone(), i(10)]), t(""));
        assert_eq!(s(&[abc.clone(), i(2), i(0)]), t(""));
        assert_eq!(s(&[t("abc"), i(0), i(1)]), t(""));
        assert_eq!(s(&[t("abc"), i(0), i(-1)]), t(""));
        assert_eq!(s(&[t("abc"), i(-1), i(-5)]), t("ab"));
        // Large arguments are 64-bit (SQLite 3.47+), as SQLite answers.
        for (y, z) in [
            (4_294_967_297, 2),
            (2, 2_147_483_648),
            (-2_147_483_648, i64::MAX),
            (2, -2_147_483_648),
            (i64::MIN, i64::MIN),
            (4_294_967_296, 1),
            (-3, i64::MIN),
        ] {
            let sqlite = oracle(
                "SELECT substr('abcdef', ?1, ?2)",
                &[
                    rusqlite::types::Value::Integer(y),
                    rusqlite::types::Value::Integer(z),
                ],
            );
            assert_eq!(
                shown(&s(&[abc.clone(), i(y), i(z)])),
                sqlite,
                "substr(abcdef, {y}, {z})"
            );
        }
        assert_eq!(s(&[abc.clone(), r(2.7)]), t("bcdef"));
        assert_eq!(s(&[abc.clone(), t("2")]), t("bcdef"));
        // Characters, not bytes.
        assert_eq!(s(&[t("héllo"), i(2), i(2)]), t("él"));
        assert_eq!(s(&[t("héllo"), i(-3), i(-2)]), t("hé"));
        // Blobs work in bytes and stay blobs.
        assert_eq!(s(&[b(b"abc"), i(2)]), b(b"bc"));
        assert_eq!(s(&[b(b"abc"), i(-1)]), b(b"c"));
        assert_eq!(s(&[b(b"abc"), i(0), i(2)]), b(b"a"));
        assert_eq!(s(&[b(b"abc"), i(10)]), b(b""));
        assert_eq!(s(&[b(b"abc"), i(10), i(-9)]), b(b"abc"));
        assert_eq!(s(&[b(b""), i(1)]), N, "SQLite: an empty blob gives NULL");
        // Numbers become text.
        assert_eq!(s(&[i(12345), i(2), i(2)]), t("23"));
        assert_eq!(s(&[N, i(1)]), N);
        assert_eq!(s(&[t("abc"), N]), N);
        assert_eq!(s(&[t("abc"), i(1), N]), N);
        assert_eq!(call("substring", &[t("abc"), i(2)]), t("bc"));
    }

    /// SQLite itself (rusqlite's bundled build): `sql` on one value.
    fn oracle(sql: &str, args: &[rusqlite::types::Value]) -> String {
        let db = rusqlite::Connection::open_in_memory().expect("sqlite");
        db.query_row(sql, rusqlite::params_from_iter(args.iter()), |row| {
            Ok(match row.get_ref(0)? {
                rusqlite::types::ValueRef::Real(x) => format!("real {:#x}", x.to_bits()),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                other => format!("{other:?}"),
            })
        })
        .expect("oracle")
    }

    fn shown(v: &Value) -> String {
        match v {
            Value::Real(x) => format!("real {:#x}", x.to_bits()),
            Value::Text(t) => t.clone(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn round() {
        let rd = |x: Value, n: Option<i64>| match n {
            Some(n) => call("round", &[x, i(n)]),
            None => call("round", &[x]),
        };
        assert_eq!(rd(r(2.5), None), r(3.0));
        assert_eq!(rd(r(-2.5), None), r(-3.0));
        assert_eq!(rd(i(7), None), r(7.0));
        assert_eq!(rd(t("2.5"), None), r(3.0));
        // As SQLite (3.47+: correctly rounded digits, so 2.675 is 2.67).
        let cases: &[(f64, i64)] = &[
            (0.5, 0),
            (1.5, 0),
            (-1.5, 0),
            (0.49999999999999994, 0),
            (-0.4, 0),
            (2.675, 2),
            (-2.675, 2),
            (1.005, 2),
            (0.285, 2),
            (9.999999999999999, 2),
            (123456789.123456789, 5),
            (1.23456789, 40),
            (1e-20, 25),
            (0.1, 1),
            (1234.5678, -1),
            (1e300, 2),
            (1e16, 30),
            (255.0, 30),
            (255.0, 2),
            (1.0 / 3.0, 2),
            (2.0 / 3.0, 2),
            (1e-100, 30),
        ];
        for &(x, n) in cases {
            let sqlite = oracle(
                "SELECT round(?1, ?2)",
                &[
                    rusqlite::types::Value::Real(x),
                    rusqlite::types::Value::Integer(n),
                ],
            );
            assert_eq!(shown(&rd(r(x), Some(n))), sqlite, "round({x}, {n})");
        }
    }

    #[test]
    fn typeof_coalesce_ifnull_nullif_iif() {
        assert_eq!(call("typeof", &[r(1.0)]), t("real"));
        assert_eq!(call("typeof", &[N]), t("null"));
        assert_eq!(call("coalesce", &[N, N]), N);
        assert_eq!(call("coalesce", &[N, i(2), i(3)]), i(2));
        assert_eq!(call("ifnull", &[N, i(3)]), i(3));
        assert_eq!(call("ifnull", &[i(1), i(3)]), i(1));
        assert_eq!(call("nullif", &[i(1), r(1.0)]), N);
        assert_eq!(call("nullif", &[N, i(1)]), N);
        assert_eq!(call("nullif", &[i(1), N]), i(1));
        assert_eq!(call("nullif", &[t("a"), t("b")]), t("a"));
        assert_eq!(call("iif", &[i(1), t("a"), t("b")]), t("a"));
        assert_eq!(call("iif", &[N, t("a"), t("b")]), t("b"));
        assert_eq!(call("iif", &[t("0.1"), t("a"), t("b")]), t("a"));
        assert_eq!(call("iif", &[t("abc"), t("a"), t("b")]), t("b"));
    }

    #[test]
    fn hex_instr_replace() {
        assert_eq!(call("hex", &[N]), t(""));
        assert_eq!(call("hex", &[r(12.5)]), t("31322E35"));
        assert_eq!(call("hex", &[t("é")]), t("C3A9"));
        assert_eq!(call("hex", &[b(&[0, 0xff])]), t("00FF"));
        assert_eq!(call("instr", &[t("héllo"), t("l")]), i(3));
        assert_eq!(call("instr", &[b(&[1, 2]), b(&[2])]), i(2));
        assert_eq!(call("instr", &[b(&[1, 2]), b(&[])]), i(1));
        assert_eq!(call("instr", &[t("abc"), t("")]), i(1));
        assert_eq!(call("instr", &[t(""), t("")]), i(1));
        assert_eq!(call("instr", &[t("abc"), t("d")]), i(0));
        assert_eq!(call("instr", &[i(12345), i(34)]), i(3));
        assert_eq!(call("instr", &[t("abc"), N]), N);
        assert_eq!(call("instr", &[b("hél".as_bytes()), t("l")]), i(3));
        assert_eq!(call("replace", &[t("aaa"), t("a"), t("bb")]), t("bbbbbb"));
        assert_eq!(call("replace", &[i(12), t(""), t("x")]), t("12"));
        assert_eq!(call("replace", &[r(1.5), t(""), t("x")]), t("1.5"));
        assert_eq!(call("replace", &[b(b"abc"), t(""), t("x")]), t("abc"));
        assert_eq!(call("replace", &[t("abc"), t("b"), N]), N);
        assert_eq!(call("replace", &[N, t("b"), t("x")]), N);
        assert_eq!(call("replace", &[t("abc"), N, t("x")]), N);
        assert_eq!(call("replace", &[i(123), i(2), i(9)]), t("193"));
        assert_eq!(call("replace", &[t("aaaa"), t("aa"), t("a")]), t("aa"));
    }

    #[test]
    fn trims() {
        assert_eq!(call("trim", &[t("  ab  ")]), t("ab"));
        assert_eq!(call("trim", &[t("\tab ")]), t("\tab"));
        assert_eq!(call("trim", &[t("xxabxx"), t("x")]), t("ab"));
        assert_eq!(call("ltrim", &[t("xyab"), t("yx")]), t("ab"));
        assert_eq!(call("rtrim", &[t("abxy"), t("xy")]), t("ab"));
        assert_eq!(call("ltrim", &[t("  ab  ")]), t("ab  "));
        assert_eq!(call("rtrim", &[t("  ab  ")]), t("  ab"));
        assert_eq!(call("trim", &[t("éaé"), t("é")]), t("a"));
        assert_eq!(call("trim", &[t("abc"), t("")]), t("abc"));
        assert_eq!(call("trim", &[i(12), i(1)]), t("2"));
        assert_eq!(call("trim", &[N]), N);
        assert_eq!(call("trim", &[t("ab"), N]), N);
    }

    #[test]
    fn char_unicode_quote() {
        assert_eq!(call("char", &[i(72), i(105)]), t("Hi"));
        assert_eq!(call("char", &[]), t(""));
        assert_eq!(call("char", &[i(-1)]), t("\u{fffd}"));
        assert_eq!(call("char", &[i(0x110000)]), t("\u{fffd}"));
        assert_eq!(call("char", &[i(0xD800)]), t("\u{fffd}"));
        assert_eq!(call("char", &[N]), t("\0"));
        assert_eq!(call("char", &[t("65"), r(66.9)]), t("AB"));
        assert_eq!(call("unicode", &[t("é")]), i(233));
        assert_eq!(call("unicode", &[t("")]), N);
        assert_eq!(call("unicode", &[b(&[0, 1])]), N);
        assert_eq!(call("unicode", &[N]), N);
        assert_eq!(call("unicode", &[i(12)]), i(49));
        assert_eq!(call("quote", &[t("it's")]), t("'it''s'"));
        assert_eq!(call("quote", &[b(&[0, 0xff])]), t("X'00FF'"));
        assert_eq!(call("quote", &[b(&[])]), t("X''"));
        assert_eq!(call("quote", &[N]), t("NULL"));
        assert_eq!(call("quote", &[i(-12)]), t("-12"));
        assert_eq!(call("quote", &[r(1.5)]), t("1.5"));
        assert_eq!(call("quote", &[r(1.0)]), t("1.0"));
        assert_eq!(call("quote", &[r(-0.0)]), t("0.0"));
        assert_eq!(call("quote", &[r(0.1)]), t("0.1"));
        for x in [
            0.30000000000000004,
            1e15 + 0.25,
            1.0 / 3.0,
            -1.23456789012346e300,
        ] {
            let sqlite = oracle("SELECT quote(?1)", &[rusqlite::types::Value::Real(x)]);
            assert_eq!(shown(&call("quote", &[r(x)])), sqlite, "quote({x})");
        }
        assert_eq!(call("quote", &[r(f64::INFINITY)]), t("9.0e+999"));
        assert_eq!(call("quote", &[r(f64::NEG_INFINITY)]), t("-9.0e+999"));
    }

    #[test]
    fn scalar_min_max() {
        assert_eq!(call("min", &[i(3), i(1), i(2)]), i(1));
        assert_eq!(call("max", &[i(3), i(1), i(2)]), i(3));
        assert_eq!(call("min", &[i(2), N, i(1)]), N);
        assert_eq!(call("max", &[t("a"), i(1), b(&[0])]), b(&[0]));
        assert_eq!(call("min", &[t("a"), i(1), b(&[0])]), i(1));
        // Ties: min keeps the last, max the first, as in SQLite.
        assert_eq!(call("min", &[i(1), r(1.0)]), r(1.0));
        assert_eq!(call("max", &[i(1), r(1.0)]), i(1));
    }

    #[test]
    fn like_glob_zeroblob_functions() {
        assert_eq!(call("like", &[t("a_"), t("AB")]), i(1));
        assert_eq!(call("like", &[t("a!%"), t("a%"), t("!")]), i(1));
        assert_eq!(call("like", &[t("a"), t("a"), N]), N);
        assert_eq!(call("like", &[N, t("a")]), N);
        assert_eq!(call("like", &[i(1), i(1)]), i(1));
        assert_eq!(call("like", &[t("1_"), i(12)]), i(1));
        assert_eq!(
            kind_of(call_scalar("like", &[t("a"), t("a"), t("xy")])),
            Some(SqlErrorKind::Misuse)
        );
        assert!(call_scalar("like", &[N, t("a"), t("")]).is_err());
        assert_eq!(call("glob", &[t("a*"), t("abc")]), i(1));
        assert_eq!(call("glob", &[t("A*"), t("abc")]), i(0));
        assert_eq!(call("glob", &[t("a*"), N]), N);
        assert_eq!(call("zeroblob", &[i(3)]), b(&[0, 0, 0]));
        assert_eq!(call("zeroblob", &[i(-1)]), b(&[]));
        assert_eq!(
            kind_of(call_scalar("zeroblob", &[i(1_000_000_001)])),
            Some(SqlErrorKind::Overflow)
        );
    }

    #[test]
    fn no_function_panics_on_odd_arguments() {
        let odd = [
            N,
            i(0),
            i(-1),
            i(i64::MIN),
            i(i64::MAX),
            r(-0.0),
            r(f64::INFINITY),
            r(f64::NEG_INFINITY),
            r(5e-324),
            r(1.7976931348623157e308),
            t(""),
            t("\0"),
            t("é\0x"),
            t("%_[^]-"),
            b(&[]),
            b(&[0xff, 0xfe]),
        ];
        for name in scalar_function_names() {
            if name == "zeroblob" {
                continue; // would allocate i64::MAX bytes: refused, tested above
            }
            for x in &odd {
                for y in &odd {
                    for n in 0..=3 {
                        let args: Vec<Value> =
                            [x, y, x].iter().take(n).map(|v| (*v).clone()).collect();
                        let _ = call_scalar(name, &args);
                    }
                }
            }
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_value() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<i64>().prop_map(Value::Integer),
                (-40i64..40).prop_map(Value::Integer),
                any::<f64>().prop_map(Value::real),
                (-1e6f64..1e6).prop_map(Value::real),
                ".{0,8}".prop_map(Value::Text),
                proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Blob),
            ]
        }

        proptest! {
            #[test]
            fn no_function_panics(args in proptest::collection::vec(any_value(), 0..4)) {
                for name in scalar_function_names() {
                    if name == "zeroblob" {
                        continue;
                    }
                    if let Ok(Value::Real(x)) = call_scalar(name, &args) {
                        prop_assert!(!x.is_nan(), "{}", name);
                    }
                }
            }

            #[test]
            fn substr_concatenation_rebuilds_the_text(text in "[a-zé]{0,10}", k in 0i64..12) {
                // substr(X, 1, k) || substr(X, k + 1) == X
                let x = Value::Text(text.clone());
                let head = call("substr", &[x.clone(), Value::Integer(1), Value::Integer(k)]);
                let tail = call("substr", &[x, Value::Integer(k + 1)]);
                prop_assert_eq!(crate::types::concat(&head, &tail), Value::Text(text));
            }

            #[test]
            fn round_is_within_half_a_unit(x in -1e9f64..1e9, n in 0i64..6) {
                let got = call("round", &[Value::Real(x), Value::Integer(n)]);
                let Value::Real(y) = got else { return Err(TestCaseError::fail("not a real")) };
                let unit = 10f64.powi(i32::try_from(-n).unwrap_or(0));
                prop_assert!((y - x).abs() <= unit * 0.5 + x.abs() * 1e-15, "{} {} {}", x, n, y);
            }
        }
    }
}
