//! WorkOS-compatible JWT templates: a JSON object with Liquid-style `{{ }}` tags that adds
//! custom claims to access tokens.
//!
//! The semantics follow the WorkOS documentation:
//! - A tag outside a JSON string literal (`"email": {{ user.email }}`) inserts the value as
//!   JSON, so strings stay strings and whole objects and arrays are allowed.
//! - A tag inside a string literal (`"{{ user.first_name }} {{ user.last_name }}"`) inserts the
//!   value as text; objects and arrays are an error there.
//! - `{{ a || b || 'Guest' }}` uses the first value that is not null or missing.
//! - A missing or null value renders as `null` outside strings and as nothing inside them.
//!
//! Supported tag syntax: `||` chains of variable paths (`user.metadata.tier`,
//! `organization.domains.0.domain`, `user.roles[1]`, `user.roles[-1]`, `user.roles.first`,
//! `user.roles.last`, `user.metadata["first name"]`) and literals (`'text'`, `"text"`, numbers,
//! `true`, `false`, `null`), with Liquid's whitespace control (`{{-`, `-}}`).
//! Filters (`| upcase`) and `{% %}` tags (conditionals, loops) are rejected, as are tags in the
//! position of an object key outside quotes; WorkOS documents none of them.
//!
//! # Variables
//!
//! A template is rendered against a context: a JSON object whose top-level keys are the
//! variables. This is the one list of them; [`sample_context`] mirrors it.
//!
//! | variable | value |
//! |---|---|
//! | `user` | The signed-in user as the API's User object: `id`, `email`, `email_verified`, `first_name`, `last_name`, `name`, `profile_picture_url`, `external_id`, `metadata.*`, `locale`, `last_sign_in_at`, `created_at`, `updated_at`. |
//! | `organization_id` | The session's organization ID, or null outside an organization. |
//! | `organization` | The session's organization (`id`, `name`, `external_id`, `metadata.*`, `domains`), or null. |
//! | `organization_membership` | The membership the session is in: `id`, `role` (the primary role's slug), `roles` (every slug), `permissions`; null outside an organization. |
//!
//! The evaluator knows no variable by name: it walks whatever JSON tree the caller passes.
//! A new variable is one more key in the context the caller builds (`service::tokens`), plus a
//! row here and an entry in [`sample_context`].
//!
//! # How it works
//!
//! [`JwtTemplate::parse`] splits the source into JSON text and tags, checks the template
//! statically (valid JSON once tags are filled in, no reserved claims; serde_json reports the
//! position of any error), and builds a tree of JSON nodes in which a tag is either a whole
//! value or a piece of a string.
//! [`JwtTemplate::render`] walks that tree and looks each tag up in the context, producing the
//! claims as JSON values directly: no template engine, and no JSON text to parse again.
//! Literals (numbers, booleans, strings without tags) are decoded once, at parse time.

use std::fmt::Write as _;

use serde_json::{Map, Value as Json};

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

/// Stands for a tag in the texts the JSON readers see: for each tag inside a string in the
/// skeleton check, for every tag in the tree builder (which writes the same character in the
/// template's own text as the escape `\ue000`).
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
    #[error(
        "The rendered claims are {size_bytes} bytes long, but the limit is {max_bytes} bytes; remove claims or shorten their values."
    )]
    ClaimsTooLarge { size_bytes: usize, max_bytes: usize },
    /// The tree builder rejected text the JSON check accepted: a bug, never the user's mistake.
    #[error("The template could not be compiled ({reason}); this is a bug in Gatehouse.")]
    Internal { reason: String },
}

/// A parsed and validated JWT template; parse once, render for every token.
#[derive(Clone)]
pub struct JwtTemplate {
    source: String,
    /// The template as a tree; tags refer to `tags` by index.
    root: Node,
    tags: Vec<Tag>,
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
        let root = build(&pieces)?;
        let tags = pieces
            .into_iter()
            .filter_map(|piece| match piece {
                Piece::Tag(tag) => Some(tag),
                Piece::Text(_) => None,
            })
            .collect();
        let template = JwtTemplate { source: source.to_owned(), root, tags };
        // Trial renders catch what the static checks cannot: objects inside strings and
        // static content that is already too large.
        template.render(&Json::Object(Map::new()))?;
        template.render(&sample_context())?;
        Ok(template)
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders claims for one token. `context` is a JSON object whose keys are the variables
    /// (see the module documentation). Reserved claims produced from data are dropped.
    pub fn render(&self, context: &Json) -> Result<Map<String, Json>, TemplateError> {
        let Json::Object(variables) = context else {
            return Err(TemplateError::InvalidContext);
        };
        let Json::Object(mut claims) = self.eval(&self.root, variables)? else {
            return Err(TemplateError::NotAnObject);
        };
        claims.retain(|key, _| !RESERVED_CLAIMS.contains(&key.as_str()));
        let size_bytes =
            serde_json::to_vec(&claims).map_err(|err| TemplateError::Internal { reason: err.to_string() })?.len();
        if size_bytes > MAX_CLAIMS_BYTES {
            return Err(TemplateError::ClaimsTooLarge { size_bytes, max_bytes: MAX_CLAIMS_BYTES });
        }
        Ok(claims)
    }

    fn eval(&self, node: &Node, variables: &Map<String, Json>) -> Result<Json, TemplateError> {
        Ok(match node {
            Node::Fixed(value) => value.clone(),
            Node::Tag(index) => self.tags[*index].value(variables).cloned().unwrap_or(Json::Null),
            Node::String(parts) => Json::String(self.text(parts, variables)?),
            Node::Array(items) => {
                Json::Array(items.iter().map(|item| self.eval(item, variables)).collect::<Result<_, _>>()?)
            }
            Node::Object(members) => {
                let mut object = Map::new();
                for (key, value) in members {
                    let key = self.text(key, variables)?;
                    object.insert(key, self.eval(value, variables)?);
                }
                Json::Object(object)
            }
        })
    }

    /// The text of a string literal, with each tag's value as text.
    fn text(&self, parts: &[Part], variables: &Map<String, Json>) -> Result<String, TemplateError> {
        let mut out = String::new();
        for part in parts {
            let tag = match part {
                Part::Text(text) => {
                    out.push_str(text);
                    continue;
                }
                Part::Tag(index) => &self.tags[*index],
            };
            match tag.value(variables) {
                None | Some(Json::Null) => {}
                Some(Json::String(s)) => out.push_str(s),
                Some(value @ (Json::Bool(_) | Json::Number(_))) => {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "{value}");
                }
                Some(Json::Array(_) | Json::Object(_)) => {
                    return Err(TemplateError::ObjectInString { tag: tag.source.clone() });
                }
            }
        }
        Ok(out)
    }
}

/// The template as a tree of JSON values.
#[derive(Clone, Debug)]
enum Node {
    /// A number, boolean, null or string without tags.
    Fixed(Json),
    /// A tag outside a string: its value is inserted as JSON.
    Tag(usize),
    /// A string literal with at least one tag.
    String(Vec<Part>),
    Array(Vec<Node>),
    /// Members in template order; a later duplicate key wins, as when JSON is parsed.
    Object(Vec<(Vec<Part>, Node)>),
}

/// A piece of a string literal.
#[derive(Clone, Debug)]
enum Part {
    Text(String),
    Tag(usize),
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

#[derive(Clone, Debug)]
struct Tag {
    /// Byte range of the whole tag, braces included.
    start: usize,
    end: usize,
    source: String,
    is_in_string: bool,
    alternatives: Vec<Alternative>,
}

#[derive(Clone, Debug)]
enum Alternative {
    Path(Vec<Segment>),
    Literal(Json),
}

#[derive(Clone, Debug)]
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

impl Tag {
    /// The first alternative that is a literal or a variable that is present and not null.
    fn value<'a>(&'a self, variables: &'a Map<String, Json>) -> Option<&'a Json> {
        self.alternatives.iter().find_map(|alternative| match alternative {
            Alternative::Literal(value) => Some(value),
            Alternative::Path(segments) => lookup(variables, segments).filter(|value| !value.is_null()),
        })
    }
}

/// Follows a variable path through the context, as Liquid looks variables up: a key or index on
/// an object is a key (`metadata.0` reads the key "0"); on an array an index counts from the end
/// when negative, a key that is a number is an index, and `first` and `last` name the ends.
/// Anything else, including any step below a string, number, boolean or null, is missing.
fn lookup<'a>(variables: &'a Map<String, Json>, segments: &[Segment]) -> Option<&'a Json> {
    let (first, rest) = segments.split_first()?;
    let mut value = field(variables, first)?;
    for segment in rest {
        value = match (value, segment) {
            (Json::Object(map), segment) => field(map, segment)?,
            (Json::Array(items), Segment::Index(index)) => item(items, *index)?,
            (Json::Array(items), Segment::Key(key)) => match (key.parse::<i64>(), key.as_str()) {
                (Ok(index), _) => item(items, index)?,
                (Err(_), "first") => items.first()?,
                (Err(_), "last") => items.last()?,
                (Err(_), _) => return None,
            },
            _ => return None,
        };
    }
    Some(value)
}

fn field<'a>(map: &'a Map<String, Json>, segment: &Segment) -> Option<&'a Json> {
    match segment {
        Segment::Key(key) => map.get(key),
        Segment::Index(index) => map.get(&index.to_string()),
    }
}

fn item(items: &[Json], index: i64) -> Option<&Json> {
    let from_start = if index < 0 { i64::try_from(items.len()).ok()? + index } else { index };
    items.get(usize::try_from(from_start).ok()?)
}

/// Builds the tree from the pieces. It reads them as one text in which [`MARKER`] stands for
/// each tag and the template's own text appears with whitespace control applied; the skeleton
/// check has already accepted the same structure, so an error here is a bug.
fn build(pieces: &[Piece]) -> Result<Node, TemplateError> {
    let mut text = String::new();
    let mut tag_count = 0;
    for piece in pieces {
        match piece {
            // A MARKER outside a string is not valid JSON, so any left in the text are inside one.
            Piece::Text(t) => text.push_str(&t.trimmed.replace(MARKER, "\\ue000")),
            Piece::Tag(_) => {
                text.push(MARKER);
                tag_count += 1;
            }
        }
    }
    let mut reader = Reader { text: &text, pos: 0, tags: 0 };
    let root = reader.value().map_err(|reason| TemplateError::Internal { reason })?;
    reader.skip_whitespace();
    if reader.pos != text.len() || reader.tags != tag_count {
        return Err(TemplateError::Internal { reason: "the template was not read to its end".to_owned() });
    }
    Ok(root)
}

/// A reader of JSON in which [`MARKER`] is a tag, as a whole value or inside a string.
struct Reader<'a> {
    text: &'a str,
    pos: usize,
    /// Tags read so far: the index of the next one.
    tags: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn skip_whitespace(&mut self) {
        while let Some(c @ (' ' | '\t' | '\n' | '\r')) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    /// Skips whitespace, then `wanted` if it comes next.
    fn eat(&mut self, wanted: char) -> bool {
        self.skip_whitespace();
        let is_next = self.peek() == Some(wanted);
        if is_next {
            self.pos += wanted.len_utf8();
        }
        is_next
    }

    fn expect(&mut self, wanted: char) -> Result<(), String> {
        match self.eat(wanted) {
            true => Ok(()),
            false => Err(format!("expected `{wanted}` at byte {}", self.pos)),
        }
    }

    fn tag(&mut self) -> usize {
        self.pos += MARKER.len_utf8();
        self.tags += 1;
        self.tags - 1
    }

    fn value(&mut self) -> Result<Node, String> {
        self.skip_whitespace();
        match self.peek() {
            Some(MARKER) => Ok(Node::Tag(self.tag())),
            Some('"') => {
                let parts = self.string()?;
                Ok(match parts.as_slice() {
                    [] => Node::Fixed(Json::String(String::new())),
                    [Part::Text(text)] => Node::Fixed(Json::String(text.clone())),
                    _ => Node::String(parts),
                })
            }
            Some('[') => Ok(Node::Array(self.list('[', ']', Reader::value)?)),
            Some('{') => Ok(Node::Object(self.list('{', '}', |reader| {
                let key = reader.string()?;
                reader.expect(':')?;
                Ok((key, reader.value()?))
            })?)),
            Some(_) => self.scalar(),
            None => Err("unexpected end".to_owned()),
        }
    }

    /// Reads `open`, items separated by commas, and `close`.
    fn list<T>(
        &mut self,
        open: char,
        close: char,
        mut item: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        self.expect(open)?;
        let mut items = Vec::new();
        if self.eat(close) {
            return Ok(items);
        }
        loop {
            items.push(item(self)?);
            if !self.eat(',') {
                self.expect(close)?;
                return Ok(items);
            }
        }
    }

    /// Reads a string literal into text and tag parts.
    fn string(&mut self) -> Result<Vec<Part>, String> {
        self.expect('"')?;
        let mut parts = Vec::new();
        let mut start = self.pos;
        loop {
            match self.peek() {
                None => return Err("a string is never closed".to_owned()),
                Some('\\') => {
                    self.pos += 1;
                    self.pos += self.peek().map_or(0, char::len_utf8);
                }
                Some(c @ ('"' | MARKER)) => {
                    push_part(&mut parts, &self.text[start..self.pos])?;
                    if c == '"' {
                        self.pos += 1;
                        return Ok(parts);
                    }
                    let index = self.tag();
                    parts.push(Part::Tag(index));
                    start = self.pos;
                }
                Some(c) => self.pos += c.len_utf8(),
            }
        }
    }

    /// Reads a number, `true`, `false` or `null`.
    fn scalar(&mut self) -> Result<Node, String> {
        let rest = &self.text[self.pos..];
        let end = rest.find([',', ']', '}', ' ', '\t', '\n', '\r']).unwrap_or(rest.len());
        let value: Json = serde_json::from_str(&rest[..end]).map_err(|err| format!("`{}`: {err}", &rest[..end]))?;
        self.pos += end;
        Ok(Node::Fixed(value))
    }
}

/// Decodes the raw text of a string literal between two tags (or a tag and a quote).
fn push_part(parts: &mut Vec<Part>, raw: &str) -> Result<(), String> {
    if raw.is_empty() {
        return Ok(());
    }
    let text: String = serde_json::from_str(&format!("\"{raw}\"")).map_err(|err| format!("string text: {err}"))?;
    parts.push(Part::Text(text));
    Ok(())
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

/// A context shaped like a real one (every variable of the module documentation), for the
/// trial render in [`JwtTemplate::parse`]: a tag that puts one of its objects inside a string is
/// rejected when the template is saved rather than when a token is issued.
fn sample_context() -> Json {
    serde_json::json!({
        "user": {
            "object": "user",
            "id": "user_01HZZZZZZZZZZZZZZZZZZZZZZZ",
            "email": "sample.user@example.com",
            "email_verified": true,
            "first_name": "Sample",
            "last_name": "User",
            "name": "Sample User",
            "profile_picture_url": null,
            "external_id": null,
            "metadata": {},
            "locale": null,
            "last_sign_in_at": "2025-01-01T00:00:00.000Z",
            "created_at": "2025-01-01T00:00:00.000Z",
            "updated_at": "2025-01-01T00:00:00.000Z"
        },
        "organization_id": "org_01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "organization": {
            "id": "org_01HZZZZZZZZZZZZZZZZZZZZZZZ",
            "name": "Sample Organization",
            "external_id": null,
            "metadata": {},
            "domains": []
        },
        "organization_membership": {
            "id": "om_01HZZZZZZZZZZZZZZZZZZZZZZZ",
            "role": "member",
            "roles": ["member"],
            "permissions": []
        }
    })
}

#[cfg(test)]
mod tests;
