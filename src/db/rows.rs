//! [`Rows`] and [`Row`]: the result of a query, streamed from the executor
//! or buffered, with typed access to columns.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::sql::plan::{Planned, Security};

use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::exec::{ExecCtx, RowIter};
use crate::txn::Txn;
use crate::types::Value;

use super::*;

/// One result row.
#[derive(Clone, Debug)]
pub struct Row {
    pub(super) values: Vec<Value>,
    pub(super) columns: Arc<[String]>,
}

impl Row {
    /// A row of no values with these column names ([`Rows::step`]'s
    /// before its first row).
    pub(super) fn empty(columns: Arc<[String]>) -> Row {
        Row {
            values: Vec::new(),
            columns,
        }
    }

    /// Column `i` converted to `T`.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self.values.get(i).ok_or_else(|| {
            Error::sql(
                SqlErrorKind::Misuse,
                format!(
                    "column index {i} out of range (the row has {})",
                    self.values.len()
                ),
            )
        })?;
        T::from_value(v)
    }

    /// The column named `name` converted to `T`.
    pub fn get_by_name<T: FromValue>(&self, name: &str) -> Result<T> {
        let i = self
            .columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                Error::sql(
                    SqlErrorKind::UnknownColumn,
                    format!("no column named {name} in the result"),
                )
            })?;
        self.get(i)
    }

    /// All values.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Consumes the row into its values.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
}

pub(super) enum Source {
    Stream(Box<dyn RowIter>),
    Buffered(std::vec::IntoIter<Vec<Value>>),
}

/// What a run of a prepared query leaves for the next run of the same
/// plan: its operators, parked ([`RowIter::park`]: holding no storage
/// cursor), the row it lent and the values it was bound to, for their
/// buffers (what [`crate::types::trim_kept`] leaves: a few KiB at most).
pub(super) struct KeptRun {
    /// The plan the operators were opened from; held, so that the address
    /// a later run compares its plan's with is never another plan's.
    pub(super) planned: Arc<Planned>,
    pub(super) it: Box<dyn RowIter>,
    pub(super) row: Vec<Value>,
    pub(super) params: Vec<Value>,
}

/// A prepared query's run: where its result set leaves its [`KeptRun`]
/// when dropped, the plan, and what the last run left (when it was of
/// this plan).
pub(super) struct Reuse<'s> {
    pub(super) home: &'s RefCell<Option<KeptRun>>,
    pub(super) planned: Arc<Planned>,
    pub(super) kept: Option<KeptRun>,
}

/// A streaming result set.
pub struct Rows<'s> {
    pub(super) session: &'s Session,
    pub(super) columns: Arc<[String]>,
    /// The row [`Rows::step`] lends, its buffers reused by the next step.
    pub(super) current: Row,
    pub(super) source: Source,
    /// Own read transaction (autocommit queries).
    pub(super) txn: Option<Txn>,
    pub(super) params: Vec<Value>,
    pub(super) outer: Vec<Vec<Value>>,
    pub(super) cache: BTreeMap<usize, Arc<Vec<Vec<Value>>>>,
    pub(super) sec: Option<Arc<Security>>,
    /// The session's counters and the statement's moment, for functions.
    pub(super) fn_session: crate::sql::functions::SessionSnapshot,
    /// The audit record to finish when the rows are done.
    pub(super) audit: Option<PendingAudit>,
    pub(super) returned: u64,
    /// Where a prepared query's result set leaves its run for the next,
    /// and the plan it ran.
    pub(super) keep: Option<(&'s RefCell<Option<KeptRun>>, Arc<Planned>)>,
}

impl Rows<'_> {
    /// Column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The next row, or `None` at the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Row>> {
        let mut values = Vec::new();
        Ok(self.advance(&mut values)?.then(|| Row {
            values,
            columns: self.columns.clone(),
        }))
    }

    /// The next row, borrowed until the next call, or `None` at the end:
    /// the same rows as [`Rows::next`], but read into one row whose
    /// buffers (its values, their texts and blobs) are reused from row to
    /// row, so a large result read this way allocates little per row
    /// (rusqlite's `Rows::next` lends its rows the same way). Clone the
    /// row, or the values wanted, to keep them.
    pub fn step(&mut self) -> Result<Option<&Row>> {
        let mut values = std::mem::take(&mut self.current.values);
        let more = self.advance(&mut values);
        self.current.values = values;
        Ok(more?.then_some(&self.current))
    }

    /// The next row's values into `out`; at the end, or on an error, the
    /// statement's audit record is finished.
    fn advance(&mut self, out: &mut Vec<Value>) -> Result<bool> {
        match self.pull(out) {
            Ok(true) => {
                self.returned += 1;
                Ok(true)
            }
            Ok(false) => {
                let pending = self.audit.take();
                self.session.audit_end(pending, self.returned, None)?;
                Ok(false)
            }
            Err(e) => {
                let pending = self.audit.take();
                self.session.audit_end(pending, self.returned, Some(&e))?;
                Err(e)
            }
        }
    }

    fn pull(&mut self, out: &mut Vec<Value>) -> Result<bool> {
        Ok(match &mut self.source {
            Source::Buffered(it) => match it.next() {
                Some(values) => {
                    *out = values;
                    true
                }
                None => false,
            },
            Source::Stream(it) => {
                let busy_timeout = self.session.busy_timeout();
                match self.txn.as_mut() {
                    Some(txn) => {
                        let mut cx = ExecCtx {
                            txn,
                            params: &self.params,
                            outer: &mut self.outer,
                            cache: &mut self.cache,
                            busy_timeout,
                            trigger: None,
                            sec: self.sec.as_ref().map(std::borrow::Cow::Borrowed),
                            on_error: Default::default(),
                            session: &self.fn_session,
                            trigger_rights: Vec::new(),
                            raised_ignore: false,
                        };
                        it.next_into(&mut cx, out)?
                    }
                    None => {
                        let mut st = self.session.state.borrow_mut();
                        let txn = st.txn.as_mut().ok_or_else(|| {
                            Error::sql(
                                SqlErrorKind::Misuse,
                                "the transaction of this result set has ended",
                            )
                        })?;
                        let mut cx = ExecCtx {
                            txn,
                            params: &self.params,
                            outer: &mut self.outer,
                            cache: &mut self.cache,
                            busy_timeout,
                            trigger: None,
                            sec: self.sec.as_ref().map(std::borrow::Cow::Borrowed),
                            on_error: Default::default(),
                            session: &self.fn_session,
                            trigger_rights: Vec::new(),
                            raised_ignore: false,
                        };
                        it.next_into(&mut cx, out)?
                    }
                }
            }
        })
    }

    /// Reads all remaining rows.
    pub fn collect_all(mut self) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        while let Some(r) = self.next()? {
            out.push(r);
        }
        Ok(out)
    }
}

impl Drop for Rows<'_> {
    fn drop(&mut self) {
        // Rows abandoned early are still audited, with the count read.
        let pending = self.audit.take();
        let _ = self.session.audit_end(pending, self.returned, None);
        self.keep_run();
    }
}

impl Rows<'_> {
    /// Leaves the operators and buffers of a prepared query's run with its
    /// statement, for the next run ([`KeptRun`]), if they can run again.
    fn keep_run(&mut self) {
        let Some((home, planned)) = self.keep.take() else {
            return;
        };
        let Source::Stream(mut it) =
            std::mem::replace(&mut self.source, Source::Buffered(Vec::new().into_iter()))
        else {
            return;
        };
        if !it.park() {
            return;
        }
        let mut row = std::mem::take(&mut self.current.values);
        crate::types::trim_kept(&mut row);
        let mut params = std::mem::take(&mut self.params);
        crate::types::trim_kept(&mut params);
        // Busy only if a result set of the same statement is being
        // dropped from inside this one's drop, which nothing does; the
        // run is then not kept.
        if let Ok(mut home) = home.try_borrow_mut() {
            *home = Some(KeptRun {
                planned,
                it,
                row,
                params,
            });
        }
    }
}
