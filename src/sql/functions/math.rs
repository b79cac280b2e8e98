//! Numeric functions: `abs`, `round`, `sign`, and SQLite's math functions
//! (`ceil`, `floor`, `trunc`, `sqrt`, `pow`, `exp`, `ln`, `log`, the
//! trigonometric and hyperbolic functions, `degrees`, `radians`, `pi`,
//! `mod`).
//!
//! The math functions follow SQLite's `func.c` (built with
//! `SQLITE_ENABLE_MATH_FUNCTIONS`): an argument that is not a number
//! (NULL, a blob, text that is not a well-formed number) gives NULL;
//! `ceil`, `floor` and `trunc` of an INTEGER are that INTEGER; every other
//! result is a REAL computed by the C library's function (Rust's `f64`
//! methods call the same libm), and a result that is NaN (`sqrt(-1)`,
//! `acos(2)`) is NULL. The logarithms are NULL for a non-positive
//! argument or base.

use crate::error::Result;
use crate::types::{parse_real_prefix, sqlite_printf_float, FloatStyle, Value};

use super::args::{arg, numeric, overflow};

/// `abs(X)`: INTEGER stays INTEGER (`abs(i64::MIN)` overflows); anything
/// else but NULL is read as a REAL (`abs('-3')` is 3.0, `abs('x')` 0.0).
pub(super) fn f_abs(args: &[Value]) -> Result<Value> {
    Ok(match arg(args, 0) {
        Value::Null => Value::Null,
        Value::Integer(i) => Value::Integer(i.checked_abs().ok_or_else(overflow)?),
        v => {
            let r = v.to_f64();
            Value::Real(if r < 0.0 { -r } else { r })
        }
    })
}

/// `round(X [, N])`: X rounded to N decimal places (N clamped to 0..=30),
/// always a REAL; NULL if either is NULL.
pub(super) fn f_round(args: &[Value]) -> Result<Value> {
    let mut digits = 0;
    if let Some(n) = args.get(1) {
        if n.is_null() {
            return Ok(Value::Null);
        }
        digits = n.to_i64().clamp(0, 30);
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

/// A one-argument math function: NULL unless X is a number.
fn math1(args: &[Value], f: fn(f64) -> f64) -> Result<Value> {
    Ok(match numeric(arg(args, 0)) {
        Some(x) => Value::real(f(x.to_f64())),
        None => Value::Null,
    })
}

/// A two-argument math function: NULL unless both are numbers.
fn math2(args: &[Value], f: fn(f64, f64) -> f64) -> Result<Value> {
    Ok(match (numeric(arg(args, 0)), numeric(arg(args, 1))) {
        (Some(x), Some(y)) => Value::real(f(x.to_f64(), y.to_f64())),
        _ => Value::Null,
    })
}

/// `ceil`, `floor`, `trunc`: an INTEGER unchanged, a REAL through `f`.
fn integral(args: &[Value], f: fn(f64) -> f64) -> Result<Value> {
    Ok(match numeric(arg(args, 0)) {
        Some(Value::Integer(i)) => Value::Integer(i),
        Some(x) => Value::real(f(x.to_f64())),
        None => Value::Null,
    })
}

pub(super) fn f_ceil(args: &[Value]) -> Result<Value> {
    integral(args, f64::ceil)
}

pub(super) fn f_floor(args: &[Value]) -> Result<Value> {
    integral(args, f64::floor)
}

pub(super) fn f_trunc(args: &[Value]) -> Result<Value> {
    integral(args, f64::trunc)
}

/// `ln(X)`, `log(X)`, `log10(X)`, `log2(X)`, `log(B, X)`.
fn log_with(args: &[Value], f: fn(f64) -> f64) -> Result<Value> {
    let Some(x) = numeric(arg(args, 0)).map(|v| v.to_f64()) else {
        return Ok(Value::Null);
    };
    if x <= 0.0 {
        return Ok(Value::Null);
    }
    Ok(Value::real(f(x)))
}

pub(super) fn f_ln(args: &[Value]) -> Result<Value> {
    log_with(args, f64::ln)
}

pub(super) fn f_log10(args: &[Value]) -> Result<Value> {
    log_with(args, f64::log10)
}

pub(super) fn f_log2(args: &[Value]) -> Result<Value> {
    log_with(args, f64::log2)
}

/// `log(X)` is base 10; `log(B, X)` is `ln(X) / ln(B)`, NULL unless B and
/// X are positive and B is not 1 (SQLite checks only B's type, then reads
/// X as a double).
pub(super) fn f_log(args: &[Value]) -> Result<Value> {
    if args.len() < 2 {
        return log_with(args, f64::log10);
    }
    let Some(base) = numeric(arg(args, 0)).map(|v| v.to_f64()) else {
        return Ok(Value::Null);
    };
    if base <= 0.0 {
        return Ok(Value::Null);
    }
    let b = base.ln();
    if b <= 0.0 {
        return Ok(Value::Null);
    }
    let x = arg(args, 1).to_f64();
    if x <= 0.0 {
        return Ok(Value::Null);
    }
    Ok(Value::real(x.ln() / b))
}

pub(super) fn f_exp(args: &[Value]) -> Result<Value> {
    math1(args, f64::exp)
}

pub(super) fn f_pow(args: &[Value]) -> Result<Value> {
    math2(args, f64::powf)
}

/// `mod(X, Y)`: C's `fmod` (the sign of X; NULL when Y is 0).
pub(super) fn f_mod(args: &[Value]) -> Result<Value> {
    math2(args, |x, y| x % y)
}

pub(super) fn f_acos(args: &[Value]) -> Result<Value> {
    math1(args, f64::acos)
}

pub(super) fn f_asin(args: &[Value]) -> Result<Value> {
    math1(args, f64::asin)
}

pub(super) fn f_atan(args: &[Value]) -> Result<Value> {
    math1(args, f64::atan)
}

pub(super) fn f_atan2(args: &[Value]) -> Result<Value> {
    math2(args, f64::atan2)
}

pub(super) fn f_cos(args: &[Value]) -> Result<Value> {
    math1(args, f64::cos)
}

pub(super) fn f_sin(args: &[Value]) -> Result<Value> {
    math1(args, f64::sin)
}

pub(super) fn f_tan(args: &[Value]) -> Result<Value> {
    math1(args, f64::tan)
}

pub(super) fn f_cosh(args: &[Value]) -> Result<Value> {
    math1(args, f64::cosh)
}

pub(super) fn f_sinh(args: &[Value]) -> Result<Value> {
    math1(args, f64::sinh)
}

pub(super) fn f_tanh(args: &[Value]) -> Result<Value> {
    math1(args, f64::tanh)
}

// Rust's acosh, asinh and atanh are not the C library's; these are the
// C library's (fdlibm's) formulas, built on its log and log1p.

const LN2: f64 = std::f64::consts::LN_2;

fn c_acosh(x: f64) -> f64 {
    if x < 1.0 {
        f64::NAN
    } else if x >= 268_435_456.0 {
        if x.is_infinite() {
            x
        } else {
            x.ln() + LN2
        }
    } else if x == 1.0 {
        0.0
    } else if x > 2.0 {
        let t = x * x;
        (2.0 * x - 1.0 / (x + (t - 1.0).sqrt())).ln()
    } else {
        let t = x - 1.0;
        (t + (2.0 * t + t * t).sqrt()).ln_1p()
    }
}

fn c_asinh(x: f64) -> f64 {
    let a = x.abs();
    if !a.is_finite() {
        return x + x;
    }
    if a < 3.725_290_298_461_914e-9 {
        return x;
    }
    let w = if a > 268_435_456.0 {
        a.ln() + LN2
    } else if a > 2.0 {
        (2.0 * a + 1.0 / ((x * x + 1.0).sqrt() + a)).ln()
    } else {
        let t = x * x;
        (a + t / (1.0 + (1.0 + t).sqrt())).ln_1p()
    };
    if x > 0.0 {
        w
    } else {
        -w
    }
}

fn c_atanh(x: f64) -> f64 {
    let a = x.abs();
    if a > 1.0 {
        return f64::NAN;
    }
    if a == 1.0 {
        return x / 0.0;
    }
    if a < 3.725_290_298_461_914e-9 {
        return x;
    }
    let t = if a < 0.5 {
        let t = a + a;
        0.5 * (t + t * a / (1.0 - a)).ln_1p()
    } else {
        0.5 * ((a + a) / (1.0 - a)).ln_1p()
    };
    if x >= 0.0 {
        t
    } else {
        -t
    }
}

pub(super) fn f_acosh(args: &[Value]) -> Result<Value> {
    math1(args, c_acosh)
}

pub(super) fn f_asinh(args: &[Value]) -> Result<Value> {
    math1(args, c_asinh)
}

pub(super) fn f_atanh(args: &[Value]) -> Result<Value> {
    math1(args, c_atanh)
}

pub(super) fn f_sqrt(args: &[Value]) -> Result<Value> {
    math1(args, f64::sqrt)
}

/// `radians(X)`: X × (π / 180), in that order as SQLite computes it.
pub(super) fn f_radians(args: &[Value]) -> Result<Value> {
    math1(args, |x| x * (std::f64::consts::PI / 180.0))
}

/// `degrees(X)`: X × (180 / π).
pub(super) fn f_degrees(args: &[Value]) -> Result<Value> {
    math1(args, |x| x * (180.0 / std::f64::consts::PI))
}

pub(super) fn f_pi(_args: &[Value]) -> Result<Value> {
    Ok(Value::Real(std::f64::consts::PI))
}

/// `sign(X)`: -1, 0 or +1 as an INTEGER; NULL unless X is a number.
pub(super) fn f_sign(args: &[Value]) -> Result<Value> {
    Ok(match numeric(arg(args, 0)) {
        Some(x) => {
            let r = x.to_f64();
            Value::Integer(if r < 0.0 {
                -1
            } else if r > 0.0 {
                1
            } else {
                0
            })
        }
        None => Value::Null,
    })
}
