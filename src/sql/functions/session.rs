//! Functions of the session and the library rather than of their
//! arguments: `last_insert_rowid`, `changes`, `total_changes` (from the
//! statement's [`SessionSnapshot`](super::SessionSnapshot)), `random`,
//! `randomblob`, `sqlite_version`, `sqlite_source_id`.
//!
//! `random` and `randomblob` draw from the operating system's generator:
//! unpredictable, never repeated between calls, and so not reproducible.

use crate::error::{Error, Result, SqlErrorKind};
use crate::types::Value;

use super::args::{arg, check_length};
use super::registry::Call;

/// The SQLite version whose functions sealdb follows and is tested
/// against; applications read it to detect features.
pub(crate) const SQLITE_VERSION: &str = "3.54.1";

/// `last_insert_rowid()`: the rowid of the session's last INSERT, as the
/// statement started.
pub(super) fn f_last_insert_rowid(call: &Call) -> Result<Value> {
    Ok(Value::Integer(call.session.last_insert_rowid))
}

/// `changes()`: rows changed by the session's last INSERT, UPDATE or
/// DELETE before this statement.
pub(super) fn f_changes(call: &Call) -> Result<Value> {
    Ok(Value::Integer(call.session.changes))
}

/// `total_changes()`: rows changed by the session's INSERT, UPDATE and
/// DELETE statements before this one.
pub(super) fn f_total_changes(call: &Call) -> Result<Value> {
    Ok(Value::Integer(call.session.total_changes))
}

fn random_bytes(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| {
        Error::sql(
            SqlErrorKind::Misuse,
            format!("the system random generator failed: {e}"),
        )
    })
}

/// `random()`: a random INTEGER in -9223372036854775807..=i64::MAX (never
/// i64::MIN, as in SQLite, so that `abs(random())` cannot overflow).
pub(super) fn f_random(_args: &[Value]) -> Result<Value> {
    let mut buf = [0u8; 8];
    random_bytes(&mut buf)?;
    let r = i64::from_le_bytes(buf);
    Ok(Value::Integer(if r < 0 { -(r & i64::MAX) } else { r }))
}

/// `randomblob(N)`: N random bytes (at least 1).
pub(super) fn f_randomblob(args: &[Value]) -> Result<Value> {
    let n = arg(args, 0).to_i64().max(1);
    let len = usize::try_from(n).unwrap_or(usize::MAX);
    check_length(len)?;
    let mut buf = vec![0u8; len];
    random_bytes(&mut buf)?;
    Ok(Value::Blob(buf))
}

/// `sqlite_version()`: [`SQLITE_VERSION`].
pub(super) fn f_sqlite_version(_args: &[Value]) -> Result<Value> {
    Ok(Value::Text(SQLITE_VERSION.into()))
}

/// `sqlite_source_id()`: which build this is (sealdb's name and version,
/// where SQLite gives a check-in date and hash).
pub(super) fn f_sqlite_source_id(_args: &[Value]) -> Result<Value> {
    Ok(Value::Text(format!(
        "sealdb {} (SQLite {SQLITE_VERSION} functions)",
        env!("CARGO_PKG_VERSION")
    )))
}
