//! Phase 3: setup. Creates the benchmark users and opens the sessions the refresh phase rotates.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use crate::api::{create_user, password_sign_in};
use crate::report::Report;
use crate::server::Env;
use crate::{Args, Res};

/// The benchmark users; user `i` has the password `api::password_for(i)`.
pub struct Users {
    pub emails: Vec<String>,
}

/// Sessions owned by the benchmark: each slot holds the latest refresh token (None if lost).
pub struct Sessions {
    pub tokens: Vec<Option<String>>,
}

impl Sessions {
    /// Makes sure the first `n` slots hold live sessions (signing in again where one was lost).
    pub async fn ensure(&mut self, n: usize, client: &reqwest::Client, env: &Env, users: &Users) -> Res<()> {
        while self.tokens.len() < n {
            self.tokens.push(None);
        }
        for slot in 0..n {
            if self.tokens[slot].is_none() {
                let i = slot % users.emails.len();
                let v = password_sign_in(client, env, &users.emails[i], i).await?;
                let t = v.get("refresh_token").and_then(Value::as_str).ok_or("sign-in gave no refresh_token")?;
                self.tokens[slot] = Some(t.to_owned());
            }
        }
        Ok(())
    }
}

/// Creates `--users` users (4 at a time) and opens `max_c` sessions, where `max_c` is the
/// largest refresh concurrency (at least 16, the open loop's pool).
pub async fn run(
    args: &Args,
    client: &reqwest::Client,
    env: &Arc<Env>,
    report: &mut Report,
) -> Res<(Arc<Users>, Sessions, usize)> {
    let n_users = args.users.max(args.password_concurrency).max(1);
    let t_setup = Instant::now();
    let mut emails = Vec::with_capacity(n_users);
    {
        // Create users 4 at a time (each creation is one argon2id hash on the server).
        let mut k = 0;
        while k < n_users {
            let batch: Vec<_> = (k..(k + 4).min(n_users))
                .map(|i| {
                    let (client, env) = (client.clone(), env.clone());
                    tokio::spawn(async move { create_user(&client, &env, i).await })
                })
                .collect();
            for h in batch {
                emails.push(h.await.map_err(|e| e.to_string())??);
            }
            k += 4;
        }
    }
    let users = Arc::new(Users { emails });
    let max_c = args.refresh_concurrency.iter().copied().max().unwrap_or(8).max(16);
    let mut sessions = Sessions { tokens: Vec::new() };
    sessions.ensure(max_c, client, env, &users).await?;
    report.line(format!(
        "setup: {} users, {} sessions in {:.1} s",
        users.emails.len(),
        max_c,
        t_setup.elapsed().as_secs_f64()
    ));
    Ok((users, sessions, max_c))
}
