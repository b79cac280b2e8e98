//! A hook that lets tests force an interleaving of concurrent sessions.
//!
//! Races between sessions (two statements changing the security catalog
//! at once, say) depend on timing; a test that only hopes to hit the bad
//! interleaving proves little. A test installs a hook with
//! [`Db::set_test_hook`]; the database calls it at fixed points of a
//! statement's life with the session's user, and the hook may block
//! (waiting on a channel the test controls) to hold that statement there
//! while other sessions run.
//!
//! ```text
//!   statement parsed ──► BeforeWriterSlot ──► writer slot taken, catalog read,
//!                                             authorized, run, committed
//!                                         ──► BeforePublish ──► catalog published,
//!                                                               writer slot released
//! ```
//!
//! Not part of the supported API (hidden from the docs); without a hook
//! the cost is one atomic load per point.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::Db;

/// Where a statement is when the hook is called.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HookPoint {
    /// A data, schema or security change (or a login-token change) has
    /// been parsed and is about to wait for the writer slot; it has read
    /// neither the schema nor the security catalog for its change yet.
    BeforeWriterSlot,
    /// A change has been committed to storage; the new schema or
    /// security catalog is about to be published, and the writer slot is
    /// still held.
    BeforePublish,
}

/// The hook: called with the point and the session's user name.
#[doc(hidden)]
pub type TestHook = Arc<dyn Fn(HookPoint, &str) + Send + Sync>;

/// The installed hook, if any.
#[derive(Default)]
pub(super) struct HookSlot {
    set: AtomicBool,
    hook: RwLock<Option<TestHook>>,
}

impl HookSlot {
    /// Calls the hook, if one is installed.
    pub(super) fn at(&self, point: HookPoint, user: &str) {
        if !self.set.load(Ordering::Acquire) {
            return;
        }
        let hook = self.hook.read().clone();
        if let Some(h) = hook {
            h(point, user);
        }
    }
}

impl Db {
    /// Installs (or with `None` removes) a hook called at fixed points of
    /// every statement (see [`HookPoint`]), for tests that force an
    /// interleaving of concurrent sessions. Not for production use.
    #[doc(hidden)]
    pub fn set_test_hook(&self, hook: Option<TestHook>) {
        let slot = &self.inner.hooks;
        slot.set.store(hook.is_some(), Ordering::Release);
        *slot.hook.write() = hook;
    }
}
