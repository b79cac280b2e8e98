//! `vfs`: every file the database writes goes through here.
//!
//! Two levels:
//!
//! ```text
//!   SealedDir ── a directory of sealed files plus its key registry
//!     │            (create/open sealed files, rotation, encryption status)
//!   SealedWriter / SealedReader ── one file: plaintext header + AES-CTR body
//!     │            made of authenticated records (sealed.rs)
//!   Vfs / WriteFile / ReadFile ── raw bytes: OsVfs (real disk),
//!                  MemVfs (in memory, can simulate a crash), FaultVfs (injects errors)
//! ```
//!
//! The raw traits are deliberately small and append-only: a writer can only
//! add bytes at the end, so a (key, IV, offset) can never be encrypted twice
//! through this interface. Durability is explicit: data is durable after
//! [`WriteFile::sync`], a new or renamed name after [`Vfs::sync_dir`] on its
//! directory. [`MemVfs`] enforces exactly that model when it simulates a
//! crash, so tests catch code that forgets a sync.

pub mod fault;
pub mod key_derivation_file;
pub mod mem;
pub mod os;
pub mod sealed;
pub mod sealed_dir;

pub use fault::{FaultPlan, FaultVfs};
pub use mem::MemVfs;
pub use os::OsVfs;
pub(crate) use sealed::{slot_len, RecordSink, MAX_RECORD};
pub use sealed::{FileHeader, FileKind, SealedReader, SealedWriter, HEADER_LEN};
pub use sealed_dir::{EncryptionStatus, FileStatus, KeyOptions, SealedDir, AUDIT_FILE_PREFIX};

use std::path::Path;
use std::sync::Arc;

use crate::error::Result;

/// A file system: the operations the database needs, nothing more.
pub trait Vfs: Send + Sync {
    /// Creates a new, empty file for appending. Fails if it exists.
    fn create(&self, path: &Path) -> Result<Box<dyn WriteFile>>;
    /// Opens an existing file for positional reads.
    fn open(&self, path: &Path) -> Result<Arc<dyn ReadFile>>;
    /// Opens an existing file that will not change again, memory-mapped where
    /// the implementation can.
    fn open_immutable(&self, path: &Path) -> Result<Arc<dyn ReadFile>> {
        self.open(path)
    }
    /// Renames `from` to `to`, replacing `to` atomically if it exists.
    fn rename(&self, from: &Path, to: &Path) -> Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> Result<()>;
    /// Whether a file or directory exists.
    fn exists(&self, path: &Path) -> Result<bool>;
    /// Names of the files in `dir` (not recursive), sorted.
    fn list(&self, dir: &Path) -> Result<Vec<String>>;
    /// Creates `dir` and its parents.
    fn create_dir_all(&self, dir: &Path) -> Result<()>;
    /// Makes the creations, renames and removals in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> Result<()>;
    /// Takes an exclusive lock on `path` (creating the file), held until the
    /// returned guard is dropped; [`crate::Error::Locked`] if it is held.
    fn lock(&self, path: &Path) -> Result<Box<dyn LockGuard>>;
    /// Makes `to` a second name of the existing file `from` (a hard link).
    /// File systems without links say so with an error, and callers copy
    /// instead (checkpoints link only files that are never written again).
    fn hard_link(&self, from: &Path, to: &Path) -> Result<()> {
        let _ = from;
        Err(crate::error::Error::io(
            "link",
            to,
            std::io::ErrorKind::Unsupported.into(),
        ))
    }
    /// Removes the empty directory `dir`.
    fn remove_dir(&self, dir: &Path) -> Result<()> {
        Err(crate::error::Error::io(
            "remove directory",
            dir,
            std::io::ErrorKind::Unsupported.into(),
        ))
    }
}

/// Holds a lock taken with [`Vfs::lock`] until dropped.
pub trait LockGuard: Send + Sync {}

/// A file being written: append-only.
pub trait WriteFile: Send {
    /// Appends all of `data`. On error an unknown prefix of `data` may have
    /// been written; the file must not be appended to again.
    fn append(&mut self, data: &[u8]) -> Result<()>;
    /// Makes everything appended so far durable.
    fn sync(&mut self) -> Result<()>;
    /// Bytes appended so far (the file's length).
    fn len(&self) -> u64;
    /// Whether nothing was appended yet.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A file being read, by position. Shared between threads.
pub trait ReadFile: Send + Sync {
    /// The file's length.
    fn len(&self) -> u64;
    /// Whether the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fills `buf` from `offset`; an error if the file is shorter.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;
    /// The whole file as one slice, when it is memory-mapped or in memory.
    fn as_slice(&self) -> Option<&[u8]> {
        None
    }
    /// Says that bytes `offset..offset + len` will not be read again soon
    /// (a compaction has passed them): a memory-mapped file drops their
    /// pages from the process's resident memory (the next read maps them
    /// again from the page cache). Only advice: nothing else changes.
    fn release(&self, _offset: u64, _len: u64) {}
}

/// The parent directory of `path` ("." for a bare name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
