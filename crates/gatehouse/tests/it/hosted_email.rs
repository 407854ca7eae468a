//! The hosted pages that work by email: sign in with a code, verify an email during sign-up,
//! and reset a forgotten password.

use gatehouse::service::codes::CodeKind;

use crate::hosted::hidden;
use crate::support::*;

async fn start(app: &TestApp, extra: &str) -> (String, String) {
    let url = app.at(&format!(
        "/user_management/authorize?client_id={}&redirect_uri=http%3A%2F%2Flocalhost%3A5173%2Fcallback&response_type=code&state=s9{extra}",
        app.client_id
    ));
    let res = app.http.get(url).send().await.unwrap();
    let page = res.headers()["location"].to_str().unwrap().to_owned();
    let html = app.http.get(app.at(&page)).send().await.unwrap().text().await.unwrap();
    (hidden(&html, "request"), hidden(&html, "csrf_token"))
}

async fn post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, String, Option<String>) {
    let res = app.http.post(app.at(path)).form(form).send().await.unwrap();
    let status = res.status().as_u16();
    let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
    (status, res.text().await.unwrap(), location)
}

async fn latest_code(app: &TestApp, kind: CodeKind, email: &str) -> String {
    let env = app.core.environment_by_name("development").await.unwrap();
    let user = app.core.store.find_user_by_email(&env.id, email).await.unwrap().unwrap();
    let code = app.core.store.latest_one_time_code(&env.id, kind.as_str(), &user.id).await.unwrap().unwrap();
    app.core.reveal_code(&code, kind).unwrap()
}

#[tokio::test]
async fn sign_in_with_an_emailed_code() {
    let app = TestApp::spawn().await;
    let (request, csrf) = start(&app, "").await;
    let page = app.http.get(app.at(&format!("/authkit/magic-auth?request={request}"))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let (status, html, _) = post(
        &app,
        "/authkit/magic-auth",
        &[("request", &request), ("csrf_token", &csrf), ("email", "code@example.com")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("code@example.com") && html.contains("name=\"code\""));
    let code = latest_code(&app, CodeKind::MagicAuth, "code@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let form = |code: &str| {
        vec![
            ("request", request.clone()),
            ("csrf_token", csrf.clone()),
            ("email", "code@example.com".to_owned()),
            ("code", code.to_owned()),
        ]
    };
    let res = app.http.post(app.at("/authkit/magic-auth/verify")).form(&form(wrong)).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("The code is incorrect."));
    let res = app.http.post(app.at("/authkit/magic-auth/verify")).form(&form(&code)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://localhost:5173/callback?code=") && location.ends_with("&state=s9"),
        "{location}"
    );
}

#[tokio::test]
async fn sign_up_asks_for_the_email_code_when_required() {
    let app = TestApp::spawn().await;
    app.set(&[("email_verification_required", "true")]).await;
    let (request, csrf) = start(&app, "&screen_hint=sign-up").await;
    let (status, _, location) = post(
        &app,
        "/authkit/sign-up",
        &[("request", &request), ("csrf_token", &csrf), ("email", "verify@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert_eq!(location, format!("/authkit/verify-email?request={request}"));
    let page = app.http.get(app.at(&location)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("verify@example.com"));
    let code = latest_code(&app, CodeKind::EmailVerification, "verify@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, html, _) =
        post(&app, "/authkit/verify-email", &[("request", &request), ("csrf_token", &csrf), ("code", wrong)]).await;
    assert_eq!(status, 400);
    assert!(html.contains("The code is incorrect."));
    let (status, _, location) =
        post(&app, "/authkit/verify-email", &[("request", &request), ("csrf_token", &csrf), ("code", &code)]).await;
    assert_eq!(status, 303);
    assert!(location.unwrap().starts_with("http://localhost:5173/callback?code="));
    // The pending sign-in is spent: the page now says it expired.
    let res = app.http.get(app.at(&format!("/authkit/verify-email?request={request}"))).send().await.unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn forgot_password_never_reveals_accounts_and_resets_once() {
    let app = TestApp::spawn().await;
    app.create_user("known@example.com").await;
    let tokens = app.login("known@example.com").await;
    let (request, csrf) = start(&app, "").await;
    let (s1, known, _) = post(
        &app,
        "/authkit/forgot-password",
        &[("request", &request), ("csrf_token", &csrf), ("email", "known@example.com")],
    )
    .await;
    let (s2, unknown, _) = post(
        &app,
        "/authkit/forgot-password",
        &[("request", &request), ("csrf_token", &csrf), ("email", "ghost@example.com")],
    )
    .await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(
        known.replace("known@example.com", "X"),
        unknown.replace("ghost@example.com", "X"),
        "same answer either way"
    );

    let token = latest_code(&app, CodeKind::PasswordReset, "known@example.com").await;
    let page = app.http.get(app.at(&format!("/authkit/reset-password?token={token}"))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let csrf = hidden(&html, "csrf_token");
    let (status, html, _) =
        post(&app, "/authkit/reset-password", &[("token", &token), ("csrf_token", &csrf), ("password", "password")])
            .await;
    assert_eq!(status, 400);
    assert!(html.contains("too common"), "{html}");
    let (status, html, _) = post(
        &app,
        "/authkit/reset-password",
        &[("token", &token), ("csrf_token", &csrf), ("password", "my new long passphrase")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Password changed"));
    assert_eq!(app.refresh(&tokens.refresh_token).await.0, 400, "every session ended");
    assert_eq!(app.password_login("known@example.com", "my new long passphrase").await.0, 200);
    let (status, html, _) = post(
        &app,
        "/authkit/reset-password",
        &[("token", &token), ("csrf_token", &csrf), ("password", "yet another passphrase")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("expired"));
}

/// A hosted sign-up's answers, with what differs by nature (the address, the request, the CSRF
/// token) blanked: the 303, the code page, a wrong code, and a resend.
async fn uniform_sign_up_answers(app: &TestApp, email: &str) -> Vec<String> {
    let (request, csrf) = start(app, "&screen_hint=sign-up").await;
    let blank = |html: String| html.replace(email, "EMAIL").replace(&request, "REQUEST").replace(&csrf, "CSRF");
    let form = [
        ("request", request.as_str()),
        ("csrf_token", &csrf),
        ("email", email),
        ("password", "another horse battery staple"),
    ];
    let (status, body, location) = post(app, "/authkit/sign-up", &form).await;
    let location = location.unwrap_or_default();
    let mut answers = vec![format!("{status} {} {}", blank(location.clone()), blank(body))];
    let page = app.http.get(app.at(&location)).send().await.unwrap();
    answers.push(format!("{} {}", page.status(), blank(page.text().await.unwrap())));
    let code = [("request", request.as_str()), ("csrf_token", &csrf), ("code", "000000")];
    let (status, body, _) = post(app, "/authkit/verify-email", &code).await;
    answers.push(format!("{status} {}", blank(body)));
    let (status, body, _) = post(app, "/authkit/verify-email/resend", &code[..2]).await;
    answers.push(format!("{status} {}", blank(body)));
    // The other step-up pages know nothing of a sign-up waiting for its code, real or decoy.
    for page in ["/authkit/two-factor", "/authkit/two-factor/setup"] {
        let res = app.http.get(app.at(&format!("{page}?request={request}"))).send().await.unwrap();
        answers.push(format!("{page} {} {}", res.status(), blank(res.text().await.unwrap())));
    }
    answers
}

#[tokio::test]
async fn sign_up_answers_the_same_whether_or_not_the_address_has_an_account() {
    let app = TestApp::spawn().await;
    app.create_user("known@example.com").await;
    app.create_user("scope@example.com").await;
    let env = app.core.environment_by_name("development").await.unwrap();
    let new = uniform_sign_up_answers(&app, "new@example.com").await;
    assert!(new[0].starts_with("303 /authkit/verify-email?request=REQUEST"), "{}", new[0]);
    assert!(new[1].starts_with("200 ") && new[1].contains("EMAIL"), "{}", new[1]);
    assert!(new[2].starts_with("400 ") && new[2].contains("The code is incorrect."), "{}", new[2]);
    assert!(new[3].contains("We sent a new code."), "{}", new[3]);
    assert!(new[4].starts_with("/authkit/two-factor 4"), "{}", new[4]);
    assert!(new[5].starts_with("/authkit/two-factor/setup 4"), "{}", new[5]);
    // An address with an account, and one that looks like an account's (Cyrillic ѕсоре).
    for taken in ["known@example.com", "\u{0455}\u{0441}\u{043E}\u{0440}\u{0435}@example.com"] {
        assert_eq!(uniform_sign_up_answers(&app, taken).await, new, "{taken}");
    }
    // Nothing was created for them; the owner was told, with a way to sign in.
    let (_, list) = app.api(reqwest::Method::GET, "/user_management/users", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 3, "known, scope and new");
    let emails = app.core.store.list_emails(Some(&env.id), 50).await.unwrap();
    let to_known: Vec<&str> =
        emails.iter().filter(|e| e.to_address == "known@example.com").map(|e| e.kind.as_str()).collect();
    assert_eq!(to_known, ["sign_up_attempt"], "one notice; a resend sends nothing more");
    // The account's password is untouched, and the new address's code finishes its sign-up.
    assert_eq!(app.password_login("known@example.com", PASSWORD).await.0, 200);
    let (request, csrf) = start(&app, "&screen_hint=sign-up").await;
    let form =
        [("request", request.as_str()), ("csrf_token", &csrf), ("email", "late@example.com"), ("password", PASSWORD)];
    assert_eq!(post(&app, "/authkit/sign-up", &form).await.0, 303);
    let code = latest_code(&app, CodeKind::EmailVerification, "late@example.com").await;
    let (status, _, location) =
        post(&app, "/authkit/verify-email", &[("request", &request), ("csrf_token", &csrf), ("code", &code)]).await;
    assert_eq!(status, 303);
    assert!(location.unwrap().starts_with("http://localhost:5173/callback?code="));
}

#[tokio::test]
async fn a_decoy_sign_up_counts_code_attempts_like_a_real_one() {
    let app = TestApp::spawn().await;
    app.create_user("known@example.com").await;
    let mut messages = Vec::new();
    for email in ["fresh@example.com", "known@example.com"] {
        let (request, csrf) = start(&app, "&screen_hint=sign-up").await;
        let form = [("request", request.as_str()), ("csrf_token", &csrf), ("email", email), ("password", PASSWORD)];
        assert_eq!(post(&app, "/authkit/sign-up", &form).await.0, 303);
        let wrong = if email == "fresh@example.com" {
            let code = latest_code(&app, CodeKind::EmailVerification, email).await;
            if code == "000000" { "111111" } else { "000000" }.to_owned()
        } else {
            "000000".to_owned()
        };
        let mut seen = Vec::new();
        for _ in 0..6 {
            let (status, body, _) =
                post(&app, "/authkit/verify-email", &[("request", &request), ("csrf_token", &csrf), ("code", &wrong)])
                    .await;
            let alert = body.split("role=\"alert\"").nth(1).unwrap_or("").split('<').next().unwrap_or("").to_owned();
            seen.push(format!("{status}{alert}"));
        }
        messages.push(seen);
    }
    assert_eq!(messages[0], messages[1]);
    assert_ne!(messages[0][0], messages[0][5], "the code stops working after five attempts");
}

#[tokio::test]
async fn a_look_alike_address_gets_the_same_magic_auth_answer_and_no_account() {
    let app = TestApp::spawn().await;
    app.create_user("scope@example.com").await;
    let mut answers = Vec::new();
    for email in ["fresh@example.com", "\u{0455}\u{0441}\u{043E}\u{0440}\u{0435}@example.com"] {
        let (request, csrf) = start(&app, "").await;
        let (status, html, _) =
            post(&app, "/authkit/magic-auth", &[("request", &request), ("csrf_token", &csrf), ("email", email)]).await;
        answers.push(format!("{status} {}", html.replace(email, "EMAIL").replace(&request, "R").replace(&csrf, "C")));
    }
    assert_eq!(answers[0], answers[1]);
    assert!(answers[0].starts_with("200 "), "{}", answers[0]);
    let (_, list) = app.api(reqwest::Method::GET, "/user_management/users", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2, "scope and fresh only");
    // A mixed-script address is refused the same way whether or not it was stored before.
    let (request, csrf) = start(&app, "&screen_hint=sign-up").await;
    let form = [
        ("request", request.as_str()),
        ("csrf_token", &csrf),
        ("email", "p\u{0430}ypal@example.com"),
        ("password", PASSWORD),
    ];
    let (status, html, _) = post(&app, "/authkit/sign-up", &form).await;
    assert_eq!(status, 400);
    assert!(html.contains("scripts"), "{html}");
}

#[tokio::test]
async fn sign_up_notices_follow_the_per_recipient_send_limits() {
    use gatehouse::service::throttle::{SENDS_PER_PAIR, SIGN_UPS_PER_ADDRESS};
    let app = TestApp::spawn().await;
    app.create_user("known@example.com").await;
    let env = app.core.environment_by_name("development").await.unwrap();
    for _ in 0..SIGN_UPS_PER_ADDRESS.max {
        let (request, csrf) = start(&app, "&screen_hint=sign-up").await;
        let form = [
            ("request", request.as_str()),
            ("csrf_token", &csrf),
            ("email", "known@example.com"),
            ("password", PASSWORD),
        ];
        assert_eq!(post(&app, "/authkit/sign-up", &form).await.0, 303, "answered as ever");
    }
    let notices = app.core.store.list_emails(Some(&env.id), 100).await.unwrap();
    let to_owner = notices.iter().filter(|e| e.to_address == "known@example.com").count();
    assert_eq!(to_owner as i64, SENDS_PER_PAIR.max, "one client cannot flood the owner's mailbox");
}

/// The code a sign-in owes after its first factor counts against the client's own pair
/// (recipient, client address), like every resend from that client; without the address it
/// would share one pair with every addressless send to that recipient.
#[tokio::test]
async fn a_step_up_code_counts_against_the_pair_of_the_client_that_signed_in() {
    use gatehouse::service::throttle::SENDS_PER_PAIR;
    let app = TestApp::spawn().await;
    app.set(&[("email_verification_required", "true"), ("uniform_sign_up", "false")]).await;
    let (request, csrf) = start(&app, "&screen_hint=sign-up").await;
    let form =
        [("request", request.as_str()), ("csrf_token", &csrf), ("email", "pair@example.com"), ("password", PASSWORD)];
    let (status, _, location) = post(&app, "/authkit/sign-up", &form).await;
    assert_eq!((status, location), (303, Some(format!("/authkit/verify-email?request={request}"))));
    let resend = [("request", request.as_str()), ("csrf_token", &csrf)];
    // The sign-up's own code was the pair's first send.
    for n in 2..=SENDS_PER_PAIR.max {
        let (status, body, _) = post(&app, "/authkit/verify-email/resend", &resend).await;
        assert_eq!(status, 200, "send {n} of {}: {body}", SENDS_PER_PAIR.max);
    }
    let (status, body, _) = post(&app, "/authkit/verify-email/resend", &resend).await;
    assert_eq!(status, 429, "one send more than the pair allows: {body}");
    assert!(body.contains("Too many requests. Try again in"), "{body}");
}
