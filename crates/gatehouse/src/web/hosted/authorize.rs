//! `GET /user_management/authorize` (wire spec §3.2, §7.1): validates the request, keeps it,
//! and sends the browser to the sign-in or sign-up page.
//!
//! Until the client and redirect URI are known good, problems are shown as a page and never
//! redirected (an open redirector otherwise). After that, OAuth errors go back to the app.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::error::PageError;
use crate::domain::environment::Branding;
use crate::domain::redirect::with_query;
use crate::service::auth::{AuthorizeParams, is_valid_code_challenge};
use crate::web::AppState;
use crate::web::extract::ClientInfo;
use crate::web::pages::pages;
use crate::web::redirects::found;

/// The longest `/authorize` query string accepted (every stored parameter is inside it).
const MAX_QUERY_BYTES: usize = 8 * 1024;
/// The longest `state` kept for the app (OAuth sets no limit; apps use a nonce or a short JSON).
const MAX_STATE_CHARS: usize = 2048;
/// The longest `login_hint` (an email address is at most 254).
const MAX_LOGIN_HINT_CHARS: usize = 320;

pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    if query.as_ref().is_some_and(|q| q.len() > MAX_QUERY_BYTES) {
        return Ok(pages().message(
            StatusCode::URI_TOO_LONG,
            &Branding::default(),
            "This sign-in link is too long",
            &format!("A sign-in request may be at most {MAX_QUERY_BYTES} bytes; `state` at most {MAX_STATE_CHARS} characters."),
        ));
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let fail = |title: &str, detail: String| {
        Ok(pages().message(StatusCode::BAD_REQUEST, &Branding::default(), title, &detail))
    };

    let Some(client_id) = get("client_id") else {
        return fail(
            "This sign-in link is incomplete",
            "The request has no client_id. Check how your app builds its sign-in URL.".into(),
        );
    };
    let Some(env) = state.core.load_environment(&client_id).await? else {
        return fail(
            "This sign-in link isn't valid",
            format!(
                "No application uses the client ID '{client_id}'. Check WORKOS_CLIENT_ID (or VITE_WORKOS_CLIENT_ID) in your app."
            ),
        );
    };
    let Some(redirect_uri) = get("redirect_uri") else {
        return fail("This sign-in link is incomplete", "The request has no redirect_uri.".into());
    };
    if !crate::service::Core::redirect_uri_allowed(&env, &redirect_uri) {
        return fail(
            "This sign-in link isn't allowed",
            format!(
                "The redirect URI '{redirect_uri}' is not registered for {}. Register it with `gatehouse redirect-uris add {redirect_uri}` or POST /user_management/redirect_uris.",
                env.name
            ),
        );
    }
    let state_param = pairs.iter().find(|(k, _)| k == "state").map(|(_, v)| v.clone());
    let bounce = |error: &str, description: &str| {
        let mut params = vec![("error", error), ("error_description", description)];
        if let Some(s) = &state_param {
            params.push(("state", s.as_str()));
        }
        Ok(found(&with_query(&redirect_uri, &params)))
    };
    if get("response_type").as_deref() != Some("code") {
        return bounce("unsupported_response_type", "response_type must be code.");
    }
    let code_challenge = get("code_challenge");
    match (code_challenge.as_deref(), get("code_challenge_method").as_deref()) {
        (Some(_), Some("S256")) => {}
        (Some(_), None) => return bounce("invalid_request", "code_challenge_method must be S256."),
        (Some(_), Some(_)) => {
            return bounce("invalid_request", "code_challenge_method must be S256; plain is not allowed.");
        }
        (None, Some(_)) => {
            return bounce("invalid_request", "code_challenge_method was given without a code_challenge.");
        }
        (None, None) => {}
    }
    // A challenge is a base64url SHA-256: 43 characters of the verifier alphabet.
    if code_challenge.as_deref().is_some_and(|c| !is_valid_code_challenge(c)) {
        return bounce(
            "invalid_request",
            "code_challenge must be the base64url SHA-256 of the code_verifier (43 characters).",
        );
    }
    // Any provider other than AuthKit skips the hosted pages and goes to that provider.
    let provider = get("provider").filter(|p| p != "authkit");
    let social_options = match &provider {
        Some(_) => match super::social::options_from_query(&pairs, get("login_hint")) {
            Ok(options) => Some(options),
            Err(message) => return bounce("invalid_request", &message),
        },
        None => None,
    };
    if let Some((error, description)) = unsupported_parameter(&get) {
        return bounce(error, &description);
    }
    // A password reset link sent through `/authorize` (WorkOS's `password_reset_token`): the hosted
    // page that sets the new password with that token, which checks it (an unknown or spent
    // token gets the expired-link page there).
    if let Some(token) = get("password_reset_token") {
        let query: String = form_urlencoded::Serializer::new(String::new()).append_pair("token", &token).finish();
        return Ok(found(&format!("/authkit/reset-password?{query}")));
    }
    let screen_hint = get("screen_hint");
    if screen_hint.as_deref().is_some_and(|h| h != "sign-in" && h != "sign-up") {
        return bounce("invalid_request", "screen_hint must be sign-in or sign-up.");
    }
    if state_param.as_ref().is_some_and(|s| s.chars().count() > MAX_STATE_CHARS) {
        return bounce("invalid_request", &format!("state must be at most {MAX_STATE_CHARS} characters."));
    }
    if get("login_hint").is_some_and(|h| h.chars().count() > MAX_LOGIN_HINT_CHARS) {
        return bounce("invalid_request", &format!("login_hint must be at most {MAX_LOGIN_HINT_CHARS} characters."));
    }
    if let Err(crate::service::Error::RateLimited { retry_after_secs }) =
        state.core.admit_pending_state(info.address.as_ref()).await
    {
        return Ok(too_many_sign_ins(retry_after_secs));
    }
    let organization_id = get("organization_id");
    if let Some(org) = &organization_id
        && state.core.get_organization(&env, org).await.is_err()
    {
        return bounce(
            "invalid_request",
            &format!("organization_id '{org}' is not an organization of this environment."),
        );
    }
    let invitation = match get("invitation_token") {
        Some(token) => match state.core.pending_invitation(&env.id, &token).await {
            Ok(invitation) => Some(invitation),
            Err(_) => {
                return bounce("invalid_request", "invitation_token is not a pending invitation of this environment.");
            }
        },
        None => None,
    };
    let screen_hint = screen_hint.or_else(|| invitation.as_ref().map(|_| "sign-up".to_owned()));
    let params = AuthorizeParams {
        organization_id,
        invitation_id: invitation.as_ref().map(|i| i.id.clone()),
        client_id,
        redirect_uri: redirect_uri.clone(),
        state: state_param.clone(),
        code_challenge,
        login_hint: invitation.as_ref().map(|i| i.email.clone()).or_else(|| get("login_hint")),
        screen_hint: screen_hint.clone(),
        request_id: String::new(),
        then: None,
    };
    // An operator who opened an impersonation link: straight back to the app as the user.
    let https = state.https();
    if let Some(grant) = crate::web::cookies::read(&headers, IMPERSONATION_COOKIE, https)
        && let Some(url) = state.core.redeem_impersonation_grant(&env, &grant, &params).await?
    {
        let mut response = found(&url);
        if let Some(clear) = crate::web::cookies::set(IMPERSONATION_COOKIE, "", https, Some(0)) {
            response.headers_mut().append(axum::http::header::SET_COOKIE, clear);
        }
        return Ok(response);
    }
    let request_id = state.core.save_authorization_request(&env, &params).await?;
    if let (Some(provider), Some(options)) = (&provider, &social_options) {
        return match super::social::start(&state, &headers, &env, &request_id, provider, options).await {
            Ok(response) => Ok(response),
            Err(super::social::StartFailure::InvalidRequest(message)) => bounce("invalid_request", &message),
            Err(super::social::StartFailure::Page(page)) => Ok(page),
        };
    }
    let page =
        if screen_hint.as_deref() == Some("sign-up") && env.settings.sign_up_enabled { "sign-up" } else { "sign-in" };
    Ok(found(&format!("/authkit/{page}?request={request_id}")))
}

/// The cookie holding an opened impersonation link's grant until the app's next sign-in.
const IMPERSONATION_COOKIE: &str = "gatehouse_impersonation";

/// `GET /authkit/impersonate?token=…`: an impersonation link (`gatehouse impersonate`). Spends
/// the token, keeps the grant in an HttpOnly cookie, and sends the browser to the app, whose
/// next sign-in comes back as the user (`service::impersonation`).
pub async fn impersonate(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, PageError> {
    let token = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    match state.core.open_impersonation(&token).await {
        Ok(opened) => {
            let mut response = found(&opened.landing);
            if let Some(cookie) = crate::web::cookies::set(
                IMPERSONATION_COOKIE,
                &opened.grant,
                state.https(),
                Some(opened.grant_max_age_secs),
            ) {
                response.headers_mut().append(axum::http::header::SET_COOKIE, cookie);
            }
            Ok(response)
        }
        Err(crate::service::Error::InvalidRequest(message))
        | Err(crate::service::Error::Validation { message, .. }) => {
            Ok(pages().message(StatusCode::BAD_REQUEST, &Branding::default(), "This link can't be used", &message))
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /authkit/invitation?client_id=…&invitation_token=…`, an invitation email's link: the
/// hosted sign-up for the invitation, returning to the environment's default redirect URI.
pub async fn invitation(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, PageError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let invalid = || {
        Ok(pages().message(
            StatusCode::BAD_REQUEST,
            &Branding::default(),
            "This invitation isn't valid",
            "The link is incomplete, or the invitation was revoked, accepted or has expired. Ask for a new one.",
        ))
    };
    let (Some(client_id), Some(token)) = (get("client_id"), get("invitation_token")) else { return invalid() };
    let Some(env) = state.core.load_environment(&client_id).await? else { return invalid() };
    if state.core.pending_invitation(&env.id, &token).await.is_err() {
        return invalid();
    }
    let Some(redirect_uri) = env.redirect_uris.first() else { return invalid() };
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("provider", "authkit")
        .append_pair("invitation_token", &token)
        .finish();
    Ok(found(&format!("/user_management/authorize?{query}")))
}

/// The 429 page for a client address past its limit of pending sign-ins
/// (`throttle::PENDING_STATE_PER_ADDRESS`), with `Retry-After`.
pub(super) fn too_many_sign_ins(retry_after_secs: i64) -> Response {
    let mut page = pages().message(
        StatusCode::TOO_MANY_REQUESTS,
        &Branding::default(),
        "Too many sign-in requests",
        &format!("This network started too many sign-ins. Try again in {retry_after_secs} seconds."),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&retry_after_secs.to_string()) {
        page.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    page
}

/// Parameters the SDKs may send that Gatehouse cannot serve (or that are malformed), as the OAuth
/// error to send back. Every sign-in through `/authorize` is a fresh one (Gatehouse keeps no
/// browser session that could skip the sign-in page), so `prompt=login` and any `max_age` are
/// honoured as they are, and the token's `auth_time` is that sign-in.
fn unsupported_parameter(get: &impl Fn(&str) -> Option<String>) -> Option<(&'static str, String)> {
    match get("prompt").as_deref() {
        None | Some("login" | "consent" | "select_account") => {}
        // OpenID Connect Core §3.1.2.6: no silent sign-in without a session to reuse.
        Some("none") => {
            return Some((
                "login_required",
                "prompt=none needs a signed-in browser session, which Gatehouse does not keep: every sign-in shows the sign-in page.".into(),
            ));
        }
        Some(other) => {
            return Some(("invalid_request", format!("prompt must be login, consent or none, not '{other}'.")));
        }
    }
    if get("max_age").is_some_and(|v| v.parse::<u64>().is_err()) {
        return Some(("invalid_request", "max_age must be a whole number of seconds.".into()));
    }
    for (name, what) in [
        ("connection_id", "SSO connections"),
        ("domain_hint", "SSO connections (domain_hint picks an organization's connection)"),
    ] {
        if get(name).is_some() {
            return Some(("invalid_request", format!("{name} needs {what}, which Gatehouse does not have yet.")));
        }
    }
    None
}
