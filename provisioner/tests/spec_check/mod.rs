//! Request bodies checked against Azure's REST API specs (Swagger 2.0, `tests/specs/`): the body
//! parameter of the operation a method and path name, with the subset of JSON schema ARM specs use
//! — `type`, `properties`, `required`, `enum` (any string when `x-ms-enum.modelAsString`), `$ref`
//! (in the same file or another), `allOf`, `additionalProperties`, `items`, `readOnly`.
//!
//! Stricter than Swagger on purpose: an object that declares properties takes no others unless it
//! says `additionalProperties`, so a property the api-version does not know (a typo, or one from
//! another version) fails; and a `readOnly` property in a request body fails (it means a GET was
//! echoed into a write).
#![allow(dead_code)]

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The spec files of the repository (`tests/specs`), loaded as they are referred to.
pub struct Specs {
    root: PathBuf,
    files: std::sync::Mutex<HashMap<PathBuf, std::sync::Arc<Value>>>,
}

/// Where in a spec a schema is, so its relative `$ref`s resolve.
#[derive(Clone)]
struct At {
    file: PathBuf,
}

impl Specs {
    pub fn repository() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace")
            .join("tests/specs");
        Self::at(root)
    }

    pub fn at(root: PathBuf) -> Self {
        Self {
            root,
            files: Default::default(),
        }
    }

    fn file(&self, path: &Path) -> Result<std::sync::Arc<Value>, String> {
        let mut files = self.files.lock().expect("spec cache");
        if let Some(v) = files.get(path) {
            return Ok(v.clone());
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read spec {}: {e}", path.display()))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| format!("spec {} is not JSON: {e}", path.display()))?;
        let value = std::sync::Arc::new(value);
        files.insert(path.to_path_buf(), value.clone());
        Ok(value)
    }

    /// The body schema of `method path` in `spec` (relative to `tests/specs`): `Ok(None)` when the
    /// operation exists and declares no body, an error when no operation matches.
    pub fn body_schema(
        &self,
        spec: &str,
        method: &str,
        path: &str,
    ) -> Result<Option<BodySchema>, String> {
        let file = self.root.join(spec);
        let doc = self.file(&file)?;
        let path = path.split('?').next().unwrap_or(path);
        let wanted: Vec<&str> = path.trim_matches('/').split('/').collect();
        let method = method.to_ascii_lowercase();
        let paths = doc["paths"].as_object().ok_or("spec has no paths")?;
        // The most specific template wins (`config/web` over `config/{name}`).
        let op = paths
            .iter()
            .filter_map(|(template, ops)| Some((template_matches(template, &wanted)?, ops)))
            .filter_map(|(literal, ops)| Some((literal, ops.get(&method)?)))
            .max_by_key(|(literal, _)| *literal)
            .map(|(_, op)| op)
            .ok_or_else(|| format!("no operation {method} {path} in {spec}"))?;
        for parameter in op["parameters"].as_array().into_iter().flatten() {
            let (parameter, at) = self.resolve(parameter, &At { file: file.clone() })?;
            if parameter["in"] == "body" {
                return Ok(Some(BodySchema {
                    schema: parameter["schema"].clone(),
                    file: at.file,
                    operation: op["operationId"].as_str().unwrap_or_default().to_string(),
                }));
            }
        }
        Ok(None)
    }

    /// Every way `value` breaks `body`'s schema, as `path: problem`.
    pub fn validate(&self, body: &BodySchema, value: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        self.check(
            &body.schema,
            &At {
                file: body.file.clone(),
            },
            value,
            "$",
            &mut problems,
        );
        problems
    }

    /// Follows `$ref` (same file or another, relative to the referring file) to the schema itself.
    fn resolve(&self, schema: &Value, at: &At) -> Result<(Value, At), String> {
        let mut schema = schema.clone();
        let mut at = at.clone();
        for _ in 0..32 {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
                return Ok((schema, at));
            };
            let (file_part, pointer) = reference.split_once('#').unwrap_or((reference, ""));
            if !file_part.is_empty() {
                let dir = at.file.parent().unwrap_or(Path::new("."));
                at = At {
                    file: normalize(&dir.join(file_part)),
                };
            }
            let doc = self.file(&at.file)?;
            schema = doc
                .pointer(pointer)
                .cloned()
                .ok_or_else(|| format!("unresolved $ref {reference} in {}", at.file.display()))?;
        }
        Err("a $ref cycle".into())
    }

    /// The properties, required names and additionalProperties of an object schema, allOf merged.
    fn object_shape(&self, schema: &Value, at: &At, shape: &mut Shape, problems: &mut Vec<String>) {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                shape.properties.insert(k.clone(), (v.clone(), at.clone()));
            }
            shape.declared = true;
        }
        for r in schema["required"].as_array().into_iter().flatten() {
            if let Some(r) = r.as_str() {
                shape.required.push(r.to_string());
            }
        }
        match schema.get("additionalProperties") {
            Some(Value::Bool(true)) => {
                shape.additional = Some((Value::Object(Map::new()), at.clone()))
            }
            Some(Value::Object(o)) => {
                shape.additional = Some((Value::Object(o.clone()), at.clone()))
            }
            _ => {}
        }
        for part in schema["allOf"].as_array().into_iter().flatten() {
            match self.resolve(part, at) {
                Ok((part, part_at)) => self.object_shape(&part, &part_at, shape, problems),
                Err(e) => problems.push(e),
            }
        }
    }

    fn check(
        &self,
        schema: &Value,
        at: &At,
        value: &Value,
        path: &str,
        problems: &mut Vec<String>,
    ) {
        let (schema, at) = match self.resolve(schema, at) {
            Ok(r) => r,
            Err(e) => return problems.push(format!("{path}: {e}")),
        };
        if value.is_null() {
            if schema["x-nullable"] != Value::Bool(true) {
                problems.push(format!("{path}: null where the spec allows no null"));
            }
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            let open = schema.pointer("/x-ms-enum/modelAsString") == Some(&Value::Bool(true));
            let known = allowed.iter().any(|a| match (a.as_str(), value.as_str()) {
                (Some(a), Some(v)) => a.eq_ignore_ascii_case(v),
                _ => a == value,
            });
            let open_string = open && value.is_string();
            if !(known || open_string) {
                problems.push(format!(
                    "{path}: {value} is not one of {}",
                    Value::Array(allowed.clone())
                ));
            }
        }
        let declared_type = schema.get("type").and_then(Value::as_str);
        let is_object = declared_type == Some("object")
            || (declared_type.is_none()
                && (schema.get("properties").is_some() || schema.get("allOf").is_some()));
        match declared_type {
            Some("string") if !value.is_string() => {
                problems.push(format!("{path}: {value} is not a string"))
            }
            Some("boolean") if !value.is_boolean() => {
                problems.push(format!("{path}: {value} is not a boolean"))
            }
            Some("integer") if !(value.is_i64() || value.is_u64()) => {
                problems.push(format!("{path}: {value} is not an integer"))
            }
            Some("number") if !value.is_number() => {
                problems.push(format!("{path}: {value} is not a number"))
            }
            Some("array") => match value.as_array() {
                None => problems.push(format!("{path}: {value} is not an array")),
                Some(items) => {
                    if let Some(item_schema) = schema.get("items") {
                        for (i, item) in items.iter().enumerate() {
                            self.check(item_schema, &at, item, &format!("{path}[{i}]"), problems);
                        }
                    }
                }
            },
            _ => {}
        }
        if !is_object {
            return;
        }
        let Some(object) = value.as_object() else {
            return problems.push(format!("{path}: {value} is not an object"));
        };
        let mut shape = Shape::default();
        self.object_shape(&schema, &at, &mut shape, problems);
        for name in &shape.required {
            let read_only = shape
                .properties
                .get(name)
                .is_some_and(|(s, _)| s["readOnly"] == Value::Bool(true));
            if !object.contains_key(name) && !read_only {
                problems.push(format!("{path}: required property `{name}` is missing"));
            }
        }
        for (key, item) in object {
            let here = format!("{path}.{key}");
            if let Some((property, property_at)) = shape.properties.get(key) {
                let read_only = property["readOnly"] == Value::Bool(true)
                    || self
                        .resolve(property, property_at)
                        .is_ok_and(|(s, _)| s["readOnly"] == Value::Bool(true));
                if read_only {
                    problems.push(format!("{here}: read-only, never sent in a request"));
                }
                self.check(property, property_at, item, &here, problems);
            } else if let Some((additional, additional_at)) = &shape.additional {
                self.check(additional, additional_at, item, &here, problems);
            } else if shape.declared {
                problems.push(format!("{here}: not a property this api-version knows"));
            }
        }
    }
}

#[derive(Default)]
struct Shape {
    properties: HashMap<String, (Value, At)>,
    required: Vec<String>,
    additional: Option<(Value, At)>,
    /// Whether any part declared properties: a bare `{"type": "object"}` takes anything.
    declared: bool,
}

/// A body parameter's schema and the file it is in.
pub struct BodySchema {
    pub schema: Value,
    pub file: PathBuf,
    pub operation: String,
}

/// How many literal segments of `template` match, when all of it matches.
fn template_matches(template: &str, wanted: &[&str]) -> Option<usize> {
    let parts: Vec<&str> = template.trim_matches('/').split('/').collect();
    if parts.len() != wanted.len() {
        return None;
    }
    let mut literal = 0;
    for (t, w) in parts.iter().zip(wanted) {
        if t.starts_with('{') && t.ends_with('}') {
            continue;
        }
        if !t.eq_ignore_ascii_case(w) {
            return None;
        }
        literal += 1;
    }
    Some(literal)
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The Microsoft.Web spec file that holds a request path's operation.
pub fn web_spec_for(api_version: &str, path: &str) -> String {
    let file = if path.to_ascii_lowercase().contains("/serverfarms/") {
        "AppServicePlans.json"
    } else {
        "WebApps.json"
    };
    format!("specification/web/resource-manager/Microsoft.Web/stable/{api_version}/{file}")
}
