//! The Gatehouse API calls the load phases make (user creation, password and refresh grants),
//! and the benchmark's users and sessions.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::server::Env;
use crate::{Res, wire};

/// Password used for every benchmark user (strong enough for the server's policy).
pub fn password_for(i: usize) -> String {
    format!("correct horse battery staple {i}")
}

async fn post_json(client: &reqwest::Client, url: &str, body: &Value, bearer: Option<&str>) -> Res<(u16, Value)> {
    let mut req = client.post(url).json(body);
    if let Some(key) = bearer {
        req = req.bearer_auth(key);
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((status, value))
}

pub async fn create_user(client: &reqwest::Client, env: &Env, i: usize) -> Res<String> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
    let email = format!("bench{i}-{nanos}@example.test");
    let body = json!({"email": email, "password": password_for(i)});
    let (status, v) =
        post_json(client, &format!("{}/user_management/users", env.base), &body, Some(&env.api_key)).await?;
    if status != 201 {
        return Err(format!("creating a user returned {status}: {v}"));
    }
    Ok(email)
}

pub async fn password_sign_in(client: &reqwest::Client, env: &Env, email: &str, i: usize) -> Res<Value> {
    let body = json!({
        "grant_type": "password", "client_id": env.client_id, "client_secret": env.api_key,
        "email": email, "password": password_for(i),
    });
    let (status, v) = post_json(client, &format!("{}/user_management/authenticate", env.base), &body, None).await?;
    if status != 200 {
        return Err(format!("password sign-in returned {status}: {v}"));
    }
    Ok(v)
}

/// One refresh grant on a lean connection (see `wire`); returns the rotated refresh token.
pub async fn refresh(conn: &mut wire::Connection, client_id: &str, token: &str) -> Res<String> {
    let body = format!(r#"{{"grant_type":"refresh_token","client_id":"{client_id}","refresh_token":"{token}"}}"#);
    let response = conn.post_json("/user_management/authenticate", &body).await?;
    if response.status != 200 {
        return Err(format!("refresh returned {}: {}", response.status, String::from_utf8_lossy(response.body)));
    }
    wire::string_field(response.body, "refresh_token").map(str::to_owned).ok_or_else(|| "no refresh_token".to_owned())
}

pub fn http_client() -> Res<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| e.to_string())
}
