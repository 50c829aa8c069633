//! A test client for the emulator: tokens from its real token endpoint, ARM and Graph calls.
#![allow(dead_code)]

use local_cloud::{
    Emulator, DEFAULT_SUBSCRIPTION, DEFAULT_TENANT, DEPLOYER_CLIENT_ID, DEPLOYER_SECRET,
};
use serde_json::{json, Value};
use std::time::Duration;

pub const SUB: &str = DEFAULT_SUBSCRIPTION;

pub struct TestCloud {
    pub emulator: Emulator,
    pub http: reqwest::Client,
    pub arm_token: String,
    pub graph_token: String,
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

impl TestCloud {
    pub async fn start() -> Self {
        let emulator = Emulator::start_for_tests()
            .await
            .expect("emulator starts (is Azurite installed? run tests/local-cloud.sh install)");
        Self::with(emulator).await
    }

    /// A fresh subscription: only the namespaces ARM registers by default.
    pub async fn fresh() -> Self {
        let emulator = Emulator::start_for_tests()
            .await
            .expect("emulator starts (is Azurite installed? run tests/local-cloud.sh install)");
        Self::connect(emulator).await
    }

    /// A subscription that has used every namespace the emulator serves before.
    pub async fn with(emulator: Emulator) -> Self {
        let cloud = Self::connect(emulator).await;
        for namespace in [
            "Microsoft.Storage",
            "Microsoft.Web",
            "Microsoft.Insights",
            "Microsoft.OperationalInsights",
            "Microsoft.EventGrid",
            "Microsoft.AlertsManagement",
        ] {
            cloud.register(namespace).await;
        }
        cloud
    }

    /// Registers a resource provider namespace and waits until it is `Registered`.
    pub async fn register(&self, namespace: &str) {
        let provider = format!("/subscriptions/{SUB}/providers/{namespace}");
        self.arm(
            "POST",
            &format!("{provider}/register?api-version=2021-04-01"),
            None,
        )
        .await;
        for _ in 0..500 {
            let reply = self
                .arm("GET", &format!("{provider}?api-version=2021-04-01"), None)
                .await;
            if reply.json()["registrationState"] == "Registered" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{namespace} did not register");
    }

    async fn connect(emulator: Emulator) -> Self {
        let http = reqwest::Client::new();
        let mut cloud = Self {
            emulator,
            http,
            arm_token: String::new(),
            graph_token: String::new(),
        };
        cloud.arm_token = cloud.token("https://management.azure.com/.default").await;
        cloud.graph_token = cloud.token("https://graph.microsoft.com/.default").await;
        cloud
    }

    pub fn url(&self) -> String {
        self.emulator.url()
    }

    pub async fn token(&self, scope: &str) -> String {
        let reply = self
            .http
            .post(format!("{}/{DEFAULT_TENANT}/oauth2/v2.0/token", self.url()))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", DEPLOYER_CLIENT_ID),
                ("client_secret", DEPLOYER_SECRET),
                ("scope", scope),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(reply.status(), 200);
        reply.json::<Value>().await.expect("token json")["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.url())
        };
        let mut req = self.http.request(method.parse().expect("method"), url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        Reply {
            status,
            headers,
            text,
        }
    }

    pub async fn arm(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.send(method, path, Some(&self.arm_token), body, &[])
            .await
    }

    pub async fn graph(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        self.send(
            method,
            &format!("/v1.0{path}"),
            Some(&self.graph_token),
            body,
            extra,
        )
        .await
    }

    /// Turns these Azure behaviours off, for a test focused on something else.
    pub async fn without(&self, switches: &[&str]) {
        let off: serde_json::Map<String, Value> = switches
            .iter()
            .map(|s| (s.to_string(), json!(false)))
            .collect();
        let reply = self
            .admin("POST", "/behaviours", Some(Value::Object(off)))
            .await;
        assert!(reply.status < 300, "behaviours: {}", reply.text);
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.send(method, &format!("/_admin{path}"), None, body, &[])
            .await
    }

    /// Follows a Location header until the operation is done; returns the final reply and the number of 202s seen.
    pub async fn poll_location(&self, location: &str) -> (Reply, usize) {
        for accepted in 0..400 {
            let reply = self.arm("GET", location, None).await;
            if reply.status != 202 {
                return (reply, accepted);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("operation at {location} never finished");
    }

    pub async fn resource_group(&self, rg: &str) {
        let reply = self
            .arm(
                "PUT",
                &format!("/subscriptions/{SUB}/resourcegroups/{rg}?api-version=2021-04-01"),
                Some(json!({"location": "westeurope", "tags": {"managed-by": "test"}})),
            )
            .await;
        assert!(reply.status == 201 || reply.status == 200, "{}", reply.text);
    }

    pub fn account_path(rg: &str, name: &str) -> String {
        format!("/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}")
    }

    /// Creates a storage account and waits for its operation.
    pub async fn storage_account(&self, rg: &str, name: &str) -> Value {
        let reply = self
            .arm(
                "PUT",
                &format!("{}?api-version=2023-05-01", Self::account_path(rg, name)),
                Some(json!({
                "location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"},
                "properties": {"isHnsEnabled": true, "minimumTlsVersion": "TLS1_2"}})),
            )
            .await;
        assert_eq!(reply.status, 202, "{}", reply.text);
        let (done, _) = self
            .poll_location(&reply.header("location").expect("location"))
            .await;
        assert_eq!(done.status, 200, "{}", done.text);
        done.json()
    }
}
