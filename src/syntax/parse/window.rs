//! Window function calls and named windows: `f(...) [FILTER (WHERE ...)]
//! OVER (...)`, `OVER name`, `WINDOW name AS (...)`, converted into
//! [`WindowCall`] and [`WindowSpec`].
//!
//! The frame is checked here, where SQLite's parser checks it (its
//! `sqlite3WindowAlloc`): a frame may not start at UNBOUNDED FOLLOWING nor
//! end at UNBOUNDED PRECEDING (a syntax error), and its start may not come
//! after its end in the order
//!
//! ```text
//!   UNBOUNDED PRECEDING < n PRECEDING < CURRENT ROW < n FOLLOWING < UNBOUNDED FOLLOWING
//! ```
//!
//! by kind ("unsupported frame specification"; `ROWS 1 FOLLOWING` is
//! `ROWS BETWEEN 1 FOLLOWING AND CURRENT ROW`, so it is refused too). The
//! offsets themselves are checked when the query runs, as in SQLite.
//! sqlparser lacks EXCLUDE: the token rewrite takes it out and keeps it by
//! the position of the window's owner (`rewrite_frame_excludes`).

use super::*;

impl Cx {
    /// A window function call: `f` with its OVER clause (and FILTER).
    pub(super) fn window_call(
        &mut self,
        name: String,
        owner: (u64, u64),
        (args, distinct, star): (Vec<Expr>, bool, bool),
        filter: Option<Box<sp::Expr>>,
        over: sp::WindowType,
    ) -> Result<Expr> {
        let filter = filter.map(|f| self.expr(*f).map(Box::new)).transpose()?;
        let over = match over {
            sp::WindowType::NamedWindow(n) => Over::Named(n.value),
            sp::WindowType::WindowSpec(spec) => Over::Spec(self.window_spec(spec, owner)?),
        };
        Ok(Expr::Window(Box::new(WindowCall {
            name,
            args,
            star,
            distinct,
            filter,
            over,
        })))
    }

    /// `WINDOW name AS (...), ...`.
    pub(super) fn named_windows(
        &mut self,
        defs: Vec<sp::NamedWindowDefinition>,
    ) -> Result<Vec<(String, WindowSpec)>> {
        defs.into_iter()
            .map(|sp::NamedWindowDefinition(name, def)| match def {
                sp::NamedWindowExpr::WindowSpec(spec) => {
                    let spec = self.window_spec(spec, span_key(&name))?;
                    Ok((name.value, spec))
                }
                sp::NamedWindowExpr::NamedWindow(_) => Err(Error::sql(
                    SqlErrorKind::Syntax,
                    format!(
                        "syntax error: WINDOW {} AS needs a parenthesized window",
                        name.value
                    ),
                )),
            })
            .collect()
    }

    /// A window written in parentheses; `owner` finds its EXCLUDE.
    fn window_spec(&mut self, spec: sp::WindowSpec, owner: (u64, u64)) -> Result<WindowSpec> {
        let partition_by = spec
            .partition_by
            .into_iter()
            .map(|e| self.expr(e))
            .collect::<Result<_>>()?;
        let mut order_by = Vec::with_capacity(spec.order_by.len());
        for it in spec.order_by {
            if it.with_fill.is_some() {
                return Err(unsupported("ORDER BY ... WITH FILL"));
            }
            order_by.push(OrderItem {
                expr: self.expr(it.expr)?,
                desc: matches!(it.options.sort, Some(sp::OrderBySort::Desc)),
                nulls_first: it.options.nulls_first,
            });
        }
        let exclude = self.frame_excludes.get(&owner).copied();
        let frame = match spec.window_frame {
            Some(f) => Some(self.frame(f, exclude)?),
            None if exclude.is_some() => {
                return Err(Error::sql(
                    SqlErrorKind::Syntax,
                    "syntax error: EXCLUDE needs a frame (ROWS, RANGE or GROUPS) before it",
                ))
            }
            None => None,
        };
        Ok(WindowSpec {
            base: spec.window_name.map(|n| n.value),
            partition_by,
            order_by,
            frame,
        })
    }

    fn frame(&mut self, f: sp::WindowFrame, exclude: Option<FrameExclude>) -> Result<Frame> {
        let units = match f.units {
            sp::WindowFrameUnits::Rows => FrameUnits::Rows,
            sp::WindowFrameUnits::Range => FrameUnits::Range,
            sp::WindowFrameUnits::Groups => FrameUnits::Groups,
        };
        let start = self.frame_bound(f.start_bound)?;
        let end = match f.end_bound {
            Some(b) => self.frame_bound(b)?,
            None => FrameBound::CurrentRow,
        };
        let syntax = |what: &str| {
            Error::sql(
                SqlErrorKind::Syntax,
                format!("syntax error: a window frame cannot {what}"),
            )
        };
        if start == FrameBound::UnboundedFollowing {
            return Err(syntax("start at UNBOUNDED FOLLOWING"));
        }
        if end == FrameBound::UnboundedPreceding {
            return Err(syntax("end at UNBOUNDED PRECEDING"));
        }
        let unsupported_order = matches!(
            (&start, &end),
            (FrameBound::CurrentRow, FrameBound::Preceding(_))
                | (
                    FrameBound::Following(_),
                    FrameBound::Preceding(_) | FrameBound::CurrentRow
                )
        );
        if unsupported_order {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                "unsupported frame specification",
            ));
        }
        Ok(Frame {
            units,
            start,
            end,
            exclude,
        })
    }

    fn frame_bound(&mut self, b: sp::WindowFrameBound) -> Result<FrameBound> {
        // sqlparser reads a quoted offset as an INTERVAL: it is the text.
        let offset = |cx: &mut Self, e: Box<sp::Expr>| -> Result<Box<Expr>> {
            match *e {
                sp::Expr::Interval(sp::Interval {
                    value,
                    leading_field: None,
                    leading_precision: None,
                    last_field: None,
                    fractional_seconds_precision: None,
                }) => Ok(Box::new(cx.expr(*value)?)),
                other => Ok(Box::new(cx.expr(other)?)),
            }
        };
        Ok(match b {
            sp::WindowFrameBound::CurrentRow => FrameBound::CurrentRow,
            sp::WindowFrameBound::Preceding(None) => FrameBound::UnboundedPreceding,
            sp::WindowFrameBound::Following(None) => FrameBound::UnboundedFollowing,
            sp::WindowFrameBound::Preceding(Some(e)) => FrameBound::Preceding(offset(self, e)?),
            sp::WindowFrameBound::Following(Some(e)) => FrameBound::Following(offset(self, e)?),
        })
    }
}
