//! Comparison and sort order: the total order of [`compare`] (ORDER BY,
//! GROUP BY, DISTINCT, index keys) and the three-valued SQL operators.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::*;

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
