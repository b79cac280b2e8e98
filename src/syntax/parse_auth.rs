//! sealdb's own dialect for security statements, which sqlparser does not
//! know (or knows in another database's shape): CREATE/ALTER/DROP USER and
//! ROLE, GRANT, REVOKE, SHOW USERS/ROLES/GRANTS/CLUSTER SETTING, CREATE and
//! DROP POLICY, ALTER TABLE ... ENABLE ROW LEVEL SECURITY |
//! EXPERIMENTAL_AUDIT SET ... | OWNER TO, REASSIGN OWNED BY and SET
//! CLUSTER SETTING. Also the statement splitter that lets scripts mix these
//! with ordinary SQL.
//!
//! A small hand-written tokenizer and recursive-descent parser; a policy's
//! USING / WITH CHECK expression is kept as text (validated by the caller
//! through the ordinary expression parser).

use zeroize::Zeroizing;

use crate::auth::stmt::PolicySpec;
use crate::auth::stmt::{AuthStmt, RoleOpt, Secret, Target};
use crate::auth::{AuditMode, PolicyCmd, Privilege};
use crate::error::{Error, Result, SqlErrorKind};

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// A bare word (kept as written) or a quoted identifier.
    Word(String, bool),
    /// A string literal.
    Str(String),
    /// A number.
    Num(String),
    /// A parameter (`?`, `?N`, `$N`, `:name`, `@name`).
    Param(String),
    /// Any other character.
    Punct(char),
}

struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn syntax(msg: impl Into<String>) -> Error {
    Error::sql(
        SqlErrorKind::Syntax,
        format!("syntax error: {}", msg.into()),
    )
}

fn tokenize(sql: &str) -> Result<Vec<Token>> {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                i += 1;
            }
            i = (i + 2).min(b.len());
            continue;
        }
        let tok = match c {
            b'\'' | b'"' | b'`' | b'[' => {
                let close = if c == b'[' { b']' } else { c };
                let mut s = Vec::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(syntax("unterminated quoted text")),
                        Some(&x) if x == close => {
                            if close != b']' && b.get(i + 1) == Some(&close) {
                                s.push(close);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(&x) => {
                            s.push(x);
                            i += 1;
                        }
                    }
                }
                let s = String::from_utf8(s).map_err(|_| syntax("invalid UTF-8"))?;
                if c == b'\'' {
                    Tok::Str(s)
                } else {
                    Tok::Word(s, true)
                }
            }
            b'?' | b'$' | b':' | b'@'
                if b.get(i + 1)
                    .is_some_and(|x| x.is_ascii_alphanumeric() || *x == b'_')
                    || c == b'?' =>
            {
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                Tok::Param(sql[start..i].to_string())
            }
            c if c.is_ascii_digit() => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
                Tok::Num(sql[start..i].to_string())
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80)
                {
                    i += 1;
                }
                Tok::Word(sql[start..i].to_string(), false)
            }
            _ => {
                let ch = sql[i..].chars().next().unwrap_or(' ');
                i += ch.len_utf8();
                Tok::Punct(ch)
            }
        };
        out.push(Token { tok, start, end: i });
    }
    Ok(out)
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Word(w, false) if w.eq_ignore_ascii_case(kw))
}

/// Splits a script into statements at top-level `;` (quotes, comments and
/// trigger bodies respected). Returns the pieces, without the `;`.
pub fn split_statements(sql: &str) -> Result<Vec<&str>> {
    let toks = tokenize(sql)?;
    let mut out = Vec::new();
    let mut piece_start = 0usize;
    let mut first: Option<usize> = None;
    let mut in_trigger = false;
    let mut case_depth = 0usize;
    let mut ended = false;
    for (k, t) in toks.iter().enumerate() {
        if first.is_none() {
            if matches!(t.tok, Tok::Punct(';')) {
                piece_start = t.end;
                continue;
            }
            first = Some(k);
            let w = |j: usize| toks.get(k + j).map(|x| &x.tok);
            in_trigger = is_kw(&t.tok, "CREATE")
                && (w(1).is_some_and(|x| is_kw(x, "TRIGGER"))
                    || (w(1).is_some_and(|x| is_kw(x, "TEMP") || is_kw(x, "TEMPORARY"))
                        && w(2).is_some_and(|x| is_kw(x, "TRIGGER"))));
            case_depth = 0;
            ended = false;
        }
        if in_trigger {
            if is_kw(&t.tok, "CASE") {
                case_depth += 1;
            } else if is_kw(&t.tok, "END") {
                if case_depth > 0 {
                    case_depth -= 1;
                } else {
                    ended = true;
                }
            }
        }
        if matches!(t.tok, Tok::Punct(';')) && (!in_trigger || ended) {
            out.push(sql[piece_start..t.start].trim());
            piece_start = t.end;
            first = None;
        }
    }
    let rest = sql[piece_start..].trim();
    if !rest.is_empty() && first.is_some() {
        out.push(rest);
    }
    Ok(out)
}

/// Whether `piece` (one statement) is a security statement.
pub fn is_auth_statement(piece: &str) -> bool {
    let words: Vec<String> = piece
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .take(4)
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let w = |i: usize| words.get(i).map(|s| s.as_str()).unwrap_or("");
    match w(0) {
        "GRANT" | "REVOKE" | "SHOW" | "REASSIGN" => true,
        "CREATE" => matches!(w(1), "USER" | "ROLE" | "POLICY" | "LOGIN"),
        "DROP" => matches!(w(1), "USER" | "ROLE" | "POLICY"),
        "ALTER" => match w(1) {
            "USER" | "ROLE" => true,
            "TABLE" | "VIEW" => {
                matches!(w(3), "ENABLE" | "DISABLE" | "EXPERIMENTAL_AUDIT" | "OWNER")
            }
            _ => false,
        },
        "SET" => w(1) == "CLUSTER",
        _ => false,
    }
}

/// Privileges (each with its columns), their target, and the grantees.
type PrivilegeClause = (Vec<(Privilege, Vec<String>)>, Target, Vec<String>);

struct P<'a> {
    sql: &'a str,
    toks: Vec<Token>,
    i: usize,
    param: &'a mut dyn FnMut(&str) -> Result<usize>,
}

impl P<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.tok)
    }
    fn peek_kw(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| is_kw(t, kw))
    }
    fn peek_kw_at(&self, off: usize, kw: &str) -> bool {
        self.toks
            .get(self.i + off)
            .is_some_and(|t| is_kw(&t.tok, kw))
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.peek_kw(kw) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect_kw(&mut self, kw: &str) -> Result<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected(kw))
        }
    }
    fn eat_punct(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn unexpected(&self, want: &str) -> Error {
        match self.toks.get(self.i) {
            Some(t) => syntax(format!(
                "expected {want}, found `{}`",
                &self.sql[t.start..t.end]
            )),
            None => syntax(format!("expected {want} at the end of the statement")),
        }
    }
    /// Like [`Self::unexpected`], for a position where the token may be a
    /// secret (an unquoted password): the error, which ends up in logs,
    /// says where and what was wanted, never what was found.
    fn unexpected_secret(&self, want: &str) -> Error {
        match self.toks.get(self.i) {
            Some(t) => syntax(format!(
                "expected {want} at character {} (what is there is not shown: it may be a password)",
                t.start + 1
            )),
            None => syntax(format!("expected {want} at the end of the statement")),
        }
    }
    fn name(&mut self) -> Result<String> {
        match self.peek().cloned() {
            Some(Tok::Word(w, quoted)) => {
                self.i += 1;
                Ok(if quoted { w } else { w.to_lowercase() })
            }
            Some(Tok::Str(s)) => {
                self.i += 1;
                Ok(s)
            }
            _ => Err(self.unexpected("a name")),
        }
    }
    /// A table name, lowercased (sealdb table names compare without case).
    fn object(&mut self) -> Result<String> {
        Ok(self.name()?.to_lowercase())
    }
    fn objects(&mut self) -> Result<Vec<String>> {
        let mut v = vec![self.object()?];
        while self.eat_punct(',') {
            v.push(self.object()?);
        }
        Ok(v)
    }
    fn done(&self) -> Result<()> {
        match self.toks.get(self.i) {
            None => Ok(()),
            Some(_) => Err(self.unexpected("the end of the statement")),
        }
    }
    fn string(&mut self) -> Result<String> {
        match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.i += 1;
                Ok(s)
            }
            _ => Err(self.unexpected("a quoted string")),
        }
    }
    fn if_exists(&mut self) -> Result<bool> {
        if self.eat_kw("IF") {
            self.expect_kw("EXISTS")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn role_opts(&mut self) -> Result<Vec<RoleOpt>> {
        self.eat_kw("WITH");
        let mut opts = Vec::new();
        while self.i < self.toks.len() {
            if self.eat_kw("PASSWORD") {
                let s = match self.peek().cloned() {
                    Some(Tok::Str(s)) => {
                        self.i += 1;
                        Secret::Literal(Zeroizing::new(s))
                    }
                    Some(Tok::Param(p)) => {
                        self.i += 1;
                        Secret::Param((self.param)(&p)?)
                    }
                    Some(t) if is_kw(&t, "NULL") => {
                        self.i += 1;
                        Secret::Null
                    }
                    _ => {
                        return Err(self.unexpected_secret(
                            "a quoted password string, a parameter or NULL after PASSWORD",
                        ))
                    }
                };
                opts.push(RoleOpt::Password(s));
            } else if self.eat_kw("LOGIN") {
                opts.push(RoleOpt::Login(true));
            } else if self.eat_kw("NOLOGIN") {
                opts.push(RoleOpt::Login(false));
            } else if self.eat_kw("VALID") {
                self.expect_kw("UNTIL")?;
                if self.eat_kw("NULL") {
                    opts.push(RoleOpt::ValidUntil(None));
                } else {
                    opts.push(RoleOpt::ValidUntil(Some(self.string()?)));
                }
            } else {
                // A password whose keyword was forgotten lands here.
                return Err(self.unexpected_secret("PASSWORD, LOGIN, NOLOGIN or VALID UNTIL"));
            }
        }
        Ok(opts)
    }

    fn privileges(&mut self) -> Result<Vec<(Privilege, Vec<String>)>> {
        if self.eat_kw("ALL") {
            self.eat_kw("PRIVILEGES");
            return Ok(Privilege::ALL
                .into_iter()
                .map(|p| (p, Vec::new()))
                .collect());
        }
        let mut out = Vec::new();
        loop {
            let word = match self.peek().cloned() {
                Some(Tok::Word(w, false)) => w,
                _ => return Err(self.unexpected("a privilege")),
            };
            let p = Privilege::parse(&word).ok_or_else(|| {
                syntax(format!(
                    "unknown privilege {word} (SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, TRIGGER, ALL)"
                ))
            })?;
            self.i += 1;
            let mut cols = Vec::new();
            if self.eat_punct('(') {
                cols = self.objects()?;
                if !self.eat_punct(')') {
                    return Err(self.unexpected("`)`"));
                }
                if !p.column_level() {
                    return Err(Error::sql(
                        SqlErrorKind::Misuse,
                        format!("{} cannot be granted on columns", p.name()),
                    ));
                }
            }
            out.push((p, cols));
            if !self.eat_punct(',') {
                break;
            }
        }
        Ok(out)
    }

    fn target(&mut self) -> Result<Target> {
        if self.eat_kw("DATABASE") {
            let db = self.name()?;
            if !db.eq_ignore_ascii_case(crate::auth::state::DATABASE) {
                return Err(Error::sql(
                    SqlErrorKind::UnknownTable,
                    format!("no such database: {db} (this database is called main)"),
                ));
            }
            return Ok(Target::Database);
        }
        self.eat_kw("TABLE");
        Ok(Target::Tables(self.objects()?))
    }

    /// The text of a parenthesized expression (without the parentheses).
    fn paren_text(&mut self) -> Result<String> {
        if !self.eat_punct('(') {
            return Err(self.unexpected("`(`"));
        }
        let start = self
            .toks
            .get(self.i)
            .map(|t| t.start)
            .unwrap_or(self.sql.len());
        let mut depth = 1;
        while let Some(t) = self.toks.get(self.i) {
            match t.tok {
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') => {
                    depth -= 1;
                    if depth == 0 {
                        let text = self.sql[start..t.start].trim().to_string();
                        self.i += 1;
                        if text.is_empty() {
                            return Err(syntax("empty expression"));
                        }
                        return Ok(text);
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        Err(syntax("unbalanced parentheses"))
    }

    fn setting_name(&mut self) -> Result<String> {
        let mut s = self.name()?;
        while self.eat_punct('.') {
            s.push('.');
            s.push_str(&self.name()?);
        }
        Ok(s.to_lowercase())
    }

    fn statement(&mut self) -> Result<AuthStmt> {
        let st = if self.eat_kw("CREATE") {
            if self.eat_kw("POLICY") {
                self.create_policy()?
            } else if self.eat_kw("LOGIN") {
                self.expect_kw("TOKEN")?;
                let user = if self.eat_kw("FOR") {
                    Some(self.object()?)
                } else {
                    None
                };
                let valid_for = if self.eat_kw("VALID") {
                    self.expect_kw("FOR")?;
                    Some(match self.peek().cloned() {
                        Some(Tok::Num(n)) => {
                            self.i += 1;
                            n
                        }
                        _ => self.string()?,
                    })
                } else {
                    None
                };
                AuthStmt::CreateToken { user, valid_for }
            } else {
                let user = if self.eat_kw("USER") {
                    true
                } else {
                    self.expect_kw("ROLE")?;
                    false
                };
                let mut if_not_exists = false;
                if self.eat_kw("IF") {
                    self.expect_kw("NOT")?;
                    self.expect_kw("EXISTS")?;
                    if_not_exists = true;
                }
                let name = self.name()?.to_lowercase();
                AuthStmt::CreateRole {
                    name,
                    user,
                    if_not_exists,
                    opts: self.role_opts()?,
                }
            }
        } else if self.eat_kw("DROP") {
            if self.eat_kw("POLICY") {
                let if_exists = self.if_exists()?;
                let name = self.object()?;
                self.expect_kw("ON")?;
                AuthStmt::DropPolicy {
                    name,
                    if_exists,
                    table: self.object()?,
                }
            } else {
                if !self.eat_kw("USER") {
                    self.expect_kw("ROLE")?;
                }
                let if_exists = self.if_exists()?;
                AuthStmt::DropRole {
                    if_exists,
                    names: self.objects()?,
                }
            }
        } else if self.eat_kw("ALTER") {
            if self.eat_kw("TABLE") || self.eat_kw("VIEW") {
                let table = self.object()?;
                if self.peek_kw("ENABLE") || self.peek_kw("DISABLE") {
                    let enabled = self.eat_kw("ENABLE");
                    if !enabled {
                        self.i += 1;
                    }
                    self.expect_kw("ROW")?;
                    self.expect_kw("LEVEL")?;
                    self.expect_kw("SECURITY")?;
                    AuthStmt::SetRls { table, enabled }
                } else if self.eat_kw("EXPERIMENTAL_AUDIT") {
                    self.expect_kw("SET")?;
                    let mode = if self.eat_kw("OFF") {
                        AuditMode::default()
                    } else if self.eat_kw("READ") {
                        AuditMode {
                            read: true,
                            write: self.eat_kw("WRITE"),
                        }
                    } else if self.eat_kw("WRITE") {
                        AuditMode {
                            read: false,
                            write: true,
                        }
                    } else {
                        return Err(self.unexpected("READ WRITE, READ, WRITE or OFF"));
                    };
                    AuthStmt::SetAudit { table, mode }
                } else {
                    self.expect_kw("OWNER")?;
                    self.expect_kw("TO")?;
                    AuthStmt::SetOwner {
                        table,
                        owner: self.object()?,
                    }
                }
            } else {
                if !self.eat_kw("USER") {
                    self.expect_kw("ROLE")?;
                }
                let if_exists = self.if_exists()?;
                let name = self.object()?;
                AuthStmt::AlterRole {
                    name,
                    if_exists,
                    opts: self.role_opts()?,
                }
            }
        } else if self.eat_kw("GRANT") {
            if self.is_privilege_list() {
                let (privs, target, grantees) = self.privilege_clause("TO")?;
                AuthStmt::Grant {
                    privs,
                    target,
                    grantees,
                    grant_option: self.with_option("GRANT")?,
                }
            } else {
                let (roles, members) = self.role_clause("TO")?;
                AuthStmt::GrantRole {
                    roles,
                    members,
                    admin_option: self.with_option("ADMIN")?,
                }
            }
        } else if self.peek_kw("REVOKE")
            && (self.peek_kw_at(1, "LOGIN")
                || (self.peek_kw_at(1, "ALL") && self.peek_kw_at(2, "LOGIN")))
        {
            self.i += 1;
            if self.eat_kw("LOGIN") {
                self.expect_kw("TOKEN")?;
                AuthStmt::RevokeToken { id: self.string()? }
            } else {
                self.expect_kw("ALL")?;
                self.expect_kw("LOGIN")?;
                self.expect_kw("TOKENS")?;
                let user = if self.eat_kw("FOR") {
                    Some(self.object()?)
                } else {
                    None
                };
                AuthStmt::RevokeTokens { user }
            }
        } else if self.eat_kw("REVOKE") {
            // `REVOKE admin FROM x` revokes the admin role, not its option.
            let grant_option_only = self.peek_kw_at(1, "OPTION") && self.eat_kw("GRANT");
            let admin_option_only =
                !grant_option_only && self.peek_kw_at(1, "OPTION") && self.eat_kw("ADMIN");
            if grant_option_only || admin_option_only {
                self.expect_kw("OPTION")?;
                self.expect_kw("FOR")?;
            }
            if grant_option_only || (!admin_option_only && self.is_privilege_list()) {
                let (privs, target, grantees) = self.privilege_clause("FROM")?;
                // RESTRICT is the default, as in PostgreSQL.
                let cascade = self.eat_kw("CASCADE");
                if !cascade {
                    self.eat_kw("RESTRICT");
                }
                AuthStmt::Revoke {
                    privs,
                    target,
                    grantees,
                    grant_option_only,
                    cascade,
                }
            } else {
                let (roles, members) = self.role_clause("FROM")?;
                AuthStmt::RevokeRole {
                    roles,
                    members,
                    admin_option_only,
                }
            }
        } else if self.eat_kw("SHOW") {
            if self.eat_kw("USERS") || self.eat_kw("ROLES") {
                AuthStmt::ShowRoles
            } else if self.eat_kw("GRANTS") {
                let target = if self.eat_kw("ON") {
                    Some(self.target()?)
                } else {
                    None
                };
                let grantees = if self.eat_kw("FOR") {
                    self.objects()?
                } else {
                    Vec::new()
                };
                AuthStmt::ShowGrants { target, grantees }
            } else if self.eat_kw("CLUSTER") {
                self.expect_kw("SETTING")?;
                AuthStmt::ShowSetting {
                    name: self.setting_name()?,
                }
            } else if self.eat_kw("LOGIN") {
                self.expect_kw("TOKENS")?;
                let user = if self.eat_kw("FOR") {
                    Some(self.object()?)
                } else {
                    None
                };
                AuthStmt::ShowTokens { user }
            } else {
                return Err(
                    self.unexpected("USERS, ROLES, GRANTS, LOGIN TOKENS or CLUSTER SETTING")
                );
            }
        } else if self.eat_kw("REASSIGN") {
            self.expect_kw("OWNED")?;
            self.expect_kw("BY")?;
            let from = self.objects()?;
            self.expect_kw("TO")?;
            AuthStmt::ReassignOwned {
                from,
                to: self.object()?,
            }
        } else if self.eat_kw("SET") {
            self.expect_kw("CLUSTER")?;
            self.expect_kw("SETTING")?;
            let name = self.setting_name()?;
            if !self.eat_punct('=') {
                self.expect_kw("TO")?;
            }
            let value = match self.peek().cloned() {
                Some(Tok::Str(s)) => s,
                Some(Tok::Word(w, _)) => w,
                Some(Tok::Num(n)) => n,
                _ => return Err(self.unexpected("a value")),
            };
            self.i += 1;
            AuthStmt::SetSetting { name, value }
        } else {
            return Err(self.unexpected("a security statement"));
        };
        self.done()?;
        Ok(st)
    }

    /// `privileges ON target TO|FROM grantees`.
    fn privilege_clause(&mut self, to: &str) -> Result<PrivilegeClause> {
        let privs = self.privileges()?;
        self.expect_kw("ON")?;
        let target = self.target()?;
        self.expect_kw(to)?;
        Ok((privs, target, self.objects()?))
    }

    /// `roles TO|FROM members`.
    fn role_clause(&mut self, to: &str) -> Result<(Vec<String>, Vec<String>)> {
        let roles = self.objects()?;
        self.expect_kw(to)?;
        Ok((roles, self.objects()?))
    }

    /// An optional `WITH <kw> OPTION`.
    fn with_option(&mut self, kw: &str) -> Result<bool> {
        if !self.eat_kw("WITH") {
            return Ok(false);
        }
        self.expect_kw(kw)?;
        self.expect_kw("OPTION")?;
        Ok(true)
    }

    /// After GRANT/REVOKE: privileges (followed by ON) or role names.
    fn is_privilege_list(&self) -> bool {
        let mut j = self.i;
        let mut depth = 0;
        while let Some(t) = self.toks.get(j) {
            match &t.tok {
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') => depth -= 1,
                tok if depth == 0 && is_kw(tok, "ON") => return true,
                tok if depth == 0 && (is_kw(tok, "TO") || is_kw(tok, "FROM")) => return false,
                _ => {}
            }
            j += 1;
        }
        false
    }

    fn create_policy(&mut self) -> Result<AuthStmt> {
        let name = self.object()?;
        self.expect_kw("ON")?;
        let table = self.object()?;
        if self.eat_kw("AS") && !self.eat_kw("PERMISSIVE") {
            return Err(Error::sql(
                SqlErrorKind::Unsupported,
                "only PERMISSIVE policies are supported",
            ));
        }
        let mut cmd = PolicyCmd::All;
        if self.eat_kw("FOR") {
            cmd = if self.eat_kw("ALL") {
                PolicyCmd::All
            } else if self.eat_kw("SELECT") {
                PolicyCmd::Select
            } else if self.eat_kw("INSERT") {
                PolicyCmd::Insert
            } else if self.eat_kw("UPDATE") {
                PolicyCmd::Update
            } else if self.eat_kw("DELETE") {
                PolicyCmd::Delete
            } else {
                return Err(self.unexpected("ALL, SELECT, INSERT, UPDATE or DELETE"));
            };
        }
        let mut roles = Vec::new();
        if self.eat_kw("TO") {
            roles = self.objects()?;
            roles.retain(|r| r != "public");
        }
        let mut using = None;
        let mut check = None;
        if self.eat_kw("USING") {
            using = Some(self.paren_text()?);
        }
        if self.peek_kw("WITH") && self.peek_kw_at(1, "CHECK") {
            self.i += 2;
            check = Some(self.paren_text()?);
        }
        if using.is_none() && check.is_none() {
            return Err(syntax("a policy needs USING (...) or WITH CHECK (...)"));
        }
        if cmd == PolicyCmd::Insert && using.is_some() {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                "an INSERT policy has only WITH CHECK",
            ));
        }
        if matches!(cmd, PolicyCmd::Select | PolicyCmd::Delete) && check.is_some() {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                "a SELECT or DELETE policy has only USING",
            ));
        }
        Ok(AuthStmt::CreatePolicy(PolicySpec {
            name,
            table,
            cmd,
            roles,
            using,
            check,
        }))
    }
}

/// Parses one security statement; `param` numbers a placeholder.
pub fn parse_auth(sql: &str, param: &mut dyn FnMut(&str) -> Result<usize>) -> Result<AuthStmt> {
    let toks = tokenize(sql)?;
    let mut p = P {
        sql,
        toks,
        i: 0,
        param,
    };
    p.statement()
}
