//! Downgrades (issue 13.6): a binary older than its database's schema refuses to start, naming
//! the database's newest migration and its own, instead of running on a schema it does not know.

use gatehouse::store::{Store, StoreError};
use sqlx::Connection as _;

use crate::support::*;

#[tokio::test]
async fn a_database_from_a_newer_binary_is_refused_with_both_versions() {
    let app = TestApp::spawn().await;
    let url = app.config.database_url();
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let latest: i64 =
        sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations").fetch_one(&mut conn).await.unwrap();
    // A newer Gatehouse ran its next migration on this store.
    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'from_the_future', 0)")
        .bind(latest + 1)
        .execute(&mut conn)
        .await
        .unwrap();
    let store = Store::connect(&url, 2, 0).await.unwrap();
    match store.migrate().await {
        Err(StoreError::NewerSchema { database, name, binary }) => {
            assert_eq!((database, name.as_str(), binary), (latest + 1, "from_the_future", latest));
        }
        other => panic!("an older binary migrated a newer store: {other:?}"),
    }
    // The real binary says why it stops, with both versions.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["--data", app.config.data_dir.to_str().unwrap(), "env", "list"])
        .env("GATEHOUSE_DATABASE_URL", &url)
        .env_remove("GATEHOUSE_SECRET_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("migration {} (from_the_future)", latest + 1))
            && stderr.contains(&format!("latest, migration {latest}"))
            && stderr.contains("downgrading is not supported"),
        "{stderr}"
    );
    // Nothing was changed: the newer migration is still the newest.
    let newest: i64 =
        sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations").fetch_one(&mut conn).await.unwrap();
    assert_eq!(newest, latest + 1);
}
