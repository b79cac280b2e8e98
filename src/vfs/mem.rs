//! An in-memory file system that can simulate a crash.
//!
//! It keeps two views: the *live* one every call sees, and the *durable* one
//! a machine would find after losing power:
//!
//! ```text
//!   file bytes   durable up to the length at the last WriteFile::sync
//!   names        durable as of the last Vfs::sync_dir of their directory
//! ```
//!
//! [`MemVfs::crash`] throws the live view away and restarts from the durable
//! one; [`MemVfs::crash_torn`] also keeps a random prefix of each file's
//! unsynced tail, like a write that reached the disk only in part. Code that
//! forgets an fsync or a directory sync loses data here, as it would on a
//! real machine. Directories themselves are durable at once (a simplification:
//! sealdb creates its directory before anything else).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{parent_dir, ReadFile, Vfs, WriteFile};
use crate::error::{Error, Result};

#[derive(Default)]
struct MemFile {
    data: Vec<u8>,
    synced: usize,
}

type Shared = Arc<Mutex<MemFile>>;

#[derive(Default)]
struct State {
    locks: BTreeMap<PathBuf, u64>,
    lock_ids: u64,
    live: BTreeMap<PathBuf, Shared>,
    durable: BTreeMap<PathBuf, Shared>,
    dirs: BTreeSet<PathBuf>,
    /// Crashes so far.
    epoch: u64,
}

/// The in-memory, crash-simulating file system. Clones share the same files.
///
/// A crash is also the death of the process: handles cloned before
/// [`MemVfs::crash`] (the dead process's) fail every file-system call
/// afterwards, so nothing the old process still runs (background threads,
/// `Drop`) can touch the post-crash files. The handle `crash` was called
/// on, and every clone made after the crash, belong to the new process.
#[derive(Default)]
pub struct MemVfs {
    state: Arc<Mutex<State>>,
    born: std::sync::atomic::AtomicU64,
}

impl Clone for MemVfs {
    /// A clone belongs to the process running now (a reopen after a
    /// crash clones the handle it was given).
    fn clone(&self) -> Self {
        MemVfs {
            state: self.state.clone(),
            born: std::sync::atomic::AtomicU64::new(self.state.lock().epoch),
        }
    }
}

fn not_found(op: &'static str, path: &Path) -> Error {
    Error::io(op, path, std::io::ErrorKind::NotFound.into())
}

impl MemVfs {
    /// An empty file system.
    pub fn new() -> Self {
        MemVfs::default()
    }

    /// Simulates power loss: unsynced bytes and unsynced names are lost.
    /// Handles opened before the crash must not be used afterwards.
    pub fn crash(&self) {
        self.crash_with(|_, _| 0);
    }

    /// Like [`Self::crash`], but each file keeps a pseudo-random prefix of its
    /// unsynced tail (chosen from `seed`), as a torn write would.
    pub fn crash_torn(&self, seed: u64) {
        let mut x = seed | 1;
        self.crash_with(move |_, unsynced| {
            // xorshift64*: deterministic per seed, no dependency needed.
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
            if unsynced == 0 {
                0
            } else {
                (r % (unsynced as u64 + 1)) as usize
            }
        });
    }

    /// Fails calls from a process that died in a crash.
    fn alive(&self, st: &State, path: &Path) -> Result<()> {
        if self.born.load(std::sync::atomic::Ordering::SeqCst) == st.epoch {
            Ok(())
        } else {
            Err(Error::io(
                "use a file system handle of a crashed process",
                path,
                std::io::Error::other("the simulated process died in a crash"),
            ))
        }
    }

    fn crash_with(&self, mut keep: impl FnMut(&Path, usize) -> usize) {
        let mut st = self.state.lock();
        st.epoch += 1;
        self.born
            .store(st.epoch, std::sync::atomic::Ordering::SeqCst);
        let mut fresh = BTreeMap::new();
        for (path, file) in &st.durable {
            let f = file.lock();
            let unsynced = f.data.len().saturating_sub(f.synced);
            let len = f.synced + keep(path, unsynced);
            let data = f.data[..len].to_vec();
            // New objects, so a handle from before the crash cannot write
            // into the post-crash world.
            fresh.insert(
                path.clone(),
                Arc::new(Mutex::new(MemFile { synced: len, data })),
            );
        }
        st.live = fresh.clone();
        st.durable = fresh;
        // The crashed process's locks died with it.
        st.locks.clear();
    }

    /// Total bytes of all live files (for tests and space accounting).
    pub fn total_bytes(&self) -> u64 {
        let st = self.state.lock();
        st.live.values().map(|f| f.lock().data.len() as u64).sum()
    }

    /// Overwrites bytes of a live file in place, as a corrupting disk or an
    /// attacker would. For tests.
    pub fn corrupt(&self, path: &Path, offset: u64, f: impl FnOnce(&mut [u8])) -> Result<()> {
        let st = self.state.lock();
        let file = st
            .live
            .get(path)
            .ok_or_else(|| not_found("corrupt", path))?;
        let mut file = file.lock();
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(file.data.len());
        f(&mut file.data[start..]);
        Ok(())
    }

    /// Cuts a live file to `len` bytes. For tests.
    pub fn truncate(&self, path: &Path, len: u64) -> Result<()> {
        let st = self.state.lock();
        let file = st
            .live
            .get(path)
            .ok_or_else(|| not_found("truncate", path))?;
        let mut file = file.lock();
        let len = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(file.data.len());
        file.data.truncate(len);
        file.synced = file.synced.min(len);
        Ok(())
    }

    /// Puts `data` at `path` (creating or replacing it, durably). For tests.
    pub fn put_file(&self, path: &Path, data: &[u8]) {
        let mut st = self.state.lock();
        let f = Arc::new(Mutex::new(MemFile {
            data: data.to_vec(),
            synced: data.len(),
        }));
        st.live.insert(path.to_path_buf(), f.clone());
        st.durable.insert(path.to_path_buf(), f);
    }

    /// A copy of a live file's bytes. For tests.
    pub fn read_all(&self, path: &Path) -> Result<Vec<u8>> {
        let st = self.state.lock();
        let file = st.live.get(path).ok_or_else(|| not_found("read", path))?;
        let data = file.lock().data.clone();
        Ok(data)
    }
}

struct MemWriter {
    file: Shared,
}

impl WriteFile for MemWriter {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.file.lock().data.extend_from_slice(data);
        Ok(())
    }
    fn sync(&mut self) -> Result<()> {
        let mut f = self.file.lock();
        f.synced = f.data.len();
        Ok(())
    }
    fn len(&self) -> u64 {
        self.file.lock().data.len() as u64
    }
}

struct MemReader {
    file: Shared,
    path: PathBuf,
}

impl ReadFile for MemReader {
    fn len(&self) -> u64 {
        self.file.lock().data.len() as u64
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let f = self.file.lock();
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start
            .checked_add(buf.len())
            .and_then(|end| f.data.get(start..end))
        {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => Err(Error::io(
                "read",
                &self.path,
                std::io::ErrorKind::UnexpectedEof.into(),
            )),
        }
    }
}

/// A frozen copy of a file, for `open_immutable`: it can lend out a slice.
struct MemSnapshot {
    data: Vec<u8>,
    path: PathBuf,
}

impl ReadFile for MemSnapshot {
    fn len(&self) -> u64 {
        self.data.len() as u64
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start
            .checked_add(buf.len())
            .and_then(|end| self.data.get(start..end))
        {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => Err(Error::io(
                "read",
                &self.path,
                std::io::ErrorKind::UnexpectedEof.into(),
            )),
        }
    }
    fn as_slice(&self) -> Option<&[u8]> {
        Some(&self.data)
    }
}

struct MemLock {
    state: Arc<Mutex<State>>,
    path: PathBuf,
    id: u64,
}

impl super::LockGuard for MemLock {}

impl Drop for MemLock {
    fn drop(&mut self) {
        // Only release our own lock: after a simulated crash another handle
        // may hold it, and a dead process's guard must not free it.
        let mut st = self.state.lock();
        if st.locks.get(&self.path) == Some(&self.id) {
            st.locks.remove(&self.path);
        }
    }
}

impl Vfs for MemVfs {
    fn lock(&self, path: &Path) -> Result<Box<dyn super::LockGuard>> {
        let mut st = self.state.lock();
        self.alive(&st, path)?;
        if st.locks.contains_key(path) {
            return Err(Error::Locked {
                path: path.to_path_buf(),
            });
        }
        st.lock_ids += 1;
        let id = st.lock_ids;
        st.locks.insert(path.to_path_buf(), id);
        Ok(Box::new(MemLock {
            state: self.state.clone(),
            path: path.to_path_buf(),
            id,
        }))
    }

    fn create(&self, path: &Path) -> Result<Box<dyn WriteFile>> {
        let mut st = self.state.lock();
        self.alive(&st, path)?;
        if !st.dirs.contains(parent_dir(path)) {
            return Err(not_found("create", path));
        }
        if st.live.contains_key(path) {
            return Err(Error::io(
                "create",
                path,
                std::io::ErrorKind::AlreadyExists.into(),
            ));
        }
        let file: Shared = Arc::default();
        st.live.insert(path.to_path_buf(), file.clone());
        Ok(Box::new(MemWriter { file }))
    }

    fn open(&self, path: &Path) -> Result<Arc<dyn ReadFile>> {
        let st = self.state.lock();
        let file = st
            .live
            .get(path)
            .ok_or_else(|| not_found("open", path))?
            .clone();
        Ok(Arc::new(MemReader {
            file,
            path: path.to_path_buf(),
        }))
    }

    fn open_immutable(&self, path: &Path) -> Result<Arc<dyn ReadFile>> {
        let st = self.state.lock();
        let file = st.live.get(path).ok_or_else(|| not_found("open", path))?;
        let data = file.lock().data.clone();
        Ok(Arc::new(MemSnapshot {
            data,
            path: path.to_path_buf(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let mut st = self.state.lock();
        self.alive(&st, from)?;
        let file = st
            .live
            .remove(from)
            .ok_or_else(|| not_found("rename", from))?;
        st.live.insert(to.to_path_buf(), file);
        Ok(())
    }

    fn remove(&self, path: &Path) -> Result<()> {
        let mut st = self.state.lock();
        self.alive(&st, path)?;
        st.live
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| not_found("remove", path))
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        let st = self.state.lock();
        Ok(st.live.contains_key(path) || st.dirs.contains(path))
    }

    fn list(&self, dir: &Path) -> Result<Vec<String>> {
        let st = self.state.lock();
        if !st.dirs.contains(dir) {
            return Err(not_found("list", dir));
        }
        Ok(st
            .live
            .keys()
            .filter(|p| parent_dir(p) == dir)
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .collect())
    }

    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        let mut st = self.state.lock();
        self.alive(&st, dir)?;
        let mut d = Some(dir);
        while let Some(p) = d {
            if p.as_os_str().is_empty() {
                break;
            }
            st.dirs.insert(p.to_path_buf());
            d = p.parent();
        }
        st.dirs.insert(PathBuf::from("."));
        Ok(())
    }

    fn hard_link(&self, from: &Path, to: &Path) -> Result<()> {
        let mut st = self.state.lock();
        self.alive(&st, to)?;
        if !st.dirs.contains(parent_dir(to)) {
            return Err(not_found("link", to));
        }
        if st.live.contains_key(to) {
            return Err(Error::io(
                "link",
                to,
                std::io::ErrorKind::AlreadyExists.into(),
            ));
        }
        let file = st
            .live
            .get(from)
            .ok_or_else(|| not_found("link", from))?
            .clone();
        st.live.insert(to.to_path_buf(), file);
        Ok(())
    }

    fn remove_dir(&self, dir: &Path) -> Result<()> {
        let mut st = self.state.lock();
        self.alive(&st, dir)?;
        if st.live.keys().any(|p| parent_dir(p) == dir) {
            return Err(Error::io(
                "remove directory",
                dir,
                std::io::ErrorKind::DirectoryNotEmpty.into(),
            ));
        }
        if !st.dirs.remove(dir) {
            return Err(not_found("remove directory", dir));
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        let mut st = self.state.lock();
        self.alive(&st, dir)?;
        if !st.dirs.contains(dir) {
            return Err(not_found("fsync directory", dir));
        }
        let State { live, durable, .. } = &mut *st;
        durable.retain(|p, _| parent_dir(p) != dir);
        for (p, f) in live.iter() {
            if parent_dir(p) == dir {
                durable.insert(p.clone(), f.clone());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_keeps_only_synced_bytes_and_names() -> Result<()> {
        let vfs = MemVfs::new();
        let d = Path::new("/db");
        vfs.create_dir_all(d)?;
        let mut a = vfs.create(&d.join("a"))?;
        a.append(b"hello")?;
        a.sync()?;
        vfs.sync_dir(d)?;
        a.append(b" world")?;
        let mut b = vfs.create(&d.join("b"))?;
        b.append(b"unsynced name")?;
        b.sync()?;
        vfs.crash();
        assert_eq!(vfs.read_all(&d.join("a"))?, b"hello");
        assert!(!vfs.exists(&d.join("b"))?, "name was never made durable");

        // A rename is durable only after the directory sync.
        vfs.rename(&d.join("a"), &d.join("c"))?;
        vfs.crash();
        assert!(vfs.exists(&d.join("a"))? && !vfs.exists(&d.join("c"))?);
        vfs.rename(&d.join("a"), &d.join("c"))?;
        vfs.sync_dir(d)?;
        vfs.crash();
        assert_eq!(vfs.read_all(&d.join("c"))?, b"hello");
        Ok(())
    }

    #[test]
    fn torn_crash_keeps_a_prefix() -> Result<()> {
        let vfs = MemVfs::new();
        let d = Path::new("/db");
        vfs.create_dir_all(d)?;
        let mut a = vfs.create(&d.join("a"))?;
        a.append(b"0123")?;
        a.sync()?;
        vfs.sync_dir(d)?;
        a.append(b"456789")?;
        drop(a);
        vfs.crash_torn(7);
        let got = vfs.read_all(&d.join("a"))?;
        assert!(got.len() >= 4 && got.len() <= 10);
        assert_eq!(&got[..], &b"0123456789"[..got.len()]);
        Ok(())
    }
}
