//! How results reach the terminal: rows one per line, columns separated
//! by `|`, NULL as an empty field (sqlite3's default list mode), so that
//! scripts can cut the output apart.

use std::io::Write;

use sealdb::{Row, Session, Value};

use crate::Fallible;

/// One field as text: NULL is empty, a blob is shown as (lossy) UTF-8.
fn field(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Blob(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.to_text().unwrap_or_default(),
    }
}

pub(crate) fn print_row(out: &mut impl Write, row: &Row) {
    let line: Vec<String> = row.values().iter().map(field).collect();
    let _ = writeln!(out, "{}", line.join("|"));
}

/// Runs every statement of `sql`, printing the rows; stops at the first
/// failing statement (the ones before it have taken effect).
pub fn run_sql(session: &Session, sql: &str) -> Fallible<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    session.run_script(sql, |_, row| print_row(&mut out, row))?;
    Ok(())
}
