//! Login tokens: creating, listing and revoking them, and how long they
//! may live.
//!
//! A token (`sdbt_<id>_<secret>`, see [`secret`]) logs a user in instead
//! of a password. Only the SHA-256 of its secret is stored, with its
//! user's id (never the name: a token does not pass to whoever takes a
//! dropped user's name) and expiry. Rules:
//! - a user creates tokens for itself; an admin for any user that may log
//!   in;
//! - a token lives at most `server.login_token.max_lifetime` (default
//!   [`DEFAULT_MAX_LIFETIME`]); lowering the setting shortens every
//!   existing token to the new maximum from now;
//! - a user revokes its own tokens, an admin anyone's;
//! - a password change (by the user or an admin), NOLOGIN and DROP USER
//!   end all of the user's tokens (see `stmt`).

use crate::auth::secret;
use crate::auth::state::{denied, format_timestamp, AuthState, RoleId, Roles, TokenInfo};
use crate::error::{Error, Result, SqlErrorKind};

/// The setting that caps a token's lifetime.
pub const MAX_LIFETIME_SETTING: &str = "server.login_token.max_lifetime";

/// The cap when the setting was never changed: 7 days.
pub const DEFAULT_MAX_LIFETIME: i64 = 7 * 86_400;

/// Lifetime of a token created without `VALID FOR`: an hour (or the cap,
/// if lower).
pub const DEFAULT_LIFETIME: i64 = 3_600;

/// A token just created: its text is shown once, never stored.
pub struct NewToken {
    /// The id (for revocation; not secret).
    pub id: String,
    /// The full token text (secret).
    pub token: zeroize::Zeroizing<String>,
    /// Whose.
    pub user: String,
    /// When it stops working (Unix seconds).
    pub expires: i64,
}

/// Seconds in a duration written `'90 seconds'`, `'1 hour 30 minutes'`,
/// `'7 days'`, `'2h'`, `'45m'`, `'30s'`, `'1w'` or a plain number of
/// seconds.
pub fn parse_duration(text: &str) -> Result<i64> {
    let bad = || {
        Error::sql(
            SqlErrorKind::TypeMismatch,
            format!(
                "invalid duration '{text}': expected e.g. '90 seconds', '1 hour 30 minutes', '7 days' or '2h'"
            ),
        )
    };
    let t = text.trim().to_ascii_lowercase();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(n) = t.parse::<i64>() {
        return if n >= 0 { Ok(n) } else { Err(bad()) };
    }
    // Split into number / unit pieces ("1 hour 30 minutes", "1h30m").
    let mut total: i64 = 0;
    let mut rest = t.as_str();
    while !rest.is_empty() {
        rest = rest.trim_start();
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = rest[digits..].trim_start();
        let letters = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = match &rest[..letters] {
            "s" | "sec" | "secs" | "second" | "seconds" => 1,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "h" | "hour" | "hours" => 3_600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 7 * 86_400,
            _ => return Err(bad()),
        };
        rest = &rest[letters..];
        total = n
            .checked_mul(unit)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

/// A duration in the largest unit that divides it (`7 days`, `90 minutes`).
pub fn format_duration(secs: i64) -> String {
    for (unit, name) in [(86_400, "day"), (3_600, "hour"), (60, "minute")] {
        if secs >= unit && secs % unit == 0 {
            let n = secs / unit;
            return format!("{n} {name}{}", if n == 1 { "" } else { "s" });
        }
    }
    format!("{secs} second{}", if secs == 1 { "" } else { "s" })
}

impl AuthState {
    /// Creates a token for `user` (the actor itself unless an admin),
    /// valid for `valid_for` seconds from `now` (default
    /// [`DEFAULT_LIFETIME`], capped by the maximum lifetime).
    pub fn create_token(
        &mut self,
        actor: &Roles,
        user: &str,
        valid_for: Option<i64>,
        now: i64,
    ) -> Result<NewToken> {
        if user != actor.user && !actor.admin {
            return Err(denied(
                "only admins may create login tokens for other users",
            ));
        }
        let Some(owner) = self.roles.get(user).filter(|r| r.login).map(|r| r.id) else {
            return Err(denied(format!(
                "user {user} may not log in, so it gets no token"
            )));
        };
        let max = self.token_max_lifetime;
        let valid_for = valid_for.unwrap_or(DEFAULT_LIFETIME.min(max));
        if valid_for < 0 {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                "a login token's lifetime cannot be negative",
            ));
        }
        if valid_for > max {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                format!(
                    "a login token may be valid for at most {} ({MAX_LIFETIME_SETTING})",
                    format_duration(max)
                ),
            ));
        }
        let (id, token, hash) = secret::new_token()?;
        let expires = now.saturating_add(valid_for);
        self.tokens.insert(
            id.clone(),
            TokenInfo {
                user: owner,
                hash,
                expires,
            },
        );
        Ok(NewToken {
            id,
            token,
            user: user.to_string(),
            expires,
        })
    }

    /// Revokes token `id`: the actor's own, or anyone's for an admin.
    /// Returns whether it existed.
    pub fn revoke_token(&mut self, actor: &Roles, id: &str) -> Result<bool> {
        match self.tokens.get(id) {
            None => Ok(false),
            Some(t) if t.user == actor.id || actor.admin => {
                self.tokens.remove(id);
                Ok(true)
            }
            Some(_) => Err(denied("only admins may revoke another user's tokens")),
        }
    }

    /// Revokes every token of `user` (the actor itself, or anyone for an
    /// admin); returns how many there were.
    pub fn revoke_tokens(&mut self, actor: &Roles, user: &str) -> Result<u64> {
        if user != actor.user && !actor.admin {
            return Err(denied("only admins may revoke another user's tokens"));
        }
        let Some(id) = self.role_id(user) else {
            return Ok(0);
        };
        let before = self.tokens.len();
        self.tokens.retain(|_, t| t.user != id);
        Ok((before - self.tokens.len()) as u64)
    }

    /// The tokens `actor` may see (its own; all for an admin), optionally
    /// of one user only: (id, user, expires).
    pub fn visible_tokens(
        &self,
        actor: &Roles,
        user: Option<&str>,
    ) -> Result<Vec<(String, String, i64)>> {
        let only: Option<RoleId> = match user {
            Some(u) if u != actor.user && !actor.admin => {
                return Err(denied("only admins may see another user's tokens"));
            }
            Some(u) => Some(self.role_id(u).unwrap_or(RoleId::MAX)),
            None => None,
        };
        Ok(self
            .tokens
            .iter()
            .filter(|(_, t)| actor.admin || t.user == actor.id)
            .filter(|(_, t)| only.is_none_or(|u| t.user == u))
            .map(|(id, t)| (id.clone(), self.role_label(t.user), t.expires))
            .collect())
    }

    /// Sets the maximum lifetime; tokens that would outlive it from `now`
    /// are shortened to it.
    pub fn set_token_max_lifetime(&mut self, secs: i64, now: i64) -> Result<()> {
        if secs <= 0 {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                format!("{MAX_LIFETIME_SETTING} must be longer than zero"),
            ));
        }
        self.token_max_lifetime = secs;
        let cap = now.saturating_add(secs);
        for t in self.tokens.values_mut() {
            t.expires = t.expires.min(cap);
        }
        Ok(())
    }
}

/// A token's expiry as shown by SHOW LOGIN TOKENS and CREATE LOGIN TOKEN.
pub fn format_expiry(t: i64) -> String {
    format_timestamp(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").ok(), Some(90));
        assert_eq!(parse_duration("90 seconds").ok(), Some(90));
        assert_eq!(parse_duration("1 hour 30 minutes").ok(), Some(5_400));
        assert_eq!(parse_duration("1h30m").ok(), Some(5_400));
        assert_eq!(parse_duration(" 7 DAYS ").ok(), Some(604_800));
        assert_eq!(parse_duration("2w").ok(), Some(1_209_600));
        for bad in [
            "",
            "-5",
            "hour",
            "5 fortnights",
            "1 hour and",
            "99999999999999999999 days",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(604_800), "7 days");
        assert_eq!(format_duration(5_400), "90 minutes");
        assert_eq!(format_duration(3_600), "1 hour");
        assert_eq!(format_duration(61), "61 seconds");
    }
}
