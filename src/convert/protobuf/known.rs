//! The `.proto` files Confluent's serializers treat as built in: they are imported by name and
//! never registered as references (confluent-kafka skips `confluent/`, `google/type/` and
//! `google/protobuf/` imports when it registers a schema, and Confluent's registry resolves
//! them itself). protox supplies `google/protobuf/`; the Confluent and `google.type` files
//! Confluent's ProtobufConverter writes are defined here with the same packages, names and
//! field numbers, so their messages are wire-compatible with everyone else's copies.

/// Confluent's metadata options (`confluent.field_meta` carries a Decimal's precision and scale).
pub const META: &str = "confluent/meta.proto";
/// Confluent's Decimal message.
pub const DECIMAL: &str = "confluent/type/decimal.proto";
/// Google's calendar date.
pub const DATE: &str = "google/type/date.proto";
/// Google's time of day.
pub const TIME_OF_DAY: &str = "google/type/timeofday.proto";

const META_SOURCE: &str = r#"syntax = "proto3";
package confluent;

import "google/protobuf/descriptor.proto";

option java_package = "io.confluent.protobuf";
option java_outer_classname = "MetaProto";

message Meta {
  string doc = 1;
  map<string, string> params = 2;
  repeated string tags = 3;
  repeated Rule rules = 4;
}

message Rule {
  string name = 1;
  string doc = 2;
  string expr = 3;
  string sql = 4;
}

extend google.protobuf.FileOptions { Meta file_meta = 1088; }
extend google.protobuf.MessageOptions { Meta message_meta = 1088; }
extend google.protobuf.FieldOptions { Meta field_meta = 1088; }
extend google.protobuf.EnumOptions { Meta enum_meta = 1088; }
extend google.protobuf.EnumValueOptions { Meta enum_value_meta = 1088; }
"#;

const DECIMAL_SOURCE: &str = r#"syntax = "proto3";
package confluent.type;

option java_package = "io.confluent.protobuf.type";
option java_multiple_files = true;
option java_outer_classname = "DecimalProto";

// value: the unscaled value, big-endian two's complement; precision 0 means unlimited.
message Decimal {
  bytes value = 1;
  uint32 precision = 2;
  int32 scale = 3;
}
"#;

const DATE_SOURCE: &str = r#"syntax = "proto3";
package google.type;

option java_package = "com.google.type";
option java_multiple_files = true;
option java_outer_classname = "DateProto";

message Date {
  int32 year = 1;
  int32 month = 2;
  int32 day = 3;
}
"#;

const TIME_OF_DAY_SOURCE: &str = r#"syntax = "proto3";
package google.type;

option java_package = "com.google.type";
option java_multiple_files = true;
option java_outer_classname = "TimeOfDayProto";

message TimeOfDay {
  int32 hours = 1;
  int32 minutes = 2;
  int32 seconds = 3;
  int32 nanos = 4;
}
"#;

/// The source of a built-in file, by its import path.
pub fn source(name: &str) -> Option<&'static str> {
    match name {
        META => Some(META_SOURCE),
        DECIMAL => Some(DECIMAL_SOURCE),
        DATE => Some(DATE_SOURCE),
        TIME_OF_DAY => Some(TIME_OF_DAY_SOURCE),
        _ => None,
    }
}
