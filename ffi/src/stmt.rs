//! Prepared statements: prepare, bind, step, column, reset, free.
//!
//! The sqlite3 shape:
//!
//! ```text
//!   sealdb_prepare ─▶ sealdb_bind_* ─▶ sealdb_step ─┬─ SEALDB_ROW  ─▶ sealdb_column_* ─▶ step again
//!        ▲                                          └─ SEALDB_DONE ─▶ sealdb_reset ─▶ bind / step
//!        └──────────────────────────── sealdb_stmt_free (any time) ◀┘
//! ```
//!
//! A statement borrows its connection's session (`Statement<'s>` and
//! `Rows<'s>` in the Rust API). The handle keeps the connection alive
//! through an `Arc` and stores the statement and its open result set with
//! their lifetimes extended to `'static`; the fields are ordered so the
//! result set is dropped before the statement, and both before the `Arc`.
//! Everything that reaches the session runs under the connection's lock
//! (see conn.rs). Column reads only touch the copied current row.
//!
//! Lock order: connection lock, then the statement's state lock; column
//! reads take only the state lock.
//!
//! The batch calls (`sealdb_step_batch`, `sealdb_execute_batch`, batch.rs)
//! drive the same state: a batch step advances the same result set as
//! `sealdb_step`, and the two may be mixed.

use std::ffi::{c_char, CString};
use std::sync::Arc;

use parking_lot::Mutex;
use sealdb::{Rows, Session, Statement, ToValue, Value};

use crate::batch::RowBatch;
use crate::conn::sealdb_conn;
use crate::conn::{write_out, ConnInner, CONNS};
use crate::db::{bytes_arg, reset_out, str_arg};
use crate::error::{
    c_message, ErrorSlot, Failure, FfiResult, SEALDB_DONE, SEALDB_ERR_INVALID_UTF8,
    SEALDB_ERR_PANIC, SEALDB_ERR_SQL_MISUSE, SEALDB_OK, SEALDB_ROW,
};
use crate::guard::{call, quiet};
use crate::handle::Registry;

/// A prepared statement (opaque). Made by `sealdb_prepare`, freed by
/// `sealdb_stmt_free` (sqlite's finalize).
#[allow(non_camel_case_types)]
pub struct sealdb_stmt {
    _private: [u8; 0],
}

/// Column type: a 64-bit signed integer.
pub const SEALDB_INTEGER: i32 = 1;
/// Column type: a 64-bit float.
pub const SEALDB_REAL: i32 = 2;
/// Column type: UTF-8 text.
pub const SEALDB_TEXT: i32 = 3;
/// Column type: bytes.
pub const SEALDB_BLOB: i32 = 4;
/// Column type: SQL NULL.
pub const SEALDB_NULL: i32 = 5;

/// One value of the current row, with a NUL-terminated rendering made when
/// a caller first asks for it as text.
struct Cell {
    value: Value,
    /// The rendering, when `rendered`; its buffer is kept from row to row.
    text: Vec<u8>,
    rendered: bool,
}

impl Cell {
    fn new(value: Value) -> Cell {
        Cell {
            value,
            text: Vec::new(),
            rendered: false,
        }
    }

    /// The value as NUL-terminated bytes (text, a number's text, or blob
    /// bytes); `None` for NULL.
    fn text(&mut self) -> Option<&[u8]> {
        if !self.rendered {
            self.text.clear();
            match &self.value {
                Value::Null => return None,
                Value::Text(s) => self.text.extend_from_slice(s.as_bytes()),
                Value::Blob(b) => self.text.extend_from_slice(b),
                other => self
                    .text
                    .extend_from_slice(other.to_text().unwrap_or_default().as_bytes()),
            }
            self.text.push(0);
            self.rendered = true;
        }
        Some(&self.text)
    }
}

pub(crate) struct StmtState {
    /// The open result set, borrowing `stmt` and the session. Declared
    /// before `stmt` so it is dropped first; always cleared before `stmt`
    /// could go.
    rows: Option<Rows<'static>>,
    /// Boxed so its address is stable for `rows`.
    stmt: Box<Statement<'static>>,
    pub(crate) params: Vec<Value>,
    pub(crate) columns: Vec<CString>,
    /// The result columns' declared types, found at the first
    /// `sealdb_column_decltype` after prepare or a run (`None`: not yet).
    decltypes: Option<Vec<Option<CString>>>,
    row: Vec<Cell>,
    has_row: bool,
    /// Ran to completion; `sealdb_step` answers `SEALDB_DONE` until reset.
    done: bool,
    /// An error met by `sealdb_step_batch` after it had read some rows:
    /// those rows were returned, and the next step of either kind reports
    /// this.
    pending: Option<Failure>,
    /// The rows of the last `sealdb_step_batch`.
    pub(crate) batch: RowBatch,
}

// SAFETY: StmtState is not Send only because `rows` and `stmt` borrow the
// session (`&Session`, and `Session` is not Sync) and hold row iterators
// that are trait objects without a Send bound (`stmt` keeps its last
// run's operators for the next run), and because `batch` holds
// raw pointers (into its own buffers, see batch.rs). `rows` and `stmt` are
// touched only inside `ConnInner::run`, which holds the connection's lock,
// so the session is never used by two threads at once; and neither the
// session nor the iterators hold thread-affine state (no `Rc`, no
// thread-locals kept between calls). The pointers in `batch` point into
// heap buffers owned by the same `batch`, which move with it. The state
// itself is behind a Mutex.
unsafe impl Send for StmtState {}

impl StmtState {
    /// Runs the statement if it is not running (the first step after
    /// prepare or reset); a no-op while a result set is open or after it
    /// ended.
    pub(crate) fn open(&mut self) -> FfiResult<()> {
        if self.rows.is_some() || self.done {
            return Ok(());
        }
        let params: Vec<&dyn ToValue> = self.params.iter().map(|v| v as &dyn ToValue).collect();
        // SAFETY: the boxed statement is only dropped or replaced after
        // `rows` is cleared (field order of StmtState, and nothing replaces
        // it), so extending this borrow to 'static for `rows` is sound.
        let stmt: &'static Statement<'static> =
            unsafe { &*(&*self.stmt as *const Statement<'static>) };
        let rows = stmt.query(&params)?;
        self.columns = rows.columns().iter().map(|c| c_message(c)).collect();
        self.decltypes = None;
        self.rows = Some(rows);
        Ok(())
    }

    /// Lends the next row to `f` (the result set reuses its buffers for
    /// the row after), running the statement first if it is not running:
    /// what `f` returns, `None` at the end (and until reset). After an
    /// error the result set is closed: the next call runs the statement
    /// again.
    pub(crate) fn advance_with<R>(
        &mut self,
        f: impl FnOnce(&[Value]) -> R,
    ) -> FfiResult<Option<R>> {
        if let Some(failure) = self.pending.take() {
            return Err(failure);
        }
        self.open()?;
        let next = match self.rows.as_mut() {
            Some(rows) => rows.step().map(|row| row.map(|r| f(r.values()))),
            None => Ok(None),
        };
        match next {
            Ok(Some(r)) => Ok(Some(r)),
            Ok(None) => {
                self.rows = None;
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.rows = None;
                Err(e.into())
            }
        }
    }

    /// Keeps `failure` to report on the next step (see `pending`).
    pub(crate) fn defer(&mut self, failure: Failure) {
        self.pending = Some(failure);
    }

    /// Back to the state after prepare, bindings kept (`sealdb_reset`).
    pub(crate) fn reset(&mut self) {
        self.rows = None;
        self.row.clear();
        self.has_row = false;
        self.done = false;
        self.pending = None;
    }

    /// No current row for `sealdb_column_*` (a batch step reads none).
    pub(crate) fn clear_row(&mut self) {
        self.row.clear();
        self.has_row = false;
    }

    /// Runs the statement once to completion with `params` (not its
    /// bindings), for a statement that returns no rows (a data change
    /// without RETURNING, DDL): `sealdb_execute_batch`'s step. The first
    /// run (`first`) checks that it returns no rows, refusing it otherwise
    /// (a data change with RETURNING has then run); the kind of statement
    /// cannot change, so later runs take the cheaper `execute`. Returns
    /// the rows changed.
    pub(crate) fn run_without_rows(
        &self,
        session: &Session,
        params: &[Value],
        first: bool,
    ) -> FfiResult<u64> {
        if !first {
            return Ok(self.stmt.execute_values(params)?);
        }
        let refs: Vec<&dyn ToValue> = params.iter().map(|p| p as &dyn ToValue).collect();
        let rows = self.stmt.query(&refs)?;
        if !rows.columns().is_empty() {
            return Err(Failure::new(
                SEALDB_ERR_SQL_MISUSE,
                "this statement returns rows: run it with sealdb_step, not as a batch",
            ));
        }
        drop(rows);
        Ok(session.changes())
    }
}

pub(crate) struct StmtInner {
    state: Mutex<StmtState>,
    err: ErrorSlot,
    /// Declared last: dropped after `state`, which borrows its session.
    conn: Arc<ConnInner>,
}

impl Drop for StmtInner {
    fn drop(&mut self) {
        // Close the result set (and its read transaction) under the
        // connection's lock, like every other use of the session.
        let state = self.state.get_mut();
        let _ = self.conn.run(|_| {
            state.rows = None;
            Ok(())
        });
    }
}

static STMTS: Registry<sealdb_stmt, StmtInner> = Registry::new("statement");

/// Looks up `stmt` and runs `f` on its state under the connection's lock;
/// records the outcome on the statement and its connection.
pub(crate) fn with_stmt<T>(
    stmt: *const sealdb_stmt,
    f: impl FnOnce(&mut StmtState) -> FfiResult<T>,
) -> FfiResult<T> {
    with_stmt_session(stmt, |_, st| f(st))
}

/// [`with_stmt`] for calls that also read the session (its change count).
pub(crate) fn with_stmt_session<T>(
    stmt: *const sealdb_stmt,
    f: impl FnOnce(&Session, &mut StmtState) -> FfiResult<T>,
) -> FfiResult<T> {
    let inner = STMTS.get(stmt)?;
    let r = inner
        .conn
        .run(|session| f(session, &mut inner.state.lock()));
    inner.err.record(&r);
    inner.conn.err.record(&r);
    r
}

/// Like [`with_stmt`] for reads of the current row (no session access, so
/// only the statement's own lock).
fn read_stmt<T>(
    stmt: *const sealdb_stmt,
    f: impl FnOnce(&mut StmtState) -> FfiResult<T>,
) -> FfiResult<T> {
    let inner = STMTS.get(stmt)?;
    let r = f(&mut inner.state.lock());
    inner.err.record(&r);
    r
}

/// Prepares one SQL statement on `conn`. Parameters are `?`, `?NNN`,
/// `$NNN`, `:NNN` (numbered from 1) or `:name`, `@name`, `$name`; unbound
/// parameters are NULL.
///
/// On success `*out` is a new statement owned by the caller: free it with
/// `sealdb_stmt_free`. It keeps the connection's session alive (even after
/// `sealdb_conn_free`) until freed. `sql` is borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sealdb_prepare(
    conn: *const sealdb_conn,
    sql: *const c_char,
    out: *mut *mut sealdb_stmt,
) -> i32 {
    call(|| {
        reset_out(out)?;
        // SAFETY: the caller passes a NUL-terminated string (or NULL).
        let sql = unsafe { str_arg(sql, "sql") };
        let conn = CONNS.get(conn)?;
        let r = conn.run(|_| {
            // SAFETY: the StmtInner made below holds `conn` (an Arc) for as
            // long as the statement and its result sets exist (field order),
            // and uses them only inside `ConnInner::run`.
            let session = unsafe { conn.session_static() };
            let stmt = session.prepare(sql?)?;
            Ok(StmtState {
                rows: None,
                params: vec![Value::Null; stmt.parameter_count()],
                stmt: Box::new(stmt),
                columns: Vec::new(),
                decltypes: None,
                row: Vec::new(),
                has_row: false,
                done: false,
                pending: None,
                batch: RowBatch::default(),
            })
        });
        conn.err.record(&r);
        let state = r?;
        let handle = STMTS.insert(Arc::new(StmtInner {
            state: Mutex::new(state),
            err: ErrorSlot::default(),
            conn,
        }));
        write_out(out, handle)
    })
}

/// Runs the statement (on the first call after prepare or reset) and
/// advances to its next row: `SEALDB_ROW` when a row is ready,
/// `SEALDB_DONE` when there are no more (then again `SEALDB_DONE` until
/// `sealdb_reset`), or an error code. After an error the statement is
/// reset: the next step runs it again.
///
/// An INSERT/UPDATE/DELETE/DDL statement does its work on the first step
/// (and yields its RETURNING rows, if any). A query outside a transaction
/// reads one snapshot, held until `SEALDB_DONE`, reset or free.
#[no_mangle]
pub extern "C" fn sealdb_step(stmt: *mut sealdb_stmt) -> i32 {
    call(|| with_stmt(stmt, step))
}

fn step(st: &mut StmtState) -> FfiResult {
    // The cells are refilled from the row the result set lends: a text
    // or blob copied over one reuses its buffer.
    let mut row = std::mem::take(&mut st.row);
    st.clear_row();
    let filled = st.advance_with(|values| {
        row.truncate(values.len());
        for (cell, v) in row.iter_mut().zip(values) {
            cell.value.clone_from(v);
            cell.rendered = false;
        }
        let have = row.len();
        row.extend(values[have..].iter().map(|v| Cell::new(v.clone())));
    });
    match filled {
        Ok(Some(())) => {
            st.row = row;
            st.has_row = true;
            Ok(SEALDB_ROW)
        }
        Ok(None) => Ok(SEALDB_DONE),
        Err(failure) => Err(failure),
    }
}

/// Resets the statement to run again from the start: closes its result
/// set (ending its snapshot). Bindings are kept (see
/// `sealdb_clear_bindings`).
#[no_mangle]
pub extern "C" fn sealdb_reset(stmt: *mut sealdb_stmt) -> i32 {
    call(|| {
        with_stmt(stmt, |st| {
            st.reset();
            Ok(SEALDB_OK)
        })
    })
}

/// Frees (finalizes) a statement, closing its result set. NULL is a no-op;
/// a handle that is not live (freed already) gives `SEALDB_ERR_MISUSE`.
/// Every pointer obtained from the statement becomes invalid.
#[no_mangle]
pub extern "C" fn sealdb_stmt_free(stmt: *mut sealdb_stmt) -> i32 {
    call(|| {
        if stmt.is_null() {
            return Ok(SEALDB_OK);
        }
        let inner = STMTS.remove(stmt).ok_or_else(|| {
            Failure::misuse(format!(
                "{stmt:p} is not a live statement handle (freed twice?)"
            ))
        })?;
        drop(inner);
        Ok(SEALDB_OK)
    })
}

fn bind(stmt: *mut sealdb_stmt, index: i32, value: impl FnOnce() -> FfiResult<Value>) -> i32 {
    call(|| {
        with_stmt(stmt, |st| {
            let value = value()?;
            if st.rows.is_some() {
                return Err(Failure::misuse(
                    "cannot bind while the statement is mid-result; call sealdb_reset first",
                ));
            }
            let n = st.params.len();
            let slot = usize::try_from(index)
                .ok()
                .filter(|i| (1..=n).contains(i))
                .ok_or_else(|| {
                    Failure::range(format!(
                        "parameter index {index} is out of range: the statement has {n} parameter(s), numbered from 1"
                    ))
                })?;
            st.params[slot - 1] = value;
            st.done = false;
            st.pending = None;
            Ok(SEALDB_OK)
        })
    })
}

/// Binds SQL NULL to parameter `index` (from 1). Binding is refused
/// (`SEALDB_ERR_MISUSE`) while a result set is open: reset first. An index
/// out of range gives `SEALDB_ERR_RANGE`.
#[no_mangle]
pub extern "C" fn sealdb_bind_null(stmt: *mut sealdb_stmt, index: i32) -> i32 {
    bind(stmt, index, || Ok(Value::Null))
}

/// Binds a 64-bit integer to parameter `index` (from 1); see `sealdb_bind_null`.
#[no_mangle]
pub extern "C" fn sealdb_bind_int64(stmt: *mut sealdb_stmt, index: i32, value: i64) -> i32 {
    bind(stmt, index, || Ok(Value::Integer(value)))
}

/// Binds a double to parameter `index` (from 1); NaN binds NULL. See
/// `sealdb_bind_null`.
#[no_mangle]
pub extern "C" fn sealdb_bind_double(stmt: *mut sealdb_stmt, index: i32, value: f64) -> i32 {
    bind(stmt, index, || Ok(Value::real(value)))
}

/// Binds UTF-8 text to parameter `index` (from 1): `len` bytes at `text`,
/// or up to its NUL when `len` is negative. sealdb copies it; `text` is
/// borrowed for the call. NULL `text` gives `SEALDB_ERR_NULL_ARGUMENT`,
/// bytes that are not UTF-8 `SEALDB_ERR_INVALID_UTF8`. See `sealdb_bind_null`.
#[no_mangle]
pub unsafe extern "C" fn sealdb_bind_text(
    stmt: *mut sealdb_stmt,
    index: i32,
    text: *const c_char,
    len: i64,
) -> i32 {
    bind(stmt, index, || {
        let bytes = match usize::try_from(len) {
            Err(_) => {
                // SAFETY: a negative len means the caller passes a
                // NUL-terminated string (or NULL, rejected by str_arg).
                return Ok(Value::Text(unsafe { str_arg(text, "text")? }.to_string()));
            }
            Ok(_) if text.is_null() => return Err(Failure::null("text")),
            // SAFETY: the caller passes len readable bytes at text.
            Ok(n) => unsafe { bytes_arg(text.cast(), n, "text")? },
        };
        let s = std::str::from_utf8(bytes).map_err(|e| {
            Failure::new(
                SEALDB_ERR_INVALID_UTF8,
                format!(
                    "text is not valid UTF-8 (invalid byte at offset {})",
                    e.valid_up_to()
                ),
            )
        })?;
        Ok(Value::Text(s.to_string()))
    })
}

/// Binds `len` bytes at `data` as a blob to parameter `index` (from 1);
/// `data` may be NULL only when `len` is 0. sealdb copies the bytes. See
/// `sealdb_bind_null`.
#[no_mangle]
pub unsafe extern "C" fn sealdb_bind_blob(
    stmt: *mut sealdb_stmt,
    index: i32,
    data: *const u8,
    len: usize,
) -> i32 {
    bind(stmt, index, || {
        // SAFETY: the caller passes len readable bytes at data.
        Ok(Value::Blob(
            unsafe { bytes_arg(data, len, "data")? }.to_vec(),
        ))
    })
}

/// Sets `*out` to the number of parameters of the statement (the highest
/// index).
#[no_mangle]
pub unsafe extern "C" fn sealdb_bind_parameter_count(
    stmt: *const sealdb_stmt,
    out: *mut i32,
) -> i32 {
    call(|| {
        with_stmt(stmt, |st| {
            write_out(out, i32::try_from(st.params.len()).unwrap_or(i32::MAX))
        })
    })
}

/// Sets `*out` to the index of the parameter named `name`, including its
/// prefix (`":id"`, `"@id"`, `"$id"`), for use with `sealdb_bind_*` (bind by
/// name). `SEALDB_ERR_RANGE` if the statement has no such parameter.
#[no_mangle]
pub unsafe extern "C" fn sealdb_bind_parameter_index(
    stmt: *const sealdb_stmt,
    name: *const c_char,
    out: *mut i32,
) -> i32 {
    call(|| {
        // SAFETY: the caller passes a NUL-terminated string (or NULL).
        let name = unsafe { str_arg(name, "name") };
        with_stmt(stmt, |st| {
            let name = name?;
            let index = st
                .stmt
                .parameter_index(name)
                .ok_or_else(|| Failure::range(format!("the statement has no parameter {name}")))?;
            write_out(out, i32::try_from(index).unwrap_or(i32::MAX))
        })
    })
}

/// Sets every parameter back to NULL (refused mid-result, like binding).
#[no_mangle]
pub extern "C" fn sealdb_clear_bindings(stmt: *mut sealdb_stmt) -> i32 {
    call(|| {
        with_stmt(stmt, |st| {
            if st.rows.is_some() {
                return Err(Failure::misuse(
                    "cannot clear bindings while the statement is mid-result; call sealdb_reset first",
                ));
            }
            st.params.iter_mut().for_each(|p| *p = Value::Null);
            st.done = false;
            st.pending = None;
            Ok(SEALDB_OK)
        })
    })
}

impl StmtState {
    /// Fills in the result column names before the statement has run, as
    /// SQLite has them after prepare: a query is planned and checked
    /// against the session's rights (not run). A data change with
    /// RETURNING has its names once it has run.
    fn describe(&mut self) -> FfiResult<()> {
        if self.rows.is_some() || self.done || !self.columns.is_empty() {
            return Ok(());
        }
        if let Some(names) = self.stmt.columns()? {
            self.columns = names.iter().map(|c| c_message(c)).collect();
        }
        Ok(())
    }
}

/// Sets `*out` to the number of result columns: known after prepare for a
/// query (the statement is planned and checked against the user's rights,
/// so an error here is the one running it would give); for a data change
/// with RETURNING once it has run (after its first `sealdb_step`, 0
/// before); 0 for statements that return no rows.
#[no_mangle]
pub unsafe extern "C" fn sealdb_column_count(stmt: *const sealdb_stmt, out: *mut i32) -> i32 {
    call(|| {
        with_stmt(stmt, |st| {
            st.describe()?;
            write_out(out, i32::try_from(st.columns.len()).unwrap_or(i32::MAX))
        })
    })
}

/// Result column `index`, checked against the columns known as for
/// `sealdb_column_count`.
fn result_column(st: &mut StmtState, index: i32) -> FfiResult<usize> {
    st.describe()?;
    let n = st.columns.len();
    usize::try_from(index)
        .ok()
        .filter(|i| *i < n)
        .ok_or_else(|| {
            Failure::range(format!(
                "column index {index} is out of range: the result has {n} column(s), numbered from 0"
            ))
        })
}

/// Sets `*out` to the name of result column `index` (from 0), known as
/// for `sealdb_column_count`. Borrowed: valid until the statement is freed
/// or runs again (the first step after a reset).
#[no_mangle]
pub unsafe extern "C" fn sealdb_column_name(
    stmt: *const sealdb_stmt,
    index: i32,
    out: *mut *const c_char,
) -> i32 {
    call(|| {
        with_stmt(stmt, |st| {
            let i = result_column(st, index)?;
            write_out(out, st.columns[i].as_ptr())
        })
    })
}

/// Sets `*out` to the declared type of result column `index` (from 0) as
/// written in CREATE TABLE, when the column reads a table column directly
/// (also through a view, a subquery in FROM or a CTE; a rowid is
/// `INTEGER`), else to NULL (an expression, a column declared without a
/// type, a data change's RETURNING column) — SQLite's
/// `sqlite3_column_decltype`. Known as for `sealdb_column_count`, before
/// the first step. Borrowed: valid until the statement is freed or runs
/// again.
#[no_mangle]
pub unsafe extern "C" fn sealdb_column_decltype(
    stmt: *const sealdb_stmt,
    index: i32,
    out: *mut *const c_char,
) -> i32 {
    call(|| {
        with_stmt(stmt, |st| {
            let i = result_column(st, index)?;
            if st.decltypes.is_none() {
                let found = st.stmt.decltypes()?.unwrap_or_default();
                st.decltypes = Some(
                    found
                        .into_iter()
                        .map(|d| d.map(|s| c_message(&s)))
                        .collect(),
                );
            }
            let p = st
                .decltypes
                .as_ref()
                .and_then(|d| d.get(i))
                .and_then(|d| d.as_ref())
                .map_or(std::ptr::null(), |c| c.as_ptr());
            write_out(out, p)
        })
    })
}

/// The cell `index` of the current row.
fn cell(st: &mut StmtState, index: i32) -> FfiResult<&mut Cell> {
    if !st.has_row {
        return Err(Failure::misuse(
            "no current row: read columns only after sealdb_step returned SEALDB_ROW",
        ));
    }
    let n = st.row.len();
    usize::try_from(index)
        .ok()
        .and_then(|i| st.row.get_mut(i))
        .ok_or_else(|| {
            Failure::range(format!(
                "column index {index} is out of range: the row has {n} column(s), numbered from 0"
            ))
        })
}

/// Sets `*out` to the type of column `index` (from 0) of the current row:
/// `SEALDB_INTEGER`, `SEALDB_REAL`, `SEALDB_TEXT`, `SEALDB_BLOB` or
/// `SEALDB_NULL`. `SEALDB_ERR_MISUSE` when there is no current row,
/// `SEALDB_ERR_RANGE` for a bad index (the same for every `sealdb_column_*`
/// value function).
#[no_mangle]
pub unsafe extern "C" fn sealdb_column_type(
    stmt: *const sealdb_stmt,
    index: i32,
    out: *mut i32,
) -> i32 {
    call(|| {
        read_stmt(stmt, |st| {
            let t = match cell(st, index)?.value {
                Value::Null => SEALDB_NULL,
                Value::Integer(_) => SEALDB_INTEGER,
                Value::Real(_) => SEALDB_REAL,
                Value::Text(_) => SEALDB_TEXT,
                Value::Blob(_) => SEALDB_BLOB,
            };
            write_out(out, t)
        })
    })
}

/// Sets `*out` to column `index` as a 64-bit integer (converted the SQLite
/// way: a REAL is truncated, text is read as a number, NULL is 0).
#[no_mangle]
pub unsafe extern "C" fn sealdb_column_int64(
    stmt: *const sealdb_stmt,
    index: i32,
    out: *mut i64,
) -> i32 {
    call(|| read_stmt(stmt, |st| write_out(out, cell(st, index)?.value.to_i64())))
}

/// Sets `*out` to column `index` as a double (converted the SQLite way;
/// NULL is 0.0).
#[no_mangle]
pub unsafe extern "C" fn sealdb_column_double(
    stmt: *const sealdb_stmt,
    index: i32,
    out: *mut f64,
) -> i32 {
    call(|| read_stmt(stmt, |st| write_out(out, cell(st, index)?.value.to_f64())))
}

/// Sets `*out` to column `index` as NUL-terminated text (a number is
/// rendered as text, a blob's bytes are given as they are), or to NULL for
/// SQL NULL, and `*len` (if `len` is not NULL) to its length in bytes
/// without the NUL. Borrowed: valid until the next `sealdb_step`,
/// `sealdb_reset` or `sealdb_stmt_free` on this statement.
#[no_mangle]
pub unsafe extern "C" fn sealdb_column_text(
    stmt: *const sealdb_stmt,
    index: i32,
    out: *mut *const c_char,
    len: *mut usize,
) -> i32 {
    call(|| {
        read_stmt(stmt, |st| {
            if out.is_null() {
                return Err(Failure::null("out"));
            }
            let (p, n) = match cell(st, index)?.text() {
                Some(t) => (t.as_ptr().cast::<c_char>(), t.len() - 1),
                None => (std::ptr::null(), 0),
            };
            if !len.is_null() {
                write_out(len, n)?;
            }
            write_out(out, p)
        })
    })
}

/// Sets `*out` to the bytes of column `index` (a blob's bytes, text's UTF-8
/// bytes, a number's text) and `*len` to their number; NULL and 0 for SQL
/// NULL. Borrowed, like `sealdb_column_text`.
#[no_mangle]
pub unsafe extern "C" fn sealdb_column_blob(
    stmt: *const sealdb_stmt,
    index: i32,
    out: *mut *const u8,
    len: *mut usize,
) -> i32 {
    call(|| {
        read_stmt(stmt, |st| {
            if out.is_null() || len.is_null() {
                return Err(Failure::null(if out.is_null() { "out" } else { "len" }));
            }
            let cell = cell(st, index)?;
            let (p, n) = match &cell.value {
                Value::Blob(b) => (b.as_ptr(), b.len()),
                _ => match cell.text() {
                    Some(t) => (t.as_ptr(), t.len() - 1),
                    None => (std::ptr::null(), 0),
                },
            };
            write_out(len, n)?;
            write_out(out, p)
        })
    })
}

/// The result code of the last call made on `stmt` (`SEALDB_OK` if it
/// succeeded; `SEALDB_ERR_NULL_ARGUMENT` / `SEALDB_ERR_MISUSE` for a NULL or
/// dead handle).
#[no_mangle]
pub extern "C" fn sealdb_stmt_errcode(stmt: *const sealdb_stmt) -> i32 {
    quiet(SEALDB_ERR_PANIC, || match STMTS.get(stmt) {
        Ok(inner) => inner.err.code(),
        Err(f) => f.code,
    })
}

/// The message of the last failed call made on `stmt`, or NULL if it
/// succeeded (or `stmt` is not live). Owned: free it with
/// `sealdb_string_free`.
#[no_mangle]
pub extern "C" fn sealdb_stmt_errmsg(stmt: *const sealdb_stmt) -> *mut c_char {
    quiet(std::ptr::null_mut(), || {
        STMTS
            .get(stmt)
            .map_or(std::ptr::null_mut(), |inner| inner.err.message())
    })
}
