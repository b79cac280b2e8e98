//! `sql`: from statement text to rows.
//!
//! ```text
//!   text ─parse.rs (sqlparser)─► ast ─plan.rs (bind, access paths)─► plan
//!        ─exec.rs (pull iterators over the transaction)─► rows
//!   DML/DDL: run.rs, inside the session's transaction
//! ```
//!
//! Values follow SQLite's semantics (value.rs): dynamic types with column
//! affinity, NULL-propagating three-valued logic, SQLite's sort order.
//! Only parse.rs knows sqlparser; parse_auth.rs parses the security
//! statements (users, roles, grants, policies, audit settings) itself.

pub mod access;
pub mod aggregate;
pub mod ast;
pub mod eval;
pub mod exec;
pub mod functions;
pub mod parse;
pub mod parse_auth;
pub mod plan;
pub mod run;
pub mod value;
