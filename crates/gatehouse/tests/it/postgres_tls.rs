//! PostgreSQL over TLS, against a real server with a certificate from a throwaway CA
//! (`scripts/pg-throwaway.sh --ssl`, whose certificate names `localhost` only).
//!
//! Needs `GATEHOUSE_TEST_PG_TLS_URL` (that server) and `GATEHOUSE_TEST_PG_TLS_CA` (its CA's
//! certificate); the refusal of a server without TLS uses `GATEHOUSE_TEST_DATABASE_URL`.
//! `scripts/test.sh` sets all three; without them these tests say so and pass, unless
//! `GATEHOUSE_TEST_REQUIRE_PG_TLS=1` (set by `scripts/test.sh` too), which turns missing TLS
//! variables into a failure, so CI cannot pass by skipping them. (The refusal test needs the
//! plain server, which only the PostgreSQL pass has, so it still skips in the SQLite pass.)

use gatehouse::store::Store;
use sqlx::Connection as _;

use crate::support::*;

struct TlsServer {
    /// `postgres://postgres@localhost:PORT`, no path or query.
    base: String,
    port: u16,
    ca: String,
}

fn tls_server() -> Option<TlsServer> {
    let (Ok(url), Ok(ca)) = (std::env::var("GATEHOUSE_TEST_PG_TLS_URL"), std::env::var("GATEHOUSE_TEST_PG_TLS_CA"))
    else {
        assert!(
            std::env::var("GATEHOUSE_TEST_REQUIRE_PG_TLS").as_deref() != Ok("1"),
            "GATEHOUSE_TEST_REQUIRE_PG_TLS=1 but GATEHOUSE_TEST_PG_TLS_URL or GATEHOUSE_TEST_PG_TLS_CA is not set \
             (scripts/pg-throwaway.sh --ssl prints them)"
        );
        eprintln!("skipped: set GATEHOUSE_TEST_PG_TLS_URL and GATEHOUSE_TEST_PG_TLS_CA (scripts/test.sh does)");
        return None;
    };
    let port = url::Url::parse(&url).unwrap().port().unwrap();
    Some(TlsServer { base: format!("postgres://postgres@localhost:{port}"), port, ca })
}

/// A fresh database on the TLS server, created over a plain connection.
async fn fresh_db(server: &TlsServer) -> String {
    sqlx::any::install_default_drivers();
    let name = format!("tls_{}", ulid::Ulid::generate().to_string().to_lowercase());
    let admin = format!("postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable", server.port);
    let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
    name
}

/// Whether every open connection to `db` is encrypted (and there is at least one).
async fn encrypted(server: &TlsServer, db: &str) -> bool {
    let admin = format!("postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable", server.port);
    let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
    let (total, tls): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = $1",
    )
    .bind(db)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(total > 0, "no connection to {db}");
    total == tls
}

async fn connect(url: &str) -> Result<Store, String> {
    match Store::connect(url, 2, 0).await {
        Ok(store) => {
            store.migrate().await.map_err(|e| e.to_string())?;
            Ok(store)
        }
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::test]
async fn verified_and_encrypted_connections_are_accepted() {
    let Some(server) = tls_server() else { return };
    let db = fresh_db(&server).await;
    let ca = &server.ca;
    for query in [format!("sslmode=verify-full&sslrootcert={ca}"), "sslmode=require".into(), "sslmode=prefer".into()] {
        let store = connect(&format!("{}/{db}?{query}", server.base)).await.unwrap_or_else(|e| panic!("{query}: {e}"));
        assert!(encrypted(&server, &db).await, "{query}: a connection without TLS");
        store.close().await;
    }
    // sslmode=disable really is plain.
    let store = connect(&format!("{}/{db}?sslmode=disable", server.base)).await.unwrap();
    assert!(!encrypted(&server, &db).await);
    store.close().await;
}

#[tokio::test]
async fn unverifiable_certificates_are_refused_with_the_fix() {
    let Some(server) = tls_server() else { return };
    let db = fresh_db(&server).await;
    // The throwaway CA is not among the system's roots.
    let err = connect(&format!("{}/{db}?sslmode=verify-full", server.base)).await.err().unwrap();
    assert!(
        err.contains("not signed by the system's trusted CAs") && err.contains("sslrootcert=/path/to/ca.pem"),
        "{err}"
    );
    let err = connect(&format!("{}/{db}?sslrootcert=system", server.base)).await.err().unwrap();
    assert!(err.contains("not signed by the system's trusted CAs"), "{err}");
    // Another CA's file (the system bundle) does not vouch for it either.
    if std::path::Path::new("/etc/ssl/certs/ca-certificates.crt").exists() {
        let url = format!("{}/{db}?sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt", server.base);
        let err = connect(&url).await.err().unwrap();
        assert!(err.contains("not signed by the CA in sslrootcert /etc/ssl/certs/ca-certificates.crt"), "{err}");
    }
    // The right CA, but the certificate names localhost, not 127.0.0.1.
    let url =
        format!("postgres://postgres@127.0.0.1:{}/{db}?sslmode=verify-full&sslrootcert={}", server.port, server.ca);
    let err = connect(&url).await.err().unwrap();
    assert!(err.contains("not valid for the host name 127.0.0.1"), "{err}");
    // What sqlx cannot check as libpq does is refused before connecting.
    let err =
        connect(&format!("{}/{db}?sslmode=verify-ca&sslrootcert={}", server.base, server.ca)).await.err().unwrap();
    assert!(err.contains("is not supported") && err.contains("verify-full"), "{err}");
    let err =
        connect(&format!("{}/{db}?sslmode=verify-full&sslrootcert=/nonexistent.pem", server.base)).await.err().unwrap();
    assert!(err.contains("cannot read sslrootcert /nonexistent.pem"), "{err}");
}

#[tokio::test]
async fn a_server_without_tls_is_refused_when_tls_is_required() {
    let Ok(plain) = std::env::var("GATEHOUSE_TEST_DATABASE_URL") else {
        eprintln!("skipped: set GATEHOUSE_TEST_DATABASE_URL to a PostgreSQL without TLS (scripts/test.sh does)");
        return;
    };
    let mut url = url::Url::parse(&plain).unwrap();
    for mode in ["require", "verify-full"] {
        url.set_query(Some(&format!("sslmode={mode}")));
        let err = connect(url.as_str()).await.err().unwrap();
        assert!(err.contains("does not offer TLS") && err.contains(&format!("sslmode={mode} requires it")), "{err}");
    }
    // prefer (the default) falls back to a plain connection, as libpq does.
    url.set_query(None);
    connect(url.as_str()).await.unwrap().close().await;
}

#[tokio::test]
async fn gatehouse_signs_in_and_refreshes_over_a_verified_connection() {
    let Some(server) = tls_server() else { return };
    let db = fresh_db(&server).await;
    let url = format!("{}/{db}?sslmode=verify-full&sslrootcert={}", server.base, server.ca);
    let app = TestApp::spawn_with(|config| config.database_url = Some(url)).await;
    app.create_user("tls@example.com").await;
    let tokens = app.login("tls@example.com").await;
    let (status, body) = app.refresh(&tokens.refresh_token).await;
    assert_eq!(status, 200, "{body}");
    assert!(encrypted(&server, &db).await);
}
