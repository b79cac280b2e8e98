//! A fault-injecting wrapper around any [`Vfs`], for tests of error paths.
//!
//! A [`FaultPlan`] counts operations across all files of the wrapper and
//! makes the N-th write, fsync, directory fsync or rename fail (once), can
//! make the failing write short (half of it reaches the file, like a disk
//! filling up mid-write), and can simulate a full disk after a byte budget
//! or from the N-th write on (every write point of an operation can be made
//! the one that hits the full disk).
//! Counters start at 1: `fail_nth_write(1)` fails the very next write.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::{ReadFile, Vfs, WriteFile};
use crate::error::{Error, Result};

/// Which faults to inject, shared by a [`FaultVfs`] and its files.
#[derive(Default, Debug)]
pub struct FaultPlan {
    writes: AtomicU64,
    syncs: AtomicU64,
    dir_syncs: AtomicU64,
    renames: AtomicU64,
    fail_write: AtomicU64,
    fail_sync: AtomicU64,
    fail_dir_sync: AtomicU64,
    fail_rename: AtomicU64,
    short_write: AtomicBool,
    written: AtomicU64,
    disk_limit: AtomicU64,
    /// Writes from this count on find the disk full (0: never).
    full_from: AtomicU64,
}

impl FaultPlan {
    /// A plan that injects nothing yet.
    pub fn new() -> Arc<Self> {
        let p = FaultPlan::default();
        p.disk_limit.store(u64::MAX, Ordering::SeqCst);
        Arc::new(p)
    }

    /// The `n`-th write from now fails (counting from 1).
    pub fn fail_nth_write(&self, n: u64) {
        self.fail_write
            .store(self.writes.load(Ordering::SeqCst) + n, Ordering::SeqCst);
    }
    /// The `n`-th file fsync from now fails.
    pub fn fail_nth_sync(&self, n: u64) {
        self.fail_sync
            .store(self.syncs.load(Ordering::SeqCst) + n, Ordering::SeqCst);
    }
    /// The `n`-th directory fsync from now fails.
    pub fn fail_nth_dir_sync(&self, n: u64) {
        self.fail_dir_sync
            .store(self.dir_syncs.load(Ordering::SeqCst) + n, Ordering::SeqCst);
    }
    /// The `n`-th rename from now fails.
    pub fn fail_nth_rename(&self, n: u64) {
        self.fail_rename
            .store(self.renames.load(Ordering::SeqCst) + n, Ordering::SeqCst);
    }
    /// Whether a failing write first writes half of its bytes.
    pub fn short_writes(&self, on: bool) {
        self.short_write.store(on, Ordering::SeqCst);
    }
    /// Writes fail with "no space left" once `bytes` more have been written.
    pub fn disk_full_after(&self, bytes: u64) {
        self.disk_limit.store(
            self.written.load(Ordering::SeqCst).saturating_add(bytes),
            Ordering::SeqCst,
        );
    }
    /// The disk is full from the `n`-th write from now on: that write and
    /// every later one fail with "no space left" (`ErrorKind::StorageFull`)
    /// and write nothing, until [`FaultPlan::heal`].
    pub fn disk_full_from_nth_write(&self, n: u64) {
        self.full_from
            .store(self.writes.load(Ordering::SeqCst) + n, Ordering::SeqCst);
    }
    /// Removes every pending fault.
    pub fn heal(&self) {
        for a in [
            &self.fail_write,
            &self.fail_sync,
            &self.fail_dir_sync,
            &self.fail_rename,
            &self.full_from,
        ] {
            a.store(0, Ordering::SeqCst);
        }
        self.disk_limit.store(u64::MAX, Ordering::SeqCst);
    }
    /// Writes attempted so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }
    /// File fsyncs attempted so far.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::SeqCst)
    }
    /// Directory fsyncs attempted so far.
    pub fn dir_syncs(&self) -> u64 {
        self.dir_syncs.load(Ordering::SeqCst)
    }
    /// Renames attempted so far.
    pub fn renames(&self) -> u64 {
        self.renames.load(Ordering::SeqCst)
    }

    fn hit(count: &AtomicU64, target: &AtomicU64) -> bool {
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        target.load(Ordering::SeqCst) == n
    }
}

fn injected(op: &'static str, path: &Path, kind: std::io::ErrorKind, what: &str) -> Error {
    Error::io(
        op,
        path,
        std::io::Error::new(kind, format!("injected fault: {what}")),
    )
}

/// A [`Vfs`] that passes everything to another one, except the faults its
/// [`FaultPlan`] asks for.
pub struct FaultVfs {
    inner: Arc<dyn Vfs>,
    plan: Arc<FaultPlan>,
}

impl FaultVfs {
    /// Wraps `inner`, injecting faults from `plan`.
    pub fn new(inner: Arc<dyn Vfs>, plan: Arc<FaultPlan>) -> Self {
        FaultVfs { inner, plan }
    }
}

struct FaultWriter {
    inner: Box<dyn WriteFile>,
    plan: Arc<FaultPlan>,
    path: PathBuf,
}

impl WriteFile for FaultWriter {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        let p = &self.plan;
        let fail = FaultPlan::hit(&p.writes, &p.fail_write);
        let full_from = p.full_from.load(Ordering::SeqCst);
        let full = full_from != 0 && p.writes.load(Ordering::SeqCst) >= full_from;
        let before = p.written.load(Ordering::SeqCst);
        let room = if full {
            0
        } else {
            p.disk_limit.load(Ordering::SeqCst).saturating_sub(before)
        };
        if fail || room < data.len() as u64 {
            let part = if fail {
                if p.short_write.load(Ordering::SeqCst) {
                    data.len() / 2
                } else {
                    0
                }
            } else {
                room as usize
            };
            if part > 0 {
                self.inner.append(&data[..part])?;
                p.written.fetch_add(part as u64, Ordering::SeqCst);
            }
            return Err(if fail {
                injected(
                    "write",
                    &self.path,
                    std::io::ErrorKind::Other,
                    "write failed",
                )
            } else {
                injected(
                    "write",
                    &self.path,
                    std::io::ErrorKind::StorageFull,
                    "disk full",
                )
            });
        }
        self.inner.append(data)?;
        p.written.fetch_add(data.len() as u64, Ordering::SeqCst);
        Ok(())
    }
    fn sync(&mut self) -> Result<()> {
        if FaultPlan::hit(&self.plan.syncs, &self.plan.fail_sync) {
            return Err(injected(
                "fsync",
                &self.path,
                std::io::ErrorKind::Other,
                "fsync failed",
            ));
        }
        self.inner.sync()
    }
    fn len(&self) -> u64 {
        self.inner.len()
    }
}

impl Vfs for FaultVfs {
    fn create(&self, path: &Path) -> Result<Box<dyn WriteFile>> {
        Ok(Box::new(FaultWriter {
            inner: self.inner.create(path)?,
            plan: self.plan.clone(),
            path: path.to_path_buf(),
        }))
    }
    fn open(&self, path: &Path) -> Result<Arc<dyn ReadFile>> {
        self.inner.open(path)
    }
    fn open_immutable(&self, path: &Path) -> Result<Arc<dyn ReadFile>> {
        self.inner.open_immutable(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        if FaultPlan::hit(&self.plan.renames, &self.plan.fail_rename) {
            return Err(injected(
                "rename",
                from,
                std::io::ErrorKind::Other,
                "rename failed",
            ));
        }
        self.inner.rename(from, to)
    }
    fn remove(&self, path: &Path) -> Result<()> {
        self.inner.remove(path)
    }
    fn exists(&self, path: &Path) -> Result<bool> {
        self.inner.exists(path)
    }
    fn list(&self, dir: &Path) -> Result<Vec<String>> {
        self.inner.list(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn lock(&self, path: &Path) -> Result<Box<dyn super::LockGuard>> {
        self.inner.lock(path)
    }
    fn hard_link(&self, from: &Path, to: &Path) -> Result<()> {
        self.inner.hard_link(from, to)
    }
    fn remove_dir(&self, dir: &Path) -> Result<()> {
        self.inner.remove_dir(dir)
    }
    fn sync_dir(&self, dir: &Path) -> Result<()> {
        if FaultPlan::hit(&self.plan.dir_syncs, &self.plan.fail_dir_sync) {
            return Err(injected(
                "fsync directory",
                dir,
                std::io::ErrorKind::Other,
                "fsync failed",
            ));
        }
        self.inner.sync_dir(dir)
    }
}
