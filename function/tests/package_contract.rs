//! The package's host.json and function.json against the custom-handler contract the handler
//! implements (its binding name, its executable name).
#![allow(clippy::unwrap_used)]

#[test]
fn package_json_matches_the_custom_handler_contract() {
    let host: serde_json::Value = serde_json::from_str(function::HOST_JSON).unwrap();
    assert_eq!(host["version"], "2.0");
    assert_eq!(
        host["customHandler"]["description"]["defaultExecutablePath"],
        "handler"
    );
    assert_eq!(
        host["extensionBundle"]["id"],
        "Microsoft.Azure.Functions.ExtensionBundle"
    );
    let function: serde_json::Value = serde_json::from_str(function::FUNCTION_JSON).unwrap();
    let binding = &function["bindings"][0];
    assert_eq!(binding["type"], "blobTrigger");
    assert_eq!(binding["name"], function::invocation::BLOB_BINDING);
    assert_eq!(binding["path"], "raw/{name}");
    assert_eq!(binding["connection"], "RawStorage");
    assert_eq!(binding["source"], "EventGrid");
    assert_eq!(binding["dataType"], "binary");
}
