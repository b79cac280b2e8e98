//! Planning window functions: which function each call is, the window it
//! runs over (named windows resolved), its frame, and the arguments bound
//! over the rows the window operator sees (`sql::window` runs it).
//!
//! A SELECT with window calls in its result columns or ORDER BY is
//! planned as
//!
//! ```text
//!   FROM/WHERE ─▶ [Aggregate ─▶ HAVING] ─▶ Window ─▶ Project ─▶ [Distinct] ─▶ Sort ─▶ Limit
//! ```
//!
//! The window node passes every input row through with one value per
//! call appended. While the result columns and ORDER BY are bound, a call
//! binds to a placeholder column `WINDOW_COLUMNS + k` (the input's width
//! is known only once the aggregates are collected); [`Planner::add_window`]
//! puts the node in and moves the placeholders behind the input's columns.
//!
//! Where window calls may be written follows SQLite: in the result
//! columns and the ORDER BY of a SELECT, not nested in another window
//! call or an aggregate's arguments, not in WHERE, GROUP BY, HAVING or ON
//! ("misuse of window function f()"). A planner field holds the context
//! while it is allowed; `select` clears it for subqueries.
//!
//! Named windows (`WINDOW w AS (...)`), as SQLite's `sqlite3WindowChain`
//! and `sqlite3WindowUpdate`: `OVER w` takes w as it is; `OVER (w ...)`
//! may add an ORDER BY when w has none, and a frame when w has none; it
//! may not add a PARTITION BY. The last definition of a name counts; a
//! definition may start from an earlier one.

use super::*;
use crate::sql::typing::ExprType;

/// Where window calls' placeholder columns start while binding.
const WINDOW_COLUMNS: usize = 1 << 48;

/// A bound window function call.
#[derive(Clone, Debug)]
pub struct WindowFnCall {
    /// Which function.
    pub func: WindowFunc,
    /// Its arguments, over the window node's input row.
    pub args: Vec<PExpr>,
    /// FILTER (WHERE ...): rows it is not true for do not enter frames.
    pub filter: Option<PExpr>,
    /// The pass it runs in (index into [`WindowPlan::sorts`]: the rows'
    /// order there).
    pub sort: usize,
    /// The frame (for aggregates and the first/last/nth value functions).
    pub frame: FramePlan,
    /// The collation `min` and `max` compare under.
    pub coll: Collation,
}

/// The window functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowFunc {
    /// `row_number()`.
    RowNumber,
    /// `rank()`.
    Rank,
    /// `dense_rank()`.
    DenseRank,
    /// `percent_rank()`.
    PercentRank,
    /// `cume_dist()`.
    CumeDist,
    /// `ntile(n)`.
    Ntile,
    /// `lag(x [, n [, default]])`.
    Lag,
    /// `lead(x [, n [, default]])`.
    Lead,
    /// `first_value(x)`.
    FirstValue,
    /// `last_value(x)`.
    LastValue,
    /// `nth_value(x, n)`.
    NthValue,
    /// An aggregate over the frame.
    Agg(AggKind),
}

impl WindowFunc {
    /// Whether FILTER may be used with it (aggregates only).
    fn is_aggregate(self) -> bool {
        matches!(self, WindowFunc::Agg(_))
    }

    /// Whether its value depends on the frame (the others have fixed
    /// frames in SQLite, whatever the window says).
    pub fn uses_frame(self) -> bool {
        matches!(
            self,
            WindowFunc::FirstValue
                | WindowFunc::LastValue
                | WindowFunc::NthValue
                | WindowFunc::Agg(_)
        )
    }
}

/// A frame, bound.
#[derive(Clone, Debug)]
pub struct FramePlan {
    /// ROWS, RANGE or GROUPS.
    pub units: FrameUnits,
    /// Its start.
    pub start: BoundPlan,
    /// Its end.
    pub end: BoundPlan,
    /// EXCLUDE (None: not written; see [`Frame::exclude`]).
    pub exclude: Option<FrameExclude>,
}

/// One end of a frame, bound (offsets are constants, or NULL where SQLite
/// makes a non-constant offset NULL, which fails when the query runs).
#[derive(Clone, Debug)]
pub enum BoundPlan {
    /// UNBOUNDED PRECEDING.
    UnboundedPreceding,
    /// `n PRECEDING`.
    Preceding(PExpr),
    /// CURRENT ROW.
    CurrentRow,
    /// `n FOLLOWING`.
    Following(PExpr),
    /// UNBOUNDED FOLLOWING.
    UnboundedFollowing,
}

/// The order rows are put in for the calls of one window: by the
/// partition terms, then the window's ORDER BY.
#[derive(Clone, Debug)]
pub struct WindowSort {
    /// PARTITION BY terms and the collation each is compared under.
    pub partition: Vec<(PExpr, Collation)>,
    /// ORDER BY keys.
    pub order: Vec<SortKey>,
    /// Per ORDER BY key: NULLS placed against SQLite's default (ASC NULLS
    /// LAST, DESC NULLS FIRST), which RANGE offsets treat apart.
    pub big_null: Vec<bool>,
}

/// The window node: the input rows, each followed by one value per call.
#[derive(Debug)]
pub struct WindowPlan {
    /// The input.
    pub input: Plan,
    /// The input rows' width.
    pub width: usize,
    /// The passes, each ordering the rows for its calls, in the order of
    /// their first call; they run last to first, each ordering the rows
    /// as the one before left them (a stable sort), and the output comes
    /// in the first's order, as SQLite's nested passes.
    pub sorts: Vec<WindowSort>,
    /// The calls, in output column order.
    pub calls: Vec<WindowFnCall>,
}

/// A window as written, with named windows resolved.
#[derive(Clone, Debug)]
struct Resolved {
    partition_by: Vec<Expr>,
    order_by: Vec<OrderItem>,
    frame: Option<Frame>,
}

/// The window calls of the SELECT being bound.
pub(super) struct WindowBind {
    /// The WINDOW clause's definitions, resolved, in order (an error
    /// where the first one names a base that does not exist: SQLite's
    /// grammar checks the base of every other definition as it reads
    /// them, of the first only when it is used).
    named: Vec<(String, std::result::Result<Resolved, String>)>,
    /// The calls bound so far (an equal call is computed once).
    exprs: Vec<WindowCall>,
    types: Vec<ExprType>,
    calls: Vec<WindowFnCall>,
    /// The sorts, with a key telling equal ones apart.
    sorts: Vec<(String, WindowSort)>,
}

/// Whether a frame offset is constant as SQLite's parser decides it
/// (`sqlite3ExprIsConstant` before names are resolved): no column, no
/// subquery, no function call.
fn offset_is_constant(e: &Expr) -> bool {
    let mut constant = true;
    walk(e, &mut |x| {
        if matches!(
            x,
            Expr::Column { .. }
                | Expr::Exists(..)
                | Expr::Subquery(_)
                | Expr::InSubquery { .. }
                | Expr::RowField { .. }
                | Expr::Function { .. }
                | Expr::Window(_)
        ) {
            constant = false;
        }
    });
    constant
}

/// Whether `e` holds a window call (not looking into subqueries).
pub(super) fn has_window(e: &Expr) -> bool {
    let mut found = false;
    walk(e, &mut |x| found |= matches!(x, Expr::Window(_)));
    found
}

fn misuse(msg: impl Into<String>) -> Error {
    err(SqlErrorKind::Misuse, msg)
}

/// The named window `name` among `defs` (the last of that name).
fn find<'a>(
    defs: &'a [(String, std::result::Result<Resolved, String>)],
    name: &str,
) -> Result<&'a Resolved> {
    match defs
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some((_, Ok(r))) => Ok(r),
        Some((_, Err(e))) => Err(misuse(e.clone())),
        None => Err(err(SqlErrorKind::Misuse, format!("no such window: {name}"))),
    }
}

/// `spec` on top of its base among `defs` (SQLite's `sqlite3WindowChain`).
fn chain(
    spec: &WindowSpec,
    defs: &[(String, std::result::Result<Resolved, String>)],
) -> Result<Resolved> {
    let Some(base) = &spec.base else {
        return Ok(Resolved {
            partition_by: spec.partition_by.clone(),
            order_by: spec.order_by.clone(),
            frame: spec.frame.clone(),
        });
    };
    let b = find(defs, base)?;
    let what = if !spec.partition_by.is_empty() {
        Some("PARTITION clause")
    } else if !b.order_by.is_empty() && !spec.order_by.is_empty() {
        Some("ORDER BY clause")
    } else if b.frame.is_some() {
        Some("frame specification")
    } else {
        None
    };
    if let Some(what) = what {
        return Err(misuse(format!("cannot override {what} of window: {base}")));
    }
    Ok(Resolved {
        partition_by: b.partition_by.clone(),
        order_by: if spec.order_by.is_empty() {
            b.order_by.clone()
        } else {
            spec.order_by.clone()
        },
        frame: spec.frame.clone(),
    })
}

/// The frame SQLite runs `func` over, as a key telling passes apart: the
/// built-in functions' fixed frames (its `sqlite3WindowUpdate`), else the
/// window's.
fn pass_frame(func: WindowFunc, frame: &FramePlan) -> String {
    let fixed = match func {
        WindowFunc::RowNumber => "ROWS UNBOUNDED CURRENT",
        WindowFunc::Rank | WindowFunc::DenseRank => "RANGE UNBOUNDED CURRENT",
        WindowFunc::PercentRank => "GROUPS CURRENT UNBOUNDED",
        WindowFunc::CumeDist => "GROUPS 1 UNBOUNDED",
        WindowFunc::Ntile => "ROWS CURRENT UNBOUNDED",
        WindowFunc::Lead => "ROWS UNBOUNDED UNBOUNDED",
        WindowFunc::Lag => "ROWS UNBOUNDED CURRENT",
        _ => return format!("{frame:?}"),
    };
    fixed.to_string()
}

/// Which window function `name(nargs)` is, or SQLite's error for it.
fn window_func(w: &WindowCall) -> Result<WindowFunc> {
    let n = w.args.len();
    let fixed = |f: WindowFunc, ok: bool| -> Result<WindowFunc> {
        if ok && !w.star {
            Ok(f)
        } else {
            Err(misuse(format!(
                "wrong number of arguments to function {}()",
                w.name
            )))
        }
    };
    let f = match w.name.as_str() {
        "row_number" => fixed(WindowFunc::RowNumber, n == 0)?,
        "rank" => fixed(WindowFunc::Rank, n == 0)?,
        "dense_rank" => fixed(WindowFunc::DenseRank, n == 0)?,
        "percent_rank" => fixed(WindowFunc::PercentRank, n == 0)?,
        "cume_dist" => fixed(WindowFunc::CumeDist, n == 0)?,
        "ntile" => fixed(WindowFunc::Ntile, n == 1)?,
        "lag" => fixed(WindowFunc::Lag, (1..=3).contains(&n))?,
        "lead" => fixed(WindowFunc::Lead, (1..=3).contains(&n))?,
        "first_value" => fixed(WindowFunc::FirstValue, n == 1)?,
        "last_value" => fixed(WindowFunc::LastValue, n == 1)?,
        "nth_value" => fixed(WindowFunc::NthValue, n == 2)?,
        name => match agg_kind(name, n, w.star) {
            Some(k) if !(n > 1 && is_scalar_minmax(name)) => match k {
                AggKind::JsonGroupArray { .. } | AggKind::JsonGroupObject { .. } => {
                    return Err(err(
                        SqlErrorKind::Unsupported,
                        format!("{name}() as a window function is not supported"),
                    ))
                }
                k => WindowFunc::Agg(k),
            },
            _ => {
                crate::sql::functions::check_scalar(name, n)?;
                return Err(misuse(format!(
                    "{name}() may not be used as a window function"
                )));
            }
        },
    };
    if w.distinct {
        return Err(misuse("DISTINCT is not supported for window functions"));
    }
    if w.filter.is_some() && !f.is_aggregate() {
        return Err(misuse(
            "FILTER clause may only be used with aggregate window functions",
        ));
    }
    Ok(f)
}

impl WindowBind {
    /// The context for a SELECT with the WINDOW clause `defs` (each
    /// resolved now, so that a bad definition fails even if unused).
    pub(super) fn new(defs: &[(String, WindowSpec)]) -> Result<WindowBind> {
        let mut named: Vec<(String, std::result::Result<Resolved, String>)> =
            Vec::with_capacity(defs.len());
        for (k, (name, spec)) in defs.iter().enumerate() {
            let r = chain(spec, &named);
            if k > 0 {
                r.as_ref().map_err(|e| misuse(e.to_string()))?;
            }
            named.push((name.clone(), r.map_err(|e| e.to_string())));
        }
        Ok(WindowBind {
            named,
            exprs: Vec::new(),
            types: Vec::new(),
            calls: Vec::new(),
            sorts: Vec::new(),
        })
    }
}

impl<'s> Planner<'s> {
    /// Binds a window call: the placeholder column of its value.
    pub(super) fn bind_window(
        &mut self,
        w: &WindowCall,
        scope: &Scope,
        agg: Option<&mut AggBind>,
    ) -> Result<(PExpr, ExprType)> {
        let Some(mut cx) = self.window.take() else {
            return Err(misuse(format!("misuse of window function {}()", w.name)));
        };
        let r = self.bind_window_in(w, scope, agg, &mut cx);
        self.window = Some(cx);
        r
    }

    fn bind_window_in(
        &mut self,
        w: &WindowCall,
        scope: &Scope,
        mut agg: Option<&mut AggBind>,
        cx: &mut WindowBind,
    ) -> Result<(PExpr, ExprType)> {
        if let Some(k) = cx.exprs.iter().position(|e| e == w) {
            return Ok((PExpr::Col(WINDOW_COLUMNS + k), cx.types[k]));
        }
        let func = window_func(w)?;
        let spec = match &w.over {
            Over::Named(n) => find(&cx.named, n)?.clone(),
            Over::Spec(s) => chain(s, &cx.named)?,
        };
        let frame = spec.frame.clone().unwrap_or(Frame {
            units: FrameUnits::Range,
            start: FrameBound::UnboundedPreceding,
            end: FrameBound::CurrentRow,
            exclude: None,
        });
        let offsets =
            |b: &FrameBound| matches!(b, FrameBound::Preceding(_) | FrameBound::Following(_));
        if frame.units == FrameUnits::Range
            && (offsets(&frame.start) || offsets(&frame.end))
            && spec.order_by.len() != 1
        {
            return Err(misuse(
                "RANGE with offset PRECEDING/FOLLOWING requires one ORDER BY expression",
            ));
        }
        // Bound in the SELECT's context (over an aggregate's output when
        // it groups); nested window calls are misuse.
        let mut args = Vec::with_capacity(w.args.len());
        let mut types = Vec::with_capacity(w.args.len());
        for a in &w.args {
            let (p, t) = self.bind(a, scope, agg.as_deref_mut())?;
            args.push(p);
            types.push(t);
        }
        let filter = match &w.filter {
            Some(f) => Some(self.bind(f, scope, agg.as_deref_mut())?.0),
            None => None,
        };
        let mut partition = Vec::with_capacity(spec.partition_by.len());
        for e in &spec.partition_by {
            let (p, t) = self.bind(e, scope, agg.as_deref_mut())?;
            partition.push((p, t.coll.unwrap_or_default()));
        }
        let mut order = Vec::with_capacity(spec.order_by.len());
        let mut big_null = Vec::with_capacity(spec.order_by.len());
        for o in &spec.order_by {
            let (p, t) = self.bind(&o.expr, scope, agg.as_deref_mut())?;
            let nulls_first = o.nulls_first.unwrap_or(!o.desc);
            big_null.push(nulls_first == o.desc);
            order.push(SortKey {
                expr: p,
                desc: o.desc,
                nulls_first,
                coll: t.coll.unwrap_or_default(),
            });
        }
        let frame = FramePlan {
            units: frame.units,
            start: self.bound(&frame.start, scope)?,
            end: self.bound(&frame.end, scope)?,
            exclude: frame.exclude,
        };
        let sort = WindowSort {
            partition,
            order,
            big_null,
        };
        // Calls share a pass when SQLite's would (its `sqlite3WindowCompare`
        // on the window after built-ins took their fixed frames): the
        // passes' order decides the order each pass sees rows in.
        let key = format!(
            "{:?}|{:?}|{:?}|{}",
            sort.partition,
            sort.order,
            sort.big_null,
            pass_frame(func, &frame)
        );
        let sort = match cx.sorts.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                cx.sorts.push((key, sort));
                cx.sorts.len() - 1
            }
        };
        let ty = match func {
            WindowFunc::Agg(_) => ExprType::combine(&types),
            WindowFunc::Lag
            | WindowFunc::Lead
            | WindowFunc::FirstValue
            | WindowFunc::LastValue
            | WindowFunc::NthValue => ExprType::combine(&types[..1]),
            _ => ExprType::default(),
        };
        cx.calls.push(WindowFnCall {
            func,
            args,
            filter,
            sort,
            frame,
            coll: function_collation(&types),
        });
        cx.exprs.push(w.clone());
        cx.types.push(ty);
        Ok((PExpr::Col(WINDOW_COLUMNS + cx.calls.len() - 1), ty))
    }

    /// A frame bound: its offset bound if it is constant, else NULL (as
    /// SQLite's `sqlite3WindowOffsetExpr`, so it fails when run).
    fn bound(&mut self, b: &FrameBound, scope: &Scope) -> Result<BoundPlan> {
        let offset = |p: &mut Self, e: &Expr| -> Result<PExpr> {
            if offset_is_constant(e) {
                p.expr(e, scope)
            } else {
                Ok(PExpr::Lit(Value::Null))
            }
        };
        Ok(match b {
            FrameBound::UnboundedPreceding => BoundPlan::UnboundedPreceding,
            FrameBound::Preceding(e) => BoundPlan::Preceding(offset(self, e)?),
            FrameBound::CurrentRow => BoundPlan::CurrentRow,
            FrameBound::Following(e) => BoundPlan::Following(offset(self, e)?),
            FrameBound::UnboundedFollowing => BoundPlan::UnboundedFollowing,
        })
    }

    /// Puts the window node for the calls bound in `cx` on `plan` (whose
    /// rows are `width` wide) and moves the placeholders in `exprs` to
    /// the columns it appends.
    pub(super) fn add_window(
        &mut self,
        plan: &mut Plan,
        width: usize,
        cx: WindowBind,
        exprs: &mut [&mut PExpr],
    ) {
        if cx.calls.is_empty() {
            return;
        }
        *plan = Arc::new(Node::Window(Arc::new(WindowPlan {
            input: plan.clone(),
            width,
            sorts: cx.sorts.into_iter().map(|(_, s)| s).collect(),
            calls: cx.calls,
        })));
        for e in exprs {
            let moved = map_cols(std::mem::replace(*e, PExpr::Lit(Value::Null)), &|i| {
                if i >= WINDOW_COLUMNS {
                    width + (i - WINDOW_COLUMNS)
                } else {
                    i
                }
            });
            **e = moved;
        }
    }
}
