"""Schema Registry benchmark: Conveyor's AvroConverter against confluent-kafka's Avro
deserializer, in one run and on one topic of Confluent-framed Avro records (written by
confluent-kafka's AvroSerializer to a Conveyor schema registry on Apache Kafka).

- Conveyor: `benches/registry/avro_convert.rs` (built with cargo, release) reads the topic and
  runs every value through `AvroConverter.to_connect` and then `to_bytes`, as a sink task and
  a source task do.
- Baseline: a confluent-kafka `Consumer` loop calling `AvroDeserializer` (fastavro) on every
  value, which only decodes.

Both read the whole topic from the beginning and are timed from the first record to the last;
the runs alternate for several rounds and each round's ratio is printed (target: at least
3x). The script prints figures and ratios; it asserts nothing.

    python benches/registry/run.py [--records 200000] [--rounds 3] [--debug]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import ROOT, Kafka, conveyor_cmd, free_port  # noqa: E402

SCHEMA = {
    "type": "record",
    "name": "Order",
    "namespace": "bench",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "customer", "type": "string"},
        {"name": "item", "type": "string"},
        {"name": "quantity", "type": "int"},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "paid", "type": "boolean"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "created", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "score", "type": "double"},
    ],
}


def converter_binary(debug: bool) -> str:
    target = os.environ.get("CARGO_TARGET_DIR") or str(ROOT / "target")
    profile = [] if debug else ["--release"]
    subprocess.run(
        ["cargo", "build", "--quiet", *profile, "--example", "registry_avro_convert"], cwd=ROOT, check=True
    )
    return str(Path(target) / ("debug" if debug else "release") / "examples" / "registry_avro_convert")


def start_registry(workdir: Path, bootstrap: str) -> tuple[subprocess.Popen, str]:
    import requests

    port = free_port()
    props = workdir / "registry.properties"
    props.write_text(
        f"bootstrap.servers={bootstrap}\nlisteners=http://127.0.0.1:{port}\n"
        f"kafkastore.topic=_schemas_{uuid.uuid4().hex[:6]}\nkafkastore.topic.replication.factor=1\n"
    )
    proc = subprocess.Popen(
        [*conveyor_cmd(), "schema-registry", str(props)],
        stdout=open(workdir / "registry.log", "ab"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(url + "/subjects", timeout=2).status_code == 200:
                return proc, url
        except requests.RequestException:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the schema registry did not start; see " + str(workdir / "registry.log"))


def produce(bootstrap: str, registry: str, topic: str, records: int) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    serializer = AvroSerializer(SchemaRegistryClient({"url": registry}), json.dumps(SCHEMA))
    ctx = SerializationContext(topic, MessageField.VALUE)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for i in range(records):
        value = {
            "id": i,
            "customer": f"customer-{i % 1000}",
            "item": "widget",
            "quantity": i % 7,
            "price": Decimal("19.99"),
            "paid": i % 2 == 0,
            "note": None if i % 3 else "gift",
            "created": 1_700_000_000_000 + i,
            "tags": ["a", "b"],
            "score": i / 3,
        }
        while True:
            try:
                producer.produce(topic, value=serializer(value, ctx))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(120) == 0


def run_baseline(bootstrap: str, registry: str, topic: str, records: int) -> float:
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    deserializer = AvroDeserializer(SchemaRegistryClient({"url": registry}))
    ctx = SerializationContext(topic, MessageField.VALUE)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    count, first = 0, None
    deadline = time.time() + 600
    while count < records and time.time() < deadline:
        for m in consumer.consume(500, 1.0):
            if m.error():
                continue
            if first is None:
                first = time.perf_counter()
            deserializer(m.value(), ctx)
            count += 1
    seconds = time.perf_counter() - (first or time.perf_counter())
    consumer.close()
    if count < records or seconds <= 0:
        raise SystemExit(f"the baseline read {count} of {records} records")
    return records / seconds


def run_conveyor(binary: str, bootstrap: str, registry: str, topic: str, records: int) -> float:
    out = subprocess.run(
        [binary, bootstrap, topic, registry, str(records)], check=True, capture_output=True, text=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["records"] == records, result
    return records / result["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--debug",
        action="store_true",
        help="build the converter without --release (checks the script; figures mean nothing)",
    )
    args = parser.parse_args()
    binary = converter_binary(args.debug)
    workdir = Path(tempfile.mkdtemp(prefix="conveyor-bench-registry-"))
    broker = Kafka()
    registry_proc = None
    try:
        registry_proc, registry = start_registry(workdir, broker.bootstrap)
        topic = broker.create_topic(f"bench-avro-{uuid.uuid4().hex[:6]}")
        produce(broker.bootstrap, registry, topic, args.records)
        ratios = []
        for round_ in range(1, args.rounds + 1):
            base = run_baseline(broker.bootstrap, registry, topic, args.records)
            conv = run_conveyor(binary, broker.bootstrap, registry, topic, args.records)
            ratios.append(conv / base)
            print(
                f"round {round_}: AvroConverter decode+encode {conv:,.0f} records/s, "
                f"confluent-kafka AvroDeserializer {base:,.0f} records/s, ratio {conv / base:.2f}x"
            )
        print(
            f"records: {args.records}, median ratio: {statistics.median(ratios):.2f}x (target: at least 3x)"
        )
    finally:
        if registry_proc:
            registry_proc.terminate()
            registry_proc.wait(30)
        broker.stop()


if __name__ == "__main__":
    main()
