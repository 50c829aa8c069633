//! Kafka side of the load generator: idempotent topic creation and producing planned messages.

use crate::loadgen::plan::Planned;
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use std::time::Duration;

/// Creates each `(topic, partitions)` if missing and raises its partition count if lower.
/// Safe to run any number of times.
pub async fn ensure_topics(bootstrap: &str, topics: &[(&str, i32)]) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|(t, n)| NewTopic::new(t, *n, TopicReplication::Fixed(1)))
        .collect();
    for r in admin.create_topics(&new, &opts).await? {
        match r {
            Ok(t) => tracing::info!(topic = %t, "topic created"),
            Err((t, RDKafkaErrorCode::TopicAlreadyExists)) => {
                tracing::debug!(topic = %t, "topic exists")
            }
            Err((t, code)) => {
                return Err(KafkaError::AdminOp(code)).inspect_err(
                    |_| tracing::error!(topic = %t, error = %code, "topic creation failed"),
                )
            }
        }
    }
    let meta = admin
        .inner()
        .fetch_metadata(None, Timeout::After(Duration::from_secs(10)))?;
    for (topic, want) in topics {
        let have = meta
            .topics()
            .iter()
            .find(|t| t.name() == *topic)
            .map_or(0, |t| t.partitions().len() as i32);
        if have < *want {
            tracing::warn!(topic, have, want, "topic has too few partitions; adding");
            let np = [NewPartitions::new(topic, *want as usize)];
            for r in admin.create_partitions(&np, &opts).await? {
                if let Err((t, code)) = r {
                    tracing::error!(topic = %t, error = %code, "could not add partitions");
                }
            }
        }
    }
    Ok(())
}

/// A producer as the game server's (null keys, explicit random partition, no headers).
pub fn producer(bootstrap: &str) -> Result<FutureProducer, KafkaError> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("client.id", "superhero-loadgen")
        .set("linger.ms", "5")
        .set("acks", "all")
        .set("enable.idempotence", "false")
        .set("message.timeout.ms", "60000")
        .create()
}

/// Enqueues one message, waiting while the local queue is full.
pub async fn enqueue(producer: &FutureProducer, m: &Planned) -> Result<DeliveryFuture, KafkaError> {
    loop {
        let record = FutureRecord::<(), [u8]>::to(m.topic)
            .partition(m.partition)
            .payload(&m.value);
        match producer.send_result(record) {
            Ok(f) => return Ok(f),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Flushes the producer's queue.
pub fn flush(producer: &FutureProducer) -> Result<(), KafkaError> {
    producer.flush(Timeout::After(Duration::from_secs(60)))
}
