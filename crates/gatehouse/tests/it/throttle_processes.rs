//! Throttling across several real server processes on one database (issue 13): wrong passwords
//! for one account from one client address, sent in parallel to three `gatehouse serve`
//! processes, are evaluated no more often than the policy allows (`PER_PAIR`); the rest are
//! refused with 429 before any hash is checked. The counting is one conditional write per
//! attempt in the shared store, so it holds on SQLite's file and on PostgreSQL alike.

use gatehouse::service::throttle::PER_PAIR;
use serde_json::{Value, json};

use crate::binary::{Binary, Stopped, free_port, wait_healthy};
use crate::support::{PASSWORD, join_all};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_on_three_server_processes_never_exceed_the_policy() {
    let root = tempfile::tempdir().unwrap();
    let binary = Binary::for_test(root.path()).await;
    let out = binary.command().args(["--json", "init"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let init: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (api_key, client_id) = (init["api_key"].as_str().unwrap(), init["client_id"].as_str().unwrap());
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let _servers: Vec<Stopped> = ports.iter().map(|port| Stopped(binary.serve(*port))).collect();
    let bases: Vec<String> = ports.iter().map(|port| format!("http://127.0.0.1:{port}")).collect();
    let http = reqwest::Client::new();
    for base in &bases {
        wait_healthy(&http, base).await;
    }
    let res = http
        .post(format!("{}/user_management/users", bases[0]))
        .bearer_auth(api_key)
        .json(&json!({"email": "race@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let sign_in = |base: &str, password: &str, ip: &str| {
        http.post(format!("{base}/user_management/authenticate")).json(&json!({
            "grant_type": "password", "client_id": client_id, "client_secret": api_key,
            "email": "race@example.com", "password": password, "ip_address": ip,
        }))
    };
    let attempts = (0..24).map(|i| {
        let request = sign_in(&bases[i % 3], "wrong password", "192.0.2.77");
        async move {
            let res = request.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    });
    let results = join_all(attempts).await;
    let evaluated = results.iter().filter(|(status, _)| *status == 400).count();
    let refused =
        results.iter().filter(|(status, body)| *status == 429 && body["code"] == "rate_limit_exceeded").count();
    assert_eq!(evaluated, PER_PAIR.max as usize, "{results:?}");
    assert_eq!(evaluated + refused, 24, "{results:?}");

    // The pair is locked on every process, and the owner at another address is not.
    for base in &bases {
        let res = sign_in(base, PASSWORD, "192.0.2.77").send().await.unwrap();
        assert_eq!(res.status(), 429);
        let res = sign_in(base, PASSWORD, "198.51.100.8").send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
}
