//! The sign-in and sign-up forms: GET renders, POST checks and either re-renders with a clear
//! message or finishes with a 303 to `redirect_uri?code=…&state=…`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use minijinja::context;

use super::complete::{finish, finish_after};
use super::error::PageError;
use super::form::{FORM_EXPIRED, SavedRequest, SignInForm, minutes, scripted_page};
use super::security::THEN_SECURITY;
use crate::domain::session::AuthMethod;
use crate::domain::user::normalize_email;
use crate::service::Error;
use crate::service::auth::AuthorizeParams;
use crate::service::environments::LoadedEnvironment;
use crate::service::pending::PENDING_TTL_MS;
use crate::service::social::ProviderButton;
use crate::service::users::NewUser;
use crate::web::AppState;
use crate::web::cookies;
use crate::web::extract::ClientInfo;
use crate::web::outcome::refused;
use crate::web::redirects::see_other;

/// The form being shown, with what the user typed (never the password).
#[derive(Clone, Default)]
struct FormState {
    email: String,
    first_name: String,
    last_name: String,
    error: Option<String>,
}

#[derive(Clone, Copy)]
enum Screen {
    SignIn,
    SignUp,
}

/// What the sign-in and sign-up pages are drawn from.
struct Forms<'a> {
    state: &'a AppState,
    headers: &'a HeaderMap,
    env: &'a LoadedEnvironment,
    params: &'a AuthorizeParams,
    providers: Vec<ProviderButton>,
}

impl<'a> Forms<'a> {
    /// The buttons of the environment's sign-in providers, with the rest.
    async fn load(
        state: &'a AppState,
        headers: &'a HeaderMap,
        env: &'a LoadedEnvironment,
        params: &'a AuthorizeParams,
    ) -> Result<Forms<'a>, PageError> {
        let providers = state.core.provider_buttons(env).await?;
        Ok(Forms { state, headers, env, params, providers })
    }

    fn show(&self, screen: Screen, status: StatusCode, form: FormState) -> Response {
        let settings = &self.env.settings;
        let email_ok = self.state.core.check_email_available(self.env).is_ok();
        let then_security = self.params.then.as_deref() == Some(THEN_SECURITY);
        let (template, title, subtitle) = match screen {
            Screen::SignIn if then_security => (
                "sign_in.html",
                "Sign in".to_owned(),
                "to manage your passkeys and two-factor authentication".to_owned(),
            ),
            Screen::SignIn => {
                ("sign_in.html", "Sign in".to_owned(), format!("to continue to {}", settings.branding.app_name))
            }
            Screen::SignUp => (
                "sign_up.html",
                "Create your account".to_owned(),
                format!("to get started with {}", settings.branding.app_name),
            ),
        };
        let passkeys = self.state.core.passkeys_available();
        let ctx = context! {
            title, subtitle, request => &self.params.request_id,
            email => form.email, first_name => form.first_name, last_name => form.last_name,
            error => form.error,
            then_security,
            email_locked => self.params.invitation_id.is_some(),
            ..crate::web::pages::sign_in_options(settings, email_ok, passkeys, &self.providers)
        };
        let target = Some(self.params.redirect_uri.as_str());
        let (state, headers, env) = (self.state, self.headers, self.env);
        if matches!(screen, Screen::SignIn) && passkeys {
            scripted_page(state, headers, template, status, env, target, ctx)
        } else {
            super::form::page(state, headers, template, status, env, target, ctx)
        }
    }
}

pub async fn sign_in_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    saved: SavedRequest,
) -> Result<Response, PageError> {
    let forms = Forms::load(&state, &headers, &saved.env, &saved.params).await?;
    let form = FormState { email: saved.params.login_hint.clone().unwrap_or_default(), ..FormState::default() };
    Ok(forms.show(Screen::SignIn, StatusCode::OK, form))
}

pub async fn sign_up_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    saved: SavedRequest,
) -> Result<Response, PageError> {
    let forms = Forms::load(&state, &headers, &saved.env, &saved.params).await?;
    if !saved.env.settings.sign_up_enabled {
        return Ok(forms.show(Screen::SignIn, StatusCode::OK, FormState::default()));
    }
    let form = FormState { email: saved.params.login_hint.clone().unwrap_or_default(), ..FormState::default() };
    Ok(forms.show(Screen::SignUp, StatusCode::OK, form))
}

pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    SignInForm { env, params, form: posted }: SignInForm,
) -> Result<Response, PageError> {
    let forms = Forms::load(&state, &headers, &env, &params).await?;
    let mut form = FormState { email: posted.field("email").trim().to_owned(), ..FormState::default() };
    if !posted.csrf_ok() {
        form.error = Some(FORM_EXPIRED.into());
        return Ok(forms.show(Screen::SignIn, StatusCode::BAD_REQUEST, form));
    }
    let password = posted.raw("password");
    if form.email.is_empty() || password.is_empty() {
        form.error = Some("Enter your email and password.".into());
        return Ok(forms.show(Screen::SignIn, StatusCode::BAD_REQUEST, form));
    }
    let device = cookies::read(&headers, cookies::DEVICE, state.https());
    match state.core.verify_password_sign_in(&env, &form.email, &password, &info, device.as_deref()).await {
        Ok(checked) => {
            let params = match accept_invitation(&state, &params, &checked.user).await? {
                Ok(params) => params,
                Err(message) => {
                    form.error = Some(message);
                    return Ok(forms.show(Screen::SignIn, StatusCode::BAD_REQUEST, form));
                }
            };
            let address = info.address.as_ref();
            finish_after(&state, &env, &params, &checked.user, &AuthMethod::Password, checked.first, address).await
        }
        Err(Error::InvalidCredentials { .. }) => {
            form.error = Some("Incorrect email or password.".into());
            Ok(refused(forms.show(Screen::SignIn, StatusCode::BAD_REQUEST, form), "invalid_credentials"))
        }
        Err(Error::RateLimited { retry_after_secs }) => {
            form.error = Some(format!("Too many sign-in attempts. Try again in {}.", minutes(retry_after_secs)));
            let mut response = forms.show(Screen::SignIn, StatusCode::TOO_MANY_REQUESTS, form);
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn sign_up(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientInfo(info): ClientInfo,
    SignInForm { env, params, form: posted }: SignInForm,
) -> Result<Response, PageError> {
    let forms = Forms::load(&state, &headers, &env, &params).await?;
    let form = FormState {
        email: posted.field("email").trim().to_owned(),
        first_name: posted.field("first_name").trim().to_owned(),
        last_name: posted.field("last_name").trim().to_owned(),
        error: None,
    };
    let refuse = |status, message: &str| {
        let shown = FormState { error: Some(message.to_owned()), ..form.clone() };
        Ok(forms.show(Screen::SignUp, status, shown))
    };
    if !posted.csrf_ok() {
        return refuse(StatusCode::BAD_REQUEST, FORM_EXPIRED);
    }
    if !env.settings.sign_up_enabled {
        return refuse(StatusCode::FORBIDDEN, "Sign-up is turned off for this application.");
    }
    let password = posted.raw("password");
    if form.email.is_empty() || password.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "Enter your email and choose a password.");
    }
    if let Err(e) = state.core.admit_sign_up(&env.id, info.address.as_ref()).await {
        let Error::RateLimited { retry_after_secs } = e else {
            return Err(e.into());
        };
        let message = format!("Too many sign-up attempts. Try again in {}.", minutes(retry_after_secs));
        let shown = FormState { error: Some(message), ..form.clone() };
        let mut response = forms.show(Screen::SignUp, StatusCode::TOO_MANY_REQUESTS, shown);
        if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Ok(response);
    }
    let invitation = match &params.invitation_id {
        Some(id) => match state.core.pending_invitation_by_id(&env.id, id).await {
            Ok(invitation) => Some(invitation),
            Err(Error::Rejected { .. }) => {
                return refuse(StatusCode::BAD_REQUEST, "This invitation is no longer valid. Ask for a new one.");
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    if let Some(invitation) = &invitation
        && normalize_email(&form.email).as_deref() != Some(invitation.email.as_str())
    {
        let message = format!("This invitation was sent to {}: sign up with that address.", invitation.email);
        return refuse(StatusCode::BAD_REQUEST, &message);
    }
    let new = NewUser {
        email: form.email.clone(),
        // The invitation's link came to this address.
        email_verified: invitation.is_some(),
        password: Some(password),
        first_name: Some(form.first_name.clone()).filter(|s| !s.is_empty()),
        last_name: Some(form.last_name.clone()).filter(|s| !s.is_empty()),
        ..NewUser::default()
    };
    // An invitation's link proved the address to its holder: nothing to hide from them.
    if invitation.is_none() && state.core.uniform_sign_up(&env) {
        // The same answer whether or not the address has an account (`service::sign_up`).
        let sign_in_link = format!("{}/authkit/sign-in?request={}", state.core.config().public_url, params.request_id);
        let started = match state.core.start_uniform_sign_up(&env, new, info.address.as_ref(), &sign_in_link).await {
            Ok(started) => started,
            Err(Error::PasswordStrength(message) | Error::Validation { message, .. }) => {
                return refuse(StatusCode::BAD_REQUEST, &message);
            }
            Err(e) => return Err(e.into()),
        };
        // The same line for a new and a taken address, as the answer is.
        let client_address = info.ip_address().unwrap_or_else(|| "-".into());
        tracing::info!(%client_address, "hosted sign-up started, waiting for the emailed code");
        let mut response = see_other(&format!("/authkit/verify-email?request={}", params.request_id));
        if let Some(cookie) =
            cookies::set(cookies::PENDING, &started.pending_token, state.https(), Some(PENDING_TTL_MS / 1000))
        {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        return Ok(response);
    }
    let user = match state.core.create_user(&env, new).await {
        Ok(user) => user,
        Err(Error::PasswordStrength(message) | Error::Validation { message, .. }) => {
            return refuse(StatusCode::BAD_REQUEST, &message);
        }
        Err(Error::Conflict { .. }) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "We couldn't create an account with this email. If you already have one, sign in instead.",
            );
        }
        Err(e) => return Err(e.into()),
    };
    let client_address = info.ip_address().unwrap_or_else(|| "-".into());
    tracing::info!(user.id = %user.id, %client_address, "signed up through the hosted page");
    let params = match accept_invitation(&state, &params, &user).await? {
        Ok(params) => params,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
    };
    finish(&state, &env, &params, &user, &AuthMethod::Password, info.address.as_ref()).await
}

/// Accepts the request's invitation, if any, for `user`: the request then enters its
/// organization. `Err(message)` when it cannot be (another address, no longer pending).
async fn accept_invitation(
    state: &AppState,
    params: &AuthorizeParams,
    user: &crate::domain::user::User,
) -> Result<Result<AuthorizeParams, String>, PageError> {
    let Some(id) = &params.invitation_id else { return Ok(Ok(params.clone())) };
    let invitation = match state.core.pending_invitation_by_id(&user.environment_id, id).await {
        Ok(invitation) => invitation,
        Err(Error::Rejected { .. }) => return Ok(Err("This invitation is no longer valid. Ask for a new one.".into())),
        Err(e) => return Err(e.into()),
    };
    match state.core.redeem_invitation(&invitation, user).await {
        Ok(organization) => Ok(Ok(AuthorizeParams {
            organization_id: organization.or_else(|| params.organization_id.clone()),
            invitation_id: None,
            ..params.clone()
        })),
        Err(Error::Rejected { message, .. }) => Ok(Err(message)),
        Err(e) => Err(e.into()),
    }
}
