//! The house rules of ARCHITECTURE.md, checked against the source tree (in the spirit of
//! rust-analyzer's tidy tests). Each test names one rule and fails with every breach as
//! `path:line: what is wrong`.
//!
//! The files are read as text: comments and the insides of string literals are blanked out
//! first (so a rule never matches prose), and code under `#[cfg(test)]` is known as test code.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The layers of `crates/gatehouse/src`, top to bottom. A module may use its own layer and the
/// layers below it, never one above.
const LAYERS: &[&[&str]] =
    &[&["cli"], &["server"], &["web"], &["service"], &["store"], &["domain"], &["crypto"], &["clock", "ids"]];

/// What a web surface (a directory of `src/web/`) may use besides itself and the shared web
/// module: the use cases and the types and time they speak in. Never the store, never another
/// surface.
const SURFACE_MAY_USE: &[&str] = &["service", "domain", "clock"];

/// Directories of `src/web/` that are shared modules, not surfaces: `wire` is the wire contract
/// (every JSON object and error code the API answers), which every surface may use.
const SHARED_WEB_DIRS: &[&str] = &["wire"];

/// What the wire contract may use besides itself: the values it shows. Never another web module
/// (they use it), the store or crypto.
const WIRE_MAY_USE: &[&str] = &["service", "domain", "clock"];

/// The only places that read the time of day or a monotonic instant directly, and why. Every
/// other "now" comes from the injected `Clock`.
const CLOCK_READS: &[(&str, &str, &str)] = &[
    ("crates/gatehouse/src/clock.rs", "SystemTime::now", "SystemClock, the one wall clock"),
    ("crates/gatehouse/src/web/middleware.rs", "Instant::now", "a request's duration in its log line"),
    ("crates/gatehouse/src/server.rs", "Instant::now", "start-up time in the ready log line"),
    ("crates/gatehouse/src/cli/migrate_store.rs", "Instant::now", "a store copy's progress lines and duration"),
    ("crates/gatehouse/src/store/housekeeping.rs", "Instant::now", "how long each purge batch held the writer"),
];

/// Ways of reading the clock that bypass `Clock`.
const CLOCK_CALLS: &[&str] =
    &["SystemTime::now", "Instant::now", "Utc::now", "Local::now", "OffsetDateTime::now_utc", "now_local"];

/// What `domain/` may not name: it does no IO. (`sqlx` only as `#[derive(sqlx::FromRow)]`.)
const IO_IN_DOMAIN: &[&str] = &[
    "tokio",
    "reqwest",
    "axum",
    "hyper",
    "tower",
    "lettre",
    "sqlx",
    "std::fs",
    "std::net",
    "std::process",
    "std::thread",
    "std::env",
    "std::io",
];

/// Source folders exempt from the unwrap rule, and why.
const UNWRAP_EXEMPT: &[(&str, &str)] = &[(
    "crates/gatehouse-bench/",
    "a measuring tool, not a server: its timed loops stop on a failure that cannot happen instead of carrying a Result",
)];

/// Where authorization codes are issued: the service that makes them, and the hosted flow's
/// one completion path.
const CODE_ISSUERS: &[&str] = &["crates/gatehouse/src/service/auth.rs", "crates/gatehouse/src/web/hosted/complete.rs"];

// ---- the rules ------------------------------------------------------------------------------

#[test]
fn every_rust_file_starts_with_a_module_comment() {
    let mut breaches = Vec::new();
    for file in workspace_rust_files() {
        if !file.text.starts_with("//!") {
            breaches.push(format!("{}:1: a file starts with a `//!` comment saying what it is for", file.path));
        }
    }
    report(breaches);
}

#[test]
fn no_unwrap_or_expect_outside_tests() {
    let mut breaches = Vec::new();
    let exempt = |f: &SourceFile| UNWRAP_EXEMPT.iter().any(|(dir, _)| f.path.starts_with(dir));
    for file in workspace_rust_files().into_iter().filter(|f| f.path.contains("/src/") && !exempt(f)) {
        for (line, text) in file.code_lines() {
            if file.is_test(line) {
                continue;
            }
            for call in panics(text) {
                breaches.push(format!("{}:{line}: `{call}` outside tests; return or handle the error", file.path));
            }
        }
    }
    report(breaches);
}

#[test]
fn sql_only_in_the_store() {
    let mut breaches = Vec::new();
    for file in server_files() {
        if file.module.first().map(String::as_str) == Some("store") {
            continue;
        }
        for (line, text) in file.code_lines() {
            if mentions(text, "sqlx") && !(file.in_domain() && is_row_derive(text)) {
                breaches.push(format!("{}:{line}: `sqlx` outside `store/`", file.path));
            }
        }
        for (line, literal) in &file.strings {
            if looks_like_sql(literal) {
                breaches.push(format!("{}:{line}: SQL outside `store/`: {:?}", file.path, shorten(literal)));
            }
        }
    }
    report(breaches);
}

#[test]
fn domain_does_no_io() {
    let mut breaches = Vec::new();
    for file in server_files().into_iter().filter(SourceFile::in_domain) {
        for (line, text) in file.code_lines() {
            for name in IO_IN_DOMAIN {
                if mentions(text, name) && !(*name == "sqlx" && is_row_derive(text)) {
                    breaches.push(format!("{}:{line}: `domain/` does no IO, so it does not use `{name}`", file.path));
                }
            }
        }
    }
    report(breaches);
}

#[test]
fn no_layer_uses_one_above_it() {
    let surfaces = web_surfaces();
    let mut breaches = Vec::new();
    for file in server_files() {
        let Some(own) = file.module.first() else { continue };
        let Some(own_rank) = rank(own) else {
            breaches.push(format!("{}:1: module `{own}` is not in the layer list of tests/tidy.rs", file.path));
            continue;
        };
        let own_surface = (own == "web").then(|| file.module.get(1)).flatten().filter(|m| surfaces.contains(*m));
        for (line, target) in file.uses() {
            let Some(top) = target.first() else { continue };
            let Some(target_rank) = rank(top) else { continue };
            let target_surface = (top == "web").then(|| target.get(1)).flatten().filter(|m| surfaces.contains(*m));
            let shown = format!("crate::{}", target.join("::"));
            if target_rank < own_rank {
                breaches.push(format!("{}:{line}: `{own}` is below `{top}`, so it must not use `{shown}`", file.path));
            } else if let Some(surface) = own_surface {
                let allowed = match (top.as_str(), target_surface) {
                    ("web", Some(other)) => other == surface,
                    ("web", None) => true,
                    (layer, _) => SURFACE_MAY_USE.contains(&layer),
                };
                if !allowed {
                    breaches.push(format!(
                        "{}:{line}: the `{surface}` surface uses only itself, the shared web module and {}; not `{shown}`",
                        file.path,
                        SURFACE_MAY_USE.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ")
                    ));
                }
            } else if own == "web" && file.module.get(1).map(String::as_str) == Some("wire") {
                let inside = top == "web" && target.get(1).map(String::as_str) == Some("wire");
                if !(inside || WIRE_MAY_USE.contains(&top.as_str()) || file.is_test(line)) {
                    breaches.push(format!(
                        "{}:{line}: the wire contract uses only itself and {}; not `{shown}`",
                        file.path,
                        WIRE_MAY_USE.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ")
                    ));
                }
            } else if own == "web" && file.module.len() > 1 {
                // The shared web module serves every surface and knows none of them (only
                // `web/mod.rs` assembles them), and the web layer never sees the store.
                if target_surface.is_some() || top == "store" {
                    breaches.push(format!("{}:{line}: the shared web module must not use `{shown}`", file.path));
                }
            }
        }
    }
    report(breaches);
}

#[test]
fn time_comes_from_the_clock() {
    let mut breaches = Vec::new();
    let mut used = BTreeSet::new();
    for file in server_files() {
        for (line, text) in file.code_lines() {
            if file.is_test(line) {
                continue;
            }
            for call in CLOCK_CALLS {
                if !text.contains(call) {
                    continue;
                }
                match CLOCK_READS.iter().find(|(path, allowed, _)| *path == file.path && allowed == call) {
                    Some(entry) => {
                        used.insert(*entry);
                    }
                    None => breaches.push(format!(
                        "{}:{line}: `{call}` outside the clock; take the time from `Core::now` (the injected `Clock`)",
                        file.path
                    )),
                }
            }
        }
    }
    for entry in CLOCK_READS.iter().filter(|e| !used.contains(e)) {
        breaches
            .push(format!("{}: the allowance for `{}` ({}) is no longer used; remove it", entry.0, entry.1, entry.2));
    }
    report(breaches);
}

#[test]
fn only_the_completion_path_issues_authorization_codes() {
    let mut breaches = Vec::new();
    for file in server_files() {
        if CODE_ISSUERS.contains(&file.path.as_str()) || file.module.first().map(String::as_str) == Some("store") {
            continue;
        }
        for (line, text) in file.code_lines() {
            for name in ["issue_authorization_code", "insert_auth_code"] {
                if mentions(text, name) {
                    breaches.push(format!(
                        "{}:{line}: `{name}`: hosted sign-ins get their code in `web/hosted/complete.rs` only",
                        file.path
                    ));
                }
            }
        }
    }
    report(breaches);
}

#[test]
fn libs_depend_on_nothing_in_crates() {
    let root = repo_root();
    let crate_names: BTreeSet<String> =
        subdirectories(&root.join("crates")).iter().filter_map(|dir| package_name(&dir.join("Cargo.toml"))).collect();
    let mut breaches = Vec::new();
    for lib in subdirectories(&root.join("libs")) {
        let manifest = lib.join("Cargo.toml");
        let Ok(text) = fs::read_to_string(&manifest) else { continue };
        let shown = relative(&root, &manifest);
        let mut in_dependencies = false;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(header) = line.strip_prefix('[') {
                let header = header.trim_end_matches(']');
                in_dependencies = header.ends_with("dependencies");
                // `[dependencies.gatehouse]`
                if let Some((table, name)) = header.rsplit_once('.')
                    && table.ends_with("dependencies")
                    && crate_names.contains(name.trim_matches('"'))
                {
                    breaches.push(format!("{shown}:{}: libs/ must not depend on `{name}` from crates/", i + 1));
                }
                continue;
            }
            if !in_dependencies {
                continue;
            }
            let name = line.split('=').next().unwrap_or_default().trim().trim_matches('"');
            let package = line.split("package").nth(1).and_then(|p| p.split('"').nth(1));
            let names_a_crate = crate_names.contains(name) || package.is_some_and(|p| crate_names.contains(p));
            if names_a_crate || (line.contains("path") && line.contains("crates/")) {
                breaches.push(format!("{shown}:{}: libs/ must not depend on anything in crates/: {line}", i + 1));
            }
        }
    }
    report(breaches);
}

// ---- reading the tree -------------------------------------------------------------------------

struct SourceFile {
    /// Relative to the repository root, with `/`.
    path: String,
    /// The module path inside `crates/gatehouse/src` (`["web", "hosted", "form"]`); empty
    /// elsewhere and for the crate root.
    module: Vec<String>,
    text: String,
    /// `text` with comments and the insides of string and char literals blanked (same lines).
    code: String,
    /// The contents of string literals, with their line numbers.
    strings: Vec<(usize, String)>,
    /// Lines (1-based) that belong to `#[cfg(test)]` items.
    test_lines: BTreeSet<usize>,
}

impl SourceFile {
    fn read(root: &Path, path: &Path) -> SourceFile {
        let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (code, strings) = mask(&text);
        // A file that starts `#![cfg(test)]` (a `tests.rs` beside its module) is test code throughout.
        let test_lines =
            if code.contains("#![cfg(test)]") { (1..=code.lines().count()).collect() } else { test_lines(&code) };
        SourceFile { path: relative(root, path), module: Vec::new(), text, code, strings, test_lines }
    }

    fn code_lines(&self) -> impl Iterator<Item = (usize, &str)> {
        self.code.lines().enumerate().map(|(i, l)| (i + 1, l))
    }

    fn is_test(&self, line: usize) -> bool {
        self.test_lines.contains(&line)
    }

    fn in_domain(&self) -> bool {
        self.module.first().map(String::as_str) == Some("domain")
    }

    /// Every module this file names through `crate::…` or `super::…`, resolved to a path from
    /// the crate root, with the line it is named on. A `{…}` group yields one path per item.
    fn uses(&self) -> Vec<(usize, Vec<String>)> {
        let bytes = self.code.as_bytes();
        let mut found = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let at_word = i == 0 || !is_ident(bytes[i - 1]);
            let base = if at_word && self.code[i..].starts_with("crate::") {
                i += "crate::".len();
                Some(Vec::new())
            } else if at_word && self.code[i..].starts_with("super::") {
                // A `mod.rs` is its directory's module; any other file is a module of its own.
                let mut base = self.module.clone();
                while self.code[i..].starts_with("super::") {
                    base.pop();
                    i += "super::".len();
                }
                Some(base)
            } else {
                None
            };
            let Some(base) = base else {
                i += 1;
                continue;
            };
            let line = self.code[..i].matches('\n').count() + 1;
            let (tails, end) = path_tails(&self.code, i);
            for tail in tails {
                let mut path = base.clone();
                path.extend(tail);
                found.push((line, path));
            }
            i = end.max(i + 1);
        }
        found
    }
}

/// The `.rs` files of the workspace's Rust packages, skipping build output and node modules.
fn workspace_rust_files() -> Vec<SourceFile> {
    let root = repo_root();
    let mut paths = Vec::new();
    for dir in ["crates", "libs", "examples"] {
        collect_rust_files(&root.join(dir), &mut paths);
    }
    paths.iter().map(|p| SourceFile::read(&root, p)).collect()
}

/// The server's source files, each with its module path.
fn server_files() -> Vec<SourceFile> {
    let root = repo_root();
    let src = root.join("crates/gatehouse/src");
    let mut paths = Vec::new();
    collect_rust_files(&src, &mut paths);
    paths
        .iter()
        .map(|p| {
            let mut file = SourceFile::read(&root, p);
            let inner = p.strip_prefix(&src).unwrap_or(p);
            let mut module: Vec<String> =
                inner.iter().map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned()).collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                module.pop();
            }
            file.module = module;
            file
        })
        .collect()
}

/// The surfaces: the directories of `src/web/`.
fn web_surfaces() -> BTreeSet<String> {
    subdirectories(&repo_root().join("crates/gatehouse/src/web"))
        .iter()
        .filter_map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|name| !SHARED_WEB_DIRS.contains(&name.as_str()))
        .collect()
}

fn collect_rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if path.is_dir() {
            if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                collect_rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

fn package_name(manifest: &Path) -> Option<String> {
    let text = fs::read_to_string(manifest).ok()?;
    let package = text.split("[package]").nth(1)?;
    let line = package.lines().find(|l| l.trim_start().starts_with("name"))?;
    line.split('"').nth(1).map(str::to_owned)
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|e| panic!("repo root: {e}"))
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

fn report(breaches: Vec<String>) {
    assert!(breaches.is_empty(), "{} breach(es) of ARCHITECTURE.md:\n{}\n", breaches.len(), breaches.join("\n"));
}

// ---- matching -----------------------------------------------------------------------------------

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `text` names `name` whole (`tokio` in `tokio::spawn`, `issue` in `core.issue(…)`; not
/// in `tokio_stream` or `my_tokio`).
fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].bytes().last();
        let after = text[at + name.len()..].bytes().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// `.unwrap()`, and `.expect("…")` with its message (a parser's own `expect(':')` is no panic).
fn panics(text: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    if text.contains(".unwrap()") {
        found.push(".unwrap()");
    }
    let expects = text.match_indices(".expect(").any(|(at, call)| {
        let argument = text[at + call.len()..].trim_start();
        argument.starts_with('"') || argument.starts_with("&format!") || argument.starts_with("format!")
    });
    if expects {
        found.push(".expect(");
    }
    found
}

/// `#[derive(…, sqlx::FromRow)]`: row mapping, declarative and IO-free.
fn is_row_derive(line: &str) -> bool {
    line.trim_start().starts_with("#[derive(") && line.matches("sqlx").count() == line.matches("sqlx::FromRow").count()
}

fn looks_like_sql(literal: &str) -> bool {
    let s = literal.trim_start();
    ["SELECT ", "INSERT INTO ", "DELETE FROM ", "CREATE TABLE ", "ALTER TABLE ", "DROP TABLE "]
        .iter()
        .any(|k| s.contains(k))
        || (s.starts_with("UPDATE ") && s.contains(" SET "))
}

fn shorten(s: &str) -> String {
    s.chars().take(60).collect()
}

/// The paths after `crate::` or `super::` at `start`: `web::api::x` gives one, `web::{api, y}`
/// one per item (each item's leading segments). Returns them and where the path ends.
fn path_tails(code: &str, start: usize) -> (Vec<Vec<String>>, usize) {
    let bytes = code.as_bytes();
    let mut segments = Vec::new();
    let mut i = start;
    loop {
        let from = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        if i > from {
            segments.push(code[from..i].to_owned());
        }
        if code[i..].starts_with("::{") {
            let group_start = i + 3;
            let mut depth = 1;
            let mut j = group_start;
            while j < bytes.len() && depth > 0 {
                match bytes[j] {
                    b'{' => depth += 1,
                    b'}' => depth -= 1,
                    _ => {}
                }
                j += 1;
            }
            let group = &code[group_start..j.saturating_sub(1)];
            let mut tails = Vec::new();
            let mut item_depth = 0;
            let mut item_start = 0;
            for (k, c) in group.char_indices().chain([(group.len(), ',')]) {
                match c {
                    '{' => item_depth += 1,
                    '}' => item_depth -= 1,
                    ',' if item_depth == 0 => {
                        let item = group[item_start..k].trim();
                        let lead: Vec<String> = item
                            .split("::")
                            .map(|s| s.trim().split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or(""))
                            .take_while(|s| !s.is_empty() && *s != "self")
                            .map(str::to_owned)
                            .collect();
                        let mut tail = segments.clone();
                        tail.extend(lead);
                        tails.push(tail);
                        item_start = k + 1;
                    }
                    _ => {}
                }
            }
            return (tails, j);
        }
        if code[i..].starts_with("::") && i + 2 < bytes.len() && is_ident(bytes[i + 2]) {
            i += 2;
            continue;
        }
        return (vec![segments], i);
    }
}

// ---- masking ------------------------------------------------------------------------------------

/// Blanks comments and the insides of string and char literals (keeping newlines, so lines
/// stay where they were) and returns the string literals' contents with their lines.
fn mask(text: &str) -> (String, Vec<(usize, String)>) {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut strings = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            continue;
        }
        // Raw strings: r"…", r#"…"#, br"…".
        let raw_at = if !prev_ident && c == 'r' && matches!(next, Some('"' | '#')) {
            Some(i + 1)
        } else if !prev_ident && c == 'b' && next == Some('r') && matches!(chars.get(i + 2), Some('"' | '#')) {
            Some(i + 2)
        } else {
            None
        };
        if let Some(mut j) = raw_at {
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) == Some(&'"') {
                out.extend(&chars[i..=j]);
                let start_line = line;
                let mut content = String::new();
                j += 1;
                while j < chars.len() {
                    if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                        break;
                    }
                    if chars[j] == '\n' {
                        line += 1;
                    }
                    content.push(chars[j]);
                    out.push(blank(chars[j]));
                    j += 1;
                }
                out.extend(&chars[j..(j + 1 + hashes).min(chars.len())]);
                strings.push((start_line, content));
                i = j + 1 + hashes;
                continue;
            }
        }
        if c == '"' {
            out.push('"');
            let start_line = line;
            let mut content = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    // A `\` at a line end continues the string: the newline is not content.
                    if chars[i + 1] == '\n' {
                        line += 1;
                        content.push(' ');
                    } else {
                        content.push(chars[i + 1]);
                    }
                    out.push(' ');
                    out.push(blank(chars[i + 1]));
                    i += 2;
                    continue;
                }
                if chars[i] == '\n' {
                    line += 1;
                }
                content.push(chars[i]);
                out.push(blank(chars[i]));
                i += 1;
            }
            if i < chars.len() {
                out.push('"');
                i += 1;
            }
            strings.push((start_line, content));
            continue;
        }
        // Char literals ('a', '\n', '\u{1F600}'); a lifetime ('a) is left alone.
        if c == '\'' {
            let end = if next == Some('\\') {
                // After the backslash and the escaped character (which may be a quote).
                (i + 3..chars.len().min(i + 12)).find(|&k| chars[k] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            if let Some(end) = end {
                out.push('\'');
                for _ in i + 1..end {
                    out.push(' ');
                }
                out.push('\'');
                i = end + 1;
                continue;
            }
        }
        if c == '\n' {
            line += 1;
        }
        out.push(c);
        i += 1;
    }
    (out, strings)
}

/// The lines of items under `#[cfg(test)]`: from the attribute to the end of the item it
/// applies to (its closing brace, or its `;`).
fn test_lines(code: &str) -> BTreeSet<usize> {
    let mut lines = BTreeSet::new();
    let bytes = code.as_bytes();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    for (at, _) in code.match_indices("#[cfg(test)]") {
        let mut i = at + "#[cfg(test)]".len();
        while i < bytes.len() && bytes[i] != b'{' && bytes[i] != b';' {
            i += 1;
        }
        let mut end = i;
        if i < bytes.len() && bytes[i] == b'{' {
            let mut depth = 0;
            while end < bytes.len() {
                match bytes[end] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                end += 1;
            }
        }
        lines.extend(line_of(at)..=line_of(end.min(code.len())));
    }
    lines
}

#[test]
fn the_reader_sees_code_not_prose() {
    let (code, strings) =
        mask("let a = \"SELECT 1 // no\"; // crate::web\nlet b = 'x'; let c = '\\''; /* sqlx */ r#\"q\"#;\n");
    assert_eq!(code.lines().count(), 2);
    assert!(!code.contains("SELECT") && !code.contains("crate::web") && !code.contains("sqlx"));
    assert!(code.contains("let b = ' '; let c = '  ';"), "{code}");
    assert_eq!(strings, vec![(1, "SELECT 1 // no".to_owned()), (2, "q".to_owned())]);
    let file = SourceFile {
        path: "x.rs".into(),
        module: vec!["web".into(), "hosted".into(), "form".into()],
        text: String::new(),
        code: "use super::error::X;\nuse crate::web::{api::y, AppState};\nuse super::super::super::store::Z;\n".into(),
        strings: Vec::new(),
        test_lines: BTreeSet::new(),
    };
    let uses: Vec<(usize, String)> = file.uses().into_iter().map(|(l, p)| (l, p.join("::"))).collect();
    assert_eq!(
        uses,
        [(1, "web::hosted::error::X"), (2, "web::api::y"), (2, "web::AppState"), (3, "store::Z")]
            .map(|(l, p)| (l, p.to_owned()))
    );
    assert!(mentions("tokio::spawn(x)", "tokio") && !mentions("tokio_stream::x", "tokio"));
    assert_eq!(panics(&mask("a.expect(\"no key\"); b.unwrap(); reader.expect(':')?;").0), [".unwrap()", ".expect("]);
    assert!(panics(&mask("reader.expect(':')?; reader.expect(close)?;").0).is_empty());
    assert!(mentions("state.core.issue_authorization_code(&env)", "issue_authorization_code"));
    assert_eq!(
        test_lines("fn a() {}\n#[cfg(test)]\nmod tests {\n  fn b() {}\n}\nfn c() {}\n"),
        BTreeSet::from([2, 3, 4, 5])
    );
}
