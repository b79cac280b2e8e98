//! `sealdb audit checkpoint` and `sealdb audit verify [--checkpoint FILE]`:
//! anchoring the audit chain outside the database and proving it later.
//!
//! A checkpoint file is small text (`sealdb::AuditCheckpoint::to_text`:
//! sequence number, hash, time). It is written only for a chain that
//! verifies, never over an existing file (an old checkpoint is evidence),
//! and readable by its owner only. Keep it where whoever holds the store
//! key cannot change it; `audit verify --checkpoint FILE` then shows that
//! the log still holds that prefix unchanged, and refuses a log that is
//! shorter.

use std::io::Write;
use std::path::Path;

use sealdb::{AuditCheckpoint, Db, VerifyReport};

use crate::Fallible;

/// Prints a verification's outcome; an error names the first bad record.
fn report(r: &VerifyReport) -> Fallible<()> {
    if let Some(bad) = &r.first_bad {
        return Err(format!("audit chain broken at {bad}").into());
    }
    let mut line = format!(
        "ok: {} records, head {} {}",
        r.intact, r.head_seq, r.head_hash
    );
    if let Some(seq) = r.anchor_seq {
        line.push_str(&format!(
            ", contains the anchored checkpoint (record {seq}) unchanged"
        ));
    }
    println!("{line}");
    Ok(())
}

/// `audit verify`, against an anchored checkpoint when one is given.
pub fn verify(db: &Db, checkpoint: Option<&Path>) -> Fallible<()> {
    let r = match checkpoint {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read checkpoint {}: {e}", path.display()))?;
            db.audit_verify_against(&AuditCheckpoint::parse(&text)?)?
        }
        None => db.audit_verify()?,
    };
    report(&r)
}

/// `audit checkpoint`: verifies the chain and writes its head, to `out`
/// (created, mode 0600) or stdout.
pub fn checkpoint(db: &Db, out: Option<&Path>) -> Fallible<()> {
    let cp = db.audit_checkpoint()?;
    let text = cp.to_text();
    match out {
        Some(path) => {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts
                .open(path)
                .map_err(|e| format!("cannot create checkpoint {}: {e}", path.display()))?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            eprintln!(
                "checkpoint of record {} written to {}; keep it outside the database",
                cp.seq,
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}
