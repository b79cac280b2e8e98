//! Opening a standalone node: a replicated database whose settings come
//! from a configuration file ([`NodeConfig`]), talking to its peers over
//! QUIC with mutual TLS ([`QuicTransport`]). What `sealdb node`, the C
//! function `sealdb_open_node` and Python's `sealdb.open_node` run.
//!
//! The certificate must be this node's: its node id is checked against the
//! configuration before anything is opened, so a node never serves under
//! another node's identity.

use std::path::Path;
use std::sync::Arc;

use super::{Db, Options};
use crate::crypto::FileKeyProvider;
use crate::error::{Error, Result};
use crate::repl::node_config::NodeConfig;
use crate::repl::raft::{QuicTransport, ReplicationOptions};
use crate::repl::RefusalHook;
use crate::storage::{StorageOptions, SyncMode};

impl Db {
    /// Opens the node described by the configuration file at `config`
    /// (see [`NodeConfig`] for the format) and joins its cluster.
    pub fn open_node(config: impl AsRef<Path>) -> Result<Db> {
        let config = NodeConfig::load(config)?;
        Ok(Db::open_node_config(&config, None)?.0)
    }

    /// Opens the node of `config`; `hook` hears every refused peer. Also
    /// returns the transport (to reload certificates, read its counters).
    pub fn open_node_config(
        config: &NodeConfig,
        hook: Option<RefusalHook>,
    ) -> Result<(Db, Arc<QuicTransport>)> {
        let provider = FileKeyProvider::new(&config.key_file)?;
        let transport = QuicTransport::start(config.endpoint_config(), hook)?;
        let certified = transport.endpoint().node_id();
        if certified != config.node_id {
            return Err(Error::Certificate {
                what: format!(
                    "{} is the certificate of node {certified}, but this is node {}",
                    config.tls.cert.display(),
                    config.node_id
                ),
            });
        }
        let mut r =
            ReplicationOptions::new(config.node_id, config.advertise.clone(), transport.clone());
        r.initial_members = config.initial_members.clone();
        r.follower_writes = config.follower_writes;
        r.read_consistency = config.read_consistency;
        r.heartbeat = config.heartbeat;
        r.election_timeout = config.election_timeout;
        r.snapshot_every = config.snapshot_every;
        r.keep_log = config.keep_log;
        r.timeout = config.timeout;
        r.transfer_on_close = config.transfer_on_close;
        r.runtime = Some(transport.runtime());
        let options = Options {
            replication: Some(r),
            storage: StorageOptions {
                sync: if config.sync_full {
                    SyncMode::Full
                } else {
                    SyncMode::Normal
                },
                ..StorageOptions::default()
            },
            ..Options::default()
        };
        let db = Db::open_with(&config.data_dir, provider, options)?;
        Ok((db, transport))
    }
}
