//! The per-process environment cache is timed by the injected clock: a change made behind the
//! server's back (another process, the CLI) shows once the clock has moved two seconds.

use crate::support::TestApp;

/// Where `/authorize?screen_hint=sign-up` sends the browser: the sign-up page while sign-up is
/// on, the sign-in page when it is off.
async fn sign_up_screen(app: &TestApp) -> String {
    let url = app.at(&format!(
        "/user_management/authorize?client_id={}&redirect_uri=http%3A%2F%2Flocalhost%3A5173%2Fcallback&response_type=code&screen_hint=sign-up",
        app.client_id
    ));
    let res = app.http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().unwrap();
    location.split('?').next().unwrap().to_owned()
}

#[tokio::test]
async fn cached_environments_expire_by_the_injected_clock() {
    let app = TestApp::spawn().await;
    assert_eq!(sign_up_screen(&app).await, "/authkit/sign-up");
    // Another process turns sign-up off: the database changes, this server's cache does not.
    let env = app.core.environment_by_name("development").await.unwrap();
    let mut settings = env.settings.clone();
    settings.sign_up_enabled = false;
    app.core.store.update_environment_settings(&env.id, &settings, app.core.now(), &[]).await.unwrap();
    assert_eq!(sign_up_screen(&app).await, "/authkit/sign-up", "cached for two seconds");
    app.clock.advance_secs(1);
    assert_eq!(sign_up_screen(&app).await, "/authkit/sign-up", "one second later, still cached");
    app.clock.advance_secs(1);
    assert_eq!(sign_up_screen(&app).await, "/authkit/sign-in", "two seconds later, reloaded");
}
