//! The security catalog: users and roles, memberships, grants, owners,
//! row-level policies, host rules, login tokens and audit settings — and
//! the rules that read and change them.
//!
//! The whole state is one value, stored encrypted under one system key
//! and changed only inside the changing statement's transaction, so a
//! denied or failed statement changes nothing and DDL, grants and their
//! audit records commit together. It is small (a few KiB for hundreds of
//! roles) and read far more often than written, so every reader shares an
//! immutable `Arc<AuthState>` and writers replace it at commit.
//!
//! Invariants:
//! - names are stored lowercase; `root` and `admin` always exist, `root`
//!   is always a member of `admin`;
//! - membership has no cycles (checked on every GRANT of a role);
//! - a grant's `grantable` bits are a subset of its `privs` bits;
//! - object keys are lowercase table/view names; `""` is the database.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::error::{Error, Result, SqlErrorKind};

/// The user that exists from creation and holds every right.
pub const ROOT: &str = "root";
/// The built-in administrators' role.
pub const ADMIN: &str = "admin";
/// The role every user is a member of.
pub const PUBLIC: &str = "public";
/// The database's name in GRANT ... ON DATABASE.
pub const DATABASE: &str = "main";

/// A privilege on a database, table or view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Privilege {
    /// Read rows.
    Select,
    /// Add rows.
    Insert,
    /// Change rows.
    Update,
    /// Remove rows.
    Delete,
    /// Create tables (database) or indexes, triggers, ALTER (table).
    Create,
    /// Drop the object.
    Drop,
}

impl Privilege {
    /// Every privilege (what ALL means).
    pub const ALL: [Privilege; 6] = [
        Privilege::Select,
        Privilege::Insert,
        Privilege::Update,
        Privilege::Delete,
        Privilege::Create,
        Privilege::Drop,
    ];

    /// Its bit in a privilege set.
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The SQL keyword.
    pub fn name(self) -> &'static str {
        match self {
            Privilege::Select => "SELECT",
            Privilege::Insert => "INSERT",
            Privilege::Update => "UPDATE",
            Privilege::Delete => "DELETE",
            Privilege::Create => "CREATE",
            Privilege::Drop => "DROP",
        }
    }

    /// Parses a keyword.
    pub fn parse(s: &str) -> Option<Privilege> {
        Privilege::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }

    /// Whether it can be granted on single columns.
    pub fn column_level(self) -> bool {
        matches!(
            self,
            Privilege::Select | Privilege::Insert | Privilege::Update
        )
    }
}

fn bits_names(bits: u8) -> Vec<Privilege> {
    Privilege::ALL
        .into_iter()
        .filter(|p| bits & p.bit() != 0)
        .collect()
}

/// A user or role (one kind of thing, as in PostgreSQL and CockroachDB:
/// a user is a role that may log in).
#[derive(Clone)]
pub struct RoleInfo {
    /// Name (lowercase).
    pub name: String,
    /// May log in.
    pub login: bool,
    /// argon2id PHC string.
    pub password_hash: Option<String>,
    /// Login refused after this time (Unix seconds).
    pub valid_until: Option<i64>,
}

/// Privileges one grantee holds on one object.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct GrantEntry {
    /// Whole-object privileges.
    pub privs: u8,
    /// Of those, the ones the grantee may grant on.
    pub grantable: u8,
    /// Column privileges: column (lowercase) → privilege bits.
    pub columns: BTreeMap<String, u8>,
}

/// Which statements a row policy applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyCmd {
    /// Every statement.
    All,
    /// SELECT (and reads by UPDATE/DELETE).
    Select,
    /// INSERT.
    Insert,
    /// UPDATE.
    Update,
    /// DELETE.
    Delete,
}

impl PolicyCmd {
    /// The SQL keyword.
    pub fn name(self) -> &'static str {
        match self {
            PolicyCmd::All => "ALL",
            PolicyCmd::Select => "SELECT",
            PolicyCmd::Insert => "INSERT",
            PolicyCmd::Update => "UPDATE",
            PolicyCmd::Delete => "DELETE",
        }
    }
}

/// A row-level security policy (permissive: a row is visible when any
/// applicable policy's USING holds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
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

/// What an audited table logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AuditMode {
    /// Statements that read it.
    pub read: bool,
    /// Statements that change it.
    pub write: bool,
}

impl AuditMode {
    /// `READ WRITE`, `READ`, `WRITE` or `OFF`.
    pub fn name(self) -> &'static str {
        match (self.read, self.write) {
            (true, true) => "READ WRITE",
            (true, false) => "READ",
            (false, true) => "WRITE",
            (false, false) => "OFF",
        }
    }
}

/// A stored login token (only the hash of its secret).
#[derive(Clone)]
pub struct TokenInfo {
    /// Whose.
    pub user: String,
    /// SHA-256 of the secret.
    pub hash: [u8; 32],
    /// Unix seconds after which it is refused.
    pub expires: i64,
}

/// The security catalog.
#[derive(Clone)]
pub struct AuthState {
    /// Users and roles by name.
    pub roles: BTreeMap<String, RoleInfo>,
    /// (role, member) → member has ADMIN OPTION.
    pub members: BTreeMap<(String, String), bool>,
    /// (object, grantee) → privileges.
    pub grants: BTreeMap<(String, String), GrantEntry>,
    /// object → owner.
    pub owners: BTreeMap<String, String>,
    /// Tables with row-level security enabled.
    pub rls: BTreeSet<String>,
    /// (table, policy name) → policy.
    pub policies: BTreeMap<(String, String), Policy>,
    /// Host rules as configured (empty = default).
    pub hba: String,
    /// Login tokens by id.
    pub tokens: BTreeMap<String, TokenInfo>,
    /// Audited tables.
    pub audit: BTreeMap<String, AuditMode>,
    /// Leave bound values out of audit records.
    pub redact: bool,
    /// Longest a login token may live, in seconds (see `token`).
    pub token_max_lifetime: i64,
}

/// A user's effective roles: itself, `public`, and every role reached
/// through memberships.
#[derive(Clone, Debug)]
pub struct Roles {
    /// The user (lowercase).
    pub user: String,
    /// Every role held, the user included.
    pub set: BTreeSet<String>,
    /// Member of `admin` (or `root`): every right.
    pub admin: bool,
}

impl Roles {
    /// Active roles other than the user itself, for audit records.
    pub fn granted(&self) -> Vec<String> {
        self.set
            .iter()
            .filter(|r| **r != self.user && *r != PUBLIC)
            .cloned()
            .collect()
    }
}

/// Tells the security catalog which tables and views exist.
pub trait ObjectLookup {
    /// The columns of table or view `name` (lowercase), or `None` if it
    /// does not exist.
    fn columns(&self, name: &str) -> Option<Vec<String>>;
}

pub(crate) fn denied(msg: impl Into<String>) -> Error {
    Error::PermissionDenied {
        message: msg.into(),
    }
}

fn unknown_role(name: &str) -> Error {
    Error::sql(
        SqlErrorKind::UnknownRole,
        format!("role {name} does not exist"),
    )
}

fn no_table(name: &str) -> Error {
    Error::sql(SqlErrorKind::UnknownTable, format!("no such table: {name}"))
}

impl Default for AuthState {
    fn default() -> Self {
        AuthState::new()
    }
}

impl AuthState {
    /// A new database's state: `root` (may log in, no password yet) and
    /// the `admin` role with `root` in it.
    pub fn new() -> AuthState {
        let mut roles = BTreeMap::new();
        roles.insert(
            ROOT.to_string(),
            RoleInfo {
                name: ROOT.into(),
                login: true,
                password_hash: None,
                valid_until: None,
            },
        );
        roles.insert(
            ADMIN.to_string(),
            RoleInfo {
                name: ADMIN.into(),
                login: false,
                password_hash: None,
                valid_until: None,
            },
        );
        let mut members = BTreeMap::new();
        members.insert((ADMIN.to_string(), ROOT.to_string()), true);
        AuthState {
            roles,
            members,
            grants: BTreeMap::new(),
            owners: BTreeMap::new(),
            rls: BTreeSet::new(),
            policies: BTreeMap::new(),
            hba: String::new(),
            tokens: BTreeMap::new(),
            audit: BTreeMap::new(),
            redact: false,
            token_max_lifetime: crate::auth::token::DEFAULT_MAX_LIFETIME,
        }
    }

    /// The effective roles of `user`.
    pub fn roles_of(&self, user: &str) -> Roles {
        let user = user.to_lowercase();
        let mut set = BTreeSet::new();
        set.insert(user.clone());
        set.insert(PUBLIC.to_string());
        let mut queue = VecDeque::from([user.clone()]);
        while let Some(r) = queue.pop_front() {
            for (role, _) in self.member_of(&r) {
                if set.insert(role.clone()) {
                    queue.push_back(role);
                }
            }
        }
        let admin = user == ROOT || set.contains(ADMIN);
        Roles { user, set, admin }
    }

    /// Roles `member` belongs to directly, with the ADMIN OPTION flag.
    pub fn member_of(&self, member: &str) -> Vec<(String, bool)> {
        self.members
            .iter()
            .filter(|((_, m), _)| m == member)
            .map(|((r, _), a)| (r.clone(), *a))
            .collect()
    }

    /// The owner of a table or view.
    pub fn owner_of(&self, object: &str) -> Option<&str> {
        self.owners.get(object).map(|s| s.as_str())
    }

    /// Whether `r` owns `object` (directly or through a role).
    pub fn owns(&self, r: &Roles, object: &str) -> bool {
        self.owner_of(object).is_some_and(|o| r.set.contains(o))
    }

    /// The grants that apply to `object` for `r`: its own, and for a
    /// table or view those on the database — except CREATE, which on the
    /// database means creating new tables, not altering (or adding
    /// triggers and indexes to) everyone else's.
    fn entries<'a>(
        &'a self,
        r: &'a Roles,
        object: &'a str,
    ) -> impl Iterator<Item = GrantEntry> + 'a {
        r.set.iter().flat_map(move |role| {
            let t = self.grants.get(&(object.to_string(), role.clone()));
            let d = if object.is_empty() {
                None
            } else {
                self.grants.get(&(String::new(), role.clone())).map(|g| {
                    let keep = !Privilege::Create.bit();
                    GrantEntry {
                        privs: g.privs & keep,
                        grantable: g.grantable & keep,
                        columns: BTreeMap::new(),
                    }
                })
            };
            t.cloned().into_iter().chain(d)
        })
    }

    /// Whether `r` may use privilege `p` on `object` (a table or view
    /// name, or `""` for the database), for one column if given.
    pub fn allowed(&self, r: &Roles, object: &str, p: Privilege, column: Option<&str>) -> bool {
        if r.admin || (!object.is_empty() && self.owns(r, object)) {
            return true;
        }
        self.entries(r, object).any(|g| {
            g.privs & p.bit() != 0
                || column.is_some_and(|c| g.columns.get(c).is_some_and(|b| b & p.bit() != 0))
        })
    }

    /// Whether `r` holds `p` on some column of `object` (enough to name
    /// the object, e.g. `SELECT count(*)` with one column granted).
    pub fn allowed_any_column(&self, r: &Roles, object: &str, p: Privilege) -> bool {
        self.entries(r, object)
            .any(|g| g.columns.values().any(|b| b & p.bit() != 0))
    }

    /// Whether `r` may grant `p` on `object`.
    pub fn may_grant(&self, r: &Roles, object: &str, p: Privilege) -> bool {
        r.admin
            || (!object.is_empty() && self.owns(r, object))
            || self.entries(r, object).any(|g| g.grantable & p.bit() != 0)
    }

    /// Whether `r` may know that `object` exists: it owns it or holds any
    /// privilege on it.
    pub fn visible(&self, r: &Roles, object: &str) -> bool {
        r.admin
            || self.owns(r, object)
            || self
                .entries(r, object)
                .any(|g| g.privs != 0 || g.columns.values().any(|b| *b != 0))
    }

    /// Whether row-level security filters `table` for `r` (owners and
    /// admins are exempt, as in PostgreSQL).
    pub fn rls_applies(&self, r: &Roles, table: &str) -> bool {
        self.rls.contains(table) && !r.admin && !self.owns(r, table)
    }

    /// The policies on `table` that apply to `r` for `cmd`.
    pub fn policies_for(&self, r: &Roles, table: &str, cmd: PolicyCmd) -> Vec<&Policy> {
        self.policies
            .values()
            .filter(|p| {
                p.table == table
                    && (p.cmd == PolicyCmd::All || p.cmd == cmd)
                    && (p.roles.is_empty() || p.roles.iter().any(|x| r.set.contains(x)))
            })
            .collect()
    }

    /// The audit mode of `table`.
    pub fn audit_mode(&self, table: &str) -> AuditMode {
        self.audit.get(table).copied().unwrap_or_default()
    }

    /// Moves everything attached to a table or view to a new name.
    pub fn rename_object(&mut self, from: &str, to: &str) {
        let (from, to) = (from.to_lowercase(), to.to_lowercase());
        if let Some(o) = self.owners.remove(&from) {
            self.owners.insert(to.clone(), o);
        }
        let keys: Vec<_> = self
            .grants
            .keys()
            .filter(|(o, _)| *o == from)
            .cloned()
            .collect();
        for k in keys {
            if let Some(g) = self.grants.remove(&k) {
                self.grants.insert((to.clone(), k.1), g);
            }
        }
        if self.rls.remove(&from) {
            self.rls.insert(to.clone());
        }
        let keys: Vec<_> = self
            .policies
            .keys()
            .filter(|(t, _)| *t == from)
            .cloned()
            .collect();
        for k in keys {
            if let Some(mut p) = self.policies.remove(&k) {
                p.table = to.clone();
                self.policies.insert((to.clone(), k.1), p);
            }
        }
        if let Some(a) = self.audit.remove(&from) {
            self.audit.insert(to, a);
        }
    }

    /// Forgets everything attached to a dropped table or view.
    pub fn drop_object(&mut self, name: &str) {
        let name = name.to_lowercase();
        self.owners.remove(&name);
        self.grants.retain(|(o, _), _| *o != name);
        self.rls.remove(&name);
        self.policies.retain(|(t, _), _| *t != name);
        self.audit.remove(&name);
    }

    /// Records `owner` as the owner of a new object.
    pub fn set_owner(&mut self, object: &str, owner: &str) {
        self.owners
            .insert(object.to_lowercase(), owner.to_lowercase());
    }

    pub(crate) fn require_role(&self, name: &str) -> Result<()> {
        if self.roles.contains_key(name) {
            Ok(())
        } else {
            Err(unknown_role(name))
        }
    }

    /// A role privileges and policies may name: any role, or `public`
    /// (every user), which is not stored as a role.
    pub(crate) fn require_grantee(&self, name: &str) -> Result<()> {
        if name == PUBLIC {
            Ok(())
        } else {
            self.require_role(name)
        }
    }

    /// Whether `member` is (transitively) a member of `role`.
    pub fn is_member(&self, member: &str, role: &str) -> bool {
        self.roles_of(member).set.contains(role)
    }

    /// Objects owned by `role`.
    pub fn owned_by(&self, role: &str) -> Vec<String> {
        self.owners
            .iter()
            .filter(|(_, o)| *o == role)
            .map(|(t, _)| t.clone())
            .collect()
    }
}

/// Unix seconds of a UTC timestamp `YYYY-MM-DD[ HH:MM[:SS]]` (a `T`
/// separator and a trailing `Z` or `+00:00` are accepted).
pub fn parse_timestamp(s: &str) -> Result<i64> {
    let bad = || {
        Error::sql(
            SqlErrorKind::TypeMismatch,
            format!("invalid timestamp '{s}': expected YYYY-MM-DD [HH:MM:SS] (UTC)"),
        )
    };
    let t = s.trim().trim_end_matches('Z').trim_end_matches("+00:00");
    let (date, time) = match t.split_once(['T', ' ']) {
        Some((d, tm)) => (d, tm.trim()),
        None => (t, "00:00:00"),
    };
    let d: Vec<i64> = date
        .split('-')
        .map(|x| x.parse().map_err(|_| bad()))
        .collect::<Result<_>>()?;
    let tm: Vec<i64> = time
        .split(':')
        .map(|x| x.split('.').next().unwrap_or("").parse().map_err(|_| bad()))
        .collect::<Result<_>>()?;
    if d.len() != 3 || !(2..=3).contains(&tm.len()) {
        return Err(bad());
    }
    let (y, m, day) = (d[0], d[1], d[2]);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return Err(bad());
    }
    let (hh, mm, ss) = (tm[0], tm[1], tm.get(2).copied().unwrap_or(0));
    if !(0..24).contains(&hh) || !(0..60).contains(&mm) || !(0..61).contains(&ss) {
        return Err(bad());
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Ok(days * 86400 + hh * 3600 + mm * 60 + ss)
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn format_timestamp(t: i64) -> String {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

pub(crate) fn names_of(bits: u8) -> Vec<Privilege> {
    bits_names(bits)
}

pub(crate) fn no_such_table(name: &str) -> Error {
    no_table(name)
}
