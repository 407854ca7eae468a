//! Moving a store: SQLite → PostgreSQL (or another SQLite file without
//! `GATEHOUSE_TEST_DATABASE_URL`) → SQLite with every table holding rows, after which the
//! moved users still sign in and refresh tokens issued before the move still rotate.

use gatehouse::crypto::sealing::KeySource;
use gatehouse::store::{CopyError, Store};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{Connection as _, Row as _};

use crate::support::*;

const KEY: &str = "1111111111111111111111111111111111111111111111111111111111111111";

async fn open(url: &str) -> Store {
    let store = Store::connect(url, 4, 0).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// Puts a row into every table that the flows left empty, with the columns' types and references
/// to existing parents; rows that belong to a user belong to factors@example.com.
async fn fill_empty_tables(url: &str) {
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut conn).await.unwrap();
    for (table, _) in gatehouse::store::COPY_TABLES {
        let rows: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut conn).await.unwrap();
        if rows > 0 {
            continue;
        }
        let columns: Vec<(String, String)> =
            sqlx::query_as("SELECT name, type FROM pragma_table_info($1) ORDER BY cid")
                .bind(table)
                .fetch_all(&mut conn)
                .await
                .unwrap();
        let mut values = Vec::new();
        for (name, kind) in &columns {
            let parent = match name.as_str() {
                "environment_id" => Some("SELECT id FROM environments"),
                "user_id" => Some("SELECT id FROM users WHERE email = 'factors@example.com'"),
                "factor_id" => Some("SELECT id FROM auth_factors"),
                "organization_id" => Some("SELECT id FROM organizations"),
                "organization_membership_id" => Some("SELECT id FROM organization_memberships"),
                "resource_id" => Some("SELECT id FROM authorization_resources"),
                _ => None,
            };
            values.push(match (parent, kind.as_str()) {
                (Some(parent), _) => {
                    let id: String = sqlx::query_scalar(parent).fetch_one(&mut conn).await.unwrap();
                    format!("'{id}'")
                }
                (None, "BIGINT") => "1800000000000".to_owned(),
                (None, _) => format!("'{table}-{name}'"),
            });
        }
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        sqlx::query(&format!("INSERT INTO {table} ({}) VALUES ({})", names.join(", "), values.join(", ")))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

/// Every row of every table of a SQLite store, as text.
async fn dump(url: &str) -> Vec<(String, Vec<Vec<String>>)> {
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let mut out = Vec::new();
    for (table, key) in gatehouse::store::COPY_TABLES {
        let rows = sqlx::query(&format!("SELECT * FROM {table} ORDER BY {key}")).fetch_all(&mut conn).await.unwrap();
        let rows = rows
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| match row.try_get::<Option<String>, _>(i) {
                        Ok(v) => format!("{v:?}"),
                        Err(_) => format!("{:?}", row.try_get::<Option<i64>, _>(i).unwrap()),
                    })
                    .collect()
            })
            .collect();
        out.push(((*table).to_owned(), rows));
    }
    out
}

#[tokio::test]
async fn a_store_moves_to_postgres_and_back_and_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let source_url = format!("sqlite://{}", dir.path().join("source.db").display());
    let source_app = TestApp::spawn_with(|c| {
        c.database_url = Some(source_url.clone());
        c.secret_key = Some(KeySource::Value(KEY.into()));
    })
    .await;

    // Real traffic first: users, sessions, a failed sign-in, an emailed code, a pending
    // authorization, a sign-in that must verify its email first.
    source_app.create_user("moved@example.com").await;
    source_app.create_user("factors@example.com").await;
    let before = source_app.login("moved@example.com").await;
    let (status, _) = source_app.password_login("moved@example.com", "wrong password").await;
    assert_eq!(status, 400);
    let (status, body) =
        source_app.api(Method::POST, "/user_management/magic_auth", Some(json!({"email": "moved@example.com"}))).await;
    assert_eq!(status, 201, "{body}");
    let authorize = format!(
        "/user_management/authorize?client_id={}&redirect_uri=http%3A%2F%2Flocalhost%3A5173%2Fcallback&response_type=code&provider=authkit",
        source_app.client_id
    );
    assert_eq!(source_app.http.get(source_app.at(&authorize)).send().await.unwrap().status(), 302);
    source_app.set(&[("email_verification_required", "true")]).await;
    let (status, body) = source_app.password_login("moved@example.com", PASSWORD).await;
    assert_eq!(status, 403, "{body}");
    source_app.set(&[("email_verification_required", "false")]).await;
    fill_empty_tables(&source_url).await;
    let original = dump(&source_url).await;
    for (table, rows) in &original {
        assert!(!rows.is_empty(), "{table} is empty");
    }

    // SQLite → PostgreSQL (or SQLite) → SQLite.
    let middle_url = match std::env::var("GATEHOUSE_TEST_DATABASE_URL") {
        Ok(server) => fresh_database(&server).await,
        Err(_) => format!("sqlite://{}", dir.path().join("middle.db").display()),
    };
    let back_url = format!("sqlite://{}", dir.path().join("back.db").display());
    let source = open(&source_url).await;
    let middle = open(&middle_url).await;
    let back = open(&back_url).await;
    let mut seen = 0;
    let copied = source.copy_into(&middle, false, &mut |_| seen += 1).await.unwrap();
    assert!(seen >= copied.len());
    let total: u64 = copied.iter().map(|t| t.rows).sum();
    assert_eq!(total, original.iter().map(|(_, rows)| rows.len() as u64).sum::<u64>());
    middle.copy_into(&back, false, &mut |_| {}).await.unwrap();
    assert_eq!(dump(&back_url).await, original);

    // A target that holds data is refused, and left as it was, unless overwriting is asked for.
    let err = source.copy_into(&back, false, &mut |_| {}).await.unwrap_err();
    assert!(matches!(err, CopyError::TargetNotEmpty { table: "server_secrets", .. }), "{err}");
    middle.copy_into(&back, true, &mut |_| {}).await.unwrap();
    assert_eq!(dump(&back_url).await, original);
    for store in [&source, &middle, &back] {
        store.close().await;
    }

    // A server on the moved store, with the same server key: sign-in and refresh still work.
    let moved = TestApp::spawn_with(|c| {
        c.database_url = Some(back_url.clone());
        c.secret_key = Some(KeySource::Value(KEY.into()));
    })
    .await;
    assert_eq!(moved.client_id, source_app.client_id);
    let (status, body) = moved.refresh(&before.refresh_token).await;
    assert_eq!(status, 200, "the refresh token issued before the move: {body}");
    let after = tokens(body);
    assert_eq!(claims(&after.access_token)["sid"], claims(&before.access_token)["sid"]);
    let (status, body): (u16, Value) = moved.password_login("moved@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    // The other user's authenticator moved too: their password alone is no longer enough.
    let (status, body) = moved.password_login("factors@example.com", PASSWORD).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("mfa_challenge")), "{body}");
}

/// `gatehouse migrate-store`, the real command: the test's store (SQLite, or PostgreSQL in the
/// PostgreSQL pass) into a new SQLite file, with a `--json` summary; a target that holds data is
/// refused without `--overwrite` and left as it was, and overwritten with it.
#[tokio::test]
async fn the_migrate_store_command_copies_reports_and_refuses_a_full_target() {
    let root = tempfile::tempdir().unwrap();
    let binary = crate::binary::Binary::for_test(root.path()).await;
    binary.init();
    let target = root.path().join("copy.db");
    let target_url = format!("sqlite://{}", target.display());
    let migrate = |extra: &[&str]| {
        let mut command = binary.command();
        command.args(["--json", "migrate-store", "--to", &target_url]).args(extra);
        command.output().unwrap()
    };
    let out = migrate(&[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["to"], target_url.as_str(), "{summary}");
    let tables = summary["tables"].as_array().unwrap();
    let rows_of =
        |name: &str| tables.iter().find(|t| t["table"] == name).unwrap_or_else(|| panic!("{summary}"))["rows"].as_u64();
    assert_eq!(tables.len(), gatehouse::store::COPY_TABLES.len(), "{summary}");
    assert!(rows_of("environments") >= Some(1) && rows_of("api_keys") >= Some(1), "{summary}");
    let rows = summary["rows"].as_u64().unwrap();
    assert_eq!(rows, tables.iter().map(|t| t["rows"].as_u64().unwrap()).sum::<u64>());
    assert!(summary["elapsed_ms"].is_u64(), "{summary}");
    let copied = dump(&target_url).await;
    assert_eq!(copied.iter().map(|(_, r)| r.len() as u64).sum::<u64>(), rows, "the file holds what was reported");

    // Again into the same file: refused, naming --overwrite, and nothing changes.
    let out = migrate(&[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already holds data") && stderr.contains("--overwrite"), "{stderr}");
    assert_eq!(dump(&target_url).await, copied);
    // With --overwrite it is replaced by the same copy.
    let out = migrate(&["--overwrite"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["rows"], summary["rows"]);
    assert_eq!(dump(&target_url).await, copied);
}
