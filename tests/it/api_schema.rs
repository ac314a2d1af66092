#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! Schema-driven API test: every operation of the served OpenAPI document,
//! called with requests generated from its own parameters and request body
//! (valid values, boundary values, broken bodies), against a real site.
//! Every answer must be below 500, a status the document lists for that
//! operation, and a JSON body must match the documented schema.
//!
//! The validator is a small one of our own (below) for the part of JSON
//! Schema that utoipa writes (`type`, `properties`, `required`,
//! `additionalProperties`, `items`, `enum`, `oneOf`/`anyOf`/`allOf`, local
//! `$ref`s, `minimum`/`maximum`): the `jsonschema` crate would bring regex
//! engines and big-number crates into a 2-core build for this one test.

use crate::common;

use std::time::Duration;

use common::{TestSite, start_site};
use serde_json::{Value, json};
use watchdesk::domain::Role;

/// Operations not called here, and why.
const EXCLUDED: &[(&str, &str)] = &[
    // Ends the test's own session; api_auth covers it.
    ("post", "/api/v1/auth/sign-out"),
    // Fault injection changes the site under the test (controller offline,
    // dropped streams, an event flood); its own tests cover it.
    ("post", "/api/v1/fault/"),
];

fn excluded(method: &str, path: &str) -> bool {
    EXCLUDED
        .iter()
        .any(|(m, p)| *m == method && path.starts_with(p))
}

// ---- a small JSON Schema validator ---------------------------------------------------

/// Follows `#/components/schemas/X` within the document.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let mut s = schema;
    for _ in 0..32 {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let pointer = r
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("non-local $ref {r}"));
                s = doc
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("$ref {r} not in the document"));
            }
            None => return s,
        }
    }
    panic!("$ref loop at {schema}")
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        other => panic!("unknown schema type {other}"),
    }
}

/// The mismatches of `v` against `schema`, each with its JSON path.
fn validate(doc: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let s = resolve(doc, schema);
    if s.as_bool() == Some(true) || s.as_object().is_some_and(|o| o.is_empty()) {
        return;
    }
    if s.as_bool() == Some(false) {
        errors.push(format!("{at}: nothing is allowed here"));
        return;
    }
    match s.get("type") {
        Some(Value::String(t)) if !type_matches(t, v) => {
            errors.push(format!("{at}: {v} is not of type {t}"));
            return;
        }
        Some(Value::Array(ts)) if !ts.iter().any(|t| type_matches(t.as_str().unwrap(), v)) => {
            errors.push(format!("{at}: {v} is none of the types {ts:?}"));
            return;
        }
        _ => {}
    }
    if s.get("nullable") == Some(&Value::Bool(true)) && v.is_null() {
        return;
    }
    if let Some(options) = s.get("enum").and_then(Value::as_array)
        && !options.contains(v)
    {
        errors.push(format!("{at}: {v} is not one of {options:?}"));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        errors.push(format!("{at}: {v} is not {c}"));
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = s.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            errors.push(format!("{at}: {n} is below the minimum {min}"));
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            errors.push(format!("{at}: {n} is above the maximum {max}"));
        }
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            validate(doc, sub, v, at, errors);
        }
    }
    for (key, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(options) = s.get(key).and_then(Value::as_array) {
            let mut why = Vec::new();
            let matching = options
                .iter()
                .filter(|sub| {
                    let mut e = Vec::new();
                    validate(doc, sub, v, at, &mut e);
                    let ok = e.is_empty();
                    why.extend(e);
                    ok
                })
                .count();
            if matching == 0 || (exactly_one && matching > 1) {
                errors.push(format!(
                    "{at}: {matching} of the {key} schemas match ({})",
                    why.join("; ")
                ));
            }
        }
    }
    if let Some(obj) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(required) = s.get("required").and_then(Value::as_array) {
            for r in required {
                let r = r.as_str().unwrap();
                if !obj.contains_key(r) {
                    errors.push(format!("{at}: required {r:?} is missing"));
                }
            }
        }
        for (k, item) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(sub) => validate(doc, sub, item, &format!("{at}.{k}"), errors),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errors.push(format!("{at}: {k:?} is not a documented field"));
                    }
                    Some(extra @ Value::Object(_)) => {
                        validate(doc, extra, item, &format!("{at}.{k}"), errors);
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(list)) = (s.get("items"), v.as_array()) {
        for (i, item) in list.iter().enumerate() {
            validate(doc, items, item, &format!("{at}[{i}]"), errors);
        }
    }
}

#[test]
fn the_validator_catches_mismatches() {
    let doc = json!({"components": {"schemas": {
        "P": {"type": "object", "required": ["n"], "properties": {
            "n": {"type": "integer", "minimum": 0},
            "s": {"type": ["string", "null"], "enum": ["a", "b", null]},
            "l": {"type": "array", "items": {"$ref": "#/components/schemas/Q"}}
        }},
        "Q": {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    }}});
    let p = json!({"$ref": "#/components/schemas/P"});
    let check = |v: Value| {
        let mut e = Vec::new();
        validate(&doc, &p, &v, "$", &mut e);
        e
    };
    assert!(check(json!({"n": 1, "s": "a", "l": ["x", 2]})).is_empty());
    assert!(check(json!({"n": 1, "s": null})).is_empty());
    assert_eq!(check(json!({"s": "a"})).len(), 1, "required");
    assert_eq!(check(json!({"n": -1})).len(), 1, "minimum");
    assert_eq!(check(json!({"n": 1.5})).len(), 1, "integer");
    assert_eq!(check(json!({"n": 1, "s": "c"})).len(), 1, "enum");
    assert_eq!(check(json!({"n": 1, "l": [true]})).len(), 1, "oneOf");
    assert_eq!(check(json!([])).len(), 1, "type");
}

// ---- generating requests ---------------------------------------------------------------

/// A valid value of `schema`, built from its parts.
fn example(doc: &Value, schema: &Value, depth: usize) -> Value {
    let s = resolve(doc, schema);
    if depth > 8 {
        return Value::Null;
    }
    if let Some(e) = s.get("example") {
        return e.clone();
    }
    if let Some(first) = s.get("enum").and_then(|e| e.as_array()?.first()) {
        return first.clone();
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(first) = s.get(key).and_then(|o| o.as_array()?.first()) {
            return example(doc, first, depth + 1);
        }
    }
    let t = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ => "object",
    };
    match t {
        "object" => {
            let mut out = serde_json::Map::new();
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                for (k, sub) in props {
                    out.insert(k.clone(), example(doc, sub, depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" => match s.get("items") {
            Some(items) => json!([example(doc, items, depth + 1)]),
            None => json!([]),
        },
        "string" => match s.get("format").and_then(Value::as_str) {
            Some("date-time") => json!("2026-11-22T10:00:00Z"),
            _ => json!("schema-test"),
        },
        "integer" => json!(s.get("minimum").and_then(Value::as_i64).unwrap_or(0).max(1)),
        "number" => json!(1.0),
        "boolean" => json!(true),
        _ => Value::Null,
    }
}

/// Values for a query parameter: valid ones and boundaries.
fn query_values(doc: &Value, schema: &Value) -> Vec<String> {
    let s = resolve(doc, schema);
    let mut out: Vec<String> = vec![String::new(), "x".repeat(5000), "ü🚪%00".into()];
    if let Some(options) = s.get("enum").and_then(Value::as_array) {
        out.extend(options.iter().filter_map(|o| o.as_str().map(str::to_owned)));
        out.push("not-a-value".into());
    }
    let t = match s.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string")
            .to_owned(),
        _ => "string".into(),
    };
    match t.as_str() {
        "integer" | "number" => out.extend(
            [
                "0",
                "1",
                "-1",
                "9223372036854775807",
                "-9223372036854775808",
                "18446744073709551615",
                "18446744073709551616",
                "1.5",
                "abc",
            ]
            .map(str::to_owned),
        ),
        "boolean" => out.extend(["true", "false", "yes"].map(str::to_owned)),
        _ => out.extend(
            [
                "2026-11-22T10:00:00Z",
                "+262142-12-31T23:59:59Z",
                "2026-13-45T99:99:99Z",
                "door.state_changed",
                "door-lobby",
            ]
            .map(str::to_owned),
        ),
    }
    out
}

/// Whether the document says a raw query value is valid for `schema`:
/// `Some(true)` or `Some(false)` for integers (in their format's range and
/// the schema's bounds), date-times and enums; `None` where the schema says
/// too little to judge (a plain string).
fn valid_by_doc(doc: &Value, schema: &Value, raw: &str) -> Option<bool> {
    let s = resolve(doc, schema);
    if let Some(options) = s.get("enum").and_then(Value::as_array) {
        return Some(options.iter().any(|o| o.as_str() == Some(raw)));
    }
    let types: Vec<&str> = match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if types.contains(&"integer") {
        let Ok(n) = raw.parse::<i128>() else {
            return Some(false);
        };
        let (lo, hi) = match s.get("format").and_then(Value::as_str) {
            Some("int32") => (i128::from(i32::MIN), i128::from(i32::MAX)),
            Some("int64") => (i128::from(i64::MIN), i128::from(i64::MAX)),
            // No format: as far as a 64-bit integer goes.
            _ => (i128::from(i64::MIN), i128::from(u64::MAX)),
        };
        let min = s.get("minimum").and_then(Value::as_f64);
        let max = s.get("maximum").and_then(Value::as_f64);
        return Some(
            (lo..=hi).contains(&n)
                && min.is_none_or(|m| n as f64 >= m)
                && max.is_none_or(|m| n as f64 <= m),
        );
    }
    if types.contains(&"string") && s.get("format").and_then(Value::as_str) == Some("date-time") {
        return Some(chrono::DateTime::parse_from_rfc3339(raw).is_ok());
    }
    None
}

/// Values for a path parameter: ones that exist (so the route's real work
/// runs) and ones that cannot.
fn path_values(path: &str, known: &Known) -> Vec<String> {
    let mut out = vec![
        "0".to_owned(),
        "-1".to_owned(),
        "nope".to_owned(),
        "x".repeat(5000),
        "%C3%BC%F0%9F%9A%AA".to_owned(),
        "..%2F..%2Fetc%2Fpasswd".to_owned(),
        "%00".to_owned(),
    ];
    let real = if path.starts_with("/api/v1/doors/") {
        Some("door-lobby".to_owned())
    } else if path.starts_with("/api/v1/commands/") {
        known.command.clone()
    } else if path.starts_with("/api/v1/access-requests/") {
        known.request.clone()
    } else if path.starts_with("/api/v1/cardholders/") {
        known.cardholder.clone()
    } else if path.starts_with("/api/v1/credentials/") {
        known.credential.clone()
    } else if path.starts_with("/api/v1/cameras/") {
        Some("cam-lobby".to_owned())
    } else if path.starts_with("/api/v1/maps/") {
        Some("floor1".to_owned())
    } else {
        None
    };
    // The real id last (the caller takes it from there); a made-up one
    // when the site has none.
    out.push(real.unwrap_or_else(|| "schema-test".to_owned()));
    out
}

/// Ids of things that exist on the test site.
#[derive(Debug, Default)]
struct Known {
    command: Option<String>,
    request: Option<String>,
    cardholder: Option<String>,
    credential: Option<String>,
}

/// Where a body built from the schema alone cannot succeed (a real
/// password, a schedule that exists), the valid body to start from.
fn valid_body(template: &str) -> Option<Value> {
    match template {
        "/api/v1/auth/sign-in" => Some(json!({"username": "admin", "password": "demo-admin"})),
        "/api/v1/cardholders" => Some(json!({
            "id": "schema-test-new",
            "name": "Schema Test",
            "department": "QA",
            "schedule": "office",
            "credentials": [{"id": "schema-test-badge", "state": "active", "valid_until": null}],
        })),
        "/api/v1/views/{id}" => Some(json!({
            "name": "Schema view",
            "layout": "2x2",
            "cameras": ["cam-lobby", null],
        })),
        _ => None,
    }
}

/// Bodies for an operation: a valid one from the schema, then broken ones.
fn bodies(doc: &Value, template: &str, op: &Value) -> Vec<(String, Option<String>)> {
    let Some(schema) = op.pointer("/requestBody/content/application~1json/schema") else {
        return vec![(String::new(), None)];
    };
    let valid = valid_body(template).unwrap_or_else(|| example(doc, schema, 0));
    let mut out = vec![(valid.to_string(), Some("application/json".to_owned()))];
    // Each field in turn of a wrong type, and left out.
    if let Some(obj) = valid.as_object() {
        for k in obj.keys() {
            for wrong in [json!(null), json!(12), json!("x"), json!([]), json!({})] {
                let mut broken = obj.clone();
                broken.insert(k.clone(), wrong);
                out.push((
                    Value::Object(broken).to_string(),
                    Some("application/json".into()),
                ));
            }
            let mut missing = obj.clone();
            missing.remove(k);
            out.push((
                Value::Object(missing).to_string(),
                Some("application/json".into()),
            ));
        }
        // Each value of an enum field, and one that is none of them.
        let props = resolve(doc, schema)
            .get("properties")
            .and_then(Value::as_object);
        for (k, sub) in props.into_iter().flatten() {
            if let Some(options) = resolve(doc, sub).get("enum").and_then(Value::as_array) {
                for v in options.iter().cloned().chain([json!("not-a-value")]) {
                    let mut one = obj.clone();
                    one.insert(k.clone(), v);
                    out.push((
                        Value::Object(one).to_string(),
                        Some("application/json".into()),
                    ));
                }
            }
        }
        let mut extra = obj.clone();
        extra.insert("unexpected".into(), json!(1));
        out.push((
            Value::Object(extra).to_string(),
            Some("application/json".into()),
        ));
    }
    let json = Some("application/json".to_owned());
    for broken in [
        "", "{", "[]", "null", "\"x\"", "{}", "{\"a\":", "\u{0}", "1e999",
    ] {
        out.push((broken.to_owned(), json.clone()));
    }
    out.push((valid.to_string(), Some("text/plain".into())));
    out.push((valid.to_string(), None));
    out.push((
        format!("{{\"pad\":\"{}\"}}", "x".repeat(2 * BODY_LIMIT)),
        json,
    ));
    out
}

/// One request and what came back.
struct Call {
    method: String,
    url: String,
    body: String,
    content_type: Option<String>,
    /// A query value the document calls valid: the site must not refuse it
    /// as bad input.
    valid_query: bool,
}

impl Call {
    fn label(&self) -> String {
        let body: String = self.body.chars().take(120).collect();
        let url: String = self.url.chars().take(160).collect();
        format!("{} {url} body {body:?}", self.method)
    }
}

/// Bodies past this the site refuses (413) before reading them all, and
/// closes the connection: the client may see the close while still sending.
const BODY_LIMIT: usize = 64 * 1024;

/// Sends one call; `None` when an oversized body was cut off by the site
/// closing the connection (its 413 may not reach the client).
async fn send(
    site: &TestSite,
    token: &str,
    call: &Call,
    stream: bool,
) -> Option<(u16, String, Vec<u8>)> {
    let method: reqwest::Method = call.method.to_uppercase().parse().unwrap();
    let mut req = site
        .http
        .request(method, &call.url)
        .bearer_auth(token)
        .timeout(Duration::from_secs(20))
        .body(call.body.clone());
    if let Some(ct) = &call.content_type {
        req = req.header("content-type", ct);
    }
    let r = match req.send().await {
        Ok(r) => r,
        Err(_) if call.body.len() > BODY_LIMIT => return None,
        Err(e) => panic!("{}: {e}", call.label()),
    };
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if stream && status == 200 {
        // An endless stream: the status and type are what there is to check.
        return Some((status, ct, Vec::new()));
    }
    let body = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    Some((status, ct, body))
}

/// Checks one answer against the operation's documented responses.
fn check(doc: &Value, op: &Value, call: &Call, status: u16, ct: &str, body: &[u8]) -> Vec<String> {
    let label = call.label();
    let mut problems = Vec::new();
    // A 5xx is a failure, except a documented 503: "unavailable right now"
    // is an answer (a camera with no still yet, a door with no driver).
    if status >= 500 && !(status == 503 && op["responses"].get("503").is_some()) {
        problems.push(format!(
            "{label}: {status} {}",
            String::from_utf8_lossy(body)
        ));
        return problems;
    }
    if call.valid_query && status == 400 {
        problems.push(format!(
            "{label}: valid by the document, refused: {}",
            String::from_utf8_lossy(body)
        ));
    }
    let Some(response) = op["responses"].get(status.to_string()) else {
        let listed: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        problems.push(format!(
            "{label}: {status} is not a documented answer (listed: {listed:?}): {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
        return problems;
    };
    let response = resolve(doc, response);
    if ct.starts_with("application/json") && !body.is_empty() {
        let Some(schema) = response.pointer("/content/application~1json/schema") else {
            return problems; // documented without a schema (e.g. the document itself)
        };
        match serde_json::from_slice::<Value>(body) {
            Err(e) => problems.push(format!("{label}: {status} body is not JSON: {e}")),
            Ok(v) => {
                let mut errors = Vec::new();
                validate(doc, schema, &v, "$", &mut errors);
                for e in errors.into_iter().take(5) {
                    problems.push(format!("{label}: {status} body: {e}"));
                }
            }
        }
    }
    problems
}

/// Every operation of the document with generated requests: no 5xx, only
/// documented statuses, bodies that match their schemas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_generated_requests_as_documented() {
    let site = start_site().await;
    let mut admin = site.token(Role::Admin).await;
    let mut operator = site.token(Role::Operator).await;

    let doc: Value = site
        .http
        .get(site.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // Things to point path parameters at.
    let mut known = Known::default();
    let r = site
        .post(
            &admin,
            "/api/v1/doors/door-lobby/commands",
            json!({"action": "lock", "idempotency_key": "schema-test-1"}),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    known.command = v["id"].as_str().map(str::to_owned);
    let holders: Value = site
        .get(&admin, "/api/v1/cardholders")
        .await
        .json()
        .await
        .unwrap();
    let first = holders
        .as_array()
        .and_then(|l| l.first())
        .or_else(|| holders["items"].as_array().and_then(|l| l.first()))
        .cloned()
        .unwrap_or_default();
    known.cardholder = first["id"].as_str().map(str::to_owned);
    let all = holders
        .as_array()
        .or_else(|| holders["items"].as_array())
        .cloned()
        .unwrap_or_default();
    // From the last cardholder: the edit of the first one below replaces
    // its badges.
    known.credential = all
        .iter()
        .rev()
        .find_map(|h| h["credentials"][0]["id"].as_str().map(str::to_owned));

    let mut problems = Vec::new();
    let mut calls = 0usize;
    // Operations no generated request got a success from (reported, so a
    // generator that never reaches a handler's real work shows).
    let mut never_ok: Vec<String> = Vec::new();
    let paths = doc["paths"].as_object().unwrap().clone();
    // Sign-in last: its wrong passwords back the address off, which would
    // slow everything after it.
    let mut order: Vec<(&String, &Value)> = paths.iter().collect();
    order.sort_by_key(|(p, _)| p.ends_with("/sign-in"));
    for (template, ops) in order {
        for (method, op) in ops.as_object().unwrap() {
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            if excluded(method, template) {
                continue;
            }
            // An access request to answer: a fresh one per operation, since
            // an answer closes it.
            if template.contains("/access-requests/") {
                known.request = Some(site.open_request("door-lobby"));
            }
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let stream = op
                .pointer("/responses/200/content")
                .and_then(Value::as_object)
                .is_some_and(|c| c.contains_key("text/event-stream"));
            // The base request: real ids in the path, no query.
            let base_path = |value: &str| -> String {
                let mut p = template.clone();
                for param in &params {
                    if param["in"] == "path" {
                        let name = param["name"].as_str().unwrap();
                        p = p.replace(&format!("{{{name}}}"), value);
                    }
                }
                p
            };
            let real = path_values(template, &known).pop().unwrap();
            let body_list = bodies(&doc, template, op);
            // Path and query variants carry the valid body, so that they get
            // past the body to the id and the query.
            let (valid_body, valid_ct) = body_list[0].clone();
            let mut requests: Vec<Call> = Vec::new();
            if template.contains('{') {
                for v in path_values(template, &known) {
                    requests.push(Call {
                        method: method.clone(),
                        url: site.url(&base_path(&v)),
                        body: valid_body.clone(),
                        content_type: valid_ct.clone(),
                        valid_query: false,
                    });
                }
            }
            for param in params.iter().filter(|p| p["in"] == "query") {
                let name = param["name"].as_str().unwrap();
                let schema = param.get("schema").cloned().unwrap_or(json!({}));
                for v in query_values(&doc, &schema) {
                    let q: String = url_encode(&v);
                    requests.push(Call {
                        method: method.clone(),
                        url: site.url(&format!("{}?{name}={q}", base_path(&real))),
                        body: valid_body.clone(),
                        content_type: valid_ct.clone(),
                        valid_query: valid_by_doc(&doc, &schema, &v) == Some(true),
                    });
                }
            }
            requests.push(Call {
                method: method.clone(),
                url: site.url(&format!("{}?unknown=1", base_path(&real))),
                body: valid_body.clone(),
                content_type: valid_ct.clone(),
                valid_query: false,
            });
            for (body, ct) in body_list {
                requests.push(Call {
                    method: method.clone(),
                    url: site.url(&base_path(&real)),
                    body,
                    content_type: ct,
                    valid_query: false,
                });
            }
            let mut ok = false;
            // Revoking sessions ends the operator's (an admin keeps their
            // own): both sign in again after each such call.
            let revokes = template.ends_with("/sessions/revoke");
            for call in &requests {
                for role in [Role::Admin, Role::Operator] {
                    let token = if role == Role::Admin {
                        &admin
                    } else {
                        &operator
                    };
                    let sent = send(&site, token, call, stream).await;
                    if revokes {
                        admin = site.token(Role::Admin).await;
                        operator = site.token(Role::Operator).await;
                    }
                    let Some((status, ct, body)) = sent else {
                        continue;
                    };
                    calls += 1;
                    ok |= (200..300).contains(&status);
                    problems.extend(check(&doc, op, call, status, &ct, &body));
                    if status == 401 && !template.ends_with("/sign-in") {
                        panic!(
                            "{}: the test's session was lost; exclude the route that ended it",
                            call.label()
                        );
                    }
                }
            }
            if !ok {
                never_ok.push(format!("{method} {template}"));
            }
        }
    }
    eprintln!("{calls} calls; no success from: {never_ok:?}");
    assert!(calls > 500, "only {calls} calls made");
    assert!(
        problems.is_empty(),
        "{} of {calls} answers do not match the document:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn url_encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
