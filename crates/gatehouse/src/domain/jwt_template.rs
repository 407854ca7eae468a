//! WorkOS-compatible JWT templates: a JSON object with Liquid `{{ }}` tags that adds custom
//! claims to access tokens.
//!
//! The semantics follow the WorkOS documentation:
//! - A tag outside a JSON string literal (`"email": {{ user.email }}`) inserts the value as
//!   JSON, so strings are quoted and escaped and whole objects and arrays are allowed.
//! - A tag inside a string literal (`"{{ user.first_name }} {{ user.last_name }}"`) inserts the
//!   value as text, escaped so the string stays valid; objects and arrays are an error there.
//! - `{{ a || b || 'Guest' }}` uses the first value that is not null or missing.
//! - A missing or null value renders as `null` outside strings and as nothing inside them.
//!
//! How it works: [`JwtTemplate::parse`] splits the source into JSON text and tags, checks the
//! template statically (valid JSON once tags are filled in, no reserved claims), and compiles
//! it into plain Liquid once.
//! In that Liquid every tag becomes an `{% if %}` chain over a *mirror* of the context that
//! [`JwtTemplate::render`] builds per render: each JSON node becomes a Liquid object holding its
//! JSON text (`json`), its in-string text (`text`), a `container` flag and its children (`kids`).
//! Liquid therefore does the lookups and the fallback logic, while JSON encoding is done in Rust,
//! where it is exact.
//! The JSON text between tags is passed to Liquid as data too, so no template text is ever
//! parsed as Liquid.
//!
//! Supported tag syntax: `||` chains of variable paths (`user.metadata.tier`,
//! `organization.domains.0.domain`, `user.roles[1]`, `user.metadata["first name"]`) and
//! literals (`'text'`, `"text"`, numbers, `true`, `false`, `null`).
//! Liquid filters and `{% %}` tags are rejected, as are tags in the position of an object key
//! outside quotes.

use std::fmt::Write as _;

use serde_json::Value as Json;

/// Claims that Gatehouse always sets itself.
/// A template that sets one of these visibly is rejected by [`JwtTemplate::parse`]; one that
/// produces such a key from data (a tag inside a key) has that key dropped when rendering.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "sid",
    "iat",
    "exp",
    "nbf",
    "jti",
    "org_id",
    "role",
    "roles",
    "permissions",
    "entitlements",
    "feature_flags",
    "act",
    "auth_time",
];

/// Largest accepted template source.
const MAX_TEMPLATE_BYTES: usize = 16 * 1024;

/// Largest accepted rendered claims object, measured as compact JSON.
const MAX_CLAIMS_BYTES: usize = 8 * 1024;

/// Marks, in rendered output, a place where an object or array was put inside a string.
/// The same character in data or template text is always written as the escape `\ue000`.
const MARKER: char = '\u{E000}';

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("The template is {size_bytes} bytes long, but the limit is {max_bytes} bytes.")]
    TooLarge { size_bytes: usize, max_bytes: usize },
    #[error("The tag that starts at line {line}, column {column} is never closed; end it with `}}}}`.")]
    UnclosedTag { line: usize, column: usize },
    #[error(
        "The `{{%` tag at line {line}, column {column} is not supported; JWT templates only allow `{{{{ ... }}}}` tags."
    )]
    UnsupportedTag { line: usize, column: usize },
    #[error("The tag `{tag}` at line {line}, column {column} is not valid: {reason}")]
    InvalidTag { tag: String, line: usize, column: usize, reason: String },
    #[error("The template is not valid JSON at line {line}, column {column}: {reason}.")]
    InvalidJson { line: usize, column: usize, reason: String },
    #[error("The template must be a JSON object, such as {{\"urn:myapp:email\": {{{{ user.email }}}}}}.")]
    NotAnObject,
    #[error("The template sets the claim `{claim}`, which Gatehouse always sets itself; remove it from the template.")]
    ReservedClaim { claim: String },
    #[error(
        "The tag `{tag}` puts an object or array inside a string literal; remove the quotes around the tag to insert it as JSON."
    )]
    ObjectInString { tag: String },
    #[error("The template context must be a JSON object.")]
    InvalidContext,
    #[error("The rendered template is not a JSON object: {reason}.")]
    InvalidOutput { reason: String },
    #[error(
        "The rendered claims are {size_bytes} bytes long, but the limit is {max_bytes} bytes; remove claims or shorten their values."
    )]
    ClaimsTooLarge { size_bytes: usize, max_bytes: usize },
    #[error("The template engine failed: {message}.")]
    Engine { message: String },
}

/// A parsed and validated JWT template; parse once, render for every token.
#[derive(Clone)]
pub struct JwtTemplate {
    source: String,
    /// The compiled Liquid; shared because `liquid::Template` is not `Clone`.
    liquid: std::sync::Arc<liquid::Template>,
    /// Static strings the compiled Liquid prints by index: JSON text, literals and markers.
    texts: liquid::model::Value,
    /// The source of every tag, by index, for error messages.
    tags: Vec<String>,
}

impl std::fmt::Debug for JwtTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtTemplate").field("source", &self.source).finish_non_exhaustive()
    }
}

impl JwtTemplate {
    /// Parses and validates; errors name the problem in a sentence a user can act on.
    pub fn parse(source: &str) -> Result<JwtTemplate, TemplateError> {
        if source.len() > MAX_TEMPLATE_BYTES {
            return Err(TemplateError::TooLarge { size_bytes: source.len(), max_bytes: MAX_TEMPLATE_BYTES });
        }
        let pieces = split(source)?;
        check_skeleton(source, &pieces)?;
        let compiled = compile(&pieces);
        let parser = liquid::ParserBuilder::with_stdlib()
            .build()
            .map_err(|err| TemplateError::Engine { message: err.to_string() })?;
        let liquid =
            parser.parse(&compiled.liquid).map_err(|err| TemplateError::Engine { message: err.to_string() })?;
        let tags = pieces
            .iter()
            .filter_map(|piece| match piece {
                Piece::Tag(tag) => Some(tag.source.clone()),
                Piece::Text(_) => None,
            })
            .collect();
        let template = JwtTemplate {
            source: source.to_owned(),
            liquid: std::sync::Arc::new(liquid),
            texts: liquid::model::Value::array(compiled.texts.into_iter().map(liquid::model::Value::scalar)),
            tags,
        };
        // Trial renders catch what the static checks cannot: objects inside strings and
        // static content that is already too large.
        template.render(&Json::Object(serde_json::Map::new()))?;
        template.render(&sample_context())?;
        Ok(template)
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders claims for one token. `context` is a JSON object with keys `user` (the wire User
    /// object) and `organization_id` (string or null), and may grow later.
    /// Reserved claims produced from data are dropped.
    pub fn render(&self, context: &Json) -> Result<serde_json::Map<String, Json>, TemplateError> {
        if !context.is_object() {
            return Err(TemplateError::InvalidContext);
        }
        let mut globals = liquid::Object::new();
        globals.insert("ctx".into(), mirror(context).0);
        globals.insert("text".into(), self.texts.clone());
        let output = self.liquid.render(&globals).map_err(|err| TemplateError::Engine { message: err.to_string() })?;
        if let Some(index) = find_marker(&output) {
            let tag = self.tags.get(index).cloned().unwrap_or_default();
            return Err(TemplateError::ObjectInString { tag });
        }
        let value: Json =
            serde_json::from_str(&output).map_err(|err| TemplateError::InvalidOutput { reason: json_reason(&err) })?;
        let Json::Object(mut claims) = value else {
            return Err(TemplateError::NotAnObject);
        };
        claims.retain(|key, _| !RESERVED_CLAIMS.contains(&key.as_str()));
        let size_bytes =
            serde_json::to_vec(&claims).map_err(|err| TemplateError::Engine { message: err.to_string() })?.len();
        if size_bytes > MAX_CLAIMS_BYTES {
            return Err(TemplateError::ClaimsTooLarge { size_bytes, max_bytes: MAX_CLAIMS_BYTES });
        }
        Ok(claims)
    }
}

/// A run of template text or one `{{ }}` tag.
#[derive(Debug)]
enum Piece {
    Text(Text),
    Tag(Tag),
}

#[derive(Debug)]
struct Text {
    /// Byte range in the source.
    start: usize,
    end: usize,
    /// The text with whitespace control (`{{-`, `-}}`) applied.
    trimmed: String,
}

#[derive(Debug)]
struct Tag {
    /// Byte range of the whole tag, braces included.
    start: usize,
    end: usize,
    source: String,
    is_in_string: bool,
    alternatives: Vec<Alternative>,
}

#[derive(Debug)]
enum Alternative {
    Path(Vec<Segment>),
    Literal(Json),
}

#[derive(Debug)]
enum Segment {
    Key(String),
    Index(i64),
}

/// Splits the source into text and tags, tracking whether each tag sits inside a JSON string.
fn split(source: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut is_in_string = false;
    let mut is_escaped = false;
    let mut text_start = 0;
    let mut trim_next_text = false;
    let mut pos = 0;
    while pos < source.len() {
        let rest = &source[pos..];
        if rest.starts_with("{%") {
            let (line, column) = line_column(source, pos);
            return Err(TemplateError::UnsupportedTag { line, column });
        }
        if rest.starts_with("{{") {
            let end = tag_end(source, pos)?;
            let tag_source = &source[pos..end];
            let mut inner = &tag_source[2..tag_source.len() - 2];
            let trim_before = inner.starts_with('-');
            if trim_before {
                inner = &inner[1..];
            }
            let trim_after = inner.ends_with('-');
            if trim_after {
                inner = &inner[..inner.len() - 1];
            }
            push_text(&mut pieces, source, text_start, pos, trim_next_text, trim_before);
            let alternatives = parse_expression(inner).map_err(|reason| {
                let (line, column) = line_column(source, pos);
                TemplateError::InvalidTag { tag: tag_source.to_owned(), line, column, reason }
            })?;
            pieces.push(Piece::Tag(Tag { start: pos, end, source: tag_source.to_owned(), is_in_string, alternatives }));
            trim_next_text = trim_after;
            text_start = end;
            pos = end;
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        if is_in_string {
            if is_escaped {
                is_escaped = false;
            } else if c == '\\' {
                is_escaped = true;
            } else if c == '"' {
                is_in_string = false;
            }
        } else if c == '"' {
            is_in_string = true;
        }
        pos += c.len_utf8();
    }
    push_text(&mut pieces, source, text_start, source.len(), trim_next_text, false);
    Ok(pieces)
}

fn push_text(pieces: &mut Vec<Piece>, source: &str, start: usize, end: usize, trim_start: bool, trim_end: bool) {
    if start == end {
        return;
    }
    let mut trimmed = &source[start..end];
    if trim_start {
        trimmed = trimmed.trim_start();
    }
    if trim_end {
        trimmed = trimmed.trim_end();
    }
    pieces.push(Piece::Text(Text { start, end, trimmed: trimmed.to_owned() }));
}

/// Returns the byte offset just past the `}}` that closes the tag starting at `start`.
/// Quoted literals inside the tag may contain `}}`.
fn tag_end(source: &str, start: usize) -> Result<usize, TemplateError> {
    let mut quote = None;
    let mut pos = start + 2;
    while pos < source.len() {
        let rest = &source[pos..];
        let Some(c) = rest.chars().next() else { break };
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if rest.starts_with("}}") => return Ok(pos + 2),
            None => {}
        }
        pos += c.len_utf8();
    }
    let (line, column) = line_column(source, start);
    Err(TemplateError::UnclosedTag { line, column })
}

/// Parses the inside of a tag: `alternative (|| alternative)*`. Errors are sentences.
fn parse_expression(inner: &str) -> Result<Vec<Alternative>, String> {
    let mut parts = Vec::new();
    let mut quote = None;
    let mut part_start = 0;
    let mut chars = inner.char_indices().peekable();
    while let Some((pos, c)) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '|' => {
                if chars.next_if(|&(_, next)| next == '|').is_none() {
                    return Err(
                        "Liquid filters such as `| upcase` are not supported; use `||` for fallbacks.".to_owned()
                    );
                }
                parts.push(&inner[part_start..pos]);
                part_start = pos + 2;
            }
            None => {}
        }
    }
    if quote.is_some() {
        return Err("a quoted string is never closed.".to_owned());
    }
    parts.push(&inner[part_start..]);
    parts.into_iter().map(|part| parse_alternative(part.trim())).collect()
}

fn parse_alternative(text: &str) -> Result<Alternative, String> {
    let Some(first) = text.chars().next() else {
        return Err("it has an empty value; write a variable such as `user.email` or a quoted string.".to_owned());
    };
    if first == '\'' || first == '"' {
        let body = &text[1..];
        return match body.find(first) {
            Some(end) if end + 1 == body.len() => Ok(Alternative::Literal(Json::String(body[..end].to_owned()))),
            _ => Err(format!(
                "unexpected text after the quoted string {}.",
                &text[..body.find(first).map_or(text.len(), |end| end + 2)]
            )),
        };
    }
    match text {
        "true" => return Ok(Alternative::Literal(Json::Bool(true))),
        "false" => return Ok(Alternative::Literal(Json::Bool(false))),
        "null" | "nil" => return Ok(Alternative::Literal(Json::Null)),
        _ => {}
    }
    if first == '-' || first == '+' || first.is_ascii_digit() {
        let number = text.strip_prefix('+').unwrap_or(text);
        return match serde_json::from_str::<serde_json::Number>(number) {
            Ok(number) => Ok(Alternative::Literal(Json::Number(number))),
            Err(_) => Err(format!("`{text}` is neither a number nor a variable.")),
        };
    }
    parse_path(text).map(Alternative::Path)
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Parses `root(.key | .0 | [0] | ['key'] | ["key"])*`.
fn parse_path(text: &str) -> Result<Vec<Segment>, String> {
    let bad_char = |c: char| {
        let what = if c.is_whitespace() { "a space".to_owned() } else { format!("`{c}`") };
        format!(
            "`{text}` contains {what}, which is not allowed in a variable name; write `user.email`, `user.roles[0]` or `user.metadata[\"some key\"]`."
        )
    };
    let root_end = text.find(|c: char| !is_key_char(c)).unwrap_or(text.len());
    let root = &text[..root_end];
    if !root.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return Err(format!("`{text}` is not a variable; variables start with a letter, as in `user.email`."));
    }
    let mut segments = vec![Segment::Key(root.to_owned())];
    let mut rest = &text[root_end..];
    while let Some(c) = rest.chars().next() {
        if c == '.' {
            let end = rest[1..].find(|c: char| !is_key_char(c)).map_or(rest.len(), |end| end + 1);
            let key = &rest[1..end];
            if key.is_empty() {
                return Err(format!("`{text}` has an empty name after a dot."));
            }
            segments.push(match key.parse::<i64>() {
                Ok(index) if key.bytes().all(|b| b.is_ascii_digit()) => Segment::Index(index),
                _ => Segment::Key(key.to_owned()),
            });
            rest = &rest[end..];
        } else if c == '[' {
            let Some(close) = bracket_end(rest) else {
                return Err(format!("`{text}` has a `[` without a matching `]`."));
            };
            let inside = rest[1..close].trim();
            let quoted = inside
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .or_else(|| inside.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')));
            segments.push(match (quoted, inside.parse::<i64>()) {
                (Some(key), _) if inside.len() >= 2 => Segment::Key(key.to_owned()),
                (_, Ok(index)) => Segment::Index(index),
                _ => {
                    return Err(format!("`{text}` has `[{inside}]`; brackets must hold a number or a quoted key."));
                }
            });
            rest = &rest[close + 1..];
        } else {
            return Err(bad_char(c));
        }
    }
    Ok(segments)
}

/// Byte offset of the `]` closing the `[` at the start of `text`, skipping quoted keys.
fn bracket_end(text: &str) -> Option<usize> {
    let mut quote = None;
    for (pos, c) in text.char_indices().skip(1) {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == ']' => return Some(pos),
            None => {}
        }
    }
    None
}

/// Checks that the template is a JSON object once tags are filled in and that it sets no
/// reserved claim visibly.
/// Tags are replaced by fillers of the same byte length so positions in errors match the source.
fn check_skeleton(source: &str, pieces: &[Piece]) -> Result<(), TemplateError> {
    let mut skeleton = String::with_capacity(source.len());
    for piece in pieces {
        match piece {
            Piece::Text(text) => skeleton.push_str(&source[text.start..text.end]),
            Piece::Tag(tag) => {
                let (filler, mut len) =
                    if tag.is_in_string { (MARKER.to_string(), MARKER.len_utf8()) } else { ("null".to_owned(), 4) };
                skeleton.push_str(&filler);
                for c in source[tag.start..tag.end].chars() {
                    let width = c.len_utf8();
                    if len > 0 {
                        len = len.saturating_sub(width);
                        continue;
                    }
                    // A raw newline is not allowed inside a JSON string.
                    if c == '\n' && !tag.is_in_string {
                        skeleton.push('\n');
                    } else {
                        skeleton.extend(std::iter::repeat_n(' ', width));
                    }
                }
            }
        }
    }
    let value: Json = serde_json::from_str(&skeleton).map_err(|err| {
        let line = err.line();
        let column = char_column(source, line, err.column());
        TemplateError::InvalidJson { line, column, reason: json_reason(&err) }
    })?;
    let Json::Object(object) = value else {
        return Err(TemplateError::NotAnObject);
    };
    // Keys containing the marker come from tags; they are checked when rendering.
    if let Some(claim) = object.keys().find(|key| RESERVED_CLAIMS.contains(&key.as_str())) {
        return Err(TemplateError::ReservedClaim { claim: claim.clone() });
    }
    Ok(())
}

struct Compiled {
    liquid: String,
    texts: Vec<String>,
}

/// Turns the pieces into Liquid that reads everything it prints from `ctx` (the context mirror)
/// or `text` (static strings).
fn compile(pieces: &[Piece]) -> Compiled {
    let mut out = String::new();
    let mut texts: Vec<String> = Vec::new();
    let mut print = |out: &mut String, text: String| {
        let index = texts.len();
        texts.push(text);
        // Writing to a String cannot fail.
        let _ = write!(out, "{{{{ text[{index}] }}}}");
    };
    let mut tag_index = 0;
    for piece in pieces {
        let tag = match piece {
            Piece::Text(text) => {
                if !text.trimmed.is_empty() {
                    print(&mut out, text.trimmed.replace(MARKER, "\\ue000"));
                }
                continue;
            }
            Piece::Tag(tag) => tag,
        };
        let mut has_if = false;
        let mut has_else = false;
        for alternative in &tag.alternatives {
            let keyword = if has_if { "elsif" } else { "if" };
            match alternative {
                Alternative::Path(segments) => {
                    let path = liquid_path(segments);
                    if tag.is_in_string {
                        let _ = write!(out, "{{% {keyword} {path}.container %}}");
                        print(&mut out, format!("{MARKER}{tag_index}{MARKER}"));
                        let _ = write!(out, "{{% elsif {path}.json %}}{{{{ {path}.text }}}}");
                    } else {
                        let _ = write!(out, "{{% {keyword} {path}.json %}}{{{{ {path}.json }}}}");
                    }
                    has_if = true;
                }
                Alternative::Literal(value) => {
                    if has_if {
                        out.push_str("{% else %}");
                        has_else = true;
                    }
                    let mut text = String::new();
                    if tag.is_in_string {
                        push_text_of(&mut text, value);
                    } else {
                        push_json(&mut text, value);
                    }
                    print(&mut out, text);
                    // Later alternatives can never be reached.
                    break;
                }
            }
        }
        if has_if {
            if !has_else && !tag.is_in_string {
                out.push_str("{% else %}");
                print(&mut out, "null".to_owned());
            }
            out.push_str("{% endif %}");
        }
        tag_index += 1;
    }
    Compiled { liquid: out, texts }
}

/// The Liquid expression for the mirror node at `segments`.
fn liquid_path(segments: &[Segment]) -> String {
    let mut path = String::from("ctx");
    for segment in segments {
        match segment {
            // Keys come from `.name` or from a quoted key, so they never hold both quote kinds.
            Segment::Key(key) if key.contains('"') => {
                let _ = write!(path, ".kids['{key}']");
            }
            Segment::Key(key) => {
                let _ = write!(path, ".kids[\"{key}\"]");
            }
            Segment::Index(index) => {
                let _ = write!(path, ".kids[{index}]");
            }
        }
    }
    path
}

/// Builds the Liquid mirror of a JSON value and returns it with the value's JSON text.
/// A null becomes an empty object, so it looks the same as a missing value to the Liquid.
fn mirror(value: &Json) -> (liquid::model::Value, String) {
    use liquid::model::Value;
    let mut node = liquid::Object::new();
    let mut json = String::new();
    match value {
        Json::Null => return (Value::Object(node), "null".to_owned()),
        Json::Bool(_) | Json::Number(_) | Json::String(_) => {
            push_json(&mut json, value);
            let mut text = String::new();
            push_text_of(&mut text, value);
            node.insert("text".into(), Value::scalar(text));
        }
        Json::Array(items) => {
            let mut kids = Vec::with_capacity(items.len());
            json.push('[');
            for (i, item) in items.iter().enumerate() {
                let (kid, kid_json) = mirror(item);
                if i > 0 {
                    json.push(',');
                }
                json.push_str(&kid_json);
                kids.push(kid);
            }
            json.push(']');
            node.insert("kids".into(), Value::Array(kids));
            node.insert("container".into(), Value::scalar(true));
        }
        Json::Object(map) => {
            let mut kids = liquid::Object::new();
            json.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                let (kid, kid_json) = mirror(item);
                if i > 0 {
                    json.push(',');
                }
                push_json_string(&mut json, key);
                json.push(':');
                json.push_str(&kid_json);
                kids.insert(key.clone().into(), kid);
            }
            json.push('}');
            node.insert("kids".into(), Value::Object(kids));
            node.insert("container".into(), Value::scalar(true));
        }
    }
    node.insert("json".into(), Value::scalar(json.clone()));
    (Value::Object(node), json)
}

/// Appends `value` as JSON, escaping [`MARKER`] in strings.
/// Only scalars reach this today (tag literals and mirror leaves); containers are handled anyway.
fn push_json(out: &mut String, value: &Json) {
    match value {
        Json::String(s) => push_json_string(out, s),
        Json::Array(_) | Json::Object(_) => out.push_str(&mirror(value).1),
        Json::Null | Json::Bool(_) | Json::Number(_) => {
            let _ = write!(out, "{value}");
        }
    }
}

/// Appends `value` as it reads inside a JSON string literal, without the quotes.
fn push_text_of(out: &mut String, value: &Json) {
    match value {
        Json::Null => {}
        Json::String(s) => push_escaped(out, s),
        Json::Bool(_) | Json::Number(_) | Json::Array(_) | Json::Object(_) => {
            push_json(out, value);
        }
    }
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    push_escaped(out, s);
    out.push('"');
}

/// JSON string escaping; also escapes [`MARKER`] so data can never forge one.
fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' || c == MARKER => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// Returns the index of the tag whose marker appears in the output, if any.
fn find_marker(output: &str) -> Option<usize> {
    let (_, after) = output.split_once(MARKER)?;
    let (index, _) = after.split_once(MARKER)?;
    index.parse().ok()
}

/// serde_json's message without its " at line L column C" suffix.
fn json_reason(err: &serde_json::Error) -> String {
    let message = err.to_string();
    match message.rsplit_once(" at line ") {
        Some((reason, _)) => reason.to_owned(),
        None => message,
    }
}

/// 1-based line and character column of a byte offset.
fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |pos| pos + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Converts serde_json's 1-based byte column on `line` into a character column of the source.
fn char_column(source: &str, line: usize, byte_column: usize) -> usize {
    let Some(text) = source.split('\n').nth(line.saturating_sub(1)) else {
        return byte_column;
    };
    match text.get(..byte_column.saturating_sub(1)) {
        Some(prefix) => prefix.chars().count() + 1,
        None => byte_column,
    }
}

/// A context shaped like a real one, for the trial render in [`JwtTemplate::parse`].
fn sample_context() -> Json {
    serde_json::json!({
        "user": {
            "object": "user",
            "id": "user_01HZZZZZZZZZZZZZZZZZZZZZZZ",
            "email": "sample.user@example.com",
            "email_verified": true,
            "first_name": "Sample",
            "last_name": "User",
            "profile_picture_url": null,
            "external_id": null,
            "metadata": {},
            "last_sign_in_at": "2025-01-01T00:00:00.000Z",
            "created_at": "2025-01-01T00:00:00.000Z",
            "updated_at": "2025-01-01T00:00:00.000Z"
        },
        "organization_id": "org_01HZZZZZZZZZZZZZZZZZZZZZZZ"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `expected` is the rendered claims, or a fragment of the error message.
    #[track_caller]
    fn check(template: &str, context: &Json, expected: Result<Json, &str>) {
        let result = JwtTemplate::parse(template).and_then(|t| t.render(context));
        match (result, expected) {
            (Ok(claims), Ok(want)) => {
                assert_eq!(Json::Object(claims), want, "template: {template}")
            }
            (Err(err), Err(want)) => {
                let message = err.to_string();
                assert!(message.contains(want), "template: {template}\nerror: {message}\nwanted: {want}");
            }
            (got, want) => panic!("template: {template}\ngot: {got:?}\nwanted: {want:?}"),
        }
    }

    fn context() -> Json {
        json!({
            "user": {
                "object": "user",
                "id": "user_01",
                "email": "ada@example.com",
                "email_verified": false,
                "first_name": "Ada \"The Countess\"",
                "last_name": "Lovelace\\Byron\nKing",
                "profile_picture_url": null,
                "external_id": "",
                "metadata": {
                    "tier": "gold",
                    "count": 3,
                    "ratio": 0.5,
                    "flags": ["a", "b"],
                    "nested": {"x": [1, {"y": null}]},
                    "first name": "Ädä 😀",
                    "quote\"key": "q",
                    "weird}}key": "w",
                    "claim_name": "sub",
                    "marker": "\u{E000}0\u{E000}",
                    "0": "zero"
                },
                "created_at": "2025-01-01T00:00:00.000Z"
            },
            "organization_id": null,
            "organization": {"domains": [{"domain": "example.com"}, {"domain": "example.org"}]}
        })
    }

    #[test]
    fn values_outside_strings_are_json() {
        let ctx = context();
        let cases: &[(&str, Json)] = &[
            (r#"{"e": {{ user.email }}}"#, json!({"e": "ada@example.com"})),
            (r#"{"e": {{user.email}}}"#, json!({"e": "ada@example.com"})),
            (r#"{"n": {{ user.first_name }}}"#, json!({"n": "Ada \"The Countess\""})),
            (r#"{"n": {{ user.last_name }}}"#, json!({"n": "Lovelace\\Byron\nKing"})),
            (r#"{"v": {{ user.email_verified }}}"#, json!({"v": false})),
            (r#"{"c": {{ user.metadata.count }}}"#, json!({"c": 3})),
            (r#"{"r": {{ user.metadata.ratio }}}"#, json!({"r": 0.5})),
            (r#"{"p": {{ user.profile_picture_url }}}"#, json!({"p": null})),
            (r#"{"x": {{ user.external_id }}}"#, json!({"x": ""})),
            (r#"{"m": {{ user.metadata.missing }}}"#, json!({"m": null})),
            (r#"{"m": {{ nothing.at.all }}}"#, json!({"m": null})),
            (r#"{"m": {{ user.email.deeper }}}"#, json!({"m": null})),
            (r#"{"o": {{ organization_id }}}"#, json!({"o": null})),
            (r#"{"f": {{ user.metadata.flags }}}"#, json!({"f": ["a", "b"]})),
            (r#"{"n": {{ user.metadata.nested }}}"#, json!({"n": {"x": [1, {"y": null}]}})),
            (r#"{"u": {{ user.metadata["first name"] }}}"#, json!({"u": "Ädä 😀"})),
            (r#"{"q": {{ user.metadata['quote"key'] }}}"#, json!({"q": "q"})),
            (r#"{"w": {{ user.metadata["weird}}key"] }}}"#, json!({"w": "w"})),
            (r#"{"z": {{ user.metadata.0 }}}"#, json!({"z": "zero"})),
            (r#"{"list": [{{ user.email }}, {{ user.metadata.count }}]}"#, json!({"list": ["ada@example.com", 3]})),
            (r#"{"a": {"b": {{ user.metadata.tier }}}}"#, json!({"a": {"b": "gold"}})),
        ];
        for (template, want) in cases {
            check(template, &ctx, Ok(want.clone()));
        }
    }

    #[test]
    fn values_inside_strings_are_escaped_text() {
        let ctx = context();
        let cases: &[(&str, Json)] = &[
            (
                r#"{"name": "{{ user.first_name }} {{ user.last_name }}"}"#,
                json!({"name": "Ada \"The Countess\" Lovelace\\Byron\nKing"}),
            ),
            (r#"{"s": "n={{ user.metadata.count }}, v={{ user.email_verified }}"}"#, json!({"s": "n=3, v=false"})),
            (r#"{"s": "[{{ user.metadata.missing }}]"}"#, json!({"s": "[]"})),
            (r#"{"s": "[{{ user.profile_picture_url }}]"}"#, json!({"s": "[]"})),
            (r#"{"s": "{{ user.metadata["first name"] }}!"}"#, json!({"s": "Ädä 😀!"})),
            (r#"{"s": "\"{{ user.email }}\\"}"#, json!({"s": "\"ada@example.com\\"})),
            (r#"{"s": "{{ user.metadata.marker }}"}"#, json!({"s": "\u{E000}0\u{E000}"})),
            (r#"{"urn:{{ user.metadata.tier }}": 1}"#, json!({"urn:gold": 1})),
        ];
        for (template, want) in cases {
            check(template, &ctx, Ok(want.clone()));
        }
    }

    #[test]
    fn fallbacks_use_the_first_value_that_is_not_null_or_missing() {
        let ctx = context();
        let cases: &[(&str, Json)] = &[
            (r#"{"u": {{ user.metadata.nickname || user.email || 'Guest' }}}"#, json!({"u": "ada@example.com"})),
            (r#"{"u": {{ user.metadata.nickname || user.metadata.alias || 'Guest' }}}"#, json!({"u": "Guest"})),
            (r#"{"u": {{ user.metadata.nickname || "default" }}}"#, json!({"u": "default"})),
            (r#"{"u": {{ user.profile_picture_url || 'none' }}}"#, json!({"u": "none"})),
            // false and "" are values, not missing.
            (r#"{"u": {{ user.email_verified || true }}}"#, json!({"u": false})),
            (r#"{"u": {{ user.external_id || 'x' }}}"#, json!({"u": ""})),
            (r#"{"u": {{ user.metadata.nope || 42 }}}"#, json!({"u": 42})),
            (r#"{"u": {{ user.metadata.nope || -1.5 }}}"#, json!({"u": -1.5})),
            (r#"{"u": {{ user.metadata.nope || null }}}"#, json!({"u": null})),
            (r#"{"u": {{ user.metadata.nope || user.metadata.flags }}}"#, json!({"u": ["a", "b"]})),
            (r#"{"u": {{ 'first' || user.email }}}"#, json!({"u": "first"})),
            (r#"{"u": {{ user.metadata.nope || 'a "quoted" \ value' }}}"#, json!({"u": "a \"quoted\" \\ value"})),
            (r#"{"u": {{ user.metadata.nope || '}}' }}}"#, json!({"u": "}}"})),
            (r#"{"u": {{ user.metadata.nope || 'x || y' }}}"#, json!({"u": "x || y"})),
            (
                r#"{"full": "{{ user.metadata.nope || 'Someone' }} {{ user.metadata.tier || 'bronze' }}"}"#,
                json!({"full": "Someone gold"}),
            ),
            (r#"{"s": "{{ user.metadata.nope || 'say "hi"' }}"}"#, json!({"s": "say \"hi\""})),
            (r#"{"s": "{{ user.metadata.nope || 7 }}"}"#, json!({"s": "7"})),
            (r#"{"s": "{{ user.metadata.nope || user.metadata.also_nope }}"}"#, json!({"s": ""})),
        ];
        for (template, want) in cases {
            check(template, &ctx, Ok(want.clone()));
        }
    }

    #[test]
    fn array_indexes() {
        let ctx = context();
        let cases: &[(&str, Json)] = &[
            (r#"{"d": {{ organization.domains.0.domain }}}"#, json!({"d": "example.com"})),
            (r#"{"d": "{{ organization.domains.1.domain }}"}"#, json!({"d": "example.org"})),
            (r#"{"d": {{ organization.domains[1].domain }}}"#, json!({"d": "example.org"})),
            (r#"{"d": {{ organization.domains[-1].domain }}}"#, json!({"d": "example.org"})),
            (r#"{"d": {{ organization.domains.first.domain }}}"#, json!({"d": "example.com"})),
            (r#"{"d": {{ organization.domains.5.domain }}}"#, json!({"d": null})),
            (r#"{"f": {{ user.metadata.flags[ 0 ] }}}"#, json!({"f": "a"})),
            (r#"{"d": {{ organization.domains.0 }}}"#, json!({"d": {"domain": "example.com"}})),
        ];
        for (template, want) in cases {
            check(template, &ctx, Ok(want.clone()));
        }
    }

    #[test]
    fn objects_and_arrays_inside_strings_fail() {
        let ctx = context();
        let cases: &[(&str, &str)] = &[
            (
                r#"{"s": "{{ user.metadata.flags }}"}"#,
                "The tag `{{ user.metadata.flags }}` puts an object or array inside a string literal; remove the quotes around the tag to insert it as JSON.",
            ),
            (
                r#"{"s": "x {{ user.metadata.nope || user.metadata.nested }}"}"#,
                "`{{ user.metadata.nope || user.metadata.nested }}` puts an object",
            ),
            // Data that looks like the internal marker is not mistaken for one.
            (
                r#"{"a": "{{ user.metadata.marker }}", "s": "{{ user.metadata.flags }}"}"#,
                "`{{ user.metadata.flags }}` puts an object",
            ),
        ];
        for (template, want) in cases {
            check(template, &ctx, Err(want));
        }
        // Known to be an object from the shape of every context, so caught at parse time.
        let err = JwtTemplate::parse(r#"{"s": "{{ user.metadata }}"}"#).unwrap_err();
        assert!(matches!(err, TemplateError::ObjectInString { .. }), "{err}");
    }

    #[test]
    fn reserved_claims() {
        let ctx = context();
        for claim in RESERVED_CLAIMS {
            let template = format!(r#"{{"{claim}": "x"}}"#);
            check(
                &template,
                &ctx,
                Err(&format!(
                    "The template sets the claim `{claim}`, which Gatehouse always sets itself; remove it from the template."
                )),
            );
        }
        check(r#"{"a": 1, "sub": {{ user.email }}}"#, &ctx, Err("claim `sub`"));
        // A reserved claim produced from data is dropped instead.
        check(r#"{"{{ user.metadata.claim_name }}": "evil", "ok": 1}"#, &ctx, Ok(json!({"ok": 1})));
        // Only top-level keys are reserved, and `aud` is not reserved at all.
        check(r#"{"aud": "client_01ABC", "x": {"sub": 1}}"#, &ctx, Ok(json!({"aud": "client_01ABC", "x": {"sub": 1}})));
    }

    #[test]
    fn invalid_templates_are_rejected_at_parse_time() {
        let cases: &[(&str, &str)] = &[
            ("", "The template is not valid JSON at line 1, column 1: EOF while parsing a value."),
            (r#"{"a": {{ user.email }}"#, "not valid JSON"),
            ("{\"a\": 1,\n \"b\": x}", "The template is not valid JSON at line 2, column 7: expected value."),
            ("{\"ä\": {{ user.email }} x}", "at line 1, column 24"),
            (r#"{"a": "{{ user.email }}}"#, "not valid JSON"),
            (r#"{{{ user.email }}: 1}"#, "`{ user.email` is not a variable"),
            (r#"{ {{ user.email }}: 1}"#, "The template is not valid JSON at line 1, column 3: key must be a string."),
            (r#"{"a": {{ user.email }}{{ user.email }}}"#, "not valid JSON"),
            (r#"[{"a": 1}]"#, r#"The template must be a JSON object, such as {"urn:myapp:email": {{ user.email }}}."#),
            (r#""{{ user.email }}""#, "must be a JSON object"),
            ("{{ user }}", "must be a JSON object"),
            (r#"{"a": {{ user.email }"#, "The tag that starts at line 1, column 7 is never closed; end it with `}}`."),
            ("{\"a\":\n  {{ user.email || '}} }", "line 2, column 3 is never closed"),
            (r#"{"a": {% if user %}1{% endif %}}"#, "The `{%` tag at line 1, column 7 is not supported"),
            (
                r#"{"a": {{ user.email | upcase }}}"#,
                "The tag `{{ user.email | upcase }}` at line 1, column 7 is not valid: Liquid filters such as `| upcase` are not supported",
            ),
            (r#"{"a": {{ }}}"#, "has an empty value"),
            (r#"{"a": {{ user.email || }}}"#, "has an empty value"),
            (r#"{"a": {{ user.email || 'x }}}"#, "never closed"),
            (r#"{"a": {{ 'x' y }}}"#, "unexpected text after the quoted string 'x'."),
            (r#"{"a": {{ user email }}}"#, "`user email` contains a space, which is not allowed in a variable name"),
            (r#"{"a": {{ user..email }}}"#, "empty name after a dot"),
            (r#"{"a": {{ user.roles[ }}}"#, "without a matching `]`"),
            (r#"{"a": {{ user.roles[x] }}}"#, "brackets must hold a number or a quoted key"),
            (r#"{"a": {{ 1abc }}}"#, "`1abc` is neither a number nor a variable."),
            (r#"{"a": {{ user.email&&'x' }}}"#, "contains `&`"),
        ];
        for (template, want) in cases {
            check(template, &Json::Object(serde_json::Map::new()), Err(want));
        }
    }

    #[test]
    fn size_limits() {
        let ctx = context();
        let big = "x".repeat(MAX_TEMPLATE_BYTES);
        check(
            &format!(r#"{{"a": "{big}"}}"#),
            &ctx,
            Err("The template is 16393 bytes long, but the limit is 16384 bytes."),
        );
        // Within the template limit but over the claims limit, caught by the trial render.
        let medium = "x".repeat(MAX_CLAIMS_BYTES);
        check(
            &format!(r#"{{"a": "{medium}"}}"#),
            &ctx,
            Err("The rendered claims are 8200 bytes long, but the limit is 8192 bytes"),
        );
        // Over the claims limit only because of the data.
        let template = JwtTemplate::parse(r#"{"bio": {{ user.metadata.bio }}}"#).unwrap();
        let mut ctx = context();
        ctx["user"]["metadata"]["bio"] = json!("y".repeat(MAX_CLAIMS_BYTES));
        let err = template.render(&ctx).unwrap_err();
        assert!(matches!(err, TemplateError::ClaimsTooLarge { size_bytes: 8202, max_bytes: 8192 }), "{err}");
        // Escapes count towards the limit: 3000 newlines become 6000 bytes.
        ctx["user"]["metadata"]["bio"] = json!("\n".repeat(3000));
        assert!(template.render(&ctx).is_ok());
        ctx["user"]["metadata"]["bio"] = json!("\n".repeat(4100));
        assert!(matches!(template.render(&ctx), Err(TemplateError::ClaimsTooLarge { .. })));
    }

    #[test]
    fn whitespace_control_trims_like_liquid() {
        let ctx = context();
        check("{\"s\": \"a  {{- user.metadata.tier -}}  b\"}", &ctx, Ok(json!({"s": "agoldb"})));
        check("{\"s\": \"a  {{ user.metadata.tier -}}  b\"}", &ctx, Ok(json!({"s": "a  goldb"})));
        check("{\n  \"e\":\n    {{- user.email -}}\n}", &ctx, Ok(json!({"e": "ada@example.com"})));
    }

    #[test]
    fn parse_once_render_many() {
        let template = JwtTemplate::parse(
            r#"{"urn:myapp:full_name": "{{ user.first_name || 'Someone' }} {{ user.last_name || 'Unknown' }}", "urn:myapp:email": {{ user.email }}, "org": {{ organization_id }}}"#,
        )
        .unwrap();
        let cases: &[(Json, Json)] = &[
            (
                json!({"user": {"first_name": "Grace", "last_name": "Hopper", "email": "g@h.io"}, "organization_id": "org_1"}),
                json!({"urn:myapp:full_name": "Grace Hopper", "urn:myapp:email": "g@h.io", "org": "org_1"}),
            ),
            (
                json!({"user": {"first_name": null, "email": "x@y.z"}, "organization_id": null}),
                json!({"urn:myapp:full_name": "Someone Unknown", "urn:myapp:email": "x@y.z", "org": null}),
            ),
            (json!({}), json!({"urn:myapp:full_name": "Someone Unknown", "urn:myapp:email": null, "org": null})),
        ];
        for (ctx, want) in cases {
            assert_eq!(Json::Object(template.render(ctx).unwrap()), *want);
        }
        assert!(template.source().starts_with(r#"{"urn:myapp:full_name""#));
        let copy = template.clone();
        assert_eq!(copy.render(&json!({})).unwrap(), template.render(&json!({})).unwrap());
    }

    #[test]
    fn static_templates_and_template_text_pass_through() {
        let ctx = context();
        check(r#"{"aud": "client_01ABC"}"#, &ctx, Ok(json!({"aud": "client_01ABC"})));
        check("{}", &ctx, Ok(json!({})));
        check(
            r#"{"a": [1, 2.5, true, null, {"b": "c"}], "u": "\u00e9\n\"x\"\\"}"#,
            &ctx,
            Ok(json!({"a": [1, 2.5, true, null, {"b": "c"}], "u": "é\n\"x\"\\"})),
        );
        // Template text that looks like the internal marker stays plain text.
        check(
            "{\"m\": \"\u{E000}0\u{E000}\", \"s\": \"{{ user.email }}\"}",
            &ctx,
            Ok(json!({"m": "\u{E000}0\u{E000}", "s": "ada@example.com"})),
        );
        // A lone brace or percent sign is plain text, not a tag.
        check(r#"{"a": "{ } % }} {x}"}"#, &ctx, Ok(json!({"a": "{ } % }} {x}"})));
    }

    #[test]
    fn render_rejects_a_context_that_is_not_an_object() {
        let template = JwtTemplate::parse(r#"{"a": 1}"#).unwrap();
        for ctx in [json!(null), json!([]), json!("user")] {
            let err = template.render(&ctx).unwrap_err();
            assert_eq!(err.to_string(), "The template context must be a JSON object.");
        }
    }

    #[test]
    fn truncated_templates_never_panic() {
        let template =
            "{\"a\": {{- user.metadata[\"k]\"] || 'x\"}}' -}}, \"b\": \"\\\"{{ o.0[1] }}\u{E000}é\", \"c\": {% x %}}";
        let ctx = context();
        for (end, _) in template.char_indices() {
            if let Ok(parsed) = JwtTemplate::parse(&template[..end]) {
                let _ = parsed.render(&ctx);
            }
        }
    }

    #[test]
    fn template_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<JwtTemplate>();
    }
}
