//! The housekeeping purge: ended and expired sessions go after the configured days, expired
//! sign-in state, throttle rows and operator links go (in batches, however many), live sessions
//! stay.

use gatehouse::domain::audit::Actor;
use gatehouse::service::operators::OperatorRole;
use reqwest::Method;
use serde_json::json;

use crate::support::{PASSWORD, REDIRECT_URI as REDIRECT, TestApp, claims};

#[tokio::test]
async fn purge_removes_what_is_over_and_leaves_live_sessions_alone() {
    let app = TestApp::spawn_with(|config| config.ended_sessions_kept_days = 1).await;
    app.set(&[("session_ttl_secs", "864000")]).await;
    app.create_user("live@example.com").await;
    app.create_user("ended@example.com").await;
    let live = app.login("live@example.com").await;
    let ended = app.login("ended@example.com").await;
    let live_sid = claims(&live.access_token)["sid"].as_str().unwrap().to_owned();
    let ended_sid = claims(&ended.access_token)["sid"].as_str().unwrap().to_owned();
    let (status, body) =
        app.api(Method::POST, "/user_management/sessions/revoke", Some(json!({"session_id": ended_sid}))).await;
    assert!(status < 300, "{status} {body}");
    // More throttle rows than one batch, as an unthrottled flood would leave.
    let now = app.core.now();
    for i in 0..1_200 {
        app.core.store.record_attempt(&format!("test:flood:{i}"), 60_000, now).await.unwrap();
    }
    let (status, _) = app.password_login("live@example.com", "not the password").await;
    assert_eq!(status, 400);

    // Within the day both sessions stay listed.
    app.clock.advance_secs(3600);
    app.core.purge_expired().await;
    assert!(app.core.store.find_session(&ended_sid).await.unwrap().is_some(), "kept for a day after it ended");

    app.clock.advance_secs(2 * 24 * 3600);
    let removed = app.core.purge_expired().await.removed;
    assert!(removed >= 1_201, "removed {removed}");
    assert!(app.core.store.find_session(&ended_sid).await.unwrap().is_none(), "ended session purged");
    assert!(app.core.store.find_session(&live_sid).await.unwrap().is_some(), "live session kept");
    assert_eq!(app.core.purge_expired().await.removed, 0, "nothing left to purge");
    // The live session still refreshes, and its owner still signs in.
    let (status, body) = app.refresh(&live.refresh_token).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.password_login("live@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
}

async fn operator_links(app: &TestApp) -> usize {
    app.core.store.server_secrets_named("operator_invite:").await.unwrap().len()
}

#[tokio::test]
async fn purge_removes_expired_operator_links_and_keeps_open_ones() {
    let app = TestApp::spawn().await;
    let old = app.core.invite_operator(Some("late@example.com"), OperatorRole::Viewer, &Actor::Cli).await.unwrap();
    app.clock.advance_secs(23 * 3600);
    let fresh = app.core.invite_operator(None, OperatorRole::Admin, &Actor::Cli).await.unwrap();
    app.core.purge_expired().await;
    assert_eq!(operator_links(&app).await, 2, "both links are open within their day");

    app.clock.advance_secs(2 * 3600);
    assert_eq!(app.core.purge_expired().await.removed, 1);
    assert_eq!(operator_links(&app).await, 1);
    assert!(app.core.find_operator_invite(&old).await.unwrap().is_none());
    // The open one still works, and a used link leaves nothing behind.
    let created = app.core.accept_operator_invite(&fresh, "new@example.com", PASSWORD).await.unwrap();
    assert_eq!(created.role, OperatorRole::Admin);
    assert_eq!(operator_links(&app).await, 0);
    // Other server secrets (the keys that seal and derive) are never the purge's.
    let others = app.core.store.server_secrets_named("").await.unwrap().len();
    app.clock.advance_secs(400 * 24 * 3600);
    app.core.purge_expired().await;
    assert_eq!(app.core.store.server_secrets_named("").await.unwrap().len(), others);
}

/// Rows of the large-backlog purge test: `GATEHOUSE_TEST_PURGE_BACKLOG` (issue 13.4 measured
/// 200 000), 20 000 by default to keep the suite's disk writes small.
fn purge_backlog() -> i64 {
    std::env::var("GATEHOUSE_TEST_PURGE_BACKLOG").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000)
}

/// A large backlog of expired authorization requests with 8 KiB states (what an attacker
/// opening `/authorize` in a loop leaves) is purged in batches that each hold the writer for a
/// small share of the purge, and password sign-ins running meanwhile keep completing between
/// them. Nothing here is an absolute time: a slow or busy machine slows every batch alike (how
/// fast the purge is belongs to benchmarks, not tests).
#[tokio::test]
async fn purge_batches_stay_short_under_a_large_backlog() {
    use sqlx::Connection as _;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::time::{Duration, Instant};

    let app = TestApp::spawn().await;
    app.create_user("ada@example.com").await;
    let env_id = app.core.environment_by_name("development").await.unwrap().id.clone();
    let backlog = purge_backlog();
    let expired = app.core.now() - 1000;
    let params = json!({"client_id": app.client_id, "redirect_uri": REDIRECT, "state": "s".repeat(8192)}).to_string();
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&app.config.database_url()).await.unwrap();
    let filling = Instant::now();
    let chunk = 5_000;
    for first in (0..backlog).step_by(chunk as usize) {
        let last = (first + chunk).min(backlog) - 1;
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT CAST($1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
             INSERT INTO authorization_requests (id, environment_id, params, expires_at, created_at) \
             SELECT 'backlog_' || i, $3, $4, $5, $5 FROM n",
        )
        .bind(first)
        .bind(last)
        .bind(&env_id)
        .bind(&params)
        .bind(expired)
        .execute(&mut db)
        .await
        .unwrap();
    }
    db.close().await.unwrap();
    let filled_in = filling.elapsed();

    let stop = Arc::new(AtomicBool::new(false));
    // Sign-ins that completed while the purge ran.
    let during = Arc::new(AtomicU32::new(0));
    let signing_in = {
        let (stop, during, http, url, client_id, api_key) = (
            stop.clone(),
            during.clone(),
            app.http.clone(),
            app.at("/user_management/authenticate"),
            app.client_id.clone(),
            app.api_key.clone(),
        );
        tokio::spawn(async move {
            let mut slowest = Duration::ZERO;
            let mut answered = 0u32;
            while !stop.load(Ordering::Relaxed) || answered == 0 {
                let started = Instant::now();
                let res = http
                    .post(&url)
                    .json(&json!({"grant_type": "password", "client_id": client_id, "client_secret": api_key,
                        "email": "ada@example.com", "password": PASSWORD}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
                slowest = slowest.max(started.elapsed());
                answered += 1;
                if !stop.load(Ordering::Relaxed) {
                    during.fetch_add(1, Ordering::Relaxed);
                }
            }
            (answered, slowest)
        })
    };
    let purging = Instant::now();
    let report = app.core.purge_expired().await;
    let purged_in = purging.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (answered, slowest) = signing_in.await.unwrap();
    let during = during.load(Ordering::Relaxed);
    eprintln!(
        "purge of {backlog} expired 8 KiB authorization requests (filled in {filled_in:?}): {} rows in {} batches, \
         {purged_in:?} in all, longest batch {:?}; {answered} sign-ins, {during} of them during the purge, slowest \
         {slowest:?}",
        report.removed, report.batches, report.longest_batch
    );
    assert!(report.removed >= backlog as u64, "{report:?}");
    assert!(u64::from(report.batches) * 500 >= backlog as u64, "{report:?}");
    assert!(
        report.longest_batch * 4 < purged_in,
        "a batch held the writer for {:?} of the purge's {purged_in:?}",
        report.longest_batch
    );
    assert!(during > 0, "no sign-in completed during the {purged_in:?} purge ({answered} after it)");
    assert_eq!(app.core.purge_expired().await.removed, 0);
}
