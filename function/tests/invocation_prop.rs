//! The custom handler's invocation parser and HTTP endpoint over generated host requests (issue 13):
//! base64 `Data` (plain or JSON-quoted), `Metadata` strings double-encoded or not, the `Uri`
//! fallback, missing, null, retyped and extra fields, and arbitrary bytes. Every body gets the answer
//! the model predicts, or a named error; nothing panics; the endpoint answers 200 or 400 with the
//! host's response shape, never 500 for bad input.
//!
//! Case counts: runtime/tests/prop_support (small under `cargo test`, large under scripts/fuzz.sh).
#![allow(clippy::unwrap_used)]

#[path = "../../runtime/tests/prop_support/mod.rs"]
mod prop_support;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use base64::Engine as _;
use function::invocation::{parse_blob_invocation, BlobInvocation, InvocationError};
use function::server::{router, AppState};
use object_store::memory::InMemory;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use runtime::etl::ConvertOptions;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone)]
enum DataStyle {
    Plain,
    /// The base64 text JSON-encoded once more (`"\"AAE=\""`).
    Quoted,
    Missing,
    Null,
    Number,
    /// Not base64 at all.
    Garbage(String),
}

#[derive(Debug, Clone)]
enum NameStyle {
    /// As the host sends it: the JSON encoding of the name, inside a JSON string.
    DoubleEncoded,
    Plain,
    Missing,
    Empty,
    Number,
}

#[derive(Debug, Clone)]
enum UriStyle {
    None,
    /// `"https://acct.blob.core.windows.net/raw/<percent-encoded name>"`, double-encoded.
    Raw,
    /// A path without `/raw/`.
    OtherContainer,
    NotAUrl,
}

#[derive(Debug, Clone)]
struct Case {
    data: Vec<u8>,
    name: String,
    data_style: DataStyle,
    name_style: NameStyle,
    uri_style: UriStyle,
    extra: Vec<(String, Value)>,
}

/// Blob names without `.`/`..` segments (a URL parser resolves those, as any client would).
fn blob_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{1,16}/[0-9]{4}/[0-9]{2}/[0-9]{2}/[a-z0-9_-]{1,30}\\.json\\.gzip",
        "[^\"./]{1,20}(/[^\"./]{1,10}){0,3}",
        any::<String>().prop_filter("no dot segments and no leading quote", |s| {
            !s.is_empty()
                && !s.starts_with('"')
                && s.split('/').all(|seg| seg != "." && seg != "..")
        }),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn case() -> impl Strategy<Value = Case> {
    let data_style = prop_oneof![
        6 => Just(DataStyle::Plain),
        2 => Just(DataStyle::Quoted),
        1 => Just(DataStyle::Missing),
        1 => Just(DataStyle::Null),
        1 => Just(DataStyle::Number),
        1 => "[*!@ ]{1,8}|[A-Za-z0-9]{1,3}".prop_map(DataStyle::Garbage),
    ];
    let name_style = prop_oneof![
        6 => Just(NameStyle::DoubleEncoded),
        2 => Just(NameStyle::Plain),
        1 => Just(NameStyle::Missing),
        1 => Just(NameStyle::Empty),
        1 => Just(NameStyle::Number),
    ];
    let uri_style = prop_oneof![
        2 => Just(UriStyle::None),
        4 => Just(UriStyle::Raw),
        1 => Just(UriStyle::OtherContainer),
        1 => Just(UriStyle::NotAUrl),
    ];
    (
        proptest::collection::vec(any::<u8>(), 0..300),
        blob_name(),
        data_style,
        name_style,
        uri_style,
        proptest::collection::vec(
            (
                prop_oneof![
                    Just("Properties".to_owned()),
                    Just("sys".to_owned()),
                    Just("BlobTrigger".to_owned()),
                    "[A-Za-z]{1,10}",
                ],
                json_value(),
            ),
            0..4,
        ),
    )
        .prop_map(
            |(data, name, data_style, name_style, uri_style, extra)| Case {
                data,
                name,
                data_style,
                name_style,
                uri_style,
                extra,
            },
        )
}

fn percent_encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn double(s: &str) -> Value {
    Value::String(serde_json::to_string(s).unwrap())
}

fn body(case: &Case) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(&case.data);
    let mut data = Map::new();
    let mut metadata = Map::new();
    // Extra fields go in first, so the fields under test always win a name clash.
    for (k, v) in &case.extra {
        data.insert(format!("x{k}"), v.clone());
        metadata.insert(k.clone(), v.clone());
    }
    metadata.remove("name");
    metadata.remove("Uri");
    let blob = match &case.data_style {
        DataStyle::Plain => Some(Value::String(b64)),
        DataStyle::Quoted => Some(double(&b64)),
        DataStyle::Missing => None,
        DataStyle::Null => Some(Value::Null),
        DataStyle::Number => Some(json!(12)),
        DataStyle::Garbage(g) => Some(Value::String(g.clone())),
    };
    if let Some(blob) = blob {
        data.insert("blob".into(), blob);
    }
    let name = match case.name_style {
        NameStyle::DoubleEncoded => Some(double(&case.name)),
        NameStyle::Plain => Some(Value::String(case.name.clone())),
        NameStyle::Missing => None,
        NameStyle::Empty => Some(double("")),
        NameStyle::Number => Some(json!(7)),
    };
    if let Some(name) = name {
        metadata.insert("name".into(), name);
    }
    let uri = match case.uri_style {
        UriStyle::None => None,
        UriStyle::Raw => Some(format!(
            "https://acct.blob.core.windows.net/raw/{}",
            percent_encode(&case.name)
        )),
        UriStyle::OtherContainer => Some(format!(
            "https://acct.blob.core.windows.net/standard/{}",
            percent_encode(&case.name)
        )),
        UriStyle::NotAUrl => Some(format!("raw/{}", case.name)),
    };
    if let Some(uri) = uri {
        metadata.insert("Uri".into(), double(&uri));
    }
    let mut top = Map::new();
    top.insert("Data".into(), Value::Object(data));
    top.insert("Metadata".into(), Value::Object(metadata));
    for (k, v) in &case.extra {
        if k != "Data" && k != "Metadata" {
            top.insert(k.clone(), v.clone());
        }
    }
    serde_json::to_vec(&Value::Object(top)).unwrap()
}

/// What the host contract says the handler must make of a case.
fn expected(case: &Case) -> Result<BlobInvocation, &'static str> {
    let data = match &case.data_style {
        DataStyle::Plain | DataStyle::Quoted => case.data.clone(),
        DataStyle::Missing | DataStyle::Null | DataStyle::Number => return Err("missing_data"),
        DataStyle::Garbage(g) => match base64::engine::general_purpose::STANDARD.decode(g) {
            Ok(d) => d,
            Err(_) => return Err("data_encoding"),
        },
    };
    let from_name = match case.name_style {
        NameStyle::DoubleEncoded | NameStyle::Plain => Some(case.name.clone()),
        NameStyle::Missing | NameStyle::Empty | NameStyle::Number => None,
    };
    let from_uri = match case.uri_style {
        UriStyle::Raw => Some(case.name.clone()),
        UriStyle::None | UriStyle::OtherContainer | UriStyle::NotAUrl => None,
    };
    let name = from_name.or(from_uri).ok_or("missing_name")?;
    Ok(BlobInvocation {
        name,
        data: data.into(),
    })
}

fn kind(e: &InvocationError) -> &'static str {
    match e {
        InvocationError::Body(_) => "body",
        InvocationError::MissingData => "missing_data",
        InvocationError::DataEncoding(_) => "data_encoding",
        InvocationError::MissingName => "missing_name",
    }
}

proptest! {
    #![proptest_config(prop_support::config("function invocations_decode_as_the_host_sends_them", 256))]
    #[test]
    fn invocations_decode_as_the_host_sends_them(case in case()) {
        let got = parse_blob_invocation(&body(&case));
        match (expected(&case), got) {
            (Ok(want), Ok(got)) => prop_assert_eq!(got, want),
            (Err(want), Err(got)) => {
                prop_assert_eq!(kind(&got), want);
                prop_assert!(!got.to_string().is_empty());
            }
            (want, got) => prop_assert!(false, "expected {:?}, got {:?}", want, got),
        }
    }
}

proptest! {
    #![proptest_config(prop_support::config("function arbitrary_bodies_never_panic", 512))]
    #[test]
    fn arbitrary_bodies_never_panic(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..200),
            json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
            (case(), 0usize..2000).prop_map(|(c, cut)| {
                let b = body(&c);
                b[..cut.min(b.len())].to_vec()
            }),
        ],
    ) {
        match parse_blob_invocation(&bytes) {
            Ok(inv) => prop_assert!(!inv.name.is_empty()),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

/// The endpoint: every request is answered 200 (handled: processed, quarantined or ignored) or 400
/// (malformed invocation), with `{"Outputs":{},"Logs":[...],"ReturnValue":null}`.
#[test]
fn the_endpoint_answers_every_invocation() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            0,
        ))))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = AppState {
        standard: Arc::new(InMemory::new()),
        container: "standard".into(),
        options: ConvertOptions::default(),
    };
    rt.spawn(async move { axum::serve(listener, router(state)).await });
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/process_raw");
    let mut runner = TestRunner::new(prop_support::config(
        "function the_endpoint_answers_every_invocation",
        48,
    ));
    runner
        .run(&case(), |case| {
            let (status, answer) = rt.block_on(async {
                let response = client.post(&url).body(body(&case)).send().await.unwrap();
                let status = response.status().as_u16();
                (status, response.json::<Value>().await.unwrap())
            });
            let want = if expected(&case).is_ok() { 200 } else { 400 };
            prop_assert_eq!(status, want, "{}", answer);
            prop_assert_eq!(&answer["Outputs"], &json!({}));
            prop_assert_eq!(&answer["ReturnValue"], &Value::Null);
            let logs = answer["Logs"].as_array().unwrap();
            prop_assert_eq!(logs.len(), 1);
            prop_assert!(logs[0].as_str().is_some_and(|l| !l.is_empty()));
            Ok(())
        })
        .unwrap();
}
