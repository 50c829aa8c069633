//! One blob end to end against an object store: outputs, quarantine and re-runs.
#![allow(clippy::unwrap_used)]

mod etl_support;

use std::sync::Arc;

use bytes::Bytes;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;
use runtime::etl::{process_raw_blob, BlobOutcome, ConvertOptions, Unreadable};
use serde_json::json;

use etl_support::{fixtures, gzip, reject_lines};

fn store() -> Arc<dyn ObjectStore> {
    Arc::new(InMemory::new())
}

#[tokio::test]
async fn golden_blobs_land_at_their_standard_names_and_reruns_rewrite_the_same_objects() {
    let standard = store();
    let options = ConvertOptions::default();
    let mut expected_names = Vec::new();
    for (name, raw) in fixtures() {
        let outcome = process_raw_blob(
            &standard,
            &format!("raw/{name}"),
            Bytes::from(raw),
            &options,
        )
        .await
        .unwrap();
        let BlobOutcome::Processed {
            parquet, rejects, ..
        } = outcome
        else {
            panic!("{name}: {outcome:?}")
        };
        assert_eq!(parquet, name.replace(".json.gzip", ".parquet"));
        assert_eq!(rejects, None);
        expected_names.push(parquet);
    }
    let first = etl_support::objects(standard.as_ref()).await;
    expected_names.sort();
    assert_eq!(first.keys().cloned().collect::<Vec<_>>(), expected_names);

    for (name, raw) in fixtures() {
        process_raw_blob(&standard, &name, Bytes::from(raw), &options)
            .await
            .unwrap();
    }
    assert_eq!(
        etl_support::objects(standard.as_ref()).await,
        first,
        "a re-run must rewrite the same objects"
    );
}

#[tokio::test]
async fn partly_bad_blob_writes_good_rows_and_a_reject_file() {
    let standard = store();
    let name = "etl_meta/2024/01/13/e_1.json.gzip";
    let good = json!({"etl_id": "e", "service": "Kafka", "mode": "Batch", "timestamp_start": "2024-01-13T23:59:21.5", "timestamp_end": "2024-01-13T23:59:27"});
    let bad = json!({"etl_id": "e", "service": "Kafka", "mode": "Batch", "timestamp_start": "soon", "timestamp_end": "2024-01-13T23:59:27"});
    let raw = gzip(
        serde_json::to_string(&[&good, &bad, &good])
            .unwrap()
            .as_bytes(),
    );
    let outcome = process_raw_blob(
        &standard,
        name,
        Bytes::from(raw),
        &ConvertOptions::default(),
    )
    .await
    .unwrap();
    let BlobOutcome::Processed {
        summary, rejects, ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!((summary.rows_written, summary.rows_rejected), (2, 1));
    assert_eq!(
        rejects.as_deref(),
        Some("_quarantine/etl_meta/2024/01/13/e_1.json.gzip.jsonl")
    );

    let objects = etl_support::objects(standard.as_ref()).await;
    assert_eq!(
        objects.keys().collect::<Vec<_>>(),
        [
            "_quarantine/etl_meta/2024/01/13/e_1.json.gzip.jsonl",
            "etl_meta/2024/01/13/e_1.parquet"
        ]
    );
    let lines = reject_lines(&objects["_quarantine/etl_meta/2024/01/13/e_1.json.gzip.jsonl"]);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["index"], 1);
    assert_eq!(lines[0]["kind"], "bad_timestamp");
    assert_eq!(lines[0]["record"], bad);

    // The producer fixes the blob: the stale reject file goes away.
    let fixed = gzip(serde_json::to_string(&[&good]).unwrap().as_bytes());
    process_raw_blob(
        &standard,
        name,
        Bytes::from(fixed),
        &ConvertOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        etl_support::objects(standard.as_ref())
            .await
            .keys()
            .collect::<Vec<_>>(),
        ["etl_meta/2024/01/13/e_1.parquet"]
    );
}

#[tokio::test]
async fn unreadable_blob_is_copied_with_its_reason_and_replaces_stale_outputs() {
    let standard = store();
    let (name, raw) = fixtures().into_iter().next().unwrap();
    process_raw_blob(
        &standard,
        &name,
        Bytes::from(raw.clone()),
        &ConvertOptions::default(),
    )
    .await
    .unwrap();

    let truncated = Bytes::copy_from_slice(&raw[..raw.len() / 2]);
    let outcome = process_raw_blob(
        &standard,
        &name,
        truncated.clone(),
        &ConvertOptions::default(),
    )
    .await
    .unwrap();
    let BlobOutcome::Quarantined {
        copy,
        reason_doc,
        reason,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(reason.kind(), "gzip");
    assert_eq!(copy, format!("_quarantine/{name}"));
    assert_eq!(reason_doc, format!("_quarantine/{name}.reason.json"));

    let objects = etl_support::objects(standard.as_ref()).await;
    assert_eq!(
        objects.keys().collect::<Vec<_>>(),
        [&copy, &reason_doc],
        "stale Parquet must be gone"
    );
    assert_eq!(
        objects[&copy], truncated,
        "the original bytes are kept as they were"
    );
    let doc: serde_json::Value = serde_json::from_slice(&objects[&reason_doc]).unwrap();
    assert_eq!(doc["blob"], name.as_str());
    assert_eq!(doc["kind"], "gzip");
    assert_eq!(doc["size"], truncated.len());
    assert!(doc["reason"].as_str().unwrap().contains("gzip"));
}

#[tokio::test]
async fn unknown_folder_and_bad_names_are_quarantined_not_ignored() {
    let standard = store();
    for (name, kind) in [
        ("other_meta/2024/01/13/x.json.gzip", "unknown_folder"),
        ("log_meta/2024/01/x.json.gzip", "bad_path"),
        ("log_meta/2024/01/13/x.parquet", "bad_path"),
    ] {
        let outcome = process_raw_blob(
            &standard,
            name,
            Bytes::from_static(b"anything"),
            &ConvertOptions::default(),
        )
        .await
        .unwrap();
        let BlobOutcome::Quarantined { reason, copy, .. } = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(reason.kind(), kind, "{name}");
        assert!(matches!(reason, Unreadable::Path(_)));
        let stored = standard
            .get(&Path::from(copy.as_str()))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(stored, Bytes::from_static(b"anything"));
    }
}

#[tokio::test]
async fn empty_blob_is_quarantined() {
    let standard = store();
    let outcome = process_raw_blob(
        &standard,
        "log_meta/2024/01/13/x.json.gzip",
        Bytes::new(),
        &ConvertOptions::default(),
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, BlobOutcome::Quarantined { ref reason, .. } if reason.kind() == "empty"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn the_ingest_quarantine_in_raw_is_ignored() {
    let standard = store();
    for name in [
        "_quarantine/2024/01/13/e_lib.server.game_0_1_9.json.gzip",
        "raw/_quarantine/2024/01/13/e_lib.server.game_0_1_9.json.gzip",
    ] {
        let outcome = process_raw_blob(
            &standard,
            name,
            Bytes::from_static(b"x"),
            &ConvertOptions::default(),
        )
        .await
        .unwrap();
        assert!(
            matches!(outcome, BlobOutcome::Ignored { .. }),
            "{outcome:?}"
        );
    }
    assert!(etl_support::objects(standard.as_ref()).await.is_empty());
    // A folder that merely starts with the same characters is still an unknown folder.
    let outcome = process_raw_blob(
        &standard,
        "_quarantined/2024/01/13/x.json.gzip",
        Bytes::from_static(b"x"),
        &ConvertOptions::default(),
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, BlobOutcome::Quarantined { ref reason, .. } if reason.kind() == "unknown_folder")
    );
}
