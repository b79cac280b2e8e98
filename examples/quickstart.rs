//! The main job: open an encrypted store with a key file (made on first use),
//! write sealed records, read them back, and print the encryption status.
//!
//! `cargo run --release --example quickstart [DIR]` (default `./sealdb-demo`).

use std::path::PathBuf;
use std::sync::Arc;

use sealdb::crypto::provider::generate_key_file;
use sealdb::vfs::{FileKind, KeyOptions, OsVfs, SealedDir, Vfs};
use sealdb::{FileKeyProvider, KeyProvider};

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
    let provider: Arc<dyn KeyProvider> = Arc::new(FileKeyProvider::new(&key_file)?);
    let vfs: Arc<dyn Vfs> = Arc::new(OsVfs::new());
    let store = SealedDir::open(vfs, &dir, provider, KeyOptions::default())?;

    let name = format!("demo-{}.log", std::process::id());
    let mut w = store.create_file(&name, FileKind::Temp)?;
    for i in 0..3 {
        w.append_record(format!("record {i}: hello, sealed world").as_bytes())?;
    }
    w.sync()?;
    drop(w);
    store.vfs().sync_dir(store.dir())?;

    let r = store.open_file(&name, FileKind::Temp)?;
    for rec in r.records() {
        let (offset, payload) = rec?;
        println!("read @{offset}: {}", String::from_utf8_lossy(&payload));
    }

    let status = store.encryption_status(|_| true)?;
    println!("store key   {}", status.store_key_id);
    println!(
        "active data key {} ({})",
        status.active_data_key_id, status.active_cipher
    );
    for f in &status.files {
        println!(
            "  {:<24} {:>8} bytes  {}  key {}",
            f.name, f.size, f.cipher, f.key_id
        );
    }
    println!(
        "share of bytes under the active data key: {:.1}%",
        status.active_share() * 100.0
    );
    Ok(())
}
