//! The hand-written baselines for `benches/passthrough`: the jobs of FileStreamSource and
//! FileStreamSink, written directly against rdkafka with the client settings Conveyor uses
//! (acks=all, max.in.flight=1 producer; consumer group with manual commits). No converters,
//! no SMTs, no offsets: the floor Conveyor is measured against, one direction at a time.
//!
//! Usage:
//!   passthrough_baseline produce BOOTSTRAP TOPIC INPUT
//!   passthrough_baseline consume BOOTSTRAP TOPIC OUTPUT RECORDS
//!
//! Each prints the seconds it took; the bench measures both sides from the outside anyway.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

const USAGE: &str = "usage: passthrough_baseline produce BOOTSTRAP TOPIC INPUT\n       \
                     passthrough_baseline consume BOOTSTRAP TOPIC OUTPUT RECORDS";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let start = Instant::now();
    match &args[1..] {
        [mode, bootstrap, topic, input] if mode == "produce" => produce(bootstrap, topic, input),
        [mode, bootstrap, topic, output, records] if mode == "consume" => {
            let expected = records.parse().expect("RECORDS must be a number");
            consume(bootstrap, topic, output, expected)
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
    println!("{}", start.elapsed().as_secs_f64());
}

/// Sends every line of `input` (without its newline) to `topic`, then waits for delivery.
fn produce(bootstrap: &str, topic: &str, input: &str) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("max.in.flight.requests.per.connection", "1")
        .set("enable.idempotence", "false")
        .set("queue.buffering.max.kbytes", "32768")
        .set("message.timeout.ms", "0")
        .create()
        .expect("producer");
    let mut reader = BufReader::with_capacity(256 * 1024, File::open(input).expect("input"));
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).expect("read") == 0 {
            break;
        }
        let payload = line.strip_suffix(b"\n").unwrap_or(&line);
        let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).payload(payload);
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
}

/// Writes `expected` records of `topic` to `output`, one per line, committing now and then.
fn consume(bootstrap: &str, topic: &str, output: &str, expected: usize) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set(
            "group.id",
            format!("baseline-{topic}-{}", std::process::id()),
        )
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
}
