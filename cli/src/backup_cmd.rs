//! `sealdb checkpoint`, `sealdb backup` and `sealdb restore`:
//!
//! ```text
//!   sealdb checkpoint --db DIR KEY --to DIR
//!   sealdb backup --db DIR STORE --to DIR [PASS]
//!                 [--no-store-key] [--incremental-from DIR] [--threads N]
//!   sealdb backup verify DIR [--key-file K] [PASS]
//!   sealdb backup show DIR [--key-file K] [PASS]
//!   sealdb restore --from DIR --to DIR STORE [PASS]
//!                  [--backup-key-file K2] [--threads N]
//!
//!   STORE: the store key, one of
//!     --key-file K                the key file
//!     --store-passphrase-file F   the store's passphrase, from a file
//!     --store-passphrase          the store's passphrase, from
//!                                 SEALDB_PASSPHRASE or the terminal
//!   PASS: the backup's passphrase, one of
//!     --passphrase-file F     its first line
//!     --passphrase-env VAR    the environment variable VAR
//!     --ask-passphrase        asked on the terminal (twice for a new backup)
//! ```
//!
//! KEY is the store key as every command takes it (`store_key.rs`); STORE
//! is the same, its passphrase options named for the store because here
//! `--passphrase-file` is the backup's (a bare `--passphrase` is refused
//! with a message saying which is which). A passphrase is never a value
//! on the command line (where `ps` and the shell history would show it).
//! A backup is unlocked by the store key that wrapped it (`--key-file`)
//! or by its passphrase; a restore re-encrypts everything under STORE,
//! which need not be the key the backup was made with
//! (`--backup-key-file` names that one, when it is not the passphrase).
//! A store key derived from a passphrase depends on its store's salt,
//! which the backup records beside its store-key wrap (a
//! "store passphrase" wrap): the store's passphrase alone unlocks it,
//! given as STORE to `sealdb restore` (the new store then has that
//! passphrase and a new salt), or as PASS (`--passphrase-file` etc.) to
//! `restore` under another key and to `backup verify` and `backup show`.
//! `--threads` sets the files worked
//! on at once (default: one per CPU, at most 4); fewer leave more of the
//! machine to the store's workload while a backup runs. Long runs draw a
//! progress bar on stderr.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use sealdb::backup::{self, BackupKeys, BackupOptions, BackupProgress, KdfParams, RestoreOptions};
use sealdb::{Db, FileKeyProvider, KeyProvider};
use zeroize::Zeroizing;

use crate::store_key::{BackupStoreKeyArgs, StoreKeyArgs, StoreKeySource};
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
    #[command(flatten)]
    store: BackupStoreKeyArgs,
    #[command(flatten)]
    misnamed: MisnamedPassphrase,
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
    /// Files backed up at once (default 0: one per CPU, at most 4); fewer
    /// leave more CPU to the store's workload and take longer.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

/// `--passphrase`, which other commands take for the store's passphrase:
/// here it would be ambiguous beside the backup's `--passphrase-file`, so
/// it is refused with the right names.
#[derive(Args, Default)]
struct MisnamedPassphrase {
    #[arg(long, hide = true)]
    passphrase: bool,
}

impl MisnamedPassphrase {
    fn check(&self) -> Fallible<()> {
        if self.passphrase {
            return Err("--passphrase is ambiguous here: the store's passphrase is --store-passphrase (SEALDB_PASSPHRASE or the terminal) or --store-passphrase-file F; the backup's own is --passphrase-env VAR, --passphrase-file F or --ask-passphrase".into());
        }
        Ok(())
    }
}

/// Opens the store `db` with the key `source` names; a key that does not
/// open it is reported as that option's fault.
fn open_store(db: &Path, source: StoreKeySource<'_>) -> Fallible<Db> {
    match Db::open(db, source.provider(None)?) {
        Ok(db) => Ok(db),
        Err(e @ sealdb::Error::KeyUnavailable { .. }) => Err(format!(
            "{} does not open {}: {} ({e})",
            source.describe(),
            db.display(),
            if source.is_passphrase() {
                "wrong passphrase"
            } else {
                "wrong key"
            }
        )
        .into()),
        Err(e) => Err(e.into()),
    }
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
    /// The new store's key (everything is re-encrypted under it).
    #[command(flatten)]
    store: BackupStoreKeyArgs,
    #[command(flatten)]
    misnamed: MisnamedPassphrase,
    #[command(flatten)]
    pass: PassArgs,
    /// The store key that wrapped the backup, if not `--key-file`.
    #[arg(long)]
    backup_key_file: Option<PathBuf>,
    /// Tables restored at once (default 0: one per CPU, at most 4).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
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
    a.misnamed.check()?;
    let (Some(db), Some(source), Some(to)) = (a.db, a.store.source(), a.to) else {
        return Err(
            "sealdb backup needs --db, the store key (--key-file, --store-passphrase-file or --store-passphrase) and --to (or: backup verify|show DIR)".into(),
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
        threads: a.threads.unwrap_or(0),
        ..BackupOptions::default()
    };
    options.passphrase = a.pass.get(true)?;
    let db = open_store(&db, source)?;
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
    a.misnamed.check()?;
    let Some(source) = a.store.source() else {
        return Err("sealdb restore needs the new store's key: --key-file, --store-passphrase-file or --store-passphrase".into());
    };
    let provider = source.provider(None)?;
    let mut unlock = BackupKeys::default();
    if let Some(k) = &a.backup_key_file {
        unlock.provider = Some(Arc::new(FileKeyProvider::new(k)?));
    }
    unlock.passphrase = a.pass.get(false)?;
    let options = RestoreOptions {
        keys: unlock,
        threads: a.threads.unwrap_or(0),
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
