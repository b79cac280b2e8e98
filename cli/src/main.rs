//! `sealdb`: the command-line shell.
//!
//! ```text
//!   sealdb keygen --bits 128|192|256 --out FILE
//!   sealdb sql --db DIR KEY [--user NAME] [-e SQL]...
//!   sealdb encryption-status --db DIR KEY
//!   sealdb rotate --db DIR KEY [--old-key-file FILE]
//!   sealdb audit verify --db DIR KEY [--checkpoint FILE]
//!   sealdb audit checkpoint --db DIR KEY [--out FILE]
//!   sealdb audit export --db DIR KEY [--out FILE]
//!   sealdb checkpoint --db DIR KEY --to DIR
//!   sealdb backup --db DIR STORE --to DIR [PASS] [--threads N] ...
//!   sealdb backup verify|show DIR [--key-file FILE] [PASS]
//!   sealdb restore --from DIR --to DIR STORE [PASS] [--threads N] ...
//!   sealdb cert create-ca|create-node|create-client|revoke|list ...  (cert.rs)
//!   sealdb node --config FILE          run a cluster node (node.rs)
//!   sealdb cluster status|add|remove|transfer|sql --config FILE ...  (cluster.rs)
//! ```
//!
//! KEY is `--key-file FILE`, `--passphrase-file FILE` or `--passphrase`
//! (see `store_key.rs`; the last two also as `--store-passphrase-file` and
//! `--store-passphrase`). Checkpoints, backups and restores:
//! `backup_cmd.rs`, where STORE is `--key-file FILE`,
//! `--store-passphrase-file FILE` or `--store-passphrase`, and PASS (a
//! backup's passphrase) is `--passphrase-file FILE`, `--passphrase-env
//! VAR` or `--ask-passphrase`.
//!
//! With `--user NAME` (other than root) the session logs in as that user
//! with the password from `SEALDB_PASSWORD`, or asked on the terminal;
//! without it, the holder of the key file works as root.
//!
//! `sql` runs the `-e` statements, or a script from stdin, or (on a
//! terminal) the interactive shell of `shell.rs`, with line editing and a
//! history file that never records secrets (`history.rs`). Rows print one
//! per line, columns separated by `|`, NULL as an empty field (sqlite3's
//! default; `output.rs`). Any failure prints one line `error: …` to stderr
//! and exits with status 1; the interactive shell reports it and keeps
//! going.
//!
//! The binary is the `sealdb-cli` package's: `cargo install --locked
//! --path cli`, or `cargo build --release -p sealdb-cli` (see
//! cli/README.md).

#[cfg(unix)]
mod admin;
mod audit_cmd;
mod backup_cmd;
#[cfg(unix)]
mod cluster;
mod history;
#[cfg(unix)]
mod node;
mod output;
mod shell;
mod statement_end;
mod store_key;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod cert;

use clap::{Parser, Subcommand};

mod inspect;
use sealdb::crypto::provider::generate_key_file;
use sealdb::{ClientInfo, Credentials, Db, Session};
use store_key::StoreKeyArgs;

use crate::output::run_sql;

#[derive(Parser)]
#[command(name = "sealdb", version, about = "An encrypted embedded SQL database")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes a new random store key to a file (hex, mode 0600).
    Keygen {
        /// Key size: 128, 192 or 256.
        #[arg(long, default_value_t = 256)]
        bits: u32,
        /// The key file to create (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Runs SQL against a database.
    Sql {
        /// The database directory.
        #[arg(long)]
        db: PathBuf,
        #[command(flatten)]
        keys: StoreKeyArgs,
        /// Run as this user (password from SEALDB_PASSWORD).
        #[arg(long)]
        user: Option<String>,
        /// A statement to run (repeatable); without it, stdin is read.
        #[arg(short = 'e', long = "execute")]
        execute: Vec<String>,
    },
    /// Shows which keys encrypt the database's files.
    EncryptionStatus {
        /// The database directory.
        #[arg(long)]
        db: PathBuf,
        #[command(flatten)]
        keys: StoreKeyArgs,
    },
    /// Rewrites every file under the active data key.
    Rotate {
        /// The database directory.
        #[arg(long)]
        db: PathBuf,
        /// The (new) store key.
        #[command(flatten)]
        keys: StoreKeyArgs,
        /// The previous store key, when the store key was changed.
        #[arg(long)]
        old_key_file: Option<PathBuf>,
    },
    /// Checks or exports the audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Writes a consistent copy of the database (same keys) while it stays
    /// usable.
    Checkpoint(backup_cmd::CheckpointArgs),
    /// Makes an encrypted backup while the database stays usable, or
    /// checks (`verify`) or describes (`show`) one.
    Backup(backup_cmd::BackupCommand),
    /// Restores a backup into a new store under your own key.
    Restore(backup_cmd::RestoreArgs),
    /// Makes, revokes and lists the cluster's certificates.
    Cert {
        #[command(subcommand)]
        action: cert::CertAction,
    },
    /// Runs a replicated node until SIGTERM (SIGHUP reloads certificates).
    #[cfg(unix)]
    Node {
        /// The node's configuration file (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Asks a running node about its cluster, changes the membership, or
    /// runs SQL on it.
    #[cfg(unix)]
    Cluster {
        #[command(subcommand)]
        action: cluster::ClusterAction,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Checks the hash chain; exits 1 naming the first bad record.
    Verify {
        /// The database directory.
        #[arg(long)]
        db: PathBuf,
        #[command(flatten)]
        keys: StoreKeyArgs,
        /// Also prove the log still contains this checkpoint unchanged.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Verifies the chain and writes a checkpoint of its head (sequence,
    /// hash, time) to keep outside the database.
    Checkpoint {
        /// The database directory.
        #[arg(long)]
        db: PathBuf,
        #[command(flatten)]
        keys: StoreKeyArgs,
        /// Write here (a new file, mode 0600) instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Writes the records as JSON lines.
    Export {
        /// The database directory.
        #[arg(long)]
        db: PathBuf,
        #[command(flatten)]
        keys: StoreKeyArgs,
        /// Write here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// The session for `--user`: root for the key holder, else a login.
fn session_for(db: &Db, user: Option<String>) -> Fallible<Session> {
    let Some(user) = user.filter(|u| !u.eq_ignore_ascii_case("root")) else {
        return Ok(db.root_session());
    };
    let password = match std::env::var("SEALDB_PASSWORD") {
        Ok(p) => p,
        Err(_) if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("password for {user}: "))?
        }
        Err(_) => {
            return Err(format!("no password for {user}: set SEALDB_PASSWORD").into());
        }
    };
    Ok(db.connect(
        Credentials::password(&user, &password),
        ClientInfo::local("sealdb-cli"),
    )?)
}

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn open(db: &PathBuf, keys: &StoreKeyArgs, old: Option<&Path>) -> Fallible<Db> {
    Ok(Db::open(db, keys.provider(old)?)?)
}

fn run(cli: Cli) -> Fallible<()> {
    match cli.command {
        Command::Cert { action } => cert::run(action)?,
        #[cfg(unix)]
        Command::Node { config } => node::run(&config)?,
        #[cfg(unix)]
        Command::Cluster { action } => cluster::run(action)?,
        Command::Keygen { bits, out } => {
            let id = generate_key_file(&out, bits)?;
            println!("{id}");
        }
        Command::Sql {
            db,
            keys,
            user,
            execute,
        } => {
            let db = open(&db, &keys, None)?;
            let session = session_for(&db, user)?;
            if !execute.is_empty() {
                for sql in &execute {
                    run_sql(&session, sql)?;
                }
            } else if std::io::stdin().is_terminal() {
                shell::run(&session)?;
            } else {
                let mut script = String::new();
                std::io::stdin().read_to_string(&mut script)?;
                run_sql(&session, &script)?;
            }
        }
        Command::EncryptionStatus { db, keys } => {
            let db = inspect::open_read_only(&db, &keys)?;
            let st = db.encryption_status()?;
            println!("store key: {}", st.store_key_id);
            println!(
                "active data key: {} ({})",
                st.active_data_key_id, st.active_cipher
            );
            println!(
                "under the active data key: {:.1}% of {} bytes",
                st.active_share() * 100.0,
                st.total_bytes()
            );
            for f in &st.files {
                println!(
                    "{}|{:?}|{}|{}|{}",
                    f.name, f.kind, f.cipher, f.key_id, f.size
                );
            }
        }
        Command::Rotate {
            db,
            keys,
            old_key_file,
        } => {
            let db = open(&db, &keys, old_key_file.as_deref())?;
            db.rotate_keys(|p| {
                let width = 30;
                let done = (p.files_done * width)
                    .checked_div(p.files_total)
                    .unwrap_or(width);
                eprint!(
                    "\r[{}{}] {}/{} files",
                    "#".repeat(done),
                    " ".repeat(width - done),
                    p.files_done,
                    p.files_total
                );
            })?;
            eprintln!();
            let st = db.encryption_status()?;
            println!(
                "all files under data key {} ({:.1}% of bytes)",
                st.active_data_key_id,
                st.active_share() * 100.0
            );
        }
        Command::Checkpoint(args) => backup_cmd::checkpoint(args)?,
        Command::Backup(cmd) => backup_cmd::backup(cmd)?,
        Command::Restore(args) => backup_cmd::restore(args)?,
        Command::Audit { action } => match action {
            AuditAction::Verify {
                db,
                keys,
                checkpoint,
            } => {
                let db = inspect::open_read_only(&db, &keys)?;
                audit_cmd::verify(&db, checkpoint.as_deref())?;
            }
            AuditAction::Checkpoint { db, keys, out } => {
                let db = open(&db, &keys, None)?;
                audit_cmd::checkpoint(&db, out.as_deref())?;
            }
            AuditAction::Export { db, keys, out } => {
                let db = inspect::open_read_only(&db, &keys)?;
                let report = match out {
                    Some(path) => {
                        let mut f = std::io::BufWriter::new(inspect::create_private(&path)?);
                        let r = db.audit_export(&mut f)?;
                        f.flush()?;
                        r
                    }
                    None => {
                        let stdout = std::io::stdout();
                        let mut lock = stdout.lock();
                        db.audit_export(&mut lock)?
                    }
                };
                if let Some(bad) = &report.first_bad {
                    return Err(format!("export stopped: audit chain broken at {bad}").into());
                }
            }
        },
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error: {}",
                e.to_string().lines().next().unwrap_or("unknown error")
            );
            ExitCode::FAILURE
        }
    }
}
