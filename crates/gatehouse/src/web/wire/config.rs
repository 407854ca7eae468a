//! Environment configuration: `redirect_uri`, `cors_origin`, `jwt_template`.

use serde::Serialize;

use super::time;
use crate::domain::environment::{CorsOrigin as DomainCors, Environment, RedirectUri as DomainRedirect};

#[derive(Serialize)]
pub struct RedirectUri<'a> {
    object: &'static str,
    id: &'a str,
    uri: &'a str,
    default: bool,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a DomainRedirect> for RedirectUri<'a> {
    fn from(r: &'a DomainRedirect) -> RedirectUri<'a> {
        RedirectUri {
            object: "redirect_uri",
            id: &r.id,
            uri: &r.uri,
            default: r.is_default,
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
        }
    }
}

#[derive(Serialize)]
pub struct CorsOrigin<'a> {
    object: &'static str,
    id: &'a str,
    origin: &'a str,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a DomainCors> for CorsOrigin<'a> {
    fn from(c: &'a DomainCors) -> CorsOrigin<'a> {
        CorsOrigin {
            object: "cors_origin",
            id: &c.id,
            origin: &c.origin,
            created_at: time(c.created_at),
            updated_at: time(c.updated_at),
        }
    }
}

#[derive(Serialize)]
pub struct JwtTemplate<'a> {
    object: &'static str,
    content: &'a str,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a Environment> for JwtTemplate<'a> {
    fn from(env: &'a Environment) -> JwtTemplate<'a> {
        JwtTemplate {
            object: "jwt_template",
            content: &env.settings.jwt_template,
            created_at: time(env.created_at),
            updated_at: time(env.settings.jwt_template_updated_at.max(env.created_at)),
        }
    }
}
