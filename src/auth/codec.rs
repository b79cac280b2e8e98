//! The stored form of [`AuthState`]: one versioned, length-prefixed
//! binary value (it is encrypted by the storage layer like every value).
//!
//! Version 4 (current) is version 3 with the owners section always empty:
//! each object's owner is a key of its own (see [`owner_key`]), so a
//! CREATE or DROP writes one small key instead of rewriting an owners list
//! that grows with the number of objects. Version 3 keys everything by ids
//! (see `state.rs`), login tokens included, and keeps the tokens' maximum
//! lifetime:
//!
//! ```text
//!   u8 version (4; 3)
//!   u64 next_role_id
//!   roles:    u32 n, n × (u64 id, str name, u8 login, opt-str hash, opt-i64 valid_until)
//!   members:  u32 n, n × (u64 role, u64 member, u8 admin_option)
//!   grants:   u32 n, n × (u64 object, u64 grantee, u64 grantor, u8 privs, u8 grantable,
//!                         u32 m, m × (u32 column, u8 privs, u8 grantable))
//!   owners:   u32 n, n × (u64 object, u64 owner)        (version 4: n = 0)
//!   rls:      u32 n, n × u64 table
//!   policies: u32 n, n × (u64 table, str name, u8 cmd, u32 k, k × u64 role,
//!                         opt-str using, opt-str check,
//!                         u32 r, r × (u64 object, str name, u32 c, c × (u32 column, str name)))
//!   hba:      str
//!   tokens:   u32 n, n × (str id, u64 user, 32 bytes hash, i64 expires)
//!   audit:    u32 n, n × (u64 table, u8 read, u8 write)
//!   redact:   u8
//!   token max lifetime: i64 seconds
//! ```
//!
//! Owner keys (version 4): `\x00s/owner/` u64be object → u64le owner,
//! written in the same transaction as the value above. A store of version
//! 3 or older keeps its owners in the value; the owners read are the
//! union of both, and the first change written moves them to keys (one
//! transaction: the value rewritten as version 4 with every owner key).
//!
//! Version 2 is version 3 with each token's user by name (`str user`)
//! and no maximum lifetime. [`decode`] reads it as current: token users
//! resolve through the roles stored with them (a token of a name no role
//! has is dropped), and the lifetime is the default.
//!
//! Version 1 keyed grants, owners, policies and audit settings by names
//! (and grants had no grantor). It is still read: [`decode`] returns it
//! as a [`LegacyAuth`], which [`LegacyAuth::upgrade`] converts once the
//! schema is known (the database rewrites the value at open).
//!
//! ```text
//!   u8 version (1)
//!   roles:    u32 n, n × (str name, u8 login, opt-str hash, opt-i64 valid_until)
//!   members:  u32 n, n × (str role, str member, u8 admin_option)
//!   grants:   u32 n, n × (str object, str grantee, u8 privs, u8 grantable,
//!                         u32 m, m × (str column, u8 privs))
//!   owners:   u32 n, n × (str object, str owner)
//!   rls:      u32 n, n × str table
//!   policies: u32 n, n × (str table, str name, u8 cmd, u32 k, k × str role,
//!                         opt-str using, opt-str check)
//!   hba:      str
//!   tokens:   u32 n, n × (str id, str user, 32 bytes hash, i64 expires)
//!   audit:    u32 n, n × (str table, u8 read, u8 write)
//!   redact:   u8
//! ```
//! Integers little-endian; `str` is u32 length + UTF-8; `opt-x` is a u8
//! flag then x.

use std::collections::BTreeMap;

use crate::auth::state::*;
use crate::error::{Error, Result};

/// The version [`encode`] writes.
pub const VERSION: u8 = 4;

/// Prefix of the owner keys of version 4 (a system key range, outside the
/// catalog and table keys).
pub const OWNER_PREFIX: &[u8] = b"\x00s/owner/";

/// The key holding the owner of `object`.
pub fn owner_key(object: ObjectId) -> Vec<u8> {
    let mut k = OWNER_PREFIX.to_vec();
    k.extend_from_slice(&object.to_be_bytes());
    k
}

/// The value of an owner key.
pub fn owner_value(owner: RoleId) -> Vec<u8> {
    owner.to_le_bytes().to_vec()
}

/// Reads an owner key and its value back: (object, owner).
pub fn decode_owner(key: &[u8], value: &[u8]) -> Result<(ObjectId, RoleId)> {
    let id = key
        .strip_prefix(OWNER_PREFIX)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .ok_or_else(corrupt)?;
    let owner = <[u8; 8]>::try_from(value).map_err(|_| corrupt())?;
    Ok((u64::from_be_bytes(id), u64::from_le_bytes(owner)))
}

/// Owner keys to put (key, value) and owner keys to delete.
pub type OwnerChanges = (Vec<(Vec<u8>, Vec<u8>)>, Vec<Vec<u8>>);

/// The owner keys to put and to delete to go from `old`'s owners to
/// `new`'s: the maps' difference, which skips the parts they share (a DDL
/// statement's new state shares all but a path with the old one, so this
/// does not grow with the number of objects).
pub fn owner_changes(
    old: &imbl::OrdMap<ObjectId, RoleId>,
    new: &imbl::OrdMap<ObjectId, RoleId>,
) -> OwnerChanges {
    let (mut put, mut del) = (Vec::new(), Vec::new());
    for d in old.diff(new) {
        match d {
            imbl::ordmap::DiffItem::Add(k, w) => put.push((owner_key(*k), owner_value(*w))),
            imbl::ordmap::DiffItem::Update { new: (k, w), .. } => {
                put.push((owner_key(*k), owner_value(*w)));
            }
            imbl::ordmap::DiffItem::Remove(k, _) => del.push(owner_key(*k)),
        }
    }
    (put, del)
}

struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: usize) {
        self.0.extend_from_slice(&(v as u32).to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_str(&mut self, s: &Option<String>) {
        match s {
            Some(s) => {
                self.u8(1);
                self.str(s)
            }
            None => self.u8(0),
        }
    }
}

struct Dec<'a>(&'a [u8]);

fn corrupt() -> Error {
    Error::Corruption {
        file: "security catalog".into(),
        offset: 0,
        what: "the stored users, roles and grants do not decode".into(),
    }
}

impl Dec<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if self.0.len() < n {
            return Err(corrupt());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn bool(&mut self) -> Result<bool> {
        Ok(self.u8()? != 0)
    }
    fn u32(&mut self) -> Result<usize> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn i64(&mut self) -> Result<i64> {
        Ok(self.u64()? as i64)
    }
    fn str(&mut self) -> Result<String> {
        let n = self.u32()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| corrupt())
    }
    fn opt_str(&mut self) -> Result<Option<String>> {
        Ok(if self.bool()? {
            Some(self.str()?)
        } else {
            None
        })
    }
    fn opt_i64(&mut self) -> Result<Option<i64>> {
        Ok(if self.bool()? {
            Some(self.i64()?)
        } else {
            None
        })
    }
    /// A count of items that each take at least `min` bytes (so a corrupt
    /// count cannot make the decoder reserve or loop for long).
    fn count(&mut self, min: usize) -> Result<usize> {
        let n = self.u32()?;
        if n.saturating_mul(min) > self.0.len() {
            return Err(corrupt());
        }
        Ok(n)
    }
}

/// Encodes the state (version 4: without its owners, which the caller
/// writes as owner keys, see [`owner_changes`]).
pub fn encode(s: &AuthState) -> Vec<u8> {
    encode_as(s, VERSION)
}

/// Encodes the state in version 4, or 3 or 2 (for tests of reading them).
fn encode_as(s: &AuthState, version: u8) -> Vec<u8> {
    let mut e = Enc(Vec::with_capacity(256));
    e.u8(version);
    e.u64(s.next_role_id);
    e.u32(s.roles.len());
    for r in s.roles.values() {
        e.u64(r.id);
        e.str(&r.name);
        e.u8(r.login as u8);
        e.opt_str(&r.password_hash);
        match r.valid_until {
            Some(t) => {
                e.u8(1);
                e.i64(t)
            }
            None => e.u8(0),
        }
    }
    e.u32(s.members.len());
    for ((r, m), a) in &s.members {
        e.u64(*r);
        e.u64(*m);
        e.u8(*a as u8);
    }
    e.u32(s.grants.len());
    for (k, v) in &s.grants {
        e.u64(k.object);
        e.u64(k.grantee);
        e.u64(k.grantor);
        e.u8(v.privs);
        e.u8(v.grantable);
        e.u32(v.columns.len());
        for (c, b) in &v.columns {
            e.u32(*c as usize);
            e.u8(b.privs);
            e.u8(b.grantable);
        }
    }
    if version >= 4 {
        e.u32(0);
    } else {
        e.u32(s.owners.len());
        for (o, w) in &s.owners {
            e.u64(*o);
            e.u64(*w);
        }
    }
    e.u32(s.rls.len());
    for t in &s.rls {
        e.u64(*t);
    }
    e.u32(s.policies.len());
    for p in s.policies.values() {
        e.u64(p.table);
        e.str(&p.name);
        e.u8(policy_code(p.cmd));
        e.u32(p.roles.len());
        for r in &p.roles {
            e.u64(*r);
        }
        e.opt_str(&p.using);
        e.opt_str(&p.check);
        e.u32(p.refs.len());
        for r in &p.refs {
            e.u64(r.object);
            e.str(&r.name);
            e.u32(r.columns.len());
            for (c, n) in &r.columns {
                e.u32(*c as usize);
                e.str(n);
            }
        }
    }
    e.str(&s.hba);
    e.u32(s.tokens.len());
    for (id, t) in &s.tokens {
        e.str(id);
        if version == 2 {
            e.str(&s.role_label(t.user));
        } else {
            e.u64(t.user);
        }
        e.0.extend_from_slice(&t.hash);
        e.i64(t.expires);
    }
    e.u32(s.audit.len());
    for (t, m) in &s.audit {
        e.u64(*t);
        e.u8(m.read as u8);
        e.u8(m.write as u8);
    }
    e.u8(s.redact as u8);
    if version >= 3 {
        e.i64(s.token_max_lifetime);
    }
    e.0
}

fn policy_code(c: PolicyCmd) -> u8 {
    match c {
        PolicyCmd::All => 0,
        PolicyCmd::Select => 1,
        PolicyCmd::Insert => 2,
        PolicyCmd::Update => 3,
        PolicyCmd::Delete => 4,
    }
}

fn policy_cmd(c: u8) -> Result<PolicyCmd> {
    Ok(match c {
        0 => PolicyCmd::All,
        1 => PolicyCmd::Select,
        2 => PolicyCmd::Insert,
        3 => PolicyCmd::Update,
        4 => PolicyCmd::Delete,
        _ => return Err(corrupt()),
    })
}

/// A decoded security catalog: current, or version 1 (to upgrade).
pub enum Decoded {
    /// Version 3, or 2 (which needs nothing but its own roles to convert).
    Current(AuthState),
    /// Version 1: names instead of ids.
    Legacy(LegacyAuth),
}

/// Decodes the state.
pub fn decode(bytes: &[u8]) -> Result<Decoded> {
    let mut d = Dec(bytes);
    let r = match d.u8()? {
        1 => Decoded::Legacy(decode_v1(&mut d)?),
        2 => Decoded::Current(decode_ids(&mut d, 2)?),
        v @ 3..=4 => Decoded::Current(decode_ids(&mut d, v)?),
        v => {
            return Err(Error::Corruption {
                file: "security catalog".into(),
                offset: 0,
                what: format!(
                    "stored in format version {v}, which this sealdb does not know                      (it reads versions 1 to 4); open it with a newer sealdb"
                ),
            })
        }
    };
    if !d.0.is_empty() {
        return Err(corrupt());
    }
    Ok(r)
}

/// Versions 2 and 3 (see the module docs for how they differ).
fn decode_ids(d: &mut Dec, version: u8) -> Result<AuthState> {
    let mut s = AuthState::new();
    s.roles.clear();
    s.members.clear();
    s.next_role_id = d.u64()?;
    for _ in 0..d.count(15)? {
        let id = d.u64()?;
        let name = d.str()?;
        let login = d.bool()?;
        let password_hash = d.opt_str()?;
        let valid_until = d.opt_i64()?;
        if id >= s.next_role_id || id == PUBLIC_ID {
            return Err(corrupt());
        }
        s.roles.insert(
            name.clone(),
            RoleInfo {
                id,
                name,
                login,
                password_hash,
                valid_until,
            },
        );
    }
    for _ in 0..d.count(17)? {
        let r = d.u64()?;
        let m = d.u64()?;
        s.members.insert((r, m), d.bool()?);
    }
    for _ in 0..d.count(30)? {
        let k = GrantKey {
            object: d.u64()?,
            grantee: d.u64()?,
            grantor: d.u64()?,
        };
        let privs = d.u8()?;
        let grantable = d.u8()?;
        let mut columns = BTreeMap::new();
        for _ in 0..d.count(6)? {
            let c = d.u32()? as ColumnId;
            let privs = d.u8()?;
            let grantable = d.u8()?;
            columns.insert(c, ColumnGrant { privs, grantable });
        }
        s.grants.insert(
            k,
            GrantEntry {
                privs,
                grantable,
                columns,
            },
        );
    }
    let owners = d.count(16)?;
    if version >= 4 && owners != 0 {
        return Err(corrupt());
    }
    for _ in 0..owners {
        let o = d.u64()?;
        s.owners.insert(o, d.u64()?);
    }
    for _ in 0..d.count(8)? {
        s.rls.insert(d.u64()?);
    }
    for _ in 0..d.count(19)? {
        let table = d.u64()?;
        let name = d.str()?;
        let cmd = policy_cmd(d.u8()?)?;
        let mut roles = Vec::new();
        for _ in 0..d.count(8)? {
            roles.push(d.u64()?);
        }
        let using = d.opt_str()?;
        let check = d.opt_str()?;
        let mut refs = Vec::new();
        for _ in 0..d.count(16)? {
            let object = d.u64()?;
            let name = d.str()?;
            let mut columns = Vec::new();
            for _ in 0..d.count(8)? {
                let c = d.u32()? as ColumnId;
                columns.push((c, d.str()?));
            }
            refs.push(PolicyRef {
                object,
                name,
                columns,
            });
        }
        s.policies.insert(
            (table, name.clone()),
            Policy {
                name,
                table,
                cmd,
                roles,
                using,
                check,
                refs,
            },
        );
    }
    s.hba = d.str()?;
    if version == 2 {
        for (id, user, t) in decode_named_tokens(d)? {
            if let Some(user) = s.roles.get(&user).map(|r| r.id) {
                s.tokens.insert(id, TokenInfo { user, ..t });
            }
        }
    } else {
        for _ in 0..d.count(52)? {
            let id = d.str()?;
            let user = d.u64()?;
            let (hash, expires) = token_secret(d)?;
            if user >= s.next_role_id || user == PUBLIC_ID {
                return Err(corrupt());
            }
            s.tokens.insert(
                id,
                TokenInfo {
                    user,
                    hash,
                    expires,
                },
            );
        }
    }
    for _ in 0..d.count(10)? {
        let t = d.u64()?;
        let read = d.bool()?;
        let write = d.bool()?;
        s.audit.insert(t, AuditMode { read, write });
    }
    s.redact = d.bool()?;
    if version >= 3 {
        s.token_max_lifetime = d.i64()?;
        if s.token_max_lifetime <= 0 {
            return Err(corrupt());
        }
    }
    Ok(s)
}

/// A token's hash and expiry.
fn token_secret(d: &mut Dec) -> Result<([u8; 32], i64)> {
    let mut hash = [0u8; 32];
    hash.copy_from_slice(d.take(32)?);
    Ok((hash, d.i64()?))
}

/// Tokens of versions 1 and 2: (id, user name, token with a placeholder
/// user id, to be resolved by name).
fn decode_named_tokens(d: &mut Dec) -> Result<Vec<(String, String, TokenInfo)>> {
    let mut out = Vec::new();
    for _ in 0..d.count(48)? {
        let id = d.str()?;
        let user = d.str()?;
        let (hash, expires) = token_secret(d)?;
        out.push((
            id,
            user,
            TokenInfo {
                user: RoleId::MAX,
                hash,
                expires,
            },
        ));
    }
    Ok(out)
}

/// A version-1 security catalog: grants, owners, policies and audit
/// settings keyed by names.
pub struct LegacyAuth {
    /// (name, login, password hash, valid until)
    roles: Vec<(String, bool, Option<String>, Option<i64>)>,
    /// (role, member, admin option)
    members: Vec<(String, String, bool)>,
    grants: Vec<LegacyGrant>,
    /// (object, owner)
    owners: Vec<(String, String)>,
    rls: Vec<String>,
    policies: Vec<LegacyPolicy>,
    /// Tokens: (id, user name, token with its user to resolve).
    tokens: Vec<(String, String, TokenInfo)>,
    /// Host rules and the redact setting, unchanged since.
    rest: AuthState,
    audit: Vec<(String, AuditMode)>,
}

/// A version-1 grant (no grantor; "" is the database).
struct LegacyGrant {
    object: String,
    grantee: String,
    privs: u8,
    grantable: u8,
    columns: Vec<(String, u8)>,
}

/// A version-1 policy (table and roles by name).
struct LegacyPolicy {
    table: String,
    name: String,
    cmd: PolicyCmd,
    roles: Vec<String>,
    using: Option<String>,
    check: Option<String>,
}

fn decode_v1(d: &mut Dec) -> Result<LegacyAuth> {
    let mut l = LegacyAuth {
        roles: Vec::new(),
        members: Vec::new(),
        grants: Vec::new(),
        owners: Vec::new(),
        rls: Vec::new(),
        policies: Vec::new(),
        tokens: Vec::new(),
        rest: AuthState::new(),
        audit: Vec::new(),
    };
    for _ in 0..d.count(7)? {
        let name = d.str()?;
        let login = d.bool()?;
        let hash = d.opt_str()?;
        let valid_until = d.opt_i64()?;
        l.roles.push((name, login, hash, valid_until));
    }
    for _ in 0..d.count(9)? {
        let r = d.str()?;
        let m = d.str()?;
        l.members.push((r, m, d.bool()?));
    }
    for _ in 0..d.count(14)? {
        let o = d.str()?;
        let g = d.str()?;
        let privs = d.u8()?;
        let grantable = d.u8()?;
        let mut columns = Vec::new();
        for _ in 0..d.count(5)? {
            let c = d.str()?;
            columns.push((c, d.u8()?));
        }
        l.grants.push(LegacyGrant {
            object: o,
            grantee: g,
            privs,
            grantable,
            columns,
        });
    }
    for _ in 0..d.count(8)? {
        let o = d.str()?;
        l.owners.push((o, d.str()?));
    }
    for _ in 0..d.count(4)? {
        l.rls.push(d.str()?);
    }
    for _ in 0..d.count(15)? {
        let table = d.str()?;
        let name = d.str()?;
        let cmd = policy_cmd(d.u8()?)?;
        let mut roles = Vec::new();
        for _ in 0..d.count(4)? {
            roles.push(d.str()?);
        }
        let using = d.opt_str()?;
        let check = d.opt_str()?;
        l.policies.push(LegacyPolicy {
            table,
            name,
            cmd,
            roles,
            using,
            check,
        });
    }
    l.rest.hba = d.str()?;
    l.tokens = decode_named_tokens(d)?;
    for _ in 0..d.count(6)? {
        let t = d.str()?;
        let read = d.bool()?;
        let write = d.bool()?;
        l.audit.push((t, AuditMode { read, write }));
    }
    l.rest.redact = d.bool()?;
    Ok(l)
}

impl LegacyAuth {
    /// Converts to the current form. Names resolve through `objects` (the
    /// schema at open); what names no existing object or column is
    /// dropped. Every grant is recorded as made by the object's owner.
    /// Every table and view without an owner, and every trigger
    /// (`triggers`: id and table name), gets one: the table's owner for a
    /// trigger, root otherwise. Policies come back without their bound
    /// references: the caller binds them (see `PolicyRef`).
    pub fn upgrade(
        self,
        objects: &dyn ObjectLookup,
        all_objects: &[ObjectId],
        triggers: &[(ObjectId, String)],
    ) -> AuthState {
        let mut s = self.rest;
        for (name, login, password_hash, valid_until) in self.roles {
            let id = match name.as_str() {
                ROOT => ROOT_ID,
                ADMIN => ADMIN_ID,
                _ => {
                    let id = s.next_role_id;
                    s.next_role_id += 1;
                    id
                }
            };
            s.roles.insert(
                name.clone(),
                RoleInfo {
                    id,
                    name,
                    login,
                    password_hash,
                    valid_until,
                },
            );
        }
        let role = |s: &AuthState, n: &str| s.role_id(n);
        s.members.clear();
        for (r, m, a) in self.members {
            if let (Some(r), Some(m)) = (role(&s, &r), role(&s, &m)) {
                s.members.insert((r, m), a);
            }
        }
        s.members.insert((ADMIN_ID, ROOT_ID), true);
        for (id, user, t) in self.tokens {
            if let Some(user) = role(&s, &user).filter(|u| *u != PUBLIC_ID) {
                s.tokens.insert(id, TokenInfo { user, ..t });
            }
        }
        let object = |n: &str| objects.object(n);
        for (o, w) in self.owners {
            if let (Some(o), Some(w)) = (object(&o), role(&s, &w)) {
                s.owners.insert(o.id, w);
            }
        }
        for o in all_objects {
            s.owners.entry(*o).or_insert(ROOT_ID);
        }
        for (trigger, table) in triggers {
            let owner = object(table)
                .and_then(|t| s.owner_of(t.id))
                .unwrap_or(ROOT_ID);
            s.owners.insert(*trigger, owner);
        }
        for LegacyGrant {
            object: o,
            grantee,
            privs,
            grantable,
            columns,
        } in self.grants
        {
            let Some(grantee) = role(&s, &grantee) else {
                continue;
            };
            let (id, info) = if o.is_empty() {
                (DATABASE_ID, None)
            } else {
                match object(&o) {
                    Some(info) => (info.id, Some(info)),
                    None => continue,
                }
            };
            let grantor = if id == DATABASE_ID {
                ROOT_ID
            } else {
                s.owner_of(id).unwrap_or(ROOT_ID)
            };
            let mut e = GrantEntry {
                privs,
                grantable: grantable & privs,
                columns: BTreeMap::new(),
            };
            for (c, bits) in columns {
                if let Some(c) = info.as_ref().and_then(|i| i.column(&c)) {
                    e.columns.insert(
                        c,
                        ColumnGrant {
                            privs: bits,
                            grantable: 0,
                        },
                    );
                }
            }
            let k = GrantKey {
                object: id,
                grantee,
                grantor,
            };
            merge(s.grants.entry(k).or_default(), &e);
        }
        for t in self.rls {
            if let Some(t) = object(&t) {
                s.rls.insert(t.id);
            }
        }
        for LegacyPolicy {
            table,
            name,
            cmd,
            roles,
            using,
            check,
        } in self.policies
        {
            let Some(t) = object(&table) else { continue };
            let roles = roles.iter().filter_map(|r| role(&s, r)).collect();
            s.policies.insert(
                (t.id, name.clone()),
                Policy {
                    name,
                    table: t.id,
                    cmd,
                    roles,
                    using,
                    check,
                    refs: Vec::new(),
                },
            );
        }
        for (t, m) in self.audit {
            if let Some(t) = object(&t) {
                s.audit.insert(t.id, m);
            }
        }
        s
    }
}

/// A version-1 grant for [`encode_v1_for_tests`]: object ("" for the
/// database), grantee, privilege bits, column privileges.
pub type V1Grant<'a> = (&'a str, &'a str, u8, &'a [(&'a str, u8)]);

/// The version-1 encoding of a name-keyed catalog, for tests of the
/// upgrade path (the database never writes it).
#[doc(hidden)]
pub fn encode_v1_for_tests(
    roles: &[(&str, bool)],
    members: &[(&str, &str)],
    grants: &[V1Grant],
    owners: &[(&str, &str)],
) -> Vec<u8> {
    let mut e = Enc(Vec::new());
    e.u8(1);
    e.u32(roles.len());
    for (n, login) in roles {
        e.str(n);
        e.u8(*login as u8);
        e.u8(0);
        e.u8(0);
    }
    e.u32(members.len());
    for (r, m) in members {
        e.str(r);
        e.str(m);
        e.u8(0);
    }
    e.u32(grants.len());
    for (o, g, privs, cols) in grants {
        e.str(o);
        e.str(g);
        e.u8(*privs);
        e.u8(0);
        e.u32(cols.len());
        for (c, b) in cols.iter() {
            e.str(c);
            e.u8(*b);
        }
    }
    e.u32(owners.len());
    for (o, w) in owners {
        e.str(o);
        e.str(w);
    }
    e.u32(0);
    e.u32(0);
    e.str("");
    e.u32(0);
    e.u32(0);
    e.u8(0);
    e.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A state with something in every field.
    fn sample() -> AuthState {
        let mut s = AuthState::new();
        s.roles.insert(
            "alice".into(),
            RoleInfo {
                id: 3,
                name: "alice".into(),
                login: true,
                password_hash: Some("$argon2id$x".into()),
                valid_until: Some(-5),
            },
        );
        s.next_role_id = 4;
        s.members.insert((ADMIN_ID, 3), false);
        let mut e = GrantEntry {
            privs: Privilege::Select.bit() | Privilege::Trigger.bit(),
            grantable: Privilege::Select.bit(),
            columns: BTreeMap::new(),
        };
        e.columns.insert(
            7,
            ColumnGrant {
                privs: Privilege::Update.bit(),
                grantable: Privilege::Update.bit(),
            },
        );
        s.grants.insert(
            GrantKey {
                object: 5,
                grantee: 3,
                grantor: ROOT_ID,
            },
            e,
        );
        s.owners.insert(5, 3);
        s.rls.insert(5);
        s.policies.insert(
            (5, "p".into()),
            Policy {
                name: "p".into(),
                table: 5,
                cmd: PolicyCmd::Update,
                roles: vec![3, PUBLIC_ID],
                using: Some("a = current_user".into()),
                check: None,
                refs: vec![PolicyRef {
                    object: 5,
                    name: "t".into(),
                    columns: vec![(1, "a".into())],
                }],
            },
        );
        s.hba = "local all all trust".into();
        s.tokens.insert(
            "id1".into(),
            TokenInfo {
                user: 3,
                hash: [9; 32],
                expires: 77,
            },
        );
        s.token_max_lifetime = 5_400;
        s.audit.insert(
            5,
            AuditMode {
                read: true,
                write: false,
            },
        );
        s.redact = true;
        s
    }

    #[test]
    fn version_4_round_trips_without_owners() {
        let s = sample();
        let bytes = encode(&s);
        assert_eq!(bytes[0], 4);
        let Decoded::Current(d) = decode(&bytes).unwrap() else {
            panic!("not current");
        };
        assert_eq!(encode(&d), bytes);
        assert!(d.owners.is_empty(), "owners live in owner keys");
        assert_eq!(d.grants, s.grants);
        assert_eq!(d.tokens, s.tokens);
    }

    #[test]
    fn owner_keys_round_trip_and_diff() {
        let mut old = imbl::OrdMap::new();
        old.insert(5u64, 3u64);
        old.insert(6, 1);
        let mut new = old.clone();
        new.insert(7, 3);
        new.insert(6, 2);
        new.remove(&5);
        let (put, del) = owner_changes(&old, &new);
        let put: Vec<_> = put
            .iter()
            .map(|(k, v)| decode_owner(k, v).unwrap())
            .collect();
        assert_eq!(put, vec![(6, 2), (7, 3)]);
        assert_eq!(del, vec![owner_key(5)]);
        let (put, del) = owner_changes(&new, &new);
        assert!(put.is_empty() && del.is_empty());
        // Against the obvious definition, over interleaved maps.
        for seed in 0..200u64 {
            let pick = |salt: u64| -> imbl::OrdMap<u64, u64> {
                (0..24u64)
                    .filter(|i| !(seed * 31 + i * 7 + salt).is_multiple_of(3))
                    .map(|i| (i, (seed + i + salt) % 4))
                    .collect()
            };
            let (a, b) = (pick(1), pick(2));
            let (put, del) = owner_changes(&a, &b);
            let want_put: Vec<_> = b
                .iter()
                .filter(|(o, w)| a.get(*o) != Some(w))
                .map(|(o, w)| (owner_key(*o), owner_value(*w)))
                .collect();
            let want_del: Vec<_> = a
                .keys()
                .filter(|o| !b.contains_key(*o))
                .map(|o| owner_key(*o))
                .collect();
            assert_eq!((put, del), (want_put, want_del), "seed {seed}");
        }
        // Shared structure (a DDL statement's copy): only what changed.
        let big: imbl::OrdMap<u64, u64> = (0..10_000u64).map(|i| (i, i % 7)).collect();
        let mut b = big.clone();
        b.insert(10_000, 1);
        b.insert(5_000, 6);
        b.insert(6_000, 6_000 % 7);
        b.remove(&42);
        let (put, del) = owner_changes(&big, &b);
        assert_eq!(
            put,
            vec![
                (owner_key(5_000), owner_value(6)),
                (owner_key(10_000), owner_value(1))
            ]
        );
        assert_eq!(del, vec![owner_key(42)]);
        assert!(decode_owner(&owner_key(5)[..10], &owner_value(1)).is_err());
        assert!(decode_owner(&owner_key(5), &[1, 2]).is_err());
    }

    #[test]
    fn version_3_round_trips() {
        let s = sample();
        let bytes = encode_as(&s, 3);
        assert_eq!(bytes[0], 3);
        let Decoded::Current(d) = decode(&bytes).unwrap() else {
            panic!("not current");
        };
        assert_eq!(encode_as(&d, 3), bytes);
        assert_eq!(d.owners, s.owners);
        assert_eq!(d.role_id("alice"), Some(3));
        assert_eq!(d.policies, s.policies);
        assert_eq!(d.grants, s.grants);
        assert_eq!(d.tokens, s.tokens);
        assert_eq!(d.token_max_lifetime, 5_400);
    }

    #[test]
    fn version_2_reads_with_token_users_by_name() {
        let mut s = sample();
        // A token of a name no stored role has (its user was dropped by a
        // build that left it behind) does not come back.
        s.tokens.insert(
            "id2".into(),
            TokenInfo {
                user: 99,
                hash: [1; 32],
                expires: 5,
            },
        );
        let v2 = encode_as(&s, 2);
        assert_eq!(v2[0], 2);
        let Decoded::Current(d) = decode(&v2).unwrap() else {
            panic!("version 2 is read as current");
        };
        assert_eq!(d.tokens.len(), 1);
        assert_eq!(d.tokens["id1"], s.tokens["id1"]);
        assert_eq!(
            d.token_max_lifetime,
            crate::auth::token::DEFAULT_MAX_LIFETIME
        );
        assert_eq!(d.grants, s.grants);
        assert_eq!(
            encode(&d)[0],
            VERSION,
            "written back as the current version"
        );
        for n in 0..v2.len() {
            assert!(decode(&v2[..n]).is_err(), "v2 prefix of {n} bytes decoded");
        }
    }

    #[test]
    fn version_3_refuses_tokens_of_unknown_ids_and_bad_lifetimes() {
        let mut s = sample();
        s.tokens.get_mut("id1").unwrap().user = 4;
        assert!(decode(&encode(&s)).is_err(), "token of a never-made id");
        let mut s = sample();
        s.tokens.get_mut("id1").unwrap().user = PUBLIC_ID;
        assert!(decode(&encode(&s)).is_err(), "token of public");
        let mut s = sample();
        s.token_max_lifetime = 0;
        assert!(decode(&encode(&s)).is_err(), "zero maximum lifetime");
    }

    #[test]
    fn every_truncation_and_trailing_byte_is_refused() {
        let bytes = encode(&sample());
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "prefix of {n} bytes decoded");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode(&long).is_err());
        // Corrupt counts cannot make the decoder allocate or spin.
        let mut huge = bytes;
        huge[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).is_err());
    }

    #[test]
    fn unknown_versions_are_named() {
        let Err(e) = decode(&[5]) else {
            panic!("version 5 decoded");
        };
        assert!(e.to_string().contains("version 5"), "{e}");
        // Version 4 keeps no owners in the value.
        let mut s = sample();
        let mut v3 = encode_as(&s, 3);
        v3[0] = 4;
        assert!(decode(&v3).is_err(), "owners in a version 4 value");
        s.owners.clear();
        assert!(decode(&encode(&s)).is_ok());
    }

    struct Objects;

    impl ObjectLookup for Objects {
        fn object(&self, name: &str) -> Option<ObjectInfo> {
            (name == "t").then(|| ObjectInfo {
                id: 10,
                columns: vec![(1, "a".into()), (2, "b".into())],
            })
        }
        fn name_of(&self, id: ObjectId) -> Option<String> {
            (id == 10).then(|| "t".into())
        }
    }

    #[test]
    fn version_1_upgrades_to_ids() {
        let bytes = encode_v1_for_tests(
            &[
                ("root", true),
                ("admin", false),
                ("bob", true),
                ("alice", true),
            ],
            &[("admin", "root"), ("admin", "bob"), ("ghost", "alice")],
            &[
                (
                    "t",
                    "alice",
                    Privilege::Select.bit(),
                    &[("b", 2), ("gone", 1)],
                ),
                ("nope", "alice", 1, &[]),
                ("", "public", 1, &[]),
                ("t", "ghost", 1, &[]),
            ],
            &[("t", "bob")],
        );
        // With two tokens (the test encoding writes none): bob's, and one
        // of a name no role has.
        let mut bytes = bytes[..bytes.len() - 9].to_vec();
        let mut e = Enc(Vec::new());
        e.u32(2);
        for (id, user) in [("tb", "bob"), ("tg", "ghost")] {
            e.str(id);
            e.str(user);
            e.0.extend_from_slice(&[7; 32]);
            e.i64(1_000);
        }
        e.u32(0);
        e.u8(0);
        bytes.extend_from_slice(&e.0);
        let Decoded::Legacy(l) = decode(&bytes).unwrap() else {
            panic!("not legacy");
        };
        let s = l.upgrade(&Objects, &[10, 11], &[(12, "t".into())]);
        let bob = s.role_id("bob").unwrap();
        let alice = s.role_id("alice").unwrap();
        assert!(bob > ADMIN_ID && alice > ADMIN_ID && alice != bob);
        assert!(s.next_role_id > alice.max(bob));
        assert_eq!(s.owner_of(10), Some(bob));
        assert_eq!(s.owner_of(11), Some(ROOT_ID), "unowned objects go to root");
        assert_eq!(
            s.owner_of(12),
            Some(bob),
            "a trigger goes to its table's owner"
        );
        assert!(s.members.contains_key(&(ADMIN_ID, bob)));
        assert_eq!(
            s.members.len(),
            2,
            "memberships of unknown roles are dropped"
        );
        let g = &s.grants[&GrantKey {
            object: 10,
            grantee: alice,
            grantor: bob,
        }];
        assert_eq!(g.privs, Privilege::Select.bit());
        assert_eq!(g.columns.keys().copied().collect::<Vec<_>>(), vec![2]);
        assert!(s.grants.contains_key(&GrantKey {
            object: DATABASE_ID,
            grantee: PUBLIC_ID,
            grantor: ROOT_ID
        }));
        assert_eq!(
            s.grants.len(),
            2,
            "grants on unknown objects or roles are dropped"
        );
        assert_eq!(s.tokens.len(), 1, "tokens of unknown users are dropped");
        assert_eq!(s.tokens["tb"].user, bob);
        assert_eq!(s.tokens["tb"].expires, 1_000);
        let r = s.roles_of("alice");
        assert!(s.allowed(&r, 10, Privilege::Select, None));
        assert!(!s.allowed(&r, 10, Privilege::Insert, None));
    }
}
