//! The house rules of ARCHITECTURE.md, checked against the source tree (in the spirit of
//! rust-analyzer's tidy tests). Each rule is a function from source files to its breaches, as
//! `path:line: what is wrong`; one test runs it on the tree, and one runs it on an in-memory
//! file that breaks it, so every rule is shown to fail.
//!
//! The files are read as text: comments and the insides of string literals are blanked out
//! first (so a rule never matches prose), and code under `#[cfg(test)]` is known as test code.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The server's sources, whose files have a module path (`src/web/hosted/form.rs` is
/// `web::hosted::form`).
const SERVER_SRC: &str = "crates/gatehouse/src/";

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

/// Crates `domain/` may not name: it does no IO. (`sqlx` only as `#[derive(sqlx::FromRow)]`.)
const IO_IN_DOMAIN: &[&str] = &["tokio", "reqwest", "axum", "hyper", "tower", "lettre", "sqlx"];

/// Modules of `std` that `domain/` may not name, however the path is written (`std::fs::read`,
/// `use std::{fs, io}`).
const IO_IN_STD: &[&str] = &["fs", "net", "process", "thread", "env", "io"];

/// Source folders exempt from the unwrap rule, and why.
const UNWRAP_EXEMPT: &[(&str, &str)] = &[(
    "crates/gatehouse-bench/",
    "a measuring tool, not a server: its timed loops stop on a failure that cannot happen instead of carrying a Result",
)];

/// The names that make an authorization code: the service's entry point, its variant that also
/// records an impersonator, and the store's insert.
const CODE_CALLS: &[&str] = &["issue_authorization_code", "issue_code_as", "insert_auth_code"];

/// Where authorization codes are issued, and why there. (`store/`, which writes the row, is not
/// listed: it decides nothing.)
const CODE_ISSUERS: &[(&str, &str)] = &[
    ("crates/gatehouse/src/service/auth.rs", "the service that makes a code for a finished sign-in"),
    ("crates/gatehouse/src/web/hosted/complete.rs", "the one way a hosted sign-in ends, after its step-ups"),
    (
        "crates/gatehouse/src/service/impersonation.rs",
        "an impersonation is no sign-in: the operator's grant stands in for every factor and step-up, so the app's \
         `/authorize` that spends the grant gets its code (with the impersonator) here, not from a completed sign-in",
    ),
];

// ---- the rules, each over source files ---------------------------------------------------------

/// Every Rust file starts with a `//!` comment.
fn module_comments(files: &[SourceFile]) -> Vec<String> {
    files
        .iter()
        .filter(|f| !f.text.starts_with("//!"))
        .map(|f| format!("{}:1: a file starts with a `//!` comment saying what it is for", f.path))
        .collect()
}

/// No `unwrap()` or `expect("…")` in the non-test code of a package's `src/`.
fn unwraps(files: &[SourceFile]) -> Vec<String> {
    let mut breaches = Vec::new();
    let exempt = |f: &SourceFile| UNWRAP_EXEMPT.iter().any(|(dir, _)| f.path.starts_with(dir));
    for file in files.iter().filter(|f| f.path.contains("/src/") && !exempt(f)) {
        for (line, text) in file.code_lines() {
            if file.is_test(line) {
                continue;
            }
            for call in panics(text) {
                breaches.push(format!("{}:{line}: `{call}` outside tests; return or handle the error", file.path));
            }
        }
    }
    breaches
}

/// No `sqlx` and no SQL text outside `store/` (`domain/` may derive `sqlx::FromRow`).
fn sql_outside_store(files: &[SourceFile]) -> Vec<String> {
    let mut breaches = Vec::new();
    for file in files.iter().filter(|f| f.in_server() && f.top() != Some("store")) {
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
    breaches
}

/// `domain/` names no IO crate and no IO module of `std`.
fn io_in_domain(files: &[SourceFile]) -> Vec<String> {
    let mut breaches = Vec::new();
    for file in files.iter().filter(|f| f.in_domain()) {
        let mut found = Vec::new();
        for (line, text) in file.code_lines() {
            for name in IO_IN_DOMAIN {
                if mentions(text, name) && !(*name == "sqlx" && is_row_derive(text)) {
                    found.push((line, (*name).to_owned()));
                }
            }
        }
        for (line, path) in file.paths_after("std::") {
            if let Some(module) = path.first().filter(|m| IO_IN_STD.contains(&m.as_str())) {
                found.push((line, format!("std::{module}")));
            }
        }
        found.sort();
        found.dedup();
        for (line, name) in found {
            breaches.push(format!("{}:{line}: `domain/` does no IO, so it does not use `{name}`", file.path));
        }
    }
    breaches
}

/// No module uses a layer above its own; a web surface uses only itself, the shared web module
/// and `SURFACE_MAY_USE`; the wire contract only itself and `WIRE_MAY_USE`; the shared web
/// module names no surface, and no web file names the store.
fn layer_breaches(files: &[SourceFile]) -> Vec<String> {
    let surfaces = web_surfaces(files);
    let mut breaches = Vec::new();
    for file in files.iter().filter(|f| f.in_server()) {
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
            } else if own == "web" && top == "store" {
                // `web/mod.rs` included: the web layer reaches the store only through services.
                breaches.push(format!("{}:{line}: the web layer never uses the store; not `{shown}`", file.path));
            } else if own == "web" && file.module.len() > 1 && target_surface.is_some() {
                // The shared web module serves every surface and knows none of them (only
                // `web/mod.rs` assembles them).
                breaches.push(format!("{}:{line}: the shared web module must not use `{shown}`", file.path));
            }
        }
    }
    breaches
}

/// No clock read outside `allowances` (path, call, reason), and no allowance left unused.
fn clock_breaches(files: &[SourceFile], allowances: &[(&str, &str, &str)]) -> Vec<String> {
    let mut breaches = Vec::new();
    let mut used = BTreeSet::new();
    for file in files.iter().filter(|f| f.in_server()) {
        for (line, text) in file.code_lines() {
            if file.is_test(line) {
                continue;
            }
            for call in CLOCK_CALLS {
                if !text.contains(call) {
                    continue;
                }
                match allowances.iter().position(|(path, allowed, _)| *path == file.path && allowed == call) {
                    Some(entry) => {
                        used.insert(entry);
                    }
                    None => breaches.push(format!(
                        "{}:{line}: `{call}` outside the clock; take the time from `Core::now` (the injected `Clock`)",
                        file.path
                    )),
                }
            }
        }
    }
    for (i, (path, call, why)) in allowances.iter().enumerate() {
        if !used.contains(&i) {
            breaches.push(format!("{path}: the allowance for `{call}` ({why}) is no longer used; remove it"));
        }
    }
    breaches
}

/// Authorization codes are made only in `issuers` (path, reason); an issuer that no longer
/// makes one loses its place.
fn code_breaches(files: &[SourceFile], issuers: &[(&str, &str)]) -> Vec<String> {
    let mut breaches = Vec::new();
    let mut used = BTreeSet::new();
    for file in files.iter().filter(|f| f.in_server() && f.top() != Some("store")) {
        let issuer = issuers.iter().position(|(path, _)| *path == file.path);
        for (line, text) in file.code_lines() {
            for name in CODE_CALLS.iter().filter(|name| mentions(text, name)) {
                match issuer {
                    Some(i) => {
                        used.insert(i);
                    }
                    None => breaches.push(format!(
                        "{}:{line}: `{name}` issues an authorization code: hosted sign-ins get theirs in \
                         `web/hosted/complete.rs` only (other issuers are listed in tests/tidy.rs with a reason)",
                        file.path
                    )),
                }
            }
        }
    }
    for (i, (path, why)) in issuers.iter().enumerate() {
        if !used.contains(&i) {
            breaches.push(format!("{path}: the code issuer allowance ({why}) is no longer used; remove it"));
        }
    }
    breaches
}

/// No manifest under `libs/` depends on a package of `crates/` (`crate_names`), by name or path.
fn libs_breaches(manifests: &[(String, String)], crate_names: &BTreeSet<String>) -> Vec<String> {
    let mut breaches = Vec::new();
    for (shown, text) in manifests {
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
    breaches
}

// ---- the rules on the tree ---------------------------------------------------------------------

#[test]
fn every_rust_file_starts_with_a_module_comment() {
    report(module_comments(&workspace_rust_files()));
}

#[test]
fn no_unwrap_or_expect_outside_tests() {
    report(unwraps(&workspace_rust_files()));
}

#[test]
fn sql_only_in_the_store() {
    report(sql_outside_store(&server_files()));
}

#[test]
fn domain_does_no_io() {
    report(io_in_domain(&server_files()));
}

#[test]
fn no_layer_uses_one_above_it() {
    report(layer_breaches(&server_files()));
}

#[test]
fn time_comes_from_the_clock() {
    report(clock_breaches(&server_files(), CLOCK_READS));
}

#[test]
fn only_the_completion_path_issues_authorization_codes() {
    report(code_breaches(&server_files(), CODE_ISSUERS));
}

#[test]
fn libs_depend_on_nothing_in_crates() {
    let root = repo_root();
    let crate_names: BTreeSet<String> =
        subdirectories(&root.join("crates")).iter().filter_map(|dir| package_name(&dir.join("Cargo.toml"))).collect();
    let manifests: Vec<(String, String)> = subdirectories(&root.join("libs"))
        .iter()
        .map(|lib| lib.join("Cargo.toml"))
        .filter_map(|m| fs::read_to_string(&m).ok().map(|text| (relative(&root, &m), text)))
        .collect();
    report(libs_breaches(&manifests, &crate_names));
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
    /// A file at `path` (relative to the repository root) holding `text`.
    fn new(path: &str, text: String) -> SourceFile {
        let (code, strings) = mask(&text);
        // A file that starts `#![cfg(test)]` (a `tests.rs` beside its module) is test code throughout.
        let test_lines =
            if code.contains("#![cfg(test)]") { (1..=code.lines().count()).collect() } else { test_lines(&code) };
        let mut module: Vec<String> = match path.strip_prefix(SERVER_SRC) {
            Some(inner) => inner.split('/').map(|part| part.trim_end_matches(".rs").to_owned()).collect(),
            None => Vec::new(),
        };
        if matches!(module.last().map(String::as_str), Some("mod" | "lib" | "main")) {
            module.pop();
        }
        SourceFile { path: path.to_owned(), module, text, code, strings, test_lines }
    }

    fn read(root: &Path, path: &Path) -> SourceFile {
        let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        SourceFile::new(&relative(root, path), text)
    }

    fn code_lines(&self) -> impl Iterator<Item = (usize, &str)> {
        self.code.lines().enumerate().map(|(i, l)| (i + 1, l))
    }

    fn is_test(&self, line: usize) -> bool {
        self.test_lines.contains(&line)
    }

    fn in_server(&self) -> bool {
        self.path.starts_with(SERVER_SRC)
    }

    fn top(&self) -> Option<&str> {
        self.module.first().map(String::as_str)
    }

    fn in_domain(&self) -> bool {
        self.in_server() && self.top() == Some("domain")
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

    /// Every path this file names after `prefix` (`std::`), with its line; a `{…}` group yields
    /// one path per item (`std::{fs, io}` gives `fs` and `io`).
    fn paths_after(&self, prefix: &str) -> Vec<(usize, Vec<String>)> {
        let mut found = Vec::new();
        for (at, _) in self.code.match_indices(prefix) {
            if at > 0 && is_ident(self.code.as_bytes()[at - 1]) {
                continue;
            }
            let line = self.code[..at].matches('\n').count() + 1;
            let (tails, _) = path_tails(&self.code, at + prefix.len());
            found.extend(tails.into_iter().map(|tail| (line, tail)));
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
    let mut paths = Vec::new();
    collect_rust_files(&root.join(SERVER_SRC), &mut paths);
    paths.iter().map(|p| SourceFile::read(&root, p)).collect()
}

/// The surfaces: the directories of `src/web/` that hold a file, less the shared ones.
fn web_surfaces(files: &[SourceFile]) -> BTreeSet<String> {
    let web = format!("{SERVER_SRC}web/");
    files
        .iter()
        .filter_map(|f| f.path.strip_prefix(&web)?.split_once('/').map(|(dir, _)| dir.to_owned()))
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

/// The paths after `crate::`, `super::` or `std::` at `start`: `web::api::x` gives one,
/// `web::{api, y}` and `{web, store}` one per item (each item's leading segments). Returns them
/// and where the path ends.
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
        // `a::{…}`, or a group right after the prefix (`crate::{web, store}`, `std::{fs, io}`).
        let group_at = if code[i..].starts_with("::{") {
            Some(i + 3)
        } else if segments.is_empty() && code[i..].starts_with('{') {
            Some(i + 1)
        } else {
            None
        };
        if let Some(group_start) = group_at {
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

// ---- each rule fails on a file that breaks it ----------------------------------------------------

fn file(path: &str, text: &str) -> SourceFile {
    SourceFile::new(path, text.to_owned())
}

#[test]
fn a_file_without_a_module_comment_is_reported() {
    let files = [file("crates/x/src/a.rs", "//! Fine.\n"), file("libs/y/src/b.rs", "fn main() {}\n")];
    assert_eq!(
        module_comments(&files),
        ["libs/y/src/b.rs:1: a file starts with a `//!` comment saying what it is for"]
    );
}

#[test]
fn an_unwrap_outside_tests_is_reported() {
    let files = [
        file(
            "crates/gatehouse/src/service/a.rs",
            "//! A.\nfn a() {\n    x.unwrap();\n}\n#[cfg(test)]\nmod tests {\n    fn b() { y.unwrap(); }\n}\n",
        ),
        file("crates/gatehouse/tests/it/a.rs", "//! Tests.\nfn t() { z.unwrap(); }\n"),
        file("crates/gatehouse-bench/src/main.rs", "//! Bench.\nfn t() { z.expect(\"timed\"); }\n"),
    ];
    assert_eq!(
        unwraps(&files),
        ["crates/gatehouse/src/service/a.rs:3: `.unwrap()` outside tests; return or handle the error"]
    );
}

#[test]
fn sql_outside_the_store_is_reported() {
    let files = [
        file(
            "crates/gatehouse/src/web/api/users.rs",
            "//! Users.\nfn f() {\n    let q = \"SELECT id FROM users WHERE id = $1\";\n    sqlx::query(q);\n}\n",
        ),
        file("crates/gatehouse/src/store/users.rs", "//! Store.\nfn f() { sqlx::query(\"SELECT id FROM users\"); }\n"),
        file("crates/gatehouse/src/domain/user.rs", "//! Domain.\n#[derive(Clone, sqlx::FromRow)]\nstruct U;\n"),
    ];
    assert_eq!(
        sql_outside_store(&files),
        [
            "crates/gatehouse/src/web/api/users.rs:4: `sqlx` outside `store/`",
            "crates/gatehouse/src/web/api/users.rs:3: SQL outside `store/`: \"SELECT id FROM users WHERE id = $1\"",
        ]
    );
}

#[test]
fn io_in_the_domain_is_reported_however_it_is_imported() {
    let files = [
        file(
            "crates/gatehouse/src/domain/user.rs",
            "//! Domain.\nuse std::{collections::HashMap, fs, io::Read};\nuse std::fmt;\n\
             fn f() { tokio::spawn(x); let _ = ::std::env::var(\"A\"); }\n#[derive(sqlx::FromRow)]\nstruct R;\n",
        ),
        file("crates/gatehouse/src/service/files.rs", "//! Service.\nuse std::{fs, io};\n"),
    ];
    let breach = |line: u32, name: &str| {
        format!("crates/gatehouse/src/domain/user.rs:{line}: `domain/` does no IO, so it does not use `{name}`")
    };
    assert_eq!(
        io_in_domain(&files),
        [breach(2, "std::fs"), breach(2, "std::io"), breach(4, "std::env"), breach(4, "tokio")]
    );
}

#[test]
fn a_layer_using_one_above_it_is_reported() {
    let files = [
        file("crates/gatehouse/src/web/mod.rs", "//! Web.\nmod api;\nuse crate::store::Store;\n"),
        file(
            "crates/gatehouse/src/web/api/users.rs",
            "//! API.\nuse crate::service::Core;\nuse crate::web::hosted::form::Form;\nuse crate::crypto::random_token;\n",
        ),
        file("crates/gatehouse/src/web/hosted/form.rs", "//! Hosted.\nuse super::super::error::ApiError;\n"),
        file("crates/gatehouse/src/web/error.rs", "//! Shared.\nuse super::api::x;\n"),
        file("crates/gatehouse/src/web/wire/user.rs", "//! Wire.\nuse crate::web::cookies;\n"),
        file(
            "crates/gatehouse/src/domain/user.rs",
            "//! Domain.\nfn f(core: &crate::service::Core) {}\nuse crate::{clock::Millis, web::AppState};\n",
        ),
    ];
    let surface = "uses only itself, the shared web module and `service`, `domain`, `clock`";
    assert_eq!(
        layer_breaches(&files),
        [
            "crates/gatehouse/src/web/mod.rs:3: the web layer never uses the store; not `crate::store::Store`".to_owned(),
            format!("crates/gatehouse/src/web/api/users.rs:3: the `api` surface {surface}; not `crate::web::hosted::form::Form`"),
            format!("crates/gatehouse/src/web/api/users.rs:4: the `api` surface {surface}; not `crate::crypto::random_token`"),
            "crates/gatehouse/src/web/error.rs:2: the shared web module must not use `crate::web::api::x`".to_owned(),
            "crates/gatehouse/src/web/wire/user.rs:2: the wire contract uses only itself and `service`, `domain`, `clock`; \
             not `crate::web::cookies`"
                .to_owned(),
            "crates/gatehouse/src/domain/user.rs:2: `domain` is below `service`, so it must not use `crate::service::Core`"
                .to_owned(),
            "crates/gatehouse/src/domain/user.rs:3: `domain` is below `web`, so it must not use `crate::web::AppState`"
                .to_owned(),
        ]
    );
}

#[test]
fn a_clock_read_outside_the_clock_is_reported() {
    let files = [
        file(
            "crates/gatehouse/src/service/cache.rs",
            "//! Cache.\nfn f() { let t = std::time::Instant::now(); }\n#[cfg(test)]\nmod tests { fn t() { Instant::now(); } }\n",
        ),
        file("crates/gatehouse/src/clock.rs", "//! Clock.\nfn now() { SystemTime::now() }\n"),
    ];
    let allowances = [
        ("crates/gatehouse/src/clock.rs", "SystemTime::now", "the wall clock"),
        ("crates/gatehouse/src/server.rs", "Instant::now", "start-up time"),
    ];
    assert_eq!(
        clock_breaches(&files, &allowances),
        [
            "crates/gatehouse/src/service/cache.rs:2: `Instant::now` outside the clock; take the time from `Core::now` \
             (the injected `Clock`)",
            "crates/gatehouse/src/server.rs: the allowance for `Instant::now` (start-up time) is no longer used; remove it",
        ]
    );
}

#[test]
fn a_code_issued_outside_the_completion_path_is_reported() {
    let files = [
        file(
            "crates/gatehouse/src/service/impersonation.rs",
            "//! Impersonation.\nasync fn redeem(core: &Core) {\n    core.issue_code_as(a, b).await;\n}\n",
        ),
        file(
            "crates/gatehouse/src/web/hosted/complete.rs",
            "//! Complete.\nfn f() { state.core.issue_authorization_code(env); }\n",
        ),
        file(
            "crates/gatehouse/src/web/hosted/security.rs",
            "//! Security.\nfn f() { state.core.issue_authorization_code(env); }\n",
        ),
        file("crates/gatehouse/src/store/sessions.rs", "//! Store.\npub async fn insert_auth_code() {}\n"),
    ];
    let issuers = [
        ("crates/gatehouse/src/web/hosted/complete.rs", "the completion path"),
        ("crates/gatehouse/src/service/auth.rs", "the service"),
    ];
    let rest = "issues an authorization code: hosted sign-ins get theirs in `web/hosted/complete.rs` only \
                (other issuers are listed in tests/tidy.rs with a reason)";
    assert_eq!(
        code_breaches(&files, &issuers),
        [
            format!("crates/gatehouse/src/service/impersonation.rs:3: `issue_code_as` {rest}"),
            format!("crates/gatehouse/src/web/hosted/security.rs:2: `issue_authorization_code` {rest}"),
            "crates/gatehouse/src/service/auth.rs: the code issuer allowance (the service) is no longer used; remove it"
                .to_owned(),
        ]
    );
}

#[test]
fn a_lib_depending_on_a_server_crate_is_reported() {
    let manifest = "[package]\nname = \"gatehouse-verify\"\n\n[dependencies]\nserde = \"1\"\n\
                    gatehouse = { path = \"../../crates/gatehouse\" }\n\n[dev-dependencies.gatehouse-bench]\nversion = \"0\"\n";
    let manifests = [("libs/gatehouse-verify/Cargo.toml".to_owned(), manifest.to_owned())];
    let crates = BTreeSet::from(["gatehouse".to_owned(), "gatehouse-bench".to_owned()]);
    assert_eq!(
        libs_breaches(&manifests, &crates),
        [
            "libs/gatehouse-verify/Cargo.toml:6: libs/ must not depend on anything in crates/: \
             gatehouse = { path = \"../../crates/gatehouse\" }",
            "libs/gatehouse-verify/Cargo.toml:8: libs/ must not depend on `gatehouse-bench` from crates/",
        ]
    );
}
