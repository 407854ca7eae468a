//! `object: "user"` (the schema's `UserlandUser`).

use serde::Serialize;

use super::time;
use crate::domain::user as domain;

#[derive(Serialize)]
pub struct User<'a> {
    object: &'static str,
    id: &'a str,
    email: &'a str,
    email_verified: bool,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    /// Not in the schema; WorkOS's answers and the SDKs' `User` type have it.
    name: Option<String>,
    profile_picture_url: Option<&'a str>,
    last_sign_in_at: Option<String>,
    external_id: Option<&'a str>,
    metadata: &'a serde_json::Map<String, serde_json::Value>,
    locale: Option<&'a str>,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a domain::User> for User<'a> {
    fn from(u: &'a domain::User) -> User<'a> {
        User {
            object: "user",
            id: &u.id,
            email: &u.email,
            email_verified: u.email_verified,
            first_name: u.first_name.as_deref(),
            last_name: u.last_name.as_deref(),
            name: u.display_name(),
            profile_picture_url: u.profile_picture_url.as_deref(),
            last_sign_in_at: u.last_sign_in_at.map(time),
            external_id: u.external_id.as_deref(),
            metadata: &u.metadata,
            locale: u.locale.as_deref(),
            created_at: time(u.created_at),
            updated_at: time(u.updated_at),
        }
    }
}
