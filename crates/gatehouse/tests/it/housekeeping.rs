//! The housekeeping purge: ended and expired sessions go after the configured days, expired
//! sign-in state and throttle rows go (in batches, however many), live sessions stay.

use reqwest::Method;
use serde_json::json;

use crate::support::{PASSWORD, TestApp, claims};

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
    let removed = app.core.purge_expired().await;
    assert!(removed >= 1_201, "removed {removed}");
    assert!(app.core.store.find_session(&ended_sid).await.unwrap().is_none(), "ended session purged");
    assert!(app.core.store.find_session(&live_sid).await.unwrap().is_some(), "live session kept");
    assert_eq!(app.core.purge_expired().await, 0, "nothing left to purge");
    // The live session still refreshes, and its owner still signs in.
    let (status, body) = app.refresh(&live.refresh_token).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.password_login("live@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
}
