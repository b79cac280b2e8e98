//! [`Transaction`]: an explicit transaction that rolls back when dropped
//! without [`Transaction::commit`].

use crate::error::Result;

use super::*;

/// An explicit transaction; rolled back when dropped without commit.
pub struct Transaction<'s> {
    pub(super) session: &'s Session,
    pub(super) done: bool,
}

impl Transaction<'_> {
    /// Runs a statement in the transaction.
    pub fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<u64> {
        self.session.execute(sql, params)
    }

    /// Runs a query in the transaction.
    pub fn query(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Rows<'_>> {
        self.session.query(sql, params)
    }

    /// Commits.
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        self.session.commit()
    }

    /// Rolls back.
    pub fn rollback(mut self) -> Result<()> {
        self.done = true;
        self.session.rollback();
        Ok(())
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.session.rollback();
        }
    }
}
