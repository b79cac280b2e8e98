//! # sealdb
//!
//! An embeddable SQL database whose every file on disk is encrypted and
//! authenticated. This crate is built in layers; each imports only the layers
//! below it (docs/architecture.md has the full map and the import table):
//!
//! ```text
//!   repl     node identity (`sealdb cert`), the QUIC + mutual-TLS transport
//!            between nodes, CRL and OCSP revocation; beside db, and below
//!            the replication that will join them (it uses neither db nor sql)
//!   db       Db, Session, Rows: the public API; authorizes every statement
//!   backup   encrypted, verifiable backups from online checkpoints; restore
//!   sql      bind → plan → execute; data changes and DDL
//!   catalog  tables, columns, indexes, views, triggers in system keys
//!   syntax   statement text → our AST (sqlparser + our own security grammar)
//!   auth     users, roles, grants, row policies, host rules, login tokens
//!   audit    the hash-chained, encrypted audit log
//!   txn      serializable transactions over the storage engine
//!   encoding order-preserving keys and rows
//!   types    the SQL value and SQLite's semantics for it
//!   storage  an LSM tree: WAL with group commit, memtable, SSTables,
//!            manifest, leveled compaction, snapshots, iterators
//!   vfs      every file the database writes: sealed (encrypted, authenticated),
//!            fsynced; the key registry; encryption status
//!   crypto   key providers, store keys, data keys, AES-CTR, the record MAC
//!   error    the one Error type; key_id, the identity of a key; depth,
//!            how deeply a statement may nest
//! ```
//!
//! The path of one statement: [`Session::execute`] parses ([`syntax`]),
//! dispatches on the statement kind (`db::dispatch`), plans and authorizes
//! it ([`sql::plan`], [`sql::access`], `db::authorize`), runs it in the
//! session's transaction ([`sql::run`], [`txn`]), and on commit hands one
//! write batch to [`storage::Engine::write`], which appends it to the
//! write-ahead log and the memtable; flushes and compaction later write it
//! into sorted tables. Every byte goes through the sealed-file path below.
//!
//! Reading order: [`crypto::keys`] → [`crypto::provider`] → [`crypto::ctr`]
//! → [`crypto::mac`] → [`crypto::registry`] → [`vfs`] (the traits) →
//! [`vfs::sealed`] (one file) → [`vfs::sealed_dir`] (a directory of them).
//!
//! The path of one record to disk: a caller asks [`vfs::SealedDir`] for a
//! new file; it takes the active data key from the registry and writes the
//! plaintext header with a fresh random IV; [`vfs::SealedWriter`] frames the
//! payload with its length and CRC32, XORs it with the AES-CTR keystream at
//! its body offset, puts a POLYVAL tag over the encrypted length right after
//! it (so a reader trusts a length before using it) and another over the
//! whole record at its end (both bind header, offset and ciphertext), and
//! hands the bytes to the [`vfs::Vfs`]. Reading runs the same path
//! backwards, checking each tag before decrypting. The storage layer then
//! binds the files to each other: CURRENT names the manifest, the manifest
//! each table and log segment, by identity (`storage::recovery`).

#![deny(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod audit;
pub mod auth;
pub mod backup;
pub mod catalog;
pub mod crypto;
pub mod db;
pub mod depth;
pub mod encoding;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod key_id;
pub mod repl;
pub mod sql;
pub mod storage;
pub mod syntax;
pub mod txn;
pub mod types;
pub mod vfs;

pub use audit::{AuditCheckpoint, AuditRecord, AuditSink, BadRecord, VerifyReport};
pub use auth::{ClientInfo, Credentials, PasswordCost};
pub use crypto::{
    ActiveStoreKey, CallbackKeyProvider, Cipher, FileKeyProvider, KdfParams, KeyBytes, KeyId,
    KeyProvider, KeyRequest, MemoryKeyProvider, PassphraseKeyProvider, StoreKey,
    UnencryptedKeyProvider,
};
pub use db::{
    Cluster, Db, FromValue, LoginToken, Options, Row, Rows, Session, Statement, ToValue,
    Transaction,
};
pub use error::{Error, ErrorCode, Result, SqlErrorKind};
pub use repl::node_config::NodeConfig;
pub use repl::raft::{
    ClusterStatus, FollowerWrites, MemNetwork, MemberStatus, QuicTransport, ReadConsistency,
    ReplicationOptions, Role,
};
pub use types::Value;
