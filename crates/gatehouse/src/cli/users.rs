//! `gatehouse users …`: reports about the stored users (issue 17.4: addresses that look alike,
//! and addresses stored before Gatehouse refused invisible characters, non-NFC forms and mixed
//! scripts).

use clap::Subcommand;
use serde_json::json;

use super::Output;
use crate::service::Core;

#[derive(Subcommand, Debug)]
pub(super) enum UsersCommand {
    /// List groups of users (per environment) whose email addresses look alike (the same
    /// UTS #39 skeleton), stored before Gatehouse refused such addresses.
    LookAlikes,
    /// List users whose stored email address Gatehouse would refuse today: invisible or
    /// bidirectional-control characters, not in Unicode NFC, or a part mixing scripts (such a
    /// user may be unable to sign in, since the address they type is refused).
    InvalidEmails,
}

pub(super) async fn run(core: &Core, out: &Output, command: UsersCommand) -> anyhow::Result<()> {
    match command {
        UsersCommand::LookAlikes => look_alikes(core, out).await,
        UsersCommand::InvalidEmails => invalid_emails(core, out).await,
    }
}

/// Each environment's name by its ID, for reports that show stored environment IDs.
async fn environment_names(core: &Core) -> anyhow::Result<std::collections::HashMap<String, String>> {
    Ok(core.list_environments().await?.into_iter().map(|e| (e.id, e.name)).collect())
}

async fn look_alikes(core: &Core, out: &Output) -> anyhow::Result<()> {
    let groups = core.email_look_alikes().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let names = environment_names(core).await?;
    let env_name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let value = json!({
        "groups": groups.iter().map(|g| json!({
            "environment": env_name(&g.environment_id),
            "users": g.users.iter().map(|(id, email)| json!({"id": id, "email": email})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    out.print(value, || {
        if groups.is_empty() {
            return "No two users of an environment have email addresses that look alike.".to_owned();
        }
        let mut text = format!("{} group(s) of users whose email addresses look alike:", groups.len());
        for g in &groups {
            text.push_str(&format!("\n\n{}:", env_name(&g.environment_id)));
            for (id, email) in &g.users {
                // The escaped form shows what the eye cannot (`\u{430}` for a Cyrillic а).
                text.push_str(&format!("\n  {id}  {email}  ({})", escape_non_ascii(email)));
            }
        }
        text
    });
    Ok(())
}

async fn invalid_emails(core: &Core, out: &Output) -> anyhow::Result<()> {
    let found = core.invalid_emails().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let names = environment_names(core).await?;
    let env_name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let value = json!({
        "users": found.iter().map(|u| json!({
            "environment": env_name(&u.environment_id),
            "id": u.id,
            "email": u.email,
            "escaped": escape_non_ascii(&u.email),
            "problems": u.problems,
        })).collect::<Vec<_>>(),
    });
    out.print(value, || {
        if found.is_empty() {
            return "Every stored email address is one Gatehouse accepts today.".to_owned();
        }
        let mut text = format!("{} user(s) whose stored email address Gatehouse would refuse today:", found.len());
        for u in &found {
            text.push_str(&format!(
                "\n  {}  {}  {}  ({})",
                env_name(&u.environment_id),
                u.id,
                escape_non_ascii(&u.email),
                u.problems.join(", ")
            ));
        }
        text
    });
    Ok(())
}

/// Shows non-ASCII characters as `\u{…}` escapes, so look-alikes can be told apart.
fn escape_non_ascii(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii() { c.to_string() } else { c.escape_unicode().to_string() }).collect()
}
