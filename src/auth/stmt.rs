//! Security statements (CREATE/ALTER/DROP USER and ROLE, GRANT, REVOKE,
//! SHOW USERS/ROLES/GRANTS, row-level security, audit settings, owners,
//! host rules) and how they change an [`AuthState`].
//!
//! Who may do what (following CockroachDB and PostgreSQL):
//! - users and roles, audit settings, host rules: admins; a user may
//!   change its own password;
//! - GRANT/REVOKE a privilege: admins, the object's owner, or a holder of
//!   that privilege WITH GRANT OPTION — never a privilege one lacks;
//! - GRANT/REVOKE a role: admins, or members holding its ADMIN OPTION;
//! - row-level security and policies: the table's owner or an admin;
//! - objects the actor may not see are reported as not existing.
//!
//! A statement either applies completely or returns an error having
//! changed nothing (it works on a copy the caller commits).

use zeroize::Zeroizing;

use crate::auth::hba;
use crate::auth::secret::{hash_password, PasswordCost};
use crate::auth::state::*;
use crate::auth::token;
use crate::error::{Error, Result, SqlErrorKind};

/// A password in a statement: a literal, a bound parameter, or NULL.
#[derive(Clone)]
pub enum Secret {
    /// `PASSWORD 'text'`.
    Literal(Zeroizing<String>),
    /// `PASSWORD $n` (1-based).
    Param(usize),
    /// `PASSWORD NULL`: no password login.
    Null,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Literal(_) => f.write_str("Literal(<redacted>)"),
            Secret::Param(i) => write!(f, "Param({i})"),
            Secret::Null => f.write_str("Null"),
        }
    }
}

/// A role option.
#[derive(Clone, Debug)]
pub enum RoleOpt {
    /// PASSWORD.
    Password(Secret),
    /// LOGIN / NOLOGIN.
    Login(bool),
    /// VALID UNTIL 'timestamp' (or NULL).
    ValidUntil(Option<String>),
}

/// What GRANT/REVOKE/SHOW GRANTS is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// ON DATABASE main: every table and view.
    Database,
    /// ON [TABLE] t, ...
    Tables(Vec<String>),
}

/// A parsed security statement.
#[derive(Clone, Debug)]
pub enum AuthStmt {
    /// CREATE USER / CREATE ROLE.
    CreateRole {
        /// Name.
        name: String,
        /// USER (LOGIN by default) rather than ROLE.
        user: bool,
        /// IF NOT EXISTS.
        if_not_exists: bool,
        /// Options.
        opts: Vec<RoleOpt>,
    },
    /// ALTER USER / ALTER ROLE.
    AlterRole {
        /// Name.
        name: String,
        /// IF EXISTS.
        if_exists: bool,
        /// Options.
        opts: Vec<RoleOpt>,
    },
    /// DROP USER / DROP ROLE.
    DropRole {
        /// Names.
        names: Vec<String>,
        /// IF EXISTS.
        if_exists: bool,
    },
    /// GRANT privileges.
    Grant {
        /// Privileges, each with its column list (empty: whole object).
        privs: Vec<(Privilege, Vec<String>)>,
        /// On what.
        target: Target,
        /// To whom.
        grantees: Vec<String>,
        /// WITH GRANT OPTION.
        grant_option: bool,
    },
    /// REVOKE privileges.
    Revoke {
        /// Privileges, each with its column list.
        privs: Vec<(Privilege, Vec<String>)>,
        /// On what.
        target: Target,
        /// From whom.
        grantees: Vec<String>,
        /// REVOKE GRANT OPTION FOR: keep the privilege.
        grant_option_only: bool,
    },
    /// GRANT role TO member.
    GrantRole {
        /// Roles.
        roles: Vec<String>,
        /// Members.
        members: Vec<String>,
        /// WITH ADMIN OPTION.
        admin_option: bool,
    },
    /// REVOKE role FROM member.
    RevokeRole {
        /// Roles.
        roles: Vec<String>,
        /// Members.
        members: Vec<String>,
        /// REVOKE ADMIN OPTION FOR: keep the membership.
        admin_option_only: bool,
    },
    /// SHOW USERS / SHOW ROLES.
    ShowRoles,
    /// SHOW GRANTS [ON ...] [FOR ...].
    ShowGrants {
        /// ON.
        target: Option<Target>,
        /// FOR.
        grantees: Vec<String>,
    },
    /// ALTER TABLE t ENABLE | DISABLE ROW LEVEL SECURITY.
    SetRls {
        /// Table.
        table: String,
        /// Enable.
        enabled: bool,
    },
    /// CREATE POLICY.
    CreatePolicy(Policy),
    /// DROP POLICY [IF EXISTS] name ON table.
    DropPolicy {
        /// Table.
        table: String,
        /// Policy.
        name: String,
        /// IF EXISTS.
        if_exists: bool,
    },
    /// ALTER TABLE t EXPERIMENTAL_AUDIT SET mode.
    SetAudit {
        /// Table.
        table: String,
        /// Mode.
        mode: AuditMode,
    },
    /// ALTER TABLE|VIEW t OWNER TO r.
    SetOwner {
        /// Table or view.
        table: String,
        /// New owner.
        owner: String,
    },
    /// REASSIGN OWNED BY a, ... TO b.
    ReassignOwned {
        /// Old owners.
        from: Vec<String>,
        /// New owner.
        to: String,
    },
    /// SET CLUSTER SETTING name = 'value'.
    SetSetting {
        /// Setting.
        name: String,
        /// Value.
        value: String,
    },
    /// SHOW CLUSTER SETTING name.
    ShowSetting {
        /// Setting.
        name: String,
    },
    /// CREATE LOGIN TOKEN [FOR user] [VALID FOR 'duration']: the token is
    /// returned once, as a row.
    CreateToken {
        /// Whose (default: the session's user).
        user: Option<String>,
        /// How long it is valid (see `token::parse_duration`).
        valid_for: Option<String>,
    },
    /// REVOKE LOGIN TOKEN 'id'.
    RevokeToken {
        /// The token's id.
        id: String,
    },
    /// REVOKE ALL LOGIN TOKENS [FOR user].
    RevokeTokens {
        /// Whose (default: the session's user).
        user: Option<String>,
    },
    /// SHOW LOGIN TOKENS [FOR user].
    ShowTokens {
        /// Whose (default: all the actor may see).
        user: Option<String>,
    },
}

/// The host-rules setting (CockroachDB's name).
pub const HBA_SETTING: &str = "server.host_based_authentication.configuration";
/// Leave bound values out of audit records.
pub const REDACT_SETTING: &str = "sql.audit.redact_values";

impl AuthStmt {
    /// The statement as text for the audit log: canonical, passwords
    /// left out.
    pub fn audit_text(&self, original: &str) -> String {
        match self {
            AuthStmt::CreateRole {
                name, user, opts, ..
            } => format!(
                "CREATE {} {name}{}",
                if *user { "USER" } else { "ROLE" },
                opts_text(opts)
            ),
            AuthStmt::AlterRole { name, opts, .. } => {
                format!("ALTER ROLE {name}{}", opts_text(opts))
            }
            _ => original.trim().to_string(),
        }
    }

    /// Whether it only reads the catalog.
    pub fn is_show(&self) -> bool {
        matches!(
            self,
            AuthStmt::ShowRoles
                | AuthStmt::ShowGrants { .. }
                | AuthStmt::ShowSetting { .. }
                | AuthStmt::ShowTokens { .. }
        )
    }

    /// The tables it names (for audit records).
    pub fn objects(&self) -> Vec<String> {
        match self {
            AuthStmt::Grant { target, .. } | AuthStmt::Revoke { target, .. } => match target {
                Target::Database => vec![DATABASE.to_string()],
                Target::Tables(t) => t.clone(),
            },
            AuthStmt::SetRls { table, .. }
            | AuthStmt::DropPolicy { table, .. }
            | AuthStmt::SetAudit { table, .. }
            | AuthStmt::SetOwner { table, .. } => vec![table.clone()],
            AuthStmt::CreatePolicy(p) => vec![p.table.clone()],
            _ => Vec::new(),
        }
    }
}

/// Role options as text for the audit log, passwords left out.
fn opts_text(opts: &[RoleOpt]) -> String {
    let mut out = String::new();
    for o in opts {
        out.push(' ');
        match o {
            RoleOpt::Password(Secret::Null) => out.push_str("PASSWORD NULL"),
            RoleOpt::Password(_) => out.push_str("PASSWORD <redacted>"),
            RoleOpt::Login(true) => out.push_str("LOGIN"),
            RoleOpt::Login(false) => out.push_str("NOLOGIN"),
            RoleOpt::ValidUntil(Some(t)) => out.push_str(&format!("VALID UNTIL '{t}'")),
            RoleOpt::ValidUntil(None) => out.push_str("VALID UNTIL NULL"),
        }
    }
    out
}

/// What applying needs from outside the security catalog.
pub struct ApplyEnv<'a> {
    /// Which tables exist.
    pub objects: &'a dyn ObjectLookup,
    /// Now (Unix seconds).
    pub now: i64,
    /// Cost of new password hashes.
    pub cost: PasswordCost,
    /// Bound parameter `n` (1-based) as text.
    pub param: &'a dyn Fn(usize) -> Option<Zeroizing<String>>,
}

/// Rows produced by SHOW statements.
#[derive(Default)]
pub struct Outcome {
    /// Column names.
    pub columns: Vec<&'static str>,
    /// Rows (NULL = None).
    pub rows: Vec<Vec<Option<String>>>,
}

fn need_admin(actor: &Roles, what: &str) -> Result<()> {
    if actor.admin {
        Ok(())
    } else {
        Err(denied(format!("only admins may {what}")))
    }
}

fn valid_name(name: &str) -> Result<()> {
    if name == PUBLIC || name == "none" || name == "current_user" || name == "session_user" {
        return Err(Error::sql(
            SqlErrorKind::Misuse,
            format!("role name {name} is reserved"),
        ));
    }
    Ok(())
}

impl AuthState {
    fn role_opts(&mut self, name: &str, opts: &[RoleOpt], env: &ApplyEnv) -> Result<()> {
        for o in opts {
            match o {
                RoleOpt::Password(s) => {
                    let pw = match s {
                        Secret::Literal(p) => Some(p.clone()),
                        Secret::Param(i) => Some((env.param)(*i).ok_or_else(|| {
                            Error::sql(
                                SqlErrorKind::Misuse,
                                format!("parameter ${i} for PASSWORD must be bound to text"),
                            )
                        })?),
                        Secret::Null => None,
                    };
                    let hash = match pw {
                        Some(p) if p.is_empty() => {
                            return Err(Error::sql(
                                SqlErrorKind::Misuse,
                                "a password cannot be empty (use PASSWORD NULL)",
                            ))
                        }
                        Some(p) => Some(hash_password(&p, env.cost)?),
                        None => None,
                    };
                    if let Some(r) = self.roles.get_mut(name) {
                        r.password_hash = hash;
                    }
                    // A new password (or none) ends every login token made
                    // under the old one: whoever is locked out by the
                    // change stays out.
                    self.tokens.retain(|_, t| t.user != name);
                }
                RoleOpt::Login(l) => {
                    if let Some(r) = self.roles.get_mut(name) {
                        r.login = *l;
                    }
                    // Losing LOGIN ends its tokens for good: they do not
                    // come back with a later LOGIN.
                    if !*l {
                        self.tokens.retain(|_, t| t.user != name);
                    }
                }
                RoleOpt::ValidUntil(t) => {
                    let t = match t {
                        Some(t) => Some(parse_timestamp(t)?),
                        None => None,
                    };
                    if let Some(r) = self.roles.get_mut(name) {
                        r.valid_until = t;
                    }
                }
            }
        }
        Ok(())
    }

    fn check_table(&self, actor: &Roles, table: &str, env: &ApplyEnv) -> Result<Vec<String>> {
        match env.objects.columns(table) {
            Some(cols) if self.visible(actor, table) => Ok(cols),
            _ => Err(no_such_table(table)),
        }
    }

    fn need_owner(&self, actor: &Roles, table: &str, what: &str) -> Result<()> {
        if actor.admin || self.owns(actor, table) {
            Ok(())
        } else {
            Err(denied(format!(
                "only the owner of {table} or an admin may {what}"
            )))
        }
    }

    fn has_admin_option(&self, actor: &Roles, role: &str) -> bool {
        actor.admin
            || self
                .members
                .iter()
                .any(|((r, m), a)| r == role && *a && actor.set.contains(m))
    }

    /// Every role and member exists, and `actor` may grant or revoke
    /// (`verb`) each role.
    fn may_change_membership(
        &self,
        actor: &Roles,
        roles: &[String],
        members: &[String],
        verb: &str,
    ) -> Result<()> {
        for r in roles.iter().chain(members) {
            self.require_role(r)?;
        }
        for r in roles {
            if !self.has_admin_option(actor, r) {
                return Err(denied(format!(
                    "cannot {verb} role {r}: you are not an admin and do not hold its ADMIN OPTION"
                )));
            }
        }
        Ok(())
    }

    /// Applies `stmt` as `actor`. On error `self` may be partly changed:
    /// callers apply to a copy and keep it only on success.
    pub fn apply(&mut self, actor: &Roles, stmt: &AuthStmt, env: &ApplyEnv) -> Result<Outcome> {
        match stmt {
            AuthStmt::CreateRole {
                name,
                user,
                if_not_exists,
                opts,
            } => {
                need_admin(actor, "create users and roles")?;
                valid_name(name)?;
                if self.roles.contains_key(name) {
                    if *if_not_exists {
                        return Ok(Outcome::default());
                    }
                    return Err(Error::sql(
                        SqlErrorKind::AlreadyExists,
                        format!("role {name} already exists"),
                    ));
                }
                self.roles.insert(
                    name.clone(),
                    RoleInfo {
                        name: name.clone(),
                        login: *user,
                        password_hash: None,
                        valid_until: None,
                    },
                );
                self.role_opts(name, opts, env)?;
            }
            AuthStmt::AlterRole {
                name,
                if_exists,
                opts,
            } => {
                let own_password =
                    actor.user == *name && opts.iter().all(|o| matches!(o, RoleOpt::Password(_)));
                if !own_password {
                    need_admin(actor, "change users and roles")?;
                }
                if !self.roles.contains_key(name) {
                    if *if_exists {
                        return Ok(Outcome::default());
                    }
                    return Err(Error::sql(
                        SqlErrorKind::UnknownRole,
                        format!("role {name} does not exist"),
                    ));
                }
                if name == ADMIN && opts.iter().any(|o| matches!(o, RoleOpt::Login(true))) {
                    return Err(Error::sql(
                        SqlErrorKind::Misuse,
                        "the admin role cannot log in",
                    ));
                }
                self.role_opts(name, opts, env)?;
            }
            AuthStmt::DropRole { names, if_exists } => {
                need_admin(actor, "drop users and roles")?;
                for name in names {
                    if !self.roles.contains_key(name) {
                        if *if_exists {
                            continue;
                        }
                        return Err(Error::sql(
                            SqlErrorKind::UnknownRole,
                            format!("role {name} does not exist"),
                        ));
                    }
                    if name == ROOT || name == ADMIN {
                        return Err(denied(format!("role {name} cannot be dropped")));
                    }
                    if *name == actor.user {
                        return Err(denied("the current user cannot be dropped"));
                    }
                    let owned = self.owned_by(name);
                    if !owned.is_empty() {
                        return Err(denied(format!(
                            "role {name} cannot be dropped because it owns {}; \
                             reassign ownership first (REASSIGN OWNED BY {name} TO ...)",
                            owned.join(", ")
                        )));
                    }
                    if let Some(p) = self.policies.values().find(|p| p.roles.contains(name)) {
                        return Err(denied(format!(
                            "role {name} cannot be dropped because policy {} on {} names it",
                            p.name, p.table
                        )));
                    }
                    self.roles.remove(name);
                    self.members.retain(|(r, m), _| r != name && m != name);
                    self.grants.retain(|(_, g), _| g != name);
                    self.tokens.retain(|_, t| t.user != *name);
                }
            }
            AuthStmt::Grant {
                privs,
                target,
                grantees,
                grant_option,
            } => {
                for g in grantees {
                    self.require_grantee(g)?;
                }
                let objects: Vec<(String, Option<Vec<String>>)> = match target {
                    Target::Database => vec![(String::new(), None)],
                    Target::Tables(ts) => ts
                        .iter()
                        .map(|t| Ok((t.clone(), Some(self.check_table(actor, t, env)?))))
                        .collect::<Result<_>>()?,
                };
                for (obj, cols) in &objects {
                    let shown = if obj.is_empty() { DATABASE } else { obj };
                    for (p, pcols) in privs {
                        if !self.may_grant(actor, obj, *p) {
                            return Err(denied(format!(
                                "cannot grant {} on {shown}: you do not hold it WITH GRANT OPTION",
                                p.name()
                            )));
                        }
                        if !pcols.is_empty() {
                            let Some(cols) = cols else {
                                return Err(Error::sql(
                                    SqlErrorKind::Misuse,
                                    "column privileges are granted on a table",
                                ));
                            };
                            for c in pcols {
                                if !cols.contains(c) {
                                    return Err(Error::sql(
                                        SqlErrorKind::UnknownColumn,
                                        format!("no such column: {shown}.{c}"),
                                    ));
                                }
                            }
                        }
                    }
                    for g in grantees {
                        let e = self.grants.entry((obj.clone(), g.clone())).or_default();
                        for (p, pcols) in privs {
                            if pcols.is_empty() {
                                e.privs |= p.bit();
                                if *grant_option {
                                    e.grantable |= p.bit();
                                }
                            } else {
                                for c in pcols {
                                    *e.columns.entry(c.clone()).or_default() |= p.bit();
                                }
                            }
                        }
                    }
                }
            }
            AuthStmt::Revoke {
                privs,
                target,
                grantees,
                grant_option_only,
            } => {
                for g in grantees {
                    self.require_grantee(g)?;
                }
                let objects: Vec<String> = match target {
                    Target::Database => vec![String::new()],
                    Target::Tables(ts) => ts
                        .iter()
                        .map(|t| self.check_table(actor, t, env).map(|_| t.clone()))
                        .collect::<Result<_>>()?,
                };
                for obj in &objects {
                    let shown = if obj.is_empty() { DATABASE } else { obj };
                    for (p, _) in privs {
                        if !self.may_grant(actor, obj, *p) {
                            return Err(denied(format!(
                                "cannot revoke {} on {shown}: you do not hold it WITH GRANT OPTION",
                                p.name()
                            )));
                        }
                    }
                    for g in grantees {
                        let key = (obj.clone(), g.clone());
                        let Some(e) = self.grants.get_mut(&key) else {
                            continue;
                        };
                        for (p, pcols) in privs {
                            if pcols.is_empty() {
                                e.grantable &= !p.bit();
                                if !grant_option_only {
                                    e.privs &= !p.bit();
                                    for b in e.columns.values_mut() {
                                        *b &= !p.bit();
                                    }
                                }
                            } else {
                                for c in pcols {
                                    if let Some(b) = e.columns.get_mut(c) {
                                        *b &= !p.bit();
                                    }
                                }
                            }
                        }
                        e.columns.retain(|_, b| *b != 0);
                        if e.privs == 0 && e.columns.is_empty() {
                            self.grants.remove(&key);
                        }
                    }
                }
            }
            AuthStmt::GrantRole {
                roles,
                members,
                admin_option,
            } => {
                self.may_change_membership(actor, roles, members, "grant")?;
                for r in roles {
                    if r == PUBLIC {
                        return Err(Error::sql(SqlErrorKind::Misuse, "public cannot be granted"));
                    }
                    for m in members {
                        if m == r || self.is_member(r, m) {
                            return Err(Error::sql(
                                SqlErrorKind::Misuse,
                                format!(
                                    "granting role {r} to {m} would make a cycle: {r} is already a member of {m}"
                                ),
                            ));
                        }
                        let e = self.members.entry((r.clone(), m.clone())).or_insert(false);
                        *e |= *admin_option;
                    }
                }
            }
            AuthStmt::RevokeRole {
                roles,
                members,
                admin_option_only,
            } => {
                self.may_change_membership(actor, roles, members, "revoke")?;
                for r in roles {
                    for m in members {
                        if r == ADMIN && m == ROOT {
                            return Err(denied("root cannot be removed from admin"));
                        }
                        if *admin_option_only {
                            if let Some(a) = self.members.get_mut(&(r.clone(), m.clone())) {
                                *a = false;
                            }
                        } else {
                            self.members.remove(&(r.clone(), m.clone()));
                        }
                    }
                }
            }
            AuthStmt::ShowRoles => return Ok(self.show_roles(actor)),
            AuthStmt::ShowGrants { target, grantees } => {
                return self.show_grants(actor, target.as_ref(), grantees, env)
            }
            AuthStmt::SetRls { table, enabled } => {
                self.check_table(actor, table, env)?;
                self.need_owner(actor, table, "change row-level security")?;
                if *enabled {
                    self.rls.insert(table.clone());
                } else {
                    self.rls.remove(table);
                }
            }
            AuthStmt::CreatePolicy(p) => {
                self.check_table(actor, &p.table, env)?;
                self.need_owner(actor, &p.table, "create policies on it")?;
                for r in &p.roles {
                    self.require_grantee(r)?;
                }
                let key = (p.table.clone(), p.name.clone());
                if self.policies.contains_key(&key) {
                    return Err(Error::sql(
                        SqlErrorKind::AlreadyExists,
                        format!("policy {} on {} already exists", p.name, p.table),
                    ));
                }
                self.policies.insert(key, p.clone());
            }
            AuthStmt::DropPolicy {
                table,
                name,
                if_exists,
            } => {
                self.check_table(actor, table, env)?;
                self.need_owner(actor, table, "drop its policies")?;
                if self
                    .policies
                    .remove(&(table.clone(), name.clone()))
                    .is_none()
                    && !if_exists
                {
                    return Err(Error::sql(
                        SqlErrorKind::UnknownTable,
                        format!("policy {name} on {table} does not exist"),
                    ));
                }
            }
            AuthStmt::SetAudit { table, mode } => {
                self.check_table(actor, table, env)?;
                need_admin(actor, "change audit settings")?;
                if mode.read || mode.write {
                    self.audit.insert(table.clone(), *mode);
                } else {
                    self.audit.remove(table);
                }
            }
            AuthStmt::SetOwner { table, owner } => {
                self.check_table(actor, table, env)?;
                self.require_role(owner)?;
                if !(actor.admin || self.owns(actor, table) && actor.set.contains(owner)) {
                    return Err(denied(format!(
                        "only an admin, or the owner of {table} when a member of {owner}, may change its owner"
                    )));
                }
                self.owners.insert(table.clone(), owner.clone());
            }
            AuthStmt::ReassignOwned { from, to } => {
                need_admin(actor, "reassign ownership")?;
                self.require_role(to)?;
                for f in from {
                    self.require_role(f)?;
                    for o in self.owned_by(f) {
                        self.owners.insert(o, to.clone());
                    }
                }
            }
            AuthStmt::SetSetting { name, value } => {
                need_admin(actor, "change cluster settings")?;
                match name.as_str() {
                    HBA_SETTING => {
                        hba::parse_rules(value)?;
                        self.hba = value.clone();
                    }
                    token::MAX_LIFETIME_SETTING => {
                        self.set_token_max_lifetime(token::parse_duration(value)?, env.now)?;
                    }
                    REDACT_SETTING => {
                        self.redact = match value.to_ascii_lowercase().as_str() {
                            "true" | "on" | "1" => true,
                            "false" | "off" | "0" => false,
                            _ => {
                                return Err(Error::sql(
                                    SqlErrorKind::TypeMismatch,
                                    format!("{REDACT_SETTING} takes true or false"),
                                ))
                            }
                        }
                    }
                    other => {
                        return Err(Error::sql(
                            SqlErrorKind::Unsupported,
                            format!("unknown setting {other}"),
                        ))
                    }
                }
            }
            AuthStmt::ShowSetting { name } => {
                need_admin(actor, "read cluster settings")?;
                let v = match name.as_str() {
                    HBA_SETTING => self.hba.clone(),
                    REDACT_SETTING => self.redact.to_string(),
                    token::MAX_LIFETIME_SETTING => token::format_duration(self.token_max_lifetime),
                    other => {
                        return Err(Error::sql(
                            SqlErrorKind::Unsupported,
                            format!("unknown setting {other}"),
                        ))
                    }
                };
                return Ok(Outcome {
                    columns: vec!["value"],
                    rows: vec![vec![Some(v)]],
                });
            }
            AuthStmt::CreateToken { user, valid_for } => {
                let user = user.as_deref().unwrap_or(&actor.user);
                let valid_for = valid_for
                    .as_deref()
                    .map(token::parse_duration)
                    .transpose()?;
                let t = self.create_token(actor, user, valid_for, env.now)?;
                return Ok(Outcome {
                    columns: vec!["id", "token", "user", "expires_at"],
                    rows: vec![vec![
                        Some(t.id),
                        Some(t.token.to_string()),
                        Some(t.user),
                        Some(token::format_expiry(t.expires)),
                    ]],
                });
            }
            AuthStmt::RevokeToken { id } => {
                if !self.revoke_token(actor, id)? {
                    return Err(Error::sql(
                        SqlErrorKind::UnknownRole,
                        format!("login token {id} does not exist"),
                    ));
                }
            }
            AuthStmt::RevokeTokens { user } => {
                let user = user.as_deref().unwrap_or(&actor.user);
                if user != actor.user {
                    self.require_role(user)?;
                }
                self.revoke_tokens(actor, user)?;
            }
            AuthStmt::ShowTokens { user } => {
                let rows = self
                    .visible_tokens(actor, user.as_deref())?
                    .into_iter()
                    .map(|(id, user, expires)| {
                        vec![Some(id), Some(user), Some(token::format_expiry(expires))]
                    })
                    .collect();
                return Ok(Outcome {
                    columns: vec!["id", "user", "expires_at"],
                    rows,
                });
            }
        }
        Ok(Outcome::default())
    }

    /// SHOW USERS / SHOW ROLES: every role for admins; for others only
    /// themselves and the roles they hold (directly or through others),
    /// so the list of users and who belongs to what stays private.
    fn show_roles(&self, actor: &Roles) -> Outcome {
        let rows = self
            .roles
            .values()
            .filter(|r| actor.admin || actor.set.contains(&r.name))
            .map(|r| {
                let mut opts = Vec::new();
                if !r.login {
                    opts.push("NOLOGIN".to_string());
                }
                if let Some(t) = r.valid_until {
                    opts.push(format!("VALID UNTIL={}", format_timestamp(t)));
                }
                let member_of: Vec<String> = self
                    .member_of(&r.name)
                    .into_iter()
                    .map(|(m, _)| m)
                    .filter(|m| actor.admin || actor.set.contains(m))
                    .collect();
                vec![
                    Some(r.name.clone()),
                    Some(opts.join(", ")),
                    Some(member_of.join(", ")),
                ]
            })
            .collect();
        Outcome {
            columns: vec!["username", "options", "member_of"],
            rows,
        }
    }

    fn show_grants(
        &self,
        actor: &Roles,
        target: Option<&Target>,
        grantees: &[String],
        env: &ApplyEnv,
    ) -> Result<Outcome> {
        let objects: Option<Vec<String>> = match target {
            None => None,
            Some(Target::Database) => Some(vec![String::new()]),
            Some(Target::Tables(ts)) => Some(
                ts.iter()
                    .map(|t| self.check_table(actor, t, env).map(|_| t.clone()))
                    .collect::<Result<_>>()?,
            ),
        };
        for g in grantees {
            self.require_grantee(g)?;
        }
        let mut rows = Vec::new();
        for ((obj, grantee), e) in &self.grants {
            if objects.as_ref().is_some_and(|os| !os.contains(obj)) {
                continue;
            }
            if !grantees.is_empty() && !grantees.contains(grantee) {
                continue;
            }
            // Non-admins see grants on what they can see, or to them.
            if !actor.admin && !actor.set.contains(grantee) && !self.visible(actor, obj) {
                continue;
            }
            let (name, kind) = if obj.is_empty() {
                (DATABASE.to_string(), "database")
            } else {
                (obj.clone(), "table")
            };
            for p in names_of(e.privs) {
                rows.push(vec![
                    Some(name.clone()),
                    Some(kind.to_string()),
                    Some(grantee.clone()),
                    Some(p.name().to_string()),
                    None,
                    Some((e.grantable & p.bit() != 0).to_string()),
                ]);
            }
            for (c, bits) in &e.columns {
                for p in names_of(*bits) {
                    rows.push(vec![
                        Some(name.clone()),
                        Some(kind.to_string()),
                        Some(grantee.clone()),
                        Some(p.name().to_string()),
                        Some(c.clone()),
                        Some("false".to_string()),
                    ]);
                }
            }
        }
        Ok(Outcome {
            columns: vec![
                "object_name",
                "object_type",
                "grantee",
                "privilege_type",
                "column_name",
                "is_grantable",
            ],
            rows,
        })
    }
}
