//! End-to-end tests of `convex-numbers` over real sockets: a fake Gatehouse JWKS endpoint on
//! 127.0.0.1:0, the service on another port, a WebSocket client speaking Convex's sync protocol, and
//! the HTTP API.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use convex_numbers::storage::Storage;
use convex_numbers::{AppState, http, seed_auth_config};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const CLIENT_ID: &str = "client_01TEST";

fn key() -> &'static RsaKeyPair {
    static K: OnceLock<RsaKeyPair> = OnceLock::new();
    K.get_or_init(|| RsaKeyPair::generate(KeySize::Rsa2048).unwrap())
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn mint(claims: &Value) -> String {
    let header = json!({"alg": "RS256", "kid": "k1", "typ": "JWT"});
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let mut sig = vec![0; key().public_modulus_len()];
    key().sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig).unwrap();
    format!("{input}.{}", b64(&sig))
}

struct Env {
    gatehouse: String,
    addr: std::net::SocketAddr,
}

impl Env {
    /// An access token like Gatehouse's, with the JWT template adding `name`.
    fn token(&self, exp_in_secs: i64) -> String {
        mint(&json!({
            "iss": format!("{}/user_management/{CLIENT_ID}", self.gatehouse),
            "sub": "user_01ADA", "sid": "session_01", "jti": "j1", "aud": CLIENT_ID,
            "name": "Ada Lovelace", "iat": now(), "exp": now() + exp_in_secs,
        }))
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn socket(&self) -> Ws {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/api/1.49.0/sync", self.addr)).await.unwrap();
        Ws(ws)
    }
}

async fn start() -> Env {
    // The fake Gatehouse: only the JWKS endpoint.
    let c: PublicKeyComponents<Vec<u8>> = key().public_key().into();
    let jwks =
        json!({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "n": b64(&c.n), "e": b64(&c.e)}]})
            .to_string();
    let fake = axum::Router::new().route(
        &format!("/sso/jwks/{CLIENT_ID}"),
        axum::routing::get(move || {
            let body = jwks.clone();
            async move { ([("content-type", "application/json"), ("cache-control", "max-age=300")], body) }
        }),
    );
    let fake_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gatehouse = format!("http://{}", fake_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(fake_listener, fake).await.unwrap() });

    let storage = Storage::open("sqlite::memory:").await.unwrap();
    let app = http::router(AppState::new(seed_auth_config(&gatehouse, CLIENT_ID).unwrap(), storage));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Env { gatehouse, addr }
}

struct Ws(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Ws {
    async fn send(&mut self, message: Value) {
        self.0.send(Message::Text(message.to_string().into())).await.unwrap();
    }

    async fn next(&mut self) -> Message {
        tokio::time::timeout(Duration::from_secs(10), self.0.next())
            .await
            .expect("no message within 10 s")
            .unwrap()
            .unwrap()
    }

    async fn recv(&mut self) -> Value {
        match self.next().await {
            Message::Text(text) => serde_json::from_str(text.as_str()).unwrap(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    async fn connect(&mut self) {
        self.send(json!({"type":"Connect","sessionId":"5f0c7a5e-0000-4000-8000-000000000001","connectionCount":0,"lastCloseReason":"InitialConnect","clientTs":0})).await;
    }
}

fn decode_ts(value: &Value) -> u64 {
    let bytes = base64::engine::general_purpose::STANDARD.decode(value.as_str().unwrap()).unwrap();
    u64::from_le_bytes(bytes.try_into().unwrap())
}

fn assert_transition(message: &Value, start: &Value, query_set: u64, identity: u64) {
    assert_eq!(message["type"], "Transition", "{message}");
    assert_eq!(&message["startVersion"], start, "start version must equal the client's current version");
    assert_eq!(message["endVersion"]["querySet"], query_set, "{message}");
    assert_eq!(message["endVersion"]["identity"], identity, "{message}");
    assert!(decode_ts(&message["endVersion"]["ts"]) >= decode_ts(&start["ts"]), "ts went backwards: {message}");
}

#[tokio::test]
async fn connect_authenticate_subscribe_mutate_transition() {
    let env = start().await;
    let mut ws = env.socket().await;
    ws.connect().await;
    ws.send(json!({"type":"Authenticate","tokenType":"User","value":env.token(300),"baseVersion":0})).await;
    ws.send(json!({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[
        {"type":"Add","queryId":0,"udfPath":"myFunctions:listNumbers","args":[{"count":10}]}]}))
        .await;

    // The identity is confirmed by a transition that bumps the identity version...
    let auth = ws.recv().await;
    assert_transition(&auth, &json!({"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="}), 0, 1);
    assert_eq!(auth["modifications"], json!([]));
    // ...then the query arrives, run as the signed-in user.
    let first = ws.recv().await;
    assert_transition(&first, &auth["endVersion"], 1, 1);
    assert_eq!(
        first["modifications"],
        json!([{"type":"QueryUpdated","queryId":0,"value":{"numbers":[],"viewer":"Ada Lovelace"},"logLines":[],"journal":null}])
    );

    // A second, signed-out client subscribed to the same query sees the mutation reactively.
    let mut other = env.socket().await;
    other.connect().await;
    other
        .send(json!({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[
        {"type":"Add","queryId":7,"udfPath":"myFunctions:listNumbers","args":[{"count":2}]}]}))
        .await;
    let other_first = other.recv().await;
    assert_transition(&other_first, &json!({"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="}), 1, 0);
    assert_eq!(other_first["modifications"][0]["value"], json!({"numbers":[],"viewer":null}));

    for (request_id, value) in [(0, 7), (1, 8), (2, 9)] {
        ws.send(json!({"type":"Mutation","requestId":request_id,"udfPath":"myFunctions:addNumber","args":[{"value":value}]})).await;
        let response = ws.recv().await;
        assert_eq!(response["type"], "MutationResponse", "{response}");
        assert_eq!(response["requestId"], request_id);
        assert_eq!(response["success"], true);
        assert_eq!(response["result"], Value::Null);
        assert!(response["logLines"][0].as_str().unwrap().starts_with("[LOG] 'Added new document with id:'"));
        let mutation_ts = decode_ts(&response["ts"]);
        let transition = ws.recv().await;
        let start = if request_id == 0 { first["endVersion"].clone() } else { transition["startVersion"].clone() };
        assert_transition(&transition, &start, 1, 1);
        // The mutation promise resolves only once a transition reaches its ts.
        assert!(decode_ts(&transition["endVersion"]["ts"]) >= mutation_ts);
        let numbers: Vec<i64> = (7..=value).collect();
        assert_eq!(transition["modifications"][0]["value"]["numbers"], json!(numbers));

        let pushed = other.recv().await;
        assert_eq!(pushed["type"], "Transition");
        assert_eq!(pushed["endVersion"]["querySet"], 1);
        let last_two: Vec<i64> = ((value - 1).max(7)..=value).collect();
        assert_eq!(
            pushed["modifications"],
            json!([{"type":"QueryUpdated","queryId":7,"value":{"numbers":last_two,"viewer":null},"logLines":[],"journal":null}])
        );
    }

    // Removing the query answers with QueryRemoved; signing out re-runs nothing but confirms identity 2.
    ws.send(
        json!({"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,"modifications":[{"type":"Remove","queryId":0}]}),
    )
    .await;
    let removed = ws.recv().await;
    assert_eq!(removed["modifications"], json!([{"type":"QueryRemoved","queryId":0}]));
    ws.send(json!({"type":"Authenticate","tokenType":"None","baseVersion":1})).await;
    let signed_out = ws.recv().await;
    assert_transition(&signed_out, &removed["endVersion"], 2, 2);

    let stats: Value = reqwest::get(env.url("/debug/stats")).await.unwrap().json().await.unwrap();
    assert_eq!(stats["authenticate_user"], 1);
    assert_eq!(stats["authenticate_none"], 1);
    assert_eq!(stats["mutations"], 3);
    assert_eq!(stats["auth_errors"], 0);
}

#[tokio::test]
async fn a_bad_token_gets_auth_error_then_a_close_without_status() {
    let env = start().await;
    let mut ws = env.socket().await;
    ws.connect().await;
    ws.send(json!({"type":"Authenticate","tokenType":"User","value":"not-a-jwt","baseVersion":0})).await;
    let error = ws.recv().await;
    assert_eq!(
        error,
        json!({"type":"AuthError","baseVersion":0,"authUpdateAttempted":true,
               "error":"Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts separated by dots."})
    );
    match ws.next().await {
        Message::Close(frame) => {
            assert!(frame.is_none(), "Convex closes with no status code (the client sees 1005): {frame:?}")
        }
        other => panic!("expected a close frame, got {other:?}"),
    }

    // A token from another client ID matches no provider: Convex's NoAuthProvider message.
    let mut ws = env.socket().await;
    ws.connect().await;
    let foreign = mint(
        &json!({"iss": format!("{}/user_management/client_OTHER", env.gatehouse), "sub": "u", "iat": now(), "exp": now() + 60}),
    );
    ws.send(json!({"type":"Authenticate","tokenType":"User","value":foreign,"baseVersion":0})).await;
    let error = ws.recv().await;
    let message = error["error"].as_str().unwrap();
    assert!(message.starts_with("No auth provider found matching the given token. Check that your JWT's issuer and audience match one of your configured providers: [CustomJWT(issuer="), "{message}");
}

#[tokio::test]
async fn an_expired_identity_gets_token_identity_expired() {
    let env = start().await;
    let mut ws = env.socket().await;
    ws.connect().await;
    // Accepted thanks to Convex's 5 s leeway, but already past `exp` when the identity is next used.
    ws.send(json!({"type":"Authenticate","tokenType":"User","value":env.token(-2),"baseVersion":0})).await;
    let error = ws.recv().await;
    assert_eq!(
        error,
        json!({"type":"AuthError","error":"Convex token identity expired","baseVersion":0,"authUpdateAttempted":false})
    );
    assert!(matches!(ws.next().await, Message::Close(None)));
}

#[tokio::test]
async fn http_query_and_mutation() {
    let env = start().await;
    let http = reqwest::Client::new();
    let token = env.token(300);

    let res = http
        .post(env.url("/api/mutation"))
        .bearer_auth(&token)
        .json(&json!({"path":"myFunctions:addNumber","args":{"value":4}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "success");
    assert_eq!(body["value"], Value::Null);

    // ConvexHttpClient's shape: args as a one-element array, convex-encoded JSON.
    let res = http
        .post(env.url("/api/query"))
        .bearer_auth(&token)
        .json(&json!({"path":"myFunctions:listNumbers","args":[{"count":10}],"format":"convex_encoded_json"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status":"success","value":{"numbers":[4],"viewer":"Ada Lovelace"}})
    );

    let anonymous: Value = http
        .post(env.url("/api/query"))
        .json(&json!({"path":"myFunctions:listNumbers","args":{"count":1},"format":"json"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anonymous, json!({"status":"success","value":{"numbers":[4],"viewer":null}}));

    let bad = http
        .post(env.url("/api/query"))
        .bearer_auth("x.y.z")
        .json(&json!({"path":"myFunctions:listNumbers","args":{"count":1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["code"], "InvalidAuthHeader");

    let basic = http
        .post(env.url("/api/query"))
        .header("authorization", "Basic abcdef")
        .json(&json!({"path":"myFunctions:listNumbers","args":{"count":1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 400);
    assert_eq!(basic.json::<Value>().await.unwrap(), json!({"code":"InvalidAdminKey","message":"Invalid admin key"}));

    let failed: Value = http
        .post(env.url("/api/query"))
        .json(&json!({"path":"myFunctions:listNumbers","args":{}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(failed["status"], "error");
    assert!(
        failed["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("ArgumentValidationError: Object is missing the required field `count`")
    );

    let format = http
        .post(env.url("/api/query"))
        .json(&json!({"path":"myFunctions:listNumbers","args":{"count":1},"format":"xml"}))
        .send()
        .await
        .unwrap();
    assert_eq!(format.status(), 400);
}
