//! Conveyor's side of `benches/registry`: reads a topic of Confluent-framed Avro records and
//! runs each value through `AvroConverter` as a sink task does (`to_connect`), then back to
//! bytes as a source task does (`to_bytes`, to another subject), with the schemas cached as
//! in a task. Prints `{"records": N, "seconds": S}`, timed from the first record to the last.
//!
//! Usage: registry_avro_convert BOOTSTRAP TOPIC REGISTRY_URL RECORDS

use std::time::{Duration, Instant};

use conveyor::config::ConfigMap;
use conveyor::convert::avro::AvroConverter;
use conveyor::convert::Converter;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, bootstrap, topic, registry, records] = &args[..] else {
        eprintln!("usage: registry_avro_convert BOOTSTRAP TOPIC REGISTRY_URL RECORDS");
        std::process::exit(2);
    };
    let expected: usize = records.parse().expect("RECORDS must be a number");
    let mut config = ConfigMap::new();
    config.insert("schema.registry.url".into(), registry.clone());
    let client = conveyor::schema_registry::client::client_from_config(&config).expect("client");
    let converter = AvroConverter::new(client, &config, false).expect("converter");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("bench-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("partition");
    consumer.assign(&tpl).expect("assign");
    let out_topic = format!("{topic}-reencoded");
    let (mut count, mut bytes_out) = (0usize, 0usize);
    let mut first = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    while count < expected && Instant::now() < deadline {
        let Some(m) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = m.expect("consume");
        first.get_or_insert_with(Instant::now);
        let decoded = converter
            .to_connect(topic, m.payload())
            .expect("AvroConverter.to_connect");
        let encoded = converter
            .to_bytes(&out_topic, decoded.schema.as_ref(), &decoded.value)
            .expect("AvroConverter.to_bytes");
        bytes_out += encoded.map_or(0, |b| b.len());
        count += 1;
    }
    let seconds = first.map_or(0.0, |f| f.elapsed().as_secs_f64());
    println!("{{\"records\": {count}, \"seconds\": {seconds}, \"bytes\": {bytes_out}}}");
}
