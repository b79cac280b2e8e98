//! `syntax`: statement text to sealdb's own AST.
//!
//! ```text
//!   text ─parse.rs (sqlparser, dialect.rs: SQLite's grammar)─► ast::Statement
//!        ├parse_auth.rs (our own parser)───────► ast::Statement::Auth
//!        └parse_backup.rs (our own parser)─────► ast::Statement::Backup
//! ```
//!
//! Only parse.rs and dialect.rs know sqlparser, so an upgrade of the
//! parser stays in two files; parse_auth.rs parses the security statements (users, roles,
//! grants, policies, audit settings) itself, because sqlparser has no
//! grammar for most of them. The AST is ours: the catalog stores and
//! re-parses table, index, view and trigger definitions through it, and
//! [`crate::sql`] binds and plans it.
//!
//! Invariant: nothing here evaluates or looks up anything; a statement that
//! parses may still be refused by the binder (unknown names, types) or by
//! authorization.

pub mod ast;
pub mod dialect;
pub mod parse;
pub mod parse_auth;
pub mod parse_backup;
