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

/// Scans `z` for a real number the way SQLite's `sqlite3AtoF` does: leading
/// and trailing spaces, a sign, digits, a decimal point, an exponent. Returns
/// the value of the longest numeric prefix (0.0 when there is none, -0.0 for
/// a bare minus sign; a huge exponent gives ±infinity, never NaN) and the
/// shape of the whole input.
///
/// The value is computed exactly as SQLite 3.40 computes it, including its
/// `long double` arithmetic (emulated in software): the first 18 or 19
/// significant digits are kept as an integer `s`, the rest are dropped, and
/// the result is `s` times or divided by a power of ten rounded to a double.
pub fn parse_real_prefix(z: &[u8]) -> (f64, RealShape) {
    /// Once the significand reaches this, further digits are dropped.
    const LIMIT: i64 = (i64::MAX - 9) / 10;
    let n = z.len();
    let at = |i: usize| z.get(i).copied().unwrap_or(0);
    let digit = |i: usize| {
        z.get(i)
            .filter(|b| b.is_ascii_digit())
            .map(|&b| i64::from(b - b'0'))
    };

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
    let mut s: i64 = 0; // significand
    let mut d: i64 = 0; // decimal shift of the significand
    let mut n_digit = 0usize;
    while let Some(v) = digit(i) {
        s = s.saturating_mul(10).saturating_add(v);
        i += 1;
        n_digit += 1;
        if s >= LIMIT {
            while digit(i).is_some() {
                i += 1;
                d = d.saturating_add(1);
            }
        }
    }
    let mut e_type = 1; // 1: integer so far, 2: has '.' or 'e', 3: both
    if i < n && at(i) == b'.' {
        i += 1;
        e_type += 1;
        while let Some(v) = digit(i) {
            if s < LIMIT {
                s = s.saturating_mul(10).saturating_add(v);
                d = d.saturating_sub(1);
                n_digit += 1;
            }
            i += 1;
        }
    }
    let mut e_valid = true; // an 'e' is followed by at least one digit
    let mut exponent: i64 = 0;
    if i < n && (at(i) == b'e' || at(i) == b'E') {
        i += 1;
        e_valid = false;
        e_type += 1;
        let mut esign = 1;
        if i < n && at(i) == b'-' {
            esign = -1;
            i += 1;
        } else if i < n && at(i) == b'+' {
            i += 1;
        }
        while let Some(v) = digit(i) {
            // SQLite caps the exponent at 10000.
            exponent = if exponent < 10000 {
                exponent * 10 + v
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

    let value = scale_significand(negative, s, exponent.saturating_add(d));
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

/// The tail of SQLite's `sqlite3AtoF`: `±s × 10^e` rounded to a double,
/// computed as SQLite does (through `long double`).
fn scale_significand(negative: bool, mut s: i64, e: i64) -> f64 {
    if s == 0 {
        return if negative { -0.0 } else { 0.0 };
    }
    let scale_up = e >= 0;
    let mut e = e.saturating_abs();
    // Move powers of ten into the significand while that is exact.
    while e > 0 {
        if scale_up {
            if s >= i64::MAX / 10 {
                break;
            }
            s *= 10;
        } else {
            if s % 10 != 0 {
                break;
            }
            s /= 10;
        }
        e -= 1;
    }
    let sig = Ext::from_u64(s.unsigned_abs());
    let magnitude = if e == 0 {
        s as f64
    } else if e > 307 {
        if e < 342 {
            let scale = Ext::pow10(e - 308);
            if scale_up {
                sig.mul(scale).to_f64() * 1.0e308
            } else {
                sig.div(scale).to_f64() / 1.0e308
            }
        } else if scale_up {
            f64::INFINITY
        } else {
            0.0
        }
    } else {
        let scale = Ext::pow10(e);
        if scale_up {
            sig.mul(scale).to_f64()
        } else {
            sig.div(scale).to_f64()
        }
    };
    if negative {
        -magnitude
    } else {
        magnitude
    }
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

/// The numeric type of text for arithmetic (SQLite's `computeNumericType`):
/// an integer literal or an integer prefix gives an INTEGER, anything with a
/// decimal point or exponent (or an integer too large for `i64`) a REAL.
pub(super) fn numeric_of_bytes(z: &[u8]) -> Num {
    let (_, shape) = parse_real_prefix(z);
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
pub(super) fn integer_affinity(r: f64) -> Value {
    let i = real_to_i64_saturating(r);
    if r == i as f64 && i > i64::MIN && i < i64::MAX {
        Value::Integer(i)
    } else {
        Value::real(r)
    }
}
