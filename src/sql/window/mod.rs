//! Running window functions: the window node's rows, each followed by the
//! value of every window call for it (planned in `sql::plan::window`).
//!
//! ```text
//!   input rows ─▶ kept (≤ MAX_WINDOW_BYTES)
//!   for each pass (PARTITION BY + ORDER BY + frame of a window), the
//!   first last:
//!     order the rows by it (stable, from the last pass's order)
//!     ─▶ split into partitions
//!     for each partition and each call over this sort:
//!       arguments of every row ─▶ peers (frame.rs) ─▶ frames (frame.rs)
//!       ─▶ values: ranking and navigation (builtin.rs), aggregates over
//!          frames (frame_agg.rs)
//!   output: the rows in the first sort's order, values appended
//! ```
//!
//! The output comes in the order of the window named first, as SQLite's
//! (whose outermost pass is that window's; each pass reads the rows as
//! the one inside it left them); rows a pass's keys do not order keep
//! the order they came in.
//!
//! Semantics are SQLite's (`window.c`), including what its implementation
//! makes observable: the frames built-in functions use whatever the
//! window says, aggregates over a moving frame computed by adding entering
//! rows and taking leaving rows back out (so a `sum` that saw a REAL stays
//! REAL), `min`/`max` over a moving frame keeping the newest of equal
//! values, frame offsets checked when a partition starts.
//!
//! Invariant (fail closed): the rows, keys and values the operator keeps
//! never exceed [`MAX_WINDOW_BYTES`]; beyond, the statement fails with
//! `SqlTooComplex` instead of exhausting memory. Computing is linear in
//! the partition for every frame but EXCLUDE (which, as in SQLite, scans
//! each row's frame).

mod builtin;
mod frame;
mod frame_agg;

use std::cmp::Ordering;

use crate::error::Result;
use crate::sql::eval::{eval, truth};
use crate::sql::exec::{compare_sort_keys, open as open_plan, Collected, ExecCtx, Row, RowIter};
use crate::sql::plan::{WindowFnCall, WindowFunc, WindowPlan, WindowSort};
use crate::types::{Collation, Value};

use self::frame::{frames, Peers};

/// The most the window node keeps: its input rows, their sort keys and
/// the values computed.
pub const MAX_WINDOW_BYTES: usize = 256 << 20;

/// About how much memory `values` take.
fn values_bytes(values: &[Value]) -> usize {
    values
        .iter()
        .map(|v| {
            std::mem::size_of::<Value>()
                + match v {
                    Value::Text(s) => s.len(),
                    Value::Blob(b) => b.len(),
                    _ => 0,
                }
        })
        .sum::<usize>()
}

/// What the operator holds, checked against [`MAX_WINDOW_BYTES`].
pub(super) struct Budget(usize);

impl Budget {
    /// Counts a computed value's text or blob, kept until the output
    /// (checked as each is made: a running group_concat grows fast).
    pub(super) fn keep(&mut self, v: &Value) -> Result<()> {
        match v {
            Value::Text(s) => self.add(s.len()),
            Value::Blob(b) => self.add(b.len()),
            _ => Ok(()),
        }
    }

    fn add(&mut self, bytes: usize) -> Result<()> {
        self.0 = self.0.saturating_add(bytes);
        if self.0 > MAX_WINDOW_BYTES {
            return Err(crate::depth::too_complex(format!(
                "window functions would hold more than {} MiB of rows, keys and values; \
                 compute them over fewer rows (a WHERE clause, a smaller PARTITION BY)",
                MAX_WINDOW_BYTES >> 20
            )));
        }
        Ok(())
    }

    fn release(&mut self, bytes: usize) {
        self.0 = self.0.saturating_sub(bytes);
    }
}

/// Orders two values as a window's sort and peer tests do: NULLs equal
/// and first, text under `coll`.
pub(super) fn cmp_values(a: &Value, b: &Value, coll: Collation) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => coll.compare(a, b),
    }
}

/// A row's sort keys for one window: partition values, then ORDER BY
/// values.
struct Keys {
    partition: Vec<Value>,
    order: Vec<Value>,
}

/// Opens the window node `w`.
pub(crate) fn open(w: &WindowPlan, cx: &mut ExecCtx, env: &[Value]) -> Result<Box<dyn RowIter>> {
    let mut input = open_plan(&w.input, cx, env)?;
    let mut budget = Budget(0);
    let mut rows: Vec<Row> = Vec::new();
    while let Some(r) = input.next(cx)? {
        budget.add(std::mem::size_of::<Row>() + values_bytes(&r))?;
        rows.push(r);
    }
    drop(input);
    let n = rows.len();
    budget.add(
        n.saturating_mul(w.calls.len())
            .saturating_mul(std::mem::size_of::<Value>()),
    )?;
    let mut values: Vec<Vec<Value>> = vec![vec![Value::Null; w.calls.len()]; n];
    let mut order: Vec<usize> = (0..n).collect();
    for s in (0..w.sorts.len()).rev() {
        order = run_sort(w, s, &rows, order, &mut values, &mut budget, cx)?;
    }
    let mut out = Vec::with_capacity(n);
    let mut rows: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
    for i in order {
        if let Some(mut r) = rows[i].take() {
            r.extend(std::mem::take(&mut values[i]));
            out.push(r);
        }
    }
    Ok(Box::new(Collected(out.into_iter())))
}

/// Computes the calls of pass `s` over the rows as the pass before left
/// them (`order`); returns the rows' order after it.
fn run_sort(
    w: &WindowPlan,
    s: usize,
    rows: &[Row],
    mut idx: Vec<usize>,
    values: &mut [Vec<Value>],
    budget: &mut Budget,
    cx: &mut ExecCtx,
) -> Result<Vec<usize>> {
    let sort = &w.sorts[s];
    let mut keys = Vec::with_capacity(rows.len());
    let mut held = 0usize;
    for r in rows {
        let partition = sort
            .partition
            .iter()
            .map(|(e, _)| eval(e, r, cx))
            .collect::<Result<Vec<_>>>()?;
        let order = sort
            .order
            .iter()
            .map(|k| eval(&k.expr, r, cx))
            .collect::<Result<Vec<_>>>()?;
        let bytes = values_bytes(&partition) + values_bytes(&order) + 64;
        budget.add(bytes)?;
        held += bytes;
        keys.push(Keys { partition, order });
    }
    let same_partition = |a: &Keys, b: &Keys| {
        a.partition
            .iter()
            .zip(&b.partition)
            .zip(&sort.partition)
            .all(|((x, y), (_, c))| cmp_values(x, y, *c) == Ordering::Equal)
    };
    idx.sort_by(|&a, &b| {
        let (ka, kb) = (&keys[a], &keys[b]);
        for ((x, y), (_, c)) in ka.partition.iter().zip(&kb.partition).zip(&sort.partition) {
            let o = cmp_values(x, y, *c);
            if o != Ordering::Equal {
                return o;
            }
        }
        compare_sort_keys(&ka.order, &kb.order, &sort.order)
    });
    let calls: Vec<(usize, &WindowFnCall)> = w
        .calls
        .iter()
        .enumerate()
        .filter(|(_, c)| c.sort == s)
        .collect();
    let mut start = 0;
    while start < idx.len() {
        let mut end = start + 1;
        while end < idx.len() && same_partition(&keys[idx[start]], &keys[idx[end]]) {
            end += 1;
        }
        let part = &idx[start..end];
        let order_keys: Vec<&[Value]> = part.iter().map(|&i| keys[i].order.as_slice()).collect();
        let peers = Peers::new(&order_keys, sort);
        for &(c, call) in &calls {
            let got = partition_values(call, part, rows, &order_keys, &peers, sort, budget, cx)?;
            for (&i, v) in part.iter().zip(got) {
                values[i][c] = v;
            }
        }
        start = end;
    }
    budget.release(held);
    Ok(idx)
}

/// One call's values for the rows of one partition (in its order).
#[allow(clippy::too_many_arguments)]
fn partition_values(
    call: &WindowFnCall,
    part: &[usize],
    rows: &[Row],
    order_keys: &[&[Value]],
    peers: &Peers,
    sort: &WindowSort,
    budget: &mut Budget,
    cx: &mut ExecCtx,
) -> Result<Vec<Value>> {
    // Every argument of every row, as SQLite computes them before the
    // window runs.
    let mut args: Vec<Vec<Value>> = Vec::with_capacity(call.args.len());
    let mut held = 0usize;
    for a in &call.args {
        let col = part
            .iter()
            .map(|&i| eval(a, &rows[i], cx))
            .collect::<Result<Vec<_>>>()?;
        let bytes = values_bytes(&col);
        budget.add(bytes)?;
        held += bytes;
        args.push(col);
    }
    let filter = match &call.filter {
        Some(f) => part
            .iter()
            .map(|&i| Ok(truth(f, &rows[i], cx)? == Some(true)))
            .collect::<Result<Vec<bool>>>()?,
        None => vec![true; part.len()],
    };
    let out = match call.func {
        WindowFunc::Agg(kind) => {
            let fr = frames(&call.frame, peers, order_keys, sort, cx)?;
            frame_agg::values(
                kind,
                call.coll,
                (&args, &filter),
                &fr,
                &call.frame,
                peers,
                budget,
            )?
        }
        WindowFunc::FirstValue | WindowFunc::LastValue | WindowFunc::NthValue => {
            let fr = frames(&call.frame, peers, order_keys, sort, cx)?;
            builtin::frame_values(call.func, &args, &fr, &call.frame, peers, budget)?
        }
        f => builtin::values(f, &args, peers, budget)?,
    };
    budget.release(held);
    Ok(out)
}
