//! `GET /`: what this server is, with links to each environment's JWKS and discovery document,
//! the development sign-in page, and the docs. Everything shown here is public anyway
//! (client IDs travel in every browser app).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

use crate::domain::environment::Branding;
use crate::web::AppState;
use crate::web::hosted::error::PageError;
use crate::web::pages::{brand, pages};

pub async fn landing(State(state): State<AppState>) -> Result<Response, PageError> {
    let config = state.core.config();
    let mut environments = Vec::new();
    for env in state.core.list_environments().await? {
        let loaded = state.core.load_environment(&env.client_id).await?;
        // The development environment gets a sign-in link back to its first redirect URI.
        let redirect_uri = loaded.filter(|_| env.is_development()).and_then(|l| {
            l.redirect_uris.iter().find(|u| u.ends_with("5173/callback")).or(l.redirect_uris.first()).cloned()
        });
        let sign_in = redirect_uri.as_ref().map(|uri| {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("client_id", &env.client_id)
                .append_pair("redirect_uri", uri)
                .append_pair("response_type", "code")
                .append_pair("provider", "authkit")
                .finish();
            format!("/user_management/authorize?{query}")
        });
        environments.push(context! {
            name => &env.name,
            client_id => &env.client_id,
            jwks => config.jwks_url(&env.client_id),
            discovery => format!("{}/.well-known/openid-configuration", config.issuer(&env.client_id)),
            sign_in,
            redirect_uri,
        });
    }
    let ctx = context! { title => "Gatehouse is running", brand => brand(&Branding::default(), None), environments };
    Ok(pages().render("landing.html", StatusCode::OK, ctx, None))
}
