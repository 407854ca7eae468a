//! The charts and the "needs attention" list of the console's home page, for one environment:
//! the last 30 days from the event log (`service::insights`) drawn by `domain::chart`.

use minijinja::{Value, context};

use super::page::PageError;
use crate::domain::chart::{Series, bar_chart};
use crate::service::environments::LoadedEnvironment;
use crate::service::insights::{Attention, DAYS, Insights};
use crate::web::AppState;

/// One colour per sign-in method (`SIGN_IN_METHODS` order), then the single-series charts'.
const METHOD_COLORS: [&str; 4] = ["#4f46e5", "#0891b2", "#d97706", "#059669"];
const NEW_USERS_COLOR: &str = "#4f46e5";
const REFUSED_COLOR: &str = "#dc2626";
const THROTTLED_COLOR: &str = "#9333ea";

/// "Nov 7" for a day counted from 1970-01-01.
fn day_label(day: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(day * 86_400) {
        Ok(t) => format!("{} {}", &t.month().to_string()[..3], t.day()),
        Err(_) => String::new(),
    }
}

/// The home page's panels for `env`: four charts and what needs attention.
pub async fn panels(state: &AppState, env: &LoadedEnvironment) -> Result<Value, PageError> {
    let insights: Insights = state.core.insights(env).await?;
    let days: Vec<String> = (0..DAYS as i64).map(|i| day_label(insights.first_day + i)).collect();
    let methods: Vec<Series<'_>> = insights
        .sign_ins
        .iter()
        .zip(METHOD_COLORS)
        .map(|((label, values), color)| Series { label, color, values })
        .collect();
    let sign_ins = bar_chart("Sign-ins per day", &days, &methods);
    let new_users = bar_chart(
        "New users",
        &days,
        &[Series { label: "new users", color: NEW_USERS_COLOR, values: &insights.new_users }],
    );
    let refused = bar_chart(
        "Refused sign-ins",
        &days,
        &[Series { label: "refused", color: REFUSED_COLOR, values: &insights.refused }],
    );
    let throttled = bar_chart(
        "Throttled attempts",
        &days,
        &[Series { label: "throttled", color: THROTTLED_COLOR, values: &insights.throttled }],
    );
    let attention: Vec<Value> = state
        .core
        .attention(env)
        .await?
        .into_iter()
        .map(|a| match a {
            Attention::EmailDelivery { failed, retrying, last_error } => context! {
                level => "bad",
                title => "Emails are not being delivered",
                detail => format!(
                    "In the last {DAYS} days {failed} email(s) were given up on and {retrying} are failing and retrying{}.",
                    last_error.map(|e| format!(" (last error: {e})")).unwrap_or_default()
                ),
            },
            Attention::KeyDueToRotate { kid, age_days } => context! {
                level => "warn",
                title => "The signing key is due to rotate",
                detail => format!(
                    "Key {kid} has signed every token for {age_days} days. `gatehouse keys rotate --env {}` publishes a new one and switches to it after one JWKS max-age.",
                    env.name
                ),
            },
            Attention::ProductionWithoutSmtp => context! {
                level => "bad",
                title => "Production has no SMTP server",
                detail => "Sign-in codes, verification and password-reset emails of production wait in the outbox until GATEHOUSE_SMTP_URL and GATEHOUSE_EMAIL_FROM are set.",
            },
        })
        .collect();
    Ok(context! {
        charts => [sign_ins, new_users, refused, throttled],
        total_sign_ins => insights.total_sign_ins(),
        total_new_users => insights.new_users.iter().sum::<i64>(),
        total_refused => insights.refused.iter().sum::<i64>(),
        total_throttled => insights.throttled.iter().sum::<i64>(),
        locked_pairs => insights.locked_pairs,
        accounts_under_attack => insights.accounts_under_attack,
        throttled_since_start => state.metrics.throttled_total(),
        attention,
        days => DAYS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_read_as_month_and_day() {
        assert_eq!(day_label(0), "Jan 1");
        assert_eq!(day_label(20_834), "Jan 16");
    }
}
