//! The seed app's Convex functions, `convex/myFunctions.ts`, in Rust:
//!
//! ```ts
//! export const listNumbers = query({ args: { count: v.number() }, handler: async (ctx, args) => {
//!   const numbers = await ctx.db.query("numbers").order("desc").take(args.count);
//!   return { viewer: (await ctx.auth.getUserIdentity())?.name ?? null,
//!            numbers: numbers.reverse().map((number) => number.value) };
//! }});
//! export const addNumber = mutation({ args: { value: v.number() }, handler: async (ctx, args) => {
//!   const id = await ctx.db.insert("numbers", { value: args.value });
//!   console.log("Added new document with id:", id);
//! }});
//! ```
//!
//! Arguments are validated like Convex's `v.object({…: v.float64()})`, with its error texts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use gatehouse_verify::UserIdentity;
use serde_json::Value as Json;

use crate::storage::Storage;
use crate::values::Value;

/// The most numbers one `listNumbers` call returns.
pub const MAX_COUNT: u32 = 8192;

/// Query or mutation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Read-only, subscribable.
    Query,
    /// Writes.
    Mutation,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Query => "Query",
            Kind::Mutation => "Mutation",
        }
    }
}

/// The functions this backend has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// `myFunctions:listNumbers`.
    ListNumbers,
    /// `myFunctions:addNumber`.
    AddNumber,
}

impl Function {
    /// Looks up a path the way Convex canonicalises it (`module:function`, a `.js` suffix on the module
    /// dropped, `default` when there is no `:`).
    pub fn lookup(udf_path: &str) -> Option<Function> {
        let canonical = canonicalize(udf_path);
        match canonical.as_str() {
            "myFunctions:listNumbers" => Some(Function::ListNumbers),
            "myFunctions:addNumber" => Some(Function::AddNumber),
            _ => None,
        }
    }

    /// Whether it is a query or a mutation.
    pub fn kind(self) -> Kind {
        match self {
            Function::ListNumbers => Kind::Query,
            Function::AddNumber => Kind::Mutation,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Function::ListNumbers => "myFunctions:listNumbers",
            Function::AddNumber => "myFunctions:addNumber",
        }
    }
}

/// `module:function` with `.js` removed from the module, as `convex-js` `canonicalizeUdfPath` does.
pub fn canonicalize(udf_path: &str) -> String {
    let (module, function) = match udf_path.rsplit_once(':') {
        Some((m, f)) => (m, f),
        None => (udf_path, "default"),
    };
    format!("{}:{function}", module.strip_suffix(".js").unwrap_or(module))
}

/// A successful run.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The return value.
    pub value: Value,
    /// `console.log` output, Convex style (`[LOG] 'text'`).
    pub log_lines: Vec<String>,
    /// The commit timestamp, for mutations that wrote.
    pub write_ts: Option<u64>,
}

/// A function error: the message the client sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionError(pub String);

impl From<sqlx::Error> for FunctionError {
    fn from(e: sqlx::Error) -> FunctionError {
        tracing::error!(error = %e, "database error");
        FunctionError("Server Error".into())
    }
}

/// Finds `udf_path`, checks it is a `kind`, decodes the arguments (an object or a one-element array of
/// one, Convex-encoded JSON) and runs it with `identity` (`None` = not signed in).
pub async fn call(
    storage: &Storage,
    kind: Kind,
    udf_path: &str,
    args: &Json,
    identity: Option<&UserIdentity>,
) -> Result<Outcome, FunctionError> {
    let function = Function::lookup(udf_path).ok_or_else(|| {
        FunctionError(format!(
            "Could not find public function for '{}'. Did you forget to run `npx convex dev` or `npx convex deploy`?",
            canonicalize(udf_path)
        ))
    })?;
    if function.kind() != kind {
        return Err(FunctionError(format!(
            "Trying to execute {} as {}, but it is defined as {}.",
            function.path(),
            kind.name(),
            function.kind().name()
        )));
    }
    let args = decode_args(args)?;
    match function {
        Function::ListNumbers => {
            let count = number_arg(&args, "count")?;
            list_numbers(storage, count, identity).await
        }
        Function::AddNumber => {
            let value = number_arg(&args, "value")?;
            add_number(storage, value).await
        }
    }
}

fn decode_args(args: &Json) -> Result<BTreeMap<String, Value>, FunctionError> {
    let object = match args {
        Json::Array(items) if items.len() == 1 => &items[0],
        Json::Array(_) => {
            return Err(FunctionError("Expected a single argument object, got an array of a different length.".into()));
        }
        other => other,
    };
    match Value::from_convex_json(object).map_err(FunctionError)? {
        Value::Object(map) => Ok(map),
        other => Err(FunctionError(format!("Expected args to be an object, got {}", display(&other)))),
    }
}

/// Validates `args` against `v.object({<field>: v.float64()})` and returns the number.
fn number_arg(args: &BTreeMap<String, Value>, field: &str) -> Result<f64, FunctionError> {
    let validator = format!("v.object({{{field}: v.float64()}})");
    let object = display(&Value::Object(args.clone()));
    if let Some(extra) = args.keys().find(|k| k.as_str() != field) {
        return Err(FunctionError(format!(
            "ArgumentValidationError: Object contains extra field `{extra}` that is not in the validator.\n\nObject: {object}\nValidator: {validator}"
        )));
    }
    match args.get(field) {
        Some(Value::Float64(f)) => Ok(*f),
        Some(other) => Err(FunctionError(format!(
            "ArgumentValidationError: Value does not match validator.\nPath: .{field}\nValue: {}\nValidator: v.float64()",
            display(other)
        ))),
        None => Err(FunctionError(format!(
            "ArgumentValidationError: Object is missing the required field `{field}`. Consider wrapping the field validator in `v.optional(...)` if this is expected.\n\nObject: {object}\nValidator: {validator}"
        ))),
    }
}

async fn list_numbers(
    storage: &Storage,
    count: f64,
    identity: Option<&UserIdentity>,
) -> Result<Outcome, FunctionError> {
    if !count.is_finite() || count < 0.0 {
        return Err(FunctionError(format!(
            "Uncaught Error: take() requires a non-negative finite number, got {count}"
        )));
    }
    // Saturating float-to-int conversion, capped.
    let take = (count.floor() as u32).min(MAX_COUNT);
    let mut numbers = storage.find_latest_numbers(take).await?;
    numbers.reverse();
    let viewer = identity.and_then(|i| i.get("name")).map_or(Value::Null, Value::from_plain_json);
    let mut result = BTreeMap::new();
    result.insert("viewer".to_owned(), viewer);
    result.insert("numbers".to_owned(), Value::Array(numbers.into_iter().map(Value::Float64).collect()));
    Ok(Outcome { value: Value::Object(result), log_lines: vec![], write_ts: None })
}

async fn add_number(storage: &Storage, value: f64) -> Result<Outcome, FunctionError> {
    let (id, ts) = storage.insert_number(value).await?;
    Ok(Outcome {
        value: Value::Null,
        log_lines: vec![format!("[LOG] 'Added new document with id:' 'numbers|{id}'")],
        write_ts: Some(ts),
    })
}

/// Convex's display of a value in validation errors: `{count: 10.0}`, `"text"`, `[1.0, 2.0]`.
fn display(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Null => out.push_str("null"),
        Value::Int64(i) => {
            let _ = write!(out, "{i}n");
        }
        Value::Float64(f) if f.fract() == 0.0 && f.is_finite() => {
            let _ = write!(out, "{f:.1}");
        }
        Value::Float64(f) => {
            let _ = write!(out, "{f}");
        }
        Value::Boolean(b) => {
            let _ = write!(out, "{b}");
        }
        Value::String(s) => out.push_str(&Json::String(s.clone()).to_string()),
        Value::Bytes(b) => {
            let _ = write!(out, "Bytes(len={})", b.len());
        }
        Value::Array(items) => {
            out.push('[');
            out.push_str(&items.iter().map(display).collect::<Vec<_>>().join(", "));
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            out.push_str(&map.iter().map(|(k, v)| format!("{k}: {}", display(v))).collect::<Vec<_>>().join(", "));
            out.push('}');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    async fn storage() -> Storage {
        Storage::open("sqlite::memory:").await.unwrap()
    }

    fn numbers(outcome: &Outcome) -> Json {
        outcome.value.to_convex_json()["numbers"].clone()
    }

    #[test]
    fn canonicalizes_paths() {
        assert_eq!(canonicalize("myFunctions:listNumbers"), "myFunctions:listNumbers");
        assert_eq!(canonicalize("myFunctions.js:listNumbers"), "myFunctions:listNumbers");
        assert_eq!(canonicalize("myFunctions"), "myFunctions:default");
        assert_eq!(Function::lookup("myFunctions.js:addNumber"), Some(Function::AddNumber));
        assert_eq!(Function::lookup("other:addNumber"), None);
    }

    #[tokio::test]
    async fn list_numbers_returns_the_last_count_oldest_first_and_null_viewer() {
        let s = storage().await;
        let empty = call(&s, Kind::Query, "myFunctions:listNumbers", &json!([{"count": 3}]), None).await.unwrap();
        assert_eq!(empty.value.to_convex_json(), json!({"viewer": null, "numbers": []}));
        for v in [1.0, 2.0, 3.0, 4.5] {
            let out = call(&s, Kind::Mutation, "myFunctions:addNumber", &json!({"value": v}), None).await.unwrap();
            assert_eq!(out.value, Value::Null);
            assert!(out.write_ts.is_some());
            assert_eq!(out.log_lines.len(), 1);
        }
        let out = call(&s, Kind::Query, "myFunctions:listNumbers", &json!({"count": 3}), None).await.unwrap();
        assert_eq!(numbers(&out), json!([2, 3, 4.5]));
        let all = call(&s, Kind::Query, "myFunctions:listNumbers", &json!([{"count": 10}]), None).await.unwrap();
        assert_eq!(numbers(&all), json!([1, 2, 3, 4.5]));
    }

    #[tokio::test]
    async fn validates_arguments_like_convex() {
        let s = storage().await;
        let missing = call(&s, Kind::Query, "myFunctions:listNumbers", &json!([{}]), None).await.unwrap_err();
        assert_eq!(
            missing.0,
            "ArgumentValidationError: Object is missing the required field `count`. Consider wrapping the field validator in `v.optional(...)` if this is expected.\n\nObject: {}\nValidator: v.object({count: v.float64()})"
        );
        let wrong =
            call(&s, Kind::Query, "myFunctions:listNumbers", &json!([{"count": "ten"}]), None).await.unwrap_err();
        assert_eq!(
            wrong.0,
            "ArgumentValidationError: Value does not match validator.\nPath: .count\nValue: \"ten\"\nValidator: v.float64()"
        );
        let bigint =
            call(&s, Kind::Mutation, "myFunctions:addNumber", &json!([{"value": {"$integer": "AQAAAAAAAAA="}}]), None)
                .await
                .unwrap_err();
        assert!(bigint.0.contains("Value: 1n"), "{}", bigint.0);
        let extra =
            call(&s, Kind::Query, "myFunctions:listNumbers", &json!({"count": 1, "x": true}), None).await.unwrap_err();
        assert!(extra.0.starts_with("ArgumentValidationError: Object contains extra field `x`"), "{}", extra.0);
        assert!(extra.0.contains("Object: {count: 1.0, x: true}"), "{}", extra.0);
    }

    #[tokio::test]
    async fn rejects_unknown_functions_and_wrong_kinds() {
        let s = storage().await;
        let unknown = call(&s, Kind::Query, "myFunctions:nope", &json!({}), None).await.unwrap_err();
        assert_eq!(
            unknown.0,
            "Could not find public function for 'myFunctions:nope'. Did you forget to run `npx convex dev` or `npx convex deploy`?"
        );
        let kind = call(&s, Kind::Query, "myFunctions:addNumber", &json!({"value": 1}), None).await.unwrap_err();
        assert_eq!(kind.0, "Trying to execute myFunctions:addNumber as Query, but it is defined as Mutation.");
    }
}
