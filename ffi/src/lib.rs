//! # sealdb-ffi: the C ABI of sealdb
//!
//! This crate is `include/sealdb.h`: every `extern "C"` function here is
//! declared there by cbindgen (`ffi/cbindgen.toml`), and
//! `ffi/tests/header.rs` fails when the committed header is out of date
//! (regenerate it with `SEALDB_BLESS=1 cargo test -p sealdb-ffi --test header`).
//! It is built on the public Rust API of `sealdb` only, and is the layer
//! under the Python package (`python/`).
//!
//! ```text
//!   sealdb_db_open_key_file / _key / _key_callback / _in_memory ─▶ sealdb_db   (db.rs)
//!     └─ sealdb_connect / _token / _root ─▶ sealdb_conn   exec, transactions (conn.rs)
//!          ├─ sealdb_prepare ─▶ sealdb_stmt   bind, step, column, reset     (stmt.rs)
//!          │                    many rows a call: step_batch, execute_batch (batch.rs)
//!          └─ sealdb_backup(conn, dir, options), sealdb_backup_verify(conn, dir, …),
//!             sealdb_checkpoint(conn, dir, &report)                        (backup.rs)
//!   sealdb_restore / _key_file(backup dir, new dir, key, options)             (backup.rs)
//!   each freed by its own  sealdb_db_free / sealdb_conn_free / sealdb_stmt_free
//! ```
//!
//! Rules every export keeps (STYLE point 19, like rustls-ffi):
//!
//! - **A panic boundary** ([`guard`]): no panic crosses into C; it becomes
//!   `SEALDB_ERR_PANIC` and the handle it happened on refuses further use.
//! - **Result codes**: functions return an `int32_t` code (see [`error`]);
//!   values come back through out-pointers, which are set to NULL/0 first
//!   where a failure could leave them unset. A NULL argument is
//!   `SEALDB_ERR_NULL_ARGUMENT`, never a crash.
//! - **Handles are checked** ([`handle`]): a freed, foreign or wrong-kind
//!   handle is `SEALDB_ERR_MISUSE`, never undefined behaviour.
//! - **Ownership is in the names and docs**: what a `sealdb_*_open`,
//!   `sealdb_connect_*` or `sealdb_prepare` call returns is owned by the
//!   caller and released by the matching `sealdb_*_free`; an owned string is
//!   a `char *` released by `sealdb_string_free`; a `const char *` result is
//!   borrowed, and its doc says until when.
//! - **Threads**: database handles may be shared freely. A connection and
//!   its statements may be used from any thread, and from several at once:
//!   calls on one connection are serialized by its mutex (open one
//!   connection per thread for parallel work). Borrowed pointers from a
//!   statement (column text, blobs) are invalidated by the next step, reset
//!   or free of that statement, whichever thread makes it.
//!
//! # Safety (every `unsafe extern "C" fn`)
//!
//! The caller passes pointers that are NULL or valid for the call: strings
//! NUL-terminated, buffers readable for the length given, out-pointers
//! writable. That one contract is stated here and in the header rather than
//! on each function.
//!
//! `unsafe` lives only in this crate (the core forbids it); each block says
//! why it is sound in a `// SAFETY:` comment.

#![allow(clippy::missing_safety_doc)] // see "Safety" above

// In header order: codes and errors, then databases, connections, statements.
pub mod error;

pub mod db;

pub mod conn;

pub mod stmt;

pub mod batch;

pub mod backup;

pub mod guard;
pub mod handle;

#[doc(hidden)]
pub mod fuzz;

#[cfg(test)]
mod attack_tests;
#[cfg(test)]
mod tests;
