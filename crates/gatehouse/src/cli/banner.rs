//! What Gatehouse prints for people: the first-start banner with ready-to-paste snippets.

use crate::domain::environment::Environment;
use crate::server::ServerConfig;
use crate::service::environments::IssuedEnvironment;

/// The connection facts for one environment, as `init --json` prints them.
#[derive(Debug, serde::Serialize)]
pub struct Connection {
    pub environment: String,
    pub client_id: String,
    pub issuer: String,
    pub jwks_url: String,
    pub api_base_url: String,
}

pub fn connection(public_url: &str, env_name: &str, client_id: &str) -> Connection {
    Connection {
        environment: env_name.to_owned(),
        client_id: client_id.to_owned(),
        issuer: format!("{public_url}/user_management/{client_id}"),
        jwks_url: format!("{public_url}/sso/jwks/{client_id}"),
        api_base_url: public_url.to_owned(),
    }
}

/// Host, port and scheme of the public URL, the way the SDKs want them.
fn sdk_host(public_url: &str) -> (String, Option<u16>, bool) {
    match url::Url::parse(public_url) {
        Ok(u) => (u.host_str().unwrap_or("localhost").to_owned(), u.port(), u.scheme() == "https"),
        Err(_) => ("localhost".into(), Some(8080), false),
    }
}

/// The snippets a developer pastes into their app, for one environment.
pub fn snippets(public_url: &str, client_id: &str, api_key: Option<&str>) -> String {
    let (host, port, https) = sdk_host(public_url);
    let port_prop = port.map(|p| format!(" port={{{p}}}")).unwrap_or_default();
    let port_env = port.map(|p| format!("WORKOS_API_PORT={p}\n")).unwrap_or_default();
    let key = api_key.unwrap_or("<your API key: gatehouse api-keys create>");
    format!(
        "\
── Vite / React: .env.local
VITE_WORKOS_CLIENT_ID={client_id}
VITE_WORKOS_REDIRECT_URI=http://localhost:5173/callback

── <AuthKitProvider> props
<AuthKitProvider clientId={{import.meta.env.VITE_WORKOS_CLIENT_ID}} redirectUri={{import.meta.env.VITE_WORKOS_REDIRECT_URI}}
                 apiHostname=\"{host}\"{port_prop} https={{{https}}}>

── Next.js (authkit-nextjs): .env.local
WORKOS_CLIENT_ID={client_id}
WORKOS_API_KEY={key}
WORKOS_API_HOSTNAME={host}
{port_env}WORKOS_API_HTTPS={https}
WORKOS_COOKIE_PASSWORD=<at least 32 random characters>
NEXT_PUBLIC_WORKOS_REDIRECT_URI=http://localhost:3000/callback

── Node (@workos-inc/node)
new WorkOS(process.env.WORKOS_API_KEY, {{ clientId: '{client_id}', apiHostname: '{host}',{port_js} https: {https} }})

── Convex: convex/auth.config.ts (set WORKOS_CLIENT_ID={client_id} on the deployment)
const clientId = process.env.WORKOS_CLIENT_ID;
export default {{
  providers: [
    {{ type: \"customJwt\", issuer: \"{public_url}/\", algorithm: \"RS256\",
      jwks: `{public_url}/sso/jwks/${{clientId}}`, applicationID: clientId }},
    {{ type: \"customJwt\", issuer: `{public_url}/user_management/${{clientId}}`, algorithm: \"RS256\",
      jwks: `{public_url}/sso/jwks/${{clientId}}` }},
  ],
}};
",
        port_js = port.map(|p| format!(" port: {p},")).unwrap_or_default(),
    )
}

/// Printed by `serve` once it is listening, on standard output. The new API key of a first
/// start is shown only when standard output is a terminal: under systemd, Docker or a redirect
/// the output is a log that keeps it, so the banner says how to get a key instead.
pub fn print_startup(config: &ServerConfig, environments: &[Environment], issued: Option<&IssuedEnvironment>) {
    use std::io::IsTerminal as _;
    let issued_key = issued.filter(|_| std::io::stdout().is_terminal());
    show(&format!("{}\n", startup_text(config, environments, issued, issued_key.map(|i| i.api_key.as_str()))));
}

/// While no operator exists: the one-time link that creates the first, when standard output is
/// a terminal (a log would keep it); otherwise how to get one.
pub fn print_first_operator(link: Option<&str>) {
    use std::io::IsTerminal as _;
    let Some(link) = link else { return };
    if std::io::stdout().is_terminal() {
        show(&format!(
            "Dashboard: create the first operator (an admin) at this one-time link, valid for a day:\n  {link}\n\n"
        ));
    } else {
        show(
            "Dashboard: no operator yet. `gatehouse operators add EMAIL` prints a one-time link that creates one\n\
             (the first start's link is not shown: standard output is not a terminal).\n\n",
        );
    }
}

/// Writes the banner to standard output. The server runs on when nobody reads it (`serve | head`
/// gone, a closed descriptor): its log goes to standard error, so a failed write is dropped
/// instead of panicking as `println!` does.
fn show(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// The banner; `api_key` is the first start's new key when it may be shown.
fn startup_text(
    config: &ServerConfig,
    environments: &[Environment],
    issued: Option<&IssuedEnvironment>,
    api_key: Option<&str>,
) -> String {
    let url = &config.public_url;
    let mut out = String::new();
    out.push_str(&format!("\nGatehouse is running at {url} (listening on {})\n", config.listen));
    for env in environments {
        let c = connection(url, &env.name, &env.client_id);
        out.push_str(&format!("\n  {} environment\n", env.name));
        out.push_str(&format!("    Client ID   {}\n", c.client_id));
        if issued.is_some_and(|i| i.client_id == env.client_id) {
            match api_key {
                Some(key) => out.push_str(&format!("    API key     {key}   (shown once; keep it secret)\n")),
                None => out.push_str(
                    "    API key     not shown: standard output is not a terminal (a log would keep it);\n\
                     \x20               get one with `gatehouse api-keys create` or `gatehouse init --json`\n",
                ),
            }
        }
        out.push_str(&format!("    Issuer      {}\n    JWKS        {}\n", c.issuer, c.jwks_url));
    }
    if let Some(issued) = issued {
        out.push_str("\nPaste these into your app:\n\n");
        out.push_str(&snippets(url, &issued.client_id, api_key));
        out.push_str(
            "\nThe development environment accepts the redirect URIs http://localhost:5173/callback and\n\
             http://localhost:3000/callback and any http://localhost origin for CORS.\n\
             Add more with `gatehouse redirect-uris add URL`.\n",
        );
    } else {
        out.push_str("\nNeed the snippets again? `gatehouse env show`. A new API key: `gatehouse api-keys create`.\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_point_the_sdks_at_gatehouse() {
        let s = snippets("http://localhost:8080", "client_01ABC", Some("sk_test_x"));
        assert!(s.contains("VITE_WORKOS_CLIENT_ID=client_01ABC"));
        assert!(s.contains("apiHostname=\"localhost\" port={8080} https={false}"));
        assert!(s.contains("WORKOS_API_HOSTNAME=localhost\nWORKOS_API_PORT=8080\nWORKOS_API_HTTPS=false"));
        assert!(s.contains("issuer: `http://localhost:8080/user_management/${clientId}`"));
        let https = snippets("https://auth.example.com", "client_01ABC", None);
        assert!(https.contains("apiHostname=\"auth.example.com\" https={true}"));
        assert!(!https.contains("WORKOS_API_PORT"));
    }
}
