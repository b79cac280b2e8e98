//! The security catalog: users and roles, memberships, grants (with their
//! grantors), owners, row-level policies, host rules, login tokens and
//! audit settings — and the rules that read and change them.
//!
//! The whole state is one value, stored encrypted under one system key
//! and changed only inside the changing statement's transaction, so a
//! denied or failed statement changes nothing and DDL, grants and their
//! audit records commit together. It is small (a few KiB for hundreds of
//! roles) and read far more often than written, so every reader shares an
//! immutable `Arc<AuthState>` and writers replace it at commit.
//!
//! Identities, not names: roles have ids ([`RoleId`]) and tables, views
//! and triggers the catalog's ids ([`ObjectId`]), columns their ids
//! within their table ([`ColumnId`]); none is ever reused. Every grant,
//! owner, policy and audit setting is keyed by ids, so renaming a table
//! or a column keeps what hangs on it, a new object or role with an old
//! name inherits nothing, and a session bound to a dropped user's id ends
//! even if a new user takes the name. Names appear only in `roles` (a
//! role's current name) and in what is shown to users.
//!
//! Invariants:
//! - role names are stored lowercase and unique; `root` and `admin` always
//!   exist, `root` is always a member of `admin`;
//! - membership has no cycles (checked on every GRANT of a role);
//! - a grant's `grantable` bits are a subset of its `privs` bits;
//! - every grant's grantor holds what it granted WITH GRANT OPTION through
//!   a chain of grants starting at the object's owner ([`AuthState::prune`]
//!   removes, or RESTRICT refuses, anything left unsupported by a REVOKE
//!   or DROP ROLE);
//! - object id 0 ([`DATABASE_ID`]) is the database; its "owner" is root.

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

/// A role's identity: assigned at CREATE, never reused.
pub type RoleId = u64;
/// A table's, view's or trigger's identity (the catalog's id); 0 is the
/// database.
pub type ObjectId = u64;
/// A column's identity within its table (the catalog's column id).
pub type ColumnId = u32;

/// `public`: every user (not stored as a role).
pub const PUBLIC_ID: RoleId = 0;
/// `root`.
pub const ROOT_ID: RoleId = 1;
/// `admin`.
pub const ADMIN_ID: RoleId = 2;
/// The database in grants (`ON DATABASE main`).
pub const DATABASE_ID: ObjectId = 0;

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
    /// Create tables (database) or indexes, ALTER (table).
    Create,
    /// Drop the object.
    Drop,
    /// Create triggers on the table (which run with their owner's rights).
    Trigger,
}

impl Privilege {
    /// Every privilege (what ALL means).
    pub const ALL: [Privilege; 7] = [
        Privilege::Select,
        Privilege::Insert,
        Privilege::Update,
        Privilege::Delete,
        Privilege::Create,
        Privilege::Drop,
        Privilege::Trigger,
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
            Privilege::Trigger => "TRIGGER",
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

/// Privileges granted on the database that do not reach its tables:
/// CREATE on the database means creating new tables, not altering (or
/// adding indexes to) everyone else's; TRIGGER is granted per table.
const DATABASE_ONLY: u8 = (1 << Privilege::Create as u8) | (1 << Privilege::Trigger as u8);

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
    /// Identity (never reused).
    pub id: RoleId,
    /// Name (lowercase).
    pub name: String,
    /// May log in.
    pub login: bool,
    /// argon2id PHC string.
    pub password_hash: Option<String>,
    /// Login refused after this time (Unix seconds).
    pub valid_until: Option<i64>,
}

/// Column privileges one grantee holds from one grantor.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct ColumnGrant {
    /// Privilege bits.
    pub privs: u8,
    /// Of those, the ones the grantee may grant on.
    pub grantable: u8,
}

/// Privileges one grantee holds on one object from one grantor.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct GrantEntry {
    /// Whole-object privileges.
    pub privs: u8,
    /// Of those, the ones the grantee may grant on.
    pub grantable: u8,
    /// Column privileges by column id.
    pub columns: BTreeMap<ColumnId, ColumnGrant>,
}

impl GrantEntry {
    fn is_empty(&self) -> bool {
        self.privs == 0 && self.columns.values().all(|c| c.privs == 0)
    }
}

/// Who holds a grant on what, from whom (as PostgreSQL's ACL items).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GrantKey {
    /// The table or view (or [`DATABASE_ID`]).
    pub object: ObjectId,
    /// Who holds it.
    pub grantee: RoleId,
    /// Who granted it: the object's owner for grants by owners and
    /// admins, else the role whose grant option was used.
    pub grantor: RoleId,
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

/// A table or view a policy's expressions name, as bound when the policy
/// was created: if the name no longer leads to this object, or a column
/// to this column, the policy no longer means what it meant and is not
/// used (statements on its table fail until it is recreated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRef {
    /// The object's id.
    pub object: ObjectId,
    /// Its name as written (lowercase).
    pub name: String,
    /// The columns named, by id, with their names (lowercase).
    pub columns: Vec<(ColumnId, String)>,
}

/// A row-level security policy (permissive: a row is visible when any
/// applicable policy's USING holds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Name, unique per table.
    pub name: String,
    /// The table.
    pub table: ObjectId,
    /// Statements it applies to.
    pub cmd: PolicyCmd,
    /// Roles it applies to (empty = PUBLIC).
    pub roles: Vec<RoleId>,
    /// Which existing rows are visible (SQL expression text).
    pub using: Option<String>,
    /// Which new rows may be written (SQL expression text).
    pub check: Option<String>,
    /// What the expressions name (the policy's own table included).
    pub refs: Vec<PolicyRef>,
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    /// Whose: the user's id, so a token never passes to a new user who
    /// takes a dropped or renamed user's name.
    pub user: RoleId,
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
    /// The id the next role gets.
    pub next_role_id: RoleId,
    /// (role, member) → member has ADMIN OPTION.
    pub members: BTreeMap<(RoleId, RoleId), bool>,
    /// (object, grantee, grantor) → privileges.
    pub grants: BTreeMap<GrantKey, GrantEntry>,
    /// Table, view or trigger → owner (persistent: a DDL statement copies
    /// the state, and must not copy an entry per object).
    pub owners: imbl::OrdMap<ObjectId, RoleId>,
    /// Tables with row-level security enabled.
    pub rls: BTreeSet<ObjectId>,
    /// (table, policy name) → policy.
    pub policies: BTreeMap<(ObjectId, String), Policy>,
    /// Host rules as configured (empty = default).
    pub hba: String,
    /// Login tokens by id.
    pub tokens: BTreeMap<String, TokenInfo>,
    /// Audited tables.
    pub audit: BTreeMap<ObjectId, AuditMode>,
    /// Leave bound values out of audit records (the default: values are
    /// data, often personal; `SET CLUSTER SETTING sql.audit.redact_values
    /// = false` opts in to logging them).
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
    /// The user's id.
    pub id: RoleId,
    /// Every role held, the user included, by name.
    pub set: BTreeSet<String>,
    /// The same roles by id (with [`PUBLIC_ID`]).
    pub ids: BTreeSet<RoleId>,
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

    /// The roles of nobody: no rights at all (e.g. the owner of an object
    /// whose owner is unknown).
    pub fn nobody() -> Roles {
        Roles {
            user: String::new(),
            id: RoleId::MAX,
            set: BTreeSet::new(),
            ids: BTreeSet::new(),
            admin: false,
        }
    }
}

/// A table or view as the security catalog sees it.
#[derive(Clone, Debug)]
pub struct ObjectInfo {
    /// Its id.
    pub id: ObjectId,
    /// Its columns: id and lowercase name.
    pub columns: Vec<(ColumnId, String)>,
}

impl ObjectInfo {
    /// The id of column `name` (lowercase).
    pub fn column(&self, name: &str) -> Option<ColumnId> {
        self.columns
            .iter()
            .find(|(_, n)| n == name)
            .map(|(i, _)| *i)
    }
}

/// Tells the security catalog which tables and views exist.
pub trait ObjectLookup {
    /// Table or view `name` (lowercase), or `None` if it does not exist.
    fn object(&self, name: &str) -> Option<ObjectInfo>;
    /// The name of table or view `id`.
    fn name_of(&self, id: ObjectId) -> Option<String>;
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

/// The grants of one grantee on one object, from any grantor.
fn grantee_range(object: ObjectId, grantee: RoleId) -> std::ops::RangeInclusive<GrantKey> {
    GrantKey {
        object,
        grantee,
        grantor: 0,
    }..=GrantKey {
        object,
        grantee,
        grantor: RoleId::MAX,
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
                id: ROOT_ID,
                name: ROOT.into(),
                login: true,
                password_hash: None,
                valid_until: None,
            },
        );
        roles.insert(
            ADMIN.to_string(),
            RoleInfo {
                id: ADMIN_ID,
                name: ADMIN.into(),
                login: false,
                password_hash: None,
                valid_until: None,
            },
        );
        let mut members = BTreeMap::new();
        members.insert((ADMIN_ID, ROOT_ID), true);
        AuthState {
            roles,
            next_role_id: ADMIN_ID + 1,
            members,
            grants: BTreeMap::new(),
            owners: imbl::OrdMap::new(),
            rls: BTreeSet::new(),
            policies: BTreeMap::new(),
            hba: String::new(),
            tokens: BTreeMap::new(),
            audit: BTreeMap::new(),
            redact: true,
            token_max_lifetime: crate::auth::token::DEFAULT_MAX_LIFETIME,
        }
    }

    /// The id of role `name`.
    pub fn role_id(&self, name: &str) -> Option<RoleId> {
        if name == PUBLIC {
            return Some(PUBLIC_ID);
        }
        self.roles.get(name).map(|r| r.id)
    }

    /// The name of role `id` (`public` for [`PUBLIC_ID`]).
    pub fn role_name(&self, id: RoleId) -> Option<&str> {
        if id == PUBLIC_ID {
            return Some(PUBLIC);
        }
        self.roles
            .values()
            .find(|r| r.id == id)
            .map(|r| r.name.as_str())
    }

    /// A role's name for messages (`#id` if it no longer exists).
    pub fn role_label(&self, id: RoleId) -> String {
        self.role_name(id)
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{id}"))
    }

    /// The effective roles of user `user` (by name).
    pub fn roles_of(&self, user: &str) -> Roles {
        let user = user.to_lowercase();
        match self.roles.get(&user) {
            Some(r) => self.roles_of_id(r.id),
            None => Roles {
                user: user.clone(),
                id: RoleId::MAX,
                set: BTreeSet::from([user, PUBLIC.to_string()]),
                ids: BTreeSet::from([PUBLIC_ID]),
                admin: false,
            },
        }
    }

    /// The effective roles of role `id`; no rights if it does not exist.
    pub fn roles_of_id(&self, id: RoleId) -> Roles {
        let Some(user) = self.role_name(id).map(str::to_string) else {
            return Roles::nobody();
        };
        let mut ids = BTreeSet::from([id, PUBLIC_ID]);
        let mut queue = VecDeque::from([id]);
        while let Some(r) = queue.pop_front() {
            for (role, _) in self.member_of(r) {
                if ids.insert(role) {
                    queue.push_back(role);
                }
            }
        }
        let set = ids
            .iter()
            .filter_map(|i| self.role_name(*i).map(str::to_string))
            .collect();
        let admin = id == ROOT_ID || ids.contains(&ADMIN_ID);
        Roles {
            user,
            id,
            set,
            ids,
            admin,
        }
    }

    /// Roles `member` belongs to directly, with the ADMIN OPTION flag.
    pub fn member_of(&self, member: RoleId) -> Vec<(RoleId, bool)> {
        self.members
            .iter()
            .filter(|((_, m), _)| *m == member)
            .map(|((r, _), a)| (*r, *a))
            .collect()
    }

    /// The owner of a table, view or trigger.
    pub fn owner_of(&self, object: ObjectId) -> Option<RoleId> {
        self.owners.get(&object).copied()
    }

    /// The roles whose rights an object's owner has (no rights at all if
    /// the owner is unknown: fail closed).
    pub fn owner_roles(&self, object: ObjectId) -> Roles {
        match self.owner_of(object) {
            Some(o) => self.roles_of_id(o),
            None => Roles::nobody(),
        }
    }

    /// Whether `r` owns `object` (directly or through a role).
    pub fn owns(&self, r: &Roles, object: ObjectId) -> bool {
        self.owner_of(object).is_some_and(|o| r.ids.contains(&o))
    }

    /// Who grants stand on for `object`: its owner (root for the
    /// database and for objects without one).
    fn authority(&self, object: ObjectId) -> RoleId {
        if object == DATABASE_ID {
            return ROOT_ID;
        }
        self.owner_of(object).unwrap_or(ROOT_ID)
    }

    /// The grants that apply to `object` for `r`, each with its grantee:
    /// its own, and for a table or view those on the database (but not
    /// [`DATABASE_ONLY`] privileges).
    fn entries<'a>(
        &'a self,
        r: &'a Roles,
        object: ObjectId,
    ) -> impl Iterator<Item = (RoleId, GrantEntry)> + 'a {
        r.ids.iter().flat_map(move |&role| {
            let own = self
                .grants
                .range(grantee_range(object, role))
                .map(move |(_, g)| (role, g.clone()));
            let db: Vec<(RoleId, GrantEntry)> = if object == DATABASE_ID {
                Vec::new()
            } else {
                self.grants
                    .range(grantee_range(DATABASE_ID, role))
                    .map(|(_, g)| {
                        (
                            role,
                            GrantEntry {
                                privs: g.privs & !DATABASE_ONLY,
                                grantable: g.grantable & !DATABASE_ONLY,
                                columns: BTreeMap::new(),
                            },
                        )
                    })
                    .collect()
            };
            own.chain(db)
        })
    }

    /// Whether `r` may use privilege `p` on `object` (a table or view, or
    /// [`DATABASE_ID`]), for one column if given.
    pub fn allowed(
        &self,
        r: &Roles,
        object: ObjectId,
        p: Privilege,
        column: Option<ColumnId>,
    ) -> bool {
        if r.admin || (object != DATABASE_ID && self.owns(r, object)) {
            return true;
        }
        self.entries(r, object).any(|(_, g)| {
            g.privs & p.bit() != 0
                || column.is_some_and(|c| g.columns.get(&c).is_some_and(|b| b.privs & p.bit() != 0))
        })
    }

    /// Whether `r` holds `p` on some column of `object` (enough to name
    /// the object, e.g. `SELECT count(*)` with one column granted).
    pub fn allowed_any_column(&self, r: &Roles, object: ObjectId, p: Privilege) -> bool {
        self.entries(r, object)
            .any(|(_, g)| g.columns.values().any(|b| b.privs & p.bit() != 0))
    }

    /// The grantor a GRANT of `p` (on `column`, if given) on `object` by
    /// `r` is recorded under — the object's owner when `r` is an admin or
    /// an owner, else the role of `r` (itself first) that holds it WITH
    /// GRANT OPTION — or `None` if `r` may not grant it.
    pub fn grantor_for(
        &self,
        r: &Roles,
        object: ObjectId,
        p: Privilege,
        column: Option<ColumnId>,
    ) -> Option<RoleId> {
        if r.admin || (object != DATABASE_ID && self.owns(r, object)) {
            return Some(self.authority(object));
        }
        let holds = |role: RoleId| {
            self.entries_of(role, object).any(|g| {
                g.grantable & p.bit() != 0
                    || column.is_some_and(|c| {
                        g.columns
                            .get(&c)
                            .is_some_and(|b| b.grantable & p.bit() != 0)
                    })
            })
        };
        std::iter::once(r.id)
            .chain(r.ids.iter().copied().filter(|i| *i != r.id))
            .find(|&role| holds(role))
    }

    /// The grants `role` itself holds on `object` (with the database's).
    fn entries_of(&self, role: RoleId, object: ObjectId) -> impl Iterator<Item = GrantEntry> + '_ {
        let own = self
            .grants
            .range(grantee_range(object, role))
            .map(|(_, g)| g.clone());
        let db: Vec<GrantEntry> = if object == DATABASE_ID {
            Vec::new()
        } else {
            self.grants
                .range(grantee_range(DATABASE_ID, role))
                .map(|(_, g)| GrantEntry {
                    privs: g.privs & !DATABASE_ONLY,
                    grantable: g.grantable & !DATABASE_ONLY,
                    columns: BTreeMap::new(),
                })
                .collect()
        };
        own.chain(db)
    }

    /// Whether `r` may grant (or revoke) `p` on `object`.
    pub fn may_grant(&self, r: &Roles, object: ObjectId, p: Privilege) -> bool {
        self.grantor_for(r, object, p, None).is_some()
            || (p.column_level()
                && self
                    .entries(r, object)
                    .any(|(_, g)| g.columns.values().any(|c| c.grantable & p.bit() != 0)))
    }

    /// Whether `r` may know that `object` exists: it owns it or holds any
    /// privilege on it.
    pub fn visible(&self, r: &Roles, object: ObjectId) -> bool {
        r.admin
            || self.owns(r, object)
            || self
                .entries(r, object)
                .any(|(_, g)| g.privs != 0 || g.columns.values().any(|b| b.privs != 0))
    }

    /// Whether row-level security filters `table` for `r` (owners and
    /// admins are exempt, as in PostgreSQL).
    pub fn rls_applies(&self, r: &Roles, table: ObjectId) -> bool {
        self.rls.contains(&table) && !r.admin && !self.owns(r, table)
    }

    /// The policies on `table` that apply to `r` for `cmd`.
    pub fn policies_for(&self, r: &Roles, table: ObjectId, cmd: PolicyCmd) -> Vec<&Policy> {
        self.policies
            .range((table, String::new())..)
            .take_while(|((t, _), _)| *t == table)
            .map(|(_, p)| p)
            .filter(|p| {
                (p.cmd == PolicyCmd::All || p.cmd == cmd)
                    && (p.roles.is_empty() || p.roles.iter().any(|x| r.ids.contains(x)))
            })
            .collect()
    }

    /// The audit mode of `table`.
    pub fn audit_mode(&self, table: ObjectId) -> AuditMode {
        self.audit.get(&table).copied().unwrap_or_default()
    }

    /// Forgets everything attached to objects that no longer exist
    /// (`exists` says which do) and to columns that no longer exist
    /// (`column_exists`): what a DROP TABLE, DROP VIEW, DROP TRIGGER or
    /// DROP COLUMN leaves behind. Grants made on the strength of a
    /// removed grant go too. Returns whether anything changed.
    pub fn forget_missing(
        &mut self,
        exists: &dyn Fn(ObjectId) -> bool,
        column_exists: &dyn Fn(ObjectId, ColumnId) -> bool,
    ) -> bool {
        let before = (
            self.owners.len(),
            self.grants.len(),
            self.rls.len(),
            self.policies.len(),
            self.audit.len(),
        );
        let live = |o: &ObjectId| *o == DATABASE_ID || exists(*o);
        let dead: Vec<ObjectId> = self.owners.keys().filter(|o| !live(o)).copied().collect();
        for o in dead {
            self.owners.remove(&o);
        }
        self.rls.retain(|o| live(o));
        self.policies.retain(|(t, _), _| live(t));
        self.audit.retain(|o, _| live(o));
        let mut columns_gone = false;
        self.grants.retain(|k, g| {
            if !live(&k.object) {
                return false;
            }
            let n = g.columns.len();
            g.columns.retain(|c, _| column_exists(k.object, *c));
            columns_gone |= g.columns.len() != n;
            !g.is_empty()
        });
        let pruned = !self.prune().is_empty();
        columns_gone
            || pruned
            || before
                != (
                    self.owners.len(),
                    self.grants.len(),
                    self.rls.len(),
                    self.policies.len(),
                    self.audit.len(),
                )
    }

    /// The keys of the grants on `object` (one range of the ordered map).
    fn grant_keys_on(&self, object: ObjectId) -> Vec<GrantKey> {
        let from = GrantKey {
            object,
            grantee: RoleId::MIN,
            grantor: RoleId::MIN,
        };
        self.grants
            .range(from..)
            .take_while(|(k, _)| k.object == object)
            .map(|(k, _)| *k)
            .collect()
    }

    /// Forgets what hung on `objects`, which were dropped whole: owners,
    /// grants, row security, policies, audit settings. What the objects
    /// left stays as it was: a grant's chain runs within its object, so
    /// no other grant loses its support (the cost is a few range
    /// lookups, not a pass over the catalog). Returns whether anything
    /// changed.
    pub fn forget_objects(&mut self, objects: &[ObjectId]) -> bool {
        let mut changed = false;
        for &o in objects {
            if o == DATABASE_ID {
                continue;
            }
            changed |= self.owners.remove(&o).is_some();
            changed |= self.rls.remove(&o);
            changed |= self.audit.remove(&o).is_some();
            let policies: Vec<(ObjectId, String)> = self
                .policies
                .range((o, String::new())..)
                .take_while(|((t, _), _)| *t == o)
                .map(|(k, _)| k.clone())
                .collect();
            for k in policies {
                self.policies.remove(&k);
                changed = true;
            }
            for k in self.grant_keys_on(o) {
                self.grants.remove(&k);
                changed = true;
            }
        }
        changed
    }

    /// Forgets the grants on `columns` of `object`, which were dropped
    /// from it (ALTER TABLE DROP COLUMN): a column grant's chain runs
    /// within its column, so nothing else loses its support. Returns
    /// whether anything changed.
    pub fn forget_columns(&mut self, object: ObjectId, columns: &[ColumnId]) -> bool {
        let mut changed = false;
        for k in self.grant_keys_on(object) {
            let Some(g) = self.grants.get_mut(&k) else {
                continue;
            };
            let n = g.columns.len();
            g.columns.retain(|c, _| !columns.contains(c));
            if g.columns.len() != n {
                changed = true;
                if g.is_empty() {
                    self.grants.remove(&k);
                }
            }
        }
        changed
    }

    /// Records `owner` as the owner of a new object.
    pub fn set_owner(&mut self, object: ObjectId, owner: RoleId) {
        self.owners.insert(object, owner);
    }

    /// Gives `object` to `to`: grants its old owner made move with it (as
    /// in PostgreSQL), so they stay supported.
    pub fn change_owner(&mut self, object: ObjectId, to: RoleId) {
        let from = self.authority(object);
        self.owners.insert(object, to);
        if from == to {
            return;
        }
        let moved: Vec<GrantKey> = self
            .grants
            .keys()
            .filter(|k| k.object == object && k.grantor == from)
            .copied()
            .collect();
        for k in moved {
            if let Some(g) = self.grants.remove(&k) {
                let nk = GrantKey { grantor: to, ..k };
                let e = self.grants.entry(nk).or_default();
                merge(e, &g);
            }
        }
    }

    /// The roles that hold `p` WITH GRANT OPTION on `object` (on `column`,
    /// if given) through a chain of grants from the object's owner.
    fn grant_option_holders(
        &self,
        object: ObjectId,
        p: Privilege,
        column: Option<ColumnId>,
    ) -> BTreeSet<RoleId> {
        let mut holders = BTreeSet::from([self.authority(object)]);
        if object != DATABASE_ID && p.bit() & DATABASE_ONLY == 0 {
            holders.extend(self.grant_option_holders(DATABASE_ID, p, None));
        }
        loop {
            let mut grew = false;
            for (k, g) in self.grants.iter().filter(|(k, _)| k.object == object) {
                let gives = g.grantable & p.bit() != 0
                    || column.is_some_and(|c| {
                        g.columns
                            .get(&c)
                            .is_some_and(|b| b.grantable & p.bit() != 0)
                    });
                if gives && holders.contains(&k.grantor) && holders.insert(k.grantee) {
                    grew = true;
                }
            }
            if !grew {
                return holders;
            }
        }
    }

    /// Removes every grant whose grantor no longer holds what it granted
    /// WITH GRANT OPTION through a chain from the object's owner (PostgreSQL's
    /// dependent privileges); returns what was removed, as
    /// (object, grantee, grantor, privilege, column).
    pub fn prune(&mut self) -> Vec<(GrantKey, Privilege, Option<ColumnId>)> {
        let mut removed = Vec::new();
        loop {
            let mut found = Vec::new();
            let objects: BTreeSet<ObjectId> = self.grants.keys().map(|k| k.object).collect();
            for object in objects {
                for p in Privilege::ALL {
                    let holders = self.grant_option_holders(object, p, None);
                    for (k, g) in self.grants.iter().filter(|(k, _)| k.object == object) {
                        if g.privs & p.bit() != 0 && !holders.contains(&k.grantor) {
                            found.push((*k, p, None));
                        }
                        for (c, b) in &g.columns {
                            if b.privs & p.bit() != 0
                                && !holders.contains(&k.grantor)
                                && !self
                                    .grant_option_holders(object, p, Some(*c))
                                    .contains(&k.grantor)
                            {
                                found.push((*k, p, Some(*c)));
                            }
                        }
                    }
                }
            }
            if found.is_empty() {
                return removed;
            }
            for (k, p, c) in &found {
                if let Some(g) = self.grants.get_mut(k) {
                    match c {
                        None => {
                            g.privs &= !p.bit();
                            g.grantable &= !p.bit();
                        }
                        Some(c) => {
                            if let Some(b) = g.columns.get_mut(c) {
                                b.privs &= !p.bit();
                                b.grantable &= !p.bit();
                            }
                        }
                    }
                    g.columns.retain(|_, b| b.privs != 0);
                    if g.is_empty() {
                        self.grants.remove(k);
                    }
                }
            }
            removed.extend(found);
        }
    }

    pub(crate) fn require_role(&self, name: &str) -> Result<RoleId> {
        self.roles
            .get(name)
            .map(|r| r.id)
            .ok_or_else(|| unknown_role(name))
    }

    /// A role privileges and policies may name: any role, or `public`
    /// (every user), which is not stored as a role.
    pub(crate) fn require_grantee(&self, name: &str) -> Result<RoleId> {
        if name == PUBLIC {
            Ok(PUBLIC_ID)
        } else {
            self.require_role(name)
        }
    }

    /// Whether `member` is (transitively) a member of `role` (by name).
    pub fn is_member(&self, member: &str, role: &str) -> bool {
        self.roles_of(member).set.contains(role)
    }

    /// Objects owned by `role`.
    pub fn owned_by(&self, role: RoleId) -> Vec<ObjectId> {
        self.owners
            .iter()
            .filter(|(_, o)| **o == role)
            .map(|(t, _)| *t)
            .collect()
    }
}

/// Adds `from`'s privileges to `into`.
pub(crate) fn merge(into: &mut GrantEntry, from: &GrantEntry) {
    into.privs |= from.privs;
    into.grantable |= from.grantable;
    for (c, b) in &from.columns {
        let e = into.columns.entry(*c).or_default();
        e.privs |= b.privs;
        e.grantable |= b.grantable;
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
