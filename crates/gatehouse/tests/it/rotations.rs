//! Refresh rotations on SQLite when the database is locked by another writer: requests hand
//! their rotations to the writer thread, which waits for the lock and applies them in a batch
//! with the same per-row rules (`store/rotations/sqlite.rs`). The direct path is covered by
//! every other refresh test.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use sqlx::Connection as _;

use crate::support::{TestApp, claims, join_all};

#[tokio::test]
async fn rotations_wait_for_another_writer_then_apply_in_a_batch() {
    if std::env::var("GATEHOUSE_TEST_DATABASE_URL").is_ok() {
        eprintln!("skipped: the SQLite rotation writer (runs in the SQLite pass)");
        return;
    }
    let app = TestApp::spawn().await;
    let mut firsts = Vec::new();
    for i in 0..8 {
        app.create_user(&format!("w{i}@example.com")).await;
        firsts.push(app.login(&format!("w{i}@example.com")).await);
    }
    let revoked = claims(&firsts[3].access_token)["sid"].as_str().unwrap().to_owned();
    app.api(Method::POST, "/user_management/sessions/revoke", Some(json!({"session_id": revoked}))).await;

    // Another connection takes SQLite's write lock, as a long write elsewhere would.
    let mut other = sqlx::SqliteConnection::connect(&app.config.database_url()).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.unwrap();

    let refresh_tokens: Vec<String> = firsts.iter().map(|t| t.refresh_token.clone()).collect();
    // Twice the same token too: one request rotates it, the other takes the grace path.
    let mut presented = refresh_tokens.clone();
    presented.push(refresh_tokens[0].clone());
    let client = app.http.clone();
    let (url, client_id) = (app.at("/user_management/authenticate"), app.client_id.clone());
    let refreshes = tokio::spawn(async move {
        join_all(presented.iter().map(|token| {
            let body = json!({"grant_type": "refresh_token", "client_id": client_id, "refresh_token": token});
            let request = client.post(&url).json(&body);
            async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                (status, response.json::<serde_json::Value>().await.unwrap())
            }
        }))
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!refreshes.is_finished(), "the refreshes wait for the lock");

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    let results = tokio::time::timeout(Duration::from_secs(10), refreshes).await.unwrap().unwrap();
    for (i, (status, body)) in results.iter().enumerate() {
        if i == 3 {
            assert_eq!((*status, body["error"].as_str()), (400, Some("invalid_grant")), "the revoked session: {body}");
        } else {
            assert_eq!(*status, 200, "request {i}: {body}");
            let sid = &claims(body["access_token"].as_str().unwrap())["sid"];
            assert_eq!(sid, &claims(&firsts[i % 8].access_token)["sid"]);
        }
    }
    assert_eq!(results[0].1["refresh_token"], results[8].1["refresh_token"], "the repeated token got the same pair");

    // What the batch wrote is what the next rotation reads: every new token rotates again.
    let next: Vec<String> = results[..8]
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3)
        .map(|(_, (_, body))| body["refresh_token"].as_str().unwrap().to_owned())
        .collect();
    for token in &next {
        let (status, body) = app.refresh(token).await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test]
async fn a_read_then_write_transaction_waits_for_another_writer_instead_of_failing() {
    if std::env::var("GATEHOUSE_TEST_DATABASE_URL").is_ok() {
        eprintln!("skipped: SQLite's write lock (runs in the SQLite pass)");
        return;
    }
    let app = TestApp::spawn().await;
    let user = app.create_user("tx@example.com").await;
    app.login("tx@example.com").await;
    let env = app.core.load_environment(&app.client_id).await.unwrap().unwrap();
    let user_id = user["id"].as_str().unwrap().to_owned();

    // Another writer (a rotation on its own connection, another process) holds the lock and
    // commits a change while the store's transaction is under way.
    let mut other = sqlx::SqliteConnection::connect(&app.config.database_url()).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.unwrap();
    sqlx::query("UPDATE users SET updated_at = updated_at + 1 WHERE id = $1")
        .bind(&user_id)
        .execute(&mut other)
        .await
        .unwrap();
    // Ending a user's sessions reads (is the user this environment's?) then writes: begun
    // deferred, its first write would meet a newer database and fail with SQLITE_BUSY_SNAPSHOT.
    let store = app.core.store.clone();
    let (environment_id, now) = (env.id.clone(), gatehouse::clock::Clock::now_ms(&app.clock));
    let ending = tokio::spawn(async move { store.end_user_sessions(&environment_id, &user_id, now).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!ending.is_finished(), "the transaction waits for the lock");
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), ending).await.unwrap().unwrap();
    assert_eq!(ended.unwrap(), 1, "the user's one session ended");
}
