//! A statement's audit record: started before it runs, finished with its
//! outcome, row count and duration; values rendered for the log.

use std::time::Instant;

use crate::audit::AuditRecord;
use crate::auth::Privilege;
use crate::sql::plan::{ObjectUse, Security};

use crate::error::{Error, Result};
use crate::syntax::ast::Statement as Ast;
use crate::types::Value;

use super::*;

/// A statement's audit record, finished when the statement ends.
pub(super) struct PendingAudit {
    /// Boxed: a statement moves its `Option<PendingAudit>` several times,
    /// and an unboxed record made each move a copy of its ~350 bytes.
    pub(super) rec: Box<AuditRecord>,
    pub(super) started: Instant,
}

pub(super) fn render(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Blob(b) => format!(
            "x'{}'",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
        other => other.to_text().unwrap_or_default(),
    }
}

pub(super) fn statement_kind(s: &Ast) -> &'static str {
    match s {
        Ast::Insert(_) => "INSERT",
        Ast::Update(_) => "UPDATE",
        Ast::Delete(_) => "DELETE",
        Ast::CreateTable(_) => "CREATE TABLE",
        Ast::CreateIndex(_) => "CREATE INDEX",
        Ast::CreateView { .. } => "CREATE VIEW",
        Ast::Drop { .. } => "DROP",
        _ => "STATEMENT",
    }
}

impl Session {
    /// Starts an audit record when the statement touches an audited
    /// table in an audited mode, or always with `force`.
    pub(super) fn audit_start(
        &self,
        sec: &Security,
        event: &str,
        text: &str,
        params: &[Value],
        uses: &[ObjectUse],
        force: bool,
    ) -> Option<PendingAudit> {
        let auth = &sec.auth;
        let (mut read, mut write) = (false, false);
        if !auth.audit.is_empty() {
            let schema = self.schema();
            for u in uses {
                let m = match schema.object_id(&u.object) {
                    Some(id) => auth.audit_mode(u64::from(id)),
                    None => Default::default(),
                };
                if u.privilege == Privilege::Select {
                    read |= m.read;
                } else {
                    write |= m.write;
                }
            }
        }
        if !(read || write || force) {
            return None;
        }
        let (r, w) = uses.iter().fold((false, false), |(r, w), u| {
            (
                r || u.privilege == Privilege::Select,
                w || u.privilege != Privilege::Select,
            )
        });
        let mode = match (r, w) {
            (true, true) => "read write",
            (true, false) => "read",
            (false, true) => "write",
            _ => "",
        };
        let mut objects: Vec<String> = uses
            .iter()
            .filter(|u| !u.object.is_empty())
            .map(|u| u.object.clone())
            .collect();
        objects.sort();
        objects.dedup();
        Some(PendingAudit {
            rec: Box::new(AuditRecord {
                time_ms: unix_ms(),
                event: event.into(),
                user: self.user.clone(),
                roles: sec.roles.granted(),
                client_address: self.client.address.map(|a| a.to_string()),
                application_name: self.client.application_name.clone(),
                statement: text.trim().to_string(),
                values: if auth.redact || params.is_empty() {
                    None
                } else {
                    Some(params.iter().map(render).collect())
                },
                objects,
                mode: mode.into(),
                outcome: "ok".into(),
                ..AuditRecord::default()
            }),
            started: Instant::now(),
        })
    }

    /// Logs that an audited query has started, before any of its rows is
    /// returned: a reader that never closes its result, or a process that
    /// dies first, still leaves a trace. The same record with its outcome,
    /// row count and duration follows when the result is closed. A read
    /// that cannot be logged does not run.
    pub(super) fn audit_started(&self, pending: Option<&PendingAudit>) -> Result<()> {
        let Some(p) = pending else {
            return Ok(());
        };
        let mut rec = (*p.rec).clone();
        rec.outcome = "started".into();
        self.db.audit.append(rec).map(|_| ())
    }

    pub(super) fn audit_end(
        &self,
        pending: Option<PendingAudit>,
        rows: u64,
        err: Option<&Error>,
    ) -> Result<()> {
        let Some(mut p) = pending else {
            return Ok(());
        };
        p.rec.rows = rows;
        p.rec.duration_us = p.started.elapsed().as_micros() as u64;
        if let Some(e) = err {
            p.rec.outcome = "error".into();
            p.rec.error_code = Some(e.code() as u32);
            p.rec.error = Some(e.to_string());
            if matches!(e, Error::PermissionDenied { .. }) {
                p.rec.event = "denied".into();
            }
        }
        self.db.audit.append(*p.rec).map(|_| ())
    }
}
