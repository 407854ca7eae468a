//! Durability: `kill -9` of the real binary under write load loses no acknowledged write, on
//! SQLite and (with `GATEHOUSE_TEST_DATABASE_URL`) PostgreSQL. Writers create users over the
//! API; every 201 is recorded; the server is killed mid-load, restarted on the same store, and
//! every acknowledged user must be there.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::binary::{Binary, free_port, wait_healthy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_write() {
    let root = tempfile::tempdir().unwrap();
    let binary = Binary::for_test(root.path()).await;
    let api_key = binary.init();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..3 {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut server = binary.serve(port);
        wait_healthy(&http, &base).await;
        // Eight writers until the kill; each keeps what the server acknowledged.
        let stop = Instant::now() + Duration::from_millis(700);
        let writers = (0..8).map(|w| {
            let (http, base, key) = (http.clone(), base.clone(), api_key.clone());
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0.. {
                    let email = format!("r{round}w{w}n{i}@example.com");
                    let sent = http
                        .post(format!("{base}/user_management/users"))
                        .bearer_auth(&key)
                        .json(&json!({"email": email}))
                        .send()
                        .await;
                    match sent {
                        Ok(res) if res.status().as_u16() == 201 => match res.json::<Value>().await {
                            Ok(body) => ids.push(body["id"].as_str().unwrap_or_default().to_owned()),
                            Err(_) => break,
                        },
                        _ => break,
                    }
                    if Instant::now() > stop + Duration::from_secs(5) {
                        break;
                    }
                }
                ids
            })
        });
        let writers: Vec<_> = writers.collect();
        tokio::time::sleep(Duration::from_millis(700)).await;
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
        for writer in writers {
            acknowledged.extend(writer.await.unwrap().into_iter().filter(|id| !id.is_empty()));
        }
    }
    assert!(acknowledged.len() > 20, "the load was too light to mean anything: {}", acknowledged.len());
    // Restart on the same store; every acknowledged user is there.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = binary.serve(port);
    wait_healthy(&http, &base).await;
    let mut missing = Vec::new();
    for id in &acknowledged {
        let res = http.get(format!("{base}/user_management/users/{id}")).bearer_auth(&api_key).send().await.unwrap();
        if res.status().as_u16() != 200 {
            missing.push(id.clone());
        }
    }
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(missing.is_empty(), "{} of {} acknowledged writes lost: {missing:?}", missing.len(), acknowledged.len());
    eprintln!("{} acknowledged writes over 3 kill -9, none lost", acknowledged.len());
}
