//! The main job: an encrypted database in `./sealdb-demo` (AES-256 key file
//! `./sealdb-demo.key`, made on first use), SQL run against it as root and
//! as a second user who sees only what it was granted, the audit log
//! checked, and the encryption status of its files.
//!
//! `cargo run --release --example quickstart [DIR]`

use std::path::PathBuf;

use sealdb::crypto::provider::generate_key_file;
use sealdb::{ClientInfo, Credentials, Db, FileKeyProvider};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "sealdb-demo".into()),
    );
    let key_file = dir.with_extension("key");
    if !key_file.exists() {
        let id = generate_key_file(&key_file, 256)?;
        println!("created AES-256 store key {id} in {}", key_file.display());
    }
    let db = Db::open(&dir, FileKeyProvider::new(&key_file)?)?;
    let s = db.root_session();
    s.execute(
        "CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY, who TEXT NOT NULL, at INTEGER)",
        &[],
    )?;
    s.execute("CREATE INDEX IF NOT EXISTS visits_who ON visits (who)", &[])?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let tx = s.transaction()?;
    for who in ["alice", "bob", "alice"] {
        tx.execute("INSERT INTO visits (who, at) VALUES (?, ?)", &[&who, &now])?;
    }
    tx.commit()?;

    let mut rows = s.query(
        "SELECT who, count(*) AS n, max(id) FROM visits GROUP BY who ORDER BY n DESC, who",
        &[],
    )?;
    println!("{:<8} {:>6} {:>8}", "who", "visits", "last id");
    while let Some(row) = rows.next()? {
        println!(
            "{:<8} {:>6} {:>8}",
            row.get::<String>(0)?,
            row.get::<i64>(1)?,
            row.get::<i64>(2)?
        );
    }

    // A second user: may read the counts through a view, not the table.
    s.execute(
        "CREATE USER IF NOT EXISTS analyst WITH PASSWORD 'demo-only'",
        &[],
    )?;
    s.execute(
        "CREATE VIEW IF NOT EXISTS visit_counts AS SELECT who, count(*) AS n FROM visits GROUP BY who",
        &[],
    )?;
    s.execute("GRANT SELECT ON visit_counts TO analyst", &[])?;
    s.execute("ALTER TABLE visits EXPERIMENTAL_AUDIT SET READ WRITE", &[])?;
    let analyst = db.connect(
        Credentials::password("analyst", "demo-only"),
        ClientInfo::new(Some("127.0.0.1".parse()?), "quickstart"),
    )?;
    let n: i64 = analyst
        .query("SELECT sum(n) FROM visit_counts", &[])?
        .next()?
        .map(|r| r.get(0))
        .transpose()?
        .unwrap_or(0);
    println!("analyst sees {n} visits in total through the view");
    match analyst.query("SELECT * FROM visits", &[]) {
        Ok(_) => println!("analyst could read visits (unexpected)"),
        Err(e) => println!("analyst reading the table: {e}"),
    }
    let audit = db.audit_verify()?;
    println!(
        "audit log: {} records, chain {}",
        audit.intact,
        if audit.is_intact() {
            "intact"
        } else {
            "BROKEN"
        }
    );

    let status = db.engine().encryption_status()?;
    println!(
        "store key {}, active data key {} ({}), {:.0}% of {} bytes under it",
        status.store_key_id,
        status.active_data_key_id,
        status.active_cipher,
        status.active_share() * 100.0,
        status.total_bytes()
    );
    for f in &status.files {
        println!(
            "  {:<18} {:>9} bytes  {:<12} key {}",
            f.name,
            f.size,
            f.cipher.to_string(),
            f.key_id
        );
    }
    Ok(())
}
