//! `/metrics` on `--metrics-listen`, scraped while sign-in flows run: every scrape must parse
//! strictly as the Prometheus text exposition format (0.0.4), counters never go back, and when
//! the flows are done the sign-in and refresh counters have moved by exactly what they did.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gatehouse::clock::Clock as _;
use gatehouse::domain::totp;
use reqwest::Method;
use serde_json::json;

use crate::support::*;

/// One parsed sample: metric name, labels, value.
#[derive(Clone, Debug)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition: each family's type, and every sample.
#[derive(Debug, Default)]
pub struct Exposition {
    pub types: HashMap<String, String>,
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// The value of the sample named `name` with exactly these labels (0 when absent).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.samples.iter().find(|s| s.name == name && s.labels == want).map_or(0.0, |s| s.value)
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse::<f64>().map_err(|e| format!("value {s:?}: {e}")),
    }
}

/// `{a="x",b="y\"z"}` → labels, with the format's three escapes (`\\`, `\"`, `\n`) and no other.
fn parse_labels(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").ok_or_else(|| format!("label without =\": {rest}"))?;
        if !is_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("unterminated label value in {s}")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?} in {s}")),
                },
                Some((_, '\n')) => return Err("raw newline in a label value".into()),
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_owned(), value).is_some() {
            return Err(format!("label {name} twice in {s}"));
        }
        rest = &after[end + 1..];
        if let Some(next) = rest.strip_prefix(',') {
            rest = next;
        } else if !rest.is_empty() {
            return Err(format!("expected , between labels: {rest}"));
        }
    }
    Ok(labels)
}

/// The family a sample belongs to, given the declared types.
fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> &'a str {
    if types.contains_key(name) {
        return name;
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types.get(base).is_some_and(|t| t == "histogram" || t == "summary")
        {
            return base;
        }
    }
    name
}

/// Parses the text format strictly: HELP and TYPE at most once per family and before its
/// samples, a family's lines together, valid names, label escaping, no duplicate series,
/// counters ≥ 0, and for histograms cumulative buckets with `le="+Inf"` equal to `_count`
/// and a `_sum` for every label set.
pub fn parse_strict(text: &str) -> Result<Exposition, String> {
    let mut out = Exposition::default();
    let mut helped = HashSet::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut seen_series = HashSet::new();
    if !text.ends_with('\n') {
        return Err("the exposition must end with a newline".into());
    }
    let mut enter = |family: &str, current: &mut Option<String>| -> Result<(), String> {
        if current.as_deref() != Some(family) {
            if finished.contains(family) {
                return Err(format!("the lines of {family} are not together"));
            }
            if let Some(previous) = current.take() {
                finished.insert(previous);
            }
            *current = Some(family.to_owned());
        }
        Ok(())
    };
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut parts = comment.trim_start().splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), Some(help)) => {
                    if !is_metric_name(name) || !helped.insert(name.to_owned()) {
                        return Err(format!("bad or repeated HELP: {line}"));
                    }
                    let mut chars = help.chars();
                    while let Some(c) = chars.next() {
                        if c == '\\' && !matches!(chars.next(), Some('\\' | 'n')) {
                            return Err(format!("bad escape in HELP: {line}"));
                        }
                    }
                    enter(name, &mut current)?;
                }
                (Some("TYPE"), Some(name), Some(kind)) => {
                    if !is_metric_name(name) {
                        return Err(format!("bad TYPE name: {line}"));
                    }
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(format!("unknown type: {line}"));
                    }
                    if out.types.insert(name.to_owned(), kind.to_owned()).is_some() {
                        return Err(format!("repeated TYPE: {line}"));
                    }
                    if out.samples.iter().any(|s| family_of(&s.name, &out.types) == name) {
                        return Err(format!("TYPE after samples: {line}"));
                    }
                    enter(name, &mut current)?;
                }
                _ => {} // Other comments are allowed.
            }
            continue;
        }
        let (series, rest) = match line.find('{') {
            Some(_) => {
                let close = line.rfind('}').ok_or_else(|| format!("unclosed labels: {line}"))?;
                (&line[..close + 1], &line[close + 1..])
            }
            None => line.split_at(line.find(' ').ok_or_else(|| format!("no value: {line}"))?),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, parse_labels(labels.strip_suffix('}').unwrap_or(labels))?),
            None => (series, BTreeMap::new()),
        };
        if !is_metric_name(name) {
            return Err(format!("bad metric name: {line}"));
        }
        let mut fields = rest.strip_prefix(' ').ok_or_else(|| format!("no space before the value: {line}"))?.split(' ');
        let value = parse_value(fields.next().unwrap_or_default())?;
        if let Some(timestamp) = fields.next() {
            timestamp.parse::<i64>().map_err(|e| format!("timestamp: {e}: {line}"))?;
        }
        if fields.next().is_some() {
            return Err(format!("trailing fields: {line}"));
        }
        let family = family_of(name, &out.types).to_owned();
        enter(&family, &mut current)?;
        if !seen_series.insert(format!("{name}{labels:?}")) {
            return Err(format!("duplicate series: {line}"));
        }
        match out.types.get(&family).map(String::as_str) {
            Some("counter") if value.is_nan() || value < 0.0 => return Err(format!("negative counter: {line}")),
            Some("histogram") if name.ends_with("_bucket") && !labels.contains_key("le") => {
                return Err(format!("bucket without le: {line}"));
            }
            _ => {}
        }
        out.samples.push(Sample { name: name.to_owned(), labels, value });
    }
    // Histograms: per label set (without le) cumulative buckets, +Inf == _count, a _sum.
    for (family, _) in out.types.iter().filter(|(_, t)| *t == "histogram") {
        let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for s in out.samples.iter().filter(|s| s.name == format!("{family}_bucket")) {
            let mut key = s.labels.clone();
            let le = parse_value(&key.remove("le").unwrap_or_default())?;
            groups.entry(format!("{key:?}")).or_default().push((le, s.value));
        }
        for (key, buckets) in groups {
            let mut previous = (f64::NEG_INFINITY, 0.0);
            for &(le, n) in &buckets {
                if le <= previous.0 || n < previous.1 {
                    return Err(format!("{family}{key}: buckets not in order or not cumulative"));
                }
                previous = (le, n);
            }
            if previous.0 != f64::INFINITY {
                return Err(format!("{family}{key}: no le=\"+Inf\" bucket"));
            }
            let labelled = |suffix: &str| {
                out.samples.iter().find(|s| s.name == format!("{family}{suffix}") && format!("{:?}", s.labels) == key)
            };
            let count = labelled("_count").ok_or_else(|| format!("{family}{key}: no _count"))?;
            if count.value != previous.1 {
                return Err(format!("{family}{key}: +Inf bucket {} != _count {}", previous.1, count.value));
            }
            labelled("_sum").ok_or_else(|| format!("{family}{key}: no _sum"))?;
        }
    }
    Ok(out)
}

#[test]
fn the_strict_parser_refuses_what_prometheus_refuses() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 1\n\
                # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n";
    let parsed = parse_strict(good).unwrap();
    assert_eq!(parsed.value("a_total", &[("x", "q\"\\\n")]), 1.0);
    for bad in [
        "a 1",                                                               // no final newline
        "# TYPE a counter\na{x=\"\\t\"} 1\n",                                // unknown escape
        "# TYPE a counter\na -1\n",                                          // negative counter
        "# TYPE a counter\na 1\n# TYPE b gauge\nb 1\na{y=\"1\"} 2\n",        // lines apart
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",    // no +Inf
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n", // +Inf != count
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "a 1\na 2\n", // duplicate series
        "# TYPE a counter\n# TYPE a counter\na 1\n",
        "a{1x=\"v\"} 1\n", // label name
    ] {
        assert!(parse_strict(bad).is_err(), "accepted: {bad:?}");
    }
}

async fn scrape(http: &reqwest::Client, url: &str) -> Exposition {
    let res = http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    parse_strict(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn sign_ins(e: &Exposition, method: &str, outcome: &str) -> f64 {
    e.value("gatehouse_sign_ins_total", &[("method", method), ("outcome", outcome)])
}

fn refreshes(e: &Exposition, outcome: &str) -> f64 {
    e.value("gatehouse_refreshes_total", &[("outcome", outcome)])
}

/// The sign-in and refresh counters move by exactly what the flows did, scraped on the private
/// address while they run (every scrape parses strictly and no counter goes back).
#[tokio::test]
async fn sign_in_and_refresh_counters_move_while_flows_run() {
    let app = TestApp::spawn_with(|c| c.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let url = app.metrics_url.clone().unwrap();
    let plain = reqwest::Client::new();
    // The main address has no /metrics without a token; the private one serves nothing else.
    assert_eq!(plain.get(app.at("/metrics")).send().await.unwrap().status(), 404);
    assert_eq!(plain.get(url.replace("/metrics", "/health")).send().await.unwrap().status(), 404);
    let before = scrape(&plain, &url).await;

    // Scrapes in a loop while the flows run: each parses, and counters only grow.
    let done = Arc::new(AtomicBool::new(false));
    let scraper = {
        let (done, url, plain) = (done.clone(), url.clone(), plain.clone());
        tokio::spawn(async move {
            let mut last: HashMap<String, f64> = HashMap::new();
            let mut scrapes = 0;
            while !done.load(Ordering::Relaxed) || scrapes < 3 {
                let e = scrape(&plain, &url).await;
                for s in e.samples.iter().filter(|s| e.types.get(&s.name).is_some_and(|t| t == "counter")) {
                    let key = format!("{}{:?}", s.name, s.labels);
                    let was = last.insert(key.clone(), s.value).unwrap_or(0.0);
                    assert!(s.value >= was, "{key} went back from {was} to {}", s.value);
                }
                scrapes += 1;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            scrapes
        })
    };

    // Password: one right, one wrong.
    let user = app.create_user("ada@example.com").await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    let t0 = app.login("ada@example.com").await.refresh_token;
    assert_eq!(app.password_login("ada@example.com", "wrong password").await.0, 400);

    // Refresh: rotated, a grace retry, rotated again, the first token once more (reuse: the
    // session is revoked), and garbage.
    let (status, body) = app.refresh(&t0).await;
    assert_eq!(status, 200, "{body}");
    let t1 = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(app.refresh(&t0).await.0, 200, "within the grace window");
    assert_eq!(app.refresh(&t1).await.0, 200);
    let (status, body) = app.refresh(&t0).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(app.refresh("not.a.token").await.0, 400);

    // Magic auth: a wrong code, then the right one.
    let (status, magic) =
        app.api(Method::POST, "/user_management/magic_auth", Some(json!({"email": "m@example.com"}))).await;
    assert_eq!(status, 201, "{magic}");
    let code = magic["code"].as_str().unwrap().to_owned();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let redeem = |code: String| {
        app.authenticate(json!({
            "grant_type": "urn:workos:oauth:grant-type:magic-auth:code", "client_id": app.client_id,
            "client_secret": app.api_key, "email": "m@example.com", "code": code,
        }))
    };
    assert_eq!(redeem(wrong.to_owned()).await.0, 400);
    assert_eq!(redeem(code).await.0, 200);

    // Email verification: a wrong code for an unverified address.
    let (status, body) = app
        .api(
            Method::POST,
            &format!("/user_management/users/{user_id}/email_verification/confirm"),
            Some(json!({"code": "000000"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // Two factors: the password succeeds and owes a TOTP code; a wrong code, then the right one.
    let (status, enrolled) = app
        .api(Method::POST, &format!("/user_management/users/{user_id}/auth_factors"), Some(json!({"type": "totp"})))
        .await;
    assert_eq!(status, 201, "{enrolled}");
    let secret = totp::parse_secret_base32(enrolled["authentication_factor"]["totp"]["secret"].as_str().unwrap())
        .expect("base32");
    let challenge_id = enrolled["authentication_challenge"]["id"].as_str().unwrap().to_owned();
    let (status, step) = app.password_login("ada@example.com", PASSWORD).await;
    assert_eq!((status, step["code"].as_str()), (403, Some("mfa_challenge")), "{step}");
    let pending = step["pending_authentication_token"].as_str().unwrap().to_owned();
    let step_now = totp::step_at(app.clock.now_ms() / 1000);
    let right = totp::code_for_step(&secret, step_now).unwrap();
    let accepted: Vec<String> = (-1..=1).map(|o| totp::code_for_step(&secret, step_now + o).unwrap()).collect();
    let wrong = (0..1000).map(|n| format!("{:06}", 123_456 + n)).find(|c| !accepted.contains(c)).unwrap();
    let totp_grant = |code: String| {
        app.authenticate(json!({
            "grant_type": "urn:workos:oauth:grant-type:mfa-totp", "client_id": app.client_id,
            "client_secret": app.api_key, "pending_authentication_token": pending,
            "authentication_challenge_id": challenge_id, "code": code,
        }))
    };
    assert_eq!(totp_grant(wrong).await.0, 400);
    let (status, body) = totp_grant(right).await;
    assert_eq!(status, 200, "{body}");

    // A passkey answer for a ceremony that does not exist (the browser part is e2e 15's).
    let env = app.core.environment_by_name("development").await.unwrap();
    assert!(app.core.finish_passkey_sign_in(&env, "no-such-ceremony", json!({}), &Default::default()).await.is_err());

    done.store(true, Ordering::Relaxed);
    let scrapes = scraper.await.unwrap();
    assert!(scrapes >= 3, "scraped {scrapes} times");
    let after = scrape(&plain, &url).await;
    let moved = |f: &dyn Fn(&Exposition) -> f64| f(&after) - f(&before);
    for (what, delta, expected) in [
        ("password succeeded", moved(&|e| sign_ins(e, "password", "succeeded")), 2.0),
        ("password failed", moved(&|e| sign_ins(e, "password", "failed")), 1.0),
        ("magic_auth succeeded", moved(&|e| sign_ins(e, "magic_auth", "succeeded")), 1.0),
        ("magic_auth failed", moved(&|e| sign_ins(e, "magic_auth", "failed")), 1.0),
        ("email_verification failed", moved(&|e| sign_ins(e, "email_verification", "failed")), 1.0),
        ("mfa succeeded", moved(&|e| sign_ins(e, "mfa", "succeeded")), 1.0),
        ("mfa failed", moved(&|e| sign_ins(e, "mfa", "failed")), 1.0),
        ("passkey succeeded", moved(&|e| sign_ins(e, "passkey", "succeeded")), 0.0),
        ("passkey failed", moved(&|e| sign_ins(e, "passkey", "failed")), 1.0),
        ("refresh succeeded", moved(&|e| sign_ins(e, "refresh", "succeeded")), 3.0),
        ("refresh failed", moved(&|e| sign_ins(e, "refresh", "failed")), 2.0),
        ("rotated", moved(&|e| refreshes(e, "rotated")), 2.0),
        ("grace_retry", moved(&|e| refreshes(e, "grace_retry")), 1.0),
        ("reuse_detected", moved(&|e| refreshes(e, "reuse_detected")), 1.0),
        ("rejected", moved(&|e| refreshes(e, "rejected")), 1.0),
    ] {
        assert_eq!(delta, expected, "{what}");
    }
    // Every OAuth provider kind has its series from the start.
    for provider in ["google", "microsoft", "github", "apple", "gitlab", "oidc"] {
        assert!(
            after.samples.iter().any(|s| s.name == "gatehouse_sign_ins_total"
                && s.labels.get("provider").map(String::as_str) == Some(provider)),
            "{provider}"
        );
    }
    // The request histogram saw the token endpoint's 200s and 400s.
    let authenticate = [("route", "/user_management/authenticate"), ("status", "400")];
    assert!(after.value("gatehouse_http_request_duration_seconds_count", &authenticate) >= 5.0);
    assert_eq!(after.types["gatehouse_http_request_duration_seconds"], "histogram");
}

/// The gauges and the throttling counter move with what happens: a 429 (a password, an emailed
/// code) adds one to `gatehouse_throttled_total`; an email the SMTP server cannot take raises the outbox's depth
/// and its age grows with the clock; a key rotation brings the signing-key age back down.
#[tokio::test]
async fn throttling_the_outbox_and_key_rotation_move_their_series() {
    use gatehouse::service::throttle::{CODE_GUESSES_PER_PAIR, PER_PAIR};
    // Reserve a port, then leave it closed: the SMTP server is down.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let app = TestApp::spawn_with(|c| {
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.email_from = Some("Gatehouse <no-reply@example.com>".into());
    })
    .await;
    let url = app.metrics_url.clone().unwrap();
    let plain = reqwest::Client::new();

    // Throttled: the pair's limit of wrong passwords, then one more attempt.
    app.create_user("t@example.com").await;
    let login = |password: &'static str| {
        app.authenticate(json!({
            "grant_type": "password", "client_id": app.client_id, "client_secret": app.api_key,
            "email": "t@example.com", "password": password, "ip_address": "203.0.113.4",
        }))
    };
    for _ in 0..PER_PAIR.max {
        assert_eq!(login("wrong").await.0, 400);
    }
    let before = scrape(&plain, &url).await.value("gatehouse_throttled_total", &[]);
    assert_eq!(login(PASSWORD).await.0, 429);
    let after = scrape(&plain, &url).await.value("gatehouse_throttled_total", &[]);
    assert_eq!(after - before, 1.0, "one 429, one more throttled attempt");

    // The outbox: nothing waits, then a code the SMTP server cannot take waits and ages.
    let exposition = scrape(&plain, &url).await;
    assert_eq!(exposition.value("gatehouse_outbox_pending", &[]), 0.0);
    assert_eq!(exposition.value("gatehouse_outbox_oldest_age_seconds", &[]), 0.0);
    let (status, body) =
        app.api(Method::POST, "/user_management/magic_auth", Some(json!({"email": "o@example.com"}))).await;
    assert_eq!(status, 201, "{body}");
    app.core.outbox_ready.notify_one();
    app.clock.advance_secs(90);
    let exposition = scrape(&plain, &url).await;
    assert_eq!(exposition.value("gatehouse_outbox_pending", &[]), 1.0);
    assert!(exposition.value("gatehouse_outbox_oldest_age_seconds", &[]) >= 90.0, "{exposition:?}");

    // Emailed codes: the pair's guesses at the user's Magic Auth codes, then one more.
    let (status, body) =
        app.api(Method::POST, "/user_management/magic_auth", Some(json!({"email": "t@example.com"}))).await;
    assert_eq!(status, 201, "{body}");
    let code = body["code"].as_str().unwrap().to_owned();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let guess = |code: String| {
        app.authenticate(json!({
            "grant_type": "urn:workos:oauth:grant-type:magic-auth:code", "client_id": app.client_id,
            "client_secret": app.api_key, "email": "t@example.com", "code": code, "ip_address": "203.0.113.4",
        }))
    };
    for _ in 0..CODE_GUESSES_PER_PAIR.max {
        assert_eq!(guess(wrong.to_owned()).await.0, 400);
    }
    assert_eq!(guess(code).await.0, 429);
    let throttled = scrape(&plain, &url).await.value("gatehouse_throttled_total", &[]);
    assert_eq!(throttled - after, 1.0, "a throttled code guess is a throttled attempt too");

    // The signing key ages with the clock; a rotation publishes a new one of age zero.
    app.clock.advance_secs(3600);
    let development = [("environment", "development")];
    let aged = scrape(&plain, &url).await.value("gatehouse_signing_key_age_seconds", &development);
    assert!(aged >= 3690.0, "{aged}");
    let env = app.core.environment_by_name("development").await.unwrap();
    app.core.rotate_signing_key(&env, &gatehouse::domain::audit::Actor::Cli).await.unwrap();
    let rotated = scrape(&plain, &url).await.value("gatehouse_signing_key_age_seconds", &development);
    assert!(rotated < 1.0, "{rotated} after a rotation, {aged} before");
}
