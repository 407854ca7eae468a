//! Two-factor objects: `authentication_factor`, `authentication_challenge`, the enrolment answer
//! and the verification answer.

use serde::Serialize;

use super::time;
use crate::domain::factor::{AuthChallenge, AuthFactor};
use crate::service::mfa::TotpEnrolment;

#[derive(Serialize)]
pub struct Factor<'a> {
    object: &'static str,
    id: &'a str,
    #[serde(rename = "type")]
    factor_type: &'a str,
    /// Absent for a factor enrolled without a user.
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    totp: Totp<'a>,
    created_at: String,
    updated_at: String,
}

/// The secret, QR code and URI appear only in the enrolment answer.
#[derive(Serialize)]
struct Totp<'a> {
    issuer: &'a str,
    user: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qr_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri: Option<&'a str>,
}

impl<'a> Factor<'a> {
    fn new(f: &'a AuthFactor, enrolment: Option<&'a TotpEnrolment>) -> Factor<'a> {
        Factor {
            object: "authentication_factor",
            id: &f.id,
            factor_type: &f.factor_type,
            user_id: f.user_id.as_deref(),
            totp: Totp {
                issuer: &f.issuer,
                user: &f.account,
                secret: enrolment.map(|e| e.secret_base32.as_str()),
                qr_code: enrolment.map(|e| e.qr_code.as_str()),
                uri: enrolment.map(|e| e.uri.as_str()),
            },
            created_at: time(f.created_at),
            updated_at: time(f.updated_at),
        }
    }
}

impl<'a> Factor<'a> {
    /// A factor just enrolled, with its secret, QR code and URI (`AuthenticationFactorEnrolled`).
    pub fn enrolled(enrolment: &'a TotpEnrolment) -> Factor<'a> {
        Factor::new(&enrolment.factor, Some(enrolment))
    }
}

impl<'a> From<&'a AuthFactor> for Factor<'a> {
    fn from(f: &'a AuthFactor) -> Factor<'a> {
        Factor::new(f, None)
    }
}

#[derive(Serialize)]
pub struct Challenge<'a> {
    object: &'static str,
    id: &'a str,
    authentication_factor_id: &'a str,
    expires_at: String,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a AuthChallenge> for Challenge<'a> {
    fn from(c: &'a AuthChallenge) -> Challenge<'a> {
        Challenge {
            object: "authentication_challenge",
            id: &c.id,
            authentication_factor_id: &c.factor_id,
            expires_at: time(c.expires_at),
            created_at: time(c.created_at),
            updated_at: time(c.updated_at),
        }
    }
}

/// The answer of enrolling a factor: the factor with its secret, and a first challenge.
#[derive(Serialize)]
pub struct Enrolment<'a> {
    authentication_factor: Factor<'a>,
    authentication_challenge: Challenge<'a>,
}

impl<'a> Enrolment<'a> {
    pub fn new(enrolment: &'a TotpEnrolment, challenge: &'a AuthChallenge) -> Enrolment<'a> {
        Enrolment {
            authentication_factor: Factor::new(&enrolment.factor, Some(enrolment)),
            authentication_challenge: Challenge::from(challenge),
        }
    }
}

/// `POST /auth/challenges/{id}/verify`.
#[derive(Serialize)]
pub struct ChallengeVerification<'a> {
    challenge: Challenge<'a>,
    valid: bool,
}

impl<'a> ChallengeVerification<'a> {
    pub fn new(challenge: &'a AuthChallenge, valid: bool) -> ChallengeVerification<'a> {
        ChallengeVerification { challenge: Challenge::from(challenge), valid }
    }
}
