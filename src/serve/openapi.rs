//! The OpenAPI 3.1 description of the admin routes (`GET /_dpsim/openapi.json`, committed as
//! `openapi.json`), for clients in every other language. The `do` objects' schemas are the
//! scenario schema's own (one source for both), moved under `components/schemas`; the routes
//! are [`super::admin::ROUTES`], which a test holds equal to what the router answers.

use serde_json::{Map, Value, json};

use super::admin::{MAX_ADMIN_BODY, ROUTES};

/// The document, built once.
pub(crate) fn document() -> &'static Value {
    static DOC: std::sync::LazyLock<Value> = std::sync::LazyLock::new(build);
    &DOC
}

/// The scenario schema's definitions, with references rewritten to `components/schemas`.
fn scenario_schemas() -> Map<String, Value> {
    let schema = crate::scenario::json_schema();
    let mut defs = schema.get("$defs").and_then(Value::as_object).cloned().unwrap_or_default();
    for value in defs.values_mut() {
        rewrite_refs(value);
    }
    defs
}

fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix("#/$defs/") {
                            *r = format!("#/components/schemas/{name}");
                        }
                    }
                    (_, v) => rewrite_refs(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_body(name: &str) -> Value {
    json!({ "content": { "application/json": { "schema": schema_ref(name) } } })
}

fn answer(description: &str, schema: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema_ref(schema) } } })
}

fn error_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

/// The answers every admin route may give besides its own.
fn with_errors(mut responses: Map<String, Value>, extra: &[(&str, &str)]) -> Value {
    for (status, name) in [("401", "Unauthorized"), ("403", "Forbidden"), ("413", "TooLarge")] {
        responses.insert(status.into(), error_ref(name));
    }
    for (status, name) in extra {
        responses.insert((*status).into(), error_ref(name));
    }
    Value::Object(responses)
}

fn ok(description: &str, schema: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("200".into(), answer(description, schema));
    m
}

/// One operation: its id, summary, request body schema (if any) and answers.
fn operation(method: &str, path: &str) -> Value {
    let bad = [("400", "BadRequest")];
    let (id, summary, body, responses) = match (method, path) {
        ("GET", "/_dpsim/clock") => {
            ("getClock", "The service's clock", None, with_errors(ok("The clock", "Clock"), &[]))
        }
        ("POST", "/_dpsim/clock/advance") => (
            "advanceClock",
            "Moves the clock forward, applying every deadline that fell due in order",
            Some("Advance"),
            with_errors(ok("The clock after the advance", "Clock"), &bad),
        ),
        ("GET", "/_dpsim/faults") => (
            "listFaults",
            "Every installed message fault, with how often it matched and was applied",
            None,
            with_errors(ok("The faults", "FaultList"), &[]),
        ),
        ("POST", "/_dpsim/faults") => (
            "addFault",
            "Installs a message fault, or applies a control-plane event now (a scenario's `do` object)",
            Some("Action"),
            with_errors(ok("The fault's id, or what the event did", "AddFaultAnswer"), &bad),
        ),
        ("POST", "/_dpsim/faults/errors") => (
            "injectErrors",
            "The next `count` calls of an operation answer an AWS error",
            Some("InjectErrors"),
            with_errors(ok("The fault installed", "InjectedErrors"), &bad),
        ),
        ("DELETE", "/_dpsim/faults/{id}") => (
            "removeFault",
            "Takes out a message fault",
            None,
            with_errors(ok("The id removed", "Removed"), &[("400", "BadRequest"), ("404", "NotFound")]),
        ),
        ("GET", "/_dpsim/log") => {
            let mut m = Map::new();
            m.insert(
                "200".into(),
                json!({"description": "The ownership log, as `dpsim run` prints it",
                       "content": {"text/plain": {"schema": {"type": "string"}}}}),
            );
            ("getLog", "The ownership log as text", None, with_errors(m, &[]))
        }
        ("GET", "/_dpsim/report") => (
            "getReport",
            "The report: summary, expectations, every invariant's verdict, the log's lines",
            None,
            with_errors(ok("The report", "Report"), &[]),
        ),
        ("POST", "/_dpsim/reset") => (
            "reset",
            "Starts the world again: pipelines, leases, faults, the log and report go; ids start from the seed again; a served scenario's script starts again; a manual clock goes back to its start (a wall clock cannot). Held polls are answered `{}`; calls on connections opened before the reset are refused",
            None,
            with_errors(ok("The clock after the reset", "Reset"), &[]),
        ),
        ("GET", "/_dpsim/") => {
            let mut m = Map::new();
            m.insert(
                "200".into(),
                json!({"description": "The report page (HTML). It holds no data: it fetches `page.json` and the clock with the admin token, which it asks for under `--auth`, so it is answered without one",
                       "content": {"text/html": {"schema": {"type": "string"}}}}),
            );
            ("getPage", "The live report page, for a browser", None, Value::Object(m))
        }
        ("GET", "/_dpsim/page.json") => {
            let mut m = Map::new();
            m.insert(
                "200".into(),
                json!({"description": "The report page's data: violation groups, violations, expectations, leases, work, calls, deadlines, faults and control events, the log (rows are arrays; see src/report/page/data.rs)",
                       "content": {"application/json": {"schema": {"type": "object"}}}}),
            );
            (
                "getPageData",
                "What the report page draws, for what the server has seen so far",
                None,
                with_errors(m, &[]),
            )
        }
        ("GET", "/_dpsim/openapi.json") => {
            let mut m = Map::new();
            m.insert(
                "200".into(),
                json!({"description": "This document", "content": {"application/json": {"schema": {"type": "object"}}}}),
            );
            ("getOpenApi", "This OpenAPI document", None, with_errors(m, &[]))
        }
        _ => unreachable!("every admin route is described: {method} {path}"),
    };
    let mut op = json!({ "operationId": id, "summary": summary, "responses": responses });
    if let Some(body) = body {
        let mut request = json_body(body);
        request["required"] = Value::Bool(true);
        op["requestBody"] = request;
    }
    if path.contains("{id}") {
        op["parameters"] = json!([{"name": "id", "in": "path", "required": true,
                                  "description": "The fault's id, as `POST /_dpsim/faults` answered it",
                                  "schema": {"type": "integer", "minimum": 0}}]);
    }
    op
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": properties, "required": required })
}

fn build() -> Value {
    let mut paths = Map::new();
    for (method, path) in ROUTES {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[method.to_ascii_lowercase()] = operation(method, path);
    }
    let instant = json!({"type": "string", "format": "date-time"});
    let mut schemas = scenario_schemas();
    let own = json!({
        "Error": object(json!({"error": {"type": "string", "description": "What was wrong and what was expected"}}), &["error"]),
        "Clock": object(json!({
            "now": instant, "since_start": {"type": "string", "description": "`+HH:MM:SS.mmm` since the server's start"},
            "clock": {"enum": ["manual", "wall"]},
            "signing_time": {"type": "string", "format": "date-time", "description": "The machine's time, which signatures are judged against"}
        }), &["now", "since_start", "clock", "signing_time"]),
        "Advance": {"oneOf": [
            {"type": "object", "properties": {"seconds": {"type": "number", "minimum": 0, "maximum": 315_360_000}}, "required": ["seconds"], "additionalProperties": false},
            {"type": "object", "properties": {"to": {"type": "string", "format": "date-time"}}, "required": ["to"], "additionalProperties": false}
        ]},
        "AddFaultAnswer": {"oneOf": [
            object(json!({"id": {"type": "integer", "minimum": 0}}), &["id"]),
            object(json!({"applied": {"type": "string", "description": "What the event did, in words"}}), &["applied"])
        ]},
        "FaultList": object(json!({"faults": {"type": "array", "items": object(json!({
            "id": {"type": "integer", "minimum": 0}, "active": {"type": "boolean"},
            "matched": {"type": "integer", "minimum": 0}, "applied": {"type": "integer", "minimum": 0},
            "fault": schema_ref("Action")
        }), &["id", "active", "matched", "applied", "fault"])}}), &["faults"]),
        "InjectErrors": {"type": "object", "additionalProperties": false, "required": ["operation", "error"], "properties": {
            "operation": {"type": "string", "description": "An operation name, e.g. PollForTask"},
            "error": {"type": "string", "description": "An AWS error code, e.g. InternalServiceError"},
            "count": {"type": "integer", "minimum": 1, "maximum": 4_294_967_295_u64, "default": 1}
        }},
        "InjectedErrors": object(json!({"id": {"type": "integer", "minimum": 0}, "operation": {"type": "string"},
                                        "error": {"type": "string"}, "count": {"type": "integer"}}), &["id", "operation", "error", "count"]),
        "Removed": object(json!({"removed": {"type": "integer", "minimum": 0}}), &["removed"]),
        "LogLine": object(json!({
            "at": {"type": "integer", "minimum": 0, "description": "Milliseconds since the server's start"},
            "object": {"type": "string", "description": "Task and attempt (`Copy@1`), or `-`"},
            "what": {"type": "string", "description": "What happened (`assigned`, `expired`, `stale call`, ...)"},
            "runner": {"type": "string", "description": "The runner, or `-`"},
            "task": {"type": "string", "description": "The lease (`t3`), or empty"},
            "detail": {"type": "string"},
            "anomaly": {"type": "boolean"}
        }), &["at", "object", "what", "runner", "task", "detail", "anomaly"]),
        "Violation": object(json!({
            "invariant": {"type": "string"}, "at": {"type": "integer", "minimum": 0},
            "task": {"type": ["string", "null"]}, "runner": {"type": ["string", "null"]},
            "message": {"type": "string"}, "trail": {"type": "array", "items": schema_ref("LogLine")}
        }), &["invariant", "at", "task", "runner", "message", "trail"]),
        "Report": object(json!({
            "summary": object(json!({
                "runners": {"type": "integer"}, "tasks": {"type": "integer"},
                "statuses": {"type": "array", "items": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false}},
                "handouts": {"type": "integer"}, "reassignments": {"type": "integer"}, "expiries": {"type": "integer"},
                "stale_calls": {"type": "integer"}, "zombies": {"type": "integer"},
                "longest_zombie_ms": {"type": "integer"}, "total_zombie_ms": {"type": "integer"}
            }), &["runners", "tasks", "statuses", "handouts", "reassignments", "expiries", "stale_calls", "zombies", "longest_zombie_ms", "total_zombie_ms"]),
            "expectations": {"type": "array", "items": object(json!({"expectation": {"type": "string"}, "ok": {"type": "boolean"}, "found": {"type": "string"}}), &["expectation", "ok", "found"])},
            "invariants": {"type": "array", "items": object(json!({"name": {"type": "string"}, "held": {"type": "boolean"}, "violations": {"type": "array", "items": schema_ref("Violation")}}), &["name", "held", "violations"])},
            "passed": {"type": "boolean"},
            "log": {"type": "array", "items": schema_ref("LogLine")},
            "forgotten": {"type": "integer", "minimum": 0, "description": "Older events forgotten to keep memory bounded"},
            "now": schema_ref("Clock")
        }), &["summary", "expectations", "invariants", "passed", "log", "forgotten", "now"]),
        "Reset": object(json!({
            "clock": schema_ref("Clock"),
            "clock_reset": {"type": "boolean", "description": "Whether the clock went back to its start (a wall clock cannot)"},
            "refused_calls": {"type": "integer", "minimum": 0, "description": "Calls refused since the last reset because their connection was opened before it"}
        }), &["clock", "clock_reset", "refused_calls"])
    });
    if let Value::Object(own) = own {
        schemas.extend(own);
    }
    let error = |description: &str| json!({"description": description, "content": {"application/json": {"schema": schema_ref("Error")}}});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "dpsim serve: admin routes",
            "version": env!("CARGO_PKG_VERSION"),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
            "description": format!("The admin routes of `dpsim serve`, under `/_dpsim`, outside the AWS namespace: the clock, live message faults and control-plane events, the ownership log and report, and reset. The AWS operations themselves are AWS Data Pipeline's (JSON 1.1; see AWS's own service model). Bodies are JSON with or without a JSON content type, at most {MAX_ADMIN_BODY} bytes, parsed strictly. Without `--auth` every route is open; under `--auth` each needs the `--admin-token` as a bearer token or a SigV4 signature with the served credentials.")
        },
        "servers": [{"url": "http://127.0.0.1:8123", "description": "`dpsim serve`'s default address"}],
        "security": [{}, {"adminToken": []}, {"sigv4": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer", "description": "`--admin-token`, under `--auth`"},
                "sigv4": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "An AWS SigV4 signature with the credentials given to `--auth`"}
            },
            "responses": {
                "BadRequest": error("The body or parameter is not what the route takes; the error says what was expected"),
                "Unauthorized": error("Under `--auth`: neither a token nor a signature was given"),
                "Forbidden": error("Under `--auth`: a wrong token or signature"),
                "NotFound": error("No such fault"),
                "TooLarge": error("The body is over the admin limit")
            },
            "schemas": schemas
        }
    })
}
