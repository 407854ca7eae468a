//! Rendering of HTML pages (minijinja templates compiled into the binary), their branding,
//! and the security headers that go with them.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value, context};

use crate::domain::environment::{Branding, Settings};
use crate::domain::redirect::origin_of;
use crate::service::social::ProviderButton;

/// The template set, compiled into the binary and parsed once.
pub fn pages() -> &'static Pages {
    static PAGES: LazyLock<Pages> = LazyLock::new(Pages::default);
    &PAGES
}

/// The template set.
pub struct Pages {
    templates: Environment<'static>,
}

impl Default for Pages {
    fn default() -> Pages {
        let mut templates = Environment::new();
        // Names end in .html, so minijinja escapes every value for HTML.
        for (name, source) in [
            ("layout.html", include_str!("../../templates/layout.html")),
            ("sign_in.html", include_str!("../../templates/sign_in.html")),
            ("sign_up.html", include_str!("../../templates/sign_up.html")),
            ("message.html", include_str!("../../templates/message.html")),
            ("email_form.html", include_str!("../../templates/email_form.html")),
            ("code.html", include_str!("../../templates/code.html")),
            ("new_password.html", include_str!("../../templates/new_password.html")),
            ("outbox.html", include_str!("../../templates/outbox.html")),
            ("social_buttons.html", include_str!("../../templates/social_buttons.html")),
            ("two_factor.html", include_str!("../../templates/two_factor.html")),
            ("two_factor_setup.html", include_str!("../../templates/two_factor_setup.html")),
            ("recovery_codes.html", include_str!("../../templates/recovery_codes.html")),
            ("security.html", include_str!("../../templates/security.html")),
            ("landing.html", include_str!("../../templates/landing.html")),
            ("organization_picker.html", include_str!("../../templates/organization_picker.html")),
        ] {
            if let Err(e) = templates.add_template(name, source) {
                // The templates are part of the binary and covered by tests.
                tracing::error!(template = name, error = %e, "hosted page template does not parse");
            }
        }
        Pages { templates }
    }
}

/// Branding values for the layout.
pub fn brand(branding: &Branding, client_id: Option<&str>) -> Value {
    let initial = branding.app_name.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_default();
    context! {
        app_name => &branding.app_name,
        logo_url => &branding.logo_url,
        client_id => client_id,
        initial => initial,
    }
}

/// What the sign-in and sign-up pages offer, from an environment's settings: shared by the
/// hosted pages and the console's branding preview, so the preview is the real page.
pub fn sign_in_options(settings: &Settings, email_ok: bool, passkeys: bool, providers: &[ProviderButton]) -> Value {
    context! {
        sign_up_enabled => settings.sign_up_enabled,
        magic_auth_enabled => settings.magic_auth_enabled && email_ok,
        password_reset_enabled => email_ok,
        min_length => settings.password_policy.min_length,
        providers => providers
            .iter()
            .map(|p| context! { name => &p.name, kind => &p.kind, label => &p.label, icon_url => &p.icon_url })
            .collect::<Vec<_>>(),
        passkeys,
    }
}

/// The hosted sign-in page as `branding` would make it, for the console's preview: the real
/// template, no form that can be sent (`form-action 'none'`, no scripts), no pending sign-in
/// behind it, and framable by the console only.
pub fn sign_in_preview(
    branding: &Branding,
    client_id: &str,
    settings: &Settings,
    email_ok: bool,
    providers: &[ProviderButton],
) -> Response {
    // The unsaved colour reaches the page through the brand stylesheet's `?color=`.
    let color: String = form_urlencoded::byte_serialize(branding.primary_color.as_bytes()).collect();
    let brand = context! { stylesheet_query => format!("?color={color}"), ..brand(branding, Some(client_id)) };
    let ctx = context! {
        title => "Sign in", subtitle => format!("to continue to {}", branding.app_name), request => "preview",
        email => "", first_name => "", last_name => "", csrf_token => "preview", brand,
        then_security => false, email_locked => false, preview => true,
        ..sign_in_options(settings, email_ok, false, providers)
    };
    let html = match pages().templates.get_template("sign_in.html").and_then(|t| t.render(ctx)) {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(error = %e, "sign-in preview failed to render");
            return (StatusCode::INTERNAL_SERVER_ERROR, Html("<!doctype html><title>Error</title><p>No preview.</p>"))
                .into_response();
        }
    };
    let mut response = (StatusCode::OK, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'none'; \
             frame-ancestors 'self'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl Pages {
    /// Renders a page with a status; `form_target` is the origin the form may redirect to.
    pub fn render(&self, name: &str, status: StatusCode, ctx: Value, form_target: Option<&str>) -> Response {
        self.render_with(name, status, ctx, form_target, "")
    }

    /// Renders a page that loads Gatehouse's own scripts (`/authkit/static/*.js`, passkeys):
    /// the CSP allows `script-src 'self'` and `connect-src 'self'` on these pages only.
    pub fn render_scripted(&self, name: &str, status: StatusCode, ctx: Value, form_target: Option<&str>) -> Response {
        self.render_with(name, status, ctx, form_target, " script-src 'self'; connect-src 'self';")
    }

    fn render_with(
        &self,
        name: &str,
        status: StatusCode,
        ctx: Value,
        form_target: Option<&str>,
        script_policy: &str,
    ) -> Response {
        let html = match self.templates.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(html) => html,
            Err(e) => {
                tracing::error!(template = name, error = %e, "hosted page failed to render");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html("<!doctype html><title>Error</title><p>Something went wrong. Please try again.</p>"),
                )
                    .into_response();
            }
        };
        let mut response = (status, Html(html)).into_response();
        let form_action = match form_target.and_then(origin_of) {
            Some(origin) => format!("'self' {origin}"),
            None => "'self'".to_owned(),
        };
        let csp = format!(
            "default-src 'none'; style-src 'self'; img-src 'self' https: data:;{script_policy} form-action {form_action}; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&csp) {
            headers.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// A page that explains a problem, with no form.
    pub fn message(&self, status: StatusCode, branding: &Branding, title: &str, detail: &str) -> Response {
        let ctx = context! { title, detail, brand => brand(branding, None) };
        self.render("message.html", status, ctx, None)
    }

    /// The page shown after sign-out when there is nowhere allowed to send the browser.
    pub fn signed_out(&self, return_to_refused: bool) -> Response {
        let detail = if return_to_refused {
            "You have been signed out. (The page you came from asked to go back to an address this server does not allow, so you are seeing this page instead.)"
        } else {
            "You have been signed out. You can close this window."
        };
        let ctx = context! { title => "Signed out", detail, brand => brand(&Branding::default(), None) };
        self.render("message.html", StatusCode::OK, ctx, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_and_escapes() {
        let pages = Pages::default();
        let ctx = context! {
            title => "Sign in", request => "r1", csrf_token => "t1", email => "<script>",
            sign_up_enabled => true, min_length => 8, brand => brand(&Branding::default(), Some("client_1")),
        };
        for name in [
            "sign_in.html",
            "sign_up.html",
            "message.html",
            "email_form.html",
            "code.html",
            "new_password.html",
            "outbox.html",
            "two_factor.html",
            "two_factor_setup.html",
            "recovery_codes.html",
            "security.html",
        ] {
            let html = pages.templates.get_template(name).unwrap().render(&ctx).unwrap();
            assert!(!html.contains("<script>"), "{name} must escape values");
        }
    }
}
