//! VACUUM: full compaction of the store, for admins.
//!
//! Every table file is rewritten into the bottom level without the
//! versions rows had before their last change and without deletion
//! markers, and the log segments written before it are removed, so the
//! data of deleted rows and dropped tables leaves the store's files
//! (`storage::Engine::vacuum`). Not inside a transaction (as SQLite):
//! what the session's own transaction deleted is not committed yet.
//! What an open snapshot (another session's running read) still reads
//! survives until a later compaction; the audit log keeps what it
//! recorded, by design. Refused or run, it is audited (`denied` or a
//! `statement` record naming VACUUM).

use super::authorize::denied;
use super::*;
use crate::error::SqlErrorKind;

impl Session {
    /// Runs VACUUM (`text` as written, for the audit record).
    pub(super) fn run_vacuum(&self, text: &str) -> Result<ResultSet> {
        let sec = self.security()?;
        if !sec.roles.admin {
            let e = denied("only admins may VACUUM the store".into());
            let p = self.audit_start(&sec, "denied", text, &[], &[], true);
            self.audit_end(p, 0, Some(&e))?;
            return Err(e);
        }
        if self.state.borrow().txn.is_some() {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                "cannot VACUUM from within a transaction",
            ));
        }
        let pending = self.audit_start(&sec, "statement", text, &[], &[], true);
        let r = self.db.mgr.engine().vacuum();
        self.audit_end(pending, 0, r.as_ref().err())?;
        r.map(|()| (Vec::new(), Vec::new()))
    }
}
