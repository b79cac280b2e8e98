//! The peer side of the SQL benchmark: the same workloads as sealdb's, run
//! through rusqlite against SQLite (`--features sqlite`) or SQLCipher 4.x
//! (`--features sqlcipher`). One source, two binaries, because both link a
//! library named `sqlite3`.
//!
//! Settings, the same for both: one file `db.sqlite` in the directory,
//! `journal_mode=WAL`, `synchronous=NORMAL` (commits reach the OS, the WAL
//! is fsynced at checkpoints: like sealdb's `SyncMode::Normal`), a 64 MiB
//! page cache, 4 KiB pages. SQLCipher gets a raw 256-bit key
//! (`PRAGMA key = "x'…'"`), so no key derivation is timed, and otherwise its
//! default cipher settings (AES-256-CBC, HMAC-SHA512 per page, 4 KiB pages).
//!
//! ```text
//!   sealdb-sql-peer worker --engine sqlite|sqlcipher --size ci --dir DIR
//! ```

use std::path::Path;

use anyhow::{bail, Context, Result};
use rusqlite::Connection;
use sealdb_sql_bench_common::{run_worker, Check, Row, SqlDb, WorkerArgs, CACHE_BYTES, PAGE_BYTES};

#[cfg(all(feature = "sqlite", feature = "sqlcipher"))]
compile_error!("build the peer with exactly one of the features `sqlite`, `sqlcipher`");
#[cfg(not(any(feature = "sqlite", feature = "sqlcipher")))]
compile_error!("build the peer with `--features sqlite` or `--features sqlcipher`");

/// The engine this binary was built for.
#[cfg(feature = "sqlcipher")]
const ENGINE: &str = "sqlcipher";
#[cfg(not(feature = "sqlcipher"))]
const ENGINE: &str = "sqlite";

/// SQLCipher's raw key: 32 bytes as hex (the same bytes as sealdb-aes256's).
const RAW_KEY_HEX: &str = "4242424242424242424242424242424242424242424242424242424242424242";

struct Peer {
    conn: Connection,
}

impl SqlDb for Peer {
    fn open(engine: &str, dir: &Path) -> Result<Peer> {
        if engine != ENGINE {
            bail!("this peer binary runs {ENGINE}, not {engine}");
        }
        let conn = Connection::open(dir.join("db.sqlite")).context("open")?;
        if ENGINE == "sqlcipher" {
            conn.execute_batch(&format!("PRAGMA key = \"x'{RAW_KEY_HEX}'\";"))?;
        } else {
            conn.execute_batch(&format!("PRAGMA page_size = {PAGE_BYTES};"))?;
        }
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if mode != "wal" {
            bail!("journal_mode is {mode}, not wal");
        }
        conn.execute_batch(&format!(
            "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{};",
            CACHE_BYTES / 1024
        ))?;
        // SQLCipher answers `PRAGMA page_size` as text (`cipher_page_size`).
        let page: String = conn.query_row("PRAGMA page_size", [], |r| {
            r.get_ref(0).map(|v| match v {
                rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                other => String::from_utf8_lossy(other.as_bytes().unwrap_or_default()).into(),
            })
        })?;
        if page != PAGE_BYTES.to_string() {
            bail!("page size is {page}, not {PAGE_BYTES}");
        }
        Ok(Peer { conn })
    }

    fn exec(&mut self, sql: &str) -> Result<()> {
        Ok(self.conn.execute_batch(sql)?)
    }

    fn insert(&mut self, rows: &[Row], per_txn: usize) -> Result<()> {
        let mut st = self
            .conn
            .prepare("INSERT INTO t (id, k, v) VALUES (?, ?, ?)")?;
        for chunk in rows.chunks(per_txn.max(1)) {
            if per_txn > 1 {
                self.conn.execute_batch("BEGIN")?;
            }
            for r in chunk {
                st.execute((r.id, r.k, r.v.as_str()))?;
            }
            if per_txn > 1 {
                self.conn.execute_batch("COMMIT")?;
            }
        }
        Ok(())
    }

    fn get_by_id(&mut self, ids: &[i64]) -> Result<Check> {
        let mut st = self.conn.prepare("SELECT v FROM t WHERE id = ?")?;
        let mut c = Check::default();
        for &id in ids {
            let mut rows = st.query([id])?;
            while let Some(r) = rows.next()? {
                let v: String = r.get(0)?;
                c.add(id, &v);
            }
        }
        Ok(c)
    }

    fn scan_by_id(&mut self, starts: &[i64], len: i64) -> Result<Check> {
        let mut st = self
            .conn
            .prepare("SELECT id, v FROM t WHERE id >= ? AND id < ?")?;
        let mut c = Check::default();
        for &s in starts {
            let mut rows = st.query([s, s + len])?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                let v: String = r.get(1)?;
                c.add(id, &v);
            }
        }
        Ok(c)
    }

    fn aggregate(&mut self) -> Result<Check> {
        let (n, k, l): (i64, i64, i64) =
            self.conn
                .query_row("SELECT COUNT(*), SUM(k), SUM(LENGTH(v)) FROM t", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
        Ok(Check {
            rows: n as u64,
            sum: (k as u64).wrapping_add(l as u64),
        })
    }

    fn count_star(&mut self) -> Result<Check> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?;
        Ok(Check {
            rows: n as u64,
            sum: 0,
        })
    }

    fn full_scan(&mut self) -> Result<Check> {
        let mut st = self.conn.prepare("SELECT id, v FROM t")?;
        let mut rows = st.query([])?;
        let mut c = Check::default();
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let v: String = r.get(1)?;
            c.add(id, &v);
        }
        Ok(c)
    }

    fn get_by_k(&mut self, ks: &[i64]) -> Result<Check> {
        let mut st = self.conn.prepare("SELECT id, v FROM t WHERE k = ?")?;
        let mut c = Check::default();
        for &k in ks {
            let mut rows = st.query([k])?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                let v: String = r.get(1)?;
                c.add(id, &v);
            }
        }
        Ok(c)
    }

    fn version(&mut self) -> Result<String> {
        let sqlite: String = self
            .conn
            .query_row("SELECT sqlite_version()", [], |r| r.get(0))?;
        if ENGINE == "sqlcipher" {
            let cipher: String = self
                .conn
                .query_row("PRAGMA cipher_version", [], |r| r.get(0))?;
            let provider: String =
                self.conn
                    .query_row("PRAGMA cipher_provider_version", [], |r| r.get(0))?;
            Ok(format!("SQLCipher {cipher} (SQLite {sqlite}, {provider})"))
        } else {
            Ok(format!("SQLite {sqlite}"))
        }
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("worker") => run_worker::<Peer>(&WorkerArgs::parse(&args[1..])?),
        _ => bail!("usage: sealdb-sql-peer worker --engine {ENGINE} --size ci|full --dir DIR"),
    }
}
