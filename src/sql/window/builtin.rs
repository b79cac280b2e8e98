//! The built-in window functions: ranking (`row_number`, `rank`,
//! `dense_rank`, `percent_rank`, `cume_dist`, `ntile`), navigation
//! (`lag`, `lead`) and the frame's values (`first_value`, `last_value`,
//! `nth_value`), as SQLite's `window.c` computes them.
//!
//! ```text
//!   row_number    position in the partition, from 1
//!   rank          1 + rows before the current row's peers
//!   dense_rank    1 + peer groups before the current row's
//!   percent_rank  (rank - 1) / (rows - 1), 0.0 for a single row
//!   cume_dist     rows up to the current row's last peer / rows
//!   ntile(n)      the partition in n buckets, the first rows % n ones
//!                 a row larger; n from the partition's first row
//!   lag(x, n, d)  x of the row n before (default 1), else d (default NULL);
//!   lead          n after; n may be negative (lag then finds no row: its
//!                 rows end at the current one); a position that is not
//!                 an integer finds no row
//! ```
//!
//! The ranking functions and lag/lead ignore the frame (SQLite replaces
//! it); first/last/nth value read the frame, skipping EXCLUDEd rows.

use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::plan::{FramePlan, WindowFunc};
use crate::types::{add, sub, Value};

use super::frame::{must_be_int, Frames, Peers};
use super::Budget;

fn misuse(msg: &str) -> Error {
    Error::sql(SqlErrorKind::Misuse, msg)
}

/// A ranking or navigation function's values for a partition.
pub(super) fn values(
    f: WindowFunc,
    args: &[Vec<Value>],
    peers: &Peers,
    budget: &mut Budget,
) -> Result<Vec<Value>> {
    let n = peers.len();
    let int = |i: usize| Value::Integer(i64::try_from(i).unwrap_or(i64::MAX));
    let mut out = Vec::with_capacity(n);
    match f {
        WindowFunc::RowNumber => out.extend((1..=n).map(int)),
        WindowFunc::Rank => out.extend((0..n).map(|i| int(peers.start(peers.group(i)) + 1))),
        WindowFunc::DenseRank => out.extend((0..n).map(|i| int(peers.group(i) + 1))),
        WindowFunc::PercentRank => out.extend((0..n).map(|i| {
            let before = peers.start(peers.group(i));
            Value::Real(if n > 1 {
                before as f64 / (n - 1) as f64
            } else {
                0.0
            })
        })),
        WindowFunc::CumeDist => {
            out.extend((0..n).map(|i| Value::Real(peers.end(peers.group(i)) as f64 / n as f64)))
        }
        WindowFunc::Ntile => {
            let buckets = args
                .first()
                .and_then(|a| a.first())
                .map_or(0, Value::to_i64);
            if buckets <= 0 {
                return Err(misuse("argument of ntile must be a positive integer"));
            }
            let total = i64::try_from(n).unwrap_or(i64::MAX);
            let size = total / buckets;
            for row in 0..total {
                out.push(Value::Integer(if size == 0 {
                    row + 1
                } else {
                    let large = total - buckets * size;
                    let small_start = large * (size + 1);
                    if row < small_start {
                        1 + row / (size + 1)
                    } else {
                        1 + large + (row - small_start) / size
                    }
                }));
            }
        }
        WindowFunc::Lag | WindowFunc::Lead => {
            let (x, by, default) = (&args[0], args.get(1), args.get(2));
            for i in 0..n {
                let pos = int(i + 1);
                let target = match by {
                    None if f == WindowFunc::Lead => add(&pos, &Value::Integer(1))?,
                    None => sub(&pos, &Value::Integer(1))?,
                    Some(b) if f == WindowFunc::Lead => add(&pos, &b[i])?,
                    Some(b) => sub(&pos, &b[i])?,
                };
                let row = match target {
                    Value::Integer(k) => Some(k),
                    Value::Real(r) => must_be_int(&Value::Real(r)),
                    _ => None,
                }
                // lag's pass in SQLite holds the rows up to the current
                // one only: a row after it is not found.
                .filter(|&k| {
                    k >= 1 && k <= int(if f == WindowFunc::Lag { i + 1 } else { n }).to_i64()
                })
                .and_then(|k| usize::try_from(k - 1).ok());
                let v = match row {
                    Some(j) => x[j].clone(),
                    None => default.map_or(Value::Null, |d| d[i].clone()),
                };
                budget.keep(&v)?;
                out.push(v);
            }
        }
        _ => return Err(misuse("not a ranking window function")),
    }
    Ok(out)
}

/// `nth_value`'s n as SQLite checks it for each row (`windowCheckValue`).
fn nth(v: &Value) -> Result<usize> {
    match must_be_int(v) {
        Some(k) if k > 0 => Ok(usize::try_from(k).unwrap_or(usize::MAX)),
        _ => Err(misuse(
            "second argument to nth_value must be a positive integer",
        )),
    }
}

/// `first_value`, `last_value`, `nth_value` over each row's frame.
pub(super) fn frame_values(
    f: WindowFunc,
    args: &[Vec<Value>],
    frames: &Frames,
    frame: &FramePlan,
    peers: &Peers,
    budget: &mut Budget,
) -> Result<Vec<Value>> {
    let x = &args[0];
    let mut out = Vec::with_capacity(x.len());
    for (i, &(s, e)) in frames.spans.iter().enumerate() {
        if frame.exclude.is_some() {
            // SQLite feeds each row of the frame but the excluded ones to
            // the function's step (and checks nth_value's n there).
            let mut kept = (s..e.max(s)).filter(|&j| !peers.excluded(frame.exclude, i, j));
            let v = match f {
                WindowFunc::FirstValue => kept.next().map_or(Value::Null, |j| x[j].clone()),
                WindowFunc::LastValue => kept.next_back().map_or(Value::Null, |j| x[j].clone()),
                _ => {
                    let mut found = Value::Null;
                    for (k, j) in kept.enumerate() {
                        let want = nth_step(&args[1][i])?;
                        if want == k + 1 {
                            found = x[j].clone();
                        }
                    }
                    found
                }
            };
            budget.keep(&v)?;
            out.push(v);
            continue;
        }
        let want = match f {
            WindowFunc::NthValue => nth(&args[1][i])?,
            _ => 1,
        };
        let v = if frames.untouched || e <= s {
            Value::Null
        } else {
            match f {
                WindowFunc::LastValue => x[e - 1].clone(),
                _ => match s.checked_add(want - 1) {
                    Some(j) if j < e => x[j].clone(),
                    _ => Value::Null,
                },
            }
        };
        budget.keep(&v)?;
        out.push(v);
    }
    Ok(out)
}

/// `nth_value`'s n as its step function checks it (EXCLUDE frames):
/// an integer, or a real with an integer value, above zero.
fn nth_step(v: &Value) -> Result<usize> {
    let k = match v {
        Value::Integer(i) => Some(*i),
        Value::Text(s) => match crate::types::numeric_affinity_of_text(s, false) {
            Some(Value::Integer(i)) => Some(i),
            Some(Value::Real(r)) if r.fract() == 0.0 => Some(r as i64),
            _ => None,
        },
        Value::Real(r) if r.fract() == 0.0 => Some(*r as i64),
        _ => None,
    };
    match k {
        Some(k) if k > 0 => Ok(usize::try_from(k).unwrap_or(usize::MAX)),
        _ => Err(misuse(
            "second argument to nth_value must be a positive integer",
        )),
    }
}
