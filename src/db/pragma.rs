//! PRAGMA: the ones sealdb has, each honoured or refused with a message
//! saying why; every other pragma is refused by name ("PRAGMA x is not
//! supported"), never ignored.
//!
//! ```text
//!   table_info, table_xinfo,       run as SELECT * FROM pragma_<name>('arg')
//!   index_list, index_info,        (sql::introspect: what the user may see;
//!   index_xinfo, foreign_key_list   a hidden table answers as a missing one)
//!   integrity_check                admins only
//!   user_version [= n]             read: anyone; write: CREATE on the database
//!                                  (admins have it), audited; a 32-bit value
//!                                  in the store (catalog::USER_VERSION_KEY),
//!                                  written in the statement's transaction
//!   busy_timeout [= ms]            this session's wait for the writer slot
//!   synchronous [= level]          FULL (2) or NORMAL (1): the store's sync
//!                                  mode, fixed when it is opened; setting the
//!                                  level it has is accepted, another refused
//!   journal_mode [= wal]           always wal (sealdb writes ahead to its log)
//!   foreign_keys [= on|off]        this session's FOREIGN KEY enforcement (off
//!                                  by default; a no-op inside a transaction)
//!   defer_foreign_keys [= on|off]  every constraint checked at COMMIT (off
//!                                  again when the transaction ends)
//! ```

use std::time::Duration;

use crate::catalog::USER_VERSION_KEY;
use crate::encoding::decode_row;
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::exec::ExecCtx;
use crate::sql::introspect::Introspect;
use crate::sql::run;
use crate::syntax::ast::{Pragma, PragmaValue, Query, SelectItem, SetExpr, Statement as Ast};
use crate::types::Value;

use super::*;

fn unsupported(msg: String) -> Error {
    Error::sql(SqlErrorKind::Unsupported, msg)
}

/// SQLite's `sqlite3Atoi`: the leading integer of `s` (a sign, decimal
/// digits or `0x` and hex digits), 0 if there is none or it does not fit
/// in 32 bits.
pub(super) fn atoi(s: &str) -> i32 {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if let Some(hex) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
        let digits: String = hex.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        let digits = digits.trim_start_matches('0');
        if digits.len() > 8 {
            return 0;
        }
        return u32::from_str_radix(if digits.is_empty() { "0" } else { digits }, 16)
            .map_or(0, |v| v as i32);
    }
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_start_matches('0');
    if digits.len() > 10 {
        return 0;
    }
    let v: i64 = digits.parse().unwrap_or(0);
    let v = if neg { -v } else { v };
    i32::try_from(v).unwrap_or(0)
}

/// SQLite's reading of a level (`getSafetyLevel`): a value starting
/// with a digit as that number, else (ignoring case) on, yes, true 1;
/// off, no, false 0; full 2 (unless `omit_full`); extra 3; anything else
/// `dflt`.
fn safety_level(v: &PragmaValue, omit_full: bool, dflt: i32) -> i32 {
    let t = v.text();
    if t.starts_with(|c: char| c.is_ascii_digit()) {
        return atoi(t);
    }
    match t.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" => 1,
        "off" | "no" | "false" => 0,
        "extra" => 3,
        "full" if !omit_full => 2,
        _ => dflt,
    }
}

/// `text` as an SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl Session {
    /// Runs `PRAGMA` statement `stmt` (`p`) for its rows.
    pub(super) fn run_pragma(
        &self,
        stmt: &Ast,
        p: &Pragma,
        params: Vec<Value>,
        text: &str,
        cache: Option<&WriteCache>,
    ) -> Result<Rows<'_>> {
        let one = |name: &str, v: Value| self.buffered(vec![name.to_string()], vec![vec![v]]);
        if let Some(what) = Introspect::of_pragma(&p.name) {
            return self.introspection_pragma(what, p, params, text);
        }
        match (p.name.as_str(), &p.value) {
            ("integrity_check", None) => self.integrity_check(params, text),
            ("integrity_check", Some(_)) => Err(unsupported(
                "PRAGMA integrity_check(N) (an error limit) is not supported".into(),
            )),
            ("user_version", None) => Ok(one(
                "user_version",
                Value::Integer(i64::from(self.user_version()?)),
            )),
            ("user_version", Some(_)) => {
                // A change of the store: authorized, audited and written in
                // the statement's transaction like any other.
                let (cols, rows) = self.run_one(stmt, &params, text, cache)?;
                Ok(self.buffered(cols, rows))
            }
            ("busy_timeout", v) => {
                if let Some(v) = v {
                    let ms = atoi(v.text()).max(0);
                    self.state.borrow_mut().busy_timeout =
                        Some(Duration::from_millis(ms.unsigned_abs().into()));
                }
                let ms = i64::try_from(self.busy_timeout().as_millis()).unwrap_or(i64::MAX);
                Ok(one("timeout", Value::Integer(ms)))
            }
            ("synchronous", v) => {
                let (have, name): (i32, &str) = if self.db.sync_full {
                    (2, "FULL (2): every commit is fsynced")
                } else {
                    (1, "NORMAL (1): commits are not fsynced")
                };
                match v {
                    None => Ok(one("synchronous", Value::Integer(have.into()))),
                    Some(v) if safety_level(v, false, 1) == have => Ok(self.buffered(Vec::new(), Vec::new())),
                    Some(v) => Err(unsupported(format!(
                        "PRAGMA synchronous = {} is not supported: this database's sync mode is {name}, \
                         chosen when it is opened (Options::storage.sync)",
                        v.text()
                    ))),
                }
            }
            ("journal_mode", v) => match v {
                Some(v) if !v.text().eq_ignore_ascii_case("wal") => Err(unsupported(format!(
                    "PRAGMA journal_mode = {} is not supported: sealdb always writes ahead to its log (journal_mode wal)",
                    v.text()
                ))),
                _ => Ok(one("journal_mode", Value::Text("wal".into()))),
            },
            ("foreign_keys", v) => {
                let mut st = self.state.borrow_mut();
                match v {
                    None => {
                        let on = st.foreign_keys;
                        drop(st);
                        Ok(one("foreign_keys", Value::Integer(i64::from(on))))
                    }
                    Some(v) => {
                        // A no-op inside a transaction, as in SQLite.
                        if st.txn.is_none() {
                            st.foreign_keys = safety_level(v, true, 0) != 0;
                        }
                        drop(st);
                        Ok(self.buffered(Vec::new(), Vec::new()))
                    }
                }
            }
            ("defer_foreign_keys", v) => {
                let mut st = self.state.borrow_mut();
                match v {
                    None => {
                        let on = st.defer_foreign_keys;
                        drop(st);
                        Ok(one("defer_foreign_keys", Value::Integer(i64::from(on))))
                    }
                    Some(v) => {
                        st.defer_foreign_keys = safety_level(v, true, 0) != 0;
                        // Switching it off forgets what it deferred
                        // (SQLite's nDeferredImmCons).
                        if !st.defer_foreign_keys {
                            st.fk_deferred.immediate = 0;
                        }
                        drop(st);
                        Ok(self.buffered(Vec::new(), Vec::new()))
                    }
                }
            }
            (name, _) => Err(unsupported(format!("PRAGMA {name} is not supported"))),
        }
    }

    /// `PRAGMA table_info(t)` and the others: the query `SELECT * FROM
    /// pragma_table_info('t')`, planned, authorized and audited as any
    /// query (it needs no privilege; it shows what the user may see).
    fn introspection_pragma(
        &self,
        what: Introspect,
        p: &Pragma,
        params: Vec<Value>,
        text: &str,
    ) -> Result<Rows<'_>> {
        let sql = match &p.value {
            // foreign_key_check without a table checks every table the
            // user may check.
            None if what == Introspect::ForeignKeyCheck => {
                "SELECT * FROM pragma_foreign_key_check()".to_string()
            }
            Some(arg) => format!(
                "SELECT * FROM pragma_{}({})",
                what.name(),
                literal(arg.text())
            ),
            None => String::new(),
        };
        if sql.is_empty() {
            // SQLite: no argument, no rows.
            let cols = what.columns();
            let cols = cols[..what.visible_width()]
                .iter()
                .map(|(n, _)| n.to_string())
                .collect();
            return Ok(self.buffered(cols, Vec::new()));
        }
        let parsed = crate::syntax::parse::parse(&sql)?;
        let q: &Query = match parsed.statements.as_slice() {
            [Ast::Query(q)] if matches!(&q.body, SetExpr::Select(s) if matches!(s.items.as_slice(), [SelectItem::Wildcard])) => {
                q
            }
            _ => {
                return Err(Error::sql(
                    SqlErrorKind::Misuse,
                    format!("PRAGMA {}: could not read its argument", what.name()),
                ))
            }
        };
        let schema = self.schema();
        let sec = self.security()?;
        let (planned, uses) = self.plan_query(&schema, &sec, q, text, &params)?;
        self.run_query(&schema, &sec, &planned, &uses, params, text, None, q, None)
    }

    /// The stored `user_version` (0 if never set), as this session's
    /// transaction (or a fresh snapshot) sees it.
    fn user_version(&self) -> Result<i32> {
        let mut own = self.db.mgr.begin();
        let bytes = {
            let mut st = self.state.borrow_mut();
            match st.txn.as_mut() {
                Some(t) => t.get(USER_VERSION_KEY)?,
                None => own.get(USER_VERSION_KEY)?,
            }
        };
        let Some(bytes) = bytes else { return Ok(0) };
        match decode_row(&bytes)?.as_slice() {
            [Value::Integer(v)] => i32::try_from(*v).map_err(|_| bad_user_version()),
            _ => Err(bad_user_version()),
        }
    }

    /// `PRAGMA integrity_check` (admins only).
    fn integrity_check(&self, params: Vec<Value>, text: &str) -> Result<Rows<'_>> {
        let sec = self.security()?;
        if !sec.roles.admin {
            let e = denied("only admins may run PRAGMA integrity_check".into());
            let p = self.audit_start(&sec, "denied", text, &params, &[], true);
            self.audit_end(p, 0, Some(&e))?;
            return Err(e);
        }
        let mut own = self.db.mgr.begin();
        let schema = self.schema();
        let fn_session = self.snapshot();
        let busy_timeout = self.busy_timeout();
        let lines = {
            let mut st = self.state.borrow_mut();
            let txn = match st.txn.as_mut() {
                Some(t) => t,
                None => &mut own,
            };
            let mut outer = Vec::new();
            let mut cache = std::collections::BTreeMap::new();
            let mut cx = ExecCtx {
                txn,
                params: &params,
                outer: &mut outer,
                cache: &mut cache,
                busy_timeout,
                trigger: None,
                sec: Some(std::borrow::Cow::Borrowed(&sec)),
                on_error: Default::default(),
                session: &fn_session,
                trigger_rights: Vec::new(),
                raised_ignore: false,
            };
            run::integrity_check(&mut cx, &schema)?
        };
        Ok(self.buffered(
            vec!["integrity_check".to_string()],
            lines.into_iter().map(|l| vec![Value::Text(l)]).collect(),
        ))
    }
}

fn bad_user_version() -> Error {
    Error::Corruption {
        file: "<catalog>".into(),
        offset: 0,
        what: "malformed user_version".into(),
    }
}

/// The names of the columns PRAGMA `p` answers with, known before it runs
/// (as `Statement::columns` gives a query's); empty for one that answers
/// with no rows or is refused.
pub(super) fn pragma_columns(p: &Pragma) -> Vec<String> {
    if let Some(what) = Introspect::of_pragma(&p.name) {
        let cols = what.columns();
        return cols[..what.visible_width()]
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
    }
    let name = match (p.name.as_str(), p.value.is_some()) {
        ("integrity_check", false) => "integrity_check",
        ("user_version" | "synchronous" | "foreign_keys" | "defer_foreign_keys", false) => {
            p.name.as_str()
        }
        ("busy_timeout", _) => "timeout",
        ("journal_mode", _) => "journal_mode",
        _ => return Vec::new(),
    };
    vec![name.to_string()]
}

/// The value `PRAGMA user_version = v` stores (SQLite's reading of it).
pub(super) fn user_version_value(p: &Pragma) -> Option<i32> {
    p.value.as_ref().map(|v| atoi(v.text()))
}
