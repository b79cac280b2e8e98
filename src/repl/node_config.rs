//! A standalone node's configuration file: where its data and key are,
//! which certificates prove who it is, where it listens, and whom it forms
//! a cluster with. Read by `sealdb node --config FILE`, `Db::open_node`,
//! the C function `sealdb_open_node` and Python's `sealdb.open_node`.
//!
//! ```toml
//! node_id = 1
//! data_dir = "node1"                # relative paths: to this file's folder
//! key_file = "node1.key"            # the store key (sealdb keygen)
//! listen = "127.0.0.1:7001"         # UDP (QUIC)
//! advertise = "127.0.0.1:7001"      # what the others dial (default: listen)
//! certs_dir = "certs"               # node.<id>.crt/.key, ca.crt, ca.crl
//! # or each file: cert = "...", key = "...", ca = "...", crls = ["..."]
//! initial_members = ["1@127.0.0.1:7001", "2@127.0.0.1:7002", "3@127.0.0.1:7003"]
//! follower_writes = "forward"       # or "refuse"
//! read_consistency = "local"        # "local 500ms", "leader", "linearizable"
//! heartbeat_ms = 100
//! election_timeout_ms = [500, 1000]
//! snapshot_every = 5000
//! keep_log = 1000
//! timeout_ms = 10000
//! sync = "full"                     # or "normal" (group commit without fsync)
//! ocsp = "off"                      # or "lax", "strict"
//! crl_grace_s = 86400
//! idle_timeout_ms = 5000
//! keep_alive_ms = 1000
//! transfer_on_close = true
//! admin_socket = "node1/admin.sock" # default: <data_dir>/admin.sock
//! ```
//!
//! Unknown keys are refused (a misspelt setting must not be silently
//! ignored), as are values out of range. No secret is in the file: the key
//! file and the node's private key are named, never inlined.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::repl::identity::NodeId;
use crate::repl::raft::{FollowerWrites, ReadConsistency};
use crate::repl::revocation::ocsp::{OcspConfig, OcspMode};
use crate::repl::transport::{EndpointConfig, TlsFiles};

/// A node's configuration, with paths resolved and values checked.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The file it was read from (if any).
    pub source: Option<PathBuf>,
    /// This node's id (must equal the id in its certificate).
    pub node_id: NodeId,
    /// The database directory.
    pub data_dir: PathBuf,
    /// The store key file.
    pub key_file: PathBuf,
    /// The UDP address to listen on.
    pub listen: SocketAddr,
    /// The address other nodes reach this one at.
    pub advertise: String,
    /// Certificate, key, CA bundle, CRLs.
    pub tls: TlsFiles,
    /// Voters to form the cluster with when the log is empty.
    pub initial_members: Vec<(NodeId, String)>,
    /// Forward or refuse writes on a follower.
    pub follower_writes: FollowerWrites,
    /// Sessions' default read consistency.
    pub read_consistency: ReadConsistency,
    /// Leader heartbeat interval.
    pub heartbeat: Duration,
    /// Election timeout range.
    pub election_timeout: (Duration, Duration),
    /// Entries between snapshots.
    pub snapshot_every: u64,
    /// Entries kept below a snapshot.
    pub keep_log: u64,
    /// Commit, read barrier and membership change timeout.
    pub timeout: Duration,
    /// fsync every commit (`full`) or not (`normal`).
    pub sync_full: bool,
    /// OCSP mode.
    pub ocsp: OcspMode,
    /// How long after its next update a CRL is still used.
    pub crl_grace: Duration,
    /// QUIC idle timeout (a dead peer is noticed after this).
    pub idle_timeout: Duration,
    /// QUIC keep-alive interval.
    pub keep_alive: Duration,
    /// Hand leadership over on a clean close.
    pub transfer_on_close: bool,
    /// Where `sealdb node` listens for `sealdb cluster` commands.
    pub admin_socket: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    node_id: u64,
    data_dir: PathBuf,
    key_file: PathBuf,
    listen: String,
    advertise: Option<String>,
    certs_dir: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    ca: Option<PathBuf>,
    crls: Option<Vec<PathBuf>>,
    #[serde(default)]
    initial_members: Vec<String>,
    follower_writes: Option<String>,
    read_consistency: Option<String>,
    heartbeat_ms: Option<u64>,
    election_timeout_ms: Option<[u64; 2]>,
    snapshot_every: Option<u64>,
    keep_log: Option<u64>,
    timeout_ms: Option<u64>,
    sync: Option<String>,
    ocsp: Option<String>,
    crl_grace_s: Option<u64>,
    idle_timeout_ms: Option<u64>,
    keep_alive_ms: Option<u64>,
    transfer_on_close: Option<bool>,
    admin_socket: Option<PathBuf>,
}

fn bad(path: &str, what: impl std::fmt::Display) -> Error {
    Error::InvalidArgument {
        what: format!("node configuration {path}: {what}"),
    }
}

impl NodeConfig {
    /// Reads and checks the file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<NodeConfig> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut c = NodeConfig::parse(&text, base, &path.display().to_string())?;
        c.source = Some(path.to_path_buf());
        Ok(c)
    }

    /// Parses configuration text; relative paths are taken from `base`;
    /// `name` names the source in errors.
    pub fn parse(text: &str, base: &Path, name: &str) -> Result<NodeConfig> {
        let raw: Raw = toml::from_str(text).map_err(|e| bad(name, e.message()))?;
        let at = |p: &Path| -> PathBuf {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        if raw.node_id == 0 {
            return Err(bad(name, "node_id must be at least 1"));
        }
        let listen: SocketAddr = raw
            .listen
            .parse()
            .map_err(|_| bad(name, format!("listen {:?} is not an IP:port", raw.listen)))?;
        let advertise = raw.advertise.unwrap_or_else(|| listen.to_string());
        if listen.port() == 0 && !advertise.contains(':') {
            return Err(bad(name, "advertise must name a port"));
        }
        let tls = match (&raw.certs_dir, &raw.cert, &raw.key, &raw.ca) {
            (Some(dir), None, None, None) => {
                let dir = crate::repl::cert::CertsDir::new(at(dir));
                TlsFiles {
                    cert: dir.node_cert(raw.node_id),
                    key: dir.node_key(raw.node_id),
                    ca: dir.ca_cert(),
                    crls: match &raw.crls {
                        Some(list) => list.iter().map(|p| at(p)).collect(),
                        None => vec![dir.crl()],
                    },
                }
            }
            (None, Some(cert), Some(key), Some(ca)) => TlsFiles {
                cert: at(cert),
                key: at(key),
                ca: at(ca),
                crls: raw
                    .crls
                    .as_ref()
                    .map(|l| l.iter().map(|p| at(p)).collect())
                    .unwrap_or_default(),
            },
            _ => {
                return Err(bad(
                    name,
                    "give either certs_dir, or all of cert, key and ca",
                ))
            }
        };
        let mut initial_members = Vec::new();
        for m in &raw.initial_members {
            let (id, address) = m
                .split_once('@')
                .ok_or_else(|| bad(name, format!("initial member {m:?} is not ID@ADDRESS")))?;
            let id: NodeId = id
                .trim()
                .parse()
                .ok()
                .filter(|i| *i > 0)
                .ok_or_else(|| bad(name, format!("initial member {m:?}: bad node id")))?;
            if address.trim().is_empty() {
                return Err(bad(name, format!("initial member {m:?} has no address")));
            }
            if initial_members.iter().any(|(i, _)| *i == id) {
                return Err(bad(name, format!("node {id} is listed twice")));
            }
            initial_members.push((id, address.trim().to_string()));
        }
        if !initial_members.is_empty() && !initial_members.iter().any(|(i, _)| *i == raw.node_id) {
            return Err(bad(
                name,
                format!(
                    "initial_members must include this node ({}) or be empty (to join later)",
                    raw.node_id
                ),
            ));
        }
        let follower_writes = match raw.follower_writes.as_deref() {
            None | Some("forward") => FollowerWrites::Forward,
            Some("refuse") => FollowerWrites::Refuse,
            Some(o) => {
                return Err(bad(
                    name,
                    format!("follower_writes {o:?}: forward or refuse"),
                ))
            }
        };
        let read_consistency = match raw.read_consistency.as_deref() {
            None => ReadConsistency::Local {
                max_staleness: None,
            },
            Some(t) => ReadConsistency::parse(t).ok_or_else(|| {
                bad(
                    name,
                    format!("read_consistency {t:?}: local, local <N>ms, leader or linearizable"),
                )
            })?,
        };
        let ms = Duration::from_millis;
        let heartbeat = ms(raw.heartbeat_ms.unwrap_or(100));
        let [lo, hi] = raw.election_timeout_ms.unwrap_or([500, 1000]);
        if heartbeat.is_zero() || lo <= heartbeat.as_millis() as u64 || hi <= lo {
            return Err(bad(
                name,
                "need 0 < heartbeat_ms < election_timeout_ms[0] < election_timeout_ms[1]",
            ));
        }
        let sync_full = match raw.sync.as_deref() {
            None | Some("full") => true,
            Some("normal") => false,
            Some(o) => return Err(bad(name, format!("sync {o:?}: full or normal"))),
        };
        let ocsp = match raw.ocsp.as_deref() {
            None | Some("off") => OcspMode::Off,
            Some("lax") => OcspMode::Lax,
            Some("strict") => OcspMode::Strict,
            Some(o) => return Err(bad(name, format!("ocsp {o:?}: off, lax or strict"))),
        };
        let idle_timeout = ms(raw.idle_timeout_ms.unwrap_or(5000));
        let keep_alive = ms(raw.keep_alive_ms.unwrap_or(1000));
        if keep_alive.is_zero() || keep_alive >= idle_timeout {
            return Err(bad(name, "need 0 < keep_alive_ms < idle_timeout_ms"));
        }
        let snapshot_every = raw.snapshot_every.unwrap_or(5000);
        if snapshot_every == 0 {
            return Err(bad(name, "snapshot_every must be at least 1"));
        }
        let timeout = ms(raw.timeout_ms.unwrap_or(10_000));
        if timeout.is_zero() {
            return Err(bad(name, "timeout_ms must be at least 1"));
        }
        let data_dir = at(&raw.data_dir);
        let admin_socket = raw
            .admin_socket
            .as_deref()
            .map(at)
            .unwrap_or_else(|| data_dir.join("admin.sock"));
        Ok(NodeConfig {
            source: None,
            node_id: raw.node_id,
            data_dir,
            key_file: at(&raw.key_file),
            listen,
            advertise,
            tls,
            initial_members,
            follower_writes,
            read_consistency,
            heartbeat,
            election_timeout: (ms(lo), ms(hi)),
            snapshot_every,
            keep_log: raw.keep_log.unwrap_or(1000),
            timeout,
            sync_full,
            ocsp,
            crl_grace: Duration::from_secs(raw.crl_grace_s.unwrap_or(86_400)),
            idle_timeout,
            keep_alive,
            transfer_on_close: raw.transfer_on_close.unwrap_or(true),
            admin_socket,
        })
    }

    /// The transport's settings.
    pub fn endpoint_config(&self) -> EndpointConfig {
        let mut c = EndpointConfig::new(self.listen, self.tls.clone());
        c.crl_grace = self.crl_grace;
        c.ocsp = OcspConfig {
            mode: self.ocsp,
            ..OcspConfig::default()
        };
        c.idle_timeout = self.idle_timeout;
        c.keep_alive = self.keep_alive;
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
node_id = 2
data_dir = "n2"
key_file = "n2.key"
listen = "127.0.0.1:7002"
certs_dir = "certs"
initial_members = ["1@127.0.0.1:7001", "2@127.0.0.1:7002", "3@localhost:7003"]
read_consistency = "local 250ms"
election_timeout_ms = [300, 600]
"#;

    #[test]
    fn parses_and_resolves_paths() {
        let c = NodeConfig::parse(GOOD, Path::new("/etc/sealdb"), "t").expect("parse");
        assert_eq!(c.node_id, 2);
        assert_eq!(c.data_dir, Path::new("/etc/sealdb/n2"));
        assert_eq!(c.tls.cert, Path::new("/etc/sealdb/certs/node.2.crt"));
        assert_eq!(c.tls.crls, vec![PathBuf::from("/etc/sealdb/certs/ca.crl")]);
        assert_eq!(c.advertise, "127.0.0.1:7002");
        assert_eq!(c.initial_members[2], (3, "localhost:7003".to_string()));
        assert_eq!(
            c.read_consistency,
            ReadConsistency::Local {
                max_staleness: Some(Duration::from_millis(250))
            }
        );
        assert_eq!(c.admin_socket, Path::new("/etc/sealdb/n2/admin.sock"));
        assert!(c.sync_full);
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        let cases = [
            ("node_id = 0", "node_id = 0\n"),
            ("typo", "follower_write = \"refuse\"\n"),
            ("listen", "listen = \"nowhere\"\n"),
            ("member", "initial_members = [\"1:127.0.0.1:1\"]\n"),
            ("self", "initial_members = [\"1@127.0.0.1:1\"]\n"),
            ("twice", "initial_members = [\"2@a:1\", \"2@b:1\"]\n"),
            ("writes", "follower_writes = \"drop\"\n"),
            ("reads", "read_consistency = \"eventual\"\n"),
            ("timeouts", "election_timeout_ms = [600, 300]\n"),
            ("sync", "sync = \"sometimes\"\n"),
            ("ocsp", "ocsp = \"maybe\"\n"),
            ("certs", "cert = \"x.crt\"\n"),
        ];
        for (what, line) in cases {
            let key = line.split('=').next().unwrap_or_default().trim();
            let text: String = GOOD
                .lines()
                .filter(|l| !l.starts_with(&format!("{key} ")))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
                + line;
            let r = NodeConfig::parse(&text, Path::new("/"), "t");
            assert!(
                matches!(r, Err(Error::InvalidArgument { .. })),
                "{what}: {r:?}"
            );
        }
    }
}
