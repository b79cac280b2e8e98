//! Functions that choose among their arguments or describe one:
//! `coalesce`, `ifnull`, `iif` / `if`, `nullif`, scalar `min` and `max`,
//! `typeof`, `likely`, `unlikely`, `likelihood`.
//!
//! The evaluator calls `coalesce`, `ifnull` and `iif` itself, evaluating
//! an argument only when the value depends on it, as SQLite's in-line code
//! does (an error in an argument it skips, as in
//! `coalesce(1, abs(-9223372036854775808))`, is not raised; see
//! `ScalarCall::short_circuit`); these functions are its reference and
//! serve calls by other paths on values already computed.

use std::cmp::Ordering;

use crate::error::{Error, Result, SqlErrorKind};
use crate::types::{Collation, Value};

use super::args::arg;

/// `coalesce(X, Y, ...)` and `ifnull(X, Y)`: the first argument that is
/// not NULL, else NULL.
pub(super) fn f_coalesce(args: &[Value]) -> Result<Value> {
    Ok(args
        .iter()
        .find(|v| !v.is_null())
        .cloned()
        .unwrap_or(Value::Null))
}

/// `iif(C1, V1 [, C2, V2 ...] [, ELSE])` and its alias `if`: the V after
/// the first true C, else ELSE (NULL when the argument count is even), as
/// `CASE WHEN C1 THEN V1 ... ELSE ELSE END`.
pub(super) fn f_iif(args: &[Value]) -> Result<Value> {
    let mut pairs = args.chunks_exact(2);
    for pair in pairs.by_ref() {
        if pair[0].truthy() == Some(true) {
            return Ok(pair[1].clone());
        }
    }
    Ok(pairs.remainder().first().cloned().unwrap_or(Value::Null))
}

/// `likely(X)`, `unlikely(X)`: X (planner hints in SQLite).
pub(super) fn f_first(args: &[Value]) -> Result<Value> {
    Ok(arg(args, 0).clone())
}

/// `likelihood(X, P)`: X; P must be a number between 0.0 and 1.0.
pub(super) fn f_likelihood(args: &[Value]) -> Result<Value> {
    let p = match arg(args, 1) {
        // SQLite accepts only a floating-point literal here.
        Value::Real(r) => Some(*r),
        _ => None,
    };
    if !p.is_some_and(|p| (0.0..=1.0).contains(&p)) {
        return Err(Error::sql(
            SqlErrorKind::Misuse,
            "second argument to likelihood() must be a constant between 0.0 and 1.0",
        ));
    }
    Ok(arg(args, 0).clone())
}

/// Scalar `min`/`max` (SQLite's `minmaxFunc`): NULL if any argument is
/// NULL; `min` keeps the last of equal values, `max` the first. Values
/// compare under `coll` (the first argument's collating sequence).
pub(super) fn min_max(args: &[Value], max: bool, coll: Collation) -> Result<Value> {
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

pub(super) fn f_max(args: &[Value]) -> Result<Value> {
    min_max(args, true, Collation::Binary)
}

pub(super) fn f_min(args: &[Value]) -> Result<Value> {
    min_max(args, false, Collation::Binary)
}

/// `nullif(X, Y)`: NULL when X equals Y (BINARY), else X.
pub(super) fn f_nullif(args: &[Value]) -> Result<Value> {
    nullif(args, Collation::Binary)
}

/// `nullif` comparing under `coll`.
pub(super) fn nullif(args: &[Value], coll: Collation) -> Result<Value> {
    let (x, y) = (arg(args, 0), arg(args, 1));
    Ok(if coll.compare(x, y) == Ordering::Equal {
        Value::Null
    } else {
        x.clone()
    })
}

/// `typeof(X)`: "null", "integer", "real", "text" or "blob".
pub(super) fn f_typeof(args: &[Value]) -> Result<Value> {
    Ok(Value::Text(arg(args, 0).type_name().to_owned()))
}
