//! Peers and frames: which rows of a partition are the current row's
//! peers (equal under the window's ORDER BY), and which rows its frame
//! holds.
//!
//! A frame is a span `[start, end)` of the partition's rows (in the
//! window's order); it is empty when `end <= start`. Both ends only move
//! forward from one row to the next, which lets aggregates add and take
//! back rows instead of computing each frame again (`frame_agg.rs`).
//!
//! ```text
//!   bound                 ROWS            GROUPS                 RANGE
//!   UNBOUNDED PRECEDING   first row       first row              first row
//!   n PRECEDING           row i-n         first of group g-n     first row with  v + n >= cur
//!   CURRENT ROW           row i           first/last peer        first/last peer
//!   n FOLLOWING           row i+n         last of group g+n      last row with  cur + n >= v
//!   UNBOUNDED FOLLOWING   last row        last row               last row
//! ```
//!
//! (the RANGE tests as SQLite's `windowCodeRangeTest` writes them, for an
//! ascending key: `v + n` is `v` itself when v is text or a blob, NULL
//! when v is NULL; comparisons take NULL as the smallest value, equal to
//! NULL, and text under the key's collation; a descending key subtracts
//! and turns the comparison around; a key ordered NULLS LAST (ASC) or
//! NULLS FIRST (DESC) treats NULLs apart, as SQLite's BIGNULL case.)
//!
//! Offsets are checked at the start of each partition, with SQLite's
//! messages: ROWS and GROUPS offsets must be non-negative integers, RANGE
//! offsets non-negative numbers. A ROWS or GROUPS frame whose end comes
//! before its start by kind of offset (`1 PRECEDING AND 2 PRECEDING`,
//! `2 FOLLOWING AND 1 FOLLOWING`) is empty for every row, and SQLite then
//! never feeds its aggregates a row: [`Frames::untouched`].

use std::cmp::Ordering;

use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::eval::eval;
use crate::sql::exec::ExecCtx;
use crate::sql::plan::{BoundPlan, FramePlan, WindowSort};
use crate::syntax::ast::{FrameExclude, FrameUnits};
use crate::types::{add, numeric_affinity_of_text, sub, Value};

use super::cmp_values;

/// The peer groups of a partition.
pub(super) struct Peers {
    /// Each row's group.
    group: Vec<usize>,
    /// Each group's first row, and the partition's length last.
    starts: Vec<usize>,
}

impl Peers {
    /// The groups of rows (in the window's order) with `keys`.
    pub(super) fn new(keys: &[&[Value]], sort: &WindowSort) -> Peers {
        let mut group = Vec::with_capacity(keys.len());
        let mut starts = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let new = i == 0
                || k.iter()
                    .zip(keys[i - 1].iter())
                    .zip(&sort.order)
                    .any(|((a, b), key)| cmp_values(a, b, key.coll) != Ordering::Equal);
            if new {
                starts.push(i);
            }
            group.push(starts.len() - 1);
        }
        starts.push(keys.len());
        Peers { group, starts }
    }

    /// The partition's row count.
    pub(super) fn len(&self) -> usize {
        self.group.len()
    }

    /// Row `i`'s group.
    pub(super) fn group(&self, i: usize) -> usize {
        self.group[i]
    }

    /// How many groups there are.
    pub(super) fn groups(&self) -> usize {
        self.starts.len() - 1
    }

    /// Group `g`'s first row.
    pub(super) fn start(&self, g: usize) -> usize {
        self.starts[g]
    }

    /// One past group `g`'s last row.
    pub(super) fn end(&self, g: usize) -> usize {
        self.starts[g + 1]
    }

    /// Whether EXCLUDE takes row `j` out of row `i`'s frame.
    pub(super) fn excluded(&self, exclude: Option<FrameExclude>, i: usize, j: usize) -> bool {
        let Some(exclude) = exclude else {
            return false;
        };
        match exclude {
            FrameExclude::NoOthers => false,
            FrameExclude::CurrentRow => i == j,
            FrameExclude::Group => self.group[i] == self.group[j],
            FrameExclude::Ties => i != j && self.group[i] == self.group[j],
        }
    }
}

/// Every row's frame in one partition.
pub(super) struct Frames {
    /// Row i's frame: rows `spans[i].0 .. spans[i].1` (empty when the
    /// end is not after the start).
    pub(super) spans: Vec<(usize, usize)>,
    /// Every frame is empty by the frame's definition and aggregates
    /// never see a row (see the module documentation).
    pub(super) untouched: bool,
}

/// A checked offset.
enum Offset {
    /// ROWS or GROUPS: a count.
    Count(u64),
    /// RANGE: a non-negative number.
    Distance(Value),
}

fn offset_error(start: bool, number: bool) -> Error {
    let which = if start { "starting" } else { "ending" };
    let what = if number { "number" } else { "integer" };
    Error::sql(
        SqlErrorKind::Misuse,
        format!("frame {which} offset must be a non-negative {what}"),
    )
}

/// `v` as SQLite's `OP_MustBeInt` reads it: an integer, a real with an
/// integer value, or text that reads as one.
pub(super) fn must_be_int(v: &Value) -> Option<i64> {
    let v = match v {
        Value::Text(s) => numeric_affinity_of_text(s, true)?,
        other => other.clone(),
    };
    match v {
        Value::Integer(i) => Some(i),
        Value::Real(r)
            if r.fract() == 0.0 && (-9.223372036854776e18..9.223372036854776e18).contains(&r) =>
        {
            Some(r as i64)
        }
        _ => None,
    }
}

fn offset(
    e: &crate::sql::eval::PExpr,
    units: FrameUnits,
    start: bool,
    cx: &mut ExecCtx,
) -> Result<Offset> {
    let v = eval(e, &[], cx)?;
    if units == FrameUnits::Range {
        let n = match &v {
            Value::Integer(_) | Value::Real(_) => v.clone(),
            Value::Text(s) => {
                numeric_affinity_of_text(s, false).ok_or_else(|| offset_error(start, true))?
            }
            Value::Null | Value::Blob(_) => return Err(offset_error(start, true)),
        };
        if n.to_f64() < 0.0 {
            return Err(offset_error(start, true));
        }
        return Ok(Offset::Distance(n));
    }
    match must_be_int(&v) {
        Some(i) if i >= 0 => Ok(Offset::Count(i as u64)),
        _ => Err(offset_error(start, false)),
    }
}

/// The comparison a RANGE test makes (before a descending key turns it).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
}

/// SQLite's RANGE test `a + n OP b` (see the module documentation).
fn range_test(op: Op, a: &Value, n: &Value, b: &Value, sort: &WindowSort) -> Result<bool> {
    let key = &sort.order[0];
    let (op, desc) = if key.desc {
        let flipped = match op {
            Op::Ge => Op::Le,
            Op::Gt => Op::Lt,
            Op::Le => Op::Ge,
            Op::Lt => Op::Gt,
        };
        (flipped, true)
    } else {
        (op, false)
    };
    if sort.big_null.first().copied().unwrap_or(false) && (a.is_null() || b.is_null()) {
        return Ok(if a.is_null() {
            match op {
                Op::Ge => true,
                Op::Gt => !b.is_null(),
                Op::Le => b.is_null(),
                Op::Lt => false,
            }
        } else {
            matches!(op, Op::Le | Op::Lt)
        });
    }
    let shifted = match a {
        Value::Text(_) | Value::Blob(_) => a.clone(),
        _ if desc => sub(a, n)?,
        _ => add(a, n)?,
    };
    let o = cmp_values(&shifted, b, key.coll);
    Ok(match op {
        Op::Ge => o != Ordering::Less,
        Op::Gt => o == Ordering::Greater,
        Op::Le => o != Ordering::Greater,
        Op::Lt => o == Ordering::Less,
    })
}

/// The frames of a partition's rows (`keys`: each row's ORDER BY values).
pub(super) fn frames(
    frame: &FramePlan,
    peers: &Peers,
    keys: &[&[Value]],
    sort: &WindowSort,
    cx: &mut ExecCtx,
) -> Result<Frames> {
    let n = peers.len();
    let units = frame.units;
    let start_off = match &frame.start {
        BoundPlan::Preceding(e) | BoundPlan::Following(e) => Some(offset(e, units, true, cx)?),
        _ => None,
    };
    let end_off = match &frame.end {
        BoundPlan::Preceding(e) | BoundPlan::Following(e) => Some(offset(e, units, false, cx)?),
        _ => None,
    };
    if units != FrameUnits::Range {
        if let (Some(Offset::Count(a)), Some(Offset::Count(b))) = (&start_off, &end_off) {
            let empty = match (&frame.start, &frame.end) {
                (BoundPlan::Preceding(_), BoundPlan::Preceding(_)) => b > a,
                (BoundPlan::Following(_), BoundPlan::Following(_)) => b < a,
                _ => false,
            };
            if empty {
                return Ok(Frames {
                    spans: vec![(0, 0); n],
                    untouched: true,
                });
            }
        }
    }
    let count = |o: &Option<Offset>| match o {
        Some(Offset::Count(c)) => usize::try_from(*c).unwrap_or(usize::MAX),
        _ => 0,
    };
    let distance = match (&start_off, &end_off) {
        (Some(Offset::Distance(d)), _) | (_, Some(Offset::Distance(d))) => Some(d.clone()),
        _ => None,
    };
    let (start_n, end_n) = (count(&start_off), count(&end_off));
    let start_d = match &start_off {
        Some(Offset::Distance(d)) => d.clone(),
        _ => distance.clone().unwrap_or(Value::Null),
    };
    let end_d = match &end_off {
        Some(Offset::Distance(d)) => d.clone(),
        _ => distance.unwrap_or(Value::Null),
    };
    let key = |i: usize| keys[i].first().cloned().unwrap_or(Value::Null);
    let mut spans = Vec::with_capacity(n);
    // RANGE offsets move two cursors forward, as SQLite's do.
    let (mut sp, mut ep) = (0usize, 0usize);
    for i in 0..n {
        let g = peers.group(i);
        let groups = peers.groups();
        let s = match (&frame.start, units) {
            (BoundPlan::UnboundedPreceding, _) => 0,
            (BoundPlan::CurrentRow, FrameUnits::Rows) => i,
            (BoundPlan::CurrentRow, _) => peers.start(g),
            (BoundPlan::Preceding(_), FrameUnits::Rows) => i.saturating_sub(start_n),
            (BoundPlan::Following(_), FrameUnits::Rows) => i.saturating_add(start_n).min(n),
            (BoundPlan::Preceding(_), FrameUnits::Groups) => peers.start(g.saturating_sub(start_n)),
            (BoundPlan::Following(_), FrameUnits::Groups) => match g.checked_add(start_n) {
                Some(h) if h < groups => peers.start(h),
                _ => n,
            },
            (BoundPlan::Preceding(_), FrameUnits::Range) => {
                let cur = key(i);
                while sp < n && !range_test(Op::Ge, &key(sp), &start_d, &cur, sort)? {
                    sp += 1;
                }
                sp
            }
            (BoundPlan::Following(_), FrameUnits::Range) => {
                let cur = key(i);
                while sp < n && !range_test(Op::Le, &cur, &start_d, &key(sp), sort)? {
                    sp += 1;
                }
                sp
            }
            (BoundPlan::UnboundedFollowing, _) => n,
        };
        let e = match (&frame.end, units) {
            (BoundPlan::UnboundedFollowing, _) => n,
            (BoundPlan::CurrentRow, FrameUnits::Rows) => i + 1,
            (BoundPlan::CurrentRow, _) => peers.end(g),
            (BoundPlan::Preceding(_), FrameUnits::Rows) => (i + 1).saturating_sub(end_n),
            (BoundPlan::Following(_), FrameUnits::Rows) => {
                i.saturating_add(end_n).saturating_add(1).min(n)
            }
            (BoundPlan::Preceding(_), FrameUnits::Groups) => match g.checked_sub(end_n) {
                Some(h) => peers.end(h),
                None => 0,
            },
            (BoundPlan::Following(_), FrameUnits::Groups) => {
                peers.end(g.saturating_add(end_n).min(groups - 1))
            }
            (BoundPlan::Following(_), FrameUnits::Range) => {
                let cur = key(i);
                while ep < n && range_test(Op::Ge, &cur, &end_d, &key(ep), sort)? {
                    ep += 1;
                }
                ep
            }
            (BoundPlan::Preceding(_), FrameUnits::Range) => {
                let cur = key(i);
                while ep < n && !range_test(Op::Gt, &key(ep), &end_d, &cur, sort)? {
                    ep += 1;
                }
                ep
            }
            (BoundPlan::UnboundedPreceding, _) => 0,
        };
        spans.push((s, e));
    }
    Ok(Frames {
        spans,
        untouched: false,
    })
}
