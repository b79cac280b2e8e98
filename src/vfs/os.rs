//! The real file system, through `std::fs`.
//!
//! Durability: [`WriteFile::sync`] is `fdatasync` (enough for append-only
//! files: it also persists the new length), [`Vfs::sync_dir`] fsyncs the
//! directory so that creations and renames survive power loss.
//! [`Vfs::open_immutable`] memory-maps the file (memmap2); sealdb only maps
//! files that are complete and never written again.
//!
//! Permissions (Unix): every file is created with mode 0600 and every
//! directory with 0700 (before the umask), so no other user can read a
//! store's files, not even their sizes and names.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{ReadFile, Vfs, WriteFile};
use crate::error::{Error, Result};

/// The operating system's file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsVfs;

impl OsVfs {
    /// The real file system.
    pub fn new() -> Self {
        OsVfs
    }
}

struct OsWriter {
    file: File,
    path: PathBuf,
    len: u64,
}

impl WriteFile for OsWriter {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.file
            .write_all(data)
            .map_err(|e| Error::io("write", &self.path, e))?;
        self.len += data.len() as u64;
        Ok(())
    }
    fn sync(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io("fsync", &self.path, e))
    }
    fn len(&self) -> u64 {
        self.len
    }
}

struct OsReader {
    file: File,
    path: PathBuf,
    len: u64,
}

impl ReadFile for OsReader {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        read_exact_at(&self.file, offset, buf).map_err(|e| Error::io("read", &self.path, e))
    }
}

#[cfg(unix)]
fn read_exact_at(f: &File, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(f: &File, mut offset: u64, mut buf: &mut [u8]) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = f.seek_read(buf, offset)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        offset += n as u64;
        buf = &mut buf[n..];
    }
    Ok(())
}

/// Files sealdb creates are readable and writable by their owner only.
fn private(o: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(o, 0o600);
    o
}

struct MappedReader {
    map: Option<memmap2::Mmap>,
    path: PathBuf,
}

impl ReadFile for MappedReader {
    fn len(&self) -> u64 {
        self.map.as_ref().map_or(0, |m| m.len() as u64)
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let data = self.as_slice().unwrap_or(&[]);
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start
            .checked_add(buf.len())
            .and_then(|end| data.get(start..end))
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
        Some(self.map.as_deref().unwrap_or(&[]))
    }
    #[cfg(unix)]
    fn release(&self, offset: u64, len: u64) {
        let Some(map) = &self.map else { return };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let Some(len) = usize::try_from(len)
            .ok()
            .filter(|&n| n > 0 && start.checked_add(n).is_some_and(|end| end <= map.len()))
        else {
            return;
        };
        // SAFETY: the range is inside the mapping (checked above), and the
        // mapping is a read-only shared map of a file never written again
        // (see `open_immutable`): MADV_DONTNEED only drops the pages from
        // this process's page tables, and any later access, through a
        // slice handed out before or after, maps the same bytes again
        // from the page cache. It frees or changes nothing a reference
        // points to (unlike on a private or anonymous map, which this is
        // not). A failure leaves the pages resident: ignored, as advice.
        #[allow(unsafe_code)]
        let _ =
            unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, len) };
    }
}

struct OsLock {
    _file: File,
}

impl super::LockGuard for OsLock {}

impl Vfs for OsVfs {
    fn lock(&self, path: &Path) -> Result<Box<dyn super::LockGuard>> {
        let file = private(OpenOptions::new().read(true).write(true).create(true))
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io("open lock file", path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(Box::new(OsLock { _file: file })),
            Err(fs::TryLockError::WouldBlock) => Err(Error::Locked {
                path: path.to_path_buf(),
            }),
            Err(fs::TryLockError::Error(e)) => Err(Error::io("lock", path, e)),
        }
    }

    fn create(&self, path: &Path) -> Result<Box<dyn WriteFile>> {
        let file = private(OpenOptions::new().write(true).create_new(true))
            .open(path)
            .map_err(|e| Error::io("create", path, e))?;
        Ok(Box::new(OsWriter {
            file,
            path: path.to_path_buf(),
            len: 0,
        }))
    }

    fn open(&self, path: &Path) -> Result<Arc<dyn ReadFile>> {
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io("stat", path, e))?
            .len();
        Ok(Arc::new(OsReader {
            file,
            path: path.to_path_buf(),
            len,
        }))
    }

    fn open_immutable(&self, path: &Path) -> Result<Arc<dyn ReadFile>> {
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io("stat", path, e))?
            .len();
        // Mapping an empty file fails on some platforms; an empty slice is the same thing.
        let map = if len == 0 {
            None
        } else {
            // The length given, so the mapping does not stat the file again.
            let map_len = usize::try_from(len)
                .map_err(|_| Error::io("mmap", path, std::io::ErrorKind::InvalidInput.into()))?;
            // SAFETY: sealdb maps only files that are complete and are never
            // written, truncated or reused again while open (SSTables and
            // other write-once files, renamed into place after fsync). Another
            // process truncating the file would be outside the database's
            // contract (the directory lock keeps other sealdb processes out).
            #[allow(unsafe_code)]
            let m = unsafe { memmap2::MmapOptions::new().len(map_len).map(&file) }
                .map_err(|e| Error::io("mmap", path, e))?;
            Some(m)
        };
        Ok(Arc::new(MappedReader {
            map,
            path: path.to_path_buf(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        fs::rename(from, to).map_err(|e| Error::io("rename", from, e))
    }

    fn remove(&self, path: &Path) -> Result<()> {
        fs::remove_file(path).map_err(|e| Error::io("remove", path, e))
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        path.try_exists().map_err(|e| Error::io("stat", path, e))
    }

    fn list(&self, dir: &Path) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))? {
            let entry = entry.map_err(|e| Error::io("list", dir, e))?;
            let is_file = entry
                .file_type()
                .map_err(|e| Error::io("stat", entry.path(), e))?
                .is_file();
            if is_file {
                if let Some(name) = entry.file_name().to_str() {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        let mut b = fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir)
            .map_err(|e| Error::io("create directory", dir, e))
    }

    fn hard_link(&self, from: &Path, to: &Path) -> Result<()> {
        fs::hard_link(from, to).map_err(|e| Error::io("link", to, e))
    }

    fn remove_dir(&self, dir: &Path) -> Result<()> {
        fs::remove_dir(dir).map_err(|e| Error::io("remove directory", dir, e))
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        #[cfg(unix)]
        {
            let d = File::open(dir).map_err(|e| Error::io("open directory", dir, e))?;
            d.sync_all()
                .map_err(|e| Error::io("fsync directory", dir, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Resident kilobytes of this process's mapping of `path` (Linux's
    /// `/proc/self/smaps`).
    #[cfg(target_os = "linux")]
    fn mapped_rss_kb(path: &Path) -> Option<u64> {
        let smaps = fs::read_to_string("/proc/self/smaps").ok()?;
        let name = path.to_str()?;
        let mut lines = smaps.lines().skip_while(|l| !l.ends_with(name));
        lines.next()?;
        lines
            .find(|l| l.starts_with("Rss:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// A released range of a mapped file leaves the process's resident
    /// memory, and every read after it, through slices taken before or
    /// after, sees the same bytes; releases outside the file or of
    /// nothing are ignored.
    #[test]
    fn a_released_range_leaves_memory_and_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("table");
        let data: Vec<u8> = (0..4u32 << 20).map(|i| (i ^ (i >> 12)) as u8).collect();
        fs::write(&path, &data).unwrap();
        let f = OsVfs::new().open_immutable(&path).unwrap();
        let before = f.as_slice().unwrap();
        let mut buf = vec![0; data.len()];
        f.read_exact_at(0, &mut buf).unwrap();
        assert!(buf == data);
        #[cfg(target_os = "linux")]
        assert!(
            mapped_rss_kb(&path).unwrap() >= 4000,
            "the reads map the file"
        );
        f.release(0, data.len() as u64);
        #[cfg(target_os = "linux")]
        {
            let rss = mapped_rss_kb(&path).unwrap();
            assert!(rss < 100, "{rss} kB still resident after the release");
        }
        assert!(before == &data[..], "a slice from before the release");
        f.release(data.len() as u64 - 10, 20);
        f.release(u64::MAX, u64::MAX);
        f.release(7, 0);
        let mut buf = vec![0; 100];
        f.read_exact_at(1 << 20, &mut buf).unwrap();
        assert_eq!(buf, data[1 << 20..(1 << 20) + 100]);
        assert!(f.as_slice().unwrap() == &data[..]);
    }
}
