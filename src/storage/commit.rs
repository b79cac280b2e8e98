//! The write path: group commit. Writers queue their batches; one of them
//! leads, appends the whole group to the log as one record (synced in
//! `SyncMode::Full`), applies it to the memtable and publishes the new
//! sequence number, so a reader never sees part of a group. A full
//! memtable is switched for a new one (and a new log segment) here.
//!
//! A large group of one sorted batch (a transaction's write set is one:
//! see `txn`) skips the skip list: it is logged alone in a fresh segment,
//! becomes that segment's memtable as one sorted run
//! ([`Memtable::sorted_internal`]; the log writer makes its keys internal
//! keys as it encodes them), and the memtable is switched at once, so the
//! run is flushed like any other memtable. Log, recovery and flush are
//! unchanged: the segment holds exactly that commit's record, and
//! replaying it rebuilds the same entries.

use super::*;

impl Inner {
    pub(super) fn write(&self, batch: WriteBatch) -> Result<u64> {
        self.check_poison()?;
        if batch.is_empty() {
            return Ok(self.visible.load(Ordering::Acquire));
        }
        let (len, size) = (batch.len() as u64, batch.approximate_size());
        self.counters.user.fetch_add(size as u64, Ordering::Relaxed);
        let me = Arc::new(Pending {
            batch: Mutex::new(batch),
            len,
            size,
            result: Mutex::new(None),
        });
        let mut q = self.queue.lock();
        q.push_back(me.clone());
        loop {
            if let Some(r) = me.result.lock().take() {
                return r;
            }
            if q.front().is_some_and(|f| Arc::ptr_eq(f, &me)) {
                break;
            }
            self.queue_cv.wait(&mut q);
        }
        // Leader: commit a group of queued writes with one log append.
        const GROUP_BYTES: usize = 1 << 20;
        let mut size = 0;
        let group: Vec<Arc<Pending>> = q
            .iter()
            .take_while(|p| {
                let take = size == 0 || size + p.size <= GROUP_BYTES;
                size += p.size;
                take
            })
            .cloned()
            .collect();
        drop(q);
        let outcome = self.commit_group(&group);
        let mut q = self.queue.lock();
        for _ in 0..group.len() {
            q.pop_front();
        }
        let mine = match outcome {
            Ok(last) => {
                let mut seq = last + 1;
                for p in group.iter().rev() {
                    seq -= p.len;
                    *p.result.lock() = Some(Ok(seq + p.len - 1));
                }
                me.result.lock().take().unwrap_or(Ok(last))
            }
            Err(e) => {
                for p in &group[1..] {
                    *p.result.lock() = Some(Err(Error::Poisoned {
                        reason: format!("the commit failed: {e}"),
                    }));
                }
                me.result.lock().take();
                Err(e)
            }
        };
        self.queue_cv.notify_all();
        mine
    }

    /// Logs and applies a group; returns the last sequence number used.
    pub(super) fn commit_group(&self, group: &[Arc<Pending>]) -> Result<u64> {
        let mut wal_guard = self.wal.lock();
        self.check_poison()?;
        self.start_run(&mut wal_guard)?;
        let mut batches: Vec<WriteBatch> = group
            .iter()
            .map(|p| std::mem::take(&mut *p.batch.lock()))
            .collect();
        let sorted = matches!(&batches[..],
            [b] if b.approximate_size() >= self.sorted_run_bytes() && Memtable::can_sort(b));
        self.make_room(&mut wal_guard, sorted)?;
        let wal = wal_guard.as_mut().ok_or_else(|| Error::Poisoned {
            reason: "the log is closed".into(),
        })?;
        let first = self.visible.load(Ordering::Acquire) + 1;
        let before = wal.bytes;
        let appended = match &mut batches[..] {
            // The run's keys become internal keys as they are logged.
            [b] if sorted => wal.append_sorted(first, b, self.opts.log_record_limit()),
            _ => wal.append(
                first,
                &batches.iter().collect::<Vec<_>>(),
                self.opts.log_record_limit(),
            ),
        };
        let logged = appended.and_then(|_| {
            if self.opts.sync == SyncMode::Full {
                wal.sync()
            } else {
                Ok(())
            }
        });
        self.counters
            .wal
            .fetch_add(wal.bytes - before, Ordering::Relaxed);
        if let Err(e) = logged {
            // A record refused before any of it reached the segment (an
            // operation over the 1 GiB limit) leaves the log as it was: the
            // commit fails alone and the store goes on. Any other failure
            // may have left part of a record, or some records of a split
            // commit, in the log: the store stops.
            if wal.is_failed() {
                self.set_poison(format!("writing the log failed: {e}"));
            }
            return Err(e);
        }
        if sorted {
            let Some(b) = batches.into_iter().next() else {
                return Ok(first - 1);
            };
            let last = first + b.len() as u64 - 1;
            {
                // The active memtable is empty (`make_room`) and is this
                // segment's: the run takes its place before the sequence
                // number is published, so a reader at `last` finds it.
                let mut st = self.state.lock();
                let number = st.mem.wal_number;
                st.mem = Arc::new(Memtable::sorted_internal(number, first, b));
            }
            self.visible.store(last, Ordering::Release);
            // The commit is logged and visible: a failure to start the next
            // segment poisons the store (so `make_room` switches before any
            // later write) but does not undo it.
            let _ = self.switch_memtable(&mut wal_guard);
            return Ok(last);
        }
        let mem = self.state.lock().mem.clone();
        let mut seq = first;
        for b in batches {
            let n = b.len() as u64;
            mem.apply_owned(seq, b);
            seq += n;
        }
        self.visible.store(seq - 1, Ordering::Release);
        Ok(seq - 1)
    }

    /// Size from which a commit group of one sorted batch becomes a
    /// memtable of its own instead of going through the skip list: half a
    /// memtable (below that, the extra log segments and manifest edits
    /// would cost more than the skip list inserts they save).
    fn sorted_run_bytes(&self) -> usize {
        (self.opts.memtable_bytes / 2).max(1)
    }

    /// Switches to a new memtable (and log segment) when the current one is
    /// full or frozen — or, with `fresh`, holds anything —, waiting if too
    /// many are waiting to be flushed. Leader only.
    pub(super) fn make_room(&self, wal: &mut Option<WalWriter>, fresh: bool) -> Result<()> {
        let mut st = self.state.lock();
        loop {
            self.check_poison()?;
            let switch = (fresh && !st.mem.is_empty())
                || st.mem.size() >= self.opts.memtable_bytes
                || st.mem.is_frozen();
            if st.imm.len() < self.opts.max_immutable {
                if switch {
                    break;
                }
                return Ok(());
            }
            // A fresh memtable is switched out as soon as its one commit is
            // in, so it waits for the flushes like a full one.
            if !switch && !fresh {
                return Ok(());
            }
            self.cv.wait_for(&mut st, Duration::from_millis(100));
        }
        drop(st);
        self.switch_memtable(wal)
    }

    pub(super) fn switch_memtable(&self, wal: &mut Option<WalWriter>) -> Result<()> {
        // The new segment chains to the run's first one.
        self.start_run(wal)?;
        let number = {
            let mut st = self.state.lock();
            st.next_file += 1;
            st.next_file - 1
        };
        let switched = (|| {
            let prev = match wal.as_mut() {
                Some(old) => {
                    old.sync()?;
                    Some(old.id())
                }
                None => None,
            };
            let new = WalWriter::create(&self.dir, number, prev)?;
            // The manifest learns of the segment before it holds a commit,
            // so a segment with commits it does not know of means the
            // manifest lost edits.
            let mut st = self.state.lock();
            st.log_ivs.insert(number, new.id().iv);
            let edit = VersionEdit {
                newest_log: Some(number),
                ..VersionEdit::default()
            };
            self.install(&mut st, &edit)?;
            Ok(new)
        })();
        let new = match switched {
            Ok(w) => w,
            Err(e) => {
                self.set_poison(format!("starting a new log segment failed: {e}"));
                return Err(e);
            }
        };
        *wal = Some(new);
        let mut st = self.state.lock();
        let old = std::mem::replace(&mut st.mem, Arc::new(Memtable::new(number)));
        st.imm.push_back(old);
        self.cv.notify_all();
        Ok(())
    }
}
