//! `sealdb cert`: the cluster's certificates (see `sealdb::repl::cert`).
//!
//! ```text
//!   sealdb cert create-ca     --certs-dir D --ca-key K --cluster NAME [--lifetime-days N] [--overwrite]
//!   sealdb cert create-node   --certs-dir D --ca-key K <node-id> <host/ip>... [--ocsp-url U] [...]
//!   sealdb cert create-client --certs-dir D --ca-key K <user> [--ocsp-url U] [...]
//!   sealdb cert revoke        --certs-dir D --ca-key K [<serial or cert file>...] [--crl-days N]
//!   sealdb cert list          --certs-dir D
//! ```
//!
//! `revoke` with no argument re-signs the CRL with a fresh next-update time
//! (run it before the CRL expires). `list` never reads a key.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use sealdb::repl::cert::{
    self, format_time, serial_display, CertsDir, ClientCertRequest, NodeCertRequest, RevokeTarget,
    Validity,
};

/// The `sealdb cert` subcommands.
#[derive(Subcommand)]
pub enum CertAction {
    /// Makes the cluster CA: ca.crt and an empty ca.crl in the directory,
    /// the CA key (0600) at --ca-key.
    CreateCa {
        /// The certificate directory.
        #[arg(long)]
        certs_dir: PathBuf,
        /// Where to write the CA key (keep it away from the nodes).
        #[arg(long)]
        ca_key: PathBuf,
        /// The cluster's name (in every certificate's identity URI).
        #[arg(long)]
        cluster: String,
        /// Validity in days.
        #[arg(long, default_value_t = 3650)]
        lifetime_days: u32,
        /// Replace existing files.
        #[arg(long)]
        overwrite: bool,
    },
    /// Makes node.<id>.crt and node.<id>.key (0600), signed by the CA.
    CreateNode {
        /// The certificate directory.
        #[arg(long)]
        certs_dir: PathBuf,
        /// The CA key.
        #[arg(long)]
        ca_key: PathBuf,
        /// The node's id.
        node_id: u64,
        /// Host names and IP addresses of the node.
        hosts: Vec<String>,
        /// An OCSP responder URL to name in the certificate.
        #[arg(long)]
        ocsp_url: Option<String>,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        lifetime_days: u32,
        /// Replace existing files.
        #[arg(long)]
        overwrite: bool,
    },
    /// Makes client.<user>.crt and client.<user>.key (0600), signed by the CA.
    CreateClient {
        /// The certificate directory.
        #[arg(long)]
        certs_dir: PathBuf,
        /// The CA key.
        #[arg(long)]
        ca_key: PathBuf,
        /// The user.
        user: String,
        /// An OCSP responder URL to name in the certificate.
        #[arg(long)]
        ocsp_url: Option<String>,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        lifetime_days: u32,
        /// Replace existing files.
        #[arg(long)]
        overwrite: bool,
    },
    /// Adds certificates to the CRL (ca.crl), signed by the CA; with none,
    /// re-signs it with a fresh next-update time.
    Revoke {
        /// The certificate directory.
        #[arg(long)]
        certs_dir: PathBuf,
        /// The CA key.
        #[arg(long)]
        ca_key: PathBuf,
        /// Serial numbers (hex, colons allowed) or certificate files.
        targets: Vec<String>,
        /// Days until the CRL's next update.
        #[arg(long, default_value_t = cert::DEFAULT_CRL_DAYS)]
        crl_days: u64,
    },
    /// Lists the certificates: usage, identity, SANs, expiry, revocation.
    List {
        /// The certificate directory.
        #[arg(long)]
        certs_dir: PathBuf,
    },
}

/// Runs one `sealdb cert` subcommand.
pub fn run(action: CertAction) -> Result<(), Box<dyn std::error::Error>> {
    match action {
        CertAction::CreateCa {
            certs_dir,
            ca_key,
            cluster,
            lifetime_days,
            overwrite,
        } => {
            let info = cert::create_ca(
                &CertsDir::new(certs_dir),
                &ca_key,
                &cluster,
                Validity::days_from_now(lifetime_days),
                overwrite,
            )?;
            println!(
                "created CA for cluster {cluster}, serial {}, expires {}",
                serial_display(&info.serial),
                format_time(info.not_after)
            );
        }
        CertAction::CreateNode {
            certs_dir,
            ca_key,
            node_id,
            hosts,
            ocsp_url,
            lifetime_days,
            overwrite,
        } => {
            let dir = CertsDir::new(certs_dir);
            let info = cert::create_node(
                &dir,
                &ca_key,
                &NodeCertRequest {
                    node_id,
                    hosts,
                    ocsp_url,
                    validity: Validity::days_from_now(lifetime_days),
                },
                overwrite,
            )?;
            println!(
                "created {} ({}), serial {}, expires {}",
                dir.node_cert(node_id).display(),
                info.identity.map(|i| i.to_string()).unwrap_or_default(),
                serial_display(&info.serial),
                format_time(info.not_after)
            );
        }
        CertAction::CreateClient {
            certs_dir,
            ca_key,
            user,
            ocsp_url,
            lifetime_days,
            overwrite,
        } => {
            let dir = CertsDir::new(certs_dir);
            let info = cert::create_client(
                &dir,
                &ca_key,
                &ClientCertRequest {
                    user: user.clone(),
                    ocsp_url,
                    validity: Validity::days_from_now(lifetime_days),
                },
                overwrite,
            )?;
            println!(
                "created {} ({}), serial {}, expires {}",
                dir.client_cert(&user).display(),
                info.identity.map(|i| i.to_string()).unwrap_or_default(),
                serial_display(&info.serial),
                format_time(info.not_after)
            );
        }
        CertAction::Revoke {
            certs_dir,
            ca_key,
            targets,
            crl_days,
        } => {
            let targets = targets
                .iter()
                .map(|t| RevokeTarget::parse(t))
                .collect::<Result<Vec<_>, _>>()?;
            let crl = cert::revoke(
                &CertsDir::new(certs_dir),
                &ca_key,
                &targets,
                Duration::from_secs(crl_days * 86_400),
            )?;
            println!(
                "CRL number {}: {} revoked, next update {}",
                crl.number,
                crl.revoked.len(),
                crl.next_update.map(format_time).unwrap_or_default()
            );
        }
        CertAction::List { certs_dir } => {
            let (certs, crl) = cert::list(&CertsDir::new(certs_dir))?;
            println!("usage|file|identity|common name|SANs|expires|serial|status");
            for c in certs {
                let mut sans: Vec<String> = c.info.dns_names.clone();
                sans.extend(c.info.ip_addresses.iter().map(|ip| ip.to_string()));
                sans.extend(c.info.uris.iter().cloned());
                println!(
                    "{}|{}|{}|{}|{}|{}|{}|{}",
                    c.usage,
                    c.path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    c.info
                        .identity
                        .as_ref()
                        .map(|i| i.to_string())
                        .unwrap_or_default(),
                    c.info.common_name.clone().unwrap_or_default(),
                    sans.join(","),
                    format_time(c.info.not_after),
                    serial_display(&c.info.serial),
                    if c.revoked {
                        "revoked"
                    } else if c.info.not_after < std::time::SystemTime::now() {
                        "expired"
                    } else {
                        "valid"
                    }
                );
            }
            if let Some(crl) = crl {
                println!(
                    "crl|ca.crl|number {}|{} revoked|issued {}|next update {}",
                    crl.number,
                    crl.revoked.len(),
                    format_time(crl.this_update),
                    crl.next_update.map(format_time).unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
