//! One audit record and its JSON form (the text the hash chain covers).
//!
//! The JSON is written by hand, field by field in a fixed order, so the
//! bytes of a record — and so the chain's hashes — never depend on a
//! serializer's version.

/// One audit record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditRecord {
    /// Position in the log (from 1).
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// `statement`, `denied`, `login`, `login_failed`, `security`,
    /// `key_rotation`, `encryption`, `audit_recovery`, `backup`,
    /// `restore`, `peer_refused` (a replicated node's transport refused a
    /// peer).
    pub event: String,
    /// The session's user.
    pub user: String,
    /// Its active roles (besides itself).
    pub roles: Vec<String>,
    /// The client's address, if any.
    pub client_address: Option<String>,
    /// The application's name.
    pub application_name: String,
    /// The statement text, with placeholders.
    pub statement: String,
    /// Bound values (absent when redacted or none).
    pub values: Option<Vec<String>>,
    /// Tables and views touched.
    pub objects: Vec<String>,
    /// `read`, `write`, `read write` or empty.
    pub mode: String,
    /// Rows changed or returned.
    pub rows: u64,
    /// `ok` or `error`; `started` for an audited query that has begun
    /// (its `ok` or `error` record follows when its result is closed).
    pub outcome: String,
    /// The error's stable code.
    pub error_code: Option<u32>,
    /// The error's message (or a failed login's reason).
    pub error: Option<String>,
    /// How long the statement ran, in microseconds.
    pub duration_us: u64,
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

impl AuditRecord {
    /// The record as one JSON object (without chain fields).
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(256);
        o.push_str(&format!(
            "{{\"seq\":{},\"time_ms\":{},\"event\":",
            self.seq, self.time_ms
        ));
        json_str(&mut o, &self.event);
        o.push_str(",\"user\":");
        json_str(&mut o, &self.user);
        o.push_str(",\"roles\":[");
        for (i, r) in self.roles.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            json_str(&mut o, r);
        }
        o.push_str("],\"client_address\":");
        match &self.client_address {
            Some(a) => json_str(&mut o, a),
            None => o.push_str("null"),
        }
        o.push_str(",\"application_name\":");
        json_str(&mut o, &self.application_name);
        o.push_str(",\"statement\":");
        json_str(&mut o, &self.statement);
        o.push_str(",\"values\":");
        match &self.values {
            Some(vs) => {
                o.push('[');
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        o.push(',');
                    }
                    json_str(&mut o, v);
                }
                o.push(']');
            }
            None => o.push_str("null"),
        }
        o.push_str(",\"objects\":[");
        for (i, r) in self.objects.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            json_str(&mut o, r);
        }
        o.push_str("],\"mode\":");
        json_str(&mut o, &self.mode);
        o.push_str(&format!(",\"rows\":{},\"outcome\":", self.rows));
        json_str(&mut o, &self.outcome);
        o.push_str(",\"error_code\":");
        match self.error_code {
            Some(c) => o.push_str(&c.to_string()),
            None => o.push_str("null"),
        }
        o.push_str(",\"error\":");
        match &self.error {
            Some(e) => json_str(&mut o, e),
            None => o.push_str("null"),
        }
        o.push_str(&format!(",\"duration_us\":{}}}", self.duration_us));
        o
    }
}
