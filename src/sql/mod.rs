//! `sql`: from a parsed statement to rows.
//!
//! ```text
//!   ast (crate::syntax) ─plan.rs (bind, access paths)─► plan
//!        typing.rs: SQLite's affinity and collation of expressions
//!        ─exec.rs (pull iterators over the transaction)─► rows
//!        cte.rs: kept CTE rows and the recursive CTE's queue
//!        outer_join.rs: RIGHT and FULL joins (right rows no left row matched)
//!        window/: window functions over partitions and frames
//!   DML/DDL: run.rs, inside the session's transaction; write.rs: a
//!   table's rows with their constraints, rowids and index entries
//!   rowvalue.rs: row values compared, tested with IN, assigned
//!   access.rs: what a statement reads and writes, for authorization
//!   depend.rs: what views, triggers and policies refer to (DDL checks)
//!   introspect.rs: sqlite_schema and the table-valued pragmas, as the
//!   reader may see the schema
//! ```
//!
//! Values follow SQLite's semantics ([`crate::types`]): dynamic types with
//! column affinity, NULL-propagating three-valued logic, SQLite's sort
//! order. Statement text becomes an AST in [`crate::syntax`], the only
//! layer that knows sqlparser.

pub mod access;
pub mod aggregate;
pub mod check;
pub mod cte;
pub mod depend;
pub mod eval;
pub mod exec;
pub mod functions;
pub mod generated;
pub mod index_expr;
pub mod introspect;
pub mod journal;
pub mod outer_join;
pub mod plan;
pub mod rename;
pub mod rowvalue;
pub mod run;
pub mod typing;
pub mod window;
pub mod write;
