//! `sealdb cluster status|add|remove|transfer|sql`: asks a running node
//! (its admin socket, found through its configuration file) about the
//! cluster, to change it, or to run SQL. Membership changes go to the
//! leader; a follower answers with the leader's id and address.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use sealdb::NodeConfig;

use crate::admin::{self, Request};
use crate::Fallible;

/// Which node to ask.
#[derive(Args)]
pub struct Target {
    /// The node's configuration file (its admin socket is found there).
    #[arg(long, conflicts_with = "socket")]
    config: Option<PathBuf>,
    /// The node's admin socket.
    #[arg(long)]
    socket: Option<PathBuf>,
}

impl Target {
    /// The admin socket of the node named on the command line.
    pub fn socket(&self) -> Fallible<PathBuf> {
        match (&self.config, &self.socket) {
            (_, Some(s)) => Ok(s.clone()),
            (Some(c), None) => Ok(NodeConfig::load(c)?.admin_socket),
            (None, None) => Err("give --config FILE or --socket PATH".into()),
        }
    }
}

#[derive(Subcommand)]
pub enum ClusterAction {
    /// Shows the node's role, term, leader, log and the members.
    Status {
        #[command(flatten)]
        target: Target,
    },
    /// Adds a voter (it catches up as a learner first) or, with
    /// --learner, a non-voting read replica.
    Add {
        #[command(flatten)]
        target: Target,
        /// The new node's id (as in its certificate).
        node_id: u64,
        /// The address the others reach it at (host:port).
        address: String,
        /// Add a learner (an edge read replica) instead of a voter.
        #[arg(long)]
        learner: bool,
    },
    /// Removes a voter or learner.
    Remove {
        #[command(flatten)]
        target: Target,
        /// The node to remove.
        node_id: u64,
    },
    /// Hands leadership to a voter.
    Transfer {
        #[command(flatten)]
        target: Target,
        /// The voter to lead.
        node_id: u64,
    },
    /// Runs statements on the node as root, in one session (so a `SET
    /// read_consistency` applies to those after it); without -e, a script
    /// from stdin. Rows print as `sealdb sql` prints them.
    Sql {
        #[command(flatten)]
        target: Target,
        /// A statement to run (repeatable).
        #[arg(short = 'e', long = "execute")]
        execute: Vec<String>,
    },
}

/// How long a membership change may take (a new voter catches up first).
const TIMEOUT: Duration = Duration::from_secs(120);

pub fn run(action: ClusterAction) -> Fallible<()> {
    let (target, request) = match action {
        ClusterAction::Status { target } => (target, Request::Status),
        ClusterAction::Add {
            target,
            node_id,
            address,
            learner,
        } => (
            target,
            if learner {
                Request::AddLearner(node_id, address)
            } else {
                Request::AddVoter(node_id, address)
            },
        ),
        ClusterAction::Remove { target, node_id } => (target, Request::Remove(node_id)),
        ClusterAction::Transfer { target, node_id } => (target, Request::Transfer(node_id)),
        ClusterAction::Sql { target, execute } => {
            let statements = if execute.is_empty() {
                let mut script = String::new();
                std::io::stdin().read_to_string(&mut script)?;
                vec![script]
            } else {
                execute
            };
            (target, Request::Sql(statements))
        }
    };
    let out = admin::call(&target.socket()?, &request, TIMEOUT)?;
    print!("{out}");
    Ok(())
}
