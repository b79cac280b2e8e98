//! Where the CLI gets the store key: exactly one of
//!
//! ```text
//!   --key-file FILE          a key file (hex, as `sealdb keygen` writes it)
//!   --passphrase-file FILE   a passphrase (its content, without a final line end)
//!   --passphrase             a passphrase from SEALDB_PASSPHRASE, or asked on the terminal
//! ```
//!
//! `--store-passphrase-file` and `--store-passphrase` are the same two
//! options under the names `sealdb backup` and `sealdb restore` use
//! ([`BackupStoreKeyArgs`]), where `--passphrase-file` names the backup's
//! own passphrase; every command accepts them.
//!
//! A passphrase is stretched into the key with argon2id and the store's
//! salt (`sealdb::PassphraseKeyProvider`); a key file holds the key
//! itself. A passphrase in a key file is refused, never used as a key.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use sealdb::crypto::provider::read_key_file;
use sealdb::{FileKeyProvider, KeyProvider, PassphraseKeyProvider};

use crate::Fallible;

/// The store-key options of a command.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
pub struct StoreKeyArgs {
    /// The store key file (hex, as `sealdb keygen` writes it).
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// A file holding the store's passphrase (instead of a key file).
    #[arg(long, visible_alias = "store-passphrase-file")]
    passphrase_file: Option<PathBuf>,
    /// Use a passphrase from SEALDB_PASSPHRASE, or ask for it on the terminal.
    #[arg(long, visible_alias = "store-passphrase")]
    passphrase: bool,
}

impl StoreKeyArgs {
    /// The key provider these options name; `old_key_file` also offers a
    /// previous key (a store key change, or moving a store from a key file
    /// to a passphrase).
    pub fn provider(&self, old_key_file: Option<&Path>) -> Fallible<Box<dyn KeyProvider>> {
        let source = match (&self.key_file, &self.passphrase_file) {
            (Some(f), _) => StoreKeySource::KeyFile(f),
            (None, Some(f)) => StoreKeySource::PassphraseFile(f),
            (None, None) => StoreKeySource::Passphrase("--passphrase"),
        };
        source.provider(old_key_file)
    }
}

/// The store-key options of `sealdb backup` and `sealdb restore`: the
/// same forms as [`StoreKeyArgs`], the passphrase ones named for the
/// store (`--passphrase-file` there names the backup's passphrase). At
/// most one; the command says when it needs one.
#[derive(clap::Args, Default)]
#[group(required = false, multiple = false)]
pub struct BackupStoreKeyArgs {
    /// The store key file (hex, as `sealdb keygen` writes it).
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// A file holding the store's passphrase (instead of a key file).
    #[arg(long)]
    store_passphrase_file: Option<PathBuf>,
    /// The store's passphrase from SEALDB_PASSPHRASE, or asked on the
    /// terminal (instead of a key file).
    #[arg(long)]
    store_passphrase: bool,
}

impl BackupStoreKeyArgs {
    /// Where the store key comes from, `None` if no option names it.
    pub fn source(&self) -> Option<StoreKeySource<'_>> {
        match (&self.key_file, &self.store_passphrase_file) {
            (Some(f), _) => Some(StoreKeySource::KeyFile(f)),
            (None, Some(f)) => Some(StoreKeySource::PassphraseFile(f)),
            (None, None) if self.store_passphrase => {
                Some(StoreKeySource::Passphrase("--store-passphrase"))
            }
            (None, None) => None,
        }
    }
}

/// One of the store-key options, resolved.
#[derive(Clone, Copy)]
pub enum StoreKeySource<'a> {
    /// `--key-file FILE`.
    KeyFile(&'a Path),
    /// `--passphrase-file FILE` / `--store-passphrase-file FILE`.
    PassphraseFile(&'a Path),
    /// `--passphrase` / `--store-passphrase` (the flag's name, for errors):
    /// SEALDB_PASSPHRASE or the terminal.
    Passphrase(&'static str),
}

impl StoreKeySource<'_> {
    /// Whether the key is derived from a passphrase.
    pub fn is_passphrase(&self) -> bool {
        !matches!(self, StoreKeySource::KeyFile(_))
    }

    /// The option as the user gave it, for messages.
    pub fn describe(&self) -> String {
        match self {
            StoreKeySource::KeyFile(f) => format!("the store key file {}", f.display()),
            StoreKeySource::PassphraseFile(f) => {
                format!("the store passphrase in {}", f.display())
            }
            StoreKeySource::Passphrase(flag) => format!("the store passphrase ({flag})"),
        }
    }

    /// The key provider; `old_key_file` also offers a previous key (a
    /// store key change, or moving a store from a key file to a
    /// passphrase).
    pub fn provider(&self, old_key_file: Option<&Path>) -> Fallible<Box<dyn KeyProvider>> {
        let mut p = match self {
            StoreKeySource::KeyFile(path) => {
                let mut p = FileKeyProvider::new(path)?;
                if let Some(old) = old_key_file {
                    p = p.with_old_key_file(old)?;
                }
                return Ok(Box::new(p));
            }
            StoreKeySource::PassphraseFile(path) => PassphraseKeyProvider::from_file(path)?,
            StoreKeySource::Passphrase(flag) => {
                let text = match std::env::var("SEALDB_PASSPHRASE") {
                    Ok(p) => zeroize::Zeroizing::new(p),
                    Err(_) if std::io::stdin().is_terminal() => {
                        zeroize::Zeroizing::new(rpassword::prompt_password("store passphrase: ")?)
                    }
                    Err(_) => {
                        return Err(
                            format!("{flag}: set SEALDB_PASSPHRASE or run on a terminal").into(),
                        )
                    }
                };
                PassphraseKeyProvider::new(text.as_bytes())?
            }
        };
        if let Some(old) = old_key_file {
            p = p.with_old_key(read_key_file(old)?)?;
        }
        Ok(Box::new(p))
    }
}
