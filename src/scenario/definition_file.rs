//! Pipeline definition files (`{"objects": [...]}`, what the AWS CLI reads) to API objects.

use crate::protocol::{Field, PipelineObject};

use super::model::DefinitionFile;

/// Converts a definition file the way `aws datapipeline put-pipeline-definition` does:
/// `id` and `name` (defaulting to the id) become the object's own members, `{"ref": "X"}` a
/// reference, a list repeated fields, any other scalar its text. Errors give the object index.
pub fn to_pipeline_objects(file: &DefinitionFile) -> Result<Vec<PipelineObject>, (usize, String)> {
    let mut out = Vec::with_capacity(file.objects.len());
    for (i, object) in file.objects.iter().enumerate() {
        let id = match object.get("id") {
            Some(serde_json::Value::String(id)) => id.clone(),
            _ => return Err((i, "every object needs a string \"id\"".into())),
        };
        let name = match object.get("name") {
            Some(serde_json::Value::String(n)) => n.clone(),
            None => id.clone(),
            Some(_) => return Err((i, "\"name\" must be a string".into())),
        };
        let mut fields = Vec::new();
        for (key, value) in object {
            if key == "id" || key == "name" {
                continue;
            }
            let values: Vec<&serde_json::Value> = match value {
                serde_json::Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for v in values {
                fields.push(field(key, v).map_err(|m| (i, format!("field {key:?}: {m}")))?);
            }
        }
        out.push(PipelineObject { id: Some(id), name: Some(name), fields });
    }
    Ok(out)
}

fn field(key: &str, value: &serde_json::Value) -> Result<Field, String> {
    use serde_json::Value;
    match value {
        Value::String(s) => Ok(Field::string(key, s.clone())),
        Value::Number(n) => Ok(Field::string(key, n.to_string())),
        Value::Bool(b) => Ok(Field::string(key, b.to_string())),
        Value::Object(m) => match (m.get("ref"), m.len()) {
            (Some(Value::String(r)), 1) => Ok(Field::reference(key, r.clone())),
            _ => Err("an object value must be {\"ref\": \"<object id>\"}".into()),
        },
        Value::Null => Err("null is not a value".into()),
        Value::Array(_) => Err("lists cannot nest".into()),
    }
}
