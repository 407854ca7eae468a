//! TLS to PostgreSQL: libpq's `sslmode` and `sslrootcert` rules applied to a `postgres://` URL
//! before sqlx sees it, and plain-language errors when the TLS connection fails.
//!
//! sqlx does the TLS itself (rustls, the operating system's trusted roots, plus the CAs of
//! `sslrootcert`). This module makes a URL mean what it means to `psql`, and refuses what sqlx
//! cannot do as libpq does, rather than connect less safely than the URL asks:
//! - `sslmode`: `disable`, `allow`, `prefer` (the default), `require`, `verify-full`, as libpq;
//!   `allow` (which sqlx would treat as `disable`) tries TLS first, as `prefer` does.
//! - `verify-ca`, and `require` with an `sslrootcert` (which libpq turns into `verify-ca`), are
//!   refused: sqlx trusts the system's CAs *besides* the given file, so without the host-name
//!   check any publicly trusted certificate would pass. `verify-full` checks the host name, so
//!   the extra roots only matter if a public CA issued a certificate for that very host.
//! - `sslrootcert=system` (libpq 16) means the system's roots and needs `verify-full`, which it
//!   makes the default; `verify-full` without `sslrootcert` uses the system's roots too (libpq
//!   would read `~/.postgresql/root.crt`, which Gatehouse does not).
//! - A `sslrootcert` file that cannot be read is refused before connecting.
//!
//! `PGSSLMODE` and `PGSSLROOTCERT` (a file) count when the URL does not set them, as in libpq.

use std::fmt;

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<SslMode> {
        Some(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// The CAs a verified connection trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Roots {
    System,
    /// The system's and those of this file (or inline PEM).
    File(String),
}

impl fmt::Display for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Roots::System => f.write_str("the system's trusted CAs"),
            Roots::File(path) if path.trim_start().starts_with("-----BEGIN") => {
                f.write_str("the CA given inline in sslrootcert and the system's")
            }
            Roots::File(path) => write!(f, "the CA in sslrootcert {path} and the system's"),
        }
    }
}

/// A URL ready for sqlx, and what it asks for (for error messages).
#[derive(Debug)]
pub(super) struct PgTarget {
    pub url: String,
    /// The mode as the user wrote it (or its default), for messages.
    pub mode: SslMode,
    pub roots: Roots,
    pub host: String,
}

const MODE_KEYS: [&str; 2] = ["sslmode", "ssl-mode"];
const ROOT_KEYS: [&str; 3] = ["sslrootcert", "ssl-root-cert", "ssl-ca"];

/// Applies libpq's rules to `url`; `env` looks up `PGSSLMODE` / `PGSSLROOTCERT`.
pub(super) fn prepare(url: &str, env: impl Fn(&str) -> Option<String>) -> Result<PgTarget, String> {
    let mut parsed = url::Url::parse(url).map_err(|e| format!("the database URL is not a URL: {e}"))?;
    let mut mode_value = None;
    let mut root_value = None;
    let mut rest = Vec::new();
    for (key, value) in parsed.query_pairs() {
        if MODE_KEYS.contains(&key.as_ref()) {
            mode_value = Some(value.into_owned());
        } else if ROOT_KEYS.contains(&key.as_ref()) {
            root_value = Some(value.into_owned());
        } else {
            rest.push((key.into_owned(), value.into_owned()));
        }
    }
    if env("PGSSLROOTCERT").as_deref() == Some("system") {
        // sqlx would read it as a file name; a URL parameter overrides it, but `system` is not one.
        return Err("PGSSLROOTCERT=system is not supported: write sslrootcert=system in the database URL".into());
    }
    let mode_value = mode_value.or_else(|| env("PGSSLMODE")).filter(|v| !v.is_empty());
    let root_value = root_value.or_else(|| env("PGSSLROOTCERT")).filter(|v| !v.is_empty());
    let system_asked = root_value.as_deref() == Some("system");
    let roots = match root_value {
        Some(v) if v != "system" => Roots::File(v),
        _ => Roots::System,
    };
    let mode = match mode_value.as_deref() {
        Some(v) => SslMode::parse(v).ok_or_else(|| {
            format!("sslmode={v} is not a mode; use disable, allow, prefer, require, verify-ca or verify-full")
        })?,
        None if system_asked => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    if system_asked && mode != SslMode::VerifyFull {
        return Err(format!(
            "sslrootcert=system needs sslmode=verify-full (as in libpq, a weaker sslmode={} is refused with it)",
            mode.as_str()
        ));
    }
    if let Roots::File(path) = &roots
        && !path.trim_start().starts_with("-----BEGIN")
    {
        std::fs::read(path).map_err(|e| format!("cannot read sslrootcert {path}: {e}"))?;
    }
    let effective = match (mode, &roots) {
        (SslMode::VerifyCa, _) | (SslMode::Require, Roots::File(_)) => {
            let asked = if mode == SslMode::Require {
                "sslmode=require with sslrootcert, which libpq treats as verify-ca (check the CA, not the host name),"
            } else {
                "sslmode=verify-ca (check the CA, not the host name)"
            };
            return Err(format!(
                "{asked} is not supported: Gatehouse's driver trusts the system's CAs besides sslrootcert, so any \
                 publicly trusted certificate would pass. Use sslmode=verify-full (the CA and the host name in the \
                 server's certificate), or sslmode=require without sslrootcert to encrypt without checking"
            ));
        }
        (SslMode::Allow, _) => SslMode::Prefer,
        (other, _) => other,
    };
    let host = parsed.host_str().unwrap_or("localhost").to_owned();
    {
        let mut query = parsed.query_pairs_mut();
        query.clear();
        for (key, value) in &rest {
            query.append_pair(key, value);
        }
        query.append_pair("sslmode", effective.as_str());
        if let Roots::File(path) = &roots {
            query.append_pair("sslrootcert", path);
        }
    }
    Ok(PgTarget { url: parsed.into(), mode, roots, host })
}

/// Turns a failed connection into a message that says what to change; `None` when the failure
/// has nothing to do with TLS.
pub(super) fn explain(err: &sqlx::Error, target: &PgTarget) -> Option<String> {
    let mode = target.mode.as_str();
    let host = &target.host;
    match err {
        sqlx::Error::Tls(e) if e.to_string().contains("does not support TLS") => Some(format!(
            "the PostgreSQL server at {host} does not offer TLS, but sslmode={mode} requires it: \
             turn on `ssl` in its postgresql.conf (with a certificate), or, only on a network you trust, \
             use sslmode=prefer or sslmode=disable"
        )),
        sqlx::Error::Tls(e) => Some(format!("TLS with PostgreSQL at {host} failed (sslmode={mode}): {e}")),
        sqlx::Error::Io(io) => {
            let tls = io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())?;
            Some(explain_rustls(tls, target))
        }
        _ => None,
    }
}

fn explain_rustls(err: &rustls::Error, target: &PgTarget) -> String {
    use rustls::CertificateError;
    let mode = target.mode.as_str();
    let host = &target.host;
    match err {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer | CertificateError::BadSignature) => {
            format!(
                "PostgreSQL's certificate at {host} is not signed by {}, so sslmode={mode} refuses it: \
                 give the CA that signed it with sslrootcert=/path/to/ca.pem (managed databases publish theirs), \
                 or use sslmode=require to encrypt without checking who answers",
                target.roots
            )
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "PostgreSQL's certificate is not valid for the host name {host} (sslmode={mode} checks it): \
             connect with a host name the certificate names"
        ),
        rustls::Error::InvalidCertificate(CertificateError::Expired | CertificateError::ExpiredContext { .. }) => {
            format!("PostgreSQL's certificate at {host} has expired (sslmode={mode})")
        }
        other => format!("TLS with PostgreSQL at {host} failed (sslmode={mode}): {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn query(target: &PgTarget) -> Vec<(String, String)> {
        url::Url::parse(&target.url).unwrap().query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn prefer_is_the_default_and_other_parameters_stay() {
        let t = prepare("postgres://u:p@db.example.com:5433/gh?application_name=x", no_env).unwrap();
        assert_eq!(t.mode, SslMode::Prefer);
        assert_eq!(t.host, "db.example.com");
        assert_eq!(query(&t), vec![pair("application_name", "x"), pair("sslmode", "prefer")]);
        assert!(t.url.starts_with("postgres://u:p@db.example.com:5433/gh?"));
    }

    #[test]
    fn verify_full_with_a_root_file_passes_the_file_on() {
        let dir = std::env::temp_dir().join(format!("gh-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let url = format!("postgres://h/db?sslmode=verify-full&sslrootcert={}", ca.display());
        let t = prepare(&url, no_env).unwrap();
        assert_eq!(t.mode, SslMode::VerifyFull);
        assert_eq!(t.roots, Roots::File(ca.display().to_string()));
        assert_eq!(query(&t), vec![pair("sslmode", "verify-full"), pair("sslrootcert", &ca.display().to_string())]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn system_roots_need_verify_full_and_make_it_the_default() {
        let t = prepare("postgres://h/db?sslrootcert=system", no_env).unwrap();
        assert_eq!(t.mode, SslMode::VerifyFull);
        assert_eq!(query(&t), vec![pair("sslmode", "verify-full")]);
        let err = prepare("postgres://h/db?sslrootcert=system&sslmode=require", no_env).unwrap_err();
        assert!(err.contains("needs sslmode=verify-full"), "{err}");
        let t = prepare("postgres://h/db?sslmode=verify-full", no_env).unwrap();
        assert_eq!(t.roots, Roots::System);
    }

    #[test]
    fn verify_ca_and_require_with_a_root_file_are_refused() {
        let err = prepare("postgres://h/db?sslmode=verify-ca", no_env).unwrap_err();
        assert!(err.contains("verify-ca") && err.contains("verify-full"), "{err}");
        let inline = "-----BEGIN CERTIFICATE-----";
        let url = format!("postgres://h/db?sslmode=require&sslrootcert={}", urlencode(inline));
        let err = prepare(&url, no_env).unwrap_err();
        assert!(err.contains("sslmode=require with sslrootcert, which libpq treats as verify-ca"), "{err}");
    }

    #[test]
    fn allow_tries_tls_first_and_aliases_are_understood() {
        let t = prepare("postgres://h/db?ssl-mode=allow", no_env).unwrap();
        assert_eq!(t.mode, SslMode::Allow);
        assert_eq!(query(&t), vec![pair("sslmode", "prefer")]);
    }

    #[test]
    fn bad_modes_and_missing_files_are_refused_up_front() {
        let err = prepare("postgres://h/db?sslmode=on", no_env).unwrap_err();
        assert!(err.contains("sslmode=on is not a mode"), "{err}");
        let err = prepare("postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", no_env).unwrap_err();
        assert!(err.contains("cannot read sslrootcert /nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn the_environment_counts_when_the_url_is_silent() {
        let env = |k: &str| (k == "PGSSLMODE").then(|| "require".to_owned());
        assert_eq!(prepare("postgres://h/db", env).unwrap().mode, SslMode::Require);
        assert_eq!(prepare("postgres://h/db?sslmode=disable", env).unwrap().mode, SslMode::Disable);
        let env = |k: &str| (k == "PGSSLROOTCERT").then(|| "system".to_owned());
        assert!(prepare("postgres://h/db", env).unwrap_err().contains("sslrootcert=system in the database URL"));
    }

    fn urlencode(s: &str) -> String {
        form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }
}
