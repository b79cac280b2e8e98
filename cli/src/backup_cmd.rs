//! `sealdb checkpoint`, `sealdb backup` and `sealdb restore`:
//!
//! ```text
//!   sealdb checkpoint --db DIR KEY --to DIR
//!   sealdb backup --db DIR --key-file K --to DIR [PASS]
//!                 [--no-store-key] [--incremental-from DIR]
//!   sealdb backup verify DIR [--key-file K] [PASS]
//!   sealdb backup show DIR [--key-file K] [PASS]
//!   sealdb restore --from DIR --to DIR --key-file K [PASS]
//!                  [--backup-key-file K2]
//!
//!   PASS: the backup's passphrase, one of
//!     --passphrase-file F     its first line
//!     --passphrase-env VAR    the environment variable VAR
//!     --ask-passphrase        asked on the terminal (twice for a new backup)
//! ```
//!
//! KEY is the store key as every command takes it (`store_key.rs`). A
//! passphrase is never a value on the command line (where `ps` and the
//! shell history would show it). A backup is unlocked by the store key
//! that wrapped it (`--key-file`) or by its passphrase; a restore
//! re-encrypts everything under `--key-file`, which need not be the key
//! the backup was made with (`--backup-key-file` names that one, when it
//! is not the passphrase). Long runs draw a progress bar on stderr.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use sealdb::backup::{self, BackupKeys, BackupOptions, BackupProgress, KdfParams, RestoreOptions};
use sealdb::{Db, FileKeyProvider, KeyProvider};
use zeroize::Zeroizing;

use crate::store_key::StoreKeyArgs;
use crate::Fallible;

/// `sealdb backup`: make one, or check or describe one.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupCommand {
    #[command(subcommand)]
    action: Option<BackupAction>,
    #[command(flatten)]
    create: CreateArgs,
}

/// Where the backup's passphrase comes from (at most one).
#[derive(Args, Default)]
#[group(required = false, multiple = false)]
struct PassArgs {
    /// The backup's passphrase: the first line of this file.
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
    /// The backup's passphrase: the value of this environment variable.
    #[arg(long, value_name = "VAR")]
    passphrase_env: Option<String>,
    /// Ask for the backup's passphrase on the terminal.
    #[arg(long)]
    ask_passphrase: bool,
}

impl PassArgs {
    /// The passphrase, if one was named; `confirm` asks twice (a new
    /// backup, where a typo would lock it for good).
    fn get(&self, confirm: bool) -> Fallible<Option<Zeroizing<Vec<u8>>>> {
        let p = if let Some(f) = &self.passphrase_file {
            read_passphrase(f)?
        } else if let Some(var) = &self.passphrase_env {
            let v = std::env::var_os(var)
                .ok_or_else(|| format!("--passphrase-env: {var} is not set"))?;
            let v = Zeroizing::new(v.into_encoded_bytes());
            if v.is_empty() {
                return Err(format!("--passphrase-env: {var} is empty").into());
            }
            v
        } else if self.ask_passphrase {
            if !std::io::stdin().is_terminal() {
                return Err("--ask-passphrase needs a terminal (or use --passphrase-env or --passphrase-file)".into());
            }
            let p = Zeroizing::new(rpassword::prompt_password("backup passphrase: ")?);
            if p.is_empty() {
                return Err("the passphrase is empty".into());
            }
            if confirm {
                let again = Zeroizing::new(rpassword::prompt_password("again: ")?);
                if *again != *p {
                    return Err("the passphrases differ".into());
                }
            }
            Zeroizing::new(p.as_bytes().to_vec())
        } else {
            return Ok(None);
        };
        Ok(Some(p))
    }
}

#[derive(Args)]
struct CreateArgs {
    /// The database directory.
    #[arg(long)]
    db: Option<PathBuf>,
    /// The store key file.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// The backup directory to create (new or empty).
    #[arg(long)]
    to: Option<PathBuf>,
    /// Also wrap the backup's key with a passphrase.
    #[command(flatten)]
    pass: PassArgs,
    /// Do not wrap the backup's key with the store key (needs a passphrase).
    #[arg(long)]
    no_store_key: bool,
    /// Copy only what this earlier backup (and its chain) lacks.
    #[arg(long)]
    incremental_from: Option<PathBuf>,
    /// argon2id memory cost of the passphrase wrap, in KiB.
    #[arg(long)]
    kdf_memory_kib: Option<u32>,
    /// argon2id passes of the passphrase wrap.
    #[arg(long)]
    kdf_iterations: Option<u32>,
}

#[derive(Subcommand)]
enum BackupAction {
    /// Checks every file of a backup and its chain; exits 1 naming the
    /// first bad one.
    Verify(UnlockArgs),
    /// Shows what a backup holds.
    Show(UnlockArgs),
}

#[derive(Args)]
struct UnlockArgs {
    /// The backup directory.
    dir: PathBuf,
    /// A store key file that wrapped the backup's key.
    #[arg(long)]
    key_file: Option<PathBuf>,
    #[command(flatten)]
    pass: PassArgs,
}

/// `sealdb checkpoint`.
#[derive(Args)]
pub struct CheckpointArgs {
    /// The database directory.
    #[arg(long)]
    db: PathBuf,
    #[command(flatten)]
    keys: StoreKeyArgs,
    /// The copy's directory (new or empty, on the same file system for
    /// hard links).
    #[arg(long)]
    to: PathBuf,
}

/// `sealdb checkpoint`: a consistent copy of the store, under its own
/// keys, taken while it stays usable (audited in the source's log).
pub fn checkpoint(a: CheckpointArgs) -> Fallible<()> {
    let db = Db::open(&a.db, a.keys.provider(None)?)?;
    let s = db.checkpoint(&a.to)?;
    println!(
        "checkpoint at sequence {} into {}: {} tables",
        s.sequence,
        s.dir.display(),
        s.tables
    );
    Ok(())
}

/// `sealdb restore`.
#[derive(Args)]
pub struct RestoreArgs {
    /// The backup directory (the newest of a chain).
    #[arg(long)]
    from: PathBuf,
    /// The new store's directory (new or empty).
    #[arg(long)]
    to: PathBuf,
    /// The new store's key file (everything is re-encrypted under it).
    #[arg(long)]
    key_file: PathBuf,
    #[command(flatten)]
    pass: PassArgs,
    /// The store key that wrapped the backup, if not `--key-file`.
    #[arg(long)]
    backup_key_file: Option<PathBuf>,
}

fn read_passphrase(path: &Path) -> Fallible<Zeroizing<Vec<u8>>> {
    let raw = Zeroizing::new(std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?);
    let line = raw.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(format!("{}: the passphrase is empty", path.display()).into());
    }
    Ok(Zeroizing::new(line.to_vec()))
}

fn keys(key_file: Option<&PathBuf>, pass: &PassArgs) -> Fallible<BackupKeys> {
    let mut keys = BackupKeys::default();
    if let Some(k) = key_file {
        keys.provider = Some(Arc::new(FileKeyProvider::new(k)?) as Arc<dyn KeyProvider>);
    }
    keys.passphrase = pass.get(false)?;
    if keys.provider.is_none() && keys.passphrase.is_none() {
        return Err(
            "give --key-file, --passphrase-file, --passphrase-env or --ask-passphrase to unlock the backup"
                .into(),
        );
    }
    Ok(keys)
}

/// A progress bar on stderr, redrawn at most ten times a second.
struct Bar {
    last: Option<Instant>,
    verb: &'static str,
    live: bool,
}

impl Bar {
    fn new(verb: &'static str) -> Bar {
        Bar {
            last: None,
            verb,
            live: std::io::stderr().is_terminal(),
        }
    }

    fn draw(&mut self, p: BackupProgress) {
        let done = p.files_done == p.files_total;
        if !self.live
            || (!done
                && self
                    .last
                    .is_some_and(|t| t.elapsed() < Duration::from_millis(100)))
        {
            return;
        }
        self.last = Some(Instant::now());
        let width = 30;
        let filled = ((p.bytes_done.min(p.bytes_total) as u128 * width as u128)
            .checked_div(p.bytes_total as u128)
            .unwrap_or(width as u128)) as usize;
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        eprint!(
            "\r{} [{}{}] {}/{} files, {:.1}/{:.1} MiB",
            self.verb,
            "#".repeat(filled),
            " ".repeat(width - filled),
            p.files_done,
            p.files_total,
            mib(p.bytes_done),
            mib(p.bytes_total)
        );
        let _ = std::io::stderr().flush();
    }

    fn end(&self) {
        if self.live && self.last.is_some() {
            eprintln!();
        }
    }
}

pub fn backup(cmd: BackupCommand) -> Fallible<()> {
    match cmd.action {
        Some(BackupAction::Verify(a)) => {
            let keys = keys(a.key_file.as_ref(), &a.pass)?;
            let mut bar = Bar::new("verifying");
            let report = backup::verify(&a.dir, &keys, None, |p| bar.draw(p));
            bar.end();
            let report = report?;
            for b in &report.backups {
                println!(
                    "{}: backup {}, {} files, {} bytes",
                    b.dir.display(),
                    b.id,
                    b.files,
                    b.bytes
                );
            }
            println!(
                "ok: {} backup(s) in the chain, {} files, {} bytes, every file authenticated",
                report.backups.len(),
                report.files(),
                report.bytes()
            );
        }
        Some(BackupAction::Show(a)) => {
            let keys = keys(a.key_file.as_ref(), &a.pass)?;
            let info = backup::show(&a.dir, &keys, None)?;
            println!("id: {}", info.id);
            println!(
                "created: {} UTC",
                sealdb::auth::state::format_timestamp(info.created_ms.div_euclid(1000))
            );
            match &info.parent {
                Some((location, id)) => println!("kind: incremental\nparent: {location} ({id})"),
                None => println!("kind: full"),
            }
            println!("sequence: {}", info.sequence);
            println!("tables: {}", info.sql_tables.join(", "));
            println!("files: {}", info.files);
            println!("size: {} bytes", info.bytes);
            println!("audit head: {}", info.audit_head);
            for w in &info.wraps {
                println!("key wrap: {w}");
            }
        }
        None => create(cmd.create)?,
    }
    Ok(())
}

fn create(a: CreateArgs) -> Fallible<()> {
    let (Some(db), Some(key_file), Some(to)) = (a.db, a.key_file, a.to) else {
        return Err(
            "sealdb backup needs --db, --key-file and --to (or: backup verify|show DIR)".into(),
        );
    };
    let defaults = KdfParams::default();
    let mut options = BackupOptions {
        store_key_wrap: !a.no_store_key,
        parent: a.incremental_from,
        kdf: KdfParams {
            memory_kib: a.kdf_memory_kib.unwrap_or(defaults.memory_kib),
            iterations: a.kdf_iterations.unwrap_or(defaults.iterations),
            parallelism: defaults.parallelism,
        },
        ..BackupOptions::default()
    };
    options.passphrase = a.pass.get(true)?;
    let db = Db::open(&db, FileKeyProvider::new(&key_file)?)?;
    let mut bar = Bar::new("backing up");
    let s = db.backup(&to, &options, |p| bar.draw(p));
    bar.end();
    let s = s?;
    let kind = match &s.parent {
        Some(p) => format!("incremental on {}", p.display()),
        None => "full".to_string(),
    };
    println!(
        "backup {} ({kind}) at sequence {}: {} files, {} bytes, {} of {} tables copied",
        s.id, s.sequence, s.files, s.bytes, s.tables_copied, s.tables
    );
    Ok(())
}

pub fn restore(a: RestoreArgs) -> Fallible<()> {
    let provider = FileKeyProvider::new(&a.key_file)?;
    let mut unlock = BackupKeys::default();
    if let Some(k) = &a.backup_key_file {
        unlock.provider = Some(Arc::new(FileKeyProvider::new(k)?));
    }
    unlock.passphrase = a.pass.get(false)?;
    let options = RestoreOptions {
        keys: unlock,
        ..RestoreOptions::default()
    };
    let mut bar = Bar::new("restoring");
    let s = Db::restore(&a.from, &a.to, provider, &options, |p| bar.draw(p));
    bar.end();
    let s = s?;
    println!(
        "restored backup {} ({} backup(s) in its chain) into {}: {} tables, sequence {}",
        s.backup_id,
        s.chain,
        a.to.display(),
        s.tables,
        s.sequence
    );
    Ok(())
}
