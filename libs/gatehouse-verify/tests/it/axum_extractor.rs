//! The axum extractors.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use gatehouse_verify::Verifier;
use gatehouse_verify::axum::{Authenticated, MaybeAuthenticated};
use serde_json::json;
use tower::ServiceExt as _;

use crate::support::*;

fn app() -> Router {
    // Tokens are minted relative to the fixed test clock, so use a far-future exp here.
    let v: Verifier = default_verifier();
    Router::new()
        .route("/me", get(|Authenticated(id): Authenticated| async move { id.subject().to_string() }))
        .route(
            "/maybe",
            get(|MaybeAuthenticated(id): MaybeAuthenticated| async move {
                format!("{:?}", id.map(|i| i.subject().to_string()))
            }),
        )
        .with_state(v)
}

async fn call(path: &str, auth: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::builder().uri(path);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = app().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn live_token() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    rs_token(json!({"iat": now, "exp": now + 300}))
}

#[test]
fn required_identity() {
    run(async {
        let t = live_token();
        assert_eq!(call("/me", Some(&format!("Bearer {t}"))).await, (StatusCode::OK, "user_1".into()));
        let (status, body) = call("/me", None).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::UNAUTHORIZED, r#"{"code":"Unauthenticated","message":"No authentication token provided."}"#)
        );
        let (status, body) = call("/me", Some("Bearer nope")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, format!(r#"{{"code":"InvalidAuthHeader","message":"{PARSE_MSG}"}}"#));
        let (status, body) = call("/me", Some("Basic abcdef")).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::BAD_REQUEST, r#"{"code":"InvalidAdminKey","message":"Invalid admin key"}"#)
        );
    });
}

#[test]
fn optional_identity() {
    run(async {
        assert_eq!(call("/maybe", None).await, (StatusCode::OK, "None".into()));
        let t = live_token();
        assert_eq!(call("/maybe", Some(&format!("bearer {t}"))).await, (StatusCode::OK, "Some(\"user_1\")".into()));
        let (status, _) = call("/maybe", Some("Bearer x.y.z")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "an invalid token is rejected, as Convex's HTTP API does");
    });
}
