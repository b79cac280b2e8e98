//! The stored form of [`AuthState`]: one versioned, length-prefixed
//! binary value (it is encrypted by the storage layer like every value).
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
//!   [token max lifetime: i64 seconds]   (absent in older stores: default)
//! ```
//! Integers little-endian; `str` is u32 length + UTF-8; `opt-x` is a u8
//! flag then x.

use crate::auth::state::*;
use crate::error::{Error, Result};

struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: usize) {
        self.0.extend_from_slice(&(v as u32).to_le_bytes());
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
    fn i64(&mut self) -> Result<i64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_le_bytes(a))
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
}

/// Encodes the state.
pub fn encode(s: &AuthState) -> Vec<u8> {
    let mut e = Enc(Vec::with_capacity(256));
    e.u8(1);
    e.u32(s.roles.len());
    for r in s.roles.values() {
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
        e.str(r);
        e.str(m);
        e.u8(*a as u8);
    }
    e.u32(s.grants.len());
    for ((o, g), v) in &s.grants {
        e.str(o);
        e.str(g);
        e.u8(v.privs);
        e.u8(v.grantable);
        e.u32(v.columns.len());
        for (c, b) in &v.columns {
            e.str(c);
            e.u8(*b);
        }
    }
    e.u32(s.owners.len());
    for (o, w) in &s.owners {
        e.str(o);
        e.str(w);
    }
    e.u32(s.rls.len());
    for t in &s.rls {
        e.str(t);
    }
    e.u32(s.policies.len());
    for p in s.policies.values() {
        e.str(&p.table);
        e.str(&p.name);
        e.u8(policy_code(p.cmd));
        e.u32(p.roles.len());
        for r in &p.roles {
            e.str(r);
        }
        e.opt_str(&p.using);
        e.opt_str(&p.check);
    }
    e.str(&s.hba);
    e.u32(s.tokens.len());
    for (id, t) in &s.tokens {
        e.str(id);
        e.str(&t.user);
        e.0.extend_from_slice(&t.hash);
        e.i64(t.expires);
    }
    e.u32(s.audit.len());
    for (t, m) in &s.audit {
        e.str(t);
        e.u8(m.read as u8);
        e.u8(m.write as u8);
    }
    e.u8(s.redact as u8);
    e.i64(s.token_max_lifetime);
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

/// Decodes the state.
pub fn decode(bytes: &[u8]) -> Result<AuthState> {
    let mut d = Dec(bytes);
    if d.u8()? != 1 {
        return Err(corrupt());
    }
    let mut s = AuthState::new();
    s.roles.clear();
    s.members.clear();
    for _ in 0..d.u32()? {
        let name = d.str()?;
        let login = d.bool()?;
        let password_hash = d.opt_str()?;
        let valid_until = if d.bool()? { Some(d.i64()?) } else { None };
        s.roles.insert(
            name.clone(),
            RoleInfo {
                name,
                login,
                password_hash,
                valid_until,
            },
        );
    }
    for _ in 0..d.u32()? {
        let r = d.str()?;
        let m = d.str()?;
        s.members.insert((r, m), d.bool()?);
    }
    for _ in 0..d.u32()? {
        let o = d.str()?;
        let g = d.str()?;
        let privs = d.u8()?;
        let grantable = d.u8()?;
        let mut columns = std::collections::BTreeMap::new();
        for _ in 0..d.u32()? {
            let c = d.str()?;
            columns.insert(c, d.u8()?);
        }
        s.grants.insert(
            (o, g),
            GrantEntry {
                privs,
                grantable,
                columns,
            },
        );
    }
    for _ in 0..d.u32()? {
        let o = d.str()?;
        s.owners.insert(o, d.str()?);
    }
    for _ in 0..d.u32()? {
        s.rls.insert(d.str()?);
    }
    for _ in 0..d.u32()? {
        let table = d.str()?;
        let name = d.str()?;
        let cmd = policy_cmd(d.u8()?)?;
        let mut roles = Vec::new();
        for _ in 0..d.u32()? {
            roles.push(d.str()?);
        }
        let using = d.opt_str()?;
        let check = d.opt_str()?;
        s.policies.insert(
            (table.clone(), name.clone()),
            Policy {
                name,
                table,
                cmd,
                roles,
                using,
                check,
            },
        );
    }
    s.hba = d.str()?;
    for _ in 0..d.u32()? {
        let id = d.str()?;
        let user = d.str()?;
        let mut hash = [0u8; 32];
        hash.copy_from_slice(d.take(32)?);
        let expires = d.i64()?;
        s.tokens.insert(
            id,
            TokenInfo {
                user,
                hash,
                expires,
            },
        );
    }
    for _ in 0..d.u32()? {
        let t = d.str()?;
        let read = d.bool()?;
        let write = d.bool()?;
        s.audit.insert(t, AuditMode { read, write });
    }
    s.redact = d.bool()?;
    if !d.0.is_empty() {
        s.token_max_lifetime = d.i64()?;
    }
    if !d.0.is_empty() {
        return Err(corrupt());
    }
    Ok(s)
}
