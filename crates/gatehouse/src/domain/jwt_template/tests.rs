//! The JWT template's tests: parsing, the variables, evaluation against a user and an
//! organization, and the errors a template author sees.

#![cfg(test)]

use super::*;
use serde_json::json;

/// `expected` is the rendered claims, or a fragment of the error message.
#[track_caller]
fn check(template: &str, context: &Json, expected: Result<Json, &str>) {
    let result = JwtTemplate::parse(template).and_then(|t| t.render(context));
    match (result, expected) {
        (Ok(claims), Ok(want)) => {
            assert_eq!(Json::Object(claims), want, "template: {template}")
        }
        (Err(err), Err(want)) => {
            let message = err.to_string();
            assert!(message.contains(want), "template: {template}\nerror: {message}\nwanted: {want}");
        }
        (got, want) => panic!("template: {template}\ngot: {got:?}\nwanted: {want:?}"),
    }
}

fn context() -> Json {
    json!({
        "user": {
            "object": "user",
            "id": "user_01",
            "email": "ada@example.com",
            "email_verified": false,
            "first_name": "Ada \"The Countess\"",
            "last_name": "Lovelace\\Byron\nKing",
            "profile_picture_url": null,
            "external_id": "",
            "metadata": {
                "tier": "gold",
                "count": 3,
                "ratio": 0.5,
                "flags": ["a", "b"],
                "nested": {"x": [1, {"y": null}]},
                "first name": "Ädä 😀",
                "quote\"key": "q",
                "weird}}key": "w",
                "claim_name": "sub",
                "marker": "\u{E000}0\u{E000}",
                "0": "zero"
            },
            "created_at": "2025-01-01T00:00:00.000Z"
        },
        "organization_id": null,
        "organization": {"domains": [{"domain": "example.com"}, {"domain": "example.org"}]}
    })
}

#[test]
fn values_outside_strings_are_json() {
    let ctx = context();
    let cases: &[(&str, Json)] = &[
        (r#"{"e": {{ user.email }}}"#, json!({"e": "ada@example.com"})),
        (r#"{"e": {{user.email}}}"#, json!({"e": "ada@example.com"})),
        (r#"{"n": {{ user.first_name }}}"#, json!({"n": "Ada \"The Countess\""})),
        (r#"{"n": {{ user.last_name }}}"#, json!({"n": "Lovelace\\Byron\nKing"})),
        (r#"{"v": {{ user.email_verified }}}"#, json!({"v": false})),
        (r#"{"c": {{ user.metadata.count }}}"#, json!({"c": 3})),
        (r#"{"r": {{ user.metadata.ratio }}}"#, json!({"r": 0.5})),
        (r#"{"p": {{ user.profile_picture_url }}}"#, json!({"p": null})),
        (r#"{"x": {{ user.external_id }}}"#, json!({"x": ""})),
        (r#"{"m": {{ user.metadata.missing }}}"#, json!({"m": null})),
        (r#"{"m": {{ nothing.at.all }}}"#, json!({"m": null})),
        (r#"{"m": {{ user.email.deeper }}}"#, json!({"m": null})),
        (r#"{"o": {{ organization_id }}}"#, json!({"o": null})),
        (r#"{"f": {{ user.metadata.flags }}}"#, json!({"f": ["a", "b"]})),
        (r#"{"n": {{ user.metadata.nested }}}"#, json!({"n": {"x": [1, {"y": null}]}})),
        (r#"{"u": {{ user.metadata["first name"] }}}"#, json!({"u": "Ädä 😀"})),
        (r#"{"q": {{ user.metadata['quote"key'] }}}"#, json!({"q": "q"})),
        (r#"{"w": {{ user.metadata["weird}}key"] }}}"#, json!({"w": "w"})),
        (r#"{"z": {{ user.metadata.0 }}}"#, json!({"z": "zero"})),
        (r#"{"list": [{{ user.email }}, {{ user.metadata.count }}]}"#, json!({"list": ["ada@example.com", 3]})),
        (r#"{"a": {"b": {{ user.metadata.tier }}}}"#, json!({"a": {"b": "gold"}})),
    ];
    for (template, want) in cases {
        check(template, &ctx, Ok(want.clone()));
    }
}

#[test]
fn values_inside_strings_are_escaped_text() {
    let ctx = context();
    let cases: &[(&str, Json)] = &[
        (
            r#"{"name": "{{ user.first_name }} {{ user.last_name }}"}"#,
            json!({"name": "Ada \"The Countess\" Lovelace\\Byron\nKing"}),
        ),
        (r#"{"s": "n={{ user.metadata.count }}, v={{ user.email_verified }}"}"#, json!({"s": "n=3, v=false"})),
        (r#"{"s": "[{{ user.metadata.missing }}]"}"#, json!({"s": "[]"})),
        (r#"{"s": "[{{ user.profile_picture_url }}]"}"#, json!({"s": "[]"})),
        (r#"{"s": "{{ user.metadata["first name"] }}!"}"#, json!({"s": "Ädä 😀!"})),
        (r#"{"s": "\"{{ user.email }}\\"}"#, json!({"s": "\"ada@example.com\\"})),
        (r#"{"s": "{{ user.metadata.marker }}"}"#, json!({"s": "\u{E000}0\u{E000}"})),
        (r#"{"urn:{{ user.metadata.tier }}": 1}"#, json!({"urn:gold": 1})),
    ];
    for (template, want) in cases {
        check(template, &ctx, Ok(want.clone()));
    }
}

#[test]
fn fallbacks_use_the_first_value_that_is_not_null_or_missing() {
    let ctx = context();
    let cases: &[(&str, Json)] = &[
        (r#"{"u": {{ user.metadata.nickname || user.email || 'Guest' }}}"#, json!({"u": "ada@example.com"})),
        (r#"{"u": {{ user.metadata.nickname || user.metadata.alias || 'Guest' }}}"#, json!({"u": "Guest"})),
        (r#"{"u": {{ user.metadata.nickname || "default" }}}"#, json!({"u": "default"})),
        (r#"{"u": {{ user.profile_picture_url || 'none' }}}"#, json!({"u": "none"})),
        // false and "" are values, not missing.
        (r#"{"u": {{ user.email_verified || true }}}"#, json!({"u": false})),
        (r#"{"u": {{ user.external_id || 'x' }}}"#, json!({"u": ""})),
        (r#"{"u": {{ user.metadata.nope || 42 }}}"#, json!({"u": 42})),
        (r#"{"u": {{ user.metadata.nope || -1.5 }}}"#, json!({"u": -1.5})),
        (r#"{"u": {{ user.metadata.nope || null }}}"#, json!({"u": null})),
        (r#"{"u": {{ user.metadata.nope || user.metadata.flags }}}"#, json!({"u": ["a", "b"]})),
        (r#"{"u": {{ 'first' || user.email }}}"#, json!({"u": "first"})),
        (r#"{"u": {{ user.metadata.nope || 'a "quoted" \ value' }}}"#, json!({"u": "a \"quoted\" \\ value"})),
        (r#"{"u": {{ user.metadata.nope || '}}' }}}"#, json!({"u": "}}"})),
        (r#"{"u": {{ user.metadata.nope || 'x || y' }}}"#, json!({"u": "x || y"})),
        (
            r#"{"full": "{{ user.metadata.nope || 'Someone' }} {{ user.metadata.tier || 'bronze' }}"}"#,
            json!({"full": "Someone gold"}),
        ),
        (r#"{"s": "{{ user.metadata.nope || 'say "hi"' }}"}"#, json!({"s": "say \"hi\""})),
        (r#"{"s": "{{ user.metadata.nope || 7 }}"}"#, json!({"s": "7"})),
        (r#"{"s": "{{ user.metadata.nope || user.metadata.also_nope }}"}"#, json!({"s": ""})),
    ];
    for (template, want) in cases {
        check(template, &ctx, Ok(want.clone()));
    }
}

#[test]
fn array_indexes() {
    let ctx = context();
    let cases: &[(&str, Json)] = &[
        (r#"{"d": {{ organization.domains.0.domain }}}"#, json!({"d": "example.com"})),
        (r#"{"d": "{{ organization.domains.1.domain }}"}"#, json!({"d": "example.org"})),
        (r#"{"d": {{ organization.domains[1].domain }}}"#, json!({"d": "example.org"})),
        (r#"{"d": {{ organization.domains[-1].domain }}}"#, json!({"d": "example.org"})),
        (r#"{"d": {{ organization.domains.first.domain }}}"#, json!({"d": "example.com"})),
        (r#"{"d": {{ organization.domains.5.domain }}}"#, json!({"d": null})),
        (r#"{"f": {{ user.metadata.flags[ 0 ] }}}"#, json!({"f": "a"})),
        (r#"{"d": {{ organization.domains.0 }}}"#, json!({"d": {"domain": "example.com"}})),
    ];
    for (template, want) in cases {
        check(template, &ctx, Ok(want.clone()));
    }
}

#[test]
fn lookups_follow_liquid_rules() {
    let ctx = context();
    let cases: &[(&str, Json)] = &[
        (r#"{"f": {{ user.metadata.flags.last }}}"#, json!({"f": "b"})),
        (r#"{"f": {{ user.metadata.flags["1"] }}}"#, json!({"f": "b"})),
        (r#"{"f": {{ user.metadata.flags.-1 }}}"#, json!({"f": "b"})),
        (r#"{"f": {{ user.metadata.flags[-3] || 'none' }}}"#, json!({"f": "none"})),
        // `size` is Liquid's, not a value the template can insert.
        (r#"{"f": {{ user.metadata.flags.size }}}"#, json!({"f": null})),
        (r#"{"f": {{ user.metadata.size }}}"#, json!({"f": null})),
        (r#"{"f": "{{ user.email.size }}"}"#, json!({"f": ""})),
        // A later duplicate key wins, also when a tag makes the key.
        (r#"{"a": 1, "a": {{ user.email }}}"#, json!({"a": "ada@example.com"})),
        (r#"{"{{ user.metadata.tier }}": 1, "gold": 2}"#, json!({"gold": 2})),
        (r#"{"n": [1.0, 1e3, {{ user.metadata.ratio }}]}"#, json!({"n": [1.0, 1000.0, 0.5]})),
    ];
    for (template, want) in cases {
        check(template, &ctx, Ok(want.clone()));
    }
}

#[test]
fn objects_and_arrays_inside_strings_fail() {
    let ctx = context();
    let cases: &[(&str, &str)] = &[
        (
            r#"{"s": "{{ user.metadata.flags }}"}"#,
            "The tag `{{ user.metadata.flags }}` puts an object or array inside a string literal; remove the quotes around the tag to insert it as JSON.",
        ),
        (
            r#"{"s": "x {{ user.metadata.nope || user.metadata.nested }}"}"#,
            "`{{ user.metadata.nope || user.metadata.nested }}` puts an object",
        ),
        // Data that looks like the internal marker is not mistaken for one.
        (
            r#"{"a": "{{ user.metadata.marker }}", "s": "{{ user.metadata.flags }}"}"#,
            "`{{ user.metadata.flags }}` puts an object",
        ),
    ];
    for (template, want) in cases {
        check(template, &ctx, Err(want));
    }
    // Known to be an object from the shape of every context, so caught at parse time.
    let err = JwtTemplate::parse(r#"{"s": "{{ user.metadata }}"}"#).unwrap_err();
    assert!(matches!(err, TemplateError::ObjectInString { .. }), "{err}");
}

#[test]
fn reserved_claims() {
    let ctx = context();
    for claim in RESERVED_CLAIMS {
        let template = format!(r#"{{"{claim}": "x"}}"#);
        check(
            &template,
            &ctx,
            Err(&format!(
                "The template sets the claim `{claim}`, which Gatehouse always sets itself; remove it from the template."
            )),
        );
    }
    check(r#"{"a": 1, "sub": {{ user.email }}}"#, &ctx, Err("claim `sub`"));
    // A reserved claim produced from data is dropped instead.
    check(r#"{"{{ user.metadata.claim_name }}": "evil", "ok": 1}"#, &ctx, Ok(json!({"ok": 1})));
    // Only top-level keys are reserved, and `aud` is not reserved at all.
    check(r#"{"aud": "client_01ABC", "x": {"sub": 1}}"#, &ctx, Ok(json!({"aud": "client_01ABC", "x": {"sub": 1}})));
}

#[test]
fn invalid_templates_are_rejected_at_parse_time() {
    let cases: &[(&str, &str)] = &[
        ("", "The template is not valid JSON at line 1, column 1: EOF while parsing a value."),
        (r#"{"a": {{ user.email }}"#, "not valid JSON"),
        ("{\"a\": 1,\n \"b\": x}", "The template is not valid JSON at line 2, column 7: expected value."),
        ("{\"ä\": {{ user.email }} x}", "at line 1, column 24"),
        (r#"{"a": "{{ user.email }}}"#, "not valid JSON"),
        (r#"{{{ user.email }}: 1}"#, "`{ user.email` is not a variable"),
        (r#"{ {{ user.email }}: 1}"#, "The template is not valid JSON at line 1, column 3: key must be a string."),
        (r#"{"a": {{ user.email }}{{ user.email }}}"#, "not valid JSON"),
        (r#"[{"a": 1}]"#, r#"The template must be a JSON object, such as {"urn:myapp:email": {{ user.email }}}."#),
        (r#""{{ user.email }}""#, "must be a JSON object"),
        ("{{ user }}", "must be a JSON object"),
        (r#"{"a": {{ user.email }"#, "The tag that starts at line 1, column 7 is never closed; end it with `}}`."),
        ("{\"a\":\n  {{ user.email || '}} }", "line 2, column 3 is never closed"),
        (r#"{"a": {% if user %}1{% endif %}}"#, "The `{%` tag at line 1, column 7 is not supported"),
        (
            r#"{"a": {{ user.email | upcase }}}"#,
            "The tag `{{ user.email | upcase }}` at line 1, column 7 is not valid: Liquid filters such as `| upcase` are not supported",
        ),
        (r#"{"a": {{ }}}"#, "has an empty value"),
        (r#"{"a": {{ user.email || }}}"#, "has an empty value"),
        (r#"{"a": {{ user.email || 'x }}}"#, "never closed"),
        (r#"{"a": {{ 'x' y }}}"#, "unexpected text after the quoted string 'x'."),
        (r#"{"a": {{ user email }}}"#, "`user email` contains a space, which is not allowed in a variable name"),
        (r#"{"a": {{ user..email }}}"#, "empty name after a dot"),
        (r#"{"a": {{ user.roles[ }}}"#, "without a matching `]`"),
        (r#"{"a": {{ user.roles[x] }}}"#, "brackets must hold a number or a quoted key"),
        (r#"{"a": {{ 1abc }}}"#, "`1abc` is neither a number nor a variable."),
        (r#"{"a": {{ user.email&&'x' }}}"#, "contains `&`"),
    ];
    for (template, want) in cases {
        check(template, &Json::Object(serde_json::Map::new()), Err(want));
    }
}

#[test]
fn size_limits() {
    let ctx = context();
    let big = "x".repeat(MAX_TEMPLATE_BYTES);
    check(
        &format!(r#"{{"a": "{big}"}}"#),
        &ctx,
        Err("The template is 16393 bytes long, but the limit is 16384 bytes."),
    );
    // Within the template limit but over the claims limit, caught by the trial render.
    let medium = "x".repeat(MAX_CLAIMS_BYTES);
    check(
        &format!(r#"{{"a": "{medium}"}}"#),
        &ctx,
        Err("The rendered claims are 8200 bytes long, but the limit is 8192 bytes"),
    );
    // Over the claims limit only because of the data.
    let template = JwtTemplate::parse(r#"{"bio": {{ user.metadata.bio }}}"#).unwrap();
    let mut ctx = context();
    ctx["user"]["metadata"]["bio"] = json!("y".repeat(MAX_CLAIMS_BYTES));
    let err = template.render(&ctx).unwrap_err();
    assert!(matches!(err, TemplateError::ClaimsTooLarge { size_bytes: 8202, max_bytes: 8192 }), "{err}");
    // Escapes count towards the limit: 3000 newlines become 6000 bytes.
    ctx["user"]["metadata"]["bio"] = json!("\n".repeat(3000));
    assert!(template.render(&ctx).is_ok());
    ctx["user"]["metadata"]["bio"] = json!("\n".repeat(4100));
    assert!(matches!(template.render(&ctx), Err(TemplateError::ClaimsTooLarge { .. })));
}

#[test]
fn whitespace_control_trims_like_liquid() {
    let ctx = context();
    check("{\"s\": \"a  {{- user.metadata.tier -}}  b\"}", &ctx, Ok(json!({"s": "agoldb"})));
    check("{\"s\": \"a  {{ user.metadata.tier -}}  b\"}", &ctx, Ok(json!({"s": "a  goldb"})));
    check("{\n  \"e\":\n    {{- user.email -}}\n}", &ctx, Ok(json!({"e": "ada@example.com"})));
}

#[test]
fn parse_once_render_many() {
    let template = JwtTemplate::parse(
        r#"{"urn:myapp:full_name": "{{ user.first_name || 'Someone' }} {{ user.last_name || 'Unknown' }}", "urn:myapp:email": {{ user.email }}, "org": {{ organization_id }}}"#,
    )
    .unwrap();
    let cases: &[(Json, Json)] = &[
        (
            json!({"user": {"first_name": "Grace", "last_name": "Hopper", "email": "g@h.io"}, "organization_id": "org_1"}),
            json!({"urn:myapp:full_name": "Grace Hopper", "urn:myapp:email": "g@h.io", "org": "org_1"}),
        ),
        (
            json!({"user": {"first_name": null, "email": "x@y.z"}, "organization_id": null}),
            json!({"urn:myapp:full_name": "Someone Unknown", "urn:myapp:email": "x@y.z", "org": null}),
        ),
        (json!({}), json!({"urn:myapp:full_name": "Someone Unknown", "urn:myapp:email": null, "org": null})),
    ];
    for (ctx, want) in cases {
        assert_eq!(Json::Object(template.render(ctx).unwrap()), *want);
    }
    assert!(template.source().starts_with(r#"{"urn:myapp:full_name""#));
    let copy = template.clone();
    assert_eq!(copy.render(&json!({})).unwrap(), template.render(&json!({})).unwrap());
}

#[test]
fn static_templates_and_template_text_pass_through() {
    let ctx = context();
    check(r#"{"aud": "client_01ABC"}"#, &ctx, Ok(json!({"aud": "client_01ABC"})));
    check("{}", &ctx, Ok(json!({})));
    check(
        r#"{"a": [1, 2.5, true, null, {"b": "c"}], "u": "\u00e9\n\"x\"\\"}"#,
        &ctx,
        Ok(json!({"a": [1, 2.5, true, null, {"b": "c"}], "u": "é\n\"x\"\\"})),
    );
    // Template text that looks like the internal marker stays plain text.
    check(
        "{\"m\": \"\u{E000}0\u{E000}\", \"s\": \"{{ user.email }}\"}",
        &ctx,
        Ok(json!({"m": "\u{E000}0\u{E000}", "s": "ada@example.com"})),
    );
    // A lone brace or percent sign is plain text, not a tag.
    check(r#"{"a": "{ } % }} {x}"}"#, &ctx, Ok(json!({"a": "{ } % }} {x}"})));
}

#[test]
fn render_rejects_a_context_that_is_not_an_object() {
    let template = JwtTemplate::parse(r#"{"a": 1}"#).unwrap();
    for ctx in [json!(null), json!([]), json!("user")] {
        let err = template.render(&ctx).unwrap_err();
        assert_eq!(err.to_string(), "The template context must be a JSON object.");
    }
}

#[test]
fn truncated_templates_never_panic() {
    let template =
        "{\"a\": {{- user.metadata[\"k]\"] || 'x\"}}' -}}, \"b\": \"\\\"{{ o.0[1] }}\u{E000}é\", \"c\": {% x %}}";
    let ctx = context();
    for (end, _) in template.char_indices() {
        if let Ok(parsed) = JwtTemplate::parse(&template[..end]) {
            let _ = parsed.render(&ctx);
        }
    }
}

#[test]
fn template_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<JwtTemplate>();
}
