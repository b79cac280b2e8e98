//! FOREIGN KEY enforcement, as SQLite's `fkey.c` does it: constraint
//! counters, parent lookups, child scans and the ON DELETE / ON UPDATE
//! actions.
//!
//! Enforcement is on while a statement runs under `PRAGMA foreign_keys =
//! ON` (the session begins a [`FkScope`] around it). SQLite does not check
//! each row against the constraint at once; it counts violations:
//!
//! ```text
//!   child row added,   parent key missing        → counter + 1
//!   child row removed, parent key missing        → counter − 1  (if ≠ 0)
//!   parent row removed, n children reference it → counter + n  (itself not counted)
//!   parent row added,  n children reference it  → counter − n  (if ≠ 0)
//!   an UPDATE is the removal of the old row and the addition of the new,
//!   counted only for the constraints whose columns it assigns
//! ```
//!
//! An immediate constraint's counter belongs to the statement: the
//! statement fails ("FOREIGN KEY constraint failed", its changes undone)
//! when it ends above zero, so a statement may violate a constraint for a
//! while and repair it before it ends. A deferred constraint's counter
//! (`DEFERRABLE INITIALLY DEFERRED`, or every constraint under `PRAGMA
//! defer_foreign_keys`, which SQLite counts apart) belongs to the
//! transaction and is checked at COMMIT, which fails and leaves the
//! transaction open. A failed statement and `ROLLBACK TO` put the
//! deferred counters back where they were.
//!
//! The parent key is resolved when a row changes, never at CREATE TABLE:
//! the parent's PRIMARY KEY, or the named columns, which must be exactly
//! the columns of a UNIQUE index with their default collations ("foreign
//! key mismatch" otherwise); a parent that is missing — or that the
//! child table's owner may not see, which must look the same — is "no
//! such table". A parent is looked up through its key with its columns'
//! affinities applied to the child's values; children are found with the
//! parent column's affinity and collation (SQLite's `parent = child`).
//!
//! Actions run after the parent row is written or removed, as SQLite's
//! action triggers: CASCADE deletes the child rows or moves their key,
//! SET NULL / SET DEFAULT change it, RESTRICT fails at once (not under
//! `defer_foreign_keys`). Their changes are ordinary row changes of the
//! child table (its triggers fire, its own constraints are counted, under
//! ABORT), made with the authority of the constraint's owner — the child
//! table's — not the user's: no privilege or row policy of the user on
//! the child table applies to them (PostgreSQL's rule; see
//! docs/security.md).
//!
//! ```text
//!   mod.rs        the counters and the statement's scope
//!   key.rs        parent keys: resolving, looking up, finding children
//!   count.rs      counting a row change; statement preparation; DROP TABLE
//!   action.rs     ON DELETE / ON UPDATE actions
//!   reference.rs  the privilege to create a constraint
//!   check.rs      PRAGMA foreign_key_check
//! ```

mod action;
mod check;
mod count;
mod key;
mod reference;

use std::cell::{Cell, RefCell};
use std::cmp::Ordering;

use super::*;
use crate::syntax::ast::{FkAction, ForeignKeySpec};
use crate::types::{apply_comparison_affinity, comparison_affinity, Collation};

pub(in crate::sql::run) use self::action::actions;
pub use self::action::MAX_ACTION_DEPTH;
pub use self::check::check_rows;
pub(in crate::sql::run) use self::count::{
    before_add, before_drop, before_remove, prepare, required, Change,
};
use self::key::*;
pub(in crate::sql::run) use self::reference::may_reference;

/// The deferred counters of a transaction (SQLite's `nDeferredCons` and
/// `nDeferredImmCons`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deferred {
    /// Violations of `DEFERRABLE INITIALLY DEFERRED` constraints.
    pub constraints: i64,
    /// Violations of immediate constraints counted while `PRAGMA
    /// defer_foreign_keys` was on.
    pub immediate: i64,
}

impl Deferred {
    /// Whether COMMIT must fail.
    pub fn violated(&self) -> bool {
        self.constraints + self.immediate > 0
    }
}

struct Counters {
    statement: i64,
    deferred: Deferred,
    defer_all: bool,
    /// The statement may change several rows (SQLite's `isMultiWrite`).
    multi_write: bool,
    /// Whether the owner of child table `.0` may see parent table `.1`
    /// and read its key columns `.2`, as found during this statement (the
    /// security catalog does not change inside one).
    visible: std::collections::HashMap<(u32, u32, String), bool>,
}

thread_local! {
    static COUNTERS: RefCell<Option<Counters>> = const { RefCell::new(None) };
    /// How deeply actions are running inside actions.
    static ACTION_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// The enforcement of one top-level statement (see the module
/// documentation). While it lives, row changes on this thread are
/// counted; dropping it ends enforcement.
pub struct FkScope {
    _private: (),
}

impl FkScope {
    /// Begins enforcement with the transaction's deferred counters.
    pub fn begin(deferred: Deferred, defer_all: bool, multi_write: bool) -> FkScope {
        COUNTERS.with(|c| {
            *c.borrow_mut() = Some(Counters {
                statement: 0,
                deferred,
                defer_all,
                multi_write,
                visible: Default::default(),
            })
        });
        FkScope { _private: () }
    }

    /// Whether the statement leaves an immediate constraint violated.
    pub fn statement_violated(&self) -> bool {
        COUNTERS.with(|c| c.borrow().as_ref().is_some_and(|c| c.statement > 0))
    }

    /// The transaction's deferred counters now.
    pub fn deferred(&self) -> Deferred {
        COUNTERS.with(|c| c.borrow().as_ref().map(|c| c.deferred).unwrap_or_default())
    }
}

impl Drop for FkScope {
    fn drop(&mut self) {
        COUNTERS.with(|c| c.borrow_mut().take());
    }
}

/// Whether foreign keys are enforced on this thread now.
pub fn enforced() -> bool {
    COUNTERS.with(|c| c.borrow().is_some())
}

/// SQLite's error for a violated constraint.
pub fn failed() -> Error {
    Error::sql(SqlErrorKind::ForeignKey, "FOREIGN KEY constraint failed")
}

fn bump(deferred: bool, n: i64) {
    COUNTERS.with(|c| {
        if let Some(c) = c.borrow_mut().as_mut() {
            if c.defer_all {
                c.deferred.immediate += n;
            } else if deferred {
                c.deferred.constraints += n;
            } else {
                c.statement += n;
            }
        }
    })
}

/// SQLite's `OP_FkIfZero`: nothing is outstanding that removing a
/// violation could resolve.
fn is_zero(deferred: bool) -> bool {
    COUNTERS.with(|c| match c.borrow().as_ref() {
        None => true,
        Some(c) if deferred => c.deferred.constraints == 0 && c.deferred.immediate == 0,
        Some(c) => c.statement == 0 && c.deferred.immediate == 0,
    })
}

fn defer_all() -> bool {
    COUNTERS.with(|c| c.borrow().as_ref().is_some_and(|c| c.defer_all))
}

/// Whether an added parent row must be scanned for under immediate
/// constraints: SQLite skips it in a top-level statement that changes one
/// row (it cannot cause or fix an immediate violation there).
fn multi_write() -> bool {
    ACTION_DEPTH.with(|d| d.get()) > 0
        || TRIGGER_DEPTH.with(|d| d.get()) > 0
        || COUNTERS.with(|c| c.borrow().as_ref().is_some_and(|c| c.multi_write))
}
