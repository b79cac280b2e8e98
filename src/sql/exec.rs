//! The executor: runs plans as pull-based row iterators, and runs DML/DDL.
//!
//! Every plan node opens into a [`RowIter`]; `next` pulls one row at a
//! time, so a scan streams from storage and only the operators that must
//! see everything (sort, aggregate, distinct, set operations) collect rows.
//! Iterators own `Arc`s of their plan nodes and take the transaction through
//! the [`ExecCtx`] passed to each call, so a result set can outlive the
//! function that opened it.
//!
//! Writes go through the transaction's write set: a row is
//! `row_key(table, rowid) → encode_row(values)`, and each index gets
//! `index_key(table, index, key values, rowid) → ()`. Constraint checks
//! (NOT NULL, UNIQUE, PRIMARY KEY) run before anything of the row is
//! written; the caller rolls a failed statement back to its undo mark.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use crate::catalog::{
    index_key, index_prefix, index_prefix_with_room, row_key, row_key_array, rowid_of_key,
    rows_prefix, Index, Table,
};
use crate::encoding::{decode_row_into, encode_index_value, encode_row, encoded_row_len};
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::aggregate::{AggKind, Aggregator};
use crate::sql::eval::{eval, truth, PExpr, SubPlan};
use crate::sql::outer_join::OuterJoinIter;
use crate::sql::plan::{Access, AggCall, Node, Plan, SortKey};
use crate::storage::Direction;
use crate::syntax::ast::{JoinKind, SetOp};
use crate::txn::{Txn, TxnIter};
use crate::types::{apply_affinity, apply_comparison_affinity, Affinity, Collation, Value};

/// A row of values.
pub type Row = Vec<Value>;

/// What an operator needs while running.
pub struct ExecCtx<'a> {
    /// The transaction.
    pub txn: &'a mut Txn,
    /// Bound parameters (index 0 = `?1`).
    pub params: &'a [Value],
    /// Rows of the enclosing queries (innermost last).
    pub outer: &'a mut Vec<Row>,
    /// Results of uncorrelated subqueries, by subplan id.
    pub cache: &'a mut BTreeMap<usize, Arc<Vec<Row>>>,
    /// How long to wait for the writer slot.
    pub busy_timeout: Duration,
    /// Set while running a trigger body: the trigger's table (its row is
    /// the outermost row of `outer`).
    pub trigger: Option<Arc<Table>>,
    /// Who the statement runs as (row-level security, `current_user`).
    /// Borrowed from the statement or result set that runs it (a row of a
    /// result set would otherwise pay an atomic count up and down); a
    /// trigger body runs with its owner's, owned.
    pub sec: Option<std::borrow::Cow<'a, Arc<crate::sql::plan::Security>>>,
    /// What the caller undoes when the statement fails: set by the
    /// conflict resolution of a constraint error (OR FAIL, OR ROLLBACK).
    pub on_error: ErrorScope,
    /// The session's counters and the statement's moment, for functions
    /// (`last_insert_rowid()`, `'now'`).
    /// Borrowed, so the rows of one result share one moment without the
    /// clock being read for a statement that never asks.
    pub session: &'a crate::sql::functions::SessionSnapshot,
    /// Triggers already authorized during this statement, by id, with the
    /// rights they run with (their owner's). A vector: a statement fires
    /// few distinct triggers, and a context is made for every row a result
    /// set pulls, where an empty map cost ~50 instructions to drop.
    pub trigger_rights: Vec<(u32, Arc<crate::sql::plan::Security>)>,
    /// Set by `RAISE(IGNORE)` with the error it returns, which unwinds the
    /// trigger program; the trigger firing that sees both ends the row's
    /// processing without an error (see `sql::run::trigger::fire`).
    pub raised_ignore: bool,
}

/// What a failed statement's error undoes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorScope {
    /// The statement's changes (ABORT, and every other error), when it
    /// keeps a statement journal (see [`crate::sql::journal`]); else
    /// nothing inside a transaction.
    #[default]
    Statement,
    /// Nothing: the changes made before the error stay (OR FAIL).
    Nothing,
    /// The whole transaction (OR ROLLBACK).
    Transaction,
}

impl ExecCtx<'_> {
    pub(crate) fn param(&self, i: usize) -> Result<Value> {
        self.params
            .get(i.wrapping_sub(1))
            .cloned()
            .ok_or_else(|| Error::sql(SqlErrorKind::Misuse, format!("parameter {i} is not bound")))
    }

    /// [`ExecCtx::param`] into `slot`: a text or blob into the buffer of
    /// the text or blob `slot` holds (`Value::clone_from`).
    pub(crate) fn param_into(&self, i: usize, slot: &mut Value) -> Result<()> {
        let v = self.params.get(i.wrapping_sub(1)).ok_or_else(|| {
            Error::sql(SqlErrorKind::Misuse, format!("parameter {i} is not bound"))
        })?;
        slot.clone_from(v);
        Ok(())
    }

    pub(crate) fn outer_value(&self, depth: usize, i: usize) -> Value {
        self.outer
            .len()
            .checked_sub(depth)
            .and_then(|d| self.outer.get(d))
            .and_then(|r| r.get(i))
            .cloned()
            .unwrap_or(Value::Null)
    }
}

/// How much of a subquery's result is needed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SubKind {
    /// Every row (IN).
    All,
    /// The first row (scalar, EXISTS).
    First,
}

/// Runs a subquery for the current `row` (pushed as its outer row).
pub fn run_subplan(
    sub: &SubPlan,
    row: &[Value],
    cx: &mut ExecCtx,
    kind: SubKind,
) -> Result<Arc<Vec<Row>>> {
    if !sub.correlated {
        if let Some(r) = cx.cache.get(&sub.id) {
            return Ok(r.clone());
        }
    }
    cx.outer.push(row.to_vec());
    let result = (|| {
        let mut it = open(&sub.plan, cx, &[])?;
        let mut rows = Vec::new();
        while let Some(r) = it.next(cx)? {
            rows.push(r);
            if kind == SubKind::First && sub.correlated {
                break;
            }
        }
        Ok(rows)
    })();
    cx.outer.pop();
    let rows = Arc::new(result?);
    if !sub.correlated {
        cx.cache.insert(sub.id, rows.clone());
    }
    Ok(rows)
}

/// A running operator.
pub trait RowIter {
    /// The next row, or `None` at the end.
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>>;

    /// The next row into `out`, replacing what it held; false at the end
    /// (`out` then holds anything). An operator that overrides this reuses
    /// `out`'s buffers (the row's and its texts'), so a consumer pulling
    /// every row into the same `out` allocates per row only what changed
    /// size; the rows are the same as [`RowIter::next`]'s.
    fn next_into(&mut self, cx: &mut ExecCtx, out: &mut Row) -> Result<bool> {
        match self.next(cx)? {
            Some(r) => {
                *out = r;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Lets go of what a finished or abandoned run still holds that a
    /// statement must not keep while it waits for its next run (a storage
    /// cursor, which pins the files it reads; rows collected), and says
    /// whether [`RowIter::reopen`] can then run `plan` again with this
    /// operator and its inputs. An operator that cannot says false and is
    /// dropped.
    fn park(&mut self) -> bool {
        false
    }

    /// Made ready for a new run of `plan`, the plan this operator was
    /// opened from and parked after (see [`reopen`]), with `cx` and `env`
    /// as [`open`] would have been given: the same rows as a fresh open,
    /// with the buffers of the last run. False when this operator and
    /// `plan` do not match (nothing was evaluated then); the caller opens
    /// `plan` instead.
    fn reopen(&mut self, _plan: &Plan, _cx: &mut ExecCtx, _env: &[Value]) -> Result<bool> {
        Ok(false)
    }
}

/// `plan` opened for a run: `kept`, an operator tree a finished run of
/// the same plan parked ([`RowIter::park`]), made ready again if it can
/// be; else a fresh tree. A prepared query run again and again (a lookup
/// by key) so builds no operator and allocates no row buffer per run.
pub fn reopen(
    kept: Option<Box<dyn RowIter>>,
    plan: &Plan,
    cx: &mut ExecCtx,
    env: &[Value],
) -> Result<Box<dyn RowIter>> {
    if let Some(mut it) = kept {
        if it.reopen(plan, cx, env)? {
            return Ok(it);
        }
    }
    open(plan, cx, env)
}

/// A child operator's [`RowIter::reopen`], one step of a recursion as
/// deep as the plan, so guarded as [`open`]'s steps are.
fn reopen_child(
    it: &mut Box<dyn RowIter>,
    plan: &Plan,
    cx: &mut ExecCtx,
    env: &[Value],
) -> Result<bool> {
    crate::depth::guarded(|| it.reopen(plan, cx, env))
}

struct Once(Option<Row>);

impl RowIter for Once {
    fn next(&mut self, _: &mut ExecCtx) -> Result<Option<Row>> {
        Ok(self.0.take())
    }
}

pub(crate) struct Collected(pub(crate) std::vec::IntoIter<Row>);

impl RowIter for Collected {
    fn next(&mut self, _: &mut ExecCtx) -> Result<Option<Row>> {
        Ok(self.0.next())
    }
}

/// The rows of `json_each` / `json_tree`, made as they are pulled.
struct JsonEachIter(crate::sql::functions::json::each::JsonEach);

impl RowIter for JsonEachIter {
    fn next(&mut self, _: &mut ExecCtx) -> Result<Option<Row>> {
        self.0.next_row()
    }
}

/// A pull through an operator tree recurses once per operator; every
/// [`GUARD_EVERY`]th level of an opened tree checks the stack (see
/// `depth`), so deep trees (a compound SELECT of 500 terms, views over
/// views) cannot overflow it while plans of ordinary depth pay nothing.
const GUARD_EVERY: usize = 16;

thread_local! {
    /// How deep in the tree [`open`] is opening, on this thread.
    static OPEN_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// An operator whose pulls run on a fresh stack segment when the stack
/// runs low.
struct StackGuarded(Box<dyn RowIter>);

impl RowIter for StackGuarded {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>> {
        crate::depth::guarded(|| self.0.next(cx))
    }
}

/// Opens `plan`; `env` is the row the plan may refer to as its left side
/// (the outer row of a nested-loop join), empty otherwise.
pub fn open(plan: &Plan, cx: &mut ExecCtx, env: &[Value]) -> Result<Box<dyn RowIter>> {
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            OPEN_DEPTH.with(|d| d.set(self.0));
        }
    }
    let level = OPEN_DEPTH.with(|d| {
        let level = d.get();
        d.set(level + 1);
        level
    });
    let _restore = Restore(level);
    let it = crate::depth::guarded(|| open_node(plan, cx, env))?;
    Ok(if level > 0 && level.is_multiple_of(GUARD_EVERY) {
        Box::new(StackGuarded(it))
    } else {
        it
    })
}

fn open_node(plan: &Plan, cx: &mut ExecCtx, env: &[Value]) -> Result<Box<dyn RowIter>> {
    Ok(match &**plan {
        Node::Unit => Box::new(Once(Some(Vec::new()))),
        Node::Scan {
            table,
            access,
            reverse,
        } => Box::new(Scan::open(table.clone(), access, *reverse, cx, env)?),
        Node::Values(rows) => {
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(
                    r.iter()
                        .map(|e| eval(e, env, cx))
                        .collect::<Result<Row>>()?,
                );
            }
            Box::new(Collected(out.into_iter()))
        }
        Node::Introspect { what, args, seen } => {
            let args = args
                .iter()
                .map(|e| eval(e, env, cx))
                .collect::<Result<Vec<Value>>>()?;
            let rows = if *what == crate::sql::introspect::Introspect::ForeignKeyCheck {
                crate::sql::run::foreign_key::check_rows(cx, seen, &args)?
            } else {
                crate::sql::introspect::rows(*what, seen, &args)?
            };
            Box::new(Collected(rows.into_iter()))
        }
        Node::JsonEach { tree, args } => {
            let args = args
                .iter()
                .map(|e| eval(e, env, cx))
                .collect::<Result<Vec<Value>>>()?;
            Box::new(JsonEachIter(
                crate::sql::functions::json::each::JsonEach::open(*tree, &args)?,
            ))
        }
        Node::Filter(input, pred) => Box::new(FilterIter {
            input: open(input, cx, env)?,
            pred: pred.clone(),
            env: env.to_vec(),
        }),
        Node::Join {
            left,
            right,
            kind: kind @ (JoinKind::Right | JoinKind::Full),
            on,
            left_width,
            right_width,
        } => Box::new(OuterJoinIter::open(
            left,
            right,
            on.clone(),
            *kind == JoinKind::Full,
            *left_width,
            *right_width,
            cx,
            env,
        )?),
        Node::Join {
            left,
            right,
            kind,
            on,
            right_width,
            ..
        } => Box::new(JoinIter {
            left: open(left, cx, env)?,
            right_plan: right.clone(),
            right: None,
            cur: None,
            matched: false,
            outer: *kind == JoinKind::Left,
            on: on.clone(),
            right_width: *right_width,
            replay: if replayable(right) {
                Replay::Filling(Vec::new(), 0)
            } else {
                Replay::Off
            },
            pos: 0,
            scratch: Vec::new(),
            written: cx.txn.mark(),
        }),
        Node::Project(input, exprs) => {
            let moves = movable_columns(exprs);
            Box::new(ProjectIter {
                input: open(input, cx, env)?,
                in_place: in_place(&moves),
                moves,
                exprs: exprs.clone(),
                scratch: Vec::new(),
            })
        }
        Node::Aggregate {
            input,
            width,
            group,
            aggs,
        } if group.is_empty()
            && aggs
                .iter()
                .all(|a| a.kind == AggKind::CountStar && !a.distinct && a.filter.is_none())
            && matches!(&**input, Node::Scan { .. }) =>
        {
            // Only count(*) over a table's rows: no WHERE and no row
            // policy (either would be a Filter between the scan and the
            // aggregate), so every row counts and none needs decoding.
            // The first row is decoded all the same: the query's bare
            // columns read it, as they would in the general path below.
            let Node::Scan {
                table,
                access,
                reverse,
            } = &**input
            else {
                return Err(Error::sql(SqlErrorKind::Misuse, "count(*) without a scan"));
            };
            let mut scan = Scan::open(table.clone(), access, *reverse, cx, env)?;
            // Ranges of the table's rows (not an index, not rowids) are
            // counted by the store, which passes whole blocks by where its
            // table indexes allow; the same snapshot and write set as the
            // scan's, so the first row and the count agree.
            let ranges = scan.row_ranges();
            let mut first_row = Vec::new();
            let first = scan
                .next_row(cx, true, &mut first_row)?
                .then_some(first_row);
            let mut n: i64 = i64::from(first.is_some());
            match ranges {
                Some(ranges) if first.is_some() => {
                    n = 0;
                    for (lo, hi) in ranges {
                        if !range_is_empty(&lo, &hi) {
                            let c = cx.txn.count(lo, hi)?;
                            n = n.saturating_add(i64::try_from(c).unwrap_or(i64::MAX));
                        }
                    }
                }
                Some(_) => {}
                None => {
                    let mut empty = Vec::new();
                    while scan.next_row(cx, false, &mut empty)? {
                        n += 1;
                    }
                }
            }
            let mut row = first.unwrap_or_default();
            row.resize(*width, Value::Null);
            row.extend(aggs.iter().map(|_| Value::Integer(n)));
            Box::new(Collected(vec![row].into_iter()))
        }
        Node::Aggregate {
            input,
            width,
            group,
            aggs,
        } => {
            let mut it = open(input, cx, env)?;
            let new_aggs = || -> Vec<Aggregator> {
                aggs.iter()
                    .map(|a| Aggregator::new(a.kind, a.distinct).with_collation(a.coll))
                    .collect()
            };
            let group_colls: Vec<Collation> = group.iter().map(|(_, c)| *c).collect();
            // Which row a group's bare columns read (SQLite's rules): the
            // row holding the extreme of its min()/max() (the last such
            // aggregate decides when there are several); else the group's
            // first row (SQLite 3.4x+ copies them only on a group's first
            // row; older versions took the last).
            let picker = aggs.iter().rposition(|a| a.kind.picks_row());
            let grouped = !group.is_empty();
            let mut order: Vec<Vec<u8>> = Vec::new();
            let mut groups: HashMap<Vec<u8>, (Row, Vec<Aggregator>, Row)> = HashMap::new();
            // Without GROUP BY there is one group, kept outside the map
            // (no key to build and hash per row).
            let mut single: Option<(Row, Vec<Aggregator>, Row)> = None;
            let mut args: Row = Vec::new();
            // Aggregates of at most one plain argument (no FILTER, not
            // JSON) read it where it is, chosen once here.
            let plain: Option<Vec<AggArg>> = aggs.iter().map(AggArg::of).collect();
            // Every row is read into the same buffers; a group keeps a copy
            // of the one its bare columns read.
            let mut row: Row = Vec::new();
            while it.next_into(cx, &mut row)? {
                let (fresh, slot) = if grouped {
                    let gvals = group
                        .iter()
                        .map(|(g, _)| eval(g, &row, cx))
                        .collect::<Result<Row>>()?;
                    let key = distinct_key(&gvals, &group_colls);
                    let fresh = !groups.contains_key(&key);
                    if fresh {
                        order.push(key.clone());
                        groups.insert(key.clone(), (Vec::new(), new_aggs(), gvals));
                    }
                    (fresh, groups.get_mut(&key))
                } else {
                    let fresh = single.is_none();
                    (
                        fresh,
                        Some(single.get_or_insert_with(|| (Vec::new(), new_aggs(), Vec::new()))),
                    )
                };
                if let Some((rep, ags, _)) = slot {
                    match &plain {
                        Some(plain) => {
                            for (a, arg) in ags.iter_mut().zip(plain) {
                                arg.update(a, &row, cx)?;
                            }
                        }
                        None => {
                            for (a, call) in ags.iter_mut().zip(aggs) {
                                update_aggregate(a, call, &row, &mut args, cx)?;
                            }
                        }
                    }
                    let take = match picker {
                        Some(p) => ags[p].took_last_row() || fresh,
                        None => fresh,
                    };
                    if take {
                        rep.clone_from(&row);
                    }
                }
            }
            if !grouped {
                order.push(Vec::new());
                let one = single.unwrap_or_else(|| (Vec::new(), new_aggs(), Vec::new()));
                groups.insert(Vec::new(), one);
            }
            let mut out = Vec::with_capacity(order.len());
            for k in order {
                if let Some((mut first, ags, gvals)) = groups.remove(&k) {
                    first.resize(*width, Value::Null);
                    first.extend(gvals);
                    for a in &ags {
                        first.push(a.finish()?);
                    }
                    out.push(first);
                }
            }
            Box::new(Collected(out.into_iter()))
        }
        Node::Sort(input, keys) => open_sorted(input, keys, None, cx, env)?,
        Node::Distinct(input, colls) => Box::new(DistinctIter {
            input: open(input, cx, env)?,
            seen: HashSet::new(),
            colls: colls.clone(),
        }),
        Node::Trim(input, w) => Box::new(TrimIter {
            input: open(input, cx, env)?,
            width: *w,
        }),
        Node::Limit(input, limit, offset) => {
            let (remaining, skip) = limit_offset(limit, offset, env, cx)?;
            // ORDER BY ... LIMIT n keeps only the first rows it may return
            // (the sort key columns may be trimmed off after the sort).
            let keep = remaining
                .checked_add(skip)
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n <= TOP_ROWS_MAX);
            let input = match (&**input, keep) {
                (Node::Sort(i, keys), Some(keep)) => open_sorted(i, keys, Some(keep), cx, env)?,
                (Node::Trim(t, width), Some(keep)) => match &**t {
                    Node::Sort(i, keys) => Box::new(TrimIter {
                        input: open_sorted(i, keys, Some(keep), cx, env)?,
                        width: *width,
                    }),
                    _ => open(input, cx, env)?,
                },
                _ => open(input, cx, env)?,
            };
            Box::new(LimitIter {
                input,
                remaining,
                skip,
            })
        }
        Node::Materialize { id, plan, .. } => crate::sql::cte::open_kept(*id, plan, cx, env)?,
        Node::Window(w) => crate::sql::window::open(w, cx, env)?,
        Node::Recursive(r) => Box::new(crate::sql::cte::RecursiveIter::open(r, cx, env)?),
        Node::RecursiveRow(id) => {
            let rows = cx.cache.get(id).cloned().ok_or_else(|| {
                Error::sql(
                    SqlErrorKind::Misuse,
                    "a recursive CTE's row was read outside its recursion",
                )
            })?;
            Box::new(Collected(
                rows.iter().cloned().collect::<Vec<_>>().into_iter(),
            ))
        }
        Node::SetOp(op, all, left, right, colls) => {
            let mut l = collect(open(left, cx, env)?, cx)?;
            let r = collect(open(right, cx, env)?, cx)?;
            let key = |x: &Row| distinct_key(x, colls);
            let out = match (op, all) {
                (SetOp::Union, true) => {
                    l.extend(r);
                    l
                }
                (SetOp::Union, false) => {
                    l.extend(r);
                    dedup_sorted(l, colls)
                }
                (SetOp::Intersect, _) => {
                    let rk: HashSet<Vec<u8>> = r.iter().map(key).collect();
                    dedup_sorted(
                        l.into_iter().filter(|x| rk.contains(&key(x))).collect(),
                        colls,
                    )
                }
                (SetOp::Except, _) => {
                    let rk: HashSet<Vec<u8>> = r.iter().map(key).collect();
                    dedup_sorted(
                        l.into_iter().filter(|x| !rk.contains(&key(x))).collect(),
                        colls,
                    )
                }
            };
            Box::new(Collected(out.into_iter()))
        }
    })
}

/// How many rows a LIMIT lets through (`u64::MAX`: no limit; a negative
/// or NULL limit is none) and how many an OFFSET skips, as SQLite reads
/// them (integers, else a datatype mismatch).
pub(crate) fn limit_offset(
    limit: &Option<PExpr>,
    offset: &Option<PExpr>,
    env: &[Value],
    cx: &mut ExecCtx,
) -> Result<(u64, u64)> {
    let as_int = |v: Value| -> Result<i64> {
        match apply_affinity(v, Affinity::Integer) {
            Value::Integer(i) => Ok(i),
            Value::Null => Ok(-1),
            _ => Err(Error::sql(
                SqlErrorKind::TypeMismatch,
                "datatype mismatch in LIMIT/OFFSET",
            )),
        }
    };
    let l = match limit {
        Some(e) => as_int(eval(e, env, cx)?)?,
        None => -1,
    };
    let o = match offset {
        Some(e) => as_int(eval(e, env, cx)?)?.max(0),
        None => 0,
    };
    Ok((if l < 0 { u64::MAX } else { l as u64 }, o as u64))
}

/// Most rows an ORDER BY under a LIMIT keeps while it reads (LIMIT plus
/// OFFSET); a larger LIMIT sorts every row.
const TOP_ROWS_MAX: usize = 100_000;

/// The rows of `input` in the order of `keys`, ties in input order (a
/// stable sort). With `keep`, only the first `keep` of them: every row is
/// still read and its keys evaluated (the same errors, in the same order),
/// but once twice `keep` are held the first `keep` are selected and the
/// rest dropped, so a top-N query holds O(N) rows, not the whole input.
fn open_sorted(
    input: &Plan,
    keys: &[SortKey],
    keep: Option<usize>,
    cx: &mut ExecCtx,
    env: &[Value],
) -> Result<Box<dyn RowIter>> {
    let mut it = open(input, cx, env)?;
    // (sort key values, arrival number, row): the arrival number makes the
    // selection and the final sort agree with a stable sort.
    let mut rows: Vec<(Row, usize, Row)> = Vec::new();
    let order = |a: &(Row, usize, Row), b: &(Row, usize, Row)| {
        compare_sort_keys(&a.0, &b.0, keys).then(a.1.cmp(&b.1))
    };
    let mut n = 0;
    // After a selection: the last kept row, the worst of them; a row that
    // sorts after it can never be returned and is not held.
    let mut worst: Option<usize> = None;
    // Each row and its keys are read into the same buffers, copied out
    // only when held.
    let (mut r, mut k): (Row, Row) = (Vec::new(), Vec::new());
    // Keys that are all columns (the usual case: ORDER BY a result
    // column, or a hidden one projected for the sort) cannot fail to
    // evaluate, so a row is compared with the worst held one where it is,
    // and its keys are copied only when it is held.
    let cols: Option<Vec<usize>> = keys
        .iter()
        .map(|k| match k.expr {
            PExpr::Col(i) => Some(i),
            _ => None,
        })
        .collect();
    while it.next_into(cx, &mut r)? {
        n += 1;
        if let (Some(cols), Some((wk, _, _))) = (&cols, worst.and_then(|w| rows.get(w))) {
            const NULL: &Value = &Value::Null;
            let o = compare_sort_values(|i| r.get(cols[i]).unwrap_or(NULL), |i| &wk[i], keys);
            // A later row ties with an earlier one only to come after it.
            if o != std::cmp::Ordering::Less {
                continue;
            }
        }
        k.clear();
        for key in keys {
            k.push(eval(&key.expr, &r, cx)?);
        }
        if keep == Some(0) {
            continue;
        }
        if let (None, Some((wk, _, _))) = (&cols, worst.and_then(|w| rows.get(w))) {
            // As above, for keys that had to be evaluated first.
            if compare_sort_keys(&k, wk, keys) != std::cmp::Ordering::Less {
                continue;
            }
        }
        rows.push((k.clone(), n, r.clone()));
        if let Some(keep) = keep {
            if rows.len() >= keep.saturating_mul(2).max(64) {
                rows.select_nth_unstable_by(keep - 1, order);
                rows.truncate(keep);
                worst = Some(keep - 1);
            }
        }
    }
    rows.sort_by(order);
    if let Some(keep) = keep {
        rows.truncate(keep);
    }
    Ok(Box::new(Collected(
        rows.into_iter()
            .map(|(_, _, r)| r)
            .collect::<Vec<_>>()
            .into_iter(),
    )))
}

/// Orders two rows of sort key values under `keys` (ORDER BY).
pub(crate) fn compare_sort_keys(a: &[Value], b: &[Value], keys: &[SortKey]) -> std::cmp::Ordering {
    compare_sort_values(|i| &a[i], |i| &b[i], keys)
}

/// [`compare_sort_keys`] with key `i` of each side read through `a(i)`
/// and `b(i)` (a row's columns, in place).
fn compare_sort_values<'v>(
    a: impl Fn(usize) -> &'v Value,
    b: impl Fn(usize) -> &'v Value,
    keys: &[SortKey],
) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for (i, key) in keys.iter().enumerate() {
        let (x, y) = (a(i), b(i));
        let o = match (matches!(x, Value::Null), matches!(y, Value::Null)) {
            (true, true) => Ordering::Equal,
            (true, false) if key.nulls_first => Ordering::Less,
            (true, false) => Ordering::Greater,
            (false, true) if key.nulls_first => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => {
                let o = key.coll.compare(x, y);
                if key.desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

pub(crate) fn collect(mut it: Box<dyn RowIter>, cx: &mut ExecCtx) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    while let Some(r) = it.next(cx)? {
        out.push(r);
    }
    Ok(out)
}

/// Removes duplicates and sorts (how SQLite's compound operators answer),
/// each column under its collation.
fn dedup_sorted(mut rows: Vec<Row>, colls: &[Collation]) -> Vec<Row> {
    rows.sort_by(|a, b| {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            let o = colls.get(i).copied().unwrap_or_default().compare(x, y);
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    let mut seen = HashSet::new();
    rows.retain(|r| seen.insert(distinct_key(r, colls)));
    rows
}

/// Key for DISTINCT / GROUP BY: values equal under each column's collation
/// (1 and 1.0; 'a' and 'A' under NOCASE) get the same key.
pub fn distinct_key(values: &[Value], colls: &[Collation]) -> Vec<u8> {
    let mut k = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let coll = colls.get(i).copied().unwrap_or_default();
        encode_index_value(&coll.fold_value(v), false, &mut k);
    }
    k
}

struct FilterIter {
    input: Box<dyn RowIter>,
    /// Shared with the plan (a run does not copy the expression).
    pred: Arc<PExpr>,
    env: Row,
}

impl RowIter for FilterIter {
    fn park(&mut self) -> bool {
        crate::depth::guarded(|| self.input.park())
    }

    fn reopen(&mut self, plan: &Plan, cx: &mut ExecCtx, env: &[Value]) -> Result<bool> {
        let Node::Filter(input, pred) = &**plan else {
            return Ok(false);
        };
        if !Arc::ptr_eq(pred, &self.pred) || !reopen_child(&mut self.input, input, cx, env)? {
            return Ok(false);
        }
        self.env.clear();
        self.env.extend_from_slice(env);
        Ok(true)
    }

    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>> {
        let _ = &self.env;
        while let Some(r) = self.input.next(cx)? {
            if truth(&self.pred, &r, cx)? == Some(true) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    fn next_into(&mut self, cx: &mut ExecCtx, out: &mut Row) -> Result<bool> {
        while self.input.next_into(cx, out)? {
            if truth(&self.pred, out, cx)? == Some(true) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

struct JoinIter {
    left: Box<dyn RowIter>,
    right_plan: Plan,
    right: Option<Box<dyn RowIter>>,
    cur: Option<Row>,
    matched: bool,
    outer: bool,
    on: Option<PExpr>,
    right_width: usize,
    /// The right side's rows kept to replay for every left row after the
    /// first (see [`replayable`]).
    replay: Replay,
    /// The next right row to replay.
    pos: usize,
    /// The right row of [`RowIter::next_into`], kept for its buffers.
    scratch: Row,
    /// The transaction's undo position when the right side was first read:
    /// a write since (a session writing between two rows it pulls from a
    /// result set) could change what a re-read returns, so replay stops.
    written: crate::txn::Mark,
}

/// A nested loop's right side read once and replayed.
enum Replay {
    /// Re-read for each left row (it depends on the left row, or it was
    /// too large to keep).
    Off,
    /// Being read for the first left row: the rows so far and their
    /// estimated size in bytes.
    Filling(Vec<Row>, usize),
    /// Read completely: replayed for each further left row.
    Full(Vec<Row>),
}

/// Most a nested loop keeps of its right side to replay (estimated bytes).
const REPLAY_LIMIT: usize = 16 << 20;

/// Whether a nested loop's right side gives the same rows for every left
/// row, so it can be read once and replayed: a full scan of a table (no
/// key taken from the left row, no expression evaluated). The statement
/// reads one snapshot and a SELECT writes nothing while it runs (an
/// INSERT ... SELECT reads its source first), so every re-read would
/// return the same rows in the same order (a write made in the
/// transaction meanwhile ends the replay, see `JoinIter::written`).
/// Re-reading each time was the
/// cost of a cross join: a storage scan opened and every row decoded again
/// per left row.
fn replayable(right: &Plan) -> bool {
    matches!(
        &**right,
        Node::Scan {
            access: Access::Full,
            ..
        }
    )
}

/// A row's estimated memory (values and their heap bytes).
fn row_bytes(r: &Row) -> usize {
    std::mem::size_of::<Row>()
        + r.iter()
            .map(|v| {
                std::mem::size_of::<Value>()
                    + match v {
                        Value::Text(t) => t.len(),
                        Value::Blob(b) => b.len(),
                        _ => 0,
                    }
            })
            .sum::<usize>()
}

impl JoinIter {
    /// The next row read from the right side for the current left row
    /// (kept for replay while filling).
    fn next_right(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>> {
        let Some(right) = self.right.as_mut() else {
            return Ok(None);
        };
        let r = right.next(cx)?;
        match (&mut self.replay, &r) {
            (Replay::Filling(rows, bytes), Some(row)) => {
                *bytes += row_bytes(row);
                if *bytes > REPLAY_LIMIT {
                    self.replay = Replay::Off;
                } else {
                    rows.push(row.clone());
                }
            }
            (Replay::Filling(rows, _), None) => {
                self.replay = Replay::Full(std::mem::take(rows));
            }
            _ => {}
        }
        Ok(r)
    }

    /// With no current left row, takes the next one and starts the right
    /// side for it (replayed, or opened anew); false when the left side
    /// has ended.
    fn start_left(&mut self, cx: &mut ExecCtx) -> Result<bool> {
        if self.cur.is_some() {
            return Ok(true);
        }
        let Some(l) = self.left.next(cx)? else {
            return Ok(false);
        };
        if matches!(self.replay, Replay::Full(_)) && cx.txn.mark() != self.written {
            self.replay = Replay::Off;
        }
        if matches!(self.replay, Replay::Full(_)) {
            self.pos = 0;
        } else {
            self.right = Some(open(&self.right_plan, cx, &l)?);
        }
        self.cur = Some(l);
        self.matched = false;
        Ok(true)
    }

    /// The next right row for the current left row into `self.scratch`
    /// (kept for replay while filling); false at its end.
    fn next_right_into(&mut self, cx: &mut ExecCtx) -> Result<bool> {
        let Some(right) = self.right.as_mut() else {
            return Ok(false);
        };
        let more = right.next_into(cx, &mut self.scratch)?;
        match (&mut self.replay, more) {
            (Replay::Filling(rows, bytes), true) => {
                *bytes += row_bytes(&self.scratch);
                if *bytes > REPLAY_LIMIT {
                    self.replay = Replay::Off;
                } else {
                    rows.push(self.scratch.clone());
                }
            }
            (Replay::Filling(rows, _), false) => {
                self.replay = Replay::Full(std::mem::take(rows));
            }
            _ => {}
        }
        Ok(more)
    }
}

/// `left` then `right` into `out`, over the values it held (a text over
/// a text keeps its buffer).
fn join_into(out: &mut Row, left: &[Value], right: &[Value]) {
    out.truncate(left.len() + right.len());
    let have = out.len();
    for (o, v) in out.iter_mut().zip(left.iter().chain(right)) {
        o.clone_from(v);
    }
    out.extend(left.iter().chain(right).skip(have).cloned());
}

impl RowIter for JoinIter {
    fn next_into(&mut self, cx: &mut ExecCtx, out: &mut Row) -> Result<bool> {
        loop {
            if !self.start_left(cx)? {
                return Ok(false);
            }
            let Some(left) = &self.cur else { continue };
            let got = if let Replay::Full(rows) = &self.replay {
                let r = rows.get(self.pos);
                if let Some(r) = r {
                    join_into(out, left, r);
                }
                self.pos += 1;
                r.is_some()
            } else if self.next_right_into(cx)? {
                join_into(out, self.cur.as_deref().unwrap_or_default(), &self.scratch);
                true
            } else {
                false
            };
            if got {
                let ok = match &self.on {
                    Some(on) => truth(on, out, cx)? == Some(true),
                    None => true,
                };
                if ok {
                    self.matched = true;
                    return Ok(true);
                }
                continue;
            }
            let left = self.cur.take();
            self.right = None;
            if self.outer && !self.matched {
                if let Some(left) = left {
                    join_into(out, &left, &[]);
                    out.extend(std::iter::repeat_n(Value::Null, self.right_width));
                    return Ok(true);
                }
            }
        }
    }

    // Not `next_into` on a fresh row: this one moves the right row's
    // values into the joined row where that copies them (a sort or a
    // subquery result above the join keeps owned rows).
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>> {
        loop {
            if !self.start_left(cx)? {
                return Ok(None);
            }
            let Some(left) = &self.cur else { continue };
            let next = if let Replay::Full(rows) = &self.replay {
                // Replayed: the joined row is built from borrowed rows,
                // one allocation.
                let r = rows.get(self.pos).map(|r| {
                    let mut row = Vec::with_capacity(left.len() + r.len());
                    row.extend_from_slice(left);
                    row.extend_from_slice(r);
                    row
                });
                self.pos += 1;
                r
            } else {
                let left_len = left.len();
                self.next_right(cx)?.map(|r| {
                    let mut row = Vec::with_capacity(left_len + r.len());
                    row.extend_from_slice(self.cur.as_deref().unwrap_or_default());
                    row.extend(r);
                    row
                })
            };
            match next {
                Some(row) => {
                    let ok = match &self.on {
                        Some(on) => truth(on, &row, cx)? == Some(true),
                        None => true,
                    };
                    if ok {
                        self.matched = true;
                        return Ok(Some(row));
                    }
                }
                None => {
                    let left = self.cur.take();
                    self.right = None;
                    if self.outer && !self.matched {
                        if let Some(mut row) = left {
                            row.extend(std::iter::repeat_n(Value::Null, self.right_width));
                            return Ok(Some(row));
                        }
                    }
                }
            }
        }
    }
}

struct ProjectIter {
    input: Box<dyn RowIter>,
    /// The plan's expressions, shared: a run of a prepared query copies none.
    exprs: Arc<[PExpr]>,
    /// Per output: the input column it can take instead of copying.
    moves: Vec<Option<usize>>,
    /// Every output moves a column, output `j` from column `moves[j] >= j`:
    /// the input row becomes the output row (see [`in_place`]).
    in_place: bool,
    /// The input row of [`RowIter::next_into`], kept between rows for its
    /// buffers: a moved column is swapped with the output's old value,
    /// whose buffer the input's next row then reuses.
    scratch: Row,
}

/// Whether outputs that all move columns (`moves`) can be put into the
/// input row itself, output `j` into slot `j` in order: each comes from a
/// slot at or after its own, so it is read before any write reaches that
/// slot (the columns moved are distinct: [`movable_columns`]). A
/// `SELECT a, b` of a row not much wider then allocates no second row.
fn in_place(moves: &[Option<usize>]) -> bool {
    moves
        .iter()
        .enumerate()
        .all(|(j, m)| m.is_some_and(|i| i >= j))
}

/// For each projected expression that is a bare column no other bare
/// column output names, that column: it can be moved out of the input row
/// once every other output is evaluated (a text or blob is then not
/// copied).
fn movable_columns(exprs: &[PExpr]) -> Vec<Option<usize>> {
    let bare = |e: &PExpr| match e {
        PExpr::Col(i) => Some(*i),
        _ => None,
    };
    exprs
        .iter()
        .map(|e| {
            let i = bare(e)?;
            (exprs.iter().filter(|x| bare(x) == Some(i)).count() == 1).then_some(i)
        })
        .collect()
}

impl RowIter for ProjectIter {
    fn park(&mut self) -> bool {
        crate::types::trim_kept(&mut self.scratch);
        crate::depth::guarded(|| self.input.park())
    }

    fn reopen(&mut self, plan: &Plan, cx: &mut ExecCtx, env: &[Value]) -> Result<bool> {
        let Node::Project(input, exprs) = &**plan else {
            return Ok(false);
        };
        Ok(Arc::ptr_eq(exprs, &self.exprs) && reopen_child(&mut self.input, input, cx, env)?)
    }

    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>> {
        let Some(mut r) = self.input.next(cx)? else {
            return Ok(None);
        };
        // Not when the input row is much wider: a row kept (sorted,
        // collected) would hold its capacity.
        let n = self.moves.len();
        if self.in_place
            && r.capacity() <= 2 * n.max(2)
            && self.moves.iter().flatten().all(|&i| i < r.len())
        {
            for (j, m) in self.moves.iter().enumerate() {
                if let Some(i) = *m {
                    if i != j {
                        r[j] = std::mem::replace(&mut r[i], Value::Null);
                    }
                }
            }
            r.truncate(n);
            return Ok(Some(r));
        }
        let mut out = Vec::with_capacity(self.exprs.len());
        for (e, m) in self.exprs.iter().zip(&self.moves) {
            out.push(match m {
                Some(_) => Value::Null,
                None => eval(e, &r, cx)?,
            });
        }
        for (o, m) in out.iter_mut().zip(&self.moves) {
            if let Some(v) = m.and_then(|i| r.get_mut(i)) {
                *o = std::mem::replace(v, Value::Null);
            }
        }
        Ok(Some(out))
    }

    fn next_into(&mut self, cx: &mut ExecCtx, out: &mut Row) -> Result<bool> {
        if !self.input.next_into(cx, &mut self.scratch)? {
            return Ok(false);
        }
        let r = &mut self.scratch;
        out.truncate(self.exprs.len());
        out.resize(self.exprs.len(), Value::Null);
        // Computed outputs first: they read the columns moved after.
        for ((e, m), o) in self.exprs.iter().zip(&self.moves).zip(out.iter_mut()) {
            if m.is_none() {
                *o = eval(e, r, cx)?;
            }
        }
        for (o, m) in out.iter_mut().zip(&self.moves) {
            if let Some(i) = *m {
                match r.get_mut(i) {
                    Some(v) => std::mem::swap(o, v),
                    None => *o = Value::Null,
                }
            }
        }
        Ok(true)
    }
}

struct DistinctIter {
    input: Box<dyn RowIter>,
    seen: HashSet<Vec<u8>>,
    colls: Vec<Collation>,
}

impl RowIter for DistinctIter {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>> {
        while let Some(r) = self.input.next(cx)? {
            if self.seen.insert(distinct_key(&r, &self.colls)) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }
}

struct TrimIter {
    input: Box<dyn RowIter>,
    width: usize,
}

impl RowIter for TrimIter {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>> {
        Ok(self.input.next(cx)?.map(|mut r| {
            r.truncate(self.width);
            r
        }))
    }
}

struct LimitIter {
    input: Box<dyn RowIter>,
    remaining: u64,
    skip: u64,
}

impl RowIter for LimitIter {
    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>> {
        while self.skip > 0 {
            if self.input.next(cx)?.is_none() {
                return Ok(None);
            }
            self.skip -= 1;
        }
        if self.remaining == 0 {
            return Ok(None);
        }
        self.remaining -= 1;
        self.input.next(cx)
    }
}

/// The smallest byte string greater than every string starting with `p`.
pub fn prefix_end(p: &[u8]) -> Vec<u8> {
    let mut e = p.to_vec();
    while let Some(last) = e.pop() {
        if last < 0xff {
            e.push(last + 1);
            return e;
        }
    }
    vec![0xff; p.len() + 1]
}

/// A key range's bounds.
type KeyBounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// A key range to read, and whether it covers index entries (or rows).
type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>, bool);

/// Reads a table: full, by rowids, by rowid range, or through an index;
/// in key order, or (`reverse`) backwards: the ranges and rowids in
/// descending order, each range read from its upper end.
struct Scan {
    table: Arc<Table>,
    /// The direction every range is read in.
    dir: Direction,
    /// Ranges to read: (lower, upper) key bounds, and whether they cover
    /// index entries (true) or rows. Those before `next_range` were read
    /// (taken: left unbounded).
    ranges: Vec<KeyRange>,
    next_range: usize,
    /// Rowids to fetch, those before `next_point` fetched.
    points: Vec<i64>,
    next_point: usize,
    iter: Option<(TxnIter, bool)>,
    seen: Option<HashSet<i64>>,
}

/// The most ranges and rowids a parked scan keeps room for (an IN list of
/// thousands does not leave its vectors held).
const PARKED_SCAN_ROOM: usize = 64;

impl Scan {
    fn open(
        table: Arc<Table>,
        access: &Access,
        reverse: bool,
        cx: &mut ExecCtx,
        env: &[Value],
    ) -> Result<Scan> {
        let mut scan = Scan {
            table,
            dir: Direction::Forward,
            ranges: Vec::new(),
            next_range: 0,
            points: Vec::new(),
            next_point: 0,
            iter: None,
            seen: None,
        };
        scan.fill(access, reverse, cx, env)?;
        Ok(scan)
    }

    /// Sets the scan up to read what `access` selects, from the start
    /// (whatever it read before), its vectors reused.
    fn fill(
        &mut self,
        access: &Access,
        reverse: bool,
        cx: &mut ExecCtx,
        env: &[Value],
    ) -> Result<()> {
        self.rewind();
        let Scan {
            table,
            ranges,
            points,
            ..
        } = self;
        // The table's row prefix only where a range of rows needs it (not
        // for an index or rowid lookup, every run of a prepared one).
        let rows = || rows_prefix(table.id);
        let mut dedup = false;
        match access {
            Access::Full => {
                let rows = rows();
                ranges.push((
                    Bound::Included(rows.clone()),
                    Bound::Excluded(prefix_end(&rows)),
                    false,
                ))
            }
            Access::Rowids(exprs) => {
                for e in exprs {
                    if let Value::Integer(i) = apply_affinity(eval(e, env, cx)?, Affinity::Integer)
                    {
                        points.push(i);
                    } else if let Value::Real(f) = eval(e, env, cx)? {
                        if f.fract() == 0.0
                            && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0)
                                .contains(&f)
                        {
                            points.push(f as i64);
                        }
                    }
                }
                points.sort_unstable();
                points.dedup();
            }
            Access::RowidRange(lo, hi) => {
                let rows = rows();
                let bound = |b: &Option<(PExpr, bool)>,
                             cx: &mut ExecCtx,
                             low: bool|
                 -> Result<Option<Bound<Vec<u8>>>> {
                    let Some((e, incl)) = b else {
                        return Ok(Some(if low {
                            Bound::Included(rows.clone())
                        } else {
                            Bound::Excluded(prefix_end(&rows))
                        }));
                    };
                    let v = apply_affinity(eval(e, env, cx)?, Affinity::Numeric);
                    let (i, exact) = match v {
                        Value::Integer(i) => (i, true),
                        // Beyond the integers (2^63 is not an i64, -2^63
                        // is): every rowid is below or above the bound.
                        Value::Real(f) if f >= 9_223_372_036_854_775_808.0 => {
                            if low {
                                return Ok(None);
                            }
                            (i64::MAX, false)
                        }
                        Value::Real(f) if f < -9_223_372_036_854_775_808.0 => {
                            if !low {
                                return Ok(None);
                            }
                            (i64::MIN, false)
                        }
                        Value::Real(f) if f.is_nan() => return Ok(None),
                        Value::Real(f) => {
                            let r = if low { f.ceil() } else { f.floor() };
                            (r as i64, r == f)
                        }
                        Value::Null => return Ok(None),
                        // Text or blob bound: every rowid (a number) is below
                        // it, so a lower bound ends the range and an upper
                        // bound does not limit it; both are the range's end.
                        _ => return Ok(Some(Bound::Excluded(prefix_end(&rows)))),
                    };
                    let incl = *incl || !exact;
                    Ok(Some(if incl {
                        Bound::Included(row_key(table.id, i))
                    } else {
                        Bound::Excluded(row_key(table.id, i))
                    }))
                };
                if let (Some(l), Some(h)) = (bound(lo, cx, true)?, bound(hi, cx, false)?) {
                    ranges.push((l, h, false));
                }
            }
            Access::Index { index, eq, range } => {
                let idx = &table.indexes[*index];
                // Room for the key columns (a number takes 17 bytes): the
                // probe is built without growing it on the way.
                let base = index_prefix_with_room(table.id, idx.id, 18 * eq.len().max(1));
                // Every combination of the IN alternatives (bounded).
                let mut prefixes: Vec<Vec<u8>> = vec![base];
                for (ci, (alts, aff)) in eq.iter().enumerate() {
                    if let ([a], [p]) = (alts.as_slice(), prefixes.as_mut_slice()) {
                        // One value for this column (`k = ?`, the usual
                        // lookup) extends the one prefix in place; NULL
                        // matches nothing, as below.
                        let v = apply_comparison_affinity(eval(a, env, cx)?, *aff);
                        if matches!(v, Value::Null) {
                            prefixes.clear();
                        } else {
                            idx.encode_key_column(ci, &v, p);
                        }
                        continue;
                    }
                    let mut vals = Vec::new();
                    for a in alts {
                        let v = apply_comparison_affinity(eval(a, env, cx)?, *aff);
                        if !matches!(v, Value::Null) {
                            vals.push(v);
                        }
                    }
                    let mut next = Vec::new();
                    for p in &prefixes {
                        for v in &vals {
                            let mut k = p.clone();
                            idx.encode_key_column(ci, v, &mut k);
                            next.push(k);
                        }
                    }
                    prefixes = next;
                    if prefixes.len() > 10_000 {
                        return Err(Error::sql(
                            SqlErrorKind::Unsupported,
                            "too many IN combinations",
                        ));
                    }
                }
                // SQLite looks IN values up in sorted order (its IN list
                // is an ephemeral index), each once: in index order, which
                // decides the order an UPDATE or DELETE meets rows in.
                prefixes.sort_unstable();
                prefixes.dedup();
                dedup = eq.iter().any(|(alts, _)| alts.len() > 1);
                for p in prefixes {
                    match range {
                        None => {
                            let end = prefix_end(&p);
                            ranges.push((Bound::Included(p), Bound::Excluded(end), true))
                        }
                        Some((lo, hi)) => {
                            let ci = eq.len();
                            let lo_b = match lo {
                                None => Some(Bound::Included(p.clone())),
                                Some((e, incl, aff)) => {
                                    let v = apply_comparison_affinity(eval(e, env, cx)?, *aff);
                                    if matches!(v, Value::Null) {
                                        None
                                    } else {
                                        let mut k = p.clone();
                                        idx.encode_key_column(ci, &v, &mut k);
                                        Some(if *incl {
                                            Bound::Included(k)
                                        } else {
                                            Bound::Included(prefix_end(&k))
                                        })
                                    }
                                }
                            };
                            let hi_b = match hi {
                                None => Some(Bound::Excluded(prefix_end(&p))),
                                Some((e, incl, aff)) => {
                                    let v = apply_comparison_affinity(eval(e, env, cx)?, *aff);
                                    if matches!(v, Value::Null) {
                                        None
                                    } else {
                                        let mut k = p.clone();
                                        idx.encode_key_column(ci, &v, &mut k);
                                        Some(if *incl {
                                            Bound::Excluded(prefix_end(&k))
                                        } else {
                                            Bound::Excluded(k)
                                        })
                                    }
                                }
                            };
                            if let (Some(l), Some(h)) = (lo_b, hi_b) {
                                ranges.push((l, h, true));
                            }
                        }
                    }
                }
            }
        }
        self.dir = if reverse {
            // Ranges and points were made in ascending key order.
            ranges.reverse();
            points.reverse();
            Direction::Reverse
        } else {
            Direction::Forward
        };
        match (&mut self.seen, dedup) {
            (Some(seen), true) => seen.clear(),
            (seen, dedup) => *seen = dedup.then(HashSet::new),
        }
        Ok(())
    }

    /// Drops the storage cursor and every range and rowid, read or not.
    fn rewind(&mut self) {
        self.iter = None;
        self.ranges.clear();
        self.points.clear();
        self.next_range = 0;
        self.next_point = 0;
    }

    /// Reads row `rowid` into `out`; false when there is none.
    fn fetch(&self, cx: &mut ExecCtx, rowid: i64, out: &mut Row) -> Result<bool> {
        // The key on the stack and the row decoded where the store keeps
        // it: a fetch through an index allocates neither.
        let key = row_key_array(self.table.id, rowid);
        match cx.txn.get_with(&key, |bytes| {
            stored_row_into(&self.table, bytes, rowid, out)
        })? {
            Some(decoded) => {
                decoded?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Feeds `row` to aggregate `a` of `call` in general (FILTER, JSON marks,
/// several arguments), its arguments evaluated into `args`.
fn update_aggregate(
    a: &mut Aggregator,
    call: &AggCall,
    row: &[Value],
    args: &mut Row,
    cx: &mut ExecCtx,
) -> Result<()> {
    if let Some(f) = &call.filter {
        if truth(f, row, cx)? != Some(true) {
            a.skip_row();
            return Ok(());
        }
    }
    args.clear();
    let json = matches!(
        call.kind,
        AggKind::JsonGroupArray { .. } | AggKind::JsonGroupObject { .. }
    );
    let mut marked = false;
    for (i, e) in call.args.iter().enumerate() {
        if json && i + 1 == call.args.len() {
            let (v, m) = crate::sql::eval::eval_json_marked(e, call.json_type, row, cx)?;
            args.push(v);
            marked = m;
        } else {
            args.push(eval(e, row, cx)?);
        }
    }
    a.update_marked(args, marked)
}

/// How an aggregate without FILTER, not a JSON one, reads its one argument
/// (or none) from each row: as the general path's `eval` would, but with no
/// argument vector, and a column read in place instead of copied.
enum AggArg<'p> {
    /// `count(*)`.
    Nothing,
    /// A column.
    Col(usize),
    /// Any other expression (`eval` calls a function of a column on the
    /// column in place).
    Expr(&'p PExpr),
}

impl<'p> AggArg<'p> {
    /// `None` if the call needs the general path.
    fn of(call: &'p AggCall) -> Option<AggArg<'p>> {
        if call.filter.is_some()
            || matches!(
                call.kind,
                AggKind::JsonGroupArray { .. } | AggKind::JsonGroupObject { .. }
            )
        {
            return None;
        }
        Some(match call.args.as_slice() {
            [] => AggArg::Nothing,
            [PExpr::Col(i)] => AggArg::Col(*i),
            [e] => AggArg::Expr(e),
            _ => return None,
        })
    }

    fn update(&self, a: &mut Aggregator, row: &[Value], cx: &mut ExecCtx) -> Result<()> {
        const NULL: &Value = &Value::Null;
        let col = |i: usize| std::slice::from_ref(row.get(i).unwrap_or(NULL));
        match self {
            AggArg::Nothing => a.update_marked(&[], false),
            AggArg::Col(i) => a.update_marked(col(*i), false),
            AggArg::Expr(e) => {
                let v = eval(e, row, cx)?;
                a.update_marked(std::slice::from_ref(&v), false)
            }
        }
    }
}

/// A stored row of `table` into `out`: its columns (missing ones, added
/// after it was written, NULL), then its rowid.
fn stored_row_into(table: &Table, bytes: &[u8], rowid: i64, out: &mut Row) -> Result<()> {
    decode_row_into(bytes, out)?;
    out.resize(table.columns.len(), Value::Null);
    out.push(Value::Integer(rowid));
    Ok(())
}

/// Whether a key range holds no key (`rowid > 5 AND rowid < 5`).
fn range_is_empty(lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    match (lo, hi) {
        (Bound::Included(l), Bound::Included(h)) => l > h,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(h) | Bound::Included(h)) => {
            l >= h
        }
        _ => false,
    }
}

impl RowIter for Scan {
    fn park(&mut self) -> bool {
        self.rewind();
        self.seen = None;
        if self.ranges.capacity() > PARKED_SCAN_ROOM {
            self.ranges = Vec::new();
        }
        if self.points.capacity() > PARKED_SCAN_ROOM {
            self.points = Vec::new();
        }
        true
    }

    fn reopen(&mut self, plan: &Plan, cx: &mut ExecCtx, env: &[Value]) -> Result<bool> {
        let Node::Scan {
            table,
            access,
            reverse,
        } = &**plan
        else {
            return Ok(false);
        };
        if !Arc::ptr_eq(table, &self.table) {
            return Ok(false);
        }
        self.fill(access, *reverse, cx, env)?;
        Ok(true)
    }

    fn next(&mut self, cx: &mut ExecCtx) -> Result<Option<Row>> {
        let mut row = Vec::new();
        Ok(self.next_row(cx, true, &mut row)?.then_some(row))
    }

    fn next_into(&mut self, cx: &mut ExecCtx, out: &mut Row) -> Result<bool> {
        self.next_row(cx, true, out)
    }
}

impl Scan {
    /// The key ranges still to read if all are ranges of the table's rows
    /// (no rowids to fetch, no index entries), so a count may count keys.
    fn row_ranges(&self) -> Option<Vec<KeyBounds>> {
        let ranges = &self.ranges[self.next_range..];
        (self.iter.is_none()
            && self.points[self.next_point..].is_empty()
            && ranges.iter().all(|(_, _, is_index)| !is_index))
        .then(|| {
            ranges
                .iter()
                .map(|(l, h, _)| (l.clone(), h.clone()))
                .collect()
        })
    }

    /// The next row into `out` (false at the end); with `decode` false, a
    /// row read from a range of the table itself comes back empty,
    /// undecoded (for counting). Rows fetched by rowid (points, index
    /// entries) are still looked up, so the count is the same either way.
    fn next_row(&mut self, cx: &mut ExecCtx, decode: bool, out: &mut Row) -> Result<bool> {
        loop {
            if let Some(&rowid) = self.points.get(self.next_point) {
                self.next_point += 1;
                if self.fetch(cx, rowid, out)? {
                    return Ok(true);
                }
                continue;
            }
            if self.iter.is_none() {
                match self.ranges.get_mut(self.next_range) {
                    Some(range) => {
                        self.next_range += 1;
                        let (lo, hi, is_index) =
                            std::mem::replace(range, (Bound::Unbounded, Bound::Unbounded, false));
                        // An empty range (`rowid > 5 AND rowid < 5`) is
                        // skipped: the store refuses it.
                        if range_is_empty(&lo, &hi) {
                            continue;
                        }
                        self.iter = Some((cx.txn.scan(lo, hi, self.dir)?, is_index));
                    }
                    None => return Ok(false),
                }
            }
            let Some((it, is_index)) = self.iter.as_mut() else {
                continue;
            };
            let is_index = *is_index;
            match it.step() {
                Ok(true) => {
                    let rowid = rowid_of_key(it.key())?;
                    if is_index {
                        if let Some(seen) = self.seen.as_mut() {
                            if !seen.insert(rowid) {
                                continue;
                            }
                        }
                        match self.fetch(cx, rowid, out)? {
                            true => return Ok(true),
                            false => {
                                return Err(Error::Corruption {
                                    file: format!("<index of {}>", self.table.name).into(),
                                    offset: 0,
                                    what: format!("index entry for missing row {rowid}"),
                                })
                            }
                        }
                    }
                    if !decode {
                        out.clear();
                        return Ok(true);
                    }
                    stored_row_into(&self.table, it.value(), rowid, out)?;
                    return Ok(true);
                }
                Err(e) => return Err(e),
                Ok(false) => self.iter = None,
            }
        }
    }
}

/// The key values of `idx` in a table row.
pub fn index_values(idx: &Index, row: &[Value]) -> Vec<Value> {
    idx.columns
        .iter()
        .map(|&c| row.get(c).cloned().unwrap_or(Value::Null))
        .collect()
}

/// The entry of each index of a row: `keys[i]` for index `i`, its key
/// values, `None` when the index does not hold the row (a partial one);
/// missing means the index holds it with its columns' values
/// ([`index_values`]; an index on expressions needs them given, see
/// `sql::write::TableWriter`).
pub type IndexEntries = [Option<Vec<Value>>];

fn entry_of<'a>(
    keys: &'a IndexEntries,
    i: usize,
    idx: &Index,
    row: &[Value],
) -> Option<std::borrow::Cow<'a, [Value]>> {
    match keys.get(i) {
        Some(Some(k)) => Some(std::borrow::Cow::Borrowed(k)),
        Some(None) => None,
        None => Some(std::borrow::Cow::Owned(index_values(idx, row))),
    }
}

/// Writes a row and its index entries (see [`IndexEntries`]).
pub fn write_row(txn: &mut Txn, t: &Table, rowid: i64, row: &[Value], keys: &IndexEntries) {
    let values = &row[..t.columns.len()];
    let len = encoded_row_len(values);
    let mut buf = Vec::with_capacity(len);
    encode_row(values, &mut buf);
    debug_assert_eq!(buf.len(), len);
    txn.put(row_key(t.id, rowid), buf);
    for (i, idx) in t.indexes.iter().enumerate() {
        if let Some(k) = entry_of(keys, i, idx, row) {
            txn.put(index_key(t.id, idx, &k, rowid), Vec::new());
        }
    }
}

/// Deletes a row and its index entries (see [`IndexEntries`]).
pub fn delete_row(txn: &mut Txn, t: &Table, rowid: i64, row: &[Value], keys: &IndexEntries) {
    txn.delete(row_key(t.id, rowid));
    for (i, idx) in t.indexes.iter().enumerate() {
        if let Some(k) = entry_of(keys, i, idx, row) {
            txn.delete(index_key(t.id, idx, &k, rowid));
        }
    }
}

/// Rowids of rows other than `except` whose `idx` key equals `values`
/// (none when a value is NULL: NULLs never conflict).
pub fn unique_conflicts(
    txn: &mut Txn,
    t: &Table,
    idx: &Index,
    values: &[Value],
    except: Option<i64>,
) -> Result<Vec<i64>> {
    if values.iter().any(|v| matches!(v, Value::Null)) {
        return Ok(Vec::new());
    }
    let mut p = index_prefix(t.id, idx.id);
    for (i, v) in values.iter().enumerate() {
        idx.encode_key_column(i, v, &mut p);
    }
    let end = prefix_end(&p);
    let mut out = Vec::new();
    for e in txn.scan(Bound::Included(p), Bound::Excluded(end), Direction::Forward)? {
        let (k, _) = e?;
        let r = rowid_of_key(&k)?;
        if Some(r) != except {
            out.push(r);
        }
    }
    Ok(out)
}

/// Reads row `rowid` of `t` (columns ++ rowid).
pub fn read_row(txn: &mut Txn, t: &Table, rowid: i64) -> Result<Option<Row>> {
    let key = row_key_array(t.id, rowid);
    txn.get_with(&key, |b| {
        let mut r = Vec::new();
        stored_row_into(t, b, rowid, &mut r)?;
        Ok(r)
    })?
    .transpose()
}

/// Whether row `rowid` of `t` may exist: `false` only when it is known to
/// be after the table's largest rowid, so a uniqueness check need not
/// read it. A transaction of many writes asks for the largest once (if it
/// keeps no other range's), and from then on its own writes keep the
/// answer current (`Txn::last_key`): a load of ascending rowids then
/// reads nothing per row. A small transaction never asks (a single
/// insert's point read is cheaper than the scan that finds the largest).
pub fn rowid_may_exist(txn: &mut Txn, t: &Table, rowid: i64) -> Result<bool> {
    // The reverse scan costs about five point reads (stop 31's profile of
    // transactions of 100 inserts).
    const ASK_AFTER_WRITES: usize = 8;
    let (p, end) = crate::catalog::rows_bounds_array(t.id);
    let key = crate::catalog::row_key_array(t.id, rowid);
    if let Some(after) = txn.after_last_key(&p, &end, &key) {
        return Ok(!after);
    }
    if txn.write_count() < ASK_AFTER_WRITES || txn.has_last_key_hint() {
        return Ok(true);
    }
    let last = txn.last_key(p.to_vec(), end.to_vec())?;
    Ok(last.is_some_and(|l| key.as_slice() <= l.as_slice()))
}

/// The largest rowid in `t`, if any.
pub fn max_rowid(txn: &mut Txn, t: &Table) -> Result<Option<i64>> {
    let p = rows_prefix(t.id);
    let end = prefix_end(&p);
    txn.last_key(p, end)?.map(|k| rowid_of_key(&k)).transpose()
}

/// Deletes every key with `prefix` (dropping a table or index).
pub fn delete_prefix(txn: &mut Txn, prefix: &[u8]) -> Result<u64> {
    let end = prefix_end(prefix);
    let keys: Vec<Vec<u8>> = txn
        .scan(
            Bound::Included(prefix.to_vec()),
            Bound::Excluded(end),
            Direction::Forward,
        )?
        .map(|e| e.map(|(k, _)| k))
        .collect::<Result<_>>()?;
    let n = keys.len() as u64;
    for k in keys {
        txn.delete(k);
    }
    Ok(n)
}

/// One line per plan node, indented by depth (EXPLAIN).
pub fn describe(plan: &Plan, depth: usize, out: &mut Vec<String>) {
    describe_masked(plan, depth, out, &|_| false)
}

/// [`describe`], naming no table for which `hidden` holds (nor its
/// indexes and columns): what a user sees of a view's base tables.
pub fn describe_masked(
    plan: &Plan,
    depth: usize,
    out: &mut Vec<String>,
    hidden: &dyn Fn(&str) -> bool,
) {
    crate::depth::guarded(|| describe_node(plan, depth, out, hidden))
}

fn describe_node(plan: &Plan, depth: usize, out: &mut Vec<String>, hidden: &dyn Fn(&str) -> bool) {
    let pad = "  ".repeat(depth);
    let line = match &**plan {
        Node::Unit => "ONE ROW".to_string(),
        Node::Scan { table, .. } if hidden(&table.name) => {
            "SCAN a table of a view (not visible to you)".to_string()
        }
        Node::Scan {
            table,
            access,
            reverse,
        } => {
            let line = scan_line(table, access);
            if *reverse {
                format!("{line} BACKWARDS")
            } else {
                line
            }
        }
        Node::Values(r) => format!("VALUES ({} rows)", r.len()),
        Node::Filter(..) => "FILTER".into(),
        Node::Join { kind, .. } => match kind {
            JoinKind::Inner => "JOIN (nested loop)",
            JoinKind::Left => "LEFT JOIN (nested loop)",
            JoinKind::Right => "RIGHT JOIN (nested loop, right side read once)",
            JoinKind::Full => "FULL JOIN (nested loop, right side read once)",
        }
        .into(),
        Node::Project(..) => "PROJECT".into(),
        Node::Aggregate { group, .. } => {
            if group.is_empty() {
                "AGGREGATE".into()
            } else {
                format!("GROUP BY ({} keys)", group.len())
            }
        }
        Node::Sort(..) => "SORT".into(),
        Node::Distinct(..) => "DISTINCT".into(),
        Node::Trim(..) => "TRIM".into(),
        Node::Limit(..) => "LIMIT".into(),
        Node::SetOp(op, all, ..) => {
            format!("{op:?}{}", if *all { " ALL" } else { "" }).to_uppercase()
        }
        Node::Materialize { name, .. } => format!("MATERIALIZE {name}"),
        Node::Recursive(r) => format!(
            "RECURSIVE {} ({}{}{})",
            r.name,
            if r.distinct.is_some() {
                "UNION"
            } else {
                "UNION ALL"
            },
            if r.order.is_empty() { "" } else { ", ORDER BY" },
            if r.limit.is_some() || r.offset.is_some() {
                ", LIMIT"
            } else {
                ""
            }
        ),
        Node::RecursiveRow(_) => "SCAN the recursive row".into(),
        Node::Introspect { what, .. } if what.is_pragma() => {
            format!("SCAN pragma_{} (table-valued function)", what.name())
        }
        Node::Introspect { what, .. } => format!("SCAN {} (virtual table)", what.name()),
        Node::JsonEach { tree, .. } => format!(
            "SCAN {} (table-valued function)",
            if *tree { "json_tree" } else { "json_each" }
        ),
        Node::Window(w) => format!("WINDOW ({} functions)", w.calls.len()),
    };
    out.push(format!("{pad}{line}"));
    match &**plan {
        Node::Filter(i, _)
        | Node::Project(i, _)
        | Node::Sort(i, _)
        | Node::Distinct(i, _)
        | Node::Trim(i, _)
        | Node::Limit(i, ..) => describe_masked(i, depth + 1, out, hidden),
        Node::Window(w) => describe_masked(&w.input, depth + 1, out, hidden),
        Node::Aggregate { input, .. } | Node::Materialize { plan: input, .. } => {
            describe_masked(input, depth + 1, out, hidden)
        }
        Node::Recursive(r) => {
            describe_masked(&r.setup, depth + 1, out, hidden);
            for s in &r.steps {
                describe_masked(s, depth + 1, out, hidden);
            }
        }
        Node::Join { left, right, .. } | Node::SetOp(_, _, left, right, _) => {
            describe_masked(left, depth + 1, out, hidden);
            describe_masked(right, depth + 1, out, hidden);
        }
        _ => {}
    }
}

/// The line of a table read in sealdb's own EXPLAIN tree.
fn scan_line(table: &Table, access: &Access) -> String {
    match access {
        Access::Full => format!("SCAN {}", table.name),
        Access::Rowids(v) => {
            format!("SEARCH {} USING ROWID ({} value(s))", table.name, v.len())
        }
        Access::RowidRange(..) => format!("SEARCH {} USING ROWID RANGE", table.name),
        Access::Index { index, eq, range } => {
            let idx = &table.indexes[*index];
            let key_name = |k: usize| match (idx.expr(k), idx.columns.get(k)) {
                (Some(_), _) => "<expr>".to_string(),
                (None, Some(&c)) => table
                    .columns
                    .get(c)
                    .map_or_else(|| "?".to_string(), |col| col.name.clone()),
                (None, None) => "?".to_string(),
            };
            let mut terms: Vec<String> = (0..eq.len())
                .map(|k| format!("{}=?", key_name(k)))
                .collect();
            if range.is_some() && eq.len() < idx.columns.len() {
                terms.push(format!("{} range", key_name(eq.len())));
            }
            format!(
                "SEARCH {} USING INDEX {} ({})",
                table.name,
                idx.name,
                terms.join(" AND ")
            )
        }
    }
}
