//! RIGHT and FULL joins: the nested loop that also yields the right rows
//! no left row matched.
//!
//! ```text
//!   right side ──read once──► rights[0..n]   matched[0..n] = false
//!   for each left row l:
//!       for each i: ON(l ++ rights[i]) true → yield l ++ rights[i]; matched[i] = true
//!       FULL and no i matched → yield l ++ NULLs(right width)
//!   then for each i not matched → yield NULLs(left width) ++ rights[i]
//! ```
//!
//! Invariants: the right side is read once, before the first left row,
//! with no left row as its environment (the planner gives a RIGHT or FULL
//! join's right source no access path that reads the left row, and
//! refuses a table-valued function whose arguments do), so every left row
//! meets the same right rows and "not matched" means "matched by no left
//! row". The right rows are held in memory, at most
//! [`MAX_RIGHT_BYTES`]; beyond that the statement fails as too complex
//! rather than exhausting memory. Row-level security has already removed
//! the rows the reader may not see from both inputs (the planner filters
//! each source before it is joined), so a hidden row neither matches nor
//! appears unmatched.

use crate::error::Result;
use crate::sql::cte::row_bytes;
use crate::sql::eval::{truth, PExpr};
use crate::sql::exec::{open, ExecCtx, Row, RowIter};
use crate::sql::plan::Plan;
use crate::types::Value;

/// The most the right side of a RIGHT or FULL join may hold.
pub const MAX_RIGHT_BYTES: usize = 256 << 20;

/// A running RIGHT (or FULL, with `full`) join.
pub(crate) struct OuterJoinIter {
    left: Box<dyn RowIter>,
    rights: Vec<Row>,
    matched: Vec<bool>,
    on: Option<PExpr>,
    full: bool,
    left_width: usize,
    right_width: usize,
    /// The left row being joined, the next right row to try for it, and
    /// whether any matched it yet.
    cur: Option<(Row, usize, bool)>,
    /// Set once the left side is done: the next right row to consider
    /// for the unmatched pass.
    tail: Option<usize>,
}

impl OuterJoinIter {
    /// Opens the join: reads the whole right side first.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn open(
        left: &Plan,
        right: &Plan,
        on: Option<PExpr>,
        full: bool,
        left_width: usize,
        right_width: usize,
        cx: &mut ExecCtx,
        env: &[Value],
    ) -> Result<OuterJoinIter> {
        let mut it = open(right, cx, &[])?;
        let mut rights = Vec::new();
        let mut bytes = 0usize;
        while let Some(r) = it.next(cx)? {
            bytes = bytes.saturating_add(row_bytes(&r));
            if bytes > MAX_RIGHT_BYTES {
                return Err(crate::depth::too_complex(format!(
                    "the right side of a RIGHT or FULL JOIN holds more than {} MiB of rows; \
                     join fewer rows (a WHERE clause on that side, or LEFT JOIN with the \
                     tables swapped)",
                    MAX_RIGHT_BYTES >> 20
                )));
            }
            rights.push(r);
        }
        drop(it);
        Ok(OuterJoinIter {
            left: open(left, cx, env)?,
            matched: vec![false; rights.len()],
            rights,
            on,
            full,
            left_width,
            right_width,
            cur: None,
            tail: None,
        })
    }
}

impl RowIter for OuterJoinIter {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>> {
        loop {
            if let Some(i) = self.tail.as_mut() {
                while *i < self.rights.len() {
                    let at = *i;
                    *i += 1;
                    if !self.matched[at] {
                        let mut row = vec![Value::Null; self.left_width];
                        row.extend(std::mem::take(&mut self.rights[at]));
                        return Ok(Some(row));
                    }
                }
                return Ok(None);
            }
            let Some((left, pos, any)) = self.cur.as_mut() else {
                match self.left.next(cx)? {
                    Some(l) => self.cur = Some((l, 0, false)),
                    None => self.tail = Some(0),
                }
                continue;
            };
            while *pos < self.rights.len() {
                let at = *pos;
                *pos += 1;
                let mut row = left.clone();
                row.extend(self.rights[at].iter().cloned());
                let ok = match &self.on {
                    Some(on) => truth(on, &row, cx)? == Some(true),
                    None => true,
                };
                if ok {
                    *any = true;
                    self.matched[at] = true;
                    return Ok(Some(row));
                }
            }
            let unmatched = !*any;
            let left = self.cur.take().map(|(l, ..)| l);
            if self.full && unmatched {
                if let Some(mut row) = left {
                    row.extend(std::iter::repeat_n(Value::Null, self.right_width));
                    return Ok(Some(row));
                }
            }
        }
    }
}
