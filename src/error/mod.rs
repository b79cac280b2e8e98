//! The one public error type of sealdb.
//!
//! Every fallible function in the crate returns [`Result`]. The variants say
//! *what kind* of thing went wrong so that callers can react (retry, ask for
//! another key, restore a backup) without parsing messages; [`Error::code`]
//! gives a stable number for the C ABI and Python, grouped by area:
//!
//! ```text
//!   1xx  I/O, the file system, network  4xx  state of the database
//!   2xx  corruption, authentication,    5xx  caller mistakes
//!        malformed wire bytes           6xx  SQL
//!   3xx  keys, key providers,           7xx  authorization, logins,
//!        certificates                        refused peers
//! ```
//!
//! Invariants: no variant ever carries key bytes, and decryption or
//! authentication failures are opaque (they say where, never why in terms of
//! the cryptography), so an error message can be logged safely.

pub mod peer;

use std::fmt;
use std::path::PathBuf;

use crate::key_id::KeyId;

/// Result alias used throughout sealdb.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in sealdb.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O call failed (including "disk full").
    #[error("I/O error while trying to {op} {}: {source}", path.display())]
    Io {
        /// What was being attempted ("open", "write", "fsync", ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A file's bytes do not have the structure sealdb wrote: a bad magic
    /// number, a checksum mismatch, an impossible length.
    #[error("corruption in {} at offset {offset}: {what}", file.display())]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset in the file where the damage was detected.
        offset: u64,
        /// What was wrong.
        what: String,
    },

    /// A file ends before a structure it announces: a truncated file or the
    /// torn tail of a log that was being appended when the machine stopped.
    #[error("{} is truncated: {needed} bytes needed at offset {offset}, file has {len}", file.display())]
    Truncated {
        /// The short file.
        file: PathBuf,
        /// Where the structure that does not fit starts.
        offset: u64,
        /// How many bytes that structure needs.
        needed: u64,
        /// The file's length.
        len: u64,
    },

    /// A block's authentication tag did not verify: the data was altered,
    /// moved from another file or offset, or was written under another key.
    /// Deliberately says nothing more.
    #[error("authentication failed in {} at offset {offset}: the data was altered, moved, or written under a different key", file.display())]
    Authentication {
        /// The file whose block failed to authenticate.
        file: PathBuf,
        /// Byte offset of that block.
        offset: u64,
    },

    /// The key provider does not have the store key with this id (a wrong
    /// or missing key file, or an old key not supplied after rotation).
    #[error("store key {key_id} is not available from the key provider (wrong key, or an old key that was not supplied)")]
    KeyUnavailable {
        /// Id of the missing key (derived from its bytes; not secret).
        key_id: KeyId,
    },

    /// A file is encrypted under a data key the key registry does not hold.
    #[error("data key {key_id} needed by {} is not in the key registry", file.display())]
    DataKeyUnknown {
        /// Id of the data key named in the file's header.
        key_id: KeyId,
        /// The file that needs it.
        file: PathBuf,
    },

    /// Key material is malformed (wrong length, bad encoding, unreadable).
    #[error("invalid key: {reason}")]
    InvalidKey {
        /// What is wrong with it (never the key bytes).
        reason: String,
    },

    /// An application-supplied key provider reported a failure.
    #[error("key provider failed: {message}")]
    KeyProvider {
        /// The provider's own message.
        message: String,
    },

    /// An encryption key was supplied but the store is unencrypted (or its
    /// key registry was replaced by an unencrypted one). Encrypting an
    /// existing plaintext store must be asked for explicitly.
    #[error("the store at {} is unencrypted but a key was supplied; set KeyOptions::migrate_from_plaintext to encrypt it (if you did not expect a plaintext store, its key registry may have been replaced)", path.display())]
    PlaintextStore {
        /// The store directory.
        path: PathBuf,
    },

    /// No key wrap of a backup opened with the keys given: a wrong or
    /// missing passphrase, or a store key the provider does not have.
    /// `tried` names every wrap and why it did not open.
    #[error("cannot unlock the backup at {}: {tried}", path.display())]
    BackupKey {
        /// The backup directory.
        path: PathBuf,
        /// Each wrap tried and why it failed (never a key or passphrase).
        tried: String,
    },

    /// The database refuses writes after an earlier failure it cannot
    /// recover from in-process (a failed fsync, a panicked background
    /// thread). Reopen to recover.
    #[error("the database is poisoned by an earlier failure ({reason}); reopen it")]
    Poisoned {
        /// The failure that poisoned it.
        reason: String,
    },

    /// Another process (or another open handle in this one) has the store
    /// open: its lock file is held.
    #[error("the store at {} is already open elsewhere (lock file held)", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },

    /// The directory exists, holds files, and is not a sealdb store.
    #[error("{} is not a sealdb store (it holds other files); refusing to create one there", path.display())]
    NotAStore {
        /// The directory.
        path: PathBuf,
    },

    /// The store was opened read-only (`Engine::open_read_only`,
    /// `Db::open_read_only`): nothing may be written to it.
    #[error("the store at {} is open read-only; writes are refused", path.display())]
    ReadOnly {
        /// The store directory.
        path: PathBuf,
    },

    /// A directory holds a backup, checkpoint or restore that did not
    /// finish (interrupted, or a disk that filled up): it must not be used
    /// as if it were complete.
    #[error("{} is incomplete: {what}", path.display())]
    Incomplete {
        /// The directory.
        path: PathBuf,
        /// What is missing, and what to do.
        what: String,
    },

    /// Another transaction holds the write lock and did not finish within
    /// the busy timeout. Retrying later can succeed.
    #[error("database is busy: another transaction is writing (waited {waited_ms} ms)")]
    Busy {
        /// How long this call waited.
        waited_ms: u64,
    },

    /// The transaction read data that another transaction has since changed,
    /// so it cannot write without breaking serializability. Retry it.
    #[error("transaction conflict: data read by this transaction was changed by another; retry the transaction")]
    Conflict,

    /// A SQL statement is invalid or failed: bad syntax, an unknown table
    /// or column, a constraint violation, an overflow.
    #[error("{message}{}", position.map(|(l, c)| format!(" at line {l}, column {c}")).unwrap_or_default())]
    Sql {
        /// What kind of SQL error.
        kind: SqlErrorKind,
        /// What went wrong, for a person.
        message: String,
        /// Line and column in the statement text (syntax errors).
        position: Option<(u64, u64)>,
    },

    /// The session's user lacks a privilege the statement needs. Nothing
    /// was changed. The message names the privilege and object, never an
    /// object the user may not see.
    #[error("permission denied: {message}")]
    PermissionDenied {
        /// What was refused.
        message: String,
    },

    /// A login failed: unknown user, wrong password, expired or revoked
    /// token, a user without LOGIN, or no host rule allowing the attempt.
    /// Unknown users and wrong passwords get the same message.
    #[error("authentication failed: {message}")]
    AuthenticationFailed {
        /// Why, as far as it is safe to tell the client.
        message: String,
    },

    /// Too many failed logins from this address for this user; wait before
    /// trying again.
    #[error("too many failed login attempts; retry in {retry_after_ms} ms")]
    LoginThrottled {
        /// How long to wait.
        retry_after_ms: u64,
    },

    /// A caller passed an argument that can never work.
    #[error("invalid argument: {what}")]
    InvalidArgument {
        /// What is wrong.
        what: String,
    },

    /// This replicated node is not the leader, and the operation (a write
    /// with follower writes refused, a `leader` read, a membership change)
    /// must run on the leader. `leader` names the node this one believes is
    /// the leader, if it knows one; retry there.
    #[error("this node is not the leader{}", match (leader, leader_address) {
        (Some(id), Some(a)) => format!("; the leader is node {id} at {a}"),
        (Some(id), None) => format!("; the leader is node {id}"),
        _ => "; no leader is known (an election may be running)".to_string(),
    })]
    NotLeader {
        /// The leader's node id, if known.
        leader: Option<u64>,
        /// The leader's address, if known.
        leader_address: Option<String>,
    },

    /// The cluster cannot serve the operation now: no quorum is reachable,
    /// no leader is elected, or the node is shutting down. Nothing was
    /// changed; retrying later can succeed.
    #[error("the cluster is unavailable: {what}")]
    Unavailable {
        /// What is missing.
        what: String,
    },

    /// A replicated commit was proposed but its outcome is unknown: the
    /// leader changed or the network failed before the commit was
    /// confirmed. The transaction may or may not have been applied; check
    /// before retrying a non-idempotent change.
    #[error("the outcome of the commit is unknown: {what}")]
    CommitUnknown {
        /// What interrupted it.
        what: String,
    },

    /// A `local` read with a maximum staleness could not be served: this
    /// node has not heard from a leader recently enough.
    #[error("this node's data may be staler than the {max_ms} ms allowed (last known fresh {age_ms} ms ago)")]
    Stale {
        /// The allowed staleness.
        max_ms: u64,
        /// How old this node's data may be (`u64::MAX` when never fresh).
        age_ms: u64,
    },

    /// A certificate, private key, CRL or OCSP response file is unusable:
    /// not PEM, not the kind expected, a key that does not match its
    /// certificate, a file that exists where `--overwrite` was not given.
    #[error("certificate error: {what}")]
    Certificate {
        /// What is wrong (never key bytes).
        what: String,
    },

    /// A peer was refused, or a live connection to it was closed, because
    /// its certificate, identity or protocol failed a check. Never retry
    /// blindly: the reason says what an operator has to fix.
    #[error("peer {peer} refused: {reason}")]
    PeerRefused {
        /// The peer's address.
        peer: std::net::SocketAddr,
        /// Why.
        reason: peer::RefusalReason,
    },

    /// The network link to a peer failed or was closed (timeout, reset,
    /// the peer went away). A new connection can succeed.
    #[error("transport to {peer} failed: {what}")]
    Transport {
        /// The peer's address.
        peer: std::net::SocketAddr,
        /// What happened.
        what: String,
    },

    /// A peer sent bytes that break the wire protocol (an oversized or
    /// malformed frame); the connection was closed.
    #[error("protocol violation by {peer}: {violation}")]
    Protocol {
        /// The peer's address.
        peer: std::net::SocketAddr,
        /// What was wrong with the bytes.
        violation: peer::FrameError,
    },
}

/// The kinds of SQL errors, each with a SQLSTATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SqlErrorKind {
    /// The statement does not parse.
    Syntax,
    /// No such table, view or index.
    UnknownTable,
    /// No such column.
    UnknownColumn,
    /// No such function, or wrong number of arguments.
    UnknownFunction,
    /// A column name matches columns of more than one table.
    Ambiguous,
    /// A value of the wrong type.
    TypeMismatch,
    /// An integer overflowed.
    Overflow,
    /// NOT NULL violated.
    NotNull,
    /// UNIQUE or PRIMARY KEY violated.
    Unique,
    /// A CHECK constraint was false.
    Check,
    /// A FOREIGN KEY constraint failed (a child row without its parent,
    /// or a RESTRICT action refused).
    ForeignKey,
    /// A statement used wrongly (e.g. COMMIT with no transaction).
    Misuse,
    /// Valid SQL that sealdb does not support.
    Unsupported,
    /// An object with that name already exists.
    AlreadyExists,
    /// No such user or role (or login token).
    UnknownRole,
    /// The statement nests too deeply or has too many terms (see
    /// `sealdb::depth` for the limits).
    TooComplex,
    /// A trigger's `RAISE(ROLLBACK | ABORT | FAIL, msg)`: the message is
    /// the trigger's (SQLite reports it as a constraint failure).
    Raised,
}

impl SqlErrorKind {
    /// The SQLSTATE code (PostgreSQL's classes).
    pub fn sqlstate(self) -> &'static str {
        match self {
            SqlErrorKind::Syntax => "42601",
            SqlErrorKind::UnknownTable => "42P01",
            SqlErrorKind::UnknownColumn => "42703",
            SqlErrorKind::UnknownFunction => "42883",
            SqlErrorKind::Ambiguous => "42702",
            SqlErrorKind::TypeMismatch => "42804",
            SqlErrorKind::Overflow => "22003",
            SqlErrorKind::NotNull => "23502",
            SqlErrorKind::Unique => "23505",
            SqlErrorKind::Check => "23514",
            SqlErrorKind::ForeignKey => "23503",
            SqlErrorKind::Misuse => "25000",
            SqlErrorKind::Unsupported => "0A000",
            SqlErrorKind::AlreadyExists => "42P07",
            SqlErrorKind::UnknownRole => "42704",
            SqlErrorKind::TooComplex => "54001",
            SqlErrorKind::Raised => "P0001",
        }
    }
}

impl fmt::Display for SqlErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SqlErrorKind::Syntax => "syntax error",
            SqlErrorKind::UnknownTable => "no such table",
            SqlErrorKind::UnknownColumn => "no such column",
            SqlErrorKind::UnknownFunction => "no such function",
            SqlErrorKind::Ambiguous => "ambiguous column name",
            SqlErrorKind::TypeMismatch => "datatype mismatch",
            SqlErrorKind::Overflow => "integer overflow",
            SqlErrorKind::NotNull => "NOT NULL constraint failed",
            SqlErrorKind::Unique => "UNIQUE constraint failed",
            SqlErrorKind::Check => "CHECK constraint failed",
            SqlErrorKind::ForeignKey => "FOREIGN KEY constraint failed",
            SqlErrorKind::Misuse => "misuse",
            SqlErrorKind::Unsupported => "not supported",
            SqlErrorKind::AlreadyExists => "already exists",
            SqlErrorKind::UnknownRole => "no such role",
            SqlErrorKind::TooComplex => "statement too complex",
            SqlErrorKind::Raised => "raised by a trigger",
        })
    }
}

/// Stable numeric error codes, for the C ABI and Python. Frozen: a number
/// once published never changes meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum ErrorCode {
    /// [`Error::Io`].
    Io = 100,
    /// [`Error::Corruption`].
    Corruption = 200,
    /// [`Error::Truncated`].
    Truncated = 201,
    /// [`Error::Authentication`].
    Authentication = 210,
    /// [`Error::KeyUnavailable`].
    KeyUnavailable = 300,
    /// [`Error::DataKeyUnknown`].
    DataKeyUnknown = 301,
    /// [`Error::InvalidKey`].
    InvalidKey = 302,
    /// [`Error::KeyProvider`].
    KeyProvider = 303,
    /// [`Error::PlaintextStore`].
    PlaintextStore = 304,
    /// [`Error::BackupKey`].
    BackupKey = 305,
    /// [`Error::Certificate`].
    Certificate = 310,
    /// [`Error::Transport`].
    Transport = 110,
    /// [`Error::Protocol`].
    Protocol = 220,
    /// [`Error::Poisoned`].
    Poisoned = 400,
    /// [`Error::Locked`].
    Locked = 401,
    /// [`Error::NotAStore`].
    NotAStore = 402,
    /// [`Error::Busy`].
    Busy = 403,
    /// [`Error::Conflict`].
    Conflict = 404,
    /// [`Error::NotLeader`].
    NotLeader = 420,
    /// [`Error::Unavailable`].
    Unavailable = 421,
    /// [`Error::CommitUnknown`].
    CommitUnknown = 422,
    /// [`Error::Stale`].
    Stale = 423,
    /// [`Error::ReadOnly`].
    ReadOnly = 405,
    /// [`Error::Incomplete`].
    Incomplete = 406,
    /// [`Error::InvalidArgument`].
    InvalidArgument = 500,
    /// [`Error::Sql`] with [`SqlErrorKind::Syntax`].
    SqlSyntax = 600,
    /// [`Error::Sql`]: unknown table, column or function, or ambiguous name.
    SqlUnknownObject = 601,
    /// [`Error::Sql`]: a constraint (NOT NULL, UNIQUE, CHECK, FOREIGN
    /// KEY) failed, or a trigger raised an error.
    SqlConstraint = 602,
    /// [`Error::Sql`]: a type mismatch or integer overflow.
    SqlValue = 603,
    /// [`Error::Sql`]: misuse or an unsupported feature.
    SqlMisuse = 604,
    /// [`Error::Sql`] with [`SqlErrorKind::TooComplex`]: the statement
    /// nests too deeply or has too many terms.
    SqlTooComplex = 605,
    /// [`Error::PermissionDenied`].
    PermissionDenied = 700,
    /// [`Error::AuthenticationFailed`].
    AuthenticationFailed = 701,
    /// [`Error::LoginThrottled`].
    LoginThrottled = 702,
    /// [`Error::PeerRefused`].
    PeerRefused = 720,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", *self as u32)
    }
}

impl Error {
    /// The stable numeric code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Io { .. } => ErrorCode::Io,
            Error::Corruption { .. } => ErrorCode::Corruption,
            Error::Truncated { .. } => ErrorCode::Truncated,
            Error::Authentication { .. } => ErrorCode::Authentication,
            Error::KeyUnavailable { .. } => ErrorCode::KeyUnavailable,
            Error::DataKeyUnknown { .. } => ErrorCode::DataKeyUnknown,
            Error::InvalidKey { .. } => ErrorCode::InvalidKey,
            Error::KeyProvider { .. } => ErrorCode::KeyProvider,
            Error::PlaintextStore { .. } => ErrorCode::PlaintextStore,
            Error::BackupKey { .. } => ErrorCode::BackupKey,
            Error::Incomplete { .. } => ErrorCode::Incomplete,
            Error::Poisoned { .. } => ErrorCode::Poisoned,
            Error::Locked { .. } => ErrorCode::Locked,
            Error::NotAStore { .. } => ErrorCode::NotAStore,
            Error::Busy { .. } => ErrorCode::Busy,
            Error::Conflict => ErrorCode::Conflict,
            Error::ReadOnly { .. } => ErrorCode::ReadOnly,
            Error::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            Error::PermissionDenied { .. } => ErrorCode::PermissionDenied,
            Error::AuthenticationFailed { .. } => ErrorCode::AuthenticationFailed,
            Error::LoginThrottled { .. } => ErrorCode::LoginThrottled,
            Error::NotLeader { .. } => ErrorCode::NotLeader,
            Error::Unavailable { .. } => ErrorCode::Unavailable,
            Error::CommitUnknown { .. } => ErrorCode::CommitUnknown,
            Error::Stale { .. } => ErrorCode::Stale,
            Error::Certificate { .. } => ErrorCode::Certificate,
            Error::PeerRefused { .. } => ErrorCode::PeerRefused,
            Error::Transport { .. } => ErrorCode::Transport,
            Error::Protocol { .. } => ErrorCode::Protocol,
            Error::Sql { kind, .. } => match kind {
                SqlErrorKind::Syntax => ErrorCode::SqlSyntax,
                SqlErrorKind::UnknownTable
                | SqlErrorKind::UnknownColumn
                | SqlErrorKind::UnknownFunction
                | SqlErrorKind::Ambiguous
                | SqlErrorKind::AlreadyExists
                | SqlErrorKind::UnknownRole => ErrorCode::SqlUnknownObject,
                SqlErrorKind::NotNull
                | SqlErrorKind::Unique
                | SqlErrorKind::Check
                | SqlErrorKind::ForeignKey
                | SqlErrorKind::Raised => ErrorCode::SqlConstraint,
                SqlErrorKind::TypeMismatch | SqlErrorKind::Overflow => ErrorCode::SqlValue,
                SqlErrorKind::Misuse | SqlErrorKind::Unsupported => ErrorCode::SqlMisuse,
                SqlErrorKind::TooComplex => ErrorCode::SqlTooComplex,
            },
        }
    }

    /// Whether trying the same operation again can succeed without anyone
    /// changing anything (interrupted or would-block I/O). Corruption, key
    /// and authentication errors are never retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Busy { .. }
            | Error::Conflict
            | Error::LoginThrottled { .. }
            | Error::Unavailable { .. }
            | Error::Stale { .. }
            | Error::Transport { .. } => true,
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
            ),
            _ => false,
        }
    }

    /// Whether this error means stored data is damaged or was tampered with.
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            Error::Corruption { .. } | Error::Truncated { .. } | Error::Authentication { .. }
        )
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// The SQLSTATE of this error ("58030" I/O, "XX001" corruption, ...).
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Error::Sql { kind, .. } => kind.sqlstate(),
            Error::Busy { .. } => "55P03",
            Error::PermissionDenied { .. } => "42501",
            Error::AuthenticationFailed { .. } => "28P01",
            Error::LoginThrottled { .. } => "08004",
            Error::Conflict => "40001",
            Error::ReadOnly { .. } => "25006",
            Error::Io { .. } => "58030",
            Error::Corruption { .. } | Error::Truncated { .. } | Error::Authentication { .. } => {
                "XX001"
            }
            Error::InvalidArgument { .. } => "22023",
            Error::NotLeader { .. } => "25006",
            Error::Unavailable { .. } | Error::Stale { .. } => "57P03",
            Error::CommitUnknown { .. } => "40003",
            Error::Transport { .. } => "08006",
            Error::Protocol { .. } => "08P01",
            Error::PeerRefused { .. } => "28000",
            _ => "XX000",
        }
    }

    pub(crate) fn sql(kind: SqlErrorKind, message: impl Into<String>) -> Self {
        Error::Sql {
            kind,
            message: message.into(),
            position: None,
        }
    }

    pub(crate) fn corruption(
        file: impl Into<PathBuf>,
        offset: u64,
        what: impl Into<String>,
    ) -> Self {
        Error::Corruption {
            file: file.into(),
            offset,
            what: what.into(),
        }
    }
}
