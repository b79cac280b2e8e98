//! The function table: every scalar function by lower-case name, with the
//! argument counts it accepts and its implementation, and the bind-time
//! handle [`ScalarCall`].

use std::cell::OnceCell;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result, SqlErrorKind};
use crate::syntax::ast::Expr;
use crate::types::{Collation, Value};

use super::{choice, date, json, math, printf, session, text};

/// What a statement's functions may know of their session and moment,
/// taken when the statement starts (see the module documentation).
#[derive(Debug)]
pub struct SessionSnapshot {
    /// The statement's moment (`'now'`): a julian day number times
    /// 86,400,000, i.e. milliseconds since noon UTC, 4714-11-24 BC. Read
    /// from the clock at its first use (most statements never ask, and
    /// the clock read was ~2% of a prepared insert); a copy takes the
    /// moment with it, reading it first, so every copy agrees.
    now_jd_ms: OnceCell<i64>,
    /// The rowid of the session's last successful INSERT.
    pub last_insert_rowid: i64,
    /// Rows changed by the session's last INSERT, UPDATE or DELETE.
    pub changes: i64,
    /// Rows changed by all of the session's statements since it opened.
    pub total_changes: i64,
}

/// Milliseconds between the julian day epoch and the unix epoch.
pub(super) const UNIX_EPOCH_JD_MS: i64 = 210_866_760_000_000;

impl SessionSnapshot {
    /// A snapshot with the given counters whose moment is the time of
    /// its first use.
    pub fn now(last_insert_rowid: i64, changes: i64, total_changes: i64) -> SessionSnapshot {
        SessionSnapshot {
            now_jd_ms: OnceCell::new(),
            last_insert_rowid,
            changes,
            total_changes,
        }
    }

    /// The statement's moment (see the field).
    pub fn now_jd_ms(&self) -> i64 {
        *self.now_jd_ms.get_or_init(|| {
            let unix_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
            UNIX_EPOCH_JD_MS.saturating_add(unix_ms)
        })
    }
}

impl Clone for SessionSnapshot {
    /// The same counters and moment (fixed now if it was not yet).
    fn clone(&self) -> Self {
        SessionSnapshot {
            now_jd_ms: OnceCell::from(self.now_jd_ms()),
            ..*self
        }
    }
}

impl Default for SessionSnapshot {
    /// Now, with zero counters (a fresh session).
    fn default() -> Self {
        SessionSnapshot::now(0, 0, 0)
    }
}

/// One call being evaluated: its arguments and what it may know.
pub(super) struct Call<'a> {
    /// The evaluated arguments.
    pub args: &'a [Value],
    /// The session and the statement's moment.
    pub session: &'a SessionSnapshot,
    /// Bit `i` set: argument `i` is the result of a JSON function (SQLite's
    /// JSON subtype), for the JSON functions that embed such arguments.
    pub json_args: u64,
}

impl Call<'_> {
    /// Whether argument `i` carries the JSON mark.
    pub fn is_json(&self, i: usize) -> bool {
        i < 64 && self.json_args & (1 << i) != 0
    }
}

/// A function of its arguments only.
pub(super) type PureFn = fn(&[Value]) -> Result<Value>;
/// A function that also reads the session, the clock or the JSON marks.
pub(super) type CallFn = fn(&Call) -> Result<Value>;

/// A JSON function whose result is JSON or not depending on the value
/// (`json_extract`): the result and its JSON mark.
pub(super) type SubtypedFn = fn(&Call) -> Result<(Value, bool)>;

#[derive(Clone, Copy)]
enum Imp {
    Pure(PureFn),
    WithCall(CallFn),
    Subtyped(SubtypedFn),
}

impl std::fmt::Debug for Imp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Imp::Pure(_) => "pure",
            Imp::WithCall(_) => "with-call",
            Imp::Subtyped(_) => "subtyped",
        })
    }
}

/// One entry of the function table.
struct ScalarFunction {
    name: &'static str,
    min_args: usize,
    max_args: usize,
    imp: Imp,
    /// Its result carries SQLite's JSON subtype.
    returns_json: bool,
}

/// "Any number of arguments".
const MANY: usize = usize::MAX;

const fn pure(name: &'static str, min_args: usize, max_args: usize, f: PureFn) -> ScalarFunction {
    ScalarFunction {
        name,
        min_args,
        max_args,
        imp: Imp::Pure(f),
        returns_json: false,
    }
}

const fn with_call(
    name: &'static str,
    min_args: usize,
    max_args: usize,
    f: CallFn,
) -> ScalarFunction {
    ScalarFunction {
        name,
        min_args,
        max_args,
        imp: Imp::WithCall(f),
        returns_json: false,
    }
}

/// A JSON function whose result carries the JSON subtype.
const fn json_result(
    name: &'static str,
    min_args: usize,
    max_args: usize,
    f: CallFn,
) -> ScalarFunction {
    ScalarFunction {
        name,
        min_args,
        max_args,
        imp: Imp::WithCall(f),
        returns_json: true,
    }
}

const fn subtyped(
    name: &'static str,
    min_args: usize,
    max_args: usize,
    f: SubtypedFn,
) -> ScalarFunction {
    ScalarFunction {
        name,
        min_args,
        max_args,
        imp: Imp::Subtyped(f),
        returns_json: false,
    }
}

/// Every scalar function, by lower-case name.
static FUNCTIONS: &[ScalarFunction] = &[
    // text.rs
    pure("char", 0, MANY, text::f_char),
    pure("concat", 1, MANY, text::f_concat),
    pure("concat_ws", 2, MANY, text::f_concat_ws),
    pure("glob", 2, 2, text::f_glob),
    pure("hex", 1, 1, text::f_hex),
    pure("instr", 2, 2, text::f_instr),
    pure("length", 1, 1, text::f_length),
    pure("like", 2, 3, text::f_like),
    pure("lower", 1, 1, text::f_lower),
    pure("ltrim", 1, 2, text::f_ltrim),
    pure("octet_length", 1, 1, text::f_octet_length),
    pure("quote", 1, 1, text::f_quote),
    pure("replace", 3, 3, text::f_replace),
    pure("rtrim", 1, 2, text::f_rtrim),
    pure("soundex", 1, 1, text::f_soundex),
    pure("substr", 2, 3, text::f_substr),
    pure("substring", 2, 3, text::f_substr),
    pure("trim", 1, 2, text::f_trim),
    pure("unhex", 1, 2, text::f_unhex),
    pure("unicode", 1, 1, text::f_unicode),
    pure("unistr", 1, 1, text::f_unistr),
    pure("unistr_quote", 1, 1, text::f_unistr_quote),
    pure("upper", 1, 1, text::f_upper),
    pure("zeroblob", 1, 1, text::f_zeroblob),
    // printf.rs
    pure("format", 0, MANY, printf::f_printf),
    pure("printf", 0, MANY, printf::f_printf),
    // choice.rs
    pure("coalesce", 2, MANY, choice::f_coalesce),
    pure("if", 2, MANY, choice::f_iif),
    pure("ifnull", 2, 2, choice::f_coalesce),
    pure("iif", 2, MANY, choice::f_iif),
    pure("likelihood", 2, 2, choice::f_likelihood),
    pure("likely", 1, 1, choice::f_first),
    pure("max", 2, MANY, choice::f_max),
    pure("min", 2, MANY, choice::f_min),
    pure("nullif", 2, 2, choice::f_nullif),
    pure("typeof", 1, 1, choice::f_typeof),
    pure("unlikely", 1, 1, choice::f_first),
    // math.rs
    pure("abs", 1, 1, math::f_abs),
    pure("acos", 1, 1, math::f_acos),
    pure("acosh", 1, 1, math::f_acosh),
    pure("asin", 1, 1, math::f_asin),
    pure("asinh", 1, 1, math::f_asinh),
    pure("atan", 1, 1, math::f_atan),
    pure("atan2", 2, 2, math::f_atan2),
    pure("atanh", 1, 1, math::f_atanh),
    pure("ceil", 1, 1, math::f_ceil),
    pure("ceiling", 1, 1, math::f_ceil),
    pure("cos", 1, 1, math::f_cos),
    pure("cosh", 1, 1, math::f_cosh),
    pure("degrees", 1, 1, math::f_degrees),
    pure("exp", 1, 1, math::f_exp),
    pure("floor", 1, 1, math::f_floor),
    pure("ln", 1, 1, math::f_ln),
    pure("log", 1, 2, math::f_log),
    pure("log10", 1, 1, math::f_log10),
    pure("log2", 1, 1, math::f_log2),
    pure("mod", 2, 2, math::f_mod),
    pure("pi", 0, 0, math::f_pi),
    pure("pow", 2, 2, math::f_pow),
    pure("power", 2, 2, math::f_pow),
    pure("radians", 1, 1, math::f_radians),
    pure("round", 1, 2, math::f_round),
    pure("sign", 1, 1, math::f_sign),
    pure("sin", 1, 1, math::f_sin),
    pure("sinh", 1, 1, math::f_sinh),
    pure("sqrt", 1, 1, math::f_sqrt),
    pure("tan", 1, 1, math::f_tan),
    pure("tanh", 1, 1, math::f_tanh),
    pure("trunc", 1, 1, math::f_trunc),
    // session.rs
    with_call("changes", 0, 0, session::f_changes),
    with_call("last_insert_rowid", 0, 0, session::f_last_insert_rowid),
    pure("random", 0, 0, session::f_random),
    pure("randomblob", 1, 1, session::f_randomblob),
    pure("sqlite_source_id", 0, 0, session::f_sqlite_source_id),
    pure("sqlite_version", 0, 0, session::f_sqlite_version),
    with_call("total_changes", 0, 0, session::f_total_changes),
    // date.rs
    with_call("current_date", 0, 0, date::f_current_date),
    with_call("current_time", 0, 0, date::f_current_time),
    with_call("current_timestamp", 0, 0, date::f_current_timestamp),
    with_call("date", 0, MANY, date::f_date),
    with_call("datetime", 0, MANY, date::f_datetime),
    with_call("julianday", 0, MANY, date::f_julianday),
    with_call("strftime", 1, MANY, date::f_strftime),
    with_call("time", 0, MANY, date::f_time),
    with_call("timediff", 2, 2, date::f_timediff),
    with_call("unixepoch", 0, MANY, date::f_unixepoch),
    // json/
    json_result("->", 2, 2, json::f_arrow),
    with_call("->>", 2, 2, json::f_long_arrow),
    json_result("json", 1, 1, json::f_json),
    json_result("json_array", 0, MANY, json::f_json_array),
    json_result("json_array_insert", 1, MANY, json::f_json_array_insert),
    with_call("json_array_length", 1, 2, json::f_json_array_length),
    with_call("json_error_position", 1, 1, json::f_json_error_position),
    subtyped("json_extract", 1, MANY, json::f_json_extract),
    json_result("json_insert", 1, MANY, json::f_json_insert),
    json_result("json_object", 0, MANY, json::f_json_object),
    json_result("json_patch", 2, 2, json::f_json_patch),
    with_call("json_pretty", 1, 2, json::f_json_pretty),
    json_result("json_quote", 1, 1, json::f_json_quote),
    json_result("json_remove", 1, MANY, json::f_json_remove),
    json_result("json_replace", 1, MANY, json::f_json_replace),
    json_result("json_set", 1, MANY, json::f_json_set),
    with_call("json_type", 1, 2, json::f_json_type),
    with_call("json_valid", 1, 2, json::f_json_valid),
];

/// Aggregates whose result carries the JSON subtype.
const JSON_AGGREGATES: [&str; 2] = ["json_group_array", "json_group_object"];

/// Finds a function and checks its argument count.
fn lookup(name: &str, nargs: usize) -> Result<&'static ScalarFunction> {
    let lower = name.to_ascii_lowercase();
    let f = FUNCTIONS.iter().find(|f| f.name == lower).ok_or_else(|| {
        Error::sql(
            SqlErrorKind::UnknownFunction,
            format!("no such function: {name}"),
        )
    })?;
    if nargs < f.min_args || nargs > f.max_args {
        return Err(Error::sql(
            SqlErrorKind::Misuse,
            format!("wrong number of arguments to function {name}()"),
        ));
    }
    Ok(f)
}

/// Whether `name(nargs arguments)` is a valid scalar function call: `Ok`,
/// or the error [`call_scalar`] would give for it.
pub fn check_scalar(name: &str, nargs: usize) -> Result<()> {
    lookup(name, nargs).map(|_| ())
}

/// The names of all scalar functions, lower case (with the operators
/// `->` and `->>`, which are functions here as in SQLite).
pub fn scalar_function_names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|f| f.name)
}

/// Whether `e` is a JSON aggregate call, whose result always carries
/// SQLite's JSON subtype. (Scalar JSON functions nested in an argument are
/// marked as they are evaluated, by [`ScalarCall::call_marked`].)
pub(crate) fn returns_json(e: &Expr) -> bool {
    let Expr::Function { name, .. } = e else {
        return false;
    };
    JSON_AGGREGATES.contains(&name.to_ascii_lowercase().as_str())
}

/// Whether `e` always yields a value carrying SQLite's JSON subtype: a
/// JSON function that returns JSON text (`json`, `json_array`, `->`, ...)
/// or a JSON aggregate. (`json_extract` does only for arrays and objects,
/// which is known only when it runs.)
pub(crate) fn is_json_result(e: &Expr) -> bool {
    let Expr::Function { name, .. } = e else {
        return false;
    };
    let lower = name.to_ascii_lowercase();
    JSON_AGGREGATES.contains(&lower.as_str())
        || FUNCTIONS
            .iter()
            .any(|f| f.returns_json && f.name == lower.as_str())
}

/// A function SQLite codes in line, whose arguments after the first are
/// evaluated only when needed (an error in one it skips is never raised).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShortCircuit {
    /// `coalesce`, `ifnull`: the arguments in order up to the first that
    /// is not NULL.
    FirstNotNull,
    /// `iif`, `if`: as `CASE WHEN C1 THEN V1 ... ELSE E END`.
    Case,
}

/// A scalar function call resolved at bind time: the name (for errors and
/// EXPLAIN) and, when the name and argument count are valid, the function.
#[derive(Clone, Debug)]
pub struct ScalarCall {
    name: String,
    nargs: usize,
    imp: Option<Imp>,
    returns_json: bool,
    json_args: u64,
    /// (argument, (query levels out, row position) of its `type`):
    /// arguments that are a `json_each` value column, JSON when their
    /// row's type is `array` or `object`.
    json_columns: Vec<(usize, (usize, usize))>,
    /// [`Self::short_circuit`] and [`Self::wants_json_marks`], decided
    /// from the name once: the evaluator asks on every call.
    short: Option<ShortCircuit>,
    json_marks: bool,
}

impl ScalarCall {
    /// Resolves `name` called with `nargs` arguments. Never fails: an
    /// invalid call keeps failing where it did, at evaluation.
    pub fn resolve(name: &str, nargs: usize) -> ScalarCall {
        let found = lookup(name, nargs).ok();
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        let short = if found.is_none() {
            None
        } else if is("coalesce") || is("ifnull") {
            Some(ShortCircuit::FirstNotNull)
        } else if is("iif") || is("if") {
            Some(ShortCircuit::Case)
        } else {
            None
        };
        ScalarCall {
            name: name.to_string(),
            nargs,
            imp: found.map(|f| f.imp),
            returns_json: found.is_some_and(|f| f.returns_json),
            json_args: 0,
            json_columns: Vec::new(),
            short,
            // (`get`: a name may start with characters of several bytes.)
            json_marks: name.len() > 4
                && name
                    .get(..4)
                    .is_some_and(|p| p.eq_ignore_ascii_case("json")),
        }
    }

    /// Notes arguments that are `json_each` value columns: (argument,
    /// (query levels out, row position) of that row's `type`).
    pub fn with_json_columns(mut self, columns: Vec<(usize, (usize, usize))>) -> ScalarCall {
        self.json_columns = columns;
        self
    }

    /// Where argument `i`'s `type` is (query levels out, row position), if
    /// it is a `json_each` value column.
    pub fn json_column(&self, i: usize) -> Option<(usize, usize)> {
        self.json_columns
            .iter()
            .find(|(a, _)| *a == i)
            .map(|(_, t)| *t)
    }

    /// Resolves `name` called with the argument expressions `args`, noting
    /// which of them are JSON function results (see the module
    /// documentation).
    pub fn resolve_args(name: &str, args: &[Expr]) -> ScalarCall {
        let mut call = ScalarCall::resolve(name, args.len());
        for (i, a) in args.iter().enumerate().take(64) {
            if returns_json(a) {
                call.json_args |= 1 << i;
            }
        }
        call
    }

    /// Resolves as [`Self::resolve_args`], comparing under `coll` when the
    /// function compares its arguments (see [`needs_collation`]).
    pub fn resolve_args_collated(name: &str, args: &[Expr], coll: Collation) -> ScalarCall {
        let mut call = ScalarCall::resolve_args(name, args);
        if call.imp.is_some() && needs_collation(name) && coll != Collation::Binary {
            let f: PureFn = match (name.to_ascii_lowercase().as_str(), coll) {
                ("min", Collation::NoCase) => |a| choice::min_max(a, false, Collation::NoCase),
                ("min", _) => |a| choice::min_max(a, false, Collation::Rtrim),
                ("max", Collation::NoCase) => |a| choice::min_max(a, true, Collation::NoCase),
                ("max", _) => |a| choice::min_max(a, true, Collation::Rtrim),
                (_, Collation::NoCase) => |a| choice::nullif(a, Collation::NoCase),
                _ => |a| choice::nullif(a, Collation::Rtrim),
            };
            call.imp = Some(Imp::Pure(f));
        }
        call
    }

    /// The name as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How the evaluator must call this function when SQLite codes it in
    /// line, evaluating an argument only when it is needed (`None`: a call
    /// on all the arguments evaluated first).
    pub fn short_circuit(&self) -> Option<ShortCircuit> {
        self.short
    }

    /// Evaluates the call on `args` for a statement of `session`.
    pub fn call(&self, args: &[Value], session: &SessionSnapshot) -> Result<Value> {
        // Straight to the function: no mark to carry (a result is twice
        // moved through the marked path's wider one).
        match self.imp {
            Some(imp) if args.len() == self.nargs => run_plain(imp, args, session, self.json_args),
            _ => self.call_marked(args, 0, session).map(|(v, _)| v),
        }
    }

    /// Whether this function embeds arguments that are JSON function
    /// results as JSON (so the evaluator should report which are).
    pub fn wants_json_marks(&self) -> bool {
        self.json_marks
    }

    /// Evaluates the call with `marks` (bit `i`: argument `i` is a JSON
    /// function's result) added to the marks known at bind time; returns
    /// the value and whether it carries the JSON mark itself.
    pub fn call_marked(
        &self,
        args: &[Value],
        marks: u64,
        session: &SessionSnapshot,
    ) -> Result<(Value, bool)> {
        let json_args = self.json_args | marks;
        let (imp, returns_json) = match self.imp {
            Some(imp) if args.len() == self.nargs => (imp, self.returns_json),
            _ => {
                let f = lookup(&self.name, args.len())?;
                (f.imp, f.returns_json)
            }
        };
        let (v, json) = run(imp, args, session, json_args)?;
        let json = json || (returns_json && matches!(v, Value::Text(_)));
        Ok((v, json))
    }
}

fn run(
    imp: Imp,
    args: &[Value],
    session: &SessionSnapshot,
    json_args: u64,
) -> Result<(Value, bool)> {
    match imp {
        Imp::Subtyped(f) => f(&Call {
            args,
            session,
            json_args,
        }),
        _ => run_plain(imp, args, session, json_args).map(|v| (v, false)),
    }
}

/// [`run`] without the result's mark.
fn run_plain(imp: Imp, args: &[Value], session: &SessionSnapshot, json_args: u64) -> Result<Value> {
    match imp {
        Imp::Pure(f) => f(args),
        Imp::WithCall(f) => f(&Call {
            args,
            session,
            json_args,
        }),
        Imp::Subtyped(f) => f(&Call {
            args,
            session,
            json_args,
        })
        .map(|(v, _)| v),
    }
}

/// Whether the function `name` compares its arguments, and so takes the
/// collating sequence of its first argument that has one (SQLite's
/// `SQLITE_FUNC_NEEDCOLL`: `min`, `max`, `nullif`).
pub fn needs_collation(name: &str) -> bool {
    ["min", "max", "nullif"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
}

/// Evaluates the scalar function `name` (case-insensitive) on `args`, as a
/// statement starting now in a fresh session would.
pub fn call_scalar(name: &str, args: &[Value]) -> Result<Value> {
    let f = lookup(name, args.len())?;
    run(f.imp, args, &SessionSnapshot::default(), 0).map(|(v, _)| v)
}
