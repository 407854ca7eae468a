//! Impersonation (issue 10.3): a one-time link leads the operator's browser to the app, whose
//! next sign-in comes back as the user with `impersonator` and an `act` claim; the session is
//! short, listed as an impersonation, recorded in `session.created` and the audit trail, and
//! the environment setting forbids it.

use gatehouse::domain::audit::Actor;
use reqwest::Method;
use serde_json::{Value, json};

use crate::hosted::{CHALLENGE, VERIFIER};
use crate::support::{TestApp, claims};

const REDIRECT: &str = "http://localhost:5173/callback";

fn authorize_url(app: &TestApp) -> String {
    app.at(&format!(
        "/user_management/authorize?client_id={}&redirect_uri={}&response_type=code&state=s1\
         &code_challenge={CHALLENGE}&code_challenge_method=S256",
        app.client_id,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    ))
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

/// Opens the link and signs in through the app's `/authorize`: the tokens' answer.
async fn impersonate_through_the_app(app: &TestApp, link: &str) -> Value {
    let res = app.http.get(link).send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(location(&res), "http://localhost:5173/", "to the app, which starts its own sign-in");
    let res = app.http.get(authorize_url(app)).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let back = url::Url::parse(&location(&res)).unwrap();
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    let q: std::collections::HashMap<String, String> = back.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "s1");
    let (status, body) = app
        .authenticate(json!({
            "grant_type": "authorization_code", "client_id": app.client_id,
            "code": q["code"], "code_verifier": VERIFIER,
        }))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn an_operator_signs_in_as_the_user_for_an_hour_at_most() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com").await;
    let id = user["id"].as_str().unwrap();
    let env = app.core.environment_by_name("development").await.unwrap();
    let link =
        app.core.impersonate(&env, "Ada@Example.com", "Ops@Example.com", "ticket 42", &Actor::Cli).await.unwrap();
    assert_eq!(link.user_id, id);

    let body = impersonate_through_the_app(&app, &link.url).await;
    assert_eq!(body["impersonator"], json!({"email": "ops@example.com", "reason": "ticket 42"}));
    assert_eq!(body["authentication_method"], "Impersonation");
    assert_eq!(body["user"]["id"], id);
    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(access["act"], json!({"sub": "ops@example.com"}));
    assert_eq!(access["sub"], id);

    // The link and the grant are single use: the app's next sign-in is an ordinary one.
    let res = app.http.get(&link.url).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let res = app.http.get(authorize_url(&app)).send().await.unwrap();
    assert!(location(&res).starts_with("/authkit/sign-in"), "{}", location(&res));

    // Listed with the user's sessions, marked as an impersonation, ending within the hour.
    let (status, sessions) = app.api(Method::GET, &format!("/user_management/users/{id}/sessions"), None).await;
    assert_eq!(status, 200, "{sessions}");
    let s = &sessions["data"][0];
    assert_eq!(s["auth_method"], "impersonation");
    assert_eq!(s["impersonator"], json!({"email": "ops@example.com", "reason": "ticket 42"}));
    let created =
        time::OffsetDateTime::parse(s["created_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    let expires =
        time::OffsetDateTime::parse(s["expires_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert_eq!((expires - created).whole_minutes(), 60);

    // session.created names the impersonator; no authentication.* event (nobody proved anything).
    let (_, events) = app.api(Method::GET, "/events?limit=100", None).await;
    let events = events["data"].as_array().unwrap();
    let started: Vec<&Value> = events.iter().filter(|e| e["event"] == "session.created").collect();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["data"]["impersonator"]["email"], "ops@example.com");
    assert!(!events.iter().any(|e| e["event"].as_str().unwrap().starts_with("authentication.")));
    let (_, audit) = app.api(Method::GET, "/events?events=gatehouse.impersonation.created", None).await;
    assert_eq!(audit["data"][0]["data"]["after"]["operator_email"], "ops@example.com");
    assert_eq!(audit["data"][0]["data"]["actor"], json!({"type": "cli"}));

    // Refreshes keep the impersonation (and never mint a token past its end), until the hour is up.
    app.clock.advance_secs(58 * 60);
    let (status, refreshed) = app.refresh(body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(refreshed["impersonator"]["email"], "ops@example.com");
    let again = claims(refreshed["access_token"].as_str().unwrap());
    assert_eq!(again["act"], json!({"sub": "ops@example.com"}));
    let end = expires.unix_timestamp();
    assert!(again["exp"].as_i64().unwrap() <= end, "{again}");
    app.clock.advance_secs(3 * 60);
    let (status, gone) = app.refresh(refreshed["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, gone["error"].as_str()), (400, Some("invalid_grant")), "the session ended on time");
}

#[tokio::test]
async fn session_revoked_names_the_impersonator_too() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com").await;
    let env = app.core.environment_by_name("development").await.unwrap();
    let link = app.core.impersonate(&env, "ada@example.com", "ops@example.com", "ticket 9", &Actor::Cli).await.unwrap();
    let body = impersonate_through_the_app(&app, &link.url).await;
    let session_id = claims(body["access_token"].as_str().unwrap())["sid"].as_str().unwrap().to_owned();
    let (status, _) =
        app.api(Method::POST, "/user_management/sessions/revoke", Some(json!({"session_id": session_id}))).await;
    assert_eq!(status, 200);
    let (_, events) = app.api(Method::GET, "/events?events=session.revoked", None).await;
    let revoked = &events["data"][0]["data"];
    assert_eq!(revoked["id"], session_id.as_str());
    assert_eq!(revoked["user_id"], user["id"]);
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["impersonator"], json!({"email": "ops@example.com", "reason": "ticket 9"}));
    // An ordinary session's revocation has no impersonator.
    let tokens = app.login("ada@example.com").await;
    let own = claims(&tokens.access_token)["sid"].as_str().unwrap().to_owned();
    let (status, _) = app.api(Method::POST, "/user_management/sessions/revoke", Some(json!({"session_id": own}))).await;
    assert_eq!(status, 200);
    let (_, events) = app.api(Method::GET, "/events?events=session.revoked", None).await;
    let ordinary = events["data"].as_array().unwrap().iter().find(|e| e["data"]["id"] == own.as_str()).unwrap();
    assert!(ordinary["data"].get("impersonator").is_none(), "{ordinary}");
}

#[tokio::test]
async fn the_setting_forbids_it_even_for_a_link_already_issued() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com").await;
    let env = app.core.environment_by_name("development").await.unwrap();
    assert!(env.settings.allow_impersonation, "on by default outside production");
    let link = app.core.impersonate(&env, "ada@example.com", "ops@example.com", "ticket 7", &Actor::Cli).await.unwrap();
    app.set(&[("allow_impersonation", "false")]).await;
    let env = app.core.environment_by_name("development").await.unwrap();
    let refused = app.core.impersonate(&env, "ada@example.com", "ops@example.com", "ticket 8", &Actor::Cli).await;
    assert!(refused.unwrap_err().to_string().contains("allow_impersonation"));
    // The earlier link no longer works (the environment cache lives two seconds).
    app.clock.advance_secs(3);
    let res = app.http.get(&link.url).send().await.unwrap();
    assert_eq!(res.status(), 400);
    // Production starts with it off; a reason and a known user are required.
    let prod = app.core.ensure_environment("production", &Actor::Cli).await.unwrap();
    let prod = app.core.environment_by_name(&prod.environment).await.unwrap();
    assert!(!prod.settings.allow_impersonation);
    app.set(&[("allow_impersonation", "true")]).await;
    let env = app.core.environment_by_name("development").await.unwrap();
    assert!(app.core.impersonate(&env, "ada@example.com", "ops@example.com", "  ", &Actor::Cli).await.is_err());
    assert!(app.core.impersonate(&env, "nobody@example.com", "ops@example.com", "x", &Actor::Cli).await.is_err());
}
