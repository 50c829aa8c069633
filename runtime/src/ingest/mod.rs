//! Kafka -> raw batch ingestion.
