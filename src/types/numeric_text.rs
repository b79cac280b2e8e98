//! Numbers hidden in text: SQLite's scanners for numeric prefixes
//! (`sqlite3AtoF`, `sqlite3Atoi64`) and the conversions built on them.

use super::*;

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

/// Scans `z` for a real number the way SQLite's `sqlite3AtoF` (3.47+)
/// does: leading and trailing spaces, a sign, digits, a decimal point, an
/// exponent. Returns the value of the longest numeric prefix (0.0 when
/// there is none; a huge exponent gives ±infinity, never NaN) and the
/// shape of the whole input.
///
/// The value is SQLite's: the first 19 or so significant digits are kept
/// as an unsigned 64-bit `s`, the rest are dropped, and `s × 10^d` is
/// rounded to the nearest double ([`fp10_convert2`]).
pub fn parse_real_prefix(z: &[u8]) -> (f64, RealShape) {
    const LIMIT: u64 = (u64::MAX - 9) / 10;
    let at = |i: usize| z.get(i).copied().unwrap_or(0);
    let digit = |i: usize| {
        z.get(i)
            .filter(|b| b.is_ascii_digit())
            .map(|&b| u64::from(b - b'0'))
    };
    let mut i = 0;
    let mut neg = false;
    let mut s: u64 = 0;
    let mut d: i64 = 0;
    // Bit 1: a digit; bit 2: a decimal point or exponent.
    let mut state = 0u32;
    while is_space(at(i)) {
        i += 1;
    }
    if at(i) == b'-' || at(i) == b'+' {
        neg = at(i) == b'-';
        i += 1;
    }
    if let Some(v) = digit(i) {
        state = 1;
        s = v;
        i += 1;
        while let Some(v) = digit(i) {
            s = s * 10 + v;
            i += 1;
            if s >= LIMIT {
                while digit(i).is_some() {
                    i += 1;
                    d += 1;
                }
                break;
            }
        }
    }
    if at(i) == b'.' {
        i += 1;
        if digit(i).is_some() {
            state |= 1;
            while let Some(v) = digit(i) {
                if s < LIMIT {
                    s = s * 10 + v;
                    d -= 1;
                }
                i += 1;
            }
        } else if state == 0 {
            return (0.0, RealShape::NotANumber);
        }
        state |= 2;
    } else if state == 0 {
        return (0.0, RealShape::NotANumber);
    }
    if at(i) == b'e' || at(i) == b'E' {
        let mark = i;
        i += 1;
        let esign: i64 = if at(i) == b'-' {
            i += 1;
            -1
        } else {
            if at(i) == b'+' {
                i += 1;
            }
            1
        };
        if let Some(v) = digit(i) {
            let mut exp = v as i64;
            i += 1;
            state |= 2;
            while let Some(v) = digit(i) {
                exp = if exp < 10000 {
                    exp * 10 + v as i64
                } else {
                    10000
                };
                i += 1;
            }
            d += esign * exp;
        } else {
            // Not an exponent: the text is not all number.
            i = mark;
        }
    }
    let magnitude = if s == 0 { 0.0 } else { fp10_convert2(s, d) };
    let value = if neg { -magnitude } else { magnitude };
    while is_space(at(i)) {
        i += 1;
    }
    let whole = i >= z.len();
    let shape = match (whole, state & 2 != 0) {
        (true, false) => RealShape::Integer,
        (true, true) => RealShape::Real,
        (false, true) => RealShape::RealPrefix,
        (false, false) => RealShape::NotANumber,
    };
    (value, shape)
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

/// The numeric type of a value for arithmetic: an INTEGER (with its value),
/// or a REAL (whose value arithmetic reads with [`Value::to_f64`]).
#[derive(Clone, Copy, Debug)]
pub(super) enum Num {
    Int(i64),
    Real,
}

/// The bytes before the first NUL: SQLite 3.54 reads text (and a blob)
/// as a C string where it asks whether it is a number (`sqlite3AtoF` on
/// the NUL-terminated value), so '-1.5' || x'00' is -1.5 to numeric
/// affinity and '5' || x'00' + 1 is 6.0.
fn c_string(z: &[u8]) -> &[u8] {
    z.split(|&b| b == 0).next().unwrap_or_default()
}

/// The numeric type of text for arithmetic (SQLite's `computeNumericType`):
/// an integer literal or an integer prefix gives an INTEGER, anything with a
/// decimal point or exponent (or an integer too large for `i64`) a REAL.
pub(super) fn numeric_of_bytes(z: &[u8]) -> Num {
    // `sqlite3Atoi64` below reads every byte, `sqlite3AtoF` a C string.
    let (_, shape) = parse_real_prefix(c_string(z));
    match shape {
        RealShape::NotANumber => {
            let (i, ishape) = parse_int_prefix(z);
            if matches!(
                ishape,
                IntShape::Exact | IntShape::Prefix | IntShape::NoDigits
            ) {
                Num::Int(i)
            } else {
                Num::Real
            }
        }
        RealShape::RealPrefix | RealShape::Real => Num::Real,
        RealShape::Integer => match parse_int_prefix(z) {
            (i, IntShape::Exact) => Num::Int(i),
            _ => Num::Real,
        },
    }
}

/// The number in `v` for arithmetic; `None` for NULL.
pub(super) fn numeric(v: &Value) -> Option<Num> {
    match v {
        Value::Null => None,
        Value::Integer(i) => Some(Num::Int(*i)),
        Value::Real(_) => Some(Num::Real),
        Value::Text(s) => Some(numeric_of_bytes(s.as_bytes())),
        Value::Blob(b) => Some(numeric_of_bytes(b)),
    }
}

/// `CAST(text AS NUMERIC)` (SQLite's `sqlite3VdbeMemNumerify`): the numeric
/// prefix, as an INTEGER when that is exact.
pub(super) fn numerify_bytes(z: &[u8]) -> Value {
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
    // Its integer check (`alsoAnInt`) reads every byte, the real one not.
    let (r, shape) = parse_real_prefix(c_string(z));
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
pub(super) fn integer_affinity(r: f64) -> Value {
    let i = real_to_i64_saturating(r);
    if r == i as f64 && i > i64::MIN && i < i64::MAX {
        Value::Integer(i)
    } else {
        Value::real(r)
    }
}
