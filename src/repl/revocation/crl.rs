//! The set of CRLs an endpoint checks peers against.
//!
//! Loaded from PEM (or DER) files at bind and on every reload. webpki checks
//! each CRL's signature against the issuer of the certificate it judges, so
//! a forged CRL refuses peers rather than admitting them. Freshness is ours:
//! webpki's own expiry check has no grace period, so it is off, and
//! [`CrlSet::check_fresh`] applies `next_update + grace`.
//!
//! Invariant: when any CRL is configured, a certificate whose issuer has no
//! CRL in the set is refused (unknown revocation status fails closed).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use webpki::{CertRevocationList, OwnedCertRevocationList};

use crate::error::{Error, Result};
use crate::repl::cert::{read_crl, CrlFile};
use crate::repl::refusal::RefusalReason;

/// Loaded CRLs.
pub struct CrlSet {
    lists: Vec<CertRevocationList<'static>>,
    files: Vec<CrlFile>,
}

impl CrlSet {
    /// No CRLs: no CRL checking.
    pub fn empty() -> CrlSet {
        CrlSet {
            lists: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Loads and parses each file.
    pub fn load(paths: &[PathBuf]) -> Result<CrlSet> {
        let mut set = CrlSet::empty();
        for p in paths {
            let file = read_crl(p)?;
            let owned = OwnedCertRevocationList::from_der(file.der.as_ref()).map_err(|e| {
                Error::Certificate {
                    what: format!("{}: CRL not usable: {e}", p.display()),
                }
            })?;
            set.lists.push(CertRevocationList::Owned(owned));
            set.files.push(file);
        }
        Ok(set)
    }

    /// Whether any CRL is configured.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// The lists, for webpki.
    pub(crate) fn lists(&self) -> Vec<&CertRevocationList<'static>> {
        self.lists.iter().collect()
    }

    /// The parsed files.
    pub fn files(&self) -> &[CrlFile] {
        &self.files
    }

    /// Refuses when a CRL is past its next update plus `grace`.
    pub fn check_fresh(
        &self,
        now: SystemTime,
        grace: Duration,
    ) -> std::result::Result<(), RefusalReason> {
        for f in &self.files {
            if let Some(next) = f.next_update {
                if now > next + grace {
                    return Err(RefusalReason::CrlExpired { next_update: next });
                }
            }
        }
        Ok(())
    }

    /// Whether a serial is listed (for connections admitted before the
    /// CRL was loaded; new handshakes are checked by webpki).
    pub fn lists_serial(&self, serial: &[u8]) -> bool {
        self.files
            .iter()
            .any(|f| f.entries.iter().any(|(s, _)| s == serial))
    }
}
