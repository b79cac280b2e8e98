//! Aggregates over window frames, computed as SQLite computes them, for
//! it shows in the answers:
//!
//! ```text
//!   frame                               how                          per row
//!   starts at UNBOUNDED PRECEDING       one running aggregate,       rows entering
//!                                       rows added as the end moves
//!   starts elsewhere                    rows added at the end and    rows entering
//!                                       taken back at the start        and leaving
//!   any EXCLUDE (NO OTHERS too)         a fresh aggregate over the   the frame
//!                                       frame's other rows
//!   empty by definition (see frame.rs)  the value of no rows          none
//! ```
//!
//! Taking back is SQLite's `xInverse`: `count` counts down; `sum`,
//! `total` and `avg` subtract (a sum that once saw a REAL stays REAL, an
//! integer sum that overflowed on the way stays an error until a REAL
//! comes); `group_concat` cuts the first value and the separator after
//! it, tracking separator lengths as SQLite does; `min` and `max` keep
//! the frame's values in a monotonic queue and answer the newest of equal
//! extremes (SQLite keeps them in an index ordered by value, then
//! arrival, and reads the last). Rows whose FILTER is not true neither
//! enter nor leave.

use std::collections::VecDeque;

use crate::error::Result;
use crate::sql::aggregate::{AggKind, Aggregator};
use crate::sql::plan::{BoundPlan, FramePlan};
use crate::syntax::ast::FrameUnits;
use crate::types::{Collation, Value};

use super::frame::{Frames, Peers};
use super::{cmp_values, Budget};

/// An aggregate's state over a moving frame.
trait Moving {
    /// Row `j` (arguments `args`) enters the frame.
    fn step(&mut self, j: usize, args: &[Value]) -> Result<()>;
    /// Row `j` leaves it (rows leave in the order they entered).
    fn inverse(&mut self, j: usize, args: &[Value]) -> Result<()>;
    /// The value over the rows in the frame now.
    fn value(&self) -> Result<Value>;
}

impl Moving for Aggregator {
    fn step(&mut self, _: usize, args: &[Value]) -> Result<()> {
        self.update(args)
    }
    fn inverse(&mut self, _: usize, args: &[Value]) -> Result<()> {
        Aggregator::inverse(self, args)
    }
    fn value(&self) -> Result<Value> {
        self.finish()
    }
}

/// `min` or `max` over a moving frame: the frame's candidates for the
/// extreme, oldest first, each worse than the next.
struct MinMax {
    max: bool,
    coll: Collation,
    queue: VecDeque<(usize, Value)>,
}

impl Moving for MinMax {
    fn step(&mut self, j: usize, args: &[Value]) -> Result<()> {
        let Some(v) = args.first().filter(|v| !v.is_null()) else {
            return Ok(());
        };
        // An older value no better than the new one can never be the
        // answer again (ties: the newest wins).
        while let Some((_, back)) = self.queue.back() {
            let o = cmp_values(back, v, self.coll);
            let beaten = if self.max { o.is_le() } else { o.is_ge() };
            if !beaten {
                break;
            }
            self.queue.pop_back();
        }
        self.queue.push_back((j, v.clone()));
        Ok(())
    }
    fn inverse(&mut self, j: usize, _: &[Value]) -> Result<()> {
        if self.queue.front().is_some_and(|(k, _)| *k == j) {
            self.queue.pop_front();
        }
        Ok(())
    }
    fn value(&self) -> Result<Value> {
        Ok(self.queue.front().map_or(Value::Null, |(_, v)| v.clone()))
    }
}

/// `group_concat` over a moving frame, as SQLite's `GroupConcatCtx`:
/// the text so far (each value after the separator it came with, the
/// first without), and enough to cut the oldest value off.
#[derive(Default)]
struct Concat {
    text: Vec<u8>,
    /// A value was appended since the text was last emptied (SQLite:
    /// its buffer is allocated); the next value then gets a separator.
    started: bool,
    /// Values in the text.
    values: usize,
    /// The separator length while all were alike.
    first_sep: usize,
    /// Each value's separator length but the first's, once they differ.
    seps: Option<VecDeque<usize>>,
}

impl Moving for Concat {
    fn step(&mut self, _: usize, args: &[Value]) -> Result<()> {
        let Some(v) = args.first().and_then(Value::to_bytes) else {
            return Ok(());
        };
        let first = !self.started;
        self.started = true;
        match args.get(1) {
            None => {
                if first {
                    self.first_sep = 1;
                } else {
                    self.text.push(b',');
                }
            }
            Some(sep) => {
                let sep = sep.to_bytes();
                let len = sep.as_ref().map_or(0, Vec::len);
                if first {
                    self.first_sep = len;
                } else {
                    if let Some(s) = &sep {
                        self.text.extend_from_slice(s);
                    }
                    if len != self.first_sep || self.seps.is_some() {
                        let seps = self.seps.get_or_insert_with(|| {
                            std::iter::repeat_n(self.first_sep, self.values.saturating_sub(1))
                                .collect()
                        });
                        seps.push_back(len);
                    }
                }
            }
        }
        self.values += 1;
        self.text.extend_from_slice(&v);
        Ok(())
    }

    fn inverse(&mut self, _: usize, args: &[Value]) -> Result<()> {
        let Some(v) = args.first().and_then(Value::to_bytes) else {
            return Ok(());
        };
        let mut cut = v.len();
        self.values = self.values.saturating_sub(1);
        match &mut self.seps {
            Some(seps) => {
                if self.values > 0 {
                    cut += seps.pop_front().unwrap_or(0);
                }
            }
            None => cut += self.first_sep,
        }
        if cut >= self.text.len() {
            self.text.clear();
        } else {
            self.text.drain(..cut);
        }
        if self.text.is_empty() {
            self.started = false;
            self.seps = None;
        }
        Ok(())
    }

    fn value(&self) -> Result<Value> {
        Ok(if self.values > 0 {
            Value::Text(String::from_utf8_lossy(&self.text).into_owned())
        } else {
            Value::Null
        })
    }
}

/// The aggregate `kind` over each row's frame in a partition.
pub(super) fn values(
    kind: AggKind,
    coll: Collation,
    (args, filter): (&[Vec<Value>], &[bool]),
    frames: &Frames,
    frame: &FramePlan,
    peers: &Peers,
    budget: &mut Budget,
) -> Result<Vec<Value>> {
    let n = peers.len();
    let row = |j: usize| -> Vec<Value> { args.iter().map(|a| a[j].clone()).collect() };
    let fresh = || Aggregator::new(kind, false).with_collation(coll);
    if frames.untouched {
        return Ok(vec![fresh().finish()?; n]);
    }
    let mut out = Vec::with_capacity(n);
    if frame.exclude.is_some() {
        for (i, &(s, e)) in frames.spans.iter().enumerate() {
            let mut agg = fresh();
            for (j, &kept) in filter.iter().enumerate().take(e).skip(s) {
                if kept && !peers.excluded(frame.exclude, i, j) {
                    agg.update(&row(j))?;
                }
            }
            let v = agg.finish()?;
            budget.keep(&v)?;
            out.push(v);
        }
        return Ok(out);
    }
    if matches!(frame.start, BoundPlan::UnboundedPreceding) {
        let mut agg = fresh();
        let mut hi = 0;
        for &(_, e) in &frames.spans {
            while hi < e {
                if filter[hi] {
                    agg.update(&row(hi))?;
                }
                hi += 1;
            }
            let v = agg.finish()?;
            budget.keep(&v)?;
            out.push(v);
        }
        return Ok(out);
    }
    let mut acc: Box<dyn Moving> = match kind {
        AggKind::Min | AggKind::Max => Box::new(MinMax {
            max: kind == AggKind::Max,
            coll,
            queue: VecDeque::new(),
        }),
        AggKind::GroupConcat => Box::new(Concat::default()),
        _ => Box::new(fresh()),
    };
    let step = |acc: &mut Box<dyn Moving>, j: usize| {
        if filter[j] {
            acc.step(j, &row(j))
        } else {
            Ok(())
        }
    };
    let inverse = |acc: &mut Box<dyn Moving>, j: usize| {
        if filter[j] {
            acc.inverse(j, &row(j))
        } else {
            Ok(())
        }
    };
    // The aggregate holds rows lo..hi; every row before a frame's end
    // has entered it once (what SQLite's cursors do). Rows leave before
    // new ones enter, but for a RANGE frame between two PRECEDING
    // offsets, where SQLite adds first (which shows in group_concat's
    // separators around empty texts).
    let step_first = frame.units == FrameUnits::Range
        && matches!(frame.start, BoundPlan::Preceding(_))
        && matches!(frame.end, BoundPlan::Preceding(_));
    let (mut lo, mut hi) = (0usize, 0usize);
    for &(s, e) in &frames.spans {
        if step_first {
            while hi < e {
                step(&mut acc, hi)?;
                hi += 1;
            }
            while lo < s.min(hi) {
                inverse(&mut acc, lo)?;
                lo += 1;
            }
        } else if e <= s {
            while hi < e {
                step(&mut acc, hi)?;
                hi += 1;
            }
            while lo < hi {
                inverse(&mut acc, lo)?;
                lo += 1;
            }
        } else {
            while lo < s.min(hi) {
                inverse(&mut acc, lo)?;
                lo += 1;
            }
            while hi < s {
                step(&mut acc, hi)?;
                inverse(&mut acc, hi)?;
                hi += 1;
                lo = hi;
            }
            while hi < e {
                step(&mut acc, hi)?;
                hi += 1;
            }
        }
        let v = acc.value()?;
        budget.keep(&v)?;
        out.push(v);
    }
    Ok(out)
}
