//! `PRAGMA foreign_key_check`: the child rows whose parent key is
//! missing, for the tables the reader owns.

use super::*;

/// `PRAGMA foreign_key_check` / `pragma_foreign_key_check(table)`: for
/// each child row (in table order) and each of its constraints (the last
/// written first, `fkid` 0), a row `(table, rowid, parent, fkid)` when its
/// key has no NULL and no parent row (SQLite's answer: a missing parent
/// table has none). `args`: the table (NULL or none: every table), then
/// the schema, as the pragma's hidden columns. It lists rowids and which
/// keys exist, so it reads only tables the principal owns (an admin:
/// all): naming another is refused, and the form without a table skips
/// them. A parent it may not see is a missing one, as for enforcement.
pub fn check_rows(
    cx: &mut ExecCtx,
    seen: &crate::sql::introspect::Visible,
    args: &[Value],
) -> Result<Vec<Row>> {
    let arg = args.first().cloned().unwrap_or(Value::Null);
    let schema_arg = args.get(1).cloned().unwrap_or(Value::Null);
    if let Some(s) = schema_arg.to_text() {
        if s.eq_ignore_ascii_case("temp") {
            return Ok(Vec::new());
        }
        if !s.eq_ignore_ascii_case("main") {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                format!("unknown database {s}"),
            ));
        }
    }
    let tables: Vec<Arc<Table>> = match arg.to_text() {
        Some(name) => {
            let t = seen.table(&name).ok_or_else(|| {
                Error::sql(SqlErrorKind::UnknownTable, format!("no such table: {name}"))
            })?;
            if !t.foreign_keys.is_empty() && !seen.owns(t.id) {
                return Err(Error::PermissionDenied {
                    message: format!(
                        "permission denied: PRAGMA foreign_key_check reads the rows of table {}, which only its owner may check",
                        t.name
                    ),
                });
            }
            vec![t.clone()]
        }
        None => seen
            .tables()
            .iter()
            .filter(|t| seen.owns(t.id))
            .cloned()
            .collect(),
    };
    let mut out = Vec::new();
    for t in tables {
        if t.foreign_keys.is_empty() {
            continue;
        }
        // Per constraint, last written first: its parent key, or `None`
        // for a missing parent (then the child columns as written).
        let mut keys = Vec::new();
        for fk in t.foreign_keys.iter().rev() {
            // A parent whose key the reader may not read is a missing one,
            // as for enforcement.
            let readable = seen.table(&fk.parent).filter(|p| {
                cx.sec
                    .as_ref()
                    .is_some_and(|s| super::reference::may_read_key(&s.auth, &s.roles, p, fk))
            });
            let pk = match readable {
                Some(p) => Some(locate(p, &t, fk)?),
                None => None,
            };
            let cols: Vec<usize> = match &pk {
                Some(pk) => pk.child_cols.clone(),
                None => fk
                    .columns
                    .iter()
                    .map(|c| column_of(&t, c))
                    .collect::<Result<_>>()?,
            };
            keys.push((fk, pk, cols));
        }
        let mut rows = Vec::new();
        let p = crate::catalog::rows_prefix(t.id);
        let end = crate::sql::exec::prefix_end(&p);
        for e in cx.txn.scan(
            std::ops::Bound::Included(p),
            std::ops::Bound::Excluded(end),
            crate::storage::Direction::Forward,
        )? {
            let (k, v) = e?;
            let mut row = crate::encoding::decode_row(&v)?;
            row.resize(t.columns.len(), Value::Null);
            row.push(Value::Integer(crate::catalog::rowid_of_key(&k)?));
            rows.push(row);
        }
        sort_in_table_order(&t, &mut rows);
        for row in rows {
            for (fkid, (fk, pk, cols)) in keys.iter().enumerate() {
                let key: Vec<Value> = cols.iter().map(|&c| row[c].clone()).collect();
                if key.iter().any(|v| matches!(v, Value::Null)) {
                    continue;
                }
                let found = match pk {
                    Some(pk) => parent_exists(cx, pk, &key)?,
                    None => false,
                };
                if !found {
                    out.push(vec![
                        Value::Text(t.name.clone()),
                        if t.without_rowid {
                            Value::Null
                        } else {
                            row.last().cloned().unwrap_or(Value::Null)
                        },
                        Value::Text(fk.parent.clone()),
                        Value::Integer(fkid as i64),
                        arg.clone(),
                        schema_arg.clone(),
                    ]);
                }
            }
        }
    }
    Ok(out)
}
