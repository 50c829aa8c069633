//! Request bodies built from the azure_mgmt 0.21 models, so field names and enum spellings come
//! from the generated API definitions rather than from hand-written strings.

use azure_mgmt_authorization::package_2022_04_01::models as authz;
use azure_mgmt_storage::package_2023_05::models as storage;
use azure_mgmt_web::package_2024_04::models as web;
use serde_json::Value;
use std::collections::BTreeMap;

/// Generated models serialise some unset fields as `null`; Azure ignores them, drift reads get noisy.
pub fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

pub struct AccountSpec<'a> {
    pub location: &'a str,
    pub hierarchical_namespace: bool,
    pub allow_shared_key: bool,
    pub tags: &'a BTreeMap<String, String>,
}

pub fn storage_account(spec: &AccountSpec) -> Value {
    use storage::storage_account_create_parameters::Kind;
    use storage::storage_account_properties_create_parameters::{AccessTier, MinimumTlsVersion};
    let mut params = storage::StorageAccountCreateParameters::new(
        storage::Sku::new(storage::SkuName::StandardLrs),
        Kind::StorageV2,
        spec.location.to_string(),
    );
    params.tags = serde_json::to_value(spec.tags).ok();
    params.properties = Some(storage::StorageAccountPropertiesCreateParameters {
        is_hns_enabled: Some(spec.hierarchical_namespace),
        minimum_tls_version: Some(MinimumTlsVersion::Tls12),
        supports_https_traffic_only: Some(true),
        allow_blob_public_access: Some(false),
        allow_shared_key_access: Some(spec.allow_shared_key),
        allow_cross_tenant_replication: Some(false),
        access_tier: Some(AccessTier::Hot),
        ..Default::default()
    });
    without_nulls(serde_json::to_value(params).unwrap_or_default())
}

pub fn role_assignment(
    role_definition_id: &str,
    principal_id: &str,
    principal_type: &str,
    description: &str,
) -> Value {
    use authz::role_assignment_properties::PrincipalType;
    let mut props = authz::RoleAssignmentProperties::new(
        role_definition_id.to_string(),
        principal_id.to_string(),
    );
    props.principal_type = Some(match principal_type {
        "Group" => PrincipalType::Group,
        "ServicePrincipal" => PrincipalType::ServicePrincipal,
        _ => PrincipalType::User,
    });
    props.description = Some(description.to_string());
    without_nulls(
        serde_json::to_value(authz::RoleAssignmentCreateParameters::new(props)).unwrap_or_default(),
    )
}

pub fn app_settings(settings: &BTreeMap<String, String>) -> Value {
    let mut dict = web::StringDictionary::new();
    dict.properties = serde_json::to_value(settings).ok();
    without_nulls(serde_json::to_value(dict).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_match_the_rest_shapes() {
        let tags = BTreeMap::from([("environment".to_string(), "dev".to_string())]);
        let body = storage_account(&AccountSpec {
            location: "westeurope",
            hierarchical_namespace: true,
            allow_shared_key: false,
            tags: &tags,
        });
        assert_eq!(body["kind"], "StorageV2");
        assert_eq!(body["sku"]["name"], "Standard_LRS");
        assert_eq!(body["properties"]["minimumTlsVersion"], "TLS1_2");
        assert_eq!(body["properties"]["isHnsEnabled"], true);
        assert_eq!(body["tags"]["environment"], "dev");
        let ra = role_assignment("/x/roleDefinitions/r", "p", "ServicePrincipal", "d");
        assert_eq!(ra["properties"]["principalType"], "ServicePrincipal");
        assert!(ra["properties"].get("createdOn").is_none());
        let settings = app_settings(&BTreeMap::from([("A".to_string(), "1".to_string())]));
        assert_eq!(settings["properties"]["A"], "1");
    }
}
