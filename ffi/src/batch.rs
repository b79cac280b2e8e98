//! Many rows per call: `sealdb_step_batch` reads up to N rows of a result
//! into column arrays, `sealdb_execute_batch` runs a statement once for
//! each row of parameter arrays.
//!
//! Why: every call into the C ABI pays a handle lookup, the connection's
//! lock and the panic boundary, and a binding pays its own per call on top
//! (in Python, a cffi call and its argument conversions). Reading a row
//! with `sealdb_step` and one `sealdb_column_*` per value, or inserting it
//! with one `sealdb_bind_*` per value, multiplies that by rows × columns.
//! A batch pays it once per N rows, and its values lie in plain arrays, a
//! set per column, that a binding converts in bulk (Python casts a whole
//! array of int64 or double to a list, and decodes the text of a column at
//! once).
//!
//! One column of a batch of `rows` rows, the same for results and for
//! parameters (`sealdb_column_batch`):
//!
//! ```text
//!   uniform_type       the type code shared by every value, or 0 if mixed
//!   types[rows]        a type code (SEALDB_INTEGER .. SEALDB_NULL) per value, one byte each
//!   numbers[rows]      an INTEGER's value (.integer), a REAL's (.real); 0 for other types
//!   offsets[rows + 1]  TEXT/BLOB value i is data[offsets[i] .. offsets[i+1]];
//!                      for other types offsets[i] == offsets[i+1]
//!   data[data_len]     the bytes of the TEXT (UTF-8, no NUL) and BLOB values, in row order
//! ```
//!
//! A result batch lives in the statement ([`RowBatch`], buffers reused
//! from batch to batch, so a steady scan allocates nothing here) and is
//! borrowed by the caller until the statement's next step, reset or free.
//! Parameter arrays are the caller's, borrowed for the call and checked
//! (types, offsets within `data_len`, UTF-8) before any value is used.

use sealdb::{Session, ToValue, Value};

use crate::conn::write_out;
use crate::error::{
    Failure, FfiResult, SEALDB_DONE, SEALDB_ERR_INVALID_ARGUMENT, SEALDB_ERR_INVALID_UTF8,
    SEALDB_ERR_NULL_ARGUMENT, SEALDB_ERR_PANIC, SEALDB_OK, SEALDB_ROW,
};
use crate::guard::call;
use crate::stmt::{
    sealdb_stmt, with_stmt, with_stmt_session, StmtState, SEALDB_BLOB, SEALDB_INTEGER, SEALDB_NULL,
    SEALDB_REAL, SEALDB_TEXT,
};

/// One number of a column batch: an INTEGER's value or a REAL's, by the
/// value's type code.
#[repr(C)]
#[derive(Clone, Copy)]
pub union sealdb_number {
    /// The value of an INTEGER.
    pub integer: i64,
    /// The value of a REAL.
    pub real: f64,
}

/// The values of one column for a batch of rows (see `sealdb_step_batch`
/// and `sealdb_execute_batch`). Value `i` (from 0) has type `types[i]`
/// (or `uniform_type`); an INTEGER is `numbers[i].integer`, a REAL
/// `numbers[i].real`, a TEXT (UTF-8, not NUL-terminated) or BLOB the
/// bytes `data[offsets[i]]` up to `data[offsets[i + 1]]`, excluded.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sealdb_column_batch {
    /// The type of every value when they all have one (`SEALDB_INTEGER`
    /// .. `SEALDB_NULL`), else 0. For parameters, a non-zero
    /// `uniform_type` lets `types` be NULL.
    pub uniform_type: i32,
    /// One type code per row (one byte each).
    pub types: *const u8,
    /// One number per row (0 for rows that are not INTEGER or REAL).
    /// For parameters, may be NULL when no value is INTEGER or REAL.
    pub numbers: *const sealdb_number,
    /// `rows + 1` offsets into `data`, non-decreasing. For parameters, may
    /// be NULL when no value is TEXT or BLOB.
    pub offsets: *const usize,
    /// The bytes of the TEXT and BLOB values; NULL when `data_len` is 0.
    pub data: *const u8,
    /// The number of bytes at `data`.
    pub data_len: usize,
}

/// A batch of result rows, filled by `sealdb_step_batch`: `rows` rows of
/// `columns` columns, column `j` at `column[j]`.
#[repr(C)]
pub struct sealdb_batch {
    /// Rows in this batch (0 when the result has ended).
    pub rows: usize,
    /// Result columns (as `sealdb_column_count`).
    pub columns: usize,
    /// `columns` column batches; NULL when `columns` is 0.
    pub column: *const sealdb_column_batch,
}

/// The buffers of one result column.
#[derive(Default)]
struct ColumnBuffers {
    types: Vec<u8>,
    numbers: Vec<sealdb_number>,
    offsets: Vec<usize>,
    data: Vec<u8>,
}

impl ColumnBuffers {
    fn clear(&mut self) {
        self.types.clear();
        self.numbers.clear();
        self.offsets.clear();
        self.offsets.push(0);
        self.data.clear();
    }

    fn push(&mut self, value: &Value) {
        let (ty, number) = match value {
            Value::Null => (SEALDB_NULL, sealdb_number { integer: 0 }),
            Value::Integer(i) => (SEALDB_INTEGER, sealdb_number { integer: *i }),
            Value::Real(r) => (SEALDB_REAL, sealdb_number { real: *r }),
            Value::Text(s) => {
                self.data.extend_from_slice(s.as_bytes());
                (SEALDB_TEXT, sealdb_number { integer: 0 })
            }
            Value::Blob(b) => {
                self.data.extend_from_slice(b);
                (SEALDB_BLOB, sealdb_number { integer: 0 })
            }
        };
        // Type codes are 1..=5.
        self.types.push(ty as u8);
        self.numbers.push(number);
        self.offsets.push(self.data.len());
    }

    /// The C view of these buffers. Valid until they are next changed.
    fn view(&self) -> sealdb_column_batch {
        let uniform_type = match self.types.split_first() {
            Some((first, rest)) if rest.iter().all(|t| t == first) => i32::from(*first),
            _ => 0,
        };
        sealdb_column_batch {
            uniform_type,
            types: self.types.as_ptr(),
            numbers: self.numbers.as_ptr(),
            offsets: self.offsets.as_ptr(),
            data: if self.data.is_empty() {
                std::ptr::null()
            } else {
                self.data.as_ptr()
            },
            data_len: self.data.len(),
        }
    }
}

/// The rows of a statement's last `sealdb_step_batch`, by column, and the
/// C views of them that the caller borrows.
#[derive(Default)]
pub(crate) struct RowBatch {
    rows: usize,
    columns: Vec<ColumnBuffers>,
    /// Points into `columns`; rebuilt after every change to them.
    views: Vec<sealdb_column_batch>,
}

impl RowBatch {
    /// Empties the batch for rows of `columns` columns (buffers kept).
    fn clear(&mut self, columns: usize) {
        self.rows = 0;
        self.views.clear();
        self.columns.resize_with(columns, ColumnBuffers::default);
        self.columns.iter_mut().for_each(ColumnBuffers::clear);
    }

    fn push(&mut self, values: &[Value]) -> FfiResult<()> {
        if values.len() != self.columns.len() {
            return Err(Failure::new(
                SEALDB_ERR_PANIC,
                format!(
                    "internal error in sealdb (a bug; please report it): a row of {} values for {} columns",
                    values.len(),
                    self.columns.len()
                ),
            ));
        }
        for (column, value) in self.columns.iter_mut().zip(values) {
            column.push(value);
        }
        self.rows += 1;
        Ok(())
    }

    /// The C view of the batch; valid until the batch is next cleared.
    fn finish(&mut self) -> sealdb_batch {
        self.views = self.columns.iter().map(ColumnBuffers::view).collect();
        sealdb_batch {
            rows: self.rows,
            columns: self.views.len(),
            column: if self.views.is_empty() {
                std::ptr::null()
            } else {
                self.views.as_ptr()
            },
        }
    }
}

/// Reads up to `max_rows` rows of the statement's result in one call, into
/// `*out` (column arrays, see `sealdb_column_batch`). Like `sealdb_step`,
/// it runs the statement first if it is not running, and continues the
/// same result set as `sealdb_step` (the two may be mixed).
///
/// Returns `SEALDB_ROW` with `out->rows` between 1 and `max_rows`,
/// `SEALDB_DONE` with `out->rows == 0` when the result has no more rows
/// (and again until `sealdb_reset`), or an error code. An error met after
/// some rows were read is kept: those rows come back with `SEALDB_ROW` and
/// the next step (of either kind) reports the error; after an error the
/// next step runs the statement again. `out->columns` is the number of
/// result columns (0 for a statement that returns no rows).
///
/// The arrays are borrowed: valid until the next step, reset or free of
/// this statement. A batch step leaves no current row for the
/// `sealdb_column_*` value functions. `max_rows` 0 is `SEALDB_ERR_RANGE`.
#[no_mangle]
pub unsafe extern "C" fn sealdb_step_batch(
    stmt: *mut sealdb_stmt,
    max_rows: usize,
    out: *mut sealdb_batch,
) -> i32 {
    call(|| {
        write_out(
            out,
            sealdb_batch {
                rows: 0,
                columns: 0,
                column: std::ptr::null(),
            },
        )?;
        with_stmt(stmt, |st| {
            if max_rows == 0 {
                return Err(Failure::range(
                    "max_rows is 0: a batch holds at least one row",
                ));
            }
            let batch = step_batch(st, max_rows)?;
            let code = if batch.rows > 0 {
                SEALDB_ROW
            } else {
                SEALDB_DONE
            };
            write_out(out, batch)?;
            Ok(code)
        })
    })
}

fn step_batch(st: &mut StmtState, max_rows: usize) -> FfiResult<sealdb_batch> {
    st.clear_row();
    // Run the statement first (if due), so the columns are known even
    // when no row follows.
    if let Err(failure) = st.open() {
        st.batch.clear(0);
        return Err(failure);
    }
    // Out of `st` while rows are lent to it; put back before returning.
    let mut batch = std::mem::take(&mut st.batch);
    batch.clear(st.columns.len());
    let filled = fill(st, &mut batch, max_rows);
    st.batch = batch;
    filled?;
    Ok(st.batch.finish())
}

/// Up to `max_rows` rows into `batch`, each copied from the row the
/// result set lends (whose buffers its next row reuses).
fn fill(st: &mut StmtState, batch: &mut RowBatch, max_rows: usize) -> FfiResult<()> {
    while batch.rows < max_rows {
        match st.advance_with(|values| batch.push(values)) {
            Ok(Some(pushed)) => pushed?,
            Ok(None) => break,
            Err(failure) if batch.rows > 0 => {
                st.defer(failure);
                break;
            }
            Err(failure) => return Err(failure),
        }
    }
    Ok(())
}

/// The `len` elements at `p`, or `None` for NULL (or for `len` 0 when
/// `p` is NULL, as `data` may be).
///
/// # Safety
/// A non-NULL `p` points to `len` readable elements valid for `'a`.
unsafe fn array<'a, T>(p: *const T, len: usize) -> Option<&'a [T]> {
    // SAFETY: p is not NULL and, by this function's contract, points to
    // len readable elements valid for 'a.
    (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts(p, len) })
}

/// One value of a parameter column, borrowed from the caller's arrays:
/// made into a `Value` once, by the statement (`ToValue`).
enum Param<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl ToValue for Param<'_> {
    fn to_value(&self) -> Value {
        match *self {
            Param::Null => Value::Null,
            Param::Integer(i) => Value::Integer(i),
            Param::Real(r) => Value::real(r),
            Param::Text(t) => Value::Text(t.to_owned()),
            Param::Blob(b) => Value::Blob(b.to_vec()),
        }
    }
}

/// One parameter column of `sealdb_execute_batch`, checked and borrowed.
struct ParamColumn<'a> {
    /// The parameter's number (from 1), for messages.
    index: usize,
    uniform_type: i32,
    types: Option<&'a [u8]>,
    numbers: Option<&'a [sealdb_number]>,
    offsets: Option<&'a [usize]>,
    data: &'a [u8],
}

impl<'a> ParamColumn<'a> {
    /// # Safety
    /// Each non-NULL pointer of `c` points to as many readable elements as
    /// `sealdb_column_batch` says for `rows` rows, valid for `'a`.
    unsafe fn new(c: &sealdb_column_batch, rows: usize, index: usize) -> FfiResult<Self> {
        if c.data.is_null() && c.data_len > 0 {
            return Err(Failure::null(&format!(
                "data of parameter {index} (with data_len {})",
                c.data_len
            )));
        }
        // The array lengths `sealdb_column_batch` gives for `rows` rows.
        // SAFETY: types has `rows` elements (this function's contract).
        let types = unsafe { array(c.types, rows) };
        // SAFETY: numbers has `rows` elements (this function's contract).
        let numbers = unsafe { array(c.numbers, rows) };
        // SAFETY: offsets has `rows + 1` elements (this function's contract).
        let offsets = unsafe { array(c.offsets, rows + 1) };
        // SAFETY: data has `data_len` bytes (this function's contract).
        let data = unsafe { array(c.data, c.data_len) }.unwrap_or(&[]);
        if c.uniform_type == 0 && types.is_none() && rows > 0 {
            return Err(Failure::null(&format!(
                "types of parameter {index} (its uniform_type is 0)"
            )));
        }
        Ok(ParamColumn {
            index,
            uniform_type: c.uniform_type,
            types,
            numbers,
            offsets,
            data,
        })
    }

    fn failure(&self, code: i32, row: usize, what: impl std::fmt::Display) -> Failure {
        Failure::new(
            code,
            format!("parameter {} of row {row}: {what}", self.index),
        )
    }

    /// The value of row `row`.
    fn value(&self, row: usize) -> FfiResult<Param<'a>> {
        let ty = match self.types {
            _ if self.uniform_type != 0 => self.uniform_type,
            Some(types) => i32::from(types[row]),
            None => return Err(self.failure(SEALDB_ERR_NULL_ARGUMENT, row, "types is NULL")),
        };
        match ty {
            SEALDB_NULL => Ok(Param::Null),
            SEALDB_INTEGER | SEALDB_REAL => {
                let Some(numbers) = self.numbers else {
                    return Err(self.failure(SEALDB_ERR_NULL_ARGUMENT, row, "numbers is NULL"));
                };
                let n = numbers[row];
                Ok(if ty == SEALDB_INTEGER {
                    // SAFETY: every bit pattern is a valid i64.
                    Param::Integer(unsafe { n.integer })
                } else {
                    // SAFETY: every bit pattern is a valid f64 (NaN binds
                    // NULL, as in sealdb_bind_double).
                    Param::Real(unsafe { n.real })
                })
            }
            SEALDB_TEXT | SEALDB_BLOB => {
                let Some(offsets) = self.offsets else {
                    return Err(self.failure(SEALDB_ERR_NULL_ARGUMENT, row, "offsets is NULL"));
                };
                let (start, end) = (offsets[row], offsets[row + 1]);
                let bytes = self.data.get(start..end).ok_or_else(|| {
                    self.failure(
                        crate::error::SEALDB_ERR_RANGE,
                        row,
                        format!(
                            "offsets {start}..{end} are not within data ({} bytes)",
                            self.data.len()
                        ),
                    )
                })?;
                if ty == SEALDB_BLOB {
                    return Ok(Param::Blob(bytes));
                }
                let text = std::str::from_utf8(bytes).map_err(|e| {
                    self.failure(
                        SEALDB_ERR_INVALID_UTF8,
                        row,
                        format!(
                            "text is not valid UTF-8 (invalid byte at offset {})",
                            e.valid_up_to()
                        ),
                    )
                })?;
                Ok(Param::Text(text))
            }
            other => Err(self.failure(
                SEALDB_ERR_INVALID_ARGUMENT,
                row,
                format!("{other} is not a type code (SEALDB_INTEGER .. SEALDB_NULL)"),
            )),
        }
    }
}

/// Runs the statement once for each of `rows` rows of parameters, in one
/// call: row `i` binds `params[j]`'s value `i` to parameter `j + 1` (see
/// `sealdb_column_batch`), then runs the statement to completion, as
/// `sealdb_reset`, `sealdb_bind_*` and `sealdb_step` would. `param_count`
/// must be the statement's parameter count (`SEALDB_ERR_RANGE` otherwise);
/// `params` may be NULL when it is 0.
///
/// For statements that return no rows: INSERT, UPDATE, DELETE without
/// RETURNING, DDL. A statement that returns rows is refused with
/// `SEALDB_ERR_SQL_MISUSE` at its first row (a data change with RETURNING
/// has then run once). Each row runs as its own statement: outside a
/// transaction, each commits by itself; open one with `sealdb_begin` to
/// load many rows at once.
///
/// `*changes` (if `changes` is not NULL) is set to the sum of
/// `sealdb_changes` after each row (the rows changed, for INSERT, UPDATE
/// and DELETE), also on failure: the rows before the failing one have run.
/// Stops at the first failure, whose message names the row (from 0) when
/// a parameter is bad. A result set open on the statement is closed first.
/// The statement's own bindings (`sealdb_bind_*`) are neither used nor
/// changed.
#[no_mangle]
pub unsafe extern "C" fn sealdb_execute_batch(
    stmt: *mut sealdb_stmt,
    rows: usize,
    params: *const sealdb_column_batch,
    param_count: usize,
    changes: *mut u64,
) -> i32 {
    call(|| {
        if !changes.is_null() {
            write_out(changes, 0)?;
        }
        let mut total = 0u64;
        let r = with_stmt_session(stmt, |session, st| {
            let params: &[sealdb_column_batch] = if param_count == 0 {
                &[]
            } else if params.is_null() {
                return Err(Failure::null("params"));
            } else {
                // SAFETY: params points to param_count column batches (the
                // export's contract).
                unsafe { std::slice::from_raw_parts(params, param_count) }
            };
            let columns = params
                .iter()
                .enumerate()
                // SAFETY: each column's arrays are as long as rows says
                // (the export's contract).
                .map(|(j, c)| unsafe { ParamColumn::new(c, rows, j + 1) })
                .collect::<FfiResult<Vec<_>>>()?;
            execute_batch(session, st, rows, &columns, &mut total)
        });
        if !changes.is_null() {
            write_out(changes, total)?;
        }
        r
    })
}

fn execute_batch(
    session: &Session,
    st: &mut StmtState,
    rows: usize,
    columns: &[ParamColumn],
    total: &mut u64,
) -> FfiResult {
    st.reset();
    if columns.len() != st.params.len() {
        return Err(Failure::range(format!(
            "{} parameter column(s) given: the statement has {} parameter(s)",
            columns.len(),
            st.params.len()
        )));
    }
    // One buffer for every row's values (their text and blobs are still
    // copied out of the caller's arrays, into the values).
    let mut params: Vec<Value> = Vec::with_capacity(columns.len());
    for row in 0..rows {
        params.clear();
        for column in columns {
            params.push(column.value(row)?.to_value());
        }
        *total += st.run_without_rows(session, &params, row == 0)?;
    }
    Ok(SEALDB_OK)
}
