//! Connect schema types <-> PostgreSQL types: the column type `auto.create` writes for a
//! field, the binary encoding a value is sent in for an existing column ([`Kind`]), and the
//! Connect schema a source column becomes.

use crate::data::{logical, Schema, SchemaRef, SchemaType, Value};

/// Days between 1970-01-01 and 2000-01-01, PostgreSQL's date epoch.
pub const PG_EPOCH_DAYS: i32 = 10_957;
/// Milliseconds between the Unix epoch and 2000-01-01T00:00:00Z.
pub const PG_EPOCH_MILLIS: i64 = 946_684_800_000;

/// Type OIDs the PostgreSQL connectors know by number (`pg_type.dat`).
pub mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const XML: u32 = 142;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const MONEY: u32 = 790;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const TIMETZ: u32 = 1266;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
}

/// A column's type, as far as the connectors need to tell types apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PgType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// `numeric(precision, scale)`; both `None` when unconstrained.
    Numeric {
        precision: Option<u32>,
        scale: Option<i32>,
    },
    /// `text`, `varchar`, `char` and `name`: the text binary format.
    Text,
    Bytea,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Json,
    Jsonb,
    Uuid,
    /// `oid`: an unsigned 32-bit integer.
    Oid,
    /// Any array type.
    Array,
    /// Anything else (enums, intervals, geometric types, ...): written as text and cast.
    Other,
}

impl PgType {
    /// The type of a column from its type OID, `atttypmod` and `typcategory`.
    pub fn from_oid(type_oid: u32, typmod: i32, category: Option<char>) -> PgType {
        match type_oid {
            oid::BOOL => PgType::Bool,
            oid::INT2 => PgType::Int2,
            oid::INT4 => PgType::Int4,
            oid::INT8 => PgType::Int8,
            oid::FLOAT4 => PgType::Float4,
            oid::FLOAT8 => PgType::Float8,
            oid::NUMERIC => {
                if typmod >= 4 {
                    let m = typmod - 4;
                    PgType::Numeric {
                        precision: Some(((m >> 16) & 0xffff) as u32),
                        // The scale is an 11-bit signed value since PostgreSQL 15.
                        scale: Some(((m & 0x7ff) ^ 1024) - 1024),
                    }
                } else {
                    PgType::Numeric {
                        precision: None,
                        scale: None,
                    }
                }
            }
            oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME => PgType::Text,
            oid::BYTEA => PgType::Bytea,
            oid::DATE => PgType::Date,
            oid::TIME => PgType::Time,
            oid::TIMESTAMP => PgType::Timestamp,
            oid::TIMESTAMPTZ => PgType::Timestamptz,
            oid::JSON => PgType::Json,
            oid::JSONB => PgType::Jsonb,
            oid::UUID => PgType::Uuid,
            oid::OID => PgType::Oid,
            _ if category == Some('A') => PgType::Array,
            _ => PgType::Other,
        }
    }
}

/// The Connect-side type of a column's values: from a schema, or inferred from schemaless
/// values.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnectType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    /// Decimal with its scale.
    Decimal(i32),
    Date,
    Time,
    Timestamp,
    /// An array with its item schema (None when schemaless).
    Array(Option<SchemaRef>),
    /// Maps, structs and schemaless nested values: written as JSON.
    Json,
}

impl ConnectType {
    /// The type a schema describes.
    pub fn of_schema(schema: &Schema) -> ConnectType {
        match schema.name.as_deref() {
            Some(logical::DECIMAL) => {
                let scale = schema
                    .parameters
                    .get(logical::DECIMAL_SCALE)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                return ConnectType::Decimal(scale);
            }
            Some(logical::DATE) => return ConnectType::Date,
            Some(logical::TIME) => return ConnectType::Time,
            Some(logical::TIMESTAMP) => return ConnectType::Timestamp,
            _ => {}
        }
        match schema.schema_type {
            SchemaType::Int8 => ConnectType::Int8,
            SchemaType::Int16 => ConnectType::Int16,
            SchemaType::Int32 => ConnectType::Int32,
            SchemaType::Int64 => ConnectType::Int64,
            SchemaType::Float32 => ConnectType::Float32,
            SchemaType::Float64 => ConnectType::Float64,
            SchemaType::Boolean => ConnectType::Boolean,
            SchemaType::String => ConnectType::String,
            SchemaType::Bytes => ConnectType::Bytes,
            SchemaType::Array => ConnectType::Array(schema.value_schema.clone()),
            SchemaType::Map | SchemaType::Struct => ConnectType::Json,
        }
    }

    /// The column type `auto.create` and `auto.evolve` write (the JDBC connector's
    /// PostgreSQL dialect; maps and structs, which it rejects, become JSONB).
    pub fn sql_type(&self) -> String {
        match self {
            ConnectType::Int8 | ConnectType::Int16 => "SMALLINT".into(),
            ConnectType::Int32 => "INT".into(),
            ConnectType::Int64 => "BIGINT".into(),
            ConnectType::Float32 => "REAL".into(),
            ConnectType::Float64 => "DOUBLE PRECISION".into(),
            ConnectType::Boolean => "BOOLEAN".into(),
            ConnectType::String => "TEXT".into(),
            ConnectType::Bytes => "BYTEA".into(),
            ConnectType::Decimal(_) => "DECIMAL".into(),
            ConnectType::Date => "DATE".into(),
            ConnectType::Time => "TIME".into(),
            ConnectType::Timestamp => "TIMESTAMP".into(),
            ConnectType::Array(Some(items)) => match ConnectType::of_schema(items) {
                ConnectType::Array(_) | ConnectType::Json => "JSONB".into(),
                item => format!("{}[]", item.sql_type()),
            },
            ConnectType::Array(None) | ConnectType::Json => "JSONB".into(),
        }
    }
}

/// What schemaless values of one column look like, accumulated over a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ValueShapes {
    pub bool: bool,
    pub int: bool,
    pub float: bool,
    pub string: bool,
    pub bytes: bool,
    pub nested: bool,
}

impl ValueShapes {
    pub fn observe(&mut self, v: &Value) {
        match v {
            Value::Null => {}
            Value::Boolean(_) => self.bool = true,
            Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_) => self.int = true,
            Value::Float32(_) | Value::Float64(_) => self.float = true,
            Value::String(_) => self.string = true,
            Value::Bytes(_) => self.bytes = true,
            Value::Array(_) | Value::Map(_) | Value::Struct(_) => self.nested = true,
        }
    }

    /// Only nulls were seen.
    pub fn is_empty(&self) -> bool {
        *self == ValueShapes::default()
    }

    /// The narrowest type that holds every value seen: integers and floats widen to FLOAT64,
    /// any other mix becomes text.
    pub fn connect_type(&self) -> ConnectType {
        let kinds = [
            self.bool,
            self.int || self.float,
            self.string,
            self.bytes,
            self.nested,
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if kinds > 1 {
            return ConnectType::String;
        }
        if self.bool {
            ConnectType::Boolean
        } else if self.float {
            ConnectType::Float64
        } else if self.int {
            ConnectType::Int64
        } else if self.bytes {
            ConnectType::Bytes
        } else if self.nested {
            ConnectType::Json
        } else {
            ConnectType::String
        }
    }
}

/// The binary form a column's values are sent in. When it is the column's own format the
/// value goes in as is (and binary COPY can be used); otherwise the statement casts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// Decimal bytes at this scale, or integers, as `numeric`.
    Numeric(i32),
    /// UTF-8 text: strings, other primitives as text, nested values as JSON.
    Text,
    Bytea,
    /// Connect Date (days since the epoch).
    Date,
    /// Connect Time (milliseconds since midnight).
    Time,
    /// Connect Timestamp as a `timestamp` (wall clock in UTC): used when db.timezone is UTC.
    Timestamp,
    /// Connect Timestamp as a `timestamptz` instant; PostgreSQL converts it to the session
    /// time zone (db.timezone) when the column has no time zone.
    Timestamptz,
    Jsonb,
    Uuid,
    /// A Connect array as a PostgreSQL array literal (`{1,2}`), cast to the column's type.
    ArrayLiteral,
}

impl Kind {
    /// The SQL type name of an array parameter of this kind (`$1::<name>[]`).
    pub fn sql_name(self) -> &'static str {
        match self {
            Kind::Bool => "bool",
            Kind::Int2 => "int2",
            Kind::Int4 => "int4",
            Kind::Int8 => "int8",
            Kind::Float4 => "float4",
            Kind::Float8 => "float8",
            Kind::Numeric(_) => "numeric",
            Kind::Text | Kind::ArrayLiteral => "text",
            Kind::Bytea => "bytea",
            Kind::Date => "date",
            Kind::Time => "time",
            Kind::Timestamp => "timestamp",
            Kind::Timestamptz => "timestamptz",
            Kind::Jsonb => "jsonb",
            Kind::Uuid => "uuid",
        }
    }

    /// The element type OID written in a binary array header.
    pub fn element_oid(self) -> u32 {
        match self {
            Kind::Bool => oid::BOOL,
            Kind::Int2 => oid::INT2,
            Kind::Int4 => oid::INT4,
            Kind::Int8 => oid::INT8,
            Kind::Float4 => oid::FLOAT4,
            Kind::Float8 => oid::FLOAT8,
            Kind::Numeric(_) => oid::NUMERIC,
            Kind::Text | Kind::ArrayLiteral => oid::TEXT,
            Kind::Bytea => oid::BYTEA,
            Kind::Date => oid::DATE,
            Kind::Time => oid::TIME,
            Kind::Timestamp => oid::TIMESTAMP,
            Kind::Timestamptz => oid::TIMESTAMPTZ,
            Kind::Jsonb => oid::JSONB,
            Kind::Uuid => oid::UUID,
        }
    }

    /// True when values of this kind are in `column`'s own binary format, so they need no
    /// cast and can be loaded with binary COPY.
    pub fn is_native_for(self, column: &PgType) -> bool {
        matches!(
            (self, column),
            (Kind::Bool, PgType::Bool)
                | (Kind::Int2, PgType::Int2)
                | (Kind::Int4, PgType::Int4)
                | (Kind::Int8, PgType::Int8)
                | (Kind::Float4, PgType::Float4)
                | (Kind::Float8, PgType::Float8)
                | (Kind::Numeric(_), PgType::Numeric { .. })
                | (Kind::Text, PgType::Text)
                | (Kind::Text, PgType::Json)
                | (Kind::Bytea, PgType::Bytea)
                | (Kind::Date, PgType::Date)
                | (Kind::Time, PgType::Time)
                | (Kind::Timestamp, PgType::Timestamp)
                | (Kind::Timestamptz, PgType::Timestamptz)
                | (Kind::Jsonb, PgType::Jsonb)
                | (Kind::Uuid, PgType::Uuid)
        )
    }

    /// The kind for values of `connect` type going into a column of type `column`: the
    /// column's own format where the value converts without loss, else a format PostgreSQL
    /// casts from. `utc` says the session time zone is UTC.
    pub fn choose(connect: &ConnectType, column: &PgType, utc: bool) -> Kind {
        use ConnectType as C;
        use PgType as P;
        let timestamp = if utc {
            Kind::Timestamp
        } else {
            Kind::Timestamptz
        };
        match (connect, column) {
            (C::Int8 | C::Int16 | C::Int32 | C::Int64, P::Int2) => Kind::Int2,
            (C::Int8 | C::Int16 | C::Int32 | C::Int64, P::Int4) => Kind::Int4,
            (C::Int8 | C::Int16 | C::Int32 | C::Int64, P::Int8) => Kind::Int8,
            (C::Int8 | C::Int16 | C::Int32 | C::Int64 | C::Float32 | C::Float64, P::Float4) => {
                Kind::Float4
            }
            (C::Int8 | C::Int16 | C::Int32 | C::Int64 | C::Float32 | C::Float64, P::Float8) => {
                Kind::Float8
            }
            (C::Int8 | C::Int16 | C::Int32 | C::Int64, P::Numeric { .. }) => Kind::Numeric(0),
            (C::Int8 | C::Int16 | C::Int32 | C::Int64, _) => Kind::Int8,
            (C::Float32 | C::Float64, _) => Kind::Float8,
            (C::Decimal(scale), _) => Kind::Numeric(*scale),
            (C::Boolean, _) => Kind::Bool,
            (C::Bytes, P::Bytea) => Kind::Bytea,
            (C::Bytes, _) => Kind::Bytea,
            (C::String, P::Uuid) => Kind::Uuid,
            (C::String, _) => Kind::Text,
            (C::Date, P::Date) => Kind::Date,
            (C::Date, _) => Kind::Date,
            (C::Time, _) => Kind::Time,
            (C::Timestamp, P::Timestamptz) => Kind::Timestamptz,
            (C::Timestamp, _) => timestamp,
            (C::Array(_), P::Array) => Kind::ArrayLiteral,
            (C::Array(_) | C::Json, P::Json | P::Jsonb) => Kind::Jsonb,
            (C::Array(_) | C::Json, _) => Kind::Text,
        }
    }

    /// The kind for schemaless values seen as `shapes` going into `column`. Integers into
    /// date and time columns are read as the Connect logical types' physical values
    /// (epoch milliseconds, days, milliseconds of the day); strings are cast by PostgreSQL.
    pub fn choose_schemaless(shapes: &ValueShapes, column: &PgType, utc: bool) -> Kind {
        let only_ints = shapes.int && !shapes.float && !shapes.string && !shapes.bool;
        match column {
            PgType::Timestamp if only_ints && utc => Kind::Timestamp,
            PgType::Timestamp | PgType::Timestamptz if only_ints => Kind::Timestamptz,
            PgType::Date if only_ints => Kind::Date,
            PgType::Time if only_ints => Kind::Time,
            PgType::Numeric { .. } if shapes.int || shapes.float => Kind::Text,
            PgType::Json | PgType::Jsonb if !shapes.string => Kind::Jsonb,
            _ => Kind::choose(&shapes.connect_type(), column, utc),
        }
    }
}

/// `numeric.mapping` for the source: how NUMERIC columns become Connect types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumericMapping {
    /// Decimal with the column's scale.
    None,
    /// Integers by precision when the scale is 0, else Decimal.
    PrecisionOnly,
    /// Integers by precision when the scale is 0, FLOAT64 otherwise.
    BestFit,
}

/// How a source column's binary values become Connect values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoder {
    Bool,
    Int2,
    Int4,
    Int8,
    /// An `oid`: unsigned 32-bit, widened to INT64.
    Oid,
    Float4,
    Float8,
    /// NUMERIC to Decimal at this scale.
    NumericDecimal(i32),
    /// NUMERIC to an integer of this schema type (scale 0).
    NumericInt(SchemaType),
    NumericFloat,
    /// Unconstrained NUMERIC, whose scale varies by row: its exact text.
    NumericText,
    Text,
    Bytea,
    Uuid,
    Jsonb,
    Date,
    Time,
    /// `timestamp` or `timestamptz`, microseconds since 2000-01-01 UTC.
    Timestamp,
}

impl Decoder {
    /// The decoder and Connect schema for a column, or `None` when the type is not
    /// supported as is (the source reads such columns as text by casting them).
    pub fn for_column(
        column: &PgType,
        optional: bool,
        numeric: NumericMapping,
    ) -> Option<(Decoder, SchemaRef)> {
        use crate::data::logical_schemas;
        use crate::data::SchemaBuilder;
        let base = |t: SchemaType| {
            let b = SchemaBuilder::new(t);
            if optional {
                b.optional()
            } else {
                b
            }
        };
        let opt = |b: SchemaBuilder| if optional { b.optional() } else { b };
        Some(match column {
            PgType::Bool => (Decoder::Bool, base(SchemaType::Boolean).build()),
            PgType::Int2 => (Decoder::Int2, base(SchemaType::Int16).build()),
            PgType::Int4 => (Decoder::Int4, base(SchemaType::Int32).build()),
            PgType::Int8 => (Decoder::Int8, base(SchemaType::Int64).build()),
            PgType::Oid => (Decoder::Oid, base(SchemaType::Int64).build()),
            PgType::Float4 => (Decoder::Float4, base(SchemaType::Float32).build()),
            PgType::Float8 => (Decoder::Float8, base(SchemaType::Float64).build()),
            PgType::Numeric {
                precision: Some(p),
                scale: Some(s),
            } => {
                let int_type = (*s == 0 && *p < 19).then_some(match p {
                    0..=2 => SchemaType::Int8,
                    3..=4 => SchemaType::Int16,
                    5..=9 => SchemaType::Int32,
                    _ => SchemaType::Int64,
                });
                match (numeric, int_type) {
                    (NumericMapping::PrecisionOnly | NumericMapping::BestFit, Some(t)) => {
                        (Decoder::NumericInt(t), base(t).build())
                    }
                    (NumericMapping::BestFit, None) if *s > 0 => {
                        (Decoder::NumericFloat, base(SchemaType::Float64).build())
                    }
                    _ => (
                        Decoder::NumericDecimal(*s),
                        opt(logical_schemas::decimal(*s)).build(),
                    ),
                }
            }
            PgType::Numeric { .. } => (Decoder::NumericText, base(SchemaType::String).build()),
            PgType::Text | PgType::Json => (Decoder::Text, base(SchemaType::String).build()),
            PgType::Jsonb => (Decoder::Jsonb, base(SchemaType::String).build()),
            PgType::Uuid => (Decoder::Uuid, base(SchemaType::String).build()),
            PgType::Bytea => (Decoder::Bytea, base(SchemaType::Bytes).build()),
            PgType::Date => (Decoder::Date, opt(logical_schemas::date()).build()),
            PgType::Time => (Decoder::Time, opt(logical_schemas::time()).build()),
            PgType::Timestamp | PgType::Timestamptz => (
                Decoder::Timestamp,
                opt(logical_schemas::timestamp()).build(),
            ),
            PgType::Array | PgType::Other => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{logical_schemas, SchemaBuilder};

    #[test]
    fn auto_create_types_follow_the_jdbc_postgres_dialect() {
        let cases: Vec<(SchemaRef, &str)> = vec![
            (Schema::int8(), "SMALLINT"),
            (Schema::int16(), "SMALLINT"),
            (Schema::int32(), "INT"),
            (Schema::int64(), "BIGINT"),
            (Schema::float32(), "REAL"),
            (Schema::float64(), "DOUBLE PRECISION"),
            (Schema::boolean(), "BOOLEAN"),
            (Schema::string(), "TEXT"),
            (Schema::bytes(), "BYTEA"),
            (logical_schemas::decimal(2).build(), "DECIMAL"),
            (logical_schemas::date().build(), "DATE"),
            (logical_schemas::time().build(), "TIME"),
            (logical_schemas::timestamp().build(), "TIMESTAMP"),
            (SchemaBuilder::array(Schema::int32()).build(), "INT[]"),
            (
                SchemaBuilder::map(Schema::string(), Schema::int32()).build(),
                "JSONB",
            ),
        ];
        for (schema, sql) in cases {
            assert_eq!(
                ConnectType::of_schema(&schema).sql_type(),
                sql,
                "{schema:?}"
            );
        }
    }

    #[test]
    fn numeric_typmod_gives_precision_and_scale() {
        let typmod = ((10 << 16) | 2) + 4;
        assert_eq!(
            PgType::from_oid(oid::NUMERIC, typmod, Some('N')),
            PgType::Numeric {
                precision: Some(10),
                scale: Some(2)
            }
        );
        assert_eq!(
            PgType::from_oid(oid::NUMERIC, -1, Some('N')),
            PgType::Numeric {
                precision: None,
                scale: None
            }
        );
    }

    #[test]
    fn schemaless_shapes_widen() {
        let mut s = ValueShapes::default();
        s.observe(&Value::Int64(1));
        assert_eq!(s.connect_type(), ConnectType::Int64);
        s.observe(&Value::Float64(1.5));
        assert_eq!(s.connect_type(), ConnectType::Float64);
        s.observe(&Value::String("x".into()));
        assert_eq!(s.connect_type(), ConnectType::String);
        let mut n = ValueShapes::default();
        n.observe(&Value::Int64(1_700_000_000_000));
        assert_eq!(
            Kind::choose_schemaless(&n, &PgType::Timestamptz, true),
            Kind::Timestamptz
        );
        assert_eq!(Kind::choose_schemaless(&n, &PgType::Int4, true), Kind::Int4);
    }
}
