//! Requests a control-plane client builds the same way wherever it runs (the simulation's
//! operator, `serve`'s scenario script): the instances of an activity, page by page.

use serde_json::{Value, json};

/// The QueryObjects body asking for the instances of activity `task` in a pipeline, from the
/// page `marker` names (the first page without one).
pub fn instances_of_activity(pipeline_id: &str, task: &str, marker: Option<&str>) -> Value {
    let mut query = json!({"pipelineId": pipeline_id, "sphere": "INSTANCE", "query": {"selectors": [
        {"fieldName": "@componentParent", "operator": {"type": "REF_EQ", "values": [task]}}]}});
    if let Some(m) = marker {
        query["marker"] = json!(m);
    }
    query
}

/// The ids a QueryObjects page answered, and the marker of the next page if there is one.
pub fn page(answer: &Value) -> (Vec<Value>, Option<String>) {
    let ids = answer["ids"].as_array().cloned().unwrap_or_default();
    let next = match answer["marker"].as_str() {
        Some(m) if answer["hasMoreResults"] == true => Some(m.to_string()),
        _ => None,
    };
    (ids, next)
}
