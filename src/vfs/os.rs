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
            // SAFETY: sealdb maps only files that are complete and are never
            // written, truncated or reused again while open (SSTables and
            // other write-once files, renamed into place after fsync). Another
            // process truncating the file would be outside the database's
            // contract (the directory lock keeps other sealdb processes out).
            #[allow(unsafe_code)]
            let m = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io("mmap", path, e))?;
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
