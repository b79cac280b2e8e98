//! The engine's settings and what it reports about itself: durability
//! mode, sizes and thresholds, per-level statistics, rewrite progress.

use super::*;

/// When a commit is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// Every commit is fsynced before it is acknowledged (the default).
    /// Concurrent committers share one fsync (group commit).
    Full,
    /// Commits are handed to the operating system but not fsynced; the log
    /// is fsynced when a memtable fills and on close. Survives a crash of
    /// the process, not of the machine: power loss may lose the last
    /// commits, never corrupt the store (recovery stops at the last complete
    /// record).
    Normal,
}

/// Tuning of the storage engine.
#[derive(Clone, Debug)]
pub struct StorageOptions {
    /// Commit durability.
    pub sync: SyncMode,
    /// Memtable size that triggers a flush (default 8 MiB).
    pub memtable_bytes: usize,
    /// Immutable memtables allowed before writers wait for a flush.
    pub max_immutable: usize,
    /// Target size of an SSTable data block (default 4 KiB).
    pub block_bytes: usize,
    /// Block cache capacity (default 64 MiB).
    pub block_cache_bytes: usize,
    /// Level-0 table count that triggers a compaction (default 4).
    pub l0_compaction_trigger: usize,
    /// Target size of level 1 (default 32 MiB); each next level is
    /// `level_multiplier` times larger.
    pub level_base_bytes: u64,
    /// Growth factor between levels (default 10).
    pub level_multiplier: u64,
    /// Target size of one compaction output table (default 8 MiB).
    pub target_file_bytes: u64,
    /// Bloom filter bits per key (default 10, about 1% false positives).
    pub bloom_bits_per_key: usize,
    /// Whether the background thread compacts on its own (default true;
    /// tests turn it off to compact only when asked).
    pub auto_compaction: bool,
    /// How often the background thread re-checks data-key rotation.
    pub key_check_interval: Duration,
    /// Table format to write: 3 (the default) cuts a table's index and
    /// filter into partitions under a small top index, so the first lookup
    /// in a table reads one partition, not the whole index and filter; 2
    /// keeps one index and one filter, with the per-block facts that let
    /// `count(*)` pass whole blocks by (3 has them too); 1 writes tables as
    /// releases before those did. 1 and 2 are for compatibility tests; any
    /// other value writes 3. All three are always readable.
    pub table_format: u32,
    /// Largest log record (default and most 1 GiB, least 256 bytes): a commit
    /// larger than this is logged as several records, which recovery
    /// applies all together or, if the log ends before the last of them
    /// (a crash while they were written), not at all.
    pub log_record_bytes: usize,
}

impl StorageOptions {
    /// [`Self::log_record_bytes`] within what the log can hold.
    pub(crate) fn log_record_limit(&self) -> usize {
        self.log_record_bytes.clamp(256, crate::vfs::MAX_RECORD)
    }
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            sync: SyncMode::Full,
            memtable_bytes: 8 << 20,
            max_immutable: 2,
            block_bytes: 4096,
            block_cache_bytes: 64 << 20,
            l0_compaction_trigger: 4,
            level_base_bytes: 32 << 20,
            level_multiplier: 10,
            target_file_bytes: 8 << 20,
            bloom_bits_per_key: 10,
            auto_compaction: true,
            key_check_interval: Duration::from_secs(60),
            table_format: 3,
            log_record_bytes: crate::vfs::MAX_RECORD,
        }
    }
}

/// Files and bytes at one level.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LevelStats {
    /// Number of tables.
    pub files: usize,
    /// Their total size.
    pub bytes: u64,
}

/// Counters and sizes, for monitoring and benchmarks.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Per level, L0 first.
    pub levels: Vec<LevelStats>,
    /// Bytes in the active memtable.
    pub memtable_bytes: usize,
    /// Memtables waiting to be flushed.
    pub immutable_memtables: usize,
    /// Block cache hits.
    pub cache_hits: u64,
    /// Block cache misses.
    pub cache_misses: u64,
    /// Bytes held by the block cache.
    pub cache_bytes: usize,
    /// Key and value bytes written by callers.
    pub user_bytes: u64,
    /// Bytes appended to the WAL.
    pub wal_bytes: u64,
    /// Bytes written by memtable flushes.
    pub flush_bytes: u64,
    /// Bytes written by compactions.
    pub compaction_bytes: u64,
    /// Highest sequence number visible to readers.
    pub last_sequence: u64,
}

impl Stats {
    /// Total bytes of live tables.
    pub fn table_bytes(&self) -> u64 {
        self.levels.iter().map(|l| l.bytes).sum()
    }

    /// (WAL + flush + compaction bytes) / user bytes.
    pub fn write_amplification(&self) -> f64 {
        if self.user_bytes == 0 {
            return 0.0;
        }
        (self.wal_bytes + self.flush_bytes + self.compaction_bytes) as f64 / self.user_bytes as f64
    }
}

/// Progress of [`Engine::rewrite_all`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Tables rewritten so far.
    pub files_done: usize,
    /// Tables to rewrite in all.
    pub files_total: usize,
    /// Bytes of tables rewritten so far.
    pub bytes_done: u64,
    /// Bytes to rewrite in all.
    pub bytes_total: u64,
}
