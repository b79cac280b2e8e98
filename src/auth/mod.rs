//! `auth`: who may connect, and what each user may do.
//!
//! ```text
//!   db.connect(Credentials, ClientInfo)
//!     ├─ throttle      too many failures from (address, user)? refuse
//!     ├─ hba           first host rule matching (user, address) → methods
//!     ├─ secret        argon2id password / token hash check (unknown users
//!     │                cost the same time and get the same error)
//!     └─ state         LOGIN, VALID UNTIL → the user's effective Roles
//!   every statement
//!     └─ state.allowed(roles, object, privilege, column)   deny by default
//! ```
//!
//! The security catalog ([`AuthState`]) lives in the database itself,
//! encrypted like everything else, and changes transactionally with the
//! statements that change it ([`stmt`]). This layer knows nothing about
//! SQL text or plans: the SQL layer parses statements into [`AuthStmt`]
//! and reports which objects a statement touches; the `db` layer asks
//! here whether that is allowed.

pub mod codec;
pub mod hba;
pub mod secret;
pub mod state;
pub mod stmt;
pub mod token;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

pub use hba::{HostRule, Method};
pub use secret::PasswordCost;
pub use state::{AuditMode, AuthState, Policy, PolicyCmd, Privilege, Roles, ADMIN, PUBLIC, ROOT};
pub use stmt::{AuthStmt, Target};

use crate::error::{Error, Result};

/// How a user proves who they are to [`crate::Db::connect`].
pub struct Credentials {
    user: String,
    proof: Proof,
}

enum Proof {
    Password(Zeroizing<String>),
    Token(Zeroizing<String>),
    None,
}

impl Credentials {
    /// User name and password.
    pub fn password(user: &str, password: &str) -> Credentials {
        Credentials {
            user: user.to_lowercase(),
            proof: Proof::Password(Zeroizing::new(password.to_string())),
        }
    }

    /// User name and a login token (from `Session::create_login_token`).
    pub fn token(user: &str, token: &str) -> Credentials {
        Credentials {
            user: user.to_lowercase(),
            proof: Proof::Token(Zeroizing::new(token.to_string())),
        }
    }

    /// A user name alone: succeeds only where a host rule says `trust`.
    pub fn trusted(user: &str) -> Credentials {
        Credentials {
            user: user.to_lowercase(),
            proof: Proof::None,
        }
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The method these credentials use.
    pub fn method(&self) -> Method {
        match self.proof {
            Proof::Password(_) => Method::Password,
            Proof::Token(_) => Method::Token,
            Proof::None => Method::Trust,
        }
    }
}

/// Where a session comes from: recorded in the audit log and matched by
/// host rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address (`None`: in-process, a `local` connection).
    pub address: Option<IpAddr>,
    /// The application's name.
    pub application_name: String,
}

impl ClientInfo {
    /// A client at `address` (`None` for an in-process caller).
    pub fn new(address: Option<IpAddr>, application_name: &str) -> ClientInfo {
        ClientInfo {
            address,
            application_name: application_name.to_string(),
        }
    }

    /// An in-process caller.
    pub fn local(application_name: &str) -> ClientInfo {
        ClientInfo::new(None, application_name)
    }
}

/// Failed logins tolerated per (address, user) before throttling.
pub const FREE_FAILURES: u32 = 5;

/// Failed logins tolerated per user, from all addresses together, before
/// throttling (an attacker with many addresses).
pub const FREE_FAILURES_PER_USER: u32 = 20;

/// Longest wait a throttled attempt is told to make.
pub const MAX_THROTTLE: Duration = Duration::from_secs(60);

/// Failures older than this are forgotten (the counter starts again).
pub const FORGET_FAILURES_AFTER: Duration = Duration::from_secs(3600);

/// Most counters kept per table (a table per address-and-user pairs, one
/// per user).
pub const THROTTLE_CAPACITY: usize = 100_000;

/// The address failures are counted under: an IPv4-mapped IPv6 address
/// is its IPv4 address (one client, whichever way it connects), and an
/// IPv6 address counts as its /64 network (what one client is usually
/// given, so it cannot try again from a fresh address of its own block).
pub fn throttle_address(addr: Option<IpAddr>) -> Option<IpAddr> {
    addr.map(|a| match a {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(bits))
            }
        },
        v4 => v4,
    })
}

/// Failures of one key: how many, and when the last was.
#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    /// How long an attempt must still wait, given `free` failures
    /// tolerated: 1 s × 2^(failures past `free`), up to [`MAX_THROTTLE`].
    fn wait(&self, free: u32) -> Option<Duration> {
        if self.count < free || self.last.elapsed() >= FORGET_FAILURES_AFTER {
            return None;
        }
        let wait = Duration::from_secs(1 << (self.count - free).min(6)).min(MAX_THROTTLE);
        wait.checked_sub(self.last.elapsed())
            .filter(|w| !w.is_zero())
    }
}

/// Failure counters of one kind, bounded: when full, counters that
/// throttle nobody (below `free`) or are forgotten anyway go first, then
/// the oldest tenth. Filling the table with fresh names and addresses
/// cannot wipe the counter of the account under attack.
struct Counters<K> {
    map: HashMap<K, Failures>,
    free: u32,
}

impl<K: std::hash::Hash + Eq + Clone> Counters<K> {
    fn new(free: u32) -> Self {
        Counters {
            map: HashMap::new(),
            free,
        }
    }

    fn wait(&self, k: &K) -> Option<Duration> {
        self.map.get(k).and_then(|f| f.wait(self.free))
    }

    fn fail(&mut self, k: K) {
        let now = Instant::now();
        if let Some(f) = self.map.get_mut(&k) {
            if f.last.elapsed() >= FORGET_FAILURES_AFTER {
                f.count = 0;
            }
            f.count = f.count.saturating_add(1);
            f.last = now;
            return;
        }
        if self.map.len() >= THROTTLE_CAPACITY {
            self.make_room();
        }
        self.map.insert(
            k,
            Failures {
                count: 1,
                last: now,
            },
        );
    }

    fn make_room(&mut self) {
        let free = self.free;
        self.map
            .retain(|_, f| f.count >= free && f.last.elapsed() < FORGET_FAILURES_AFTER);
        if self.map.len() >= THROTTLE_CAPACITY {
            let mut lasts: Vec<Instant> = self.map.values().map(|f| f.last).collect();
            lasts.sort_unstable();
            let cut = lasts[lasts.len() / 10];
            self.map.retain(|_, f| f.last > cut);
        }
    }

    fn forget(&mut self, k: &K) {
        self.map.remove(k);
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// Counts failed logins and makes attackers wait: after
/// [`FREE_FAILURES`] failures for one user from one address (see
/// [`throttle_address`]), or [`FREE_FAILURES_PER_USER`] for one user from
/// anywhere, each further attempt must wait 1 s × 2^(extra failures), up
/// to [`MAX_THROTTLE`], whatever the password.
pub struct Throttle {
    by_client: Counters<(Option<IpAddr>, String)>,
    by_user: Counters<String>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            by_client: Counters::new(FREE_FAILURES),
            by_user: Counters::new(FREE_FAILURES_PER_USER),
        }
    }
}

impl Throttle {
    /// Refuses an attempt made too soon after repeated failures.
    pub fn check(&self, addr: Option<IpAddr>, user: &str) -> Result<()> {
        let key = (throttle_address(addr), user.to_string());
        let wait = self
            .by_client
            .wait(&key)
            .into_iter()
            .chain(self.by_user.wait(&key.1))
            .max();
        match wait {
            Some(w) => Err(Error::LoginThrottled {
                retry_after_ms: w.as_millis().max(1) as u64,
            }),
            None => Ok(()),
        }
    }

    /// Records a failure.
    pub fn fail(&mut self, addr: Option<IpAddr>, user: &str) {
        self.by_client
            .fail((throttle_address(addr), user.to_string()));
        self.by_user.fail(user.to_string());
    }

    /// Forgets failures after a success.
    pub fn succeed(&mut self, addr: Option<IpAddr>, user: &str) {
        self.by_client
            .forget(&(throttle_address(addr), user.to_string()));
        self.by_user.forget(&user.to_string());
    }

    /// How many (address, user) and user counters are kept.
    pub fn sizes(&self) -> (usize, usize) {
        (self.by_client.len(), self.by_user.len())
    }
}

/// Why a login failed: what the client is told and what the audit log
/// records (which may say more).
pub struct LoginFailure {
    /// For the client.
    pub error: Error,
    /// For the audit log.
    pub reason: String,
}

fn fail(client_msg: &str, reason: impl Into<String>) -> LoginFailure {
    LoginFailure {
        error: Error::AuthenticationFailed {
            message: client_msg.to_string(),
        },
        reason: reason.into(),
    }
}

impl AuthState {
    /// The parsed host rules (the default when none are set).
    pub fn host_rules(&self) -> Result<Vec<HostRule>> {
        hba::parse_rules(&self.hba)
    }

    /// Checks credentials from `client` at time `now` (Unix seconds);
    /// returns the user's roles.
    pub fn authenticate(
        &self,
        creds: &Credentials,
        client: &ClientInfo,
        now: i64,
        cost: PasswordCost,
    ) -> std::result::Result<Roles, LoginFailure> {
        let user = creds.user.as_str();
        let method = creds.method();
        // Every refusal before the proof is checked looks the same to the
        // client as a wrong password (or token): which host rule matched,
        // and why, is for the audit log only. A refused password still
        // costs an argon2 verification, so timing does not tell a rule's
        // refusal from a wrong password either.
        let generic = if method == Method::Token {
            "invalid, expired or revoked login token"
        } else {
            "wrong user name or password"
        };
        let refuse = |reason: String| {
            if let Proof::Password(pw) = &creds.proof {
                secret::dummy_verify(pw, cost);
            }
            fail(generic, reason)
        };
        let rules = self
            .host_rules()
            .map_err(|e| refuse(format!("the host rules are invalid: {e}")))?;
        let is_member = |r: &str| self.is_member(user, r);
        let rule = hba::decide(&rules, user, &is_member, client.address).ok_or_else(|| {
            refuse(format!(
                "no host rule allows user {user} from {}",
                client
                    .address
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "a local connection".into())
            ))
        })?;
        if rule.methods.contains(&Method::Reject) {
            return Err(refuse(format!("rejected by host rule `{}`", rule.line)));
        }
        let trusted = rule.methods.contains(&Method::Trust);
        if !trusted && !rule.methods.contains(&method) {
            return Err(refuse(format!(
                "method {} not allowed by host rule `{}`",
                method.name(),
                rule.line
            )));
        }
        let role = self.roles.get(user);
        let proof_ok = match (&creds.proof, role) {
            (_, _) if trusted => role.is_some(),
            (Proof::Password(pw), Some(r)) => match &r.password_hash {
                Some(h) => secret::verify_password(pw, h),
                None => {
                    secret::dummy_verify(pw, cost);
                    false
                }
            },
            (Proof::Password(pw), None) => {
                secret::dummy_verify(pw, cost);
                false
            }
            (Proof::Token(t), Some(r)) => secret::split_token(t)
                .and_then(|(id, s)| self.tokens.get(id).map(|info| (info, s)))
                .is_some_and(|(info, s)| {
                    info.user == r.id
                        && secret::hashes_equal(&info.hash, &secret::token_hash(s))
                        && info.expires > now
                }),
            _ => false,
        };
        if !proof_ok {
            let reason = match (&creds.proof, role) {
                (_, None) => "unknown user",
                (Proof::Token(_), _) => "invalid, expired or revoked token",
                _ => "wrong password",
            };
            return Err(fail(generic, reason));
        }
        let Some(role) = role else {
            return Err(fail(generic, "unknown user"));
        };
        // Only now, with the proof right, may the client learn more.
        if !role.login {
            return Err(fail(
                &format!("role {user} is not permitted to log in"),
                "NOLOGIN",
            ));
        }
        if role.valid_until.is_some_and(|t| t <= now) {
            return Err(fail(
                &format!("the login of {user} has expired"),
                "VALID UNTIL passed",
            ));
        }
        Ok(self.roles_of(user))
    }
}
