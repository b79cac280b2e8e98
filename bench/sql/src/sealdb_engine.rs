//! sealdb as an engine of the SQL benchmark: the public API only (`Db`,
//! `Session`, prepared `Statement`s), on the real file system.
//!
//! Three configurations, one store key each: `sealdb-aes256` (32-byte key),
//! `sealdb-aes128` (16-byte key), `sealdb-plain`
//! (`UnencryptedKeyProvider::dangerous_new()`). All run with
//! `SyncMode::Normal` (a commit reaches the OS, not the disk: SQLite's WAL
//! with `synchronous=NORMAL` does the same), a 64 MiB block cache and 4 KiB
//! blocks, the peers' cache and page sizes; everything else is sealdb's
//! default.

use std::path::Path;

use anyhow::{bail, Context, Result};
use sealdb::storage::{StorageOptions, SyncMode};
use sealdb::{Db, KeyBytes, MemoryKeyProvider, Options, Session, UnencryptedKeyProvider};
use sealdb_sql_bench_common::{Check, Row, SqlDb, CACHE_BYTES, PAGE_BYTES};

/// The sealdb engine names, in report order.
pub const ENGINES: &[&str] = &["sealdb-aes256", "sealdb-aes128", "sealdb-plain"];

/// An open sealdb database and its root session.
pub struct SealDb {
    session: Session,
    // Kept so that the store stays open as long as the session.
    _db: Db,
}

fn options() -> Options {
    Options {
        storage: StorageOptions {
            sync: SyncMode::Normal,
            block_cache_bytes: CACHE_BYTES,
            block_bytes: PAGE_BYTES,
            ..StorageOptions::default()
        },
        ..Options::default()
    }
}

fn keyed(key_len: usize) -> Result<MemoryKeyProvider> {
    MemoryKeyProvider::new(KeyBytes::from_slice(&vec![0x42; key_len])).context("store key")
}

impl SqlDb for SealDb {
    fn open(engine: &str, dir: &Path) -> Result<SealDb> {
        let db = match engine {
            "sealdb-aes256" => Db::open_with(dir, keyed(32)?, options()),
            "sealdb-aes128" => Db::open_with(dir, keyed(16)?, options()),
            "sealdb-plain" => {
                Db::open_with(dir, UnencryptedKeyProvider::dangerous_new(), options())
            }
            other => bail!("unknown sealdb engine {other:?}"),
        }
        .with_context(|| format!("open {}", dir.display()))?;
        Ok(SealDb {
            session: db.root_session(),
            _db: db,
        })
    }

    fn exec(&mut self, sql: &str) -> Result<()> {
        self.session.execute(sql, &[])?;
        Ok(())
    }

    fn insert(&mut self, rows: &[Row], per_txn: usize) -> Result<()> {
        let st = self
            .session
            .prepare("INSERT INTO t (id, k, v) VALUES (?, ?, ?)")?;
        for chunk in rows.chunks(per_txn.max(1)) {
            if per_txn > 1 {
                self.session.execute("BEGIN", &[])?;
            }
            for r in chunk {
                st.execute(&[&r.id, &r.k, &r.v.as_str()])?;
            }
            if per_txn > 1 {
                self.session.execute("COMMIT", &[])?;
            }
        }
        Ok(())
    }

    fn get_by_id(&mut self, ids: &[i64]) -> Result<Check> {
        let st = self.session.prepare("SELECT v FROM t WHERE id = ?")?;
        let mut c = Check::default();
        for &id in ids {
            let mut rows = st.query(&[&id])?;
            while let Some(r) = rows.step()? {
                let v: String = r.get(0)?;
                c.add(id, &v);
            }
        }
        Ok(c)
    }

    fn scan_by_id(&mut self, starts: &[i64], len: i64) -> Result<Check> {
        let st = self
            .session
            .prepare("SELECT id, v FROM t WHERE id >= ? AND id < ?")?;
        let mut c = Check::default();
        for &s in starts {
            let mut rows = st.query(&[&s, &(s + len)])?;
            while let Some(r) = rows.step()? {
                let id: i64 = r.get(0)?;
                let v: String = r.get(1)?;
                c.add(id, &v);
            }
        }
        Ok(c)
    }

    fn aggregate(&mut self) -> Result<Check> {
        let mut rows = self
            .session
            .query("SELECT COUNT(*), SUM(k), SUM(LENGTH(v)) FROM t", &[])?;
        let r = rows.next()?.context("aggregate returned no row")?;
        let (n, k, l): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        Ok(Check {
            rows: n as u64,
            sum: (k as u64).wrapping_add(l as u64),
        })
    }

    fn count_star(&mut self) -> Result<Check> {
        let mut rows = self.session.query("SELECT COUNT(*) FROM t", &[])?;
        let r = rows.next()?.context("COUNT(*) returned no row")?;
        let n: i64 = r.get(0)?;
        Ok(Check {
            rows: n as u64,
            sum: 0,
        })
    }

    fn full_scan(&mut self) -> Result<Check> {
        let mut rows = self.session.query("SELECT id, v FROM t", &[])?;
        let mut c = Check::default();
        while let Some(r) = rows.step()? {
            let id: i64 = r.get(0)?;
            let v: String = r.get(1)?;
            c.add(id, &v);
        }
        Ok(c)
    }

    fn get_by_k(&mut self, ks: &[i64]) -> Result<Check> {
        let st = self.session.prepare("SELECT id, v FROM t WHERE k = ?")?;
        let mut c = Check::default();
        for &k in ks {
            let mut rows = st.query(&[&k])?;
            while let Some(r) = rows.step()? {
                let id: i64 = r.get(0)?;
                let v: String = r.get(1)?;
                c.add(id, &v);
            }
        }
        Ok(c)
    }

    fn version(&mut self) -> Result<String> {
        Ok("sealdb (this checkout)".to_string())
    }
}
