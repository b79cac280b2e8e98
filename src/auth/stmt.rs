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

/// CREATE POLICY as written (names; the catalog stores ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySpec {
    /// Name, unique per table.
    pub name: String,
    /// Table (lowercase).
    pub table: String,
    /// Statements it applies to.
    pub cmd: PolicyCmd,
    /// Roles it applies to (empty = PUBLIC).
    pub roles: Vec<String>,
    /// Which existing rows are visible (SQL expression text).
    pub using: Option<String>,
    /// Which new rows may be written (SQL expression text).
    pub check: Option<String>,
}

/// What GRANT/REVOKE/SHOW GRANTS is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// ON DATABASE main: every table and view.
    Database,
    /// ON \[TABLE\] t, ...
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
        /// CASCADE: also revoke what the grantees granted on the strength
        /// of what is revoked (RESTRICT, the default, refuses instead).
        cascade: bool,
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
    CreatePolicy(PolicySpec),
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
    /// What a new policy's expressions name, bound now (the SQL layer
    /// binds them; see [`PolicyRef`]).
    pub policy_refs: &'a dyn Fn(&PolicySpec) -> Result<Vec<PolicyRef>>,
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
        let id = self.role_id(name);
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
                    self.tokens.retain(|_, t| Some(t.user) != id);
                }
                RoleOpt::Login(l) => {
                    if let Some(r) = self.roles.get_mut(name) {
                        r.login = *l;
                    }
                    // Losing LOGIN ends its tokens for good: they do not
                    // come back with a later LOGIN.
                    if !*l {
                        self.tokens.retain(|_, t| Some(t.user) != id);
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

    fn check_table(&self, actor: &Roles, table: &str, env: &ApplyEnv) -> Result<ObjectInfo> {
        match env.objects.object(table) {
            Some(info) if self.visible(actor, info.id) => Ok(info),
            _ => Err(no_such_table(table)),
        }
    }

    fn need_owner(&self, actor: &Roles, table: &str, id: ObjectId, what: &str) -> Result<()> {
        if actor.admin || self.owns(actor, id) {
            Ok(())
        } else {
            Err(denied(format!(
                "only the owner of {table} or an admin may {what}"
            )))
        }
    }

    fn has_admin_option(&self, actor: &Roles, role: RoleId) -> bool {
        actor.admin
            || self
                .members
                .iter()
                .any(|((r, m), a)| *r == role && *a && actor.ids.contains(m))
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
            if !self.has_admin_option(actor, self.require_role(r)?) {
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
                let id = self.next_role_id;
                self.next_role_id += 1;
                self.roles.insert(
                    name.clone(),
                    RoleInfo {
                        id,
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
                    let Some(id) = self.roles.get(name).map(|r| r.id) else {
                        if *if_exists {
                            continue;
                        }
                        return Err(Error::sql(
                            SqlErrorKind::UnknownRole,
                            format!("role {name} does not exist"),
                        ));
                    };
                    if name == ROOT || name == ADMIN {
                        return Err(denied(format!("role {name} cannot be dropped")));
                    }
                    if id == actor.id {
                        return Err(denied("the current user cannot be dropped"));
                    }
                    let owned: Vec<String> = self
                        .owned_by(id)
                        .into_iter()
                        .map(|o| env.objects.name_of(o).unwrap_or_else(|| format!("#{o}")))
                        .collect();
                    if !owned.is_empty() {
                        return Err(denied(format!(
                            "role {name} cannot be dropped because it owns {}; \
                             reassign ownership first (REASSIGN OWNED BY {name} TO ...)",
                            owned.join(", ")
                        )));
                    }
                    if let Some(p) = self.policies.values().find(|p| p.roles.contains(&id)) {
                        return Err(denied(format!(
                            "role {name} cannot be dropped because policy {} on {} names it",
                            p.name,
                            env.objects
                                .name_of(p.table)
                                .unwrap_or_else(|| format!("#{}", p.table))
                        )));
                    }
                    // Everything that hangs on the role goes with it: its
                    // memberships, its grants, the grants it made (and
                    // what was granted on their strength), its tokens.
                    self.roles.remove(name);
                    self.members.retain(|(r, m), _| *r != id && *m != id);
                    self.grants.retain(|k, _| k.grantee != id);
                    self.prune();
                    self.tokens.retain(|_, t| t.user != id);
                }
            }
            AuthStmt::Grant {
                privs,
                target,
                grantees,
                grant_option,
            } => {
                let grantee_ids: Vec<RoleId> = grantees
                    .iter()
                    .map(|g| self.require_grantee(g))
                    .collect::<Result<_>>()?;
                let objects = self.targets(actor, target, env)?;
                let mut changes: Vec<(GrantKey, Privilege, Option<ColumnId>)> = Vec::new();
                for (obj, info) in &objects {
                    let shown = object_label(*obj, env);
                    for (p, pcols) in privs {
                        // ALL on the database includes TRIGGER, which does
                        // not reach tables; alone it means nothing there.
                        if *obj == DATABASE_ID
                            && *p == Privilege::Trigger
                            && privs.len() != Privilege::ALL.len()
                        {
                            return Err(Error::sql(
                                SqlErrorKind::Misuse,
                                "TRIGGER is granted on tables, not on the database",
                            ));
                        }
                        let cols = column_ids(info.as_ref(), pcols, &shown)?;
                        let no_option = || {
                            denied(format!(
                                "cannot grant {} on {shown}: you do not hold it WITH GRANT OPTION",
                                p.name()
                            ))
                        };
                        if cols.is_empty() {
                            let grantor = self
                                .grantor_for(actor, *obj, *p, None)
                                .ok_or_else(no_option)?;
                            for g in &grantee_ids {
                                changes.push((key(*obj, *g, grantor), *p, None));
                            }
                        } else {
                            for c in cols {
                                let grantor = self
                                    .grantor_for(actor, *obj, *p, Some(c))
                                    .ok_or_else(no_option)?;
                                for g in &grantee_ids {
                                    changes.push((key(*obj, *g, grantor), *p, Some(c)));
                                }
                            }
                        }
                    }
                }
                for (k, p, c) in changes {
                    let e = self.grants.entry(k).or_default();
                    let option = if *grant_option { p.bit() } else { 0 };
                    match c {
                        None => {
                            e.privs |= p.bit();
                            e.grantable |= option;
                        }
                        Some(c) => {
                            let b = e.columns.entry(c).or_default();
                            b.privs |= p.bit();
                            b.grantable |= option;
                        }
                    }
                }
            }
            AuthStmt::Revoke {
                privs,
                target,
                grantees,
                grant_option_only,
                cascade,
            } => {
                let grantee_ids: Vec<RoleId> = grantees
                    .iter()
                    .map(|g| self.require_grantee(g))
                    .collect::<Result<_>>()?;
                let objects = self.targets(actor, target, env)?;
                for (obj, info) in &objects {
                    let shown = object_label(*obj, env);
                    for (p, _) in privs {
                        if !self.may_grant(actor, *obj, *p) {
                            return Err(denied(format!(
                                "cannot revoke {} on {shown}: you do not hold it WITH GRANT OPTION",
                                p.name()
                            )));
                        }
                    }
                    // Admins and the owner revoke any grant on the object;
                    // others only the grants they (or their roles) made.
                    let any_grantor =
                        actor.admin || (*obj != DATABASE_ID && self.owns(actor, *obj));
                    for g in &grantee_ids {
                        let keys: Vec<GrantKey> = self
                            .grants
                            .range(grantee_range_of(*obj, *g))
                            .map(|(k, _)| *k)
                            .filter(|k| any_grantor || actor.ids.contains(&k.grantor))
                            .collect();
                        for k in keys {
                            let Some(e) = self.grants.get_mut(&k) else {
                                continue;
                            };
                            for (p, pcols) in privs {
                                let cols = column_ids(info.as_ref(), pcols, &shown)?;
                                if cols.is_empty() {
                                    e.grantable &= !p.bit();
                                    for b in e.columns.values_mut() {
                                        b.grantable &= !p.bit();
                                    }
                                    if !grant_option_only {
                                        e.privs &= !p.bit();
                                        for b in e.columns.values_mut() {
                                            b.privs &= !p.bit();
                                        }
                                    }
                                } else {
                                    for c in cols {
                                        if let Some(b) = e.columns.get_mut(&c) {
                                            b.grantable &= !p.bit();
                                            if !grant_option_only {
                                                b.privs &= !p.bit();
                                            }
                                        }
                                    }
                                }
                            }
                            e.columns.retain(|_, b| b.privs != 0);
                            if e.privs == 0 && e.columns.is_empty() {
                                self.grants.remove(&k);
                            }
                        }
                    }
                }
                // What the grantees granted on the strength of what they
                // lost: CASCADE revokes it, RESTRICT refuses.
                let dependent = self.prune();
                if let Some((k, p, c)) = dependent.first().filter(|_| !cascade) {
                    let col = c
                        .and_then(|c| column_name(k.object, c, env))
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default();
                    return Err(Error::sql(
                        SqlErrorKind::Misuse,
                        format!(
                            "dependent privileges exist: {} granted {}{col} on {} to {} on the strength of it; \
                             use REVOKE ... CASCADE to revoke them too",
                            self.role_label(k.grantor),
                            p.name(),
                            object_label(k.object, env),
                            self.role_label(k.grantee)
                        ),
                    ));
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
                    let rid = self.require_role(r)?;
                    for m in members {
                        let mid = self.require_role(m)?;
                        if mid == rid || self.roles_of_id(rid).ids.contains(&mid) {
                            return Err(Error::sql(
                                SqlErrorKind::Misuse,
                                format!(
                                    "granting role {r} to {m} would make a cycle: {r} is already a member of {m}"
                                ),
                            ));
                        }
                        let e = self.members.entry((rid, mid)).or_insert(false);
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
                    let rid = self.require_role(r)?;
                    for m in members {
                        let mid = self.require_role(m)?;
                        if rid == ADMIN_ID && mid == ROOT_ID {
                            return Err(denied("root cannot be removed from admin"));
                        }
                        if *admin_option_only {
                            if let Some(a) = self.members.get_mut(&(rid, mid)) {
                                *a = false;
                            }
                        } else {
                            self.members.remove(&(rid, mid));
                        }
                    }
                }
            }
            AuthStmt::ShowRoles => return Ok(self.show_roles(actor)),
            AuthStmt::ShowGrants { target, grantees } => {
                return self.show_grants(actor, target.as_ref(), grantees, env)
            }
            AuthStmt::SetRls { table, enabled } => {
                let info = self.check_table(actor, table, env)?;
                self.need_owner(actor, table, info.id, "change row-level security")?;
                if *enabled {
                    self.rls.insert(info.id);
                } else {
                    self.rls.remove(&info.id);
                }
            }
            AuthStmt::CreatePolicy(spec) => {
                let info = self.check_table(actor, &spec.table, env)?;
                self.need_owner(actor, &spec.table, info.id, "create policies on it")?;
                let roles = spec
                    .roles
                    .iter()
                    .map(|r| self.require_grantee(r))
                    .collect::<Result<Vec<_>>>()?;
                let k = (info.id, spec.name.clone());
                if self.policies.contains_key(&k) {
                    return Err(Error::sql(
                        SqlErrorKind::AlreadyExists,
                        format!("policy {} on {} already exists", spec.name, spec.table),
                    ));
                }
                let refs = (env.policy_refs)(spec)?;
                self.policies.insert(
                    k,
                    Policy {
                        name: spec.name.clone(),
                        table: info.id,
                        cmd: spec.cmd,
                        roles,
                        using: spec.using.clone(),
                        check: spec.check.clone(),
                        refs,
                    },
                );
            }
            AuthStmt::DropPolicy {
                table,
                name,
                if_exists,
            } => {
                let info = self.check_table(actor, table, env)?;
                self.need_owner(actor, table, info.id, "drop its policies")?;
                if self.policies.remove(&(info.id, name.clone())).is_none() && !if_exists {
                    return Err(Error::sql(
                        SqlErrorKind::UnknownTable,
                        format!("policy {name} on {table} does not exist"),
                    ));
                }
            }
            AuthStmt::SetAudit { table, mode } => {
                let info = self.check_table(actor, table, env)?;
                need_admin(actor, "change audit settings")?;
                if mode.read || mode.write {
                    self.audit.insert(info.id, *mode);
                } else {
                    self.audit.remove(&info.id);
                }
            }
            AuthStmt::SetOwner { table, owner } => {
                let info = self.check_table(actor, table, env)?;
                let to = self.require_role(owner)?;
                if !(actor.admin || self.owns(actor, info.id) && actor.ids.contains(&to)) {
                    return Err(denied(format!(
                        "only an admin, or the owner of {table} when a member of {owner}, may change its owner"
                    )));
                }
                self.change_owner(info.id, to);
            }
            AuthStmt::ReassignOwned { from, to } => {
                need_admin(actor, "reassign ownership")?;
                let to = self.require_role(to)?;
                for f in from {
                    let f = self.require_role(f)?;
                    for o in self.owned_by(f) {
                        self.change_owner(o, to);
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

    /// The objects a GRANT, REVOKE or SHOW GRANTS names: the database, or
    /// tables and views the actor can see.
    fn targets(
        &self,
        actor: &Roles,
        target: &Target,
        env: &ApplyEnv,
    ) -> Result<Vec<(ObjectId, Option<ObjectInfo>)>> {
        match target {
            Target::Database => Ok(vec![(DATABASE_ID, None)]),
            Target::Tables(ts) => ts
                .iter()
                .map(|t| {
                    let info = self.check_table(actor, t, env)?;
                    Ok((info.id, Some(info)))
                })
                .collect(),
        }
    }

    /// SHOW USERS / SHOW ROLES: every role for admins; for others only
    /// themselves and the roles they hold (directly or through others),
    /// so the list of users and who belongs to what stays private.
    fn show_roles(&self, actor: &Roles) -> Outcome {
        let rows = self
            .roles
            .values()
            .filter(|r| actor.admin || actor.ids.contains(&r.id))
            .map(|r| {
                let mut opts = Vec::new();
                if !r.login {
                    opts.push("NOLOGIN".to_string());
                }
                if let Some(t) = r.valid_until {
                    opts.push(format!("VALID UNTIL={}", format_timestamp(t)));
                }
                let mut member_of: Vec<String> = self
                    .member_of(r.id)
                    .into_iter()
                    .filter(|(m, _)| actor.admin || actor.ids.contains(m))
                    .map(|(m, _)| self.role_label(m))
                    .collect();
                member_of.sort();
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
        let objects: Option<Vec<(ObjectId, Option<ObjectInfo>)>> = match target {
            None => None,
            Some(t) => Some(self.targets(actor, t, env)?),
        };
        let grantee_ids: Vec<RoleId> = grantees
            .iter()
            .map(|g| self.require_grantee(g))
            .collect::<Result<_>>()?;
        // (object, grantee, whole/column, column, privilege, grantor) → row
        let mut rows = Vec::new();
        for (k, e) in &self.grants {
            if objects
                .as_ref()
                .is_some_and(|os| !os.iter().any(|(o, _)| *o == k.object))
            {
                continue;
            }
            if !grantee_ids.is_empty() && !grantee_ids.contains(&k.grantee) {
                continue;
            }
            // Non-admins see grants on what they can see, or to them.
            if !actor.admin && !actor.ids.contains(&k.grantee) && !self.visible(actor, k.object) {
                continue;
            }
            let (name, kind) = if k.object == DATABASE_ID {
                (DATABASE.to_string(), "database")
            } else {
                match env.objects.name_of(k.object) {
                    Some(n) => (n, "table"),
                    None => continue,
                }
            };
            let grantee = self.role_label(k.grantee);
            let grantor = self.role_label(k.grantor);
            for p in names_of(e.privs) {
                rows.push((
                    (
                        name.clone(),
                        grantee.clone(),
                        0,
                        String::new(),
                        p,
                        grantor.clone(),
                    ),
                    vec![
                        Some(name.clone()),
                        Some(kind.to_string()),
                        Some(grantee.clone()),
                        Some(p.name().to_string()),
                        None,
                        Some((e.grantable & p.bit() != 0).to_string()),
                        Some(grantor.clone()),
                    ],
                ));
            }
            for (c, bits) in &e.columns {
                let Some(col) = column_name(k.object, *c, env) else {
                    continue;
                };
                for p in names_of(bits.privs) {
                    rows.push((
                        (
                            name.clone(),
                            grantee.clone(),
                            1,
                            col.clone(),
                            p,
                            grantor.clone(),
                        ),
                        vec![
                            Some(name.clone()),
                            Some(kind.to_string()),
                            Some(grantee.clone()),
                            Some(p.name().to_string()),
                            Some(col.clone()),
                            Some((bits.grantable & p.bit() != 0).to_string()),
                            Some(grantor.clone()),
                        ],
                    ));
                }
            }
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Outcome {
            columns: vec![
                "object_name",
                "object_type",
                "grantee",
                "privilege_type",
                "column_name",
                "is_grantable",
                "grantor",
            ],
            rows: rows.into_iter().map(|(_, r)| r).collect(),
        })
    }
}

fn key(object: ObjectId, grantee: RoleId, grantor: RoleId) -> GrantKey {
    GrantKey {
        object,
        grantee,
        grantor,
    }
}

fn grantee_range_of(object: ObjectId, grantee: RoleId) -> std::ops::RangeInclusive<GrantKey> {
    key(object, grantee, 0)..=key(object, grantee, RoleId::MAX)
}

/// An object's name for messages (`main` for the database).
fn object_label(object: ObjectId, env: &ApplyEnv) -> String {
    if object == DATABASE_ID {
        return DATABASE.to_string();
    }
    env.objects
        .name_of(object)
        .unwrap_or_else(|| format!("#{object}"))
}

/// The current name of column `column` of `object`.
fn column_name(object: ObjectId, column: ColumnId, env: &ApplyEnv) -> Option<String> {
    let name = env.objects.name_of(object)?;
    env.objects
        .object(&name)?
        .columns
        .into_iter()
        .find(|(i, _)| *i == column)
        .map(|(_, n)| n)
}

/// The ids of the columns `names` of `info` (none for a whole-object
/// privilege).
fn column_ids(info: Option<&ObjectInfo>, names: &[String], shown: &str) -> Result<Vec<ColumnId>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let Some(info) = info else {
        return Err(Error::sql(
            SqlErrorKind::Misuse,
            "column privileges are granted on a table",
        ));
    };
    names
        .iter()
        .map(|c| {
            info.column(c).ok_or_else(|| {
                Error::sql(
                    SqlErrorKind::UnknownColumn,
                    format!("no such column: {shown}.{c}"),
                )
            })
        })
        .collect()
}
