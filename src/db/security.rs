//! Changes to the security catalog (users, roles, grants, policies, host
//! rules, settings) made by statements, and login tokens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::auth::stmt::{ApplyEnv, AuthStmt, PolicySpec};
use crate::auth::AuthState;
use crate::sql::plan::Security;

use crate::catalog::Schema;
use crate::error::{Error, Result, SqlErrorKind};
use crate::types::Value;

use super::*;

/// A login token made by [`Session::create_login_token`]. The token text
/// is a secret: hand it to the client, never log it.
pub struct LoginToken {
    /// The token's id (for revocation; not secret).
    pub id: String,
    /// When it stops working (Unix seconds).
    pub expires_at: i64,
    pub(super) token: Zeroizing<String>,
}

impl LoginToken {
    /// The token text to pass to [`Credentials::token`].
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl Session {
    /// Changes the security catalog outside SQL (login tokens), in a
    /// transaction of its own.
    pub(super) fn change_auth<R>(
        &self,
        what: &str,
        f: impl FnOnce(&mut AuthState, &Security) -> Result<R>,
    ) -> Result<R> {
        if self.in_transaction() {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                format!("finish the open transaction before {what} (or use the SQL statement)"),
            ));
        }
        let started = Instant::now();
        let mut txn = self.db.mgr.begin();
        self.db.hooks.at(HookPoint::BeforeWriterSlot, &self.user);
        let busy = self.busy_timeout();
        txn.ensure_writer(busy)?;
        // Read under the writer slot: the catalog cannot change until this
        // change is committed and published (see `run_one`).
        let sec = self.security()?;
        let mut new = (*sec.auth).clone();
        let r = f(&mut new, &sec);
        let r = match r {
            Ok(v) => put_auth(&mut txn, &sec.auth, &new).and_then(|()| {
                txn.commit_then(|| self.publish(None, Some(Arc::new(new))))
                    .map(|_| v)
            }),
            Err(e) => Err(e),
        };
        let mut p = self.audit_start(&sec, "security", what, &[], &[], true);
        if let Some(p) = p.as_mut() {
            p.started = started;
        }
        self.audit_end(p, 0, r.as_ref().err())?;
        r
    }

    /// Creates a login token for this session's user, valid for
    /// `valid_for` (at most `server.login_token.max_lifetime`, 7 days
    /// unless changed); [`Db::connect`] accepts it with
    /// [`Credentials::token`]. Only its hash is stored. A password change
    /// ends it. SQL: `CREATE LOGIN TOKEN [FOR user] [VALID FOR '1 hour']`.
    pub fn create_login_token(&self, valid_for: Duration) -> Result<LoginToken> {
        let user = self.user.clone();
        let secs = valid_for.as_secs().min(i64::MAX as u64) as i64;
        self.change_auth("CREATE LOGIN TOKEN", |auth, sec| {
            let t = auth.create_token(&sec.roles, &user, Some(secs), unix_now())?;
            Ok(LoginToken {
                id: t.id,
                expires_at: t.expires,
                token: t.token,
            })
        })
    }

    /// Revokes one login token (this user's own, or any as an admin).
    /// Returns whether it existed. SQL: `REVOKE LOGIN TOKEN 'id'`.
    pub fn revoke_login_token(&self, id: &str) -> Result<bool> {
        self.change_auth(
            &format!("REVOKE LOGIN TOKEN '{}'", id.replace('\'', "''")),
            |auth, sec| auth.revoke_token(&sec.roles, id),
        )
    }

    /// Revokes every login token of `user` (oneself, or anyone as an
    /// admin); returns how many. SQL: `REVOKE ALL LOGIN TOKENS FOR user`.
    pub fn revoke_login_tokens(&self, user: &str) -> Result<u64> {
        let user = user.to_lowercase();
        self.change_auth(
            &format!("REVOKE ALL LOGIN TOKENS FOR {user}"),
            |auth, sec| auth.revoke_tokens(&sec.roles, &user),
        )
    }

    /// Applies a security statement to a copy of the catalog.
    pub(super) fn apply_auth(
        &self,
        sec: &Security,
        schema: &Schema,
        a: &AuthStmt,
        params: &[Value],
    ) -> Result<(AuthState, ResultSet)> {
        let param = |i: usize| match params.get(i.wrapping_sub(1)) {
            Some(Value::Text(s)) => Some(Zeroizing::new(s.clone())),
            _ => None,
        };
        // A policy's expressions are bound now (mistakes show at CREATE
        // time), as the session's user (so `current_user` is known), and
        // what they name is kept by id.
        let sec_arc = Arc::new(Security {
            user: sec.user.clone(),
            session_user: sec.session_user.clone(),
            roles: sec.roles.clone(),
            auth: sec.auth.clone(),
            policy_exprs: sec.policy_exprs.clone(),
        });
        let policy_refs = |p: &PolicySpec| {
            let texts: Vec<&str> = p
                .using
                .iter()
                .chain(p.check.iter())
                .map(|s| s.as_str())
                .collect();
            crate::sql::access::policy_refs(schema, &p.table, &texts, &sec_arc)
        };
        let env = ApplyEnv {
            objects: &SchemaLookup(schema),
            policy_refs: &policy_refs,
            now: unix_now(),
            cost: self.db.password_cost,
            param: &param,
        };
        let mut new = (*sec.auth).clone();
        let out = new.apply(&sec.roles, a, &env)?;
        let cols = out.columns.iter().map(|c| c.to_string()).collect();
        let rows = out
            .rows
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|v| v.map(Value::Text).unwrap_or(Value::Null))
                    .collect()
            })
            .collect();
        Ok((new, (cols, rows)))
    }
}
