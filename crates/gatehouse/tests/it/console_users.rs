//! The console's users part (issue 16) below the web layer: search by prefix in any case,
//! complete and stable pages in both directions, page timings with 100,000 users, ending
//! sessions for the app, deleting users, and the home page's figures.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use gatehouse::domain::environment::Environment;
use gatehouse::domain::user::email_skeleton;
use gatehouse::domain::user_search::search_key;
use gatehouse::ids::new_id;
use gatehouse::service::insights::Attention;
use gatehouse::service::user_admin::{SearchRequest, UserListPage};
use gatehouse::service::users::NewUser;

use crate::support::{PASSWORD, TestApp};

async fn dev(app: &TestApp) -> Environment {
    app.core.environment_by_name("development").await.unwrap()
}

async fn add(app: &TestApp, env: &Environment, email: &str, first: Option<&str>, last: Option<&str>) -> String {
    let new = NewUser {
        email: email.into(),
        first_name: first.map(Into::into),
        last_name: last.map(Into::into),
        password: Some(PASSWORD.into()),
        ..Default::default()
    };
    app.core.create_user(env, new).await.unwrap().id
}

async fn search(app: &TestApp, env: &Environment, query: &str, after: Option<String>, limit: u32) -> UserListPage {
    let req = SearchRequest { query: query.into(), after, before: None, limit };
    app.core.search_users(env, req).await.unwrap()
}

fn emails(page: &UserListPage) -> Vec<&str> {
    page.users.iter().map(|u| u.email.as_str()).collect()
}

#[tokio::test]
async fn search_matches_the_start_of_an_address_or_a_name_in_any_case() {
    let app = TestApp::spawn().await;
    let env = dev(&app).await;
    add(&app, &env, "ada@example.com", Some("Ada"), Some("Lovelace")).await;
    add(&app, &env, "grace@example.com", Some("Grace"), Some("Hopper")).await;
    add(&app, &env, "a-b@example.com", None, None).await;
    add(&app, &env, "a.b@example.com", Some("Élodie"), Some("Smith")).await;
    add(&app, &env, "smith@example.com", None, Some("Smith")).await;
    add(&app, &env, "lovelace.fan@example.com", Some("Zed"), None).await;

    let find = |q: &'static str| {
        let app = &app;
        let env = &env;
        async move {
            // Newest first; users made in one millisecond may share it, so compare as sets.
            let mut found: Vec<String> =
                emails(&search(app, env, q, None, 50).await).into_iter().map(str::to_owned).collect();
            found.sort();
            found
        }
    };
    assert_eq!(find("ADA").await, ["ada@example.com"]);
    assert_eq!(find("ada lo").await, ["ada@example.com"], "first and last name together");
    // By last name or by address.
    assert_eq!(find("Lovel").await, ["ada@example.com", "lovelace.fan@example.com"]);
    assert_eq!(find("a-").await, ["a-b@example.com"], "punctuation is literal");
    assert_eq!(find("a.").await, ["a.b@example.com"]);
    assert_eq!(find("éLO").await, ["a.b@example.com"], "non-ASCII case folds");
    // "smith" is this user's address and last name: listed once.
    assert_eq!(find("smith").await, ["a.b@example.com", "smith@example.com"]);
    assert_eq!(find("nobody").await, Vec::<String>::new());
    assert_eq!(find("  grace  ").await, ["grace@example.com"]);
    // No query: everyone, newest first.
    assert_eq!(search(&app, &env, "", None, 50).await.users.len(), 6);

    // An edit moves the keys with it; a deletion takes them away.
    let grace = app.core.find_user_by_email(&env, "grace@example.com").await.unwrap().unwrap();
    let patch = gatehouse::service::users::UserPatch { last_name: Some(Some("Brewster".into())), ..Default::default() };
    app.core.update_user(&env, &grace.id, patch).await.unwrap();
    assert_eq!(find("brew").await, ["grace@example.com"]);
    assert_eq!(find("hopp").await, Vec::<String>::new());
    app.core.delete_user(&env, &grace.id).await.unwrap();
    assert_eq!(find("grace").await, Vec::<String>::new());

    // A link that was not made by the console is refused, not a 500.
    let bad = SearchRequest { query: "a".into(), after: Some("user_1' OR '1'='1".into()), before: None, limit: 10 };
    assert!(matches!(app.core.search_users(&env, bad).await, Err(gatehouse::service::Error::Validation { .. })));
}

#[tokio::test]
async fn pages_are_complete_and_stable_both_ways() {
    let app = TestApp::spawn().await;
    let env = dev(&app).await;
    // 45 users whose keys start with "m", through the address, the first or the last name,
    // several through two of them.
    let mut expected = Vec::new();
    for i in 0..45 {
        let (email, first, last) = match i % 3 {
            0 => (format!("m{i:02}@example.com"), None, Some("Miller")),
            1 => (format!("u{i:02}@example.com"), Some("Mary"), Some("Jones")),
            _ => (format!("x{i:02}@example.com"), Some("Zoe"), Some("Moss")),
        };
        expected.push(add(&app, &env, &email, first, last).await);
    }
    add(&app, &env, "other@example.com", Some("Other"), None).await;
    // Newest first.
    expected.sort_by(|a, b| b.cmp(a));

    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = search(&app, &env, "M", after.clone(), 7).await;
        assert!(page.users.len() <= 7);
        assert_eq!(page.previous.is_some(), after.is_some());
        seen.extend(page.users.iter().map(|u| u.id.clone()));
        pages.push(page.clone());
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, expected, "every match once, newest first");
    assert_eq!(pages.len(), 7);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 45);

    // Back from the last page, each previous page is the same page again.
    let mut before = pages.last().unwrap().previous.clone();
    for want in pages.iter().rev().skip(1) {
        let req = SearchRequest { query: "m".into(), after: None, before: before.clone(), limit: 7 };
        let page = app.core.search_users(&env, req).await.unwrap();
        assert_eq!(emails(&page), emails(want));
        before = page.previous;
    }
    assert_eq!(before, None, "the first page has no previous page");

    // A user added while the reader pages does not shift or repeat what follows.
    let second = search(&app, &env, "m", pages[0].next.clone(), 7).await;
    add(&app, &env, "m00a@example.com", None, None).await;
    let again = search(&app, &env, "m", pages[0].next.clone(), 7).await;
    assert_eq!(emails(&second), emails(&again));
    assert_eq!(search(&app, &env, "m", None, 50).await.users[0].email, "m00a@example.com", "the newest comes first");

    // Without a query the pages walk every user, newest first, both ways.
    let all = search(&app, &env, "", None, 20).await;
    let rest = search(&app, &env, "", all.next.clone(), 20).await;
    let tail = search(&app, &env, "", rest.next.clone(), 20).await;
    assert_eq!(all.users.len() + rest.users.len() + tail.users.len(), 47);
    assert!(tail.next.is_none());
    let req = SearchRequest { query: String::new(), after: None, before: rest.previous.clone(), limit: 20 };
    assert_eq!(emails(&app.core.search_users(&env, req).await.unwrap()), emails(&all));
}

#[tokio::test]
async fn users_stored_before_the_search_keys_get_them_at_start_up() {
    use sqlx::Connection as _;
    let app = TestApp::spawn().await;
    let env = dev(&app).await;
    let old = add(&app, &env, "Grace.Hopper@example.com", Some("Grace"), Some("Hopper")).await;
    let kept = add(&app, &env, "ada@example.com", Some("Ada"), None).await;
    // As a row written before migration 15: no keys.
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.config.database_url()).await.unwrap();
    sqlx::query("UPDATE users SET search_email = NULL, search_name = NULL, search_last = NULL WHERE id = $1")
        .bind(&old)
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(search(&app, &env, "hopper", None, 10).await.users.is_empty());
    app.core.prepare_search_keys().await.unwrap();
    for q in ["GRACE.H", "grace hop", "hopper"] {
        let page = search(&app, &env, q, None, 10).await;
        assert_eq!(page.users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), [old.as_str()], "{q}");
    }
    assert_eq!(search(&app, &env, "ada", None, 10).await.users[0].id, kept);
    // Nothing is left to fill: the next start finds nothing.
    let missing: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE search_email IS NULL").fetch_one(&mut conn).await.unwrap();
    assert_eq!(missing, 0);
}

/// Seeds `n` users with one multi-row INSERT per batch (keys computed as the store does).
async fn seed_users(app: &TestApp, env: &Environment, n: usize) {
    use sqlx::Connection as _;
    const FIRST: &[&str] = &[
        "Ada", "Alan", "Barbara", "Claude", "Dennis", "Edsger", "Frances", "Grace", "Hedy", "Ivan", "Jean", "Ken",
        "Linus", "Margaret", "Niklaus", "Olga", "Peter", "Radia", "Sophie", "Tim",
    ];
    const LAST: &[&str] = &[
        "Lovelace",
        "Turing",
        "Liskov",
        "Shannon",
        "Ritchie",
        "Dijkstra",
        "Allen",
        "Hopper",
        "Lamarr",
        "Sutherland",
        "Sammet",
        "Thompson",
        "Torvalds",
        "Hamilton",
        "Wirth",
        "Taussky",
        "Naur",
        "Perlman",
        "Wilson",
        "Berners-Lee",
    ];
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.config.database_url()).await.unwrap();
    let columns = "id, environment_id, email, email_verified, first_name, last_name, metadata, created_at, \
                   updated_at, email_skeleton, search_email, search_name, search_last";
    let per_row = 13;
    let batch = 1000;
    let mut done = 0;
    while done < n {
        let rows = batch.min(n - done);
        let mut sql = format!("INSERT INTO users ({columns}) VALUES ");
        for r in 0..rows {
            let marks: Vec<String> = (1..=per_row).map(|c| format!("${}", r * per_row + c)).collect();
            sql.push_str(&format!("{}({})", if r == 0 { "" } else { ", " }, marks.join(", ")));
        }
        let mut tx = conn.begin().await.unwrap();
        let mut q = sqlx::query(&sql);
        for i in done..done + rows {
            let first = FIRST[i % FIRST.len()];
            let last = LAST[(i / FIRST.len()) % LAST.len()];
            let email = format!("{}.{}{i}@example{}.com", first.to_lowercase(), last.to_lowercase(), i % 7);
            q = q
                .bind(new_id("user"))
                .bind(env.id.clone())
                .bind(email.clone())
                .bind(1_i64)
                .bind(first)
                .bind(last)
                .bind("{}")
                .bind(1_700_000_000_000_i64)
                .bind(1_700_000_000_000_i64)
                .bind(email_skeleton(&email))
                .bind(search_key(&email))
                .bind(search_key(&format!("{first} {last}")))
                .bind(search_key(last));
        }
        q.execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        done += rows;
    }
    if app.config.database_url().starts_with("postgres") {
        sqlx::query("ANALYZE users").execute(&mut conn).await.unwrap();
    }
}

/// Times one page; a page over the target is asked twice more and keeps its best time, so a
/// stall of the shared machine does not fail the test but a slow query shape still does.
async fn timed(
    app: &TestApp,
    env: &Environment,
    timings: &mut Vec<(String, Duration)>,
    label: String,
    req: SearchRequest,
) -> UserListPage {
    let mut best = Duration::MAX;
    let mut page = None;
    for _ in 0..3 {
        let t = Instant::now();
        let p = app.core.search_users(env, req.clone()).await.unwrap();
        best = best.min(t.elapsed());
        page = Some(p);
        if best < TARGET {
            break;
        }
    }
    timings.push((label, best));
    page.unwrap()
}

/// Issue 16's target for one page of the console's user search.
const TARGET: Duration = Duration::from_millis(100);

#[tokio::test]
async fn each_page_takes_under_100_ms_with_100_000_users() {
    let app = TestApp::spawn().await;
    let env = dev(&app).await;
    let started = Instant::now();
    seed_users(&app, &env, 100_000).await;
    eprintln!("seeded 100,000 users in {:?}", started.elapsed());

    let mut timings: Vec<(String, Duration)> = Vec::new();
    // Warm the connection and caches once.
    app.core.search_users(&env, SearchRequest { query: "a".into(), limit: 50, ..Default::default() }).await.unwrap();
    // Broad ("a": a third of the users; "ada": one in twenty) and narrow queries, none.
    for query in ["a", "ADA", "grace.hopper", "Hopper", "berners-", "ada lovelace", "zzz", ""] {
        let mut after = None;
        for n in 0..5 {
            let req = SearchRequest { query: query.into(), after: after.clone(), before: None, limit: 50 };
            let page = timed(&app, &env, &mut timings, format!("{query:?} page {}", n + 1), req).await;
            if query != "zzz" {
                assert_eq!(page.users.len(), 50, "{query:?} page {}", n + 1);
            }
            after = page.next;
            if after.is_none() {
                break;
            }
        }
    }
    // Deep in a broad search: 40 pages of "a" (the address, first and last names all match).
    let mut after = None;
    for _ in 0..40 {
        let req = SearchRequest { query: "a".into(), after: after.clone(), before: None, limit: 50 };
        after = timed(&app, &env, &mut timings, "\"a\" deep".into(), req).await.next;
    }
    let worst = timings.iter().max_by_key(|(_, d)| *d).unwrap();
    let mut sorted: Vec<Duration> = timings.iter().map(|(_, d)| *d).collect();
    sorted.sort();
    eprintln!("{} pages: median {:?}, slowest {:?} ({})", sorted.len(), sorted[sorted.len() / 2], worst.1, worst.0);
    assert!(worst.1 < TARGET, "slowest page {:?}: {}", worst.1, worst.0);
}

#[tokio::test]
async fn revoking_ends_the_session_for_the_app() {
    let app = TestApp::spawn().await;
    let env = dev(&app).await;
    let user = add(&app, &env, "ada@example.com", Some("Ada"), None).await;
    let one = app.login("ada@example.com").await;
    let two = app.login("ada@example.com").await;
    let three = app.login("ada@example.com").await;
    // The app refreshes once, so the cached context is what a revocation must beat.
    let (status, refreshed) = app.refresh(&one.refresh_token).await;
    assert_eq!(status, 200, "{refreshed}");
    let one_refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();

    let overview = app.core.user_overview(&env, &user).await.unwrap();
    assert_eq!(overview.active_sessions.len(), 3);
    assert_eq!(overview.recent_sign_ins.len(), 3);
    let sid = gatehouse_session_id(&one.access_token);
    app.core.revoke_user_session(&env, &user, &sid).await.unwrap();
    let (status, body) = app.refresh(&one_refresh).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert_eq!(app.core.user_overview(&env, &user).await.unwrap().active_sessions.len(), 2);
    // Someone else's session is not this user's to revoke.
    let other = add(&app, &env, "grace@example.com", None, None).await;
    let sid_two = gatehouse_session_id(&two.access_token);
    assert!(app.core.revoke_user_session(&env, &other, &sid_two).await.is_err());

    assert_eq!(app.core.revoke_user_sessions(&env, &user).await.unwrap(), 2);
    for t in [&two, &three] {
        assert_eq!(app.refresh(&t.refresh_token).await.0, 400);
    }
    assert!(app.core.user_overview(&env, &user).await.unwrap().active_sessions.is_empty());
    // Each ended session is in the event log.
    let (status, events) = app.api(reqwest::Method::GET, "/events?events=session.revoked&limit=10", None).await;
    assert_eq!(status, 200, "{events}");
    assert_eq!(events["data"].as_array().unwrap().len(), 3);
}

fn gatehouse_session_id(access_token: &str) -> String {
    crate::support::claims(access_token)["sid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_users_page_has_its_refusals_and_deleting_the_user_ends_everything() {
    let app = TestApp::spawn().await;
    let env = dev(&app).await;
    let user = add(&app, &env, "ada@example.com", Some("Ada"), None).await;
    let tokens = app.login("ada@example.com").await;
    assert_eq!(app.password_login("ada@example.com", "wrong password").await.0, 400);
    assert_eq!(app.password_login("nobody@example.com", "wrong password").await.0, 400);
    let overview = app.core.user_overview(&env, &user).await.unwrap();
    assert_eq!(overview.refused_sign_ins.len(), 1, "the user's own refusal, not another address's");
    assert_eq!(overview.refused_sign_ins[0].event, "authentication.password_failed");
    assert!(overview.factors.is_empty() && overview.passkeys.is_empty() && overview.identities.is_empty());

    app.core.delete_user(&env, &user).await.unwrap();
    assert_eq!(app.refresh(&tokens.refresh_token).await.0, 400);
    assert!(search(&app, &env, "ada", None, 10).await.users.is_empty());
    assert!(app.core.user_overview(&env, &user).await.is_err());
}

#[tokio::test]
async fn the_home_page_counts_the_last_30_days() {
    let app = TestApp::spawn().await;
    let env = dev(&app).await;
    add(&app, &env, "ada@example.com", None, None).await;
    app.login("ada@example.com").await;
    app.login("ada@example.com").await;
    assert_eq!(app.password_login("ada@example.com", "nope").await.0, 400);
    // Yesterday's user lands one day earlier.
    app.clock.advance_secs(86_400);
    add(&app, &env, "grace@example.com", None, None).await;

    let insights = app.core.insights(&env).await.unwrap();
    assert_eq!(insights.new_users[29], 1);
    assert_eq!(insights.new_users[28], 1);
    assert_eq!(insights.sign_ins_per_day()[28], 2);
    assert_eq!(insights.sign_ins[0].0, "Password");
    assert_eq!(insights.total_sign_ins(), 2);
    assert_eq!(insights.refused[28], 1);
    assert_eq!(insights.locked_pairs, 0);
    // 31 days later it has all left the window.
    app.clock.advance_secs(31 * 86_400);
    let later = app.core.insights(&env).await.unwrap();
    assert_eq!((later.total_sign_ins(), later.new_users.iter().sum::<i64>()), (0, 0));

    // Ten wrong passwords from one address lock that pair out.
    for _ in 0..11 {
        app.password_login("ada@example.com", "nope").await;
    }
    assert_eq!(app.core.insights(&env).await.unwrap().locked_pairs, 1);

    let loaded = app.core.load_environment(&env.client_id).await.unwrap().unwrap();
    let attention = app.core.attention(&loaded).await.unwrap();
    assert!(attention.is_empty(), "{attention:?}");
    app.core.ensure_environment("production", &gatehouse::domain::audit::Actor::Cli).await.unwrap();
    let attention = app.core.attention(&loaded).await.unwrap();
    assert_eq!(attention, vec![Attention::ProductionWithoutSmtp]);
    // 90 days on one key: due to rotate.
    app.clock.advance_secs(90 * 86_400);
    let loaded = app.core.load_environment(&env.client_id).await.unwrap().unwrap();
    let attention = app.core.attention(&loaded).await.unwrap();
    assert!(attention.iter().any(|a| matches!(a, Attention::KeyDueToRotate { age_days, .. } if *age_days >= 121)));
}

#[tokio::test]
async fn throttled_attempts_are_kept_per_environment_and_day_for_30_days() {
    use sqlx::Connection as _;
    let app = TestApp::spawn().await;
    let env = dev(&app).await;
    add(&app, &env, "ada@example.com", None, None).await;
    // Ten wrong passwords from one address are evaluated; the next four are throttled (429).
    for _ in 0..10 {
        assert_eq!(app.password_login("ada@example.com", "nope").await.0, 400);
    }
    for _ in 0..4 {
        assert_eq!(app.password_login("ada@example.com", "nope").await.0, 429);
    }
    // The next day (the window has passed): ten more evaluated, then two throttled.
    app.clock.advance_secs(86_400);
    for n in 0..12 {
        assert_eq!(app.password_login("ada@example.com", "nope").await.0, if n < 10 { 400 } else { 429 });
    }
    let insights = app.core.insights(&env).await.unwrap();
    assert_eq!((insights.throttled[28], insights.throttled[29]), (4, 2));
    assert_eq!(insights.throttled.iter().sum::<i64>(), 6);
    // Throttled attempts are not failed sign-ins: only the evaluated ones are.
    assert_eq!(insights.refused.iter().sum::<i64>(), 20);
    // Written to the store (the home page flushed the tally): another environment has none.
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.config.database_url()).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM throttled_daily WHERE environment_id = $1")
        .bind(&env.id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 2);
    let prod = app.core.ensure_environment("production", &gatehouse::domain::audit::Actor::Cli).await.unwrap();
    let prod = app.core.environment_by_name(&prod.environment).await.unwrap();
    assert_eq!(app.core.insights(&prod).await.unwrap().throttled.iter().sum::<i64>(), 0);
    // Past the window the days leave the chart and the purge deletes them.
    app.clock.advance_secs(31 * 86_400);
    assert_eq!(app.core.insights(&env).await.unwrap().throttled.iter().sum::<i64>(), 0);
    app.core.purge_expired().await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM throttled_daily").fetch_one(&mut conn).await.unwrap();
    assert_eq!(rows, 0);
}

/// The console's pages over HTTP: an admin sees and uses them, a viewer sees them without
/// buttons and every change of theirs is refused; ending a session there ends it for the app.
#[tokio::test]
async fn the_console_pages_answer_admins_and_refuse_viewers_changes() {
    use gatehouse::service::operators::OperatorRole;

    use crate::console::{csrf_of, operator, unescaped};
    let app = TestApp::spawn().await;
    let env = dev(&app).await;
    let user = add(&app, &env, "ada@example.com", Some("Ada"), Some("Lovelace")).await;
    add(&app, &env, "grace@example.com", Some("Grace"), Some("Hopper")).await;
    let tokens = app.login("ada@example.com").await;
    let org = app.api(reqwest::Method::POST, "/organizations", Some(serde_json::json!({"name": "Acme"}))).await.1;
    let org_id = org["id"].as_str().unwrap();

    let admin = operator(&app, "admin@example.com", OperatorRole::Admin).await;
    let viewer = operator(&app, "viewer@example.com", OperatorRole::Viewer).await;
    let base = "/dashboard/env/development";
    let pages = [
        "/dashboard".to_owned(),
        "/dashboard?env=development".to_owned(),
        format!("{base}/users"),
        format!("{base}/users?q=LOVE"),
        format!("{base}/users/{user}"),
        format!("{base}/sessions"),
        format!("{base}/organizations"),
        format!("{base}/organizations/{org_id}"),
        "/dashboard/activity".to_owned(),
        "/dashboard/activity?env=development&type=session.created".to_owned(),
    ];
    for (who, b) in [("admin", &admin), ("viewer", &viewer)] {
        for path in &pages {
            let res = b.get(app.at(path)).send().await.unwrap();
            assert_eq!(res.status(), 200, "{who} {path}");
            let html = unescaped(&res.text().await.unwrap());
            if path.contains("q=LOVE") {
                assert!(html.contains("ada@example.com") && !html.contains("grace@example.com"), "{html}");
            }
            if path.ends_with(&user) {
                assert_eq!(html.contains("End all sessions"), who == "admin", "{who} sees change buttons?");
            }
        }
    }
    // A bad page link is a message on the page, not an error.
    let res = admin.get(app.at(&format!("{base}/users?q=a&after=x'y"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("page link is not valid"));

    // The viewer's POSTs are refused, with a valid CSRF token or not.
    let csrf = csrf_of(&viewer, &app.at(&format!("{base}/users/{user}"))).await;
    let sid = gatehouse_session_id(&tokens.access_token);
    for (path, field, value) in [
        (format!("{base}/users/{user}/sessions/revoke-all"), "confirm", "yes"),
        (format!("{base}/users/{user}/sessions/revoke"), "session_id", sid.as_str()),
        (format!("{base}/users/{user}/delete"), "confirm", "yes"),
        (format!("{base}/users"), "email", "new@example.com"),
    ] {
        let form = [("csrf_token", csrf.as_str()), (field, value), ("confirm", "yes")];
        let res = viewer.post(app.at(&path)).form(&form).send().await.unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }
    assert_eq!(app.refresh(&tokens.refresh_token).await.0, 200, "nothing was ended");

    // The admin: a confirmation page first, then the change; the app's refresh then fails.
    let csrf = csrf_of(&admin, &app.at(&format!("{base}/users/{user}"))).await;
    let path = app.at(&format!("{base}/users/{user}/sessions/revoke"));
    let res =
        admin.post(&path).form(&[("csrf_token", csrf.as_str()), ("session_id", sid.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("signed out at its next refresh"));
    let form = [("csrf_token", csrf.as_str()), ("session_id", sid.as_str()), ("confirm", "yes")];
    let res = admin.post(&path).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let (status, body) = app.refresh(&tokens.refresh_token).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    // Without the form's token the change is refused.
    let res =
        admin.post(app.at(&format!("{base}/users/{user}/delete"))).form(&[("confirm", "yes")]).send().await.unwrap();
    assert_eq!(res.status(), 403);
    // Creating a user, then deleting them.
    let form = [("csrf_token", csrf.as_str()), ("email", "new@example.com"), ("first_name", "New")];
    let res = admin.post(app.at(&format!("{base}/users"))).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let created = app.core.find_user_by_email(&env, "new@example.com").await.unwrap().unwrap();
    // An edit is recorded with the operator and what changed: before and after on the Activity page.
    let form =
        [("csrf_token", csrf.as_str()), ("email", "new@example.com"), ("first_name", "Newer"), ("last_name", "")];
    let res = admin.post(app.at(&format!("{base}/users/{}/edit", created.id))).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let filter = gatehouse::service::events::EventFilter {
        events: vec!["user.updated".into()],
        limit: 1,
        order: Some(gatehouse::domain::listing::ListOrder::Desc),
        ..Default::default()
    };
    let (updated, _) = app.core.list_events(&env, filter).await.unwrap();
    let admin_id = app.core.list_operators().await.unwrap().into_iter().find(|o| o.user.email == "admin@example.com");
    assert_eq!(updated[0].actor, admin_id.map(|o| o.user.id));
    let before: serde_json::Value = serde_json::from_str(updated[0].before_data.as_deref().unwrap()).unwrap();
    assert_eq!((before["first_name"].as_str(), before["id"].as_str()), (Some("New"), Some(created.id.as_str())));
    let html = unescaped(
        &admin
            .get(app.at("/dashboard/activity?env=development&type=user.updated"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert!(html.contains("admin@example.com") && html.contains(r#""first_name": "New""#), "{html}");
    assert!(html.contains(r#""first_name": "Newer""#), "{html}");
    let form = [("csrf_token", csrf.as_str()), ("confirm", "yes")];
    let res = admin.post(app.at(&format!("{base}/users/{}/delete", created.id))).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(app.core.find_user_by_email(&env, "new@example.com").await.unwrap().is_none());
}
