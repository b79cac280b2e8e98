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

/// Counts failed logins per (address, user) and makes attackers wait:
/// after [`FREE_FAILURES`] failures each further attempt must wait
/// 1 s × 2^(extra failures), up to a minute, whatever the password.
#[derive(Default)]
pub struct Throttle {
    failures: HashMap<(Option<IpAddr>, String), (u32, Instant)>,
}

impl Throttle {
    /// Refuses an attempt made too soon after repeated failures.
    pub fn check(&self, addr: Option<IpAddr>, user: &str) -> Result<()> {
        if let Some((n, last)) = self.failures.get(&(addr, user.to_string())) {
            if *n >= FREE_FAILURES {
                let wait = Duration::from_secs(1 << (n - FREE_FAILURES).min(6))
                    .min(Duration::from_secs(60));
                let elapsed = last.elapsed();
                if elapsed < wait {
                    return Err(Error::LoginThrottled {
                        retry_after_ms: (wait - elapsed).as_millis() as u64,
                    });
                }
            }
        }
        Ok(())
    }

    /// Records a failure.
    pub fn fail(&mut self, addr: Option<IpAddr>, user: &str) {
        if self.failures.len() > 100_000 {
            self.failures.clear();
        }
        let e = self
            .failures
            .entry((addr, user.to_string()))
            .or_insert((0, Instant::now()));
        e.0 += 1;
        e.1 = Instant::now();
    }

    /// Forgets failures after a success.
    pub fn succeed(&mut self, addr: Option<IpAddr>, user: &str) {
        self.failures.remove(&(addr, user.to_string()));
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
        let generic = "wrong user name or password";
        let rules = self
            .host_rules()
            .map_err(|e| fail("the host rules are invalid", e.to_string()))?;
        let is_member = |r: &str| self.is_member(user, r);
        let rule = hba::decide(&rules, user, &is_member, client.address).ok_or_else(|| {
            fail(
                &format!(
                    "no host rule allows user {user} from {}",
                    client
                        .address
                        .map(|a| a.to_string())
                        .unwrap_or_else(|| "a local connection".into())
                ),
                "no matching host rule",
            )
        })?;
        let method = creds.method();
        if rule.methods.contains(&Method::Reject) {
            return Err(fail(
                &format!("host rule `{}` rejects this login", rule.line),
                format!("rejected by host rule `{}`", rule.line),
            ));
        }
        let trusted = rule.methods.contains(&Method::Trust);
        if !trusted && !rule.methods.contains(&method) {
            return Err(fail(
                &format!(
                    "host rule `{}` does not allow {} authentication",
                    rule.line,
                    method.name()
                ),
                format!("method {} not allowed by `{}`", method.name(), rule.line),
            ));
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
            (Proof::Token(t), Some(_)) => secret::split_token(t)
                .and_then(|(id, s)| self.tokens.get(id).map(|info| (info, s)))
                .is_some_and(|(info, s)| {
                    info.user == user
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
            let msg = if method == Method::Token {
                "invalid, expired or revoked login token"
            } else {
                generic
            };
            return Err(fail(msg, reason));
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
