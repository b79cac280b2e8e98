//! Host rules: who may try to log in, from where, and how (like
//! PostgreSQL's `pg_hba.conf` and CockroachDB's
//! `server.host_based_authentication.configuration`).
//!
//! One rule per line, `#` starts a comment:
//!
//! ```text
//! # type  database  user(s)        address          method(s)
//!   host  all       alice,+admin   10.0.0.0/8       password
//!   host  all       all            ::1/128          token,password
//!   host  all       mallory        all              reject
//!   local all       all                             password
//! ```
//!
//! `host` matches connections with a client address, `local` those
//! without (in-process callers), `all` both. Users are names, `+role` for
//! members of a role, or `all`. The address is `all`, an IPv4 or IPv6
//! address, or a CIDR block; IPv4-mapped IPv6 addresses match as IPv4.
//! Methods: `password`, `cert`, `token`, `trust`, `reject`, CockroachDB's
//! `cert-password`, or a comma list. Rules are tried in order; the first
//! whose type, user and address match decides; if none matches, the login
//! is rejected. An empty configuration means the default, which lets
//! everyone try a password, certificate or token from anywhere.

use std::net::IpAddr;

use crate::error::{Error, Result};

/// The configuration used when none is set.
pub const DEFAULT_RULES: &str =
    "host all all all cert-password,token\nlocal all all password,token\n";

/// How a user proves who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// A password (argon2id hash).
    Password,
    /// A client certificate (replication peers).
    Cert,
    /// A login token.
    Token,
    /// No proof needed.
    Trust,
    /// Always refused.
    Reject,
}

impl Method {
    /// The name used in rules.
    pub fn name(self) -> &'static str {
        match self {
            Method::Password => "password",
            Method::Cert => "cert",
            Method::Token => "token",
            Method::Trust => "trust",
            Method::Reject => "reject",
        }
    }
}

/// Which connections a rule is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnType {
    /// With a client address.
    Host,
    /// Without one (in-process).
    Local,
    /// Either.
    All,
}

/// One rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRule {
    /// Connection type.
    pub conn: ConnType,
    /// User names, `+role`, or `all` (lowercase).
    pub users: Vec<String>,
    /// Address block; `None` = any.
    pub address: Option<(IpAddr, u8)>,
    /// Accepted methods (`reject` alone refuses).
    pub methods: Vec<Method>,
    /// The line as written (for errors and audit).
    pub line: String,
}

fn bad(line: &str, why: &str) -> Error {
    Error::InvalidArgument {
        what: format!("host rule `{line}`: {why}"),
    }
}

fn normalize(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => a,
        },
        v4 => v4,
    }
}

fn parse_address(s: &str, line: &str) -> Result<Option<(IpAddr, u8)>> {
    if s.eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip, Some(len)),
        None => (s, None),
    };
    let written: IpAddr = ip
        .parse()
        .map_err(|_| bad(line, &format!("`{s}` is not an address or CIDR block")))?;
    let max = if written.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| bad(line, &format!("bad prefix length in `{s}`")))?,
        None => max,
    };
    // An IPv4-mapped block (`::ffff:10.0.0.0/104`) is the IPv4 block
    // (`10.0.0.0/8`): clients' mapped addresses are matched as IPv4.
    let ip = normalize(written);
    if ip.is_ipv4() && written.is_ipv6() {
        if len < 96 {
            return Ok(Some((written, len)));
        }
        return Ok(Some((ip, len - 96)));
    }
    Ok(Some((ip, len)))
}

fn parse_methods(s: &str, line: &str) -> Result<Vec<Method>> {
    let mut out = Vec::new();
    for m in s.split(',') {
        match m.trim().to_ascii_lowercase().as_str() {
            "password" => out.push(Method::Password),
            "cert" => out.push(Method::Cert),
            "cert-password" => {
                out.push(Method::Cert);
                out.push(Method::Password)
            }
            "token" => out.push(Method::Token),
            "trust" => out.push(Method::Trust),
            "reject" => out.push(Method::Reject),
            other => return Err(bad(line, &format!("unknown method `{other}`"))),
        }
    }
    if out.contains(&Method::Reject) && out.len() > 1 {
        return Err(bad(line, "`reject` cannot be combined with other methods"));
    }
    Ok(out)
}

/// Parses a configuration (an empty one yields the default rules).
pub fn parse_rules(text: &str) -> Result<Vec<HostRule>> {
    let text = if text.trim().is_empty() {
        DEFAULT_RULES
    } else {
        text
    };
    let mut rules = Vec::new();
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let conn = match f[0].to_ascii_lowercase().as_str() {
            "host" | "hostssl" => ConnType::Host,
            "local" => ConnType::Local,
            "all" => ConnType::All,
            other => return Err(bad(line, &format!("unknown connection type `{other}`"))),
        };
        let want = if conn == ConnType::Local { 4 } else { 5 };
        if f.len() != want {
            return Err(bad(
                line,
                &format!(
                    "expected {want} fields: type database user{} method",
                    if conn == ConnType::Local {
                        ""
                    } else {
                        " address"
                    }
                ),
            ));
        }
        let db = f[1].to_ascii_lowercase();
        if db != "all" && db != "main" {
            return Err(bad(line, "the database field must be `all` or `main`"));
        }
        let users = f[2]
            .split(',')
            .map(|u| u.trim().to_lowercase())
            .filter(|u| !u.is_empty())
            .collect::<Vec<_>>();
        if users.is_empty() {
            return Err(bad(line, "no user"));
        }
        let address = if conn == ConnType::Local {
            None
        } else {
            parse_address(f[3], line)?
        };
        let methods = parse_methods(f[want - 1], line)?;
        rules.push(HostRule {
            conn,
            users,
            address,
            methods,
            line: line.to_string(),
        });
    }
    Ok(rules)
}

fn in_block(addr: IpAddr, block: (IpAddr, u8)) -> bool {
    let (net, len) = block;
    match (normalize(addr), net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

impl HostRule {
    /// Whether this rule is about `user` (member of `roles`) connecting
    /// from `addr` (`None` = in-process).
    pub fn matches(
        &self,
        user: &str,
        is_member: &dyn Fn(&str) -> bool,
        addr: Option<IpAddr>,
    ) -> bool {
        let conn_ok = matches!(
            (self.conn, addr),
            (ConnType::All, _) | (ConnType::Host, Some(_)) | (ConnType::Local, None)
        );
        if !conn_ok {
            return false;
        }
        let user = user.to_lowercase();
        let user_ok = self.users.iter().any(|u| {
            u == "all"
                || *u == user
                || u.strip_prefix('+')
                    .is_some_and(|r| r == user || is_member(r))
        });
        if !user_ok {
            return false;
        }
        match (self.address, addr) {
            (None, _) => true,
            (Some(block), Some(a)) => in_block(a, block),
            (Some(_), None) => false,
        }
    }
}

/// The first rule matching, or `None` (rejected).
pub fn decide<'r>(
    rules: &'r [HostRule],
    user: &str,
    is_member: &dyn Fn(&str) -> bool,
    addr: Option<IpAddr>,
) -> Option<&'r HostRule> {
    rules.iter().find(|r| r.matches(user, is_member, addr))
}
