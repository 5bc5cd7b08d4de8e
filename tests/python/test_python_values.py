"""Python values <-> the Connect data model: records, schemas, structs, ConfigDef. No broker."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from decimal import Decimal

import pytest
from conveyor import ConfigDef, Schema, SinkRecord, SourceRecord, Struct
from conveyor.config import NonEmptyString, OneOf, Range
from conveyor.errors import ConfigError, DataError

USER = Schema.struct(
    {
        "id": Schema.int64(),
        "name": Schema.string(optional=True),
        "score": Schema.int32(default=0),
        "address": Schema.struct({"zip": Schema.int32()}, optional=True),
    },
    name="User",
)


def test_plain_python_values_are_schemaless_connect_data():
    value = {"s": "x", "i": 7, "f": 1.5, "b": True, "n": None, "l": [1, "a"], "raw": b"\x00"}
    r = SourceRecord("t", value, key="k")
    assert r.value == value and r.key == "k"
    assert r.value_schema is None and r.key_schema is None


def test_logical_types_round_trip_with_a_schema():
    schema = Schema.struct(
        {
            "price": Schema.decimal(2),
            "day": Schema.date(),
            "at": Schema.time(),
            "ts": Schema.timestamp(),
        }
    )
    value = {
        "price": Decimal("-12.30"),
        "day": date(2024, 2, 29),
        "at": time(13, 14, 15, 16000),
        "ts": datetime(2024, 2, 29, 13, 14, 15, 16000, tzinfo=timezone.utc),
    }
    r = SourceRecord("t", value, value_schema=schema)
    out = r.value
    assert isinstance(out, Struct) and out.schema == schema
    assert out.to_dict() == value
    # A naive datetime is UTC.
    naive = SourceRecord("t", datetime(1970, 1, 1, 0, 0, 1), value_schema=Schema.timestamp())
    assert naive.value == datetime(1970, 1, 1, 0, 0, 1, tzinfo=timezone.utc)


def test_logical_values_without_a_schema_become_text():
    r = SourceRecord("t", {"d": date(2024, 1, 2), "p": Decimal("1.5")})
    assert r.value == {"d": "2024-01-02", "p": "1.5"}


def test_struct_checks_types_required_fields_and_defaults():
    s = Struct(USER, id=1, name="ann")
    assert s["score"] == 0 and s["address"] is None
    assert dict(s) == {"id": 1, "name": "ann", "score": 0, "address": None}
    assert list(s) == ["id", "name", "score", "address"] and len(s) == 4
    assert s.replace(score=5)["score"] == 5 and s["score"] == 0
    with pytest.raises(DataError, match=r"struct.id: missing required field"):
        Struct(USER, name="x")
    with pytest.raises(DataError, match=r"'nope' is not a field"):
        Struct(USER, id=1, nope=2)
    with pytest.raises(KeyError):
        s["nope"]


def test_errors_name_the_field_that_does_not_fit():
    with pytest.raises(DataError, match=r"value\.address\.zip: expected an int for INT32, got str"):
        SourceRecord("t", {"id": 1, "address": {"zip": "x"}}, value_schema=USER)
    with pytest.raises(DataError, match=r"value\.id: 2147483648000000000000 does not fit in 64"):
        SourceRecord("t", {"id": 2147483648 * 10**12}, value_schema=USER)
    with pytest.raises(DataError, match=r"value\.address\.zip: 3000000000 does not fit in INT32"):
        SourceRecord("t", {"id": 1, "address": {"zip": 3_000_000_000}}, value_schema=USER)
    with pytest.raises(DataError, match=r"value\.tags\[1\]: cannot convert set"):
        SourceRecord("t", {"tags": ["ok", {1}]})
    with pytest.raises(DataError, match=r"value: None for a required STRING"):
        SourceRecord("t", None, value_schema=Schema.string())
    with pytest.raises(DataError, match=r"at most 2 decimal places"):
        SourceRecord("t", Decimal("1.234"), value_schema=Schema.decimal(2))


def test_records_are_immutable_and_replace_converts_only_what_changed():
    r = SinkRecord("t", 2, 40, {"a": 1}, key=b"k", timestamp=1000, headers=[("h", "v"), ("h", 2)])
    with pytest.raises(AttributeError):
        r.value = {}  # type: ignore[misc]
    moved = r.replace(topic="u", partition=1)
    assert (moved.topic, moved.partition, moved.offset) == ("u", 1, 40)
    assert (moved.original_topic, moved.original_partition, moved.original_offset) == ("t", 2, 40)
    assert moved.value == {"a": 1} and moved.headers == (("h", "v"), ("h", 2))
    assert r.replace() == r and r.replace(value={"a": 2}) != r
    with pytest.raises(TypeError, match="unexpected keyword argument 'offset'"):
        r.replace(offset=1)


def test_replace_keeps_the_schema_unless_told_otherwise():
    r = SinkRecord("t", 0, 0, "abc", value_schema=Schema.string())
    assert r.replace(value="ABC").value_schema == Schema.string()
    with pytest.raises(DataError, match="value_schema=None for schemaless data"):
        r.replace(value=5)
    assert r.replace(value=5, value_schema=None).value == 5
    assert r.replace(value=5, value_schema=Schema.int8()).value_schema == Schema.int8()


def test_source_record_positions_and_timestamps():
    when = datetime(2024, 1, 1, tzinfo=timezone.utc)
    r = SourceRecord(
        "t",
        1,
        source_partition={"file": "a"},
        source_offset={"line": 3},
        kafka_partition=4,
        timestamp=when,
    )
    assert r.source_partition == {"file": "a"} and r.source_offset == {"line": 3}
    assert r.kafka_partition == 4 and r.timestamp == 1704067200000
    with pytest.raises(DataError, match="source_offset.pos"):
        SourceRecord("t", 1, source_offset={"pos": object()})


def test_schema_reprs_and_attributes():
    s = Schema.map(Schema.string(), Schema.array(Schema.int64(optional=True)), optional=True)
    assert repr(s) == (
        "Schema.map(Schema.string(), Schema.array(Schema.int64(optional=True)), optional=True)"
    )
    assert s.type == "map" and s.keys == Schema.string() and s.values.items.optional
    assert Schema.decimal(3).parameters == {"scale": "3"}
    assert list(USER.fields) == ["id", "name", "score", "address"] and USER.name == "User"
    with pytest.raises(DataError):
        Schema.int8(default=1000)


def test_config_def_types_defaults_validators_and_connect_texts():
    calls = []

    def even(v):
        calls.append(v)
        if v % 2:
            raise ValueError("must be even")

    cd = (
        ConfigDef()
        .define("topic", str, validator=NonEmptyString(), importance="high", doc="Where.")
        .define("size", int, 10, validator=Range(min=1, max=100), group="Tuning")
        .define("pairs", int, 2, validator=even, group="Tuning")
        .define("mode", str, "a", validator=OneOf("a", "b"))
        .define("tags", list, ["x", "y"])
        .define("secret", "password", None)
        .define("ratio", float, 0.5)
        .define("on", bool, True)
    )
    assert cd.parse({"topic": "t"}) == {
        "topic": "t",
        "size": 10,
        "pairs": 2,
        "mode": "a",
        "tags": ["x", "y"],
        "secret": None,
        "ratio": 0.5,
        "on": True,
    }
    assert calls == [2]
    assert cd.validate({"topic": "t", "size": "0", "pairs": "3", "mode": "c"}) == {
        "size": ["Invalid value 0 for configuration size: Value must be at least 1"],
        "pairs": ["Invalid value 3 for configuration pairs: must be even"],
        "mode": ["Invalid value c for configuration mode: String must be one of: a, b"],
    }
    with pytest.raises(ConfigError, match='Missing required configuration "topic"'):
        cd.parse({})
    info = {k["name"]: k for k in cd.describe()}
    assert info["size"]["type"] == "LONG" and info["size"]["default_value"] == "10"
    assert info["size"]["group"] == "Tuning" and info["pairs"]["order"] == 2
    assert info["secret"]["type"] == "PASSWORD" and info["topic"]["required"]
    assert cd.groups == ["Tuning"] and "mode" in cd and len(cd) == 8
    with pytest.raises(ValueError, match="does not parse"):
        ConfigDef().define("n", int, "ten")


def test_struct_is_a_mapping_and_records_make_a_data_frame():
    from collections.abc import Mapping

    from conveyor import Records

    assert isinstance(Struct(USER, id=1), Mapping)
    pd = pytest.importorskip("pandas")
    records = Records(
        [
            SinkRecord("t", 0, 0, {"a": 1, "b": {"c": 2}}, key="k", timestamp=0),
            SinkRecord("t", 0, 1, {"a": 3, "b": {"c": 4}}, key="l"),
        ]
    )
    frame = records.to_pandas()
    assert list(frame.columns) == ["topic", "partition", "offset", "timestamp", "key", "value.a", "value.b.c"]
    assert frame["value.b.c"].tolist() == [2, 4]
    assert frame["timestamp"][0] == pd.Timestamp(0, unit="ms", tz="UTC")
    assert "<table" in records._repr_html_()
    assert list(records.to_pandas(flatten=False).columns)[-1] == "value"
