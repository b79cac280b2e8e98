//! Flushing: an immutable memtable becomes a level-0 table, recorded in a
//! manifest edit before the log segments it covered may go.

use super::*;

impl Inner {
    pub(super) fn flush(&self) -> Result<()> {
        self.flush_inner(false)
    }

    /// Flushes; with `force`, starts a new log segment even if the memtable
    /// is empty (so the live segment is under the active data key).
    pub(super) fn flush_inner(&self, force: bool) -> Result<()> {
        {
            let mut wal = self.wal.lock();
            self.check_poison()?;
            let empty = self.state.lock().mem.is_empty();
            if !empty || force {
                self.switch_memtable(&mut wal)?;
            }
        }
        let mut st = self.state.lock();
        while !st.imm.is_empty() || st.flushing {
            self.check_poison()?;
            self.cv.wait_for(&mut st, Duration::from_millis(50));
        }
        self.check_poison()
    }

    /// Flushes the oldest immutable memtable to a level-0 table.
    pub(super) fn flush_oldest(&self) -> Result<()> {
        let (mem, number) = {
            let mut st = self.state.lock();
            let Some(mem) = st.imm.front().cloned() else {
                return Ok(());
            };
            st.flushing = true;
            st.next_file += 1;
            self.pending_tables.lock().insert(st.next_file - 1);
            (mem, st.next_file - 1)
        };
        // An empty memtable (a forced log switch) only retires its segment.
        let summary = if mem.is_empty() {
            Ok(None)
        } else {
            write_table(&self.dir, number, &self.opts, Some(&self.cache), |add| {
                mem.for_each_entry(add)
            })
            .map(Some)
        };
        let mut st = self.state.lock();
        st.flushing = false;
        let summary = summary.inspect_err(|_| {
            self.pending_tables.lock().remove(&number);
        })?;
        let log_number = st.imm.get(1).map_or(st.mem.wal_number, |m| m.wal_number);
        st.flushed_seq = st.flushed_seq.max(mem.max_seq());
        let mut edit = VersionEdit {
            log_number: Some(log_number),
            log_iv: st.log_ivs.get(&log_number).copied(),
            next_file: Some(st.next_file),
            last_seq: Some(st.flushed_seq),
            ..VersionEdit::default()
        };
        if let Some(summary) = summary {
            self.counters
                .flush
                .fetch_add(summary.size, Ordering::Relaxed);
            edit.added.push((0, meta_of(number, &summary)));
        }
        let installed = self.install(&mut st, &edit);
        self.pending_tables.lock().remove(&number);
        installed?;
        let flushed = st.imm.pop_front();
        self.cv.notify_all();
        drop(st);
        self.retired.lock().extend(flushed);
        self.delete_obsolete_files()
    }

    /// Appends `edit` to the manifest and makes it the current version.
    pub(super) fn install(&self, st: &mut State, edit: &VersionEdit) -> Result<()> {
        let next = st.version.apply(edit).map_err(|what| {
            Error::corruption(
                self.dir.dir().join(manifest_name(st.manifest_number)),
                0,
                what,
            )
        })?;
        let Some(manifest) = st.manifest.as_mut() else {
            if self.read_only {
                return Err(Error::ReadOnly {
                    path: self.dir.dir().to_path_buf(),
                });
            }
            return Err(Error::Poisoned {
                reason: "internal: a manifest edit before the run started".into(),
            });
        };
        if let Err((e, maybe_durable)) = manifest.append(edit) {
            // `st` is held: set the poison without set_poison's relock.
            let mut p = self.poison.lock();
            if p.is_none() {
                *p = Some(format!("writing the manifest failed: {e}"));
            }
            self.cv.notify_all();
            // The edit never reached the disk whole, so the tables it
            // would have added are garbage: remove them rather than leave
            // them to fill a full disk. (If only the fsync failed, the
            // edit may be durable and they must stay.)
            if !maybe_durable {
                for (_, f) in &edit.added {
                    remove_partial(&self.dir, &table_name(f.number));
                }
            }
            return Err(e);
        }
        let next = Arc::new(next);
        let mut versions = self.versions.lock();
        versions.retain(|w| w.strong_count() > 0);
        versions.push(Arc::downgrade(&st.version));
        st.version = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use crate::crypto::{KeyBytes, MemoryKeyProvider};
    use crate::storage::{Engine, StorageOptions};
    use crate::vfs::{KeyOptions, MemVfs};

    #[test]
    fn a_reader_releasing_a_flushed_memtable_last_does_not_free_it() {
        let engine = Engine::open(
            Arc::new(MemVfs::new()),
            "/retired",
            Arc::new(MemoryKeyProvider::new(KeyBytes::from_slice(&[7; 32])).unwrap()),
            KeyOptions::default(),
            StorageOptions::default(),
        )
        .unwrap();
        for i in 0..1000u32 {
            engine.put(&i.to_be_bytes(), b"value").unwrap();
        }
        // What a reader (an iterator, a get) holds while it runs.
        let (held, _, _) = engine.inner.view();
        let weak = Arc::downgrade(&held);
        engine.flush().unwrap();
        assert!(engine.inner.view().0.is_empty(), "not flushed");
        drop(held);
        // The reader's release was not the last: the background thread
        // holds it and frees it soon after.
        assert!(weak.upgrade().is_some(), "freed by the reader");
        let end = Instant::now() + Duration::from_secs(30);
        while weak.strong_count() > 0 {
            assert!(Instant::now() < end, "never freed");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(engine.inner.retired.lock().is_empty());
    }
}
