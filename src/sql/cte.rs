//! Running common table expressions: a kept (materialized) CTE's rows,
//! and the queue of a recursive CTE. How they are planned:
//! `sql::plan::cte`.
//!
//! A recursive CTE runs as SQLite runs it (its `lang_with.html`):
//!
//! ```text
//!   queue ← rows of the setup SELECTs          (UNION: each distinct row once)
//!   loop: row ← take from queue                (first in, or smallest by ORDER BY,
//!         output row (unless OFFSET skips it)    ties first in)
//!         LIMIT reached → stop
//!         run each recursive SELECT with row as the CTE's one row,
//!           queue what it yields               (UNION: rows never queued before)
//! ```
//!
//! The output streams: a row is returned before the recursive SELECTs run
//! on it (they run at the next pull), so an endless recursion read under
//! an outer LIMIT stops, and after the LIMIT's last row nothing more runs,
//! as in SQLite. Invariant (fail closed): the rows a recursion holds — its
//! queue and, for UNION, the keys of every row it has queued — never
//! exceed [`MAX_RECURSION_BYTES`]; beyond, the statement fails with a clear
//! error instead of exhausting memory. (SQLite has no such limit; an
//! endless recursion that holds nothing runs until its LIMIT, as there.)
//!
//! A kept CTE's rows are computed at its first use in the statement and
//! shared (by id, in the statement's subquery cache) with its other
//! references; rows beyond [`MAX_KEPT_BYTES`] are not kept: the CTE then
//! streams and runs again at its next use, with the same rows.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::sync::Arc;

use crate::error::Result;
use crate::sql::eval::eval;
use crate::sql::exec::{
    compare_sort_keys, distinct_key, limit_offset, open, ExecCtx, Row, RowIter,
};
use crate::sql::plan::{Plan, RecursiveCte, SortKey};
use crate::types::{Collation, Value};

/// The most a recursive CTE may hold (queue and seen rows) at once.
pub const MAX_RECURSION_BYTES: usize = 256 << 20;

/// The most a CTE's rows are kept for its other references.
pub const MAX_KEPT_BYTES: usize = 64 << 20;

/// About how much memory `row` takes.
pub(crate) fn row_bytes(row: &[Value]) -> usize {
    std::mem::size_of::<Row>()
        + row
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

/// Opens a kept CTE: its rows from the statement's cache (under `id`),
/// else computed now and kept (when they fit in [`MAX_KEPT_BYTES`]).
pub(crate) fn open_kept(
    id: usize,
    plan: &Plan,
    cx: &mut ExecCtx,
    env: &[Value],
) -> Result<Box<dyn RowIter>> {
    if let Some(rows) = cx.cache.get(&id) {
        return Ok(Box::new(Shared {
            rows: rows.clone(),
            next: 0,
        }));
    }
    let mut input = open(plan, cx, env)?;
    let mut rows = Vec::new();
    let mut bytes = 0usize;
    while let Some(r) = input.next(cx)? {
        bytes += row_bytes(&r);
        rows.push(r);
        if bytes > MAX_KEPT_BYTES {
            // Too large to keep: hand out what was read, then the rest.
            return Ok(Box::new(Spilled {
                read: rows.into_iter(),
                rest: input,
            }));
        }
    }
    let rows = Arc::new(rows);
    cx.cache.insert(id, rows.clone());
    Ok(Box::new(Shared { rows, next: 0 }))
}

/// Kept rows, shared.
struct Shared {
    rows: Arc<Vec<Row>>,
    next: usize,
}

impl RowIter for Shared {
    fn next(&mut self, _: &mut ExecCtx) -> Result<Option<Row>> {
        let r = self.rows.get(self.next).cloned();
        self.next += 1;
        Ok(r)
    }
}

/// Rows read while trying to keep them, then the rest of their input.
struct Spilled {
    read: std::vec::IntoIter<Row>,
    rest: Box<dyn RowIter>,
}

impl RowIter for Spilled {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>> {
        match self.read.next() {
            Some(r) => Ok(Some(r)),
            None => self.rest.next(cx),
        }
    }
}

/// A queued row under ORDER BY: ordered by its sort key values, then by
/// when it was queued.
struct Ordered {
    keys: Vec<Value>,
    seq: u64,
    row: Row,
    order: Arc<[SortKey]>,
}

impl PartialEq for Ordered {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ordered {}

impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_sort_keys(&self.keys, &other.keys, &self.order).then(self.seq.cmp(&other.seq))
    }
}

enum Queue {
    Fifo(VecDeque<Row>),
    /// Smallest first.
    Sorted(BinaryHeap<Reverse<Ordered>>, u64),
}

/// A running recursive CTE (see the module docs).
pub(crate) struct RecursiveIter {
    name: String,
    id: usize,
    steps: Vec<Plan>,
    order: Arc<[SortKey]>,
    distinct: Option<Vec<Collation>>,
    seen: HashSet<Vec<u8>>,
    queue: Queue,
    /// The row output last, whose recursive SELECTs have not run yet.
    pending: Option<Row>,
    remaining: u64,
    skip: u64,
    /// What the queue and the seen keys hold.
    bytes: usize,
    env: Row,
}

impl RecursiveIter {
    pub(crate) fn open(r: &RecursiveCte, cx: &mut ExecCtx, env: &[Value]) -> Result<RecursiveIter> {
        let (remaining, skip) = limit_offset(&r.limit, &r.offset, env, cx)?;
        let order: Arc<[SortKey]> = r.order.clone().into();
        let mut it = RecursiveIter {
            name: r.name.clone(),
            id: r.id,
            steps: r.steps.clone(),
            queue: if order.is_empty() {
                Queue::Fifo(VecDeque::new())
            } else {
                Queue::Sorted(BinaryHeap::new(), 0)
            },
            order,
            distinct: r.distinct.clone(),
            seen: HashSet::new(),
            pending: None,
            remaining,
            skip,
            bytes: 0,
            env: env.to_vec(),
        };
        // LIMIT 0: SQLite does not even run the setup.
        if it.remaining > 0 {
            let mut setup = open(&r.setup, cx, env)?;
            while let Some(row) = setup.next(cx)? {
                it.push(row, cx)?;
            }
        }
        Ok(it)
    }

    /// Queues `row` (under UNION, unless an equal row was queued before).
    fn push(&mut self, row: Row, cx: &mut ExecCtx) -> Result<()> {
        if let Some(colls) = &self.distinct {
            let key = distinct_key(&row, colls);
            let key_bytes = key.len() + std::mem::size_of::<Vec<u8>>();
            if !self.seen.insert(key) {
                return Ok(());
            }
            self.bytes += key_bytes;
        }
        self.bytes += row_bytes(&row);
        if self.bytes > MAX_RECURSION_BYTES {
            return Err(crate::depth::too_complex(format!(
                "recursive common table expression {} holds more than {} MiB of rows \
                 (its queue, and for UNION every row it produced); add a LIMIT or a condition \
                 that ends the recursion",
                self.name,
                MAX_RECURSION_BYTES >> 20
            )));
        }
        match &mut self.queue {
            Queue::Fifo(q) => q.push_back(row),
            Queue::Sorted(heap, seq) => {
                let keys = self
                    .order
                    .iter()
                    .map(|k| eval(&k.expr, &row, cx))
                    .collect::<Result<Vec<_>>>()?;
                *seq += 1;
                heap.push(Reverse(Ordered {
                    keys,
                    seq: *seq,
                    row,
                    order: self.order.clone(),
                }));
            }
        }
        Ok(())
    }

    fn pop(&mut self) -> Option<Row> {
        let row = match &mut self.queue {
            Queue::Fifo(q) => q.pop_front(),
            Queue::Sorted(heap, _) => heap.pop().map(|Reverse(o)| o.row),
        }?;
        self.bytes = self.bytes.saturating_sub(row_bytes(&row));
        Some(row)
    }

    /// Runs the recursive SELECTs with `row` as the CTE's only row.
    fn recurse(&mut self, row: Row, cx: &mut ExecCtx) -> Result<()> {
        cx.cache.insert(self.id, Arc::new(vec![row]));
        let r = (|| {
            for i in 0..self.steps.len() {
                let step = self.steps[i].clone();
                let mut it = open(&step, cx, &self.env)?;
                while let Some(out) = it.next(cx)? {
                    self.push(out, cx)?;
                }
            }
            Ok(())
        })();
        cx.cache.remove(&self.id);
        r
    }
}

impl RowIter for RecursiveIter {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>> {
        loop {
            if let Some(row) = self.pending.take() {
                self.recurse(row, cx)?;
            }
            if self.remaining == 0 {
                return Ok(None);
            }
            let Some(row) = self.pop() else {
                return Ok(None);
            };
            if self.skip > 0 {
                self.skip -= 1;
                self.recurse(row, cx)?;
                continue;
            }
            self.remaining -= 1;
            if self.remaining > 0 {
                self.pending = Some(row.clone());
            }
            return Ok(Some(row));
        }
    }
}
