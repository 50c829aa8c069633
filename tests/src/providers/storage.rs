//! Microsoft.Storage: accounts (create is 202 with an empty body and a Location to poll), keys,
//! name checks, blob service properties and containers — each account backed by its own Azurite.

use crate::arm::path::{ResourcePath, Target};
use crate::arm::{self, lro, ArmRequest, ArmResult};
use crate::blob_client::BlobClient;
use crate::error::ArmError;
use crate::state::{lock, Shared};
use crate::state::{AccountData, OperationAction, Resource};
use axum::http::{Method, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

const KINDS: &[&str] = &[
    "Storage",
    "StorageV2",
    "BlobStorage",
    "FileStorage",
    "BlockBlobStorage",
];
const TLS: &[&str] = &["TLS1_0", "TLS1_1", "TLS1_2", "TLS1_3"];

pub fn valid_account_name(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

fn valid_container_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && !name.ends_with('-')
        && !name.contains("--")
}

fn name_invalid(name: &str) -> ArmError {
    ArmError::bad_request(
        "AccountNameInvalid",
        format!("{name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only."),
    )
}

/// `POST /subscriptions/{sub}/providers/Microsoft.Storage/checkNameAvailability`.
pub fn subscription_action(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let Target::SubscriptionAction { namespace, action } = &parsed.target else {
        return Err(arm::method_not_allowed(req));
    };
    if !namespace.eq_ignore_ascii_case("Microsoft.Storage")
        || !action.eq_ignore_ascii_case("checkNameAvailability")
    {
        return Err(ArmError::not_found(
            "NotFound",
            format!("Unknown action {namespace}/{action}."),
        ));
    }
    let name = req
        .body()?
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !valid_account_name(&name) {
        return arm::ok(
            json!({"nameAvailable": false, "reason": "AccountNameInvalid", "message": name_invalid(&name).message}),
        );
    }
    if lock(&state.cloud).accounts.contains_key(&name)
        || state.cfg().behaviours.name_taken_elsewhere(&name)
    {
        return arm::ok(
            json!({"nameAvailable": false, "reason": "AlreadyExists", "message": format!("The storage account named {name} is already taken.")}),
        );
    }
    arm::ok(json!({"nameAvailable": true}))
}

pub async fn handle(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let (types, action) = parsed.shape();
    let types: Vec<&str> = types.iter().map(String::as_str).collect();
    match (types.as_slice(), action.as_deref()) {
        (["storageaccounts"], None) => account(state, req, parsed).await,
        (["storageaccounts"], Some("listkeys")) => list_keys(state, req, parsed),
        (["storageaccounts", "blobservices"], None) => blob_service(state, req, parsed),
        (["storageaccounts", "blobservices"], Some("containers")) => {
            list_containers(state, req, parsed)
        }
        (["storageaccounts", "blobservices", "containers"], None) => {
            container(state, req, parsed).await
        }
        _ => Err(ArmError::not_found(
            "NotFound",
            format!("No route for {}.", req.path),
        )),
    }
}

fn account_name(parsed: &ResourcePath) -> String {
    parsed.names().first().cloned().unwrap_or_default()
}

fn find_account(state: &Shared, parsed: &ResourcePath) -> Result<Resource, ArmError> {
    let id = parsed.resource_id(1);
    lock(&state.cloud).get(&id).cloned().ok_or_else(|| {
        ArmError::resource_not_found(
            "Microsoft.Storage/storageAccounts",
            &account_name(parsed),
            parsed.rg(),
        )
    })
}

fn validate_properties(props: &Value) -> Result<(), ArmError> {
    if let Some(tls) = props.get("minimumTlsVersion").and_then(Value::as_str) {
        if !TLS.contains(&tls) {
            return Err(ArmError::bad_request(
                "InvalidValuesForRequestParameters",
                format!("Values for request parameters are invalid: minimumTlsVersion '{tls}'."),
            ));
        }
    }
    for flag in [
        "isHnsEnabled",
        "supportsHttpsTrafficOnly",
        "allowBlobPublicAccess",
        "allowSharedKeyAccess",
    ] {
        if props
            .get(flag)
            .is_some_and(|v| !v.is_boolean() && !v.is_null())
        {
            return Err(ArmError::bad_request(
                "InvalidRequestContent",
                format!("'{flag}' must be a boolean."),
            ));
        }
    }
    Ok(())
}

/// The properties GET returns: what was asked for over Azure's server-side defaults.
fn account_properties(requested: &Value, data: &AccountData, existing: Option<&Value>) -> Value {
    let now = chrono::Utc::now().to_rfc3339();
    let mut props = existing.cloned().unwrap_or_else(|| {
        json!({
            "provisioningState": "Creating",
            "creationTime": now,
            "keyCreationTime": {"key1": now, "key2": now},
            "primaryLocation": "",
            "statusOfPrimary": "available",
            "isHnsEnabled": false,
            "minimumTlsVersion": "TLS1_2",
            "supportsHttpsTrafficOnly": true,
            "allowBlobPublicAccess": false,
            "allowCrossTenantReplication": false,
            "defaultToOAuthAuthentication": false,
            "publicNetworkAccess": "Enabled",
            "accessTier": "Hot",
            "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow", "ipRules": [], "virtualNetworkRules": []},
            "encryption": {"keySource": "Microsoft.Storage", "requireInfrastructureEncryption": false, "services": {
                "blob": {"enabled": true, "keyType": "Account", "lastEnabledTime": now},
                "file": {"enabled": true, "keyType": "Account", "lastEnabledTime": now}}},
        })
    });
    arm::merge(&mut props, requested);
    props["primaryEndpoints"] = json!({"blob": data.blob_endpoint()});
    props
}

/// With `arm_spelling`, a property at its default is left out, as ARM leaves `isHnsEnabled` out
/// of a non-HNS account.
fn as_arm_echoes(state: &Shared, mut props: Value) -> Value {
    if state.cfg().behaviours.arm_spelling && props.get("isHnsEnabled") == Some(&json!(false)) {
        if let Some(p) = props.as_object_mut() {
            p.remove("isHnsEnabled");
        }
    }
    props
}

async fn account(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let name = account_name(parsed);
    let id = parsed.resource_id(1);
    match req.method {
        Method::GET => find_account(state, parsed)
            .map(|r| r.body)
            .and_then(arm::ok),
        Method::DELETE => {
            let Ok(existing) = find_account(state, parsed) else {
                return arm::empty(StatusCode::NO_CONTENT);
            };
            arm::ensure_no_conflict(state, &existing.id)?;
            lro::cascade_delete(state, &existing.id, false).await;
            arm::empty(StatusCode::OK)
        }
        Method::PATCH => {
            let mut existing = find_account(state, parsed)?;
            arm::ensure_no_conflict(state, &existing.id)?;
            let body = req.body()?;
            if let Some(props) = body.get("properties") {
                validate_properties(props)?;
                if props.get("isHnsEnabled").is_some() {
                    return Err(ArmError::bad_request("HnsOnMigrationRequired", "isHnsEnabled cannot be changed by an update; use the hnsonmigration action."));
                }
                arm::merge(&mut existing.body["properties"], props);
            }
            if body.get("tags").is_some() {
                existing.body["tags"] = arm::validate_tags(body)?;
            }
            if let Some(sku) = body.get("sku") {
                existing.body["sku"] = sku.clone();
            }
            // A successful update re-provisions an account whose create ended Failed.
            existing.body["properties"]["provisioningState"] = json!("Succeeded");
            lock(&state.cloud).insert(existing.clone());
            arm::ok(existing.body)
        }
        Method::PUT => put_account(state, req, parsed, &name, &id).await,
        _ => Err(arm::method_not_allowed(req)),
    }
}

async fn put_account(
    state: &Shared,
    req: &ArmRequest,
    parsed: &ResourcePath,
    name: &str,
    id: &str,
) -> ArmResult {
    if !valid_account_name(name) {
        return Err(name_invalid(name));
    }
    let body = req.body()?;
    let location = arm::require_location(body)?;
    let tags = arm::validate_tags(body)?;
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or_default();
    if !KINDS.contains(&kind) {
        return Err(ArmError::bad_request(
            "InvalidValuesForRequestParameters",
            format!("Values for request parameters are invalid: kind '{kind}'."),
        ));
    }
    let sku = body
        .get("sku")
        .and_then(|s| s.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ArmError::bad_request(
                "InvalidRequestContent",
                "The request content was invalid: 'sku' is required.",
            )
        })?;
    let requested = body.get("properties").cloned().unwrap_or_else(|| json!({}));
    validate_properties(&requested)?;
    arm::ensure_no_conflict(state, id)?;
    let existing = lock(&state.cloud).get(id).cloned();
    let taken_elsewhere = existing.is_none()
        && (lock(&state.cloud).accounts.contains_key(name)
            || state.cfg().behaviours.name_taken_elsewhere(name));
    if taken_elsewhere {
        return Err(ArmError::conflict(
            "StorageAccountAlreadyTaken",
            format!("The storage account named {name} is already taken."),
        ));
    }
    let tier = if sku.starts_with("Premium") {
        "Premium"
    } else {
        "Standard"
    };
    if let Some(mut existing) = existing {
        let old_hns = existing
            .body
            .pointer("/properties/isHnsEnabled")
            .cloned()
            .unwrap_or(json!(false));
        if requested.get("isHnsEnabled").is_some_and(|v| *v != old_hns) {
            return Err(ArmError::bad_request(
                "HnsOnMigrationRequired",
                "isHnsEnabled cannot be changed on an existing account.",
            ));
        }
        let data = lock(&state.cloud).accounts.get(name).cloned();
        let Some(data) = data else {
            return Err(ArmError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "account data missing",
            ));
        };
        let props = account_properties(&requested, &data, existing.body.get("properties"));
        existing.body["properties"] = as_arm_echoes(state, props);
        existing.body["tags"] = tags;
        existing.body["sku"] = json!({"name": sku, "tier": tier});
        existing.body["properties"]["provisioningState"] = json!("Succeeded");
        lock(&state.cloud).insert(existing.clone());
        return arm::ok(existing.body);
    }
    let endpoint = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr().map(|a| (l, a.port())));
    let (endpoint, port) = endpoint.map_err(|e| {
        ArmError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            format!("no free loopback port for the account's data plane: {e}"),
        )
    })?;
    let data = AccountData {
        name: name.to_string(),
        port,
        key1: new_account_key(),
        key2: new_account_key(),
        ready: false,
    };
    let mut props = as_arm_echoes(state, account_properties(&requested, &data, None));
    props["primaryLocation"] = json!(location);
    let resource = Resource {
        id: id.to_string(),
        kind: "Microsoft.Storage/storageAccounts".into(),
        body: json!({
            "id": id, "name": name, "type": "Microsoft.Storage/storageAccounts", "location": location,
            "tags": tags, "kind": kind, "sku": {"name": sku, "tier": tier}, "properties": props,
        }),
    };
    {
        let mut cloud = lock(&state.cloud);
        cloud.accounts.insert(name.to_string(), data.clone());
        cloud.insert(resource);
    }
    let secs = state.cfg().latency.storage_create_s;
    let op = lro::start(
        state,
        id,
        OperationAction::Create,
        secs,
        Some(name.to_string()),
    );
    start_data_plane(state, data, endpoint, op.clone());
    let _ = parsed;
    Ok(lro::accepted_location(
        state,
        "Microsoft.Storage",
        &op,
        req.api_version(),
    ))
}

/// Starts the new account's Azurite. The create operation ends when it listens; if it cannot
/// start, the create fails as Azure's do on its own side (the account is gone, sending the PUT
/// again is the remedy), never left running for ever.
fn start_data_plane(
    state: &Shared,
    data: AccountData,
    endpoint: std::net::TcpListener,
    op: String,
) {
    let state = state.clone();
    tokio::spawn(async move {
        let started = state.azurite.start(&data.name, &data.key1, endpoint).await;
        let mut cloud = lock(&state.cloud);
        match started {
            Ok(()) => {
                if let Some(d) = cloud.accounts.get_mut(&data.name) {
                    d.ready = true;
                }
            }
            Err(e) => {
                tracing::error!(account = %data.name, error = %e, "azurite did not start");
                let Some(operation) = cloud.operations.get_mut(&op) else {
                    return;
                };
                operation.fails = true;
                operation.waits_for_account = None;
                let resource_id = operation.resource_id.clone();
                cloud.operation_errors.insert(
                    op,
                    json!({"code": "InternalServerError",
                        "message": format!("The storage account '{}' could not be created: its data plane did not start. Retry the request.", data.name)}),
                );
                cloud.accounts.remove(&data.name);
                cloud.remove(&resource_id);
            }
        }
    });
}

/// 64 random bytes in base64, the shape of a real account key.
fn new_account_key() -> String {
    let mut bytes = rand::random::<[u8; 32]>().to_vec();
    bytes.extend(rand::random::<[u8; 32]>());
    STANDARD.encode(bytes)
}

fn list_keys(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    if req.method != Method::POST {
        return Err(arm::method_not_allowed(req));
    }
    find_account(state, parsed)?;
    let data = lock(&state.cloud)
        .accounts
        .get(&account_name(parsed))
        .cloned();
    let Some(data) = data else {
        return Err(ArmError::resource_not_found(
            "Microsoft.Storage/storageAccounts",
            &account_name(parsed),
            parsed.rg(),
        ));
    };
    let now = chrono::Utc::now().to_rfc3339();
    arm::ok(json!({"keys": [
        {"keyName": "key1", "value": data.key1, "permissions": "FULL", "creationTime": now},
        {"keyName": "key2", "value": data.key2, "permissions": "FULL", "creationTime": now},
    ]}))
}

fn require_provisioned(account: &Resource) -> Result<(), ArmError> {
    if account
        .body
        .pointer("/properties/provisioningState")
        .and_then(Value::as_str)
        != Some("Succeeded")
    {
        return Err(ArmError::conflict(
            "StorageAccountIsNotProvisioned",
            "The storage account provisioning state must be 'Succeeded' before executing the operation.",
        ));
    }
    Ok(())
}

fn blob_service(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let account = find_account(state, parsed)?;
    let id = parsed.resource_id(2);
    match req.method {
        Method::GET => {
            let body = lock(&state.cloud).get(&id).map(|r| r.body.clone());
            arm::ok(body.unwrap_or_else(|| json!({"id": id, "name": "default", "type": "Microsoft.Storage/storageAccounts/blobServices", "properties": {"deleteRetentionPolicy": {"enabled": false}}})))
        }
        Method::PUT => {
            require_provisioned(&account)?;
            let props = req
                .body()?
                .get("properties")
                .cloned()
                .unwrap_or_else(|| json!({}));
            let body = json!({"id": id, "name": "default", "type": "Microsoft.Storage/storageAccounts/blobServices", "properties": props});
            lock(&state.cloud).insert(Resource {
                id: id.clone(),
                kind: "Microsoft.Storage/storageAccounts/blobServices".into(),
                body: body.clone(),
            });
            arm::ok(body)
        }
        _ => Err(arm::method_not_allowed(req)),
    }
}

fn list_containers(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    if req.method != Method::GET {
        return Err(arm::method_not_allowed(req));
    }
    find_account(state, parsed)?;
    let prefix = format!("{}/containers/", parsed.resource_id(2));
    let cloud = lock(&state.cloud);
    let value: Vec<Value> = cloud
        .ids_under(&parsed.resource_id(2))
        .iter()
        .filter(|id| {
            id.to_ascii_lowercase()
                .starts_with(&prefix.to_ascii_lowercase())
        })
        .filter_map(|id| cloud.get(id).map(|r| r.body.clone()))
        .collect();
    arm::ok(json!({"value": value}))
}

async fn container(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let account = find_account(state, parsed)?;
    let name = parsed.names().get(2).cloned().unwrap_or_default();
    let id = parsed.resource_id(3);
    let existing = lock(&state.cloud).get(&id).cloned();
    let data = lock(&state.cloud)
        .accounts
        .get(&account_name(parsed))
        .cloned();
    match req.method {
        Method::GET => existing.map(|r| r.body).map(arm::ok).unwrap_or_else(|| {
            Err(ArmError::not_found(
                "ContainerNotFound",
                "The specified container does not exist.",
            ))
        }),
        Method::PUT | Method::PATCH => {
            if !valid_container_name(&name) {
                return Err(ArmError::bad_request("ContainerOperationFailure", format!("The specified resource name '{name}' contains invalid characters or length.")));
            }
            require_provisioned(&account)?;
            if req.method == Method::PATCH && existing.is_none() {
                return Err(ArmError::not_found(
                    "ContainerNotFound",
                    "The specified container does not exist.",
                ));
            }
            let props = req
                .body
                .as_ref()
                .and_then(|b| b.get("properties"))
                .cloned()
                .unwrap_or_else(|| json!({}));
            if let Some(access) = props.get("publicAccess").and_then(Value::as_str) {
                let public_allowed = account
                    .body
                    .pointer("/properties/allowBlobPublicAccess")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if access != "None" && !public_allowed {
                    return Err(ArmError::conflict(
                        "PublicAccessNotPermitted",
                        "Public access is not permitted on this storage account.",
                    ));
                }
            }
            let Some(data) = data else {
                return Err(ArmError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "account data missing",
                ));
            };
            BlobClient::new(&state.http, data)
                .create_container(&name)
                .await
                .map_err(|e| {
                    ArmError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "InternalError",
                        e.to_string(),
                    )
                })?;
            let mut properties = existing.as_ref().and_then(|r| r.body.get("properties").cloned()).unwrap_or_else(|| {
                json!({"publicAccess": "None", "leaseStatus": "Unlocked", "leaseState": "Available", "hasImmutabilityPolicy": false, "hasLegalHold": false, "deleted": false, "remainingRetentionDays": 0, "metadata": {}})
            });
            arm::merge(&mut properties, &props);
            properties["lastModifiedTime"] = json!(chrono::Utc::now().to_rfc3339());
            let body = json!({"id": id, "name": name, "type": "Microsoft.Storage/storageAccounts/blobServices/containers", "etag": format!("\"0x{:X}\"", rand::random::<u64>()), "properties": properties});
            lock(&state.cloud).insert(Resource {
                id: id.clone(),
                kind: "Microsoft.Storage/storageAccounts/blobServices/containers".into(),
                body: body.clone(),
            });
            arm::status_json(
                if existing.is_some() {
                    StatusCode::OK
                } else {
                    StatusCode::CREATED
                },
                body,
            )
        }
        Method::DELETE => {
            if existing.is_none() {
                return arm::empty(StatusCode::NO_CONTENT);
            }
            if let Some(data) = data {
                BlobClient::new(&state.http, data)
                    .delete_container(&name)
                    .await
                    .map_err(|e| {
                        ArmError::new(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "InternalError",
                            e.to_string(),
                        )
                    })?;
            }
            lock(&state.cloud).remove(&id);
            arm::empty(StatusCode::OK)
        }
        _ => Err(arm::method_not_allowed(req)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_follow_azure_rules() {
        assert!(super::valid_account_name("stdevraw01"));
        assert!(!super::valid_account_name("St"));
        assert!(!super::valid_account_name("has-dash"));
        assert!(!super::valid_account_name("abcdefghijklmnopqrstuvwxy"));
        assert!(super::valid_container_name("raw"));
        assert!(!super::valid_container_name("a--b"));
        assert!(!super::valid_container_name("-ab"));
    }
}
