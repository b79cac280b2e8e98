//! Scalar SQL functions, looked up by name: SQLite's core functions
//! (`abs`, `length`, `substr`, `printf`, ...), its date and time functions,
//! its math functions and its JSON functions.
//!
//! ```text
//!   registry.rs   the table: name, argument counts, implementation
//!   args.rs       reading arguments as SQLite's sqlite3_value_* do
//!   text.rs       strings: length, substr, trim, replace, hex, quote, ...
//!   choice.rs     coalesce, ifnull, iif, nullif, min, max, typeof, ...
//!   math.rs       abs, round, sign, floor, sqrt, pow, sin, log, ...
//!   session.rs    last_insert_rowid, changes, random, sqlite_version, ...
//!   printf.rs     printf / format
//!   date.rs       date, time, datetime, julianday, unixepoch, strftime,
//!                 timediff (date_parse.rs: time values and modifiers)
//!   json/         json, json_extract, ->, ->>, json_set, ...
//! ```
//!
//! [`ScalarCall::resolve`] finds a function once, when an expression is
//! bound, so that evaluating a row does no lookup by name (the planner
//! refuses an unknown name or a wrong argument count first, with
//! [`check_scalar`], as SQLite does when it prepares a statement; a call
//! resolved without that check fails when evaluated, with the same error
//! [`call_scalar`] gives); [`check_scalar`] answers,
//! without evaluating anything, whether a name and argument count make a
//! valid call. Names are matched case-insensitively. An unknown name is an
//! [`SqlErrorKind::UnknownFunction`] error ("no such function: foo"); a
//! wrong number of arguments is [`SqlErrorKind::Misuse`] ("wrong number of
//! arguments to function abs()"), both in SQLite's words.
//!
//! # Semantics
//!
//! Functions follow SQLite's `func.c`, `date.c`, `printf.c` and `json.c`
//! (3.54, the version the differential test runs against), with two
//! inherited differences: the text form of a REAL is 3.40's `%!.15g`
//! (see [`crate::types`]), and so is the digit generation of `printf`'s
//! `%f`/`%e`/`%g` (16 significant digits, `long double` rounding); 3.54
//! prints reals with up to 17 digits. docs/sql.md lists the differences.
//!
//! * NULL in gives NULL out, except where SQLite says otherwise
//!   (`coalesce`, `ifnull`, `iif`, `concat`, `quote(NULL)` = `'NULL'`, ...).
//! * Arguments are converted the way SQLite's `sqlite3_value_*` accessors
//!   convert them ([`args`]).
//!
//! # What a function may know besides its arguments
//!
//! A [`SessionSnapshot`] is taken when a statement starts: the session's
//! `last_insert_rowid`, `changes` and `total_changes`, and the statement's
//! moment, which is what `'now'` means for every call in the statement (as
//! SQLite keeps `'now'` stable within a statement; like SQLite, the clock
//! is read when a call first asks). A JSON function also
//! learns which of its arguments are themselves results of JSON functions
//! (SQLite's JSON subtype), so that `json_array(json('[1]'))` nests the
//! array rather than quoting it as a string. That is decided when the call
//! is bound, from the argument expressions ([`ScalarCall::resolve_args`]);
//! as in SQLite the mark does not survive storage in a table.
//!
//! Invariant: no function panics or allocates without bound on any input;
//! results larger than SQLite's default length limit are refused.
//!
//! The aggregate functions (`count`, `sum`, `group_concat`,
//! `json_group_array`, ...) live in [`crate::sql::aggregate`].

mod args;
mod choice;
mod date;
mod date_parse;
pub(crate) mod json;
mod math;
mod printf;
mod registry;
mod session;
mod text;

#[cfg(test)]
mod tests;

pub(crate) use registry::is_json_result;
pub use registry::{
    call_scalar, check_scalar, scalar_function_names, ScalarCall, SessionSnapshot, ShortCircuit,
};
