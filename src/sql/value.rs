//! SQL values and everything the engine does with one or two of them:
//! compare, sort, compute, cast, convert to text, store under a column's
//! affinity, and match against LIKE and GLOB patterns.
//!
//! The semantics are SQLite 3.40's, ported from its source (`vdbe.c`,
//! `vdbemem.c`, `util.c`, `printf.c`, `func.c`) rather than re-derived, so
//! that queries give the answers SQLite users expect. The one deliberate
//! difference: integer overflow in `+`, `-`, `*`, unary minus and `/` is an
//! [`SqlErrorKind::Overflow`] error, where SQLite would quietly switch to a
//! REAL and lose precision.
//!
//! # Invariants
//!
//! * A [`Value::Real`] is never NaN. Every operation that can produce a NaN
//!   (`inf - inf`, `0 * inf`) goes through [`Value::real`], which turns it
//!   into [`Value::Null`], as SQLite does.
//! * Nothing here panics, whatever the input: no unchecked slicing, no
//!   unchecked integer arithmetic, no `unwrap`.
//! * Text is compared bytewise (SQLite's BINARY collation); case-folding is
//!   ASCII-only everywhere (LIKE, `upper`, `lower`), as in SQLite built
//!   without ICU.
//!
//! # Sort order and comparison
//!
//! ```text
//!   NULL  <  INTEGER and REAL (numerically, exactly)  <  TEXT (bytes)  <  BLOB (memcmp)
//! ```
//!
//! [`compare`] is that total order; it is what ORDER BY, GROUP BY, DISTINCT,
//! `min`/`max` and index keys use. Integers and reals are compared exactly,
//! never by converting the integer to a double: `9007199254740993 >
//! 9007199254740992.0` and `i64::MAX < 9223372036854775808.0`. The SQL
//! operators (`=`, `<`, ...) are three-valued: [`sql_cmp`] is `None` when
//! either side is NULL. Before comparing, the binder may apply *comparison
//! affinity* ([`comparison_affinity`], [`apply_comparison_affinity`]), which
//! is how `int_column = '5'` finds the row holding 5.
//!
//! # Numbers hidden in text
//!
//! Text (and blob bytes) turn into numbers in several places, with subtly
//! different rules, each copied from SQLite:
//!
//! ```text
//!   arithmetic, truthiness   the numeric prefix: '12abc' -> 12, 'abc' -> 0,
//!                            '1.5e3x' -> 1500.0 ('1.0' stays REAL 1.0)
//!   CAST AS INTEGER          the integer prefix only: '12.9' -> 12, '1e3' -> 1
//!   CAST AS REAL             the real prefix: '1e3x' -> 1000.0
//!   CAST AS NUMERIC          the prefix, as INTEGER when exact: '3.0' -> 3
//!   affinity (storage)       only a well-formed number converts: '12' -> 12,
//!                            ' 1e3 ' -> 1000, '12abc' stays text
//! ```
//!
//! The scanners [`parse_real_prefix`] and [`parse_int_prefix`] mirror
//! SQLite's `sqlite3AtoF` and `sqlite3Atoi64`, including what they report
//! about the shape of the text; the value of a real is computed by Rust's
//! correctly rounded parser.
//!
//! # Text form of a REAL
//!
//! Reals print as SQLite's `%!.15g`: fifteen significant digits rounded half
//! up, trailing zeros dropped but at least one digit after the point, and
//! exponent form when the exponent is below -4 or above 14:
//! `1.0`, `0.1`, `100.0`, `1.0e+20`, `1.23456789012346e+20`, `1.0e-05`,
//! `Inf`. Negative zero prints as `0.0`.
//!
//! # Embedded NUL characters
//!
//! SQLite's C functions stop at the first NUL character in some places and
//! not in others. This module follows it where that is documented or cheap
//! (LIKE and GLOB stop at a NUL); elsewhere text is its full length.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

use crate::error::{Error, Result, SqlErrorKind};

/// One SQL value: the five storage classes of SQLite.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL NULL: unknown or absent.
    Null,
    /// A signed 64-bit integer.
    Integer(i64),
    /// A 64-bit IEEE float; never NaN (see [`Value::real`]).
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Uninterpreted bytes.
    Blob(Vec<u8>),
}

impl Value {
    /// A REAL, or NULL when `f` is NaN (a REAL is never NaN).
    pub fn real(f: f64) -> Value {
        if f.is_nan() {
            Value::Null
        } else {
            Value::Real(f)
        }
    }

    /// The name SQL's `typeof()` gives this value's storage class:
    /// "null", "integer", "real", "text" or "blob".
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Integer(_) => "integer",
            Value::Real(_) => "real",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
        }
    }

    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The truth value of this value in WHERE, CASE WHEN, AND, OR, NOT:
    /// `None` for NULL; a number is true when it is not zero; text and blobs
    /// are read as their numeric prefix (`'0.5'` and `'12abc'` are true,
    /// `'abc'` and `'0'` are false).
    pub fn truthy(&self) -> Option<bool> {
        match self {
            Value::Null => None,
            Value::Integer(i) => Some(*i != 0),
            Value::Real(r) => Some(*r != 0.0),
            Value::Text(s) => Some(parse_real_prefix(s.as_bytes()).0 != 0.0),
            Value::Blob(b) => Some(parse_real_prefix(b).0 != 0.0),
        }
    }

    /// The text form of this value, as `CAST(x AS TEXT)` gives it; `None`
    /// for NULL. Integers print in decimal, reals as described in the module
    /// documentation, blobs as their bytes read as UTF-8 (invalid sequences
    /// become U+FFFD, where SQLite would keep the raw bytes).
    pub fn to_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Integer(i) => Some(i.to_string()),
            Value::Real(r) => Some(format_real(*r)),
            Value::Text(s) => Some(s.clone()),
            Value::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
        }
    }

    /// This value as a 64-bit integer, the way SQLite's
    /// `sqlite3_value_int64` reads it: NULL is 0, a real is truncated toward
    /// zero and saturates at the `i64` range, text and blobs give their
    /// integer prefix (saturating; 0 when there is none).
    pub fn to_i64(&self) -> i64 {
        match self {
            Value::Null => 0,
            Value::Integer(i) => *i,
            Value::Real(r) => real_to_i64_saturating(*r),
            Value::Text(s) => parse_int_prefix(s.as_bytes()).0,
            Value::Blob(b) => parse_int_prefix(b).0,
        }
    }

    /// This value as a double, the way SQLite's `sqlite3_value_double`
    /// reads it: NULL is 0.0, text and blobs give their numeric prefix
    /// (0.0 when there is none).
    pub fn to_f64(&self) -> f64 {
        match self {
            Value::Null => 0.0,
            Value::Integer(i) => *i as f64,
            Value::Real(r) => *r,
            Value::Text(s) => parse_real_prefix(s.as_bytes()).0,
            Value::Blob(b) => parse_real_prefix(b).0,
        }
    }

    /// The bytes of this value's text form (a blob's own bytes); `None` for
    /// NULL. This is what `hex()`, `instr()` on blobs and `CAST(x AS BLOB)`
    /// see.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Value::Blob(b) => Some(b.clone()),
            other => other.to_text().map(String::into_bytes),
        }
    }
}

impl fmt::Display for Value {
    /// The text form, or `NULL` for NULL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_text() {
            Some(t) => f.write_str(&t),
            None => f.write_str("NULL"),
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Integer(i64::from(v))
    }
}

impl From<f64> for Value {
    /// NaN becomes NULL.
    fn from(v: f64) -> Self {
        Value::real(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Blob(v.to_vec())
    }
}

impl From<bool> for Value {
    /// SQL has no boolean storage class: true is 1, false is 0.
    fn from(v: bool) -> Self {
        Value::Integer(i64::from(v))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` is NULL.
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

// ---------------------------------------------------------------------------
// Numbers hidden in text
// ---------------------------------------------------------------------------

/// What [`parse_real_prefix`] found, in the terms of SQLite's `sqlite3AtoF`
/// return codes (noted on each variant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RealShape {
    /// Not a well-formed number; the value is that of the longest numeric
    /// prefix (0.0 if none). (`0`)
    NotANumber,
    /// Not a well-formed number, but it starts with one that has a decimal
    /// point or an exponent, e.g. `'1.5abc'`. (`-1`)
    RealPrefix,
    /// A well-formed integer literal, optionally signed and surrounded by
    /// spaces, e.g. `' -12 '`. (`1`)
    Integer,
    /// A well-formed number with a decimal point or exponent. (`2` or `3`)
    Real,
}

/// What [`parse_int_prefix`] found, in the terms of SQLite's
/// `sqlite3Atoi64` return codes (noted on each variant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntShape {
    /// A well-formed integer that fits in an `i64`. (`0`)
    Exact,
    /// An integer that fits, followed by other text, e.g. `'12abc'` or
    /// `'12.5'`. (`1`)
    Prefix,
    /// No digits at all; the value is 0. (`-1`)
    NoDigits,
    /// Digits that do not fit in an `i64`; the value is saturated. (`2`)
    TooLarge,
    /// Exactly `9223372036854775808` (without a minus sign); the value is
    /// `i64::MAX`. (`3`)
    TwoToThe63,
}

/// SQLite's idea of white space (`sqlite3Isspace`): space, \t, \n, \v, \f, \r.
pub(crate) fn is_space(b: u8) -> bool {
    b == b' ' || (0x09..=0x0d).contains(&b)
}

/// Scans `z` for a real number the way SQLite's `sqlite3AtoF` does: leading
/// and trailing spaces, a sign, digits, a decimal point, an exponent. Returns
/// the value of the longest numeric prefix (0.0 when there is none; a huge
/// exponent gives ±infinity, never NaN) and the shape of the whole input.
pub fn parse_real_prefix(z: &[u8]) -> (f64, RealShape) {
    let n = z.len();
    let digit = |i: usize| z.get(i).is_some_and(u8::is_ascii_digit);
    let at = |i: usize| z.get(i).copied().unwrap_or(0);

    let mut i = 0;
    while i < n && is_space(at(i)) {
        i += 1;
    }
    if i >= n {
        return (0.0, RealShape::NotANumber);
    }
    let negative = at(i) == b'-';
    if negative || at(i) == b'+' {
        i += 1;
    }
    let int_start = i;
    while digit(i) {
        i += 1;
    }
    let int_digits = z.get(int_start..i).unwrap_or(&[]);
    let mut frac_digits: &[u8] = &[];
    let mut e_type = 1; // 1: integer so far, 2: has '.' or 'e', 3: both
    let mut e_valid = true; // an 'e' is followed by at least one digit
    let mut exponent: i32 = 0;
    if at(i) == b'.' && i < n {
        i += 1;
        e_type += 1;
        let start = i;
        while digit(i) {
            i += 1;
        }
        frac_digits = z.get(start..i).unwrap_or(&[]);
    }
    if i < n && (at(i) == b'e' || at(i) == b'E') {
        i += 1;
        e_valid = false;
        e_type += 1;
        let mut esign = 1;
        if at(i) == b'-' && i < n {
            esign = -1;
            i += 1;
        } else if at(i) == b'+' && i < n {
            i += 1;
        }
        while digit(i) {
            // SQLite caps the exponent at 10000.
            exponent = if exponent < 10000 {
                exponent * 10 + i32::from(at(i) - b'0')
            } else {
                10000
            };
            i += 1;
            e_valid = true;
        }
        exponent *= esign;
    }
    while i < n && is_space(at(i)) {
        i += 1;
    }

    let n_digit = int_digits.len() + frac_digits.len();
    let value = if n_digit == 0 {
        0.0
    } else {
        let mut text = String::with_capacity(n_digit + 16);
        if negative {
            text.push('-');
        }
        push_ascii(
            &mut text,
            if int_digits.is_empty() {
                b"0"
            } else {
                int_digits
            },
        );
        text.push('.');
        push_ascii(
            &mut text,
            if frac_digits.is_empty() {
                b"0"
            } else {
                frac_digits
            },
        );
        text.push('e');
        text.push_str(&exponent.to_string());
        text.parse::<f64>().unwrap_or(0.0)
    };
    let shape = if i == n && n_digit > 0 && e_valid {
        if e_type == 1 {
            RealShape::Integer
        } else {
            RealShape::Real
        }
    } else if e_type >= 2 && (e_type == 3 || e_valid) && n_digit > 0 {
        RealShape::RealPrefix
    } else {
        RealShape::NotANumber
    };
    (value, shape)
}

/// Appends ASCII digits to `s`.
fn push_ascii(s: &mut String, digits: &[u8]) {
    s.extend(digits.iter().map(|&b| char::from(b)));
}

/// Scans `z` for an integer the way SQLite's `sqlite3Atoi64` does: leading
/// spaces, a sign, digits; returns the value of the integer prefix
/// (saturated to the `i64` range, 0 when there are no digits) and the shape
/// of the whole input.
pub fn parse_int_prefix(z: &[u8]) -> (i64, IntShape) {
    let n = z.len();
    let at = |i: usize| z.get(i).copied().unwrap_or(0);
    let mut i = 0;
    while i < n && is_space(at(i)) {
        i += 1;
    }
    let negative = i < n && at(i) == b'-';
    if i < n && (at(i) == b'-' || at(i) == b'+') {
        i += 1;
    }
    let start = i;
    while i < n && at(i) == b'0' {
        i += 1;
    }
    let first_significant = i;
    // Exact for up to 19 digits (< 10^19 < 2^64); wraps harmlessly beyond,
    // where the digit count alone decides.
    let mut u: u64 = 0;
    while i < n && at(i).is_ascii_digit() {
        u = u.wrapping_mul(10).wrapping_add(u64::from(at(i) - b'0'));
        i += 1;
    }
    let n_significant = i - first_significant;
    let mut shape = if i == start {
        IntShape::NoDigits
    } else if z.get(i..).unwrap_or(&[]).iter().any(|&b| !is_space(b)) {
        IntShape::Prefix
    } else {
        IntShape::Exact
    };
    const TWO_63: u64 = 1 << 63;
    let saturated = if negative { i64::MIN } else { i64::MAX };
    let value = if n_significant > 19 || (n_significant == 19 && u >= TWO_63) {
        if n_significant > 19 || u > TWO_63 {
            shape = IntShape::TooLarge;
            saturated
        } else if negative {
            i64::MIN // exactly -2^63 fits
        } else {
            shape = IntShape::TwoToThe63;
            i64::MAX
        }
    } else {
        // u < 2^63 here, so the conversion is exact.
        let v = i64::try_from(u).unwrap_or(i64::MAX);
        if negative {
            -v
        } else {
            v
        }
    };
    (value, shape)
}

/// SQLite's `sqlite3RealSameAsInt`: whether `r` is exactly the integer `i`
/// and small enough (|i| < 2^51) to be safely treated as one.
fn real_same_as_int(r: f64, i: i64) -> bool {
    const LIMIT: i64 = 2_251_799_813_685_248; // 2^51
    r == 0.0 || (r.to_bits() == (i as f64).to_bits() && (-LIMIT..LIMIT).contains(&i))
}

/// SQLite's `doubleToInt64`: truncation toward zero, saturating at the
/// `i64` range; NaN (which a [`Value`] never holds) gives 0.
pub(crate) fn real_to_i64_saturating(r: f64) -> i64 {
    // `as` truncates toward zero and saturates, exactly as wanted.
    r as i64
}

/// A number read out of a value for arithmetic.
#[derive(Clone, Copy, Debug)]
enum Num {
    Int(i64),
    Real(f64),
}

/// The numeric type and value of text for arithmetic (SQLite's
/// `computeNumericType`): an integer literal or an integer prefix gives an
/// INTEGER, anything with a decimal point or exponent gives a REAL.
fn numeric_of_bytes(z: &[u8]) -> Num {
    let (r, shape) = parse_real_prefix(z);
    match shape {
        RealShape::NotANumber => {
            let (i, ishape) = parse_int_prefix(z);
            if matches!(
                ishape,
                IntShape::Exact | IntShape::Prefix | IntShape::NoDigits
            ) {
                Num::Int(i)
            } else {
                Num::Real(r)
            }
        }
        RealShape::RealPrefix | RealShape::Real => Num::Real(r),
        RealShape::Integer => match parse_int_prefix(z) {
            (i, IntShape::Exact) => Num::Int(i),
            _ => Num::Real(r),
        },
    }
}

/// The number in `v` for arithmetic; `None` for NULL.
fn numeric(v: &Value) -> Option<Num> {
    match v {
        Value::Null => None,
        Value::Integer(i) => Some(Num::Int(*i)),
        Value::Real(r) => Some(Num::Real(*r)),
        Value::Text(s) => Some(numeric_of_bytes(s.as_bytes())),
        Value::Blob(b) => Some(numeric_of_bytes(b)),
    }
}

/// `CAST(text AS NUMERIC)` (SQLite's `sqlite3VdbeMemNumerify`): the numeric
/// prefix, as an INTEGER when that is exact.
fn numerify_bytes(z: &[u8]) -> Value {
    let (r, shape) = parse_real_prefix(z);
    if matches!(shape, RealShape::NotANumber | RealShape::Integer) {
        let (i, ishape) = parse_int_prefix(z);
        if matches!(
            ishape,
            IntShape::Exact | IntShape::Prefix | IntShape::NoDigits
        ) {
            return Value::Integer(i);
        }
    }
    let i = real_to_i64_saturating(r);
    if real_same_as_int(r, i) {
        Value::Integer(i)
    } else {
        Value::real(r)
    }
}

/// Numeric affinity applied to text (SQLite's `applyNumericAffinity`): only
/// a well-formed number converts; `None` when the text stays text.
/// `try_for_int` also turns an integral REAL into an INTEGER.
pub(crate) fn numeric_affinity_of_text(s: &str, try_for_int: bool) -> Option<Value> {
    let z = s.as_bytes();
    let (r, shape) = parse_real_prefix(z);
    match shape {
        RealShape::NotANumber | RealShape::RealPrefix => None,
        RealShape::Integer => {
            let i = real_to_i64_saturating(r);
            if real_same_as_int(r, i) {
                return Some(Value::Integer(i));
            }
            match parse_int_prefix(z) {
                (i, IntShape::Exact) => Some(Value::Integer(i)),
                _ => Some(real_maybe_int(r, try_for_int)),
            }
        }
        RealShape::Real => Some(real_maybe_int(r, try_for_int)),
    }
}

fn real_maybe_int(r: f64, try_for_int: bool) -> Value {
    if try_for_int {
        integer_affinity(r)
    } else {
        Value::real(r)
    }
}

/// SQLite's `sqlite3VdbeIntegerAffinity`: a REAL holding an integer strictly
/// inside the `i64` range becomes that INTEGER; any other REAL stays.
fn integer_affinity(r: f64) -> Value {
    let i = real_to_i64_saturating(r);
    if r == i as f64 && i > i64::MIN && i < i64::MAX {
        Value::Integer(i)
    } else {
        Value::real(r)
    }
}

// ---------------------------------------------------------------------------
// Text form of a REAL
// ---------------------------------------------------------------------------

/// The decimal digits of |x| (finite, not zero), correctly rounded to `n`
/// significant digits by Rust's exact formatter, and the decimal exponent of
/// the first digit: 1234.5 with n = 3 gives ("123", 3).
pub(crate) fn sci_digits(x: f64, n: usize) -> (Vec<u8>, i32) {
    let s = format!("{:.*e}", n.saturating_sub(1), x.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let digits = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

/// The first 15 significant digits of |x| rounded half up (as SQLite's
/// printf does), and the decimal exponent of the first digit.
fn digits15(x: f64) -> ([u8; 15], i32) {
    let (all, mut exp) = sci_digits(x, 40);
    let mut d = [b'0'; 15];
    for (slot, &b) in d.iter_mut().zip(all.iter()) {
        *slot = b;
    }
    if all.get(15).is_some_and(|&b| b >= b'5') {
        let mut carry = true;
        for slot in d.iter_mut().rev() {
            if *slot == b'9' {
                *slot = b'0';
            } else {
                *slot += 1;
                carry = false;
                break;
            }
        }
        if carry {
            d = [b'0'; 15];
            d[0] = b'1';
            exp += 1;
        }
    }
    (d, exp)
}

/// Removes trailing '0' digits, keeping at least one digit.
fn trim_zeros(digits: &[u8]) -> &[u8] {
    let end = digits
        .iter()
        .rposition(|&b| b != b'0')
        .map_or(1, |p| p + 1)
        .min(digits.len());
    digits.get(..end).unwrap_or(digits)
}

/// Appends an exponent suffix the way SQLite's printf does: `e+05`,
/// `e-10`, `e+308` (at least two digits).
fn push_exponent(out: &mut String, exp: i32) {
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}", exp.unsigned_abs()));
}

/// Renders a double the way SQLite's `%!.15g` does: the text form of a REAL
/// (see the module documentation).
pub(crate) fn format_real(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-Inf" } else { "Inf" }.to_owned();
    }
    if x == 0.0 {
        return "0.0".to_owned();
    }
    let (d, exp) = digits15(x);
    let mut out = String::with_capacity(24);
    if x < 0.0 {
        out.push('-');
    }
    if !(-4..=14).contains(&exp) {
        out.push(char::from(d[0]));
        out.push('.');
        push_ascii(&mut out, trim_zeros(d.get(1..).unwrap_or(&[])));
        push_exponent(&mut out, exp);
    } else if exp >= 0 {
        let split = usize::try_from(exp).unwrap_or(0).saturating_add(1).min(15);
        let (int_part, frac_part) = d.split_at(split);
        push_ascii(&mut out, int_part);
        out.push('.');
        push_ascii(
            &mut out,
            if frac_part.is_empty() {
                b"0"
            } else {
                trim_zeros(frac_part)
            },
        );
    } else {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        push_ascii(&mut out, trim_zeros(&d));
    }
    out
}

/// Renders a double the way SQLite's `%!.20e` does (used by `quote()` when
/// the 15-digit form would not read back as the same double): 21
/// significant digits, trailing zeros dropped.
pub(crate) fn format_real_exp20(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-Inf" } else { "Inf" }.to_owned();
    }
    let mut out = String::with_capacity(32);
    if x < 0.0 {
        out.push('-');
    }
    if x == 0.0 {
        out.push_str("0.0e+00");
        return out;
    }
    // SQLite's long-double digit loop effectively truncates here.
    let (all, exp) = sci_digits(x, 60);
    let d = all.get(..21).unwrap_or(&all);
    out.push(char::from(d.first().copied().unwrap_or(b'0')));
    out.push('.');
    push_ascii(&mut out, trim_zeros(d.get(1..).unwrap_or(b"0")));
    push_exponent(&mut out, exp);
    out
}

// ---------------------------------------------------------------------------
// Comparison and sort order
// ---------------------------------------------------------------------------

/// Compares an integer with a real exactly.
fn cmp_int_real(i: i64, r: f64) -> Ordering {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if r.is_nan() {
        return Ordering::Greater; // unreachable for a Value; NULL-like
    }
    if r >= TWO_63 {
        return Ordering::Less;
    }
    if r < -TWO_63 {
        return Ordering::Greater;
    }
    // -2^63 <= r < 2^63: its integer part is an exact i64.
    let t = r.trunc();
    let ti = t as i64;
    match i.cmp(&ti) {
        Ordering::Equal => {
            let frac = r - t;
            if frac > 0.0 {
                Ordering::Less
            } else if frac < 0.0 {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        other => other,
    }
}

/// The rank of a value's storage class in the sort order.
fn class_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Integer(_) | Value::Real(_) => 1,
        Value::Text(_) => 2,
        Value::Blob(_) => 3,
    }
}

/// SQLite's sort order, a total order: NULL < numbers (INTEGER and REAL
/// compared numerically and exactly) < TEXT (bytewise) < BLOB (memcmp).
/// Two NULLs are equal here (unlike under `=`).
pub fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::Real(x), Value::Real(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Integer(x), Value::Real(y)) => cmp_int_real(*x, *y),
        (Value::Real(x), Value::Integer(y)) => cmp_int_real(*y, *x).reverse(),
        (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Blob(x), Value::Blob(y)) => x.as_slice().cmp(y.as_slice()),
        _ => class_rank(a).cmp(&class_rank(b)),
    }
}

/// A [`Value`] ordered and compared by [`compare`], for sorted sets and
/// maps (DISTINCT, GROUP BY, ORDER BY). Under it `1` and `1.0` are equal,
/// and so are two NULLs.
#[derive(Clone, Debug)]
pub struct OrderedValue(pub Value);

impl PartialEq for OrderedValue {
    fn eq(&self, other: &Self) -> bool {
        compare(&self.0, &other.0) == Ordering::Equal
    }
}

impl Eq for OrderedValue {}

impl PartialOrd for OrderedValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedValue {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.0, &other.0)
    }
}

/// A set of values under [`compare`] equality, for DISTINCT.
pub type DistinctSet = BTreeSet<OrderedValue>;

/// The SQL comparison of two values: `None` when either is NULL, else
/// [`compare`]. Comparison affinity, if any, must already be applied.
pub fn sql_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    if a.is_null() || b.is_null() {
        None
    } else {
        Some(compare(a, b))
    }
}

fn cmp_to_value(a: &Value, b: &Value, test: fn(Ordering) -> bool) -> Value {
    sql_cmp(a, b).map_or(Value::Null, |o| Value::from(test(o)))
}

/// `a = b`: 1, 0, or NULL when either side is NULL.
pub fn eq(a: &Value, b: &Value) -> Value {
    cmp_to_value(a, b, Ordering::is_eq)
}

/// `a <> b`: 1, 0, or NULL when either side is NULL.
pub fn ne(a: &Value, b: &Value) -> Value {
    cmp_to_value(a, b, Ordering::is_ne)
}

/// `a < b`: 1, 0, or NULL when either side is NULL.
pub fn lt(a: &Value, b: &Value) -> Value {
    cmp_to_value(a, b, Ordering::is_lt)
}

/// `a <= b`: 1, 0, or NULL when either side is NULL.
pub fn le(a: &Value, b: &Value) -> Value {
    cmp_to_value(a, b, Ordering::is_le)
}

/// `a > b`: 1, 0, or NULL when either side is NULL.
pub fn gt(a: &Value, b: &Value) -> Value {
    cmp_to_value(a, b, Ordering::is_gt)
}

/// `a >= b`: 1, 0, or NULL when either side is NULL.
pub fn ge(a: &Value, b: &Value) -> Value {
    cmp_to_value(a, b, Ordering::is_ge)
}

/// `a IS b`: like `=`, but NULL IS NULL is 1 and NULL IS 1 is 0; never NULL.
pub fn is(a: &Value, b: &Value) -> Value {
    Value::from(match (a.is_null(), b.is_null()) {
        (true, true) => true,
        (false, false) => compare(a, b) == Ordering::Equal,
        _ => false,
    })
}

/// `a IS NOT b`: the negation of [`is`]; never NULL.
pub fn is_not(a: &Value, b: &Value) -> Value {
    Value::from(is(a, b) == Value::Integer(0))
}

/// `NOT a`: NULL stays NULL.
pub fn not(a: &Value) -> Value {
    a.truthy().map_or(Value::Null, |t| Value::from(!t))
}

/// `a AND b`, three-valued: false wins over NULL.
pub fn and(a: &Value, b: &Value) -> Value {
    match (a.truthy(), b.truthy()) {
        (Some(false), _) | (_, Some(false)) => Value::Integer(0),
        (Some(true), Some(true)) => Value::Integer(1),
        _ => Value::Null,
    }
}

/// `a OR b`, three-valued: true wins over NULL.
pub fn or(a: &Value, b: &Value) -> Value {
    match (a.truthy(), b.truthy()) {
        (Some(true), _) | (_, Some(true)) => Value::Integer(1),
        (Some(false), Some(false)) => Value::Integer(0),
        _ => Value::Null,
    }
}

// ---------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------

fn overflow() -> Error {
    Error::sql(SqlErrorKind::Overflow, "integer overflow")
}

#[derive(Clone, Copy)]
enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// SQLite's arithmetic opcodes (`OP_Add` and friends), with overflow as an
/// error.
fn arith(a: &Value, b: &Value, op: ArithOp) -> Result<Value> {
    let (Some(x), Some(y)) = (numeric(a), numeric(b)) else {
        return Ok(Value::Null);
    };
    if let (Num::Int(x), Num::Int(y)) = (x, y) {
        let r = match op {
            ArithOp::Add => x.checked_add(y).ok_or_else(overflow)?,
            ArithOp::Sub => x.checked_sub(y).ok_or_else(overflow)?,
            ArithOp::Mul => x.checked_mul(y).ok_or_else(overflow)?,
            ArithOp::Div => {
                if y == 0 {
                    return Ok(Value::Null);
                }
                x.checked_div(y).ok_or_else(overflow)?
            }
            ArithOp::Rem => {
                if y == 0 {
                    return Ok(Value::Null);
                }
                // i64::MIN % -1 is 0 (SQLite computes it as % 1).
                x.checked_rem(y).unwrap_or(0)
            }
        };
        return Ok(Value::Integer(r));
    }
    let as_f64 = |n: Num| match n {
        Num::Int(i) => i as f64,
        Num::Real(r) => r,
    };
    let (rx, ry) = (as_f64(x), as_f64(y));
    let r = match op {
        ArithOp::Add => rx + ry,
        ArithOp::Sub => rx - ry,
        ArithOp::Mul => rx * ry,
        ArithOp::Div => {
            if ry == 0.0 {
                return Ok(Value::Null);
            }
            rx / ry
        }
        ArithOp::Rem => {
            // SQLite casts both operands to integers (from the original
            // values: '1e3' % 7 is 1 % 7) and returns a REAL.
            let (ix, iy) = (a.to_i64(), b.to_i64());
            if iy == 0 {
                return Ok(Value::Null);
            }
            ix.checked_rem(iy).unwrap_or(0) as f64
        }
    };
    Ok(Value::real(r))
}

/// `a + b`. NULL if either is NULL; text and blobs are read as numbers
/// (see the module documentation); INTEGER overflow is an error; a NaN
/// result (`inf + -inf`) is NULL.
pub fn add(a: &Value, b: &Value) -> Result<Value> {
    arith(a, b, ArithOp::Add)
}

/// `a - b`; see [`add`].
pub fn sub(a: &Value, b: &Value) -> Result<Value> {
    arith(a, b, ArithOp::Sub)
}

/// `a * b`; see [`add`].
pub fn mul(a: &Value, b: &Value) -> Result<Value> {
    arith(a, b, ArithOp::Mul)
}

/// `a / b`; see [`add`]. Integer division truncates toward zero; division
/// by zero (integer or real) is NULL; `i64::MIN / -1` is an overflow error.
pub fn div(a: &Value, b: &Value) -> Result<Value> {
    arith(a, b, ArithOp::Div)
}

/// `a % b`; see [`add`]. The sign follows the dividend; a zero divisor
/// gives NULL. If either operand is not an integer, both are cast to
/// integers first and the result is a REAL (`5.5 % 2` is `1.0`).
pub fn rem(a: &Value, b: &Value) -> Result<Value> {
    arith(a, b, ArithOp::Rem)
}

/// Unary `-a`, computed as `0 - a` as SQLite does: NULL stays NULL,
/// `-'abc'` is 0, `-'1.5'` is -1.5, `-i64::MIN` is an overflow error.
pub fn neg(a: &Value) -> Result<Value> {
    sub(&Value::Integer(0), a)
}

/// Unary `+a`: a no-op on every type (`+'abc'` stays the text `'abc'`).
pub fn pos(a: &Value) -> Value {
    a.clone()
}

/// `a || b`: NULL if either is NULL, else the text forms joined.
pub fn concat(a: &Value, b: &Value) -> Value {
    match (a.to_text(), b.to_text()) {
        (Some(mut x), Some(y)) => {
            x.push_str(&y);
            Value::Text(x)
        }
        _ => Value::Null,
    }
}

// ---------------------------------------------------------------------------
// CAST
// ---------------------------------------------------------------------------

/// The target of `CAST(x AS type)`, chosen from the type name by
/// [`affinity_of_type`] (SQLite maps `CAST(x AS VARCHAR)` to TEXT, and so
/// on); see [`CastType::from_affinity`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CastType {
    /// `CAST(x AS INTEGER)`.
    Integer,
    /// `CAST(x AS REAL)`.
    Real,
    /// `CAST(x AS TEXT)`.
    Text,
    /// `CAST(x AS BLOB)` (also a type name with no affinity keyword).
    Blob,
    /// `CAST(x AS NUMERIC)` (any other type name).
    Numeric,
}

impl CastType {
    /// The cast a type name asks for, given its affinity.
    pub fn from_affinity(a: Affinity) -> CastType {
        match a {
            Affinity::Integer => CastType::Integer,
            Affinity::Real => CastType::Real,
            Affinity::Numeric => CastType::Numeric,
            Affinity::Text => CastType::Text,
            Affinity::Blob => CastType::Blob,
        }
    }
}

/// `CAST(v AS to)` with SQLite's rules. NULL stays NULL. Then:
///
/// * INTEGER: reals truncate toward zero and saturate (`1e30` gives
///   `i64::MAX`); text and blobs give their integer prefix only
///   (`'12.5abc'` and `'1e3'` give 12 and 1; no prefix gives 0).
/// * REAL: text and blobs give their real prefix (`'1e3x'` gives 1000.0).
/// * NUMERIC: numbers are unchanged (`3.0` stays REAL); text and blobs give
///   their numeric prefix, as an INTEGER when exact (`'3.0'` gives 3,
///   `'12.5abc'` gives 12.5, `'1e16'` gives 1.0e+16).
/// * TEXT: the text form; BLOB: the bytes of the text form.
pub fn cast(v: &Value, to: CastType) -> Value {
    if v.is_null() {
        return Value::Null;
    }
    match to {
        CastType::Integer => Value::Integer(v.to_i64()),
        CastType::Real => Value::real(v.to_f64()),
        CastType::Text => v.to_text().map_or(Value::Null, Value::Text),
        CastType::Blob => v.to_bytes().map_or(Value::Null, Value::Blob),
        CastType::Numeric => match v {
            Value::Text(s) => numerify_bytes(s.as_bytes()),
            Value::Blob(b) => numerify_bytes(b),
            other => other.clone(),
        },
    }
}

// ---------------------------------------------------------------------------
// Affinity
// ---------------------------------------------------------------------------

/// A column's preferred storage class, derived from its declared type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Affinity {
    /// Declared type contains "INT".
    Integer,
    /// Declared type contains "REAL", "FLOA" or "DOUB".
    Real,
    /// Any other declared type (NUMERIC, DECIMAL, BOOLEAN, DATE, ...).
    Numeric,
    /// Declared type contains "CHAR", "CLOB" or "TEXT".
    Text,
    /// Declared type contains "BLOB", or there is no declared type.
    Blob,
}

impl Affinity {
    /// Whether this is INTEGER, REAL or NUMERIC affinity.
    pub fn is_numeric(self) -> bool {
        matches!(self, Affinity::Integer | Affinity::Real | Affinity::Numeric)
    }
}

/// The affinity of a declared column type, by SQLite's rules (in this
/// order): contains "INT" → INTEGER; "CHAR", "CLOB" or "TEXT" → TEXT;
/// "BLOB" or empty → BLOB; "REAL", "FLOA" or "DOUB" → REAL; otherwise
/// NUMERIC. Matching is case-insensitive on substrings, so "FLOATING POINT"
/// is INTEGER and "CHARINT" is INTEGER.
pub fn affinity_of_type(decl: &str) -> Affinity {
    if decl.bytes().all(is_space) {
        return Affinity::Blob;
    }
    // A port of sqlite3AffinityType: a rolling window of the last 4 bytes.
    let mut h: u32 = 0;
    let mut aff = Affinity::Numeric;
    let word = |s: &[u8; 4]| u32::from_be_bytes(*s);
    for b in decl.bytes() {
        h = (h << 8) | u32::from(b.to_ascii_lowercase());
        if h == word(b"char") || h == word(b"clob") || h == word(b"text") {
            aff = Affinity::Text;
        } else if h == word(b"blob") && matches!(aff, Affinity::Numeric | Affinity::Real) {
            aff = Affinity::Blob;
        } else if (h == word(b"real") || h == word(b"floa") || h == word(b"doub"))
            && aff == Affinity::Numeric
        {
            aff = Affinity::Real;
        } else if h & 0x00ff_ffff == u32::from_be_bytes([0, b'i', b'n', b't']) {
            return Affinity::Integer;
        }
    }
    aff
}

/// Converts a value about to be stored in a column of affinity `a`, by
/// SQLite's rules:
///
/// * INTEGER and NUMERIC: text holding a well-formed number becomes that
///   number (`'12'` → 12, `' 1e3 '` → 1000, `'1.5'` → 1.5; `'12abc'` stays
///   text); a REAL holding an exact integer becomes an INTEGER (3.0 → 3).
/// * REAL: as NUMERIC, then any INTEGER becomes a REAL (3 → 3.0).
/// * TEXT: numbers become their text form (12 → `'12'`).
/// * BLOB: nothing changes. NULL and blobs never change under any affinity.
pub fn apply_affinity(v: Value, a: Affinity) -> Value {
    match a {
        Affinity::Blob => v,
        Affinity::Text => match v {
            Value::Integer(_) | Value::Real(_) => v.to_text().map_or(Value::Null, Value::Text),
            other => other,
        },
        Affinity::Integer | Affinity::Numeric | Affinity::Real => {
            let v = match v {
                Value::Real(r) => integer_affinity(r),
                Value::Text(s) => numeric_affinity_of_text(&s, true).unwrap_or(Value::Text(s)),
                other => other,
            };
            match (a, v) {
                (Affinity::Real, Value::Integer(i)) => Value::Real(i as f64),
                (_, v) => v,
            }
        }
    }
}

/// The affinity SQLite applies to both operands of a comparison, given
/// each operand's affinity (`None` for an expression without one, such as
/// a literal, a parameter or a function call; `Some` for a column or a
/// CAST). Both columns: NUMERIC if either is numeric, else none. One
/// column: that column's affinity. Neither: none.
pub fn comparison_affinity(left: Option<Affinity>, right: Option<Affinity>) -> Option<Affinity> {
    match (left, right) {
        (Some(l), Some(r)) => {
            if l.is_numeric() || r.is_numeric() {
                Some(Affinity::Numeric)
            } else {
                None
            }
        }
        (Some(a), None) | (None, Some(a)) => Some(a),
        (None, None) => None,
    }
}

/// Prepares one operand of a comparison under the affinity chosen by
/// [`comparison_affinity`]: a numeric affinity turns text holding a
/// well-formed number into that number; TEXT turns numbers into text; BLOB
/// (no affinity) changes nothing.
pub fn apply_comparison_affinity(v: Value, a: Affinity) -> Value {
    match (a, v) {
        (Affinity::Integer | Affinity::Real | Affinity::Numeric, Value::Text(s)) => {
            numeric_affinity_of_text(&s, false).unwrap_or(Value::Text(s))
        }
        (Affinity::Text, v @ (Value::Integer(_) | Value::Real(_))) => {
            v.to_text().map_or(Value::Null, Value::Text)
        }
        (_, v) => v,
    }
}

// ---------------------------------------------------------------------------
// LIKE and GLOB
// ---------------------------------------------------------------------------

/// One element of a compiled LIKE or GLOB pattern.
#[derive(Debug)]
enum PatternToken {
    /// `%` or `*`: any run of characters, possibly empty.
    Any,
    /// `_` or `?`: exactly one character.
    One,
    /// A character that must match (ASCII case-insensitively for LIKE).
    Literal(char),
    /// A GLOB `[...]` set: inclusive ranges (a single character is a range
    /// of one), possibly inverted with `^`.
    Set {
        ranges: Vec<(char, char)>,
        invert: bool,
    },
}

/// The text up to the first NUL, as SQLite's C-string pattern matcher sees it.
fn until_nul(s: &str) -> &str {
    s.split('\0').next().unwrap_or(s)
}

/// Compiles a LIKE pattern, following the order of tests in SQLite's
/// `patternCompare`: `%` first, then the escape character, then `_`; right
/// after a `%`, every `_` is a wildcard even if it is the escape character.
/// `None` when the pattern can never match (it ends in a lone escape).
fn compile_like(pattern: &str, escape: Option<char>) -> Option<Vec<PatternToken>> {
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '%' {
            tokens.push(PatternToken::Any);
            while let Some(&n) = chars.peek() {
                if n == '%' {
                    chars.next();
                } else if n == '_' {
                    chars.next();
                    tokens.push(PatternToken::One);
                } else {
                    break;
                }
            }
        } else if Some(c) == escape {
            tokens.push(PatternToken::Literal(chars.next()?));
        } else if c == '_' {
            tokens.push(PatternToken::One);
        } else {
            tokens.push(PatternToken::Literal(c));
        }
    }
    Some(tokens)
}

/// Compiles a GLOB pattern. `None` when the pattern can never match (an
/// unterminated `[` set).
fn compile_glob(pattern: &str) -> Option<Vec<PatternToken>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            '*' => tokens.push(PatternToken::Any),
            '?' => tokens.push(PatternToken::One),
            '[' => {
                // A port of the set loop in SQLite's patternCompare.
                let mut ranges = Vec::new();
                let mut invert = false;
                let next = |i: &mut usize| {
                    let c = chars.get(*i).copied();
                    *i += 1;
                    c
                };
                let mut c2 = next(&mut i);
                if c2 == Some('^') {
                    invert = true;
                    c2 = next(&mut i);
                }
                if c2 == Some(']') {
                    ranges.push((']', ']'));
                    c2 = next(&mut i);
                }
                let mut prior: Option<char> = None;
                loop {
                    match c2 {
                        None => return None,
                        Some(']') => break,
                        Some('-') => {
                            let peek = chars.get(i).copied();
                            if let (Some(lo), Some(hi)) = (prior, peek) {
                                if hi != ']' {
                                    i += 1;
                                    ranges.push((lo, hi));
                                    prior = None;
                                    c2 = next(&mut i);
                                    continue;
                                }
                            }
                            ranges.push(('-', '-'));
                            prior = Some('-');
                        }
                        Some(ch) => {
                            ranges.push((ch, ch));
                            prior = Some(ch);
                        }
                    }
                    c2 = next(&mut i);
                }
                tokens.push(PatternToken::Set { ranges, invert });
            }
            other => tokens.push(PatternToken::Literal(other)),
        }
    }
    Some(tokens)
}

/// Matches compiled tokens against text: the classic iterative wildcard
/// algorithm that backtracks only to the most recent `%`, which gives the
/// same answers as SQLite's recursive matcher in O(pattern × text) time and
/// constant stack, whatever the input.
fn match_tokens(tokens: &[PatternToken], text: &[char], no_case: bool) -> bool {
    let one_matches = |t: &PatternToken, c: char| match t {
        PatternToken::Any => false,
        PatternToken::One => true,
        PatternToken::Literal(p) => {
            *p == c || (no_case && p.is_ascii() && p.eq_ignore_ascii_case(&c))
        }
        PatternToken::Set { ranges, invert } => {
            ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *invert
        }
    };
    let (mut p, mut s) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None; // (token after '%', text position)
    while let Some(&c) = text.get(s) {
        match tokens.get(p) {
            Some(PatternToken::Any) => {
                p += 1;
                backtrack = Some((p, s));
                continue;
            }
            Some(t) if one_matches(t, c) => {
                p += 1;
                s += 1;
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((bp, bs)) => {
                p = bp;
                s = bs + 1;
                backtrack = Some((bp, bs + 1));
            }
            None => return false,
        }
    }
    tokens
        .get(p..)
        .unwrap_or(&[])
        .iter()
        .all(|t| matches!(t, PatternToken::Any))
}

/// `text LIKE pattern [ESCAPE escape]`: `%` matches any run of characters,
/// `_` exactly one character, the escape character makes the next pattern
/// character literal; ASCII letters match case-insensitively, other
/// characters exactly. A pattern ending in a lone escape character matches
/// nothing. Pattern and text end at their first NUL, as in SQLite.
pub fn like(pattern: &str, text: &str, escape: Option<char>) -> bool {
    let Some(tokens) = compile_like(until_nul(pattern), escape) else {
        return false;
    };
    let text: Vec<char> = until_nul(text).chars().collect();
    match_tokens(&tokens, &text, true)
}

/// `text GLOB pattern`: `*` matches any run, `?` one character, `[...]` one
/// character from a set (`[a-z]`, `[^0-9]`, `[]x]`); case-sensitive. An
/// unterminated set matches nothing. Pattern and text end at their first
/// NUL, as in SQLite.
pub fn glob(pattern: &str, text: &str) -> bool {
    let Some(tokens) = compile_glob(until_nul(pattern)) else {
        return false;
    };
    let text: Vec<char> = until_nul(text).chars().collect();
    match_tokens(&tokens, &text, false)
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

    fn is_overflow(res: Result<Value>) -> bool {
        matches!(
            res,
            Err(Error::Sql {
                kind: SqlErrorKind::Overflow,
                ..
            })
        )
    }

    #[test]
    fn constructors_and_type_names() {
        assert_eq!(Value::real(f64::NAN), N);
        assert_eq!(Value::from(f64::NAN), N);
        assert_eq!(Value::from(1.5), r(1.5));
        assert_eq!(Value::from(7i32), i(7));
        assert_eq!(Value::from(7i64), i(7));
        assert_eq!(Value::from("a"), t("a"));
        assert_eq!(Value::from(String::from("a")), t("a"));
        assert_eq!(Value::from(vec![1u8, 2]), b(&[1, 2]));
        assert_eq!(Value::from(&[1u8, 2][..]), b(&[1, 2]));
        assert_eq!(Value::from(true), i(1));
        assert_eq!(Value::from(false), i(0));
        assert_eq!(Value::from(None::<i64>), N);
        assert_eq!(Value::from(Some("x")), t("x"));
        let names: Vec<_> = [N, i(1), r(1.0), t(""), b(&[])]
            .iter()
            .map(Value::type_name)
            .collect();
        assert_eq!(names, ["null", "integer", "real", "text", "blob"]);
        assert_eq!(i(5).to_string(), "5");
        assert_eq!(N.to_string(), "NULL");
    }

    #[test]
    fn real_text_form_matches_sqlite() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-0.0, "0.0"),
            (0.0, "0.0"),
            (100.0, "100.0"),
            (-2.5, "-2.5"),
            (1e20, "1.0e+20"),
            (123456789012345680000.0, "1.23456789012346e+20"),
            (1e15, "1.0e+15"),
            (1e14, "100000000000000.0"),
            (123456789012345.6, "123456789012346.0"),
            (0.0001, "0.0001"),
            (0.00001, "1.0e-05"),
            // Ties at the 15th digit round half up, as SQLite's printf does.
            (1234567890123445.0, "1.23456789012345e+15"),
            (1234567890123455.0, "1.23456789012346e+15"),
            (9.999999999999999e22, "1.0e+23"),
            (0.30000000000000004, "0.3"),
            (1e300, "1.0e+300"),
            (1.7976931348623157e308, "1.79769313486232e+308"),
            (5e-324, "4.94065645841247e-324"),
            (f64::INFINITY, "Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (9.223372036854776e18, "9.22337203685478e+18"),
            (0.5, "0.5"),
            (-1e-300, "-1.0e-300"),
        ];
        for &(x, want) in cases {
            assert_eq!(r(x).to_text().as_deref(), Some(want), "{x:e}");
        }
        assert_eq!(
            format_real_exp20(0.30000000000000004),
            "3.00000000000000044408e-01"
        );
        assert_eq!(format_real_exp20(-2.0), "-2.0e+00");
    }

    #[test]
    fn text_forms_of_other_types() {
        assert_eq!(N.to_text(), None);
        assert_eq!(i(-42).to_text().as_deref(), Some("-42"));
        assert_eq!(
            i(i64::MIN).to_text().as_deref(),
            Some("-9223372036854775808")
        );
        assert_eq!(b(b"hi").to_text().as_deref(), Some("hi"));
        assert_eq!(b(&[0xff]).to_text().as_deref(), Some("\u{fffd}"));
    }

    #[test]
    fn real_prefix_scanner() {
        use RealShape::*;
        let cases: &[(&str, f64, RealShape)] = &[
            ("", 0.0, NotANumber),
            ("   ", 0.0, NotANumber),
            ("12", 12.0, Integer),
            (" -12 ", -12.0, Integer),
            ("+7", 7.0, Integer),
            ("1.5", 1.5, Real),
            (".5", 0.5, Real),
            ("5.", 5.0, Real),
            ("1e3", 1000.0, Real),
            ("1.5E-2", 0.015, Real),
            ("12abc", 12.0, NotANumber),
            ("abc", 0.0, NotANumber),
            ("1.5abc", 1.5, RealPrefix),
            ("1e", 1.0, NotANumber),
            ("1e+", 1.0, NotANumber),
            ("1.5e", 1.5, RealPrefix),
            (".", 0.0, NotANumber),
            ("-", 0.0, NotANumber),
            ("0x10", 0.0, NotANumber),
            ("1e999", f64::INFINITY, Real),
            ("-1e999", f64::NEG_INFINITY, Real),
            ("1e-999", 0.0, Real),
            ("9223372036854775808", 9.223372036854775808e18, Integer),
        ];
        for &(s, v, shape) in cases {
            assert_eq!(parse_real_prefix(s.as_bytes()), (v, shape), "{s:?}");
        }
        assert!(parse_real_prefix(b"-0").0.is_sign_negative());
        // Huge exponents are capped, never overflow.
        assert_eq!(
            parse_real_prefix(b"1e99999999999999999999").0,
            f64::INFINITY
        );
        assert_eq!(parse_real_prefix(&[b'1'; 400]).0, f64::INFINITY);
    }

    #[test]
    fn int_prefix_scanner() {
        use IntShape::*;
        let cases: &[(&str, i64, IntShape)] = &[
            ("12", 12, Exact),
            ("  -12  ", -12, Exact),
            ("12abc", 12, Prefix),
            ("12.9", 12, Prefix),
            ("1e3", 1, Prefix),
            ("abc", 0, NoDigits),
            ("", 0, NoDigits),
            ("-", 0, NoDigits),
            ("000", 0, Exact),
            ("9223372036854775807", i64::MAX, Exact),
            ("-9223372036854775808", i64::MIN, Exact),
            ("-9223372036854775808x", i64::MIN, Prefix),
            ("9223372036854775808", i64::MAX, TwoToThe63),
            ("9223372036854775809", i64::MAX, TooLarge),
            ("-9223372036854775809", i64::MIN, TooLarge),
            ("99999999999999999999", i64::MAX, TooLarge),
            ("00000000000000000000000012", 12, Exact),
        ];
        for &(s, v, shape) in cases {
            assert_eq!(parse_int_prefix(s.as_bytes()), (v, shape), "{s:?}");
        }
    }

    #[test]
    fn sort_order_across_classes() {
        let ordered = [
            N,
            i(-5),
            r(-4.5),
            i(0),
            r(0.5),
            i(1),
            t(""),
            t("A"),
            t("a"),
            t("ab"),
            b(&[]),
            b(&[0]),
            b(&[0, 0]),
            b(&[1]),
        ];
        for (x, a) in ordered.iter().enumerate() {
            for (y, c) in ordered.iter().enumerate() {
                assert_eq!(compare(a, c), x.cmp(&y), "{a:?} vs {c:?}");
            }
        }
        assert_eq!(compare(&N, &N), Ordering::Equal);
    }

    #[test]
    fn integer_real_comparison_is_exact() {
        let two63 = 9.223372036854775808e18;
        assert_eq!(compare(&i(i64::MAX), &r(two63)), Ordering::Less);
        assert_eq!(compare(&r(two63), &i(i64::MAX)), Ordering::Greater);
        assert_eq!(compare(&i(i64::MIN), &r(-two63)), Ordering::Equal);
        assert_eq!(compare(&i(i64::MIN), &r(-1e300)), Ordering::Greater);
        assert_eq!(compare(&i(i64::MAX), &r(f64::INFINITY)), Ordering::Less);
        assert_eq!(
            compare(&i(i64::MIN), &r(f64::NEG_INFINITY)),
            Ordering::Greater
        );
        // Around 2^53, where i64 -> f64 conversion would lose the last bit.
        assert_eq!(
            compare(&i(9007199254740993), &r(9007199254740992.0)),
            Ordering::Greater
        );
        assert_eq!(
            compare(&i(9007199254740992), &r(9007199254740992.0)),
            Ordering::Equal
        );
        assert_eq!(
            compare(&i(9007199254740991), &r(9007199254740992.0)),
            Ordering::Less
        );
        assert_eq!(compare(&i(2), &r(2.5)), Ordering::Less);
        assert_eq!(compare(&i(-2), &r(-2.5)), Ordering::Greater);
        assert_eq!(compare(&i(-3), &r(-2.5)), Ordering::Less);
        assert_eq!(compare(&i(0), &r(-0.0)), Ordering::Equal);
        assert_eq!(compare(&r(0.0), &r(-0.0)), Ordering::Equal);
        assert_eq!(compare(&i(1), &r(1.0)), Ordering::Equal);
    }

    #[test]
    fn three_valued_comparisons_and_logic() {
        assert_eq!(sql_cmp(&N, &i(1)), None);
        assert_eq!(sql_cmp(&N, &N), None);
        assert_eq!(sql_cmp(&i(1), &t("a")), Some(Ordering::Less));
        assert_eq!(eq(&i(1), &r(1.0)), i(1));
        assert_eq!(eq(&t("a"), &t("A")), i(0));
        assert_eq!(eq(&N, &N), N);
        assert_eq!(ne(&i(1), &i(2)), i(1));
        assert_eq!(lt(&t("2"), &t("10")), i(0));
        assert_eq!(lt(&i(2), &i(10)), i(1));
        assert_eq!(le(&i(2), &i(2)), i(1));
        assert_eq!(gt(&b(&[0]), &t("z")), i(1));
        assert_eq!(ge(&N, &i(1)), N);
        assert_eq!(is(&N, &N), i(1));
        assert_eq!(is(&i(1), &N), i(0));
        assert_eq!(is(&i(1), &r(1.0)), i(1));
        assert_eq!(is_not(&N, &i(1)), i(1));
        assert_eq!(is_not(&N, &N), i(0));
        assert_eq!(not(&N), N);
        assert_eq!(not(&t("abc")), i(1));
        assert_eq!(not(&r(0.5)), i(0));
        assert_eq!(and(&N, &i(0)), i(0));
        assert_eq!(and(&N, &i(1)), N);
        assert_eq!(and(&i(2), &t("1")), i(1));
        assert_eq!(or(&N, &i(1)), i(1));
        assert_eq!(or(&N, &i(0)), N);
        assert_eq!(or(&i(0), &t("0.0")), i(0));
    }

    #[test]
    fn ordered_value_dedups_by_compare() {
        let mut set = DistinctSet::new();
        assert!(set.insert(OrderedValue(i(1))));
        assert!(!set.insert(OrderedValue(r(1.0))));
        assert!(set.insert(OrderedValue(t("1"))));
        assert!(set.insert(OrderedValue(N)));
        assert!(!set.insert(OrderedValue(N)));
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn truthiness() {
        assert_eq!(N.truthy(), None);
        assert_eq!(i(0).truthy(), Some(false));
        assert_eq!(i(-1).truthy(), Some(true));
        assert_eq!(r(0.0).truthy(), Some(false));
        assert_eq!(r(-0.0).truthy(), Some(false));
        assert_eq!(r(0.001).truthy(), Some(true));
        assert_eq!(t("12abc").truthy(), Some(true));
        assert_eq!(t("abc").truthy(), Some(false));
        assert_eq!(t("0.5").truthy(), Some(true));
        assert_eq!(t("0.5abc").truthy(), Some(true));
        assert_eq!(t(" 0 ").truthy(), Some(false));
        assert_eq!(t("").truthy(), Some(false));
        assert_eq!(b(b"1").truthy(), Some(true));
        assert_eq!(b(&[]).truthy(), Some(false));
    }

    #[test]
    fn arithmetic_on_numbers() {
        assert_eq!(add(&i(2), &i(3)).ok(), Some(i(5)));
        assert_eq!(add(&i(2), &r(0.5)).ok(), Some(r(2.5)));
        assert_eq!(sub(&r(1.0), &i(1)).ok(), Some(r(0.0)));
        assert_eq!(mul(&i(-4), &i(3)).ok(), Some(i(-12)));
        assert_eq!(div(&i(7), &i(2)).ok(), Some(i(3)));
        assert_eq!(div(&i(-7), &i(2)).ok(), Some(i(-3)));
        assert_eq!(div(&i(7), &r(2.0)).ok(), Some(r(3.5)));
        assert_eq!(div(&i(1), &i(0)).ok(), Some(N));
        assert_eq!(div(&r(1.0), &i(0)).ok(), Some(N));
        assert_eq!(div(&r(1.0), &r(-0.0)).ok(), Some(N));
        assert_eq!(rem(&i(-7), &i(3)).ok(), Some(i(-1)));
        assert_eq!(rem(&i(7), &i(-3)).ok(), Some(i(1)));
        assert_eq!(rem(&i(5), &i(0)).ok(), Some(N));
        assert_eq!(rem(&i(i64::MIN), &i(-1)).ok(), Some(i(0)));
        assert_eq!(rem(&r(5.5), &i(2)).ok(), Some(r(1.0)));
        assert_eq!(rem(&r(7.9), &r(2.9)).ok(), Some(r(1.0)));
        assert_eq!(rem(&i(5), &r(0.5)).ok(), Some(N));
        assert_eq!(rem(&r(-7.5), &i(2)).ok(), Some(r(-1.0)));
        assert_eq!(mul(&r(1e308), &i(10)).ok(), Some(r(f64::INFINITY)));
        let inf = r(f64::INFINITY);
        assert_eq!(sub(&inf, &inf).ok(), Some(N));
        assert_eq!(mul(&inf, &i(0)).ok(), Some(N));
    }

    #[test]
    fn arithmetic_with_nulls_text_and_blobs() {
        for f in [add, sub, mul, div, rem] {
            assert_eq!(f(&N, &i(1)).ok(), Some(N));
            assert_eq!(f(&i(1), &N).ok(), Some(N));
            assert_eq!(f(&N, &N).ok(), Some(N));
        }
        assert_eq!(add(&t("12abc"), &i(0)).ok(), Some(i(12)));
        assert_eq!(add(&t("abc"), &i(1)).ok(), Some(i(1)));
        assert_eq!(add(&t("1.0"), &i(0)).ok(), Some(r(1.0)));
        assert_eq!(add(&t("1e3"), &i(0)).ok(), Some(r(1000.0)));
        assert_eq!(add(&t("1e"), &i(0)).ok(), Some(i(1)));
        assert_eq!(add(&t("1.5e"), &i(0)).ok(), Some(r(1.5)));
        assert_eq!(add(&t("12.5abc"), &i(0)).ok(), Some(r(12.5)));
        assert_eq!(add(&t(" 12 "), &i(0)).ok(), Some(i(12)));
        assert_eq!(add(&t("  -7  "), &i(1)).ok(), Some(i(-6)));
        assert_eq!(add(&t("0x10"), &i(0)).ok(), Some(i(0)));
        assert_eq!(add(&t("."), &i(0)).ok(), Some(i(0)));
        assert_eq!(add(&t(""), &i(0)).ok(), Some(i(0)));
        assert_eq!(
            add(&t("9223372036854775807"), &i(0)).ok(),
            Some(i(i64::MAX))
        );
        assert_eq!(
            add(&t("-9223372036854775808"), &i(0)).ok(),
            Some(i(i64::MIN))
        );
        assert_eq!(
            add(&t("9223372036854775808"), &i(0)).ok(),
            Some(r(9.223372036854775808e18))
        );
        assert_eq!(add(&b(b"12"), &i(0)).ok(), Some(i(12)));
        assert_eq!(div(&t("-5"), &i(2)).ok(), Some(i(-2)));
        assert_eq!(rem(&t("1e3"), &i(7)).ok(), Some(r(1.0)));
        assert_eq!(rem(&t("5.5"), &i(2)).ok(), Some(r(1.0)));
        assert_eq!(mul(&t("2"), &t("3")).ok(), Some(i(6)));
    }

    #[test]
    fn integer_overflow_is_an_error() {
        assert!(is_overflow(add(&i(i64::MAX), &i(1))));
        assert!(is_overflow(sub(&i(i64::MIN), &i(1))));
        assert!(is_overflow(mul(&i(i64::MAX), &i(2))));
        assert!(is_overflow(mul(&i(i64::MIN), &i(-1))));
        assert!(is_overflow(div(&i(i64::MIN), &i(-1))));
        assert!(is_overflow(neg(&i(i64::MIN))));
        assert!(is_overflow(add(&t("9223372036854775807"), &i(1))));
        // Reals never overflow into an error.
        assert_eq!(
            add(&r(9.2e18), &i(i64::MAX)).ok(),
            Some(r(9.2e18 + 9.223372036854775807e18))
        );
        assert_eq!(add(&i(i64::MAX), &i(i64::MIN)).ok(), Some(i(-1)));
        let err = add(&i(i64::MAX), &i(1))
            .err()
            .map(|e| (e.to_string(), e.code()));
        assert_eq!(
            err,
            Some(("integer overflow".to_owned(), crate::error::ErrorCode::Sql))
        );
    }

    #[test]
    fn unary_operators_and_concat() {
        assert_eq!(neg(&i(5)).ok(), Some(i(-5)));
        assert_eq!(neg(&r(1.5)).ok(), Some(r(-1.5)));
        assert_eq!(neg(&N).ok(), Some(N));
        assert_eq!(neg(&t("abc")).ok(), Some(i(0)));
        assert_eq!(neg(&t("1.5")).ok(), Some(r(-1.5)));
        assert_eq!(neg(&b(b"1")).ok(), Some(i(-1)));
        assert_eq!(neg(&i(i64::MAX)).ok(), Some(i(-i64::MAX)));
        assert_eq!(pos(&t("abc")), t("abc"));
        assert_eq!(pos(&b(&[1])), b(&[1]));
        assert_eq!(pos(&N), N);
        assert_eq!(concat(&t("a"), &N), N);
        assert_eq!(concat(&N, &t("a")), N);
        assert_eq!(concat(&i(1), &i(2)), t("12"));
        assert_eq!(concat(&r(1.0), &t("x")), t("1.0x"));
        assert_eq!(concat(&b(b"A"), &t("b")), t("Ab"));
    }

    #[test]
    fn cast_to_integer() {
        let c = |v: Value| cast(&v, CastType::Integer);
        assert_eq!(c(t("1e3")), i(1));
        assert_eq!(c(t("12.9")), i(12));
        assert_eq!(c(t(" 12")), i(12));
        assert_eq!(c(t("0x1A")), i(0));
        assert_eq!(c(t("12.5abc")), i(12));
        assert_eq!(c(t("-")), i(0));
        assert_eq!(c(t("99999999999999999999")), i(i64::MAX));
        assert_eq!(c(t("-99999999999999999999")), i(i64::MIN));
        assert_eq!(c(r(1e30)), i(i64::MAX));
        assert_eq!(c(r(-1e30)), i(i64::MIN));
        assert_eq!(c(r(12.99)), i(12));
        assert_eq!(c(r(-12.99)), i(-12));
        assert_eq!(c(r(f64::INFINITY)), i(i64::MAX));
        assert_eq!(c(b(b"12")), i(12));
        assert_eq!(c(N), N);
    }

    #[test]
    fn cast_to_real_text_blob() {
        assert_eq!(cast(&t("  -1.5e3abc"), CastType::Real), r(-1500.0));
        assert_eq!(cast(&t("abc"), CastType::Real), r(0.0));
        assert_eq!(cast(&i(12), CastType::Real), r(12.0));
        assert_eq!(
            cast(&i(i64::MAX), CastType::Real),
            r(9.223372036854775808e18)
        );
        assert_eq!(cast(&N, CastType::Real), N);
        assert_eq!(cast(&r(f64::INFINITY), CastType::Text), t("Inf"));
        assert_eq!(cast(&r(1.5), CastType::Text), t("1.5"));
        assert_eq!(cast(&b(b"A"), CastType::Text), t("A"));
        assert_eq!(cast(&i(12), CastType::Blob), b(b"12"));
        assert_eq!(cast(&r(1.5), CastType::Blob), b(b"1.5"));
        assert_eq!(cast(&t("hé"), CastType::Blob), b("hé".as_bytes()));
        assert_eq!(cast(&N, CastType::Text), N);
        assert_eq!(cast(&N, CastType::Blob), N);
    }

    #[test]
    fn cast_to_numeric() {
        let c = |v: Value| cast(&v, CastType::Numeric);
        assert_eq!(c(t("1e3")), i(1000));
        assert_eq!(c(t("3.0")), i(3));
        assert_eq!(c(r(3.0)), r(3.0));
        assert_eq!(c(i(3)), i(3));
        assert_eq!(c(t("12abc")), i(12));
        assert_eq!(c(t("12.5abc")), r(12.5));
        assert_eq!(c(t("abc")), i(0));
        assert_eq!(c(t("")), i(0));
        assert_eq!(c(t("1e16")), r(1e16));
        assert_eq!(c(t("1e15")), i(1_000_000_000_000_000));
        assert_eq!(c(t("9223372036854775808")), r(9.223372036854775808e18));
        assert_eq!(c(t("9223372036854775807")), i(i64::MAX));
        assert_eq!(c(t("  5  ")), i(5));
        assert_eq!(c(t("-0")), i(0));
        assert_eq!(c(t("-0.0")), i(0));
        assert_eq!(c(t("1.5e1")), i(15));
        assert_eq!(c(b(b"12")), i(12));
        assert_eq!(c(N), N);
        assert_eq!(
            CastType::from_affinity(affinity_of_type("VARCHAR(10)")),
            CastType::Text
        );
    }

    #[test]
    fn affinity_of_declared_types() {
        use Affinity::*;
        let cases: &[(&str, Affinity)] = &[
            ("INTEGER", Integer),
            ("int", Integer),
            ("BIGINT", Integer),
            ("UNSIGNED BIG INT", Integer),
            ("FLOATING POINT", Integer),
            ("CHARINT", Integer),
            ("VARCHAR(255)", Text),
            ("NCHAR(55)", Text),
            ("CLOB", Text),
            ("text", Text),
            ("TEXTBLOB", Text),
            ("BLOB", Blob),
            ("", Blob),
            ("  ", Blob),
            ("REAL", Real),
            ("DOUBLE PRECISION", Real),
            ("FLOAT", Real),
            ("REALBLOB", Blob),
            ("NUMERIC", Numeric),
            ("DECIMAL(10,5)", Numeric),
            ("BOOLEAN", Numeric),
            ("DATETIME", Numeric),
            ("STRING", Numeric),
            ("é", Numeric),
        ];
        for &(decl, want) in cases {
            assert_eq!(affinity_of_type(decl), want, "{decl:?}");
        }
    }

    #[test]
    fn storage_affinity() {
        use Affinity::*;
        assert_eq!(apply_affinity(t("12"), Integer), i(12));
        assert_eq!(apply_affinity(t(" 12 "), Integer), i(12));
        assert_eq!(apply_affinity(t("12.0"), Integer), i(12));
        assert_eq!(apply_affinity(t("1e3"), Integer), i(1000));
        assert_eq!(apply_affinity(t("1.5"), Integer), r(1.5));
        assert_eq!(apply_affinity(t("12abc"), Integer), t("12abc"));
        assert_eq!(apply_affinity(t("0x10"), Integer), t("0x10"));
        assert_eq!(apply_affinity(t(""), Integer), t(""));
        assert_eq!(
            apply_affinity(t("9223372036854775807"), Integer),
            i(i64::MAX)
        );
        assert_eq!(
            apply_affinity(t("9223372036854775808"), Integer),
            r(9.223372036854775808e18)
        );
        assert_eq!(apply_affinity(r(3.0), Integer), i(3));
        assert_eq!(apply_affinity(r(3.5), Integer), r(3.5));
        assert_eq!(
            apply_affinity(r(9.223372036854775808e18), Integer),
            r(9.223372036854775808e18)
        );
        assert_eq!(apply_affinity(r(f64::INFINITY), Numeric), r(f64::INFINITY));
        assert_eq!(apply_affinity(r(-0.0), Numeric), i(0));
        assert_eq!(apply_affinity(b(b"12"), Integer), b(b"12"));
        assert_eq!(apply_affinity(N, Integer), N);
        assert_eq!(apply_affinity(t("12"), Numeric), i(12));
        assert_eq!(apply_affinity(r(3.0), Numeric), i(3));
        assert_eq!(apply_affinity(i(3), Real), r(3.0));
        assert_eq!(apply_affinity(t("3"), Real), r(3.0));
        assert_eq!(apply_affinity(t("3.25"), Real), r(3.25));
        assert_eq!(apply_affinity(t("x"), Real), t("x"));
        assert_eq!(apply_affinity(i(12), Text), t("12"));
        assert_eq!(apply_affinity(r(1.5), Text), t("1.5"));
        assert_eq!(apply_affinity(b(b"1"), Text), b(b"1"));
        assert_eq!(apply_affinity(i(12), Blob), i(12));
        assert_eq!(apply_affinity(t("12"), Blob), t("12"));
    }

    #[test]
    fn comparison_affinity_rules() {
        use Affinity::*;
        assert_eq!(comparison_affinity(Some(Integer), None), Some(Integer));
        assert_eq!(comparison_affinity(None, Some(Text)), Some(Text));
        assert_eq!(comparison_affinity(Some(Text), Some(Real)), Some(Numeric));
        assert_eq!(comparison_affinity(Some(Text), Some(Blob)), None);
        assert_eq!(comparison_affinity(None, None), None);
        assert_eq!(apply_comparison_affinity(t("5"), Integer), i(5));
        assert_eq!(apply_comparison_affinity(t("5.0"), Integer), r(5.0));
        assert_eq!(apply_comparison_affinity(t("5x"), Integer), t("5x"));
        assert_eq!(apply_comparison_affinity(i(5), Text), t("5"));
        assert_eq!(apply_comparison_affinity(i(5), Blob), i(5));
        // int_column = '5' finds 5 once the literal takes the column's affinity.
        let lit = apply_comparison_affinity(t("5"), Integer);
        assert_eq!(eq(&i(5), &lit), i(1));
    }

    #[test]
    fn like_basics() {
        assert!(like("a", "A", None));
        assert!(like("ABC", "abc", None));
        assert!(!like("É", "é", None));
        assert!(like("é", "é", None));
        assert!(like("a_c", "abc", None));
        assert!(like("a_c", "aéc", None));
        assert!(!like("a_c", "ac", None));
        assert!(like("%", "", None));
        assert!(like("%", "anything", None));
        assert!(!like("_", "", None));
        assert!(like("%%_b", "ab", None));
        assert!(!like("%%_b", "b", None));
        assert!(like("a%", "abc", None));
        assert!(like("%c", "abc", None));
        assert!(like("%b%", "abc", None));
        assert!(!like("%d%", "abc", None));
        assert!(like("a%b%c", "aXbYc", None));
        assert!(like("a%b%c", "abbbc", None));
        assert!(!like("a%b%c", "acb", None));
        assert!(like("%a%a%a%a%a%b", "aaaaaaaaaaaab", None));
        assert!(!like("%a%a%a%a%a%b", "aaaaaaaaaaaaa", None));
        assert!(!like("abc", "abcd", None));
        assert!(!like("", "a", None));
        assert!(like("", "", None));
    }

    #[test]
    fn like_with_escapes() {
        assert!(like("a\\%c", "a%c", Some('\\')));
        assert!(!like("a\\%c", "abc", Some('\\')));
        assert!(like("a\\_c", "a_c", Some('\\')));
        assert!(!like("a\\_c", "abc", Some('\\')));
        assert!(like("a\\\\c", "a\\c", Some('\\')));
        // A trailing lone escape never matches, even the text it spells.
        assert!(!like("abc\\", "abc", Some('\\')));
        assert!(!like("abc\\", "abc\\", Some('\\')));
        assert!(!like("%\\", "x", Some('\\')));
        assert!(like("a!%", "a%", Some('!')));
        assert!(like("100!%%", "100% sure", Some('!')));
        assert!(!like("100!%%", "1000 sure", Some('!')));
        // The escape makes a letter literal, still case-insensitive.
        assert!(like("!A", "a", Some('!')));
        // '%' is always a wildcard, even as the escape character.
        assert!(like("a%", "abc", Some('%')));
        // '_' as escape: escapes outside a '%' run, wildcard right after '%'.
        assert!(like("a__", "a_", Some('_')));
        assert!(!like("a__", "ab", Some('_')));
        assert!(like("%_x", "ax", Some('_')));
        // Without ESCAPE, backslash is an ordinary character.
        assert!(like("a\\%", "a\\bc", None));
    }

    #[test]
    fn like_stops_at_nul() {
        assert!(like("a", "a\0b", None));
        assert!(like("a\0zzz", "a", None));
    }

    #[test]
    fn glob_patterns() {
        assert!(glob("a*", "abc"));
        assert!(!glob("A*", "abc"));
        assert!(glob("a?c", "abc"));
        assert!(glob("[a-c]", "b"));
        assert!(!glob("[a-c]", "d"));
        assert!(glob("[]]", "]"));
        assert!(glob("[^a-c]", "d"));
        assert!(!glob("[^a-c]", "a"));
        assert!(glob("[^]]", "a"));
        assert!(!glob("[^]]", "]"));
        assert!(!glob("[a", "a"));
        assert!(!glob("*[a", "ba"));
        assert!(glob("[a-]", "-"));
        assert!(glob("[-a]", "-"));
        assert!(!glob("[z-a]", "b"));
        assert!(glob("[z-a]", "z"));
        assert!(glob("[]-a]", "-"));
        assert!(glob("*[0-9]", "abc7"));
        assert!(!glob("*[0-9]", "abc"));
        assert!(glob("[*]", "*"));
        assert!(!glob("[*]", "a"));
        assert!(glob("*.txt", "notes.txt"));
        assert!(glob("%", "%"));
        assert!(!glob("_", "a"));
        assert!(glob("[é]", "é"));
    }

    #[test]
    fn pattern_matching_is_not_exponential() {
        let text = "a".repeat(5000);
        let pattern = "%a".repeat(1000) + "b";
        assert!(!like(&pattern, &text, None));
        let pattern = "%".repeat(60_000);
        assert!(like(&pattern, &text, None));
        assert!(glob(&"*?".repeat(100), &text));
    }

    #[test]
    fn numeric_conversions_never_panic_on_odd_bytes() {
        let nines = b"9".repeat(500);
        let odd: &[&[u8]] = &[
            b"",
            b"-",
            b"+",
            b".",
            b"e",
            b"-.e-",
            b"1e-",
            b"\xff\xfe",
            b"  \t\n",
            b"--1",
            b"1..2",
            b"1ee2",
            b"\x00",
            &nines,
        ];
        for z in odd {
            let _ = parse_real_prefix(z);
            let _ = parse_int_prefix(z);
            let v = Value::Blob(z.to_vec());
            for to in [
                CastType::Integer,
                CastType::Real,
                CastType::Numeric,
                CastType::Text,
                CastType::Blob,
            ] {
                let _ = cast(&v, to);
            }
            let _ = add(&v, &v);
            let _ = rem(&v, &v);
            let _ = v.truthy();
        }
    }
}
