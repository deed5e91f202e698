//! Shapes shared by requests and responses: fields, pipeline objects, tags, parameters.

use serde::{Deserialize, Serialize};

use super::error::ServiceError;
use super::validate::{list_len, opt_string, required, string};

/// A key with either a string value or a reference to another object.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    /// The field name.
    #[serde(default)]
    pub key: Option<String>,
    /// A plain value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// The id of another object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_value: Option<String>,
}

impl Field {
    /// A field with a string value.
    pub fn string(key: &str, value: impl Into<String>) -> Field {
        Field { key: Some(key.into()), string_value: Some(value.into()), ref_value: None }
    }

    /// A field that references another object.
    pub fn reference(key: &str, id: impl Into<String>) -> Field {
        Field { key: Some(key.into()), string_value: None, ref_value: Some(id.into()) }
    }

    /// The key, or "" when absent (only after validation can it not be absent).
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or("")
    }

    /// Checks the model's constraints; `member` is the path of this field in the request.
    pub fn validate(&self, member: &str) -> Result<(), ServiceError> {
        string(required(&self.key, &format!("{member}.key"))?, &format!("{member}.key"), 1, 256)?;
        opt_string(&self.string_value, &format!("{member}.stringValue"), 0, 10_240)?;
        opt_string(&self.ref_value, &format!("{member}.refValue"), 1, 256)?;
        if self.string_value.is_some() == self.ref_value.is_some() {
            return Err(ServiceError::invalid(format!(
                "Field '{member}' ({}) must have exactly one of stringValue and refValue",
                self.key()
            )));
        }
        Ok(())
    }
}

/// Validates a list of fields.
pub fn validate_fields(fields: &[Field], member: &str) -> Result<(), ServiceError> {
    for (i, f) in fields.iter().enumerate() {
        f.validate(&format!("{member}.{}", i + 1))?;
    }
    Ok(())
}

/// An object of a pipeline definition, or a runtime object (instance, attempt).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineObject {
    /// The object id.
    #[serde(default)]
    pub id: Option<String>,
    /// The object name.
    #[serde(default)]
    pub name: Option<String>,
    /// The object's fields.
    #[serde(default)]
    pub fields: Vec<Field>,
}

impl PipelineObject {
    /// Checks the model's constraints; a missing id or name is left to definition validation,
    /// which reports it in `validationErrors` the way the service does.
    pub fn validate(&self, member: &str) -> Result<(), ServiceError> {
        opt_string(&self.id, &format!("{member}.id"), 0, 1024)?;
        opt_string(&self.name, &format!("{member}.name"), 0, 1024)?;
        validate_fields(&self.fields, &format!("{member}.fields"))
    }
}

/// A pipeline tag.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    /// Tag key.
    #[serde(default)]
    pub key: Option<String>,
    /// Tag value.
    #[serde(default)]
    pub value: Option<String>,
}

/// Validates a list of tags.
pub fn validate_tags(tags: &[Tag], member: &str) -> Result<(), ServiceError> {
    list_len(tags, member, 0, 10)?;
    for (i, t) in tags.iter().enumerate() {
        let m = format!("{member}.{}", i + 1);
        string(required(&t.key, &format!("{m}.key"))?, &format!("{m}.key"), 1, 128)?;
        string(required(&t.value, &format!("{m}.value"))?, &format!("{m}.value"), 0, 256)?;
    }
    Ok(())
}

/// A parameter attribute (`{key, stringValue}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParameterAttribute {
    /// Attribute name.
    #[serde(default)]
    pub key: Option<String>,
    /// Attribute value.
    #[serde(default)]
    pub string_value: Option<String>,
}

/// A parameter declaration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParameterObject {
    /// Parameter id.
    #[serde(default)]
    pub id: Option<String>,
    /// Its attributes.
    #[serde(default)]
    pub attributes: Vec<ParameterAttribute>,
}

/// A parameter value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParameterValue {
    /// Parameter id.
    #[serde(default)]
    pub id: Option<String>,
    /// Its value.
    #[serde(default)]
    pub string_value: Option<String>,
}

/// Validates parameter declarations.
pub fn validate_parameter_objects(list: &[ParameterObject], member: &str) -> Result<(), ServiceError> {
    for (i, p) in list.iter().enumerate() {
        let m = format!("{member}.{}", i + 1);
        string(required(&p.id, &format!("{m}.id"))?, &format!("{m}.id"), 1, 256)?;
        for (j, a) in p.attributes.iter().enumerate() {
            let am = format!("{m}.attributes.{}", j + 1);
            string(required(&a.key, &format!("{am}.key"))?, &format!("{am}.key"), 1, 256)?;
            string(required(&a.string_value, &format!("{am}.stringValue"))?, &format!("{am}.stringValue"), 0, 10_240)?;
        }
    }
    Ok(())
}

/// Validates parameter values.
pub fn validate_parameter_values(list: &[ParameterValue], member: &str) -> Result<(), ServiceError> {
    for (i, p) in list.iter().enumerate() {
        let m = format!("{member}.{}", i + 1);
        string(required(&p.id, &format!("{m}.id"))?, &format!("{m}.id"), 1, 256)?;
        string(required(&p.string_value, &format!("{m}.stringValue"))?, &format!("{m}.stringValue"), 0, 10_240)?;
    }
    Ok(())
}
