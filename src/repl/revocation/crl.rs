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
//!
//! **Several CRLs of one issuer name.** webpki picks, for a certificate,
//! the first CRL whose issuer *name* is the certificate's issuer, and fails
//! when that CRL is not signed by the issuing CA's key. During a CA
//! rotation the old and the new CA have the same name (`sealdb CA
//! <cluster>`) and each its own CRL, so no single list serves both. The
//! check then runs once per way of taking one CRL per issuer name
//! ([`CrlSet::alternatives`]): a certificate passes if one run passes, and
//! is revoked if any run finds it listed by a CRL its CA signed (a run only
//! reads a CRL whose signature is the issuer's).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use webpki::{CertRevocationList, OwnedCertRevocationList};

use crate::error::{Error, Result};
use crate::repl::cert::{read_crls, CrlFile};
use crate::repl::refusal::RefusalReason;

/// Most alternative CRL sets tried for one certificate.
pub const MAX_ALTERNATIVES: usize = 16;

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

    /// Loads and parses each file (a file may hold several PEM CRLs).
    pub fn load(paths: &[PathBuf]) -> Result<CrlSet> {
        let mut set = CrlSet::empty();
        for p in paths {
            for file in read_crls(p)? {
                let owned = OwnedCertRevocationList::from_der(file.der.as_ref()).map_err(|e| {
                    Error::Certificate {
                        what: format!("{}: CRL not usable: {e}", p.display()),
                    }
                })?;
                set.lists.push(CertRevocationList::Owned(owned));
                set.files.push(file);
            }
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

    /// The sets of lists to give webpki, one check each (see the module
    /// docs, "Several CRLs of one issuer name"): one set when every issuer
    /// name has one CRL, else every way of taking one CRL per name (at
    /// most [`MAX_ALTERNATIVES`]; beyond, the one set of all, which
    /// refuses what it cannot tell apart).
    pub(crate) fn alternatives(&self) -> Vec<Vec<&CertRevocationList<'static>>> {
        let mut groups: Vec<(&[u8], Vec<&CertRevocationList<'static>>)> = Vec::new();
        for l in &self.lists {
            match groups.iter_mut().find(|(name, _)| *name == l.issuer()) {
                Some((_, members)) => members.push(l),
                None => groups.push((l.issuer(), vec![l])),
            }
        }
        let count = groups
            .iter()
            .try_fold(1usize, |n, (_, m)| n.checked_mul(m.len()));
        match count {
            Some(n) if n > 1 && n <= MAX_ALTERNATIVES => {}
            _ => return vec![self.lists()],
        }
        let mut out: Vec<Vec<&CertRevocationList<'static>>> = vec![Vec::new()];
        for (_, members) in &groups {
            out = out
                .into_iter()
                .flat_map(|prefix| {
                    members.iter().map(move |m| {
                        let mut set = prefix.clone();
                        set.push(*m);
                        set
                    })
                })
                .collect();
        }
        out
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
