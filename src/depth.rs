//! How deeply a statement may nest, and how deep recursion is kept from
//! overflowing the caller's stack.
//!
//! Parsing, binding, planning, authorizing and evaluating a statement all
//! recurse over its tree, so they need stack in proportion to its depth:
//! `1+1+…+1` with thousands of terms, thousands of `AND`s, a chain of
//! views. sealdb runs on its caller's threads, whose stacks may be small
//! (2 MiB is common for threads, and debug builds have large frames), and
//! a stack overflow aborts the whole process: no panic guard can catch
//! it. Two defences, both needed:
//!
//! 1. **Limits.** A statement deeper than these is refused with
//!    `SqlErrorKind::TooComplex` (SQLSTATE 54001) where its tree is built,
//!    before anything runs. SQLite's limits are the anchor, so whatever
//!    SQLite accepts sealdb accepts too:
//!
//!    | limit | value | SQLite's |
//!    |---|---|---|
//!    | expression depth (operators, function calls, subqueries) | [`MAX_EXPR_DEPTH`] 1000 | `SQLITE_MAX_EXPR_DEPTH` 1000 |
//!    | terms of a compound SELECT (UNION, ...) | [`MAX_COMPOUND_SELECT`] 500 | `SQLITE_MAX_COMPOUND_SELECT` 500 |
//!    | tables in one join | [`MAX_JOIN_TABLES`] 64 | 64 |
//!    | views expanded inside each other | [`MAX_VIEW_DEPTH`] 100 | none (its expression depth) |
//!    | parenthesized nesting seen by the parser | [`MAX_PARSE_NESTING`] 200 | its parser stack |
//!    | triggers firing triggers | [`MAX_TRIGGER_DEPTH`] 32 | `SQLITE_MAX_TRIGGER_DEPTH` 1000 |
//!
//!    The trigger limit is one number for the authorization analysis and
//!    for execution alike (`sql::access`, `sql::run`): a chain the analysis
//!    cannot follow to its end is refused, never run with its tail
//!    unchecked.
//!
//! 2. **Stack segments.** Every recursive step whose count grows with the
//!    depth goes through [`guarded`]: when less than [`RED_ZONE`] of the
//!    thread's stack is left, the step continues on a fresh stack segment
//!    allocated on the heap (the `stacker` crate, as rustc does), so the
//!    limits above hold on any thread, in debug builds too. The check is
//!    a comparison of the stack pointer with a thread-local bound.

use crate::error::{Error, SqlErrorKind};

/// Deepest expression tree accepted (SQLite's `SQLITE_MAX_EXPR_DEPTH`).
/// Every operator, function call, CASE, and subquery is one level.
pub const MAX_EXPR_DEPTH: usize = 1000;

/// Most terms of one compound SELECT (SQLite's
/// `SQLITE_MAX_COMPOUND_SELECT`).
pub const MAX_COMPOUND_SELECT: usize = 500;

/// Most tables (and subqueries) in one FROM clause, as SQLite.
pub const MAX_JOIN_TABLES: usize = 64;

/// Deepest chain of views defined over views.
pub const MAX_VIEW_DEPTH: usize = 100;

/// The parser's own recursion limit (sqlparser counts nested
/// expressions, queries and FROM items).
pub const MAX_PARSE_NESTING: usize = 200;

/// Deepest chain of triggers firing triggers, in the authorization
/// analysis and in execution alike.
pub const MAX_TRIGGER_DEPTH: usize = 32;

/// Stack a guarded step may still need before the next guarded step.
pub const RED_ZONE: usize = 256 * 1024;

/// Size of each stack segment allocated when a thread's stack runs low.
pub const SEGMENT: usize = 4 * 1024 * 1024;

/// Runs one step of a recursion that can go as deep as a statement
/// nests: on this stack while [`RED_ZONE`] of it is left, else on a new
/// segment of [`SEGMENT`] bytes.
#[inline]
pub fn guarded<R>(step: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, step)
}

/// Runs `work` with at least `bytes` of stack available (on a new segment
/// when this thread has less left): for code whose recursion cannot be
/// guarded step by step (dropping a deep tree of another crate's types).
pub fn with_stack(
    bytes: usize,
    work: impl FnOnce() -> crate::error::Result<()>,
) -> crate::error::Result<()> {
    stacker::maybe_grow(
        bytes.saturating_add(RED_ZONE),
        bytes.saturating_add(SEGMENT),
        work,
    )
}

/// The error for a statement that exceeds a limit: `what` says which
/// ("expression tree is too large (maximum depth 1000)").
pub fn too_complex(what: impl Into<String>) -> Error {
    Error::sql(SqlErrorKind::TooComplex, what)
}

/// The error for an expression deeper than [`MAX_EXPR_DEPTH`].
pub fn expression_too_deep() -> Error {
    too_complex(format!(
        "expression tree is too large (maximum depth {MAX_EXPR_DEPTH})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_of(n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        // A frame big enough that 100k of them would not fit in 2 MiB.
        let pad = std::hint::black_box([0u8; 256]);
        guarded(|| depth_of(n - 1)) + 1 + usize::from(pad[0])
    }

    #[test]
    fn guarded_recursion_survives_a_small_stack() {
        let h = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| depth_of(100_000))
            .expect("spawn");
        assert_eq!(h.join().expect("no overflow"), 100_000);
    }
}
