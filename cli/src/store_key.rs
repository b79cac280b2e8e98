//! Where the CLI gets the store key: exactly one of
//!
//! ```text
//!   --key-file FILE          a key file (hex, as `sealdb keygen` writes it)
//!   --passphrase-file FILE   a passphrase (its content, without a final line end)
//!   --passphrase             a passphrase from SEALDB_PASSPHRASE, or asked on the terminal
//! ```
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
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
    /// Use a passphrase from SEALDB_PASSPHRASE, or ask for it on the terminal.
    #[arg(long)]
    passphrase: bool,
}

impl StoreKeyArgs {
    /// The key provider these options name; `old_key_file` also offers a
    /// previous key (a store key change, or moving a store from a key file
    /// to a passphrase).
    pub fn provider(&self, old_key_file: Option<&Path>) -> Fallible<Box<dyn KeyProvider>> {
        if let Some(path) = &self.key_file {
            let mut p = FileKeyProvider::new(path)?;
            if let Some(old) = old_key_file {
                p = p.with_old_key_file(old)?;
            }
            return Ok(Box::new(p));
        }
        let mut p = match &self.passphrase_file {
            Some(path) => PassphraseKeyProvider::from_file(path)?,
            None => {
                let text = match std::env::var("SEALDB_PASSPHRASE") {
                    Ok(p) => zeroize::Zeroizing::new(p),
                    Err(_) if std::io::stdin().is_terminal() => {
                        zeroize::Zeroizing::new(rpassword::prompt_password("store passphrase: ")?)
                    }
                    Err(_) => {
                        return Err(
                            "--passphrase: set SEALDB_PASSPHRASE or run on a terminal".into()
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
