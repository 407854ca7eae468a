//! JWKS fetching over HTTP: status, Content-Type rules, caching and revalidation, opt-in refetch (spec §2.4).

use std::time::Duration;

use gatehouse_verify::{Check, Verifier, VerifierOptions};
use serde_json::json;

use crate::support::*;

fn http_verifier(server: &Server, path: &str, opts: VerifierOptions) -> Verifier {
    let cfg = json!({"providers":[{"type":"customJwt","issuer":ISS,"jwks":server.url(path),"algorithm":"RS256"}]});
    verifier_with(cfg, opts)
}

#[test]
fn fetches_and_caches_with_max_age_then_revalidates() {
    let s = Server::start();
    s.set(
        "/jwks",
        Route::json(&jwks(&[rsa_jwk("k1")])).with("cache-control", "public, max-age=60").with("etag", "\"v1\""),
    );
    let v = http_verifier(&s, "/jwks", VerifierOptions::default());
    let t = rs_token(json!({}));
    run(v.verify(&t, now())).unwrap();
    run(v.verify(&t, at(59))).unwrap();
    assert_eq!(s.hits("/jwks"), 1, "fresh for 60 s");
    run(v.verify(&t, at(61))).unwrap();
    assert_eq!((s.hits("/jwks"), s.conditional_hits("/jwks")), (2, 1), "stale: revalidated with If-None-Match");
    run(v.verify(&t, at(100))).unwrap();
    assert_eq!(s.hits("/jwks"), 2, "the 304 refreshed the freshness lifetime");
}

#[test]
fn no_cache_headers_means_refetch_every_time() {
    let s = Server::start();
    s.set("/jwks", Route::json(&jwks(&[rsa_jwk("k1")])));
    let v = http_verifier(&s, "/jwks", VerifierOptions::default());
    let t = rs_token(json!({}));
    for _ in 0..3 {
        run(v.verify(&t, now())).unwrap();
    }
    assert_eq!(s.hits("/jwks"), 3);
    for cc in ["no-store", "no-cache", "max-age=0", "private, max-age=600"] {
        let s = Server::start();
        s.set("/jwks", Route::json(&jwks(&[rsa_jwk("k1")])).with("cache-control", cc));
        let v = http_verifier(&s, "/jwks", VerifierOptions::default());
        run(v.verify(&t, now())).unwrap();
        run(v.verify(&t, now())).unwrap();
        assert_eq!(s.hits("/jwks"), 2, "{cc}");
    }
}

#[test]
fn age_and_s_maxage() {
    let s = Server::start();
    s.set(
        "/jwks",
        Route::json(&jwks(&[rsa_jwk("k1")])).with("cache-control", "max-age=60, s-maxage=10").with("age", "5"),
    );
    let v = http_verifier(&s, "/jwks", VerifierOptions::default());
    let t = rs_token(json!({}));
    run(v.verify(&t, now())).unwrap();
    run(v.verify(&t, at(4))).unwrap();
    assert_eq!(s.hits("/jwks"), 1);
    run(v.verify(&t, at(6))).unwrap();
    assert_eq!(s.hits("/jwks"), 2, "s-maxage 10 minus Age 5");
}

#[test]
fn content_type_rules() {
    let t = rs_token(json!({}));
    for ok in [
        "application/json",
        "application/jwk-set+json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
    ] {
        let s = Server::start();
        s.set("/jwks", Route::json(&jwks(&[rsa_jwk("k1")])).with("content-type", ok));
        run(http_verifier(&s, "/jwks", VerifierOptions::default()).verify(&t, now())).unwrap();
    }
    for (ct, shown) in [
        (Some("text/html; charset=utf-8"), "text/html; charset=utf-8"),
        (Some("text/plain"), "text/plain"),
        (Some("application/json; charset=iso-8859-1"), "application/json; charset=iso-8859-1"),
        (None, "unknown"),
    ] {
        let s = Server::start();
        let route = match ct {
            Some(ct) => Route::json(&jwks(&[rsa_jwk("k1")])).with("content-type", ct),
            None => Route::json(&jwks(&[rsa_jwk("k1")])).without("content-type"),
        };
        s.set("/jwks", route);
        let v = http_verifier(&s, "/jwks", VerifierOptions::default());
        let e = rejects(
            &v,
            &t,
            "InvalidAuthHeader",
            &format!(
                "Invalid Content-Type '{shown}' when fetching JWKS from '{}'. Expected 'application/json' or 'application/jwk-set+json'.",
                s.url("/jwks")
            ),
        );
        assert_eq!(e.diagnosis().check(), Check::JwksContentType);
        if shown.starts_with("text/html") {
            assert!(
                e.diagnosis().fix().contains("the JWKS answered text/html: is the URL right?"),
                "{}",
                e.diagnosis()
            );
        }
    }
}

#[test]
fn non_200_network_error_and_bad_body() {
    let t = rs_token(json!({}));
    let s = Server::start();
    let v = http_verifier(&s, "/missing", VerifierOptions::default());
    rejects(
        &v,
        &t,
        "InvalidAuthHeader",
        &format!(
            "Could not fetch JWKS from URL '{}': HTTP 404 Not Found. Check that the URL is correct and accessible.",
            s.url("/missing")
        ),
    );
    s.set("/err", Route::json("{}").status(500));
    rejects(
        &http_verifier(&s, "/err", VerifierOptions::default()),
        &t,
        "InvalidAuthHeader",
        &format!(
            "Could not fetch JWKS from URL '{}': HTTP 500 Internal Server Error. Check that the URL is correct and accessible.",
            s.url("/err")
        ),
    );
    for body in ["not json", "{\"keys\":{}}", "[]", "{\"keys\":[{\"kty\":\"RSA\"}]}"] {
        s.set("/bad", Route::json(body));
        let e = rejects(
            &http_verifier(&s, "/bad", VerifierOptions::default()),
            &t,
            "InvalidAuthHeader",
            &format!(
                "Invalid JWKS response body from '{}'. The response is not valid JSON or doesn't match the expected JWKS format.",
                s.url("/bad")
            ),
        );
        assert_eq!(e.diagnosis().check(), Check::JwksFormat);
    }
    // Nothing listens on this port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/jwks");
    let cfg = json!({"providers":[{"type":"customJwt","issuer":ISS,"jwks":url,"algorithm":"RS256"}]});
    let e = verify(&verifier(cfg), &t).unwrap_err();
    assert_eq!(e.code().as_str(), "InvalidAuthHeader");
    assert!(e.message().starts_with(&format!("Could not fetch JWKS from URL '{url}': ")), "{e}");
    assert!(e.message().ends_with(". Check that the URL is correct and accessible."), "{e}");
    assert_eq!(e.diagnosis().check(), Check::JwksFetch);
}

#[test]
fn unknown_kid_is_not_refetched_by_default() {
    let s = Server::start();
    s.set("/jwks", Route::json(&jwks(&[rsa_jwk("k1")])).with("cache-control", "max-age=300"));
    let v = http_verifier(&s, "/jwks", VerifierOptions::default());
    run(v.verify(&rs_token(json!({})), now())).unwrap();
    // Keys rotate: the server now also publishes k2, but the cache is fresh.
    s.set(
        "/jwks",
        Route::json(&jwks(&[rsa_jwk("k1"), rsa_jwk_of(rsa2(), "k2", Some("RS256"))]))
            .with("cache-control", "max-age=300"),
    );
    let t2 = mint(json!({"alg":"RS256","kid":"k2"}), claims(json!({})), &Signer::Rsa(rsa2()));
    let e = rejects(&v, &t2, "InvalidAuthHeader", &kid_msg("k2"));
    assert_eq!(e.diagnosis().check(), Check::KeyNotFound);
    assert!(e.diagnosis().problem().contains("fresh for"), "{}", e.diagnosis());
    assert_eq!(s.hits("/jwks"), 1);
    // Once stale, the new set is picked up.
    run(v.verify(&t2, at(301))).unwrap();
}

#[test]
fn opt_in_refetch_on_unknown_kid_is_rate_limited() {
    let s = Server::start();
    s.set("/jwks", Route::json(&jwks(&[rsa_jwk("k1")])).with("cache-control", "max-age=300"));
    let v = http_verifier(&s, "/jwks", VerifierOptions::default().refetch_on_unknown_kid(Duration::from_secs(30)));
    run(v.verify(&rs_token(json!({})), now())).unwrap();
    let t_unknown = mint(json!({"alg":"RS256","kid":"nope"}), claims(json!({})), &Signer::Rsa(rsa2()));
    rejects(&v, &t_unknown, "InvalidAuthHeader", &kid_msg("nope"));
    assert_eq!(s.hits("/jwks"), 2, "one forced refetch");
    rejects(&v, &t_unknown, "InvalidAuthHeader", &kid_msg("nope"));
    assert_eq!(s.hits("/jwks"), 2, "rate-limited");
    s.set(
        "/jwks",
        Route::json(&jwks(&[rsa_jwk("k1"), rsa_jwk_of(rsa2(), "k2", Some("RS256"))]))
            .with("cache-control", "max-age=300"),
    );
    let t2 = mint(json!({"alg":"RS256","kid":"k2"}), claims(json!({})), &Signer::Rsa(rsa2()));
    rejects(&v, &t2, "InvalidAuthHeader", &kid_msg("k2"));
    assert_eq!(s.hits("/jwks"), 2, "still inside the 30 s window");
    run(v.verify(&t2, at(31))).unwrap();
    assert_eq!(s.hits("/jwks"), 3, "refetched after the window and accepted");
}
