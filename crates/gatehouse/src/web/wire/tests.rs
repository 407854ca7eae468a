//! One snapshot per wire object and per error code: each sample is rendered to JSON and compared
//! with `snapshots/<name>.json`. Run with `GATEHOUSE_UPDATE_SNAPSHOTS=1` to write the files after
//! a deliberate change, then review the diff: it is the change to the wire contract.

#![cfg(test)]

use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::*;
use crate::domain::environment::{CorsOrigin as DomainCors, Environment, RedirectUri as DomainRedirect, Settings};
use crate::domain::factor::{AuthChallenge, AuthFactor};
use crate::domain::identity::Identity as DomainIdentity;
use crate::domain::one_time_code::OneTimeCode;
use crate::domain::provider::StoredProvider;
use crate::domain::public_key::PublicKey;
use crate::domain::session::{AuthMethod, Session as DomainSession};
use crate::domain::user::User as DomainUser;
use crate::service::Error;
use crate::service::auth::Authenticated;
use crate::service::error::{CodeProblem, Duplicate, FieldError, Rejection, StepUp, StepUpKind};
use crate::service::mfa::TotpEnrolment;
use crate::web::error::ApiError;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const T1: i64 = T0 + 90_000;

#[track_caller]
fn snapshot(name: &str, value: impl Serialize) {
    let actual = serde_json::to_string_pretty(&value).expect("serialises") + "\n";
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/web/wire/snapshots").join(format!("{name}.json"));
    if std::env::var_os("GATEHOUSE_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("no snapshot {}; run with GATEHOUSE_UPDATE_SNAPSHOTS=1", path.display()));
    assert_eq!(actual, expected, "wire object `{name}` differs from {}", path.display());
}

fn user() -> DomainUser {
    let mut metadata = Map::new();
    metadata.insert("plan".into(), json!("pro"));
    DomainUser {
        id: "user_01JAAAAAAAAAAAAAAAAAAAAAAA".into(),
        environment_id: "env_1".into(),
        email: "ada@example.com".into(),
        email_verified: true,
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        profile_picture_url: None,
        external_id: None,
        metadata,
        locale: None,
        password_hash: Some("$argon2id$secret".into()),
        last_sign_in_at: Some(T1),
        created_at: T0,
        updated_at: T1,
    }
}

fn code(kind: &str) -> OneTimeCode {
    OneTimeCode {
        id: format!("{kind}_01JBBBBBBBBBBBBBBBBBBBBBBB"),
        kind: kind.into(),
        environment_id: "env_1".into(),
        user_id: "user_01JAAAAAAAAAAAAAAAAAAAAAAA".into(),
        email: "ada@example.com".into(),
        code_hash: "hash".into(),
        sealed_code: "sealed".into(),
        attempts: 0,
        expires_at: T0 + 600_000,
        used_at: None,
        created_at: T0,
        updated_at: T0,
    }
}

fn factor() -> AuthFactor {
    AuthFactor {
        id: "auth_factor_01JCCCCCCCCCCCCCCCCCCCCCCC".into(),
        environment_id: "env_1".into(),
        user_id: Some("user_01JAAAAAAAAAAAAAAAAAAAAAAA".into()),
        factor_type: "totp".into(),
        secret_sealed: "sealed".into(),
        issuer: "Acme".into(),
        account: "ada@example.com".into(),
        verified_at: None,
        last_used_step: None,
        created_at: T0,
        updated_at: T0,
    }
}

fn challenge() -> AuthChallenge {
    AuthChallenge {
        id: "auth_challenge_01JDDDDDDDDDDDDDDDDDDDDDDD".into(),
        environment_id: "env_1".into(),
        factor_id: "auth_factor_01JCCCCCCCCCCCCCCCCCCCCCCC".into(),
        expires_at: T0 + 300_000,
        verified_at: None,
        created_at: T0,
        updated_at: T0,
    }
}

#[test]
fn user_object() {
    snapshot("user", User::from(&user()));
    let bare = DomainUser { first_name: None, last_name: None, last_sign_in_at: None, ..user() };
    snapshot("user_without_names", User::from(&bare));
}

#[test]
fn authenticate_response() {
    let done = Authenticated {
        user: user(),
        access_token: "eyJhbGciOiJSUzI1NiJ9.e30.sig".into(),
        refresh_token: "session_1.0.secret".into(),
        authentication_method: AuthMethod::Password,
        session_id: "session_1".into(),
        session_expires_at: T0 + 86_400_000,
        organization_id: None,
        impersonator: None,
    };
    snapshot("authenticate_response", AuthenticateResponse::from(&done));
    let impersonated = Authenticated {
        authentication_method: AuthMethod::Impersonation,
        impersonator: Some(crate::domain::event::Impersonator {
            email: "ops@example.com".into(),
            reason: Some("Ticket 42".into()),
        }),
        ..done.clone()
    };
    snapshot("authenticate_response_impersonation", AuthenticateResponse::from(&impersonated));
    let in_org = Authenticated { organization_id: Some("org_01JBBBBBBBBBBBBBBBBBBBBBBB".into()), ..done };
    snapshot("authenticate_response_in_organization", AuthenticateResponse::from(&in_org));
    snapshot("user_response", UserResponse::from(&user()));
}

#[test]
fn session_object() {
    let s = DomainSession {
        id: "session_01JEEEEEEEEEEEEEEEEEEEEEEE".into(),
        environment_id: "env_1".into(),
        user_id: "user_01JAAAAAAAAAAAAAAAAAAAAAAA".into(),
        auth_method: AuthMethod::OAuth("GitHubOAuth".into()),
        ip_address: Some("203.0.113.7".into()),
        user_agent: None,
        expires_at: T0 + 86_400_000,
        ended_at: None,
        created_at: T0,
        updated_at: T0,
        auth_time: T0,
        organization_id: None,
        impersonator_email: None,
        impersonator_reason: None,
    };
    snapshot("session", Session::new(&s, T1));
    let status = |s: &DomainSession, now| serde_json::to_value(Session::new(s, now)).unwrap()["status"].clone();
    assert_eq!(status(&s, T0 + 86_400_000), "expired");
    assert_eq!(status(&DomainSession { ended_at: Some(T1), ..s.clone() }, T1), "revoked");
    assert_eq!(
        serde_json::to_value(Session::new(&DomainSession { auth_method: AuthMethod::OAuth("acme".into()), ..s }, T1))
            .unwrap()["auth_method"],
        "unknown",
        "a custom provider has no WorkOS session kind"
    );
}

#[test]
fn factor_objects() {
    snapshot("authentication_factor", Factor::from(&factor()));
    snapshot("authentication_challenge", Challenge::from(&challenge()));
    let enrolment = TotpEnrolment {
        factor: factor(),
        secret_base32: "JBSWY3DPEHPK3PXP".into(),
        uri: "otpauth://totp/Acme:ada%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Acme".into(),
        qr_code: "data:image/png;base64,iVBORw0KGgo=".into(),
    };
    snapshot("authentication_factor_enrolment", Enrolment::new(&enrolment, &challenge()));
    snapshot("authentication_challenge_verification", ChallengeVerification::new(&challenge(), true));
}

#[test]
fn one_time_code_objects() {
    snapshot("magic_auth", MagicAuth::new(&code("magic_auth"), Some("123456".into())));
    snapshot("email_verification", EmailVerification::new(&code("email_verification"), Some("654321".into())));
    snapshot(
        "password_reset",
        PasswordReset::new(
            &code("password_reset"),
            Some("token".into()),
            Some("https://auth.example.com/authkit/reset-password?token=token".into()),
        ),
    );
}

#[test]
fn identities_spell_github_as_workos_does() {
    let identity = |provider: &str| DomainIdentity {
        id: "identity_1".into(),
        environment_id: "env_1".into(),
        user_id: "user_1".into(),
        provider: provider.into(),
        idp_id: "4F42ABDE".into(),
        email: None,
        created_at: T0,
        updated_at: T0,
    };
    let (github, google) = (identity("GitHubOAuth"), identity("GoogleOAuth"));
    snapshot("identities", [Identity::from(&github), Identity::from(&google)]);
}

#[test]
fn jwks() {
    let keys = [PublicKey {
        kid: "key_01JFFFFFFFFFFFFFFFFFFFFFFF".into(),
        n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into(),
        e: "AQAB".into(),
        certificate: Some("MIIBszCCAV2gAwIBAgIU".into()),
        certificate_sha256: Some("x5tS256".into()),
    }];
    snapshot("jwks", Jwks::new(&keys));
    snapshot(
        "openid_configuration",
        Discovery::new(
            "https://auth.example.com/user_management/client_1".into(),
            "https://auth.example.com/sso/jwks/client_1".into(),
            "https://auth.example.com",
        ),
    );
}

#[test]
fn configuration_objects() {
    let redirect = DomainRedirect {
        id: "redir_1".into(),
        uri: "https://app.example.com/callback".into(),
        is_default: true,
        created_at: T0,
        updated_at: T0,
    };
    let cors = DomainCors {
        id: "cors_origin_1".into(),
        origin: "https://app.example.com".into(),
        created_at: T0,
        updated_at: T0,
    };
    snapshot("redirect_uri", RedirectUri::from(&redirect));
    snapshot("cors_origin", CorsOrigin::from(&cors));
    let env = Environment {
        id: "env_1".into(),
        name: "production".into(),
        client_id: "client_1".into(),
        settings: Settings { jwt_template: r#"{"role": {{ user.metadata.role }}}"#.into(), ..Settings::default() },
        created_at: T0,
        updated_at: T0,
    };
    snapshot("jwt_template", JwtTemplate::from(&env));
}

#[test]
fn lists() {
    let (a, b) = (
        DomainCors { id: "a".into(), origin: "https://a.test".into(), created_at: T0, updated_at: T0 },
        DomainCors { id: "b".into(), origin: "https://b.test".into(), created_at: T0, updated_at: T0 },
    );
    snapshot(
        "list",
        List::page(
            vec![CorsOrigin::from(&a), CorsOrigin::from(&b)],
            &["a", "b"],
            Page { before: None, after: Some("z"), has_more: true },
        ),
    );
    let cursors = |page: Page<'_>| {
        serde_json::to_value(List::page(Vec::<u8>::new(), &["a", "b"], page)).unwrap()["list_metadata"].clone()
    };
    assert_eq!(cursors(Page::default()), json!({"before": null, "after": null}));
    assert_eq!(cursors(Page { has_more: true, ..Page::default() }), json!({"before": null, "after": "b"}));
    assert_eq!(
        cursors(Page { before: Some("c"), after: None, has_more: false }),
        json!({"before": null, "after": "b"})
    );
    assert_eq!(cursors(Page { before: Some("c"), after: None, has_more: true }), json!({"before": "a", "after": "b"}));
}

#[test]
fn organization_objects() {
    use crate::domain::organization::{
        Membership, MembershipStatus, Organization as DomainOrganization, Permission as DomainPermission,
        Role as DomainRole,
    };
    use crate::service::organizations::MembershipView;
    let mut metadata = Map::new();
    metadata.insert("tier".into(), json!("gold"));
    let org = DomainOrganization {
        id: "org_01JBBBBBBBBBBBBBBBBBBBBBBB".into(),
        environment_id: "env_1".into(),
        name: "Acme".into(),
        external_id: Some("acme-1".into()),
        metadata,
        allow_profiles_outside_organization: false,
        require_mfa: false,
        domain_auto_join: false,
        domains: vec![crate::domain::organization::OrganizationDomain {
            id: "org_domain_01JFFFFFFFFFFFFFFFFFFFFFFF".into(),
            environment_id: "env_1".into(),
            organization_id: "org_01JBBBBBBBBBBBBBBBBBBBBBBB".into(),
            domain: "acme.com".into(),
            state: crate::domain::organization::DomainState::Pending,
            verification_strategy: crate::domain::organization::VerificationStrategy::Dns,
            verification_prefix: "gatehouse-domain-verification-abcdefghij".into(),
            verification_token: "tok_123".into(),
            failure_reason: None,
            created_at: T0,
            updated_at: T0,
        }],
        created_at: T0,
        updated_at: T1,
    };
    snapshot("organization", Organization::from(&org));
    snapshot("organization_domain", OrganizationDomain::from(&org.domains[0]));
    // The event payloads are the API's objects (less Gatehouse's own additions).
    let mut api_org = serde_json::to_value(Organization::from(&org)).unwrap();
    api_org.as_object_mut().unwrap().remove("domain_auto_join");
    let event: serde_json::Value =
        serde_json::from_str(&crate::domain::event::NewEvent::organization("organization.created", &org).data).unwrap();
    assert_eq!(event, api_org);
    let view = MembershipView {
        membership: Membership {
            id: "om_01JCCCCCCCCCCCCCCCCCCCCCCC".into(),
            environment_id: "env_1".into(),
            organization_id: org.id.clone(),
            user_id: user().id,
            status: MembershipStatus::Active,
            role_slugs: vec!["admin".into(), "member".into()],
            created_at: T0,
            updated_at: T1,
        },
        user: user(),
        organization_name: org.name.clone(),
    };
    snapshot("organization_membership", OrganizationMembership::from(&view));
    let mut api_membership = serde_json::to_value(OrganizationMembership::from(&view)).unwrap();
    api_membership.as_object_mut().unwrap().remove("user");
    let event: serde_json::Value = serde_json::from_str(
        &crate::domain::event::NewEvent::membership("organization_membership.created", &view.membership, &org.name)
            .data,
    )
    .unwrap();
    assert_eq!(event, api_membership);
    let role = DomainRole {
        id: "role_01JDDDDDDDDDDDDDDDDDDDDDDD".into(),
        environment_id: "env_1".into(),
        organization_id: None,
        slug: "admin".into(),
        name: "Admin".into(),
        description: None,
        permissions: vec!["posts:write".into()],
        created_at: T0,
        updated_at: T0,
    };
    let org_role = DomainRole { organization_id: Some(org.id.clone()), slug: "org-billing".into(), ..role.clone() };
    snapshot("role_list", RoleList::new(&[role, org_role]));
    let permission = DomainPermission {
        id: "perm_01JEEEEEEEEEEEEEEEEEEEEEEE".into(),
        environment_id: "env_1".into(),
        slug: "posts:write".into(),
        name: "Write posts".into(),
        description: Some("Create and edit posts".into()),
        created_at: T0,
        updated_at: T0,
    };
    snapshot("permission", Permission::from(&permission));
    let event: serde_json::Value =
        serde_json::from_str(&crate::domain::event::NewEvent::permission("created", &permission).data).unwrap();
    assert_eq!(event, serde_json::to_value(Permission::from(&permission)).unwrap());
    let invitation = crate::domain::organization::Invitation {
        id: "invitation_01JFFFFFFFFFFFFFFFFFFFFFFF".into(),
        environment_id: "env_1".into(),
        email: "invitee@example.com".into(),
        organization_id: Some(org.id.clone()),
        role_slug: Some("admin".into()),
        inviter_user_id: Some(user().id),
        sealed_token: "sealed".into(),
        expires_at: T1 + 7 * 86_400_000,
        accepted_at: None,
        accepted_user_id: None,
        revoked_at: None,
        created_at: T0,
        updated_at: T0,
    };
    let view = crate::service::invitations::InvitationView {
        state: invitation.state(T1),
        invitation,
        token: "Z3kjnyToken".into(),
        accept_invitation_url:
            "http://localhost:8080/authkit/invitation?client_id=client_1&invitation_token=Z3kjnyToken".into(),
    };
    snapshot("invitation", Invitation::from(&view));
}

#[test]
fn oauth_provider() {
    let p = StoredProvider {
        id: "oauth_provider_1".into(),
        environment_id: "env_1".into(),
        name: "GoogleOAuth".into(),
        kind: "google".into(),
        client_id: "google-client".into(),
        client_secret_sealed: "sealed".into(),
        scopes: "openid email profile".into(),
        display_name: None,
        icon_url: None,
        issuer: None,
        authorize_url: None,
        token_url: None,
        userinfo_url: None,
        emails_url: None,
        jwks_url: None,
        is_enabled: true,
        created_at: T0,
        updated_at: T0,
    };
    snapshot(
        "oauth_provider",
        OAuthProvider::new(&p, "Google".into(), "https://auth.example.com/authkit/social/callback".into()),
    );
}

/// A sample error for every registered code, so each code's whole JSON is in the snapshot.
fn sample(code: ErrorCode) -> ApiError {
    let step = |needed| {
        Error::StepUp(StepUp { needed, message: "Step up.".into(), pending_authentication_token: "pending".into() })
    };
    let from = |e: Error| ApiError::from(e);
    match code {
        ErrorCode::EntityNotFound => from(Error::NotFound { kind: "User", id: "user_1".into() }),
        ErrorCode::InvalidRequestParameters => from(Error::Validation {
            message: "email is required.".into(),
            errors: vec![FieldError {
                field: "email".into(),
                code: "email_required".into(),
                message: "email is required.".into(),
            }],
        }),
        ErrorCode::PasswordStrengthError => from(Error::PasswordStrength("Too weak.".into())),
        ErrorCode::PasswordResetError => ApiError::password_reset(Error::PasswordStrength("Too weak.".into())),
        ErrorCode::EmailVerificationRequired => from(step(StepUpKind::VerifyEmail {
            email: "ada@example.com".into(),
            email_verification_id: "email_verification_1".into(),
        })),
        ErrorCode::MfaEnrollment => from(step(StepUpKind::MfaEnrollment { user: Box::new(user()) })),
        ErrorCode::MfaChallenge => {
            from(step(StepUpKind::MfaChallenge { user: Box::new(user()), factor_ids: vec!["auth_factor_1".into()] }))
        }
        ErrorCode::OrganizationSelectionRequired => from(step(StepUpKind::OrganizationSelection {
            user: Box::new(user()),
            organizations: vec![("org_01JBBBBBBBBBBBBBBBBBBBBBBB".into(), "Acme".into())],
        })),
        ErrorCode::RateLimitExceeded => from(Error::RateLimited { retry_after_secs: 30 }),
        other => ApiError::new(other, "Message."),
    }
}

#[test]
fn error_registry() {
    let mut all = Map::new();
    let mut seen = std::collections::HashSet::new();
    for code in ErrorCode::ALL {
        assert!(seen.insert(code.as_str()), "{} is registered twice", code.as_str());
        let api = sample(*code);
        let body = api.body();
        match code.shape() {
            Shape::OAuth => assert_eq!(body["error"], code.as_str()),
            Shape::Coded => assert_eq!(body["code"], code.as_str()),
        }
        all.insert(code.as_str().into(), json!({ "status": code.status().as_u16(), "body": body }));
    }
    snapshot("errors", Value::Object(all));
}

#[test]
fn service_errors_map_to_their_codes() {
    let code = |e: Error| serde_json::to_value(ApiError::from(e).body()).unwrap();
    let rejected = |reason| Error::Rejected { reason, message: "m".into() };
    assert_eq!(code(rejected(Rejection::OneTimeCode(CodeProblem::Incorrect)))["code"], "invalid_one_time_code");
    assert_eq!(
        code(rejected(Rejection::EmailVerificationCode(CodeProblem::Incorrect)))["code"],
        "email_verification_code_incorrect"
    );
    assert_eq!(
        code(rejected(Rejection::OneTimeCode(CodeProblem::PreviouslyUsed)))["code"],
        "one_time_code_previously_used"
    );
    assert_eq!(
        code(Error::Conflict { what: Duplicate::CorsOrigin, message: "m".into() })["code"],
        "duplicate_cors_origin"
    );
    let reset = ApiError::password_reset(rejected(Rejection::PasswordResetToken)).body();
    assert_eq!(reset["code"], "password_reset_error");
    assert_eq!(reset["errors"][0]["code"], "invalid_password_reset_token");
    assert_eq!(ApiError::bad_body("The request body is not valid JSON.").body()["code"], "invalid_request_parameters");
}

#[test]
fn event_object_and_payloads_equal_the_api_objects() {
    use crate::domain::event::{Event as DomainEvent, NewEvent};
    let as_value = |data: &str| serde_json::from_str::<Value>(data).unwrap();
    let u = user();
    let created = NewEvent::user("user.created", &u);
    assert_eq!(as_value(&created.data), serde_json::to_value(User::from(&u)).unwrap());
    let s = DomainSession {
        id: "session_01JEEEEEEEEEEEEEEEEEEEEEEE".into(),
        environment_id: "env_1".into(),
        user_id: "user_01JAAAAAAAAAAAAAAAAAAAAAAA".into(),
        auth_method: AuthMethod::MagicAuth,
        ip_address: Some("203.0.113.7".into()),
        user_agent: None,
        expires_at: T0 + 86_400_000,
        ended_at: None,
        created_at: T0,
        updated_at: T0,
        auth_time: T0,
        organization_id: None,
        impersonator_email: None,
        impersonator_reason: None,
    };
    let started = NewEvent::session(&s, false, T1);
    assert_eq!(as_value(&started.data), serde_json::to_value(Session::new(&s, T1)).unwrap());
    let revoked = NewEvent::session(&s, true, T1);
    let ended = DomainSession { ended_at: Some(T1), updated_at: T1, ..s.clone() };
    assert_eq!(as_value(&revoked.data), serde_json::to_value(Session::new(&ended, T1)).unwrap());
    let magic = code("magic_auth");
    assert_eq!(
        as_value(&NewEvent::code("magic_auth.created", &magic).data),
        serde_json::to_value(MagicAuth::new(&magic, None)).unwrap()
    );
    let verification = code("email_verification");
    assert_eq!(
        as_value(&NewEvent::code("email_verification.created", &verification).data),
        serde_json::to_value(EmailVerification::new(&verification, None)).unwrap()
    );
    let reset = code("password_reset");
    assert_eq!(
        as_value(&NewEvent::code("password_reset.created", &reset).data),
        serde_json::to_value(PasswordReset::new(&reset, None, None)).unwrap()
    );
    let event = DomainEvent {
        id: "event_01JFFFFFFFFFFFFFFFFFFFFFFF".into(),
        environment_id: "env_1".into(),
        seq: 1,
        event: created.event.into(),
        data: created.data,
        organization_id: None,
        actor: None,
        before_data: Some("{}".into()),
        created_at: T1,
    };
    snapshot("event", Event::from(&event));
    // A webhook delivery's body is the same object.
    assert_eq!(
        as_value(&crate::domain::webhook::delivery_body(&event)),
        serde_json::to_value(Event::from(&event)).unwrap()
    );
}

#[test]
fn webhook_objects() {
    use crate::domain::webhook::{Delivery, WebhookEndpoint as DomainEndpoint};
    let endpoint = DomainEndpoint {
        id: "we_01JGGGGGGGGGGGGGGGGGGGGGGG".into(),
        environment_id: "env_1".into(),
        endpoint_url: "https://example.com/webhooks".into(),
        secret: "whsec_abc".into(),
        events: vec!["user.created".into(), "session.created".into()],
        enabled: true,
        cursor_seq: 0,
        attempts: 0,
        failing_since: None,
        next_attempt_at: T0,
        created_at: T0,
        updated_at: T1,
    };
    snapshot("webhook_endpoint", WebhookEndpoint::from(&endpoint));
    let delivery = Delivery {
        id: "webhook_delivery_01JHHHHHHHHHHHHHHHHHHHHHHH".into(),
        environment_id: "env_1".into(),
        endpoint_id: endpoint.id.clone(),
        event_id: "event_01JFFFFFFFFFFFFFFFFFFFFFFF".into(),
        event: "user.created".into(),
        attempt: 2,
        status_code: Some(500),
        error: Some("HTTP 500".into()),
        succeeded: 0,
        duration_ms: 12,
        created_at: T1,
    };
    snapshot("webhook_delivery", WebhookDelivery::from(&delivery));
}

#[test]
fn authorization_resource_objects() {
    use crate::domain::resource::{Resource, RoleAssignment as DomainAssignment};
    use crate::service::resources::AssignmentView;
    let resource = Resource {
        id: "authz_resource_01JGGGGGGGGGGGGGGGGGGGGGGG".into(),
        environment_id: "env_1".into(),
        organization_id: "org_01JBBBBBBBBBBBBBBBBBBBBBBB".into(),
        resource_type_slug: "project".into(),
        external_id: "proj-456".into(),
        name: "Website Redesign".into(),
        description: None,
        parent_resource_id: Some("authz_resource_01JHHHHHHHHHHHHHHHHHHHHHHH".into()),
        created_at: T0,
        updated_at: T1,
    };
    snapshot("authorization_resource", AuthorizationResource::from(&resource));
    let view = AssignmentView {
        assignment: DomainAssignment {
            id: "role_assignment_01JJJJJJJJJJJJJJJJJJJJJJJJ".into(),
            environment_id: "env_1".into(),
            organization_membership_id: "om_01JKKKKKKKKKKKKKKKKKKKKKKK".into(),
            role_slug: "editor".into(),
            resource_id: resource.id.clone(),
            created_at: T0,
            updated_at: T0,
        },
        resource,
    };
    snapshot("role_assignment", RoleAssignment::from(&view));
    snapshot("authorization_check", AuthorizationCheck { authorized: true });
}
