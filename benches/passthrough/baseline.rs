//! The hand-written baseline for `benches/passthrough`: the same file -> Kafka -> file job
//! as FileStreamSource + FileStreamSink, written directly against rdkafka with the same
//! client settings Conveyor uses (acks=all, max.in.flight=1 producer; consumer group with
//! manual commits). No converters, no SMTs, no offsets file: the floor Conveyor is measured
//! against.
//!
//! Usage: passthrough_baseline BOOTSTRAP TOPIC INPUT OUTPUT RECORDS

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, bootstrap, topic, input, output, records] = &args[..] else {
        eprintln!("usage: passthrough_baseline BOOTSTRAP TOPIC INPUT OUTPUT RECORDS");
        std::process::exit(2);
    };
    let expected: usize = records.parse().expect("RECORDS must be a number");
    let start = Instant::now();

    let producer_thread = {
        let (bootstrap, topic, input) = (bootstrap.clone(), topic.clone(), input.clone());
        std::thread::spawn(move || {
            let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .set("acks", "all")
                .set("max.in.flight.requests.per.connection", "1")
                .set("enable.idempotence", "false")
                .set("message.timeout.ms", "0")
                .create()
                .expect("producer");
            let mut reader =
                BufReader::with_capacity(256 * 1024, File::open(&input).expect("input"));
            let mut line = Vec::new();
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line).expect("read") == 0 {
                    break;
                }
                let payload = line.strip_suffix(b"\n").unwrap_or(&line);
                let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&topic).payload(payload);
                loop {
                    match producer.send(rec) {
                        Ok(()) => break,
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                            rec = r;
                            producer.poll(Duration::from_millis(10));
                        }
                        Err((e, _)) => panic!("send failed: {e}"),
                    }
                }
            }
            producer.flush(Duration::from_secs(120)).expect("flush");
        })
    };

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("baseline-{topic}"))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "1")
        .set("max.partition.fetch.bytes", "8388608")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut out = BufWriter::with_capacity(256 * 1024, File::create(output).expect("output"));
    let mut written = 0usize;
    let mut last_commit = Instant::now();
    while written < expected {
        let Some(msg) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let msg = msg.expect("consume");
        out.write_all(msg.payload().unwrap_or_default())
            .expect("write");
        out.write_all(b"\n").expect("write");
        written += 1;
        if last_commit.elapsed() > Duration::from_secs(1) {
            out.flush().expect("flush");
            let _ = consumer.commit_consumer_state(CommitMode::Async);
            last_commit = Instant::now();
        }
    }
    out.flush().expect("flush");
    let elapsed = start.elapsed();
    producer_thread.join().expect("producer thread");
    println!("{}", elapsed.as_secs_f64());
}
