//! Arithmetic on values: `+ - * / %`, unary minus and `||`, with SQLite's
//! numeric conversions.

use crate::error::Result;

use super::*;

#[derive(Clone, Copy)]
enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// SQLite's arithmetic opcodes (`OP_Add` and friends): integers stay
/// integers unless the result overflows, which (as in SQLite's `fp_math`
/// path) computes it again in doubles: `i64::MAX + 1` is the REAL
/// 9.223372036854776e18.
fn arith(a: &Value, b: &Value, op: ArithOp) -> Result<Value> {
    let (Some(x), Some(y)) = (numeric(a), numeric(b)) else {
        return Ok(Value::Null);
    };
    if let (Num::Int(x), Num::Int(y)) = (x, y) {
        let r = match op {
            ArithOp::Add => x.checked_add(y),
            ArithOp::Sub => x.checked_sub(y),
            ArithOp::Mul => x.checked_mul(y),
            ArithOp::Div => {
                if y == 0 {
                    return Ok(Value::Null);
                }
                x.checked_div(y)
            }
            ArithOp::Rem => {
                if y == 0 {
                    return Ok(Value::Null);
                }
                // i64::MIN % -1 is 0 (SQLite computes it as % 1).
                Some(x.checked_rem(y).unwrap_or(0))
            }
        };
        if let Some(r) = r {
            return Ok(Value::Integer(r));
        }
    }
    // SQLite reads the operands again as doubles here: text gives its real
    // prefix, so '-' is -0.0 although its numeric type above was INTEGER 0.
    let (rx, ry) = (a.to_f64(), b.to_f64());
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
/// (see the module documentation); an INTEGER result that overflows is
/// computed as a REAL instead; a NaN result (`inf + -inf`) is NULL.
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
/// by zero (integer or real) is NULL; `i64::MIN / -1` is the REAL 2^63.
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
/// `-'abc'` is 0, `-'1.5'` is -1.5, `-i64::MIN` is the REAL 2^63.
pub fn neg(a: &Value) -> Result<Value> {
    sub(&Value::Integer(0), a)
}

/// Unary `+a`: a no-op on every type (`+'abc'` stays the text `'abc'`).
pub fn pos(a: &Value) -> Value {
    a.clone()
}

/// `a || b`: NULL if either is NULL, else the text forms joined.
pub fn concat(a: &Value, b: &Value) -> Value {
    // Texts borrowed: the result is the one string built.
    match (a.text(), b.text()) {
        (Some(x), Some(y)) => {
            let mut out = String::with_capacity(x.len() + y.len());
            out.push_str(&x);
            out.push_str(&y);
            Value::Text(out)
        }
        _ => Value::Null,
    }
}
