//! The paste-ready configuration an app needs for one environment, per framework, with the real
//! values filled in (the console's Quick start shows them).

use serde::Serialize;

/// One snippet: what it is for, where it goes, and its text.
#[derive(Clone, Debug, Serialize)]
pub struct Snippet {
    pub id: &'static str,
    pub title: &'static str,
    /// Where to paste it (`.env.local`, `convex/auth.config.ts`).
    pub file: &'static str,
    pub body: String,
}

/// What the snippets are made of.
pub struct SnippetValues<'a> {
    pub public_url: &'a str,
    pub client_id: &'a str,
    /// The environment's default redirect URI (or a placeholder).
    pub redirect_uri: &'a str,
    /// A just-created key, else a placeholder that says where to get one.
    pub api_key: Option<&'a str>,
}

/// Host, port and scheme of the public URL, the way the SDKs want them.
fn sdk_host(public_url: &str) -> (String, Option<u16>, bool) {
    match url::Url::parse(public_url) {
        Ok(u) => (u.host_str().unwrap_or("localhost").to_owned(), u.port(), u.scheme() == "https"),
        Err(_) => ("localhost".into(), Some(8080), false),
    }
}

/// The snippets for React/Vite, Next.js, Node and Convex.
pub fn snippets(v: &SnippetValues<'_>) -> Vec<Snippet> {
    let (host, port, https) = sdk_host(v.public_url);
    let (public_url, client_id, redirect_uri) = (v.public_url, v.client_id, v.redirect_uri);
    let key = v.api_key.unwrap_or("<an API key: create one under API keys>");
    let vite_port = port.map(|p| format!("VITE_WORKOS_API_PORT={p}\n")).unwrap_or_default();
    let port_env = port.map(|p| format!("WORKOS_API_PORT={p}\n")).unwrap_or_default();
    let port_js = port.map(|p| format!(" port: {p},")).unwrap_or_default();
    let port_prop = port.map(|p| format!("\n  apiPort={{{p}}}")).unwrap_or_default();
    vec![
        Snippet {
            id: "react",
            title: "React / Vite",
            file: ".env.local",
            body: format!(
                "VITE_WORKOS_CLIENT_ID={client_id}\nVITE_WORKOS_REDIRECT_URI={redirect_uri}\n\
                 VITE_WORKOS_API_HOSTNAME={host}\n{vite_port}VITE_WORKOS_API_HTTPS={https}\n\n\
                 // <AuthKitProvider> props\n<AuthKitProvider\n  clientId={{import.meta.env.VITE_WORKOS_CLIENT_ID}}\n  \
                 redirectUri={{import.meta.env.VITE_WORKOS_REDIRECT_URI}}\n  apiHostname=\"{host}\"{port_prop}\n  \
                 https={{{https}}}\n>"
            ),
        },
        Snippet {
            id: "nextjs",
            title: "Next.js",
            file: ".env.local",
            body: format!(
                "WORKOS_CLIENT_ID={client_id}\nWORKOS_API_KEY={key}\nWORKOS_API_HOSTNAME={host}\n{port_env}\
                 WORKOS_API_HTTPS={https}\nWORKOS_COOKIE_PASSWORD=<at least 32 random characters>\n\
                 NEXT_PUBLIC_WORKOS_REDIRECT_URI={redirect_uri}"
            ),
        },
        Snippet {
            id: "node",
            title: "Node",
            file: "server.js",
            body: format!(
                "import {{ WorkOS }} from '@workos-inc/node';\n\n\
                 const workos = new WorkOS(process.env.WORKOS_API_KEY, {{\n  clientId: '{client_id}',\n  \
                 apiHostname: '{host}',{port_js}\n  https: {https},\n}});"
            ),
        },
        Snippet {
            id: "convex",
            title: "Convex",
            file: "convex/auth.config.ts",
            body: format!(
                "// npx convex env set WORKOS_CLIENT_ID {client_id}\nconst clientId = process.env.WORKOS_CLIENT_ID;\n\n\
                 export default {{\n  providers: [\n    {{\n      type: \"customJwt\",\n      issuer: \"{public_url}/\",\n      \
                 algorithm: \"RS256\",\n      jwks: `{public_url}/sso/jwks/${{clientId}}`,\n      applicationID: clientId,\n    }},\n    \
                 {{\n      type: \"customJwt\",\n      issuer: `{public_url}/user_management/${{clientId}}`,\n      \
                 algorithm: \"RS256\",\n      jwks: `{public_url}/sso/jwks/${{clientId}}`,\n    }},\n  ],\n}};"
            ),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_values_are_filled_in() {
        let v = SnippetValues {
            public_url: "http://localhost:8080",
            client_id: "client_01ABC",
            redirect_uri: "http://localhost:5173/callback",
            api_key: None,
        };
        let s = snippets(&v);
        assert_eq!(s.len(), 4);
        assert!(
            s[0].body.contains(
                "VITE_WORKOS_CLIENT_ID=client_01ABC\nVITE_WORKOS_REDIRECT_URI=http://localhost:5173/callback"
            )
        );
        assert!(s[0].body.contains("VITE_WORKOS_API_PORT=8080"));
        assert!(s[3].body.contains("issuer: `http://localhost:8080/user_management/${clientId}`"));
        let https = snippets(&SnippetValues { public_url: "https://auth.example.com", ..v });
        assert!(https[1].body.contains("WORKOS_API_HTTPS=true") && !https[1].body.contains("WORKOS_API_PORT"));
    }
}
