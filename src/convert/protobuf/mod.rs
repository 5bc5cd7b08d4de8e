//! `io.confluent.connect.protobuf.ProtobufConverter`: Protobuf in Confluent's wire format
//! (magic byte, 4-byte schema id, the message indexes as zigzag varints — a single 0 for the
//! first message — then the message), with schemas in a Schema Registry compiled by protox
//! and messages handled by prost-reflect ([`schema`], [`data`]).
//!
//! Caching, retriable registry errors and data errors naming the id and field are as for the
//! [`AvroConverter`](super::avro::AvroConverter).

pub mod data;
pub mod known;
pub mod schema;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor};

use super::confluent::access::{fetch_by_id, id_for};
use super::confluent::{
    read_frame, write_frame, RegistryClient, RegistryConverterConfig, RegistrySchema,
    RegistrySchemaType,
};
use super::{Converter, SchemaAndValue};
use crate::config::ConfigMap;
use crate::data::{SchemaRef, Value};
use crate::errors::ConnectError;

/// The Connect class name.
pub const CLASS: &str = "io.confluent.connect.protobuf.ProtobufConverter";

/// A message type of a registered schema and its Connect schema.
struct Reader {
    message: MessageDescriptor,
    schema: SchemaRef,
}

/// A schema id and the message indexes in it.
type ReaderKey = (i32, Vec<i32>);

/// What a Connect schema is written as.
struct Writer {
    id: i32,
    indexes: Vec<i32>,
    message: MessageDescriptor,
}

/// Confluent's ProtobufConverter.
pub struct ProtobufConverter {
    client: Arc<dyn RegistryClient>,
    config: RegistryConverterConfig,
    files: Mutex<HashMap<i32, Arc<schema::ProtoSchema>>>,
    readers: Mutex<HashMap<ReaderKey, Arc<Reader>>>,
    writers: Mutex<Vec<(SchemaRef, Arc<Writer>)>>,
}

/// Reads the message indexes that follow the schema id.
pub fn read_indexes(payload: &mut &[u8]) -> Result<Vec<i32>, String> {
    let count = read_zigzag(payload)?;
    if count == 0 {
        return Ok(vec![0]);
    }
    if !(0..=64).contains(&count) {
        return Err(format!("{count} message indexes is not a valid count"));
    }
    (0..count).map(|_| read_zigzag(payload)).collect()
}

fn read_zigzag(buf: &mut &[u8]) -> Result<i32, String> {
    let v = prost::encoding::decode_varint(buf)
        .map_err(|_| "the message indexes are cut short".to_string())?;
    let v = v as u32;
    Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
}

/// Writes message indexes (a single 0 for `[0]`).
pub fn write_indexes(indexes: &[i32], out: &mut Vec<u8>) {
    let zigzag = |v: i32| ((v << 1) ^ (v >> 31)) as u32 as u64;
    if indexes == [0] {
        out.push(0);
        return;
    }
    prost::encoding::encode_varint(zigzag(indexes.len() as i32), out);
    for &i in indexes {
        prost::encoding::encode_varint(zigzag(i), out);
    }
}

impl ProtobufConverter {
    pub fn new(
        client: Arc<dyn RegistryClient>,
        config: &ConfigMap,
        is_key: bool,
    ) -> Result<Self, ConnectError> {
        Ok(ProtobufConverter {
            client,
            config: RegistryConverterConfig::from_config(config, is_key)?,
            files: Mutex::new(HashMap::new()),
            readers: Mutex::new(HashMap::new()),
            writers: Mutex::new(Vec::new()),
        })
    }

    fn file(&self, id: i32) -> Result<Arc<schema::ProtoSchema>, ConnectError> {
        if let Some(f) = self.files.lock().get(&id) {
            return Ok(f.clone());
        }
        let fetched = fetch_by_id(
            self.client.as_ref(),
            id,
            RegistrySchemaType::Protobuf,
            self.config.is_key,
        )?;
        let compiled = schema::compile(&fetched.schema.text, &fetched.references)
            .map_err(|e| ConnectError::Data(format!("Protobuf schema with id {id}: {e}")))?;
        let compiled = Arc::new(compiled);
        let mut cache = self.files.lock();
        if cache.len() >= self.config.cache_size {
            cache.clear();
        }
        cache.insert(id, compiled.clone());
        Ok(compiled)
    }

    fn reader(&self, id: i32, indexes: Vec<i32>) -> Result<Arc<Reader>, ConnectError> {
        let key = (id, indexes);
        if let Some(r) = self.readers.lock().get(&key) {
            return Ok(r.clone());
        }
        let file = self.file(id)?;
        let message = schema::message_at(&file.file, &key.1).ok_or_else(|| {
            ConnectError::Data(format!(
                "Protobuf schema with id {id} has no message at indexes {:?}",
                key.1
            ))
        })?;
        let schema = data::to_connect_schema(&message)
            .map_err(|e| ConnectError::Data(format!("Protobuf schema with id {id}: {e}")))?;
        let reader = Arc::new(Reader { message, schema });
        let mut cache = self.readers.lock();
        if cache.len() >= self.config.cache_size {
            cache.clear();
        }
        cache.insert(key, reader.clone());
        Ok(reader)
    }

    fn writer(&self, topic: &str, connect: &SchemaRef) -> Result<Arc<Writer>, ConnectError> {
        {
            let cache = self.writers.lock();
            if let Some((_, w)) = cache
                .iter()
                .rev()
                .find(|(s, _)| Arc::ptr_eq(s, connect) || **s == **connect)
            {
                return Ok(w.clone());
            }
        }
        let (text, full_name) = schema::proto_text(connect).map_err(|e| {
            ConnectError::Data(format!(
                "Converting Kafka Connect schema {} to a Protobuf schema failed: {e}",
                connect.describe()
            ))
        })?;
        let subject =
            self.config
                .subject_strategy
                .subject(topic, self.config.is_key, Some(&full_name))?;
        let registry_schema = RegistrySchema {
            schema_type: RegistrySchemaType::Protobuf,
            text: text.clone(),
            references: Vec::new(),
        };
        let (id, latest) = id_for(
            self.client.as_ref(),
            &self.config,
            &subject,
            &registry_schema,
        )?;
        let compiled = match latest {
            Some(l) => schema::compile(&l.schema.text, &l.references),
            None => schema::compile(&text, &[]),
        }
        .map_err(|e| ConnectError::Data(format!("Protobuf schema with id {id}: {e}")))?;
        let message = compiled
            .pool
            .get_message_by_name(&full_name)
            .or_else(|| compiled.file.messages().next())
            .ok_or_else(|| {
                ConnectError::Data(format!("Protobuf schema with id {id} has no message"))
            })?;
        let indexes =
            schema::message_indexes(&compiled.file, message.full_name()).unwrap_or_else(|| vec![0]);
        let writer = Arc::new(Writer {
            id,
            indexes,
            message,
        });
        let mut cache = self.writers.lock();
        if cache.len() >= self.config.cache_size {
            cache.remove(0);
        }
        cache.push((connect.clone(), writer.clone()));
        Ok(writer)
    }
}

impl Converter for ProtobufConverter {
    fn to_bytes(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        if value.is_null() {
            return Ok(None);
        }
        let schema = match (schema, value) {
            (Some(s), _) => s.clone(),
            (None, Value::Struct(s)) => s.schema().clone(),
            (None, _) => {
                return Err(ConnectError::Data(format!(
                    "ProtobufConverter writes structs with a schema; the record {} of topic {topic} is a schemaless {}",
                    self.config.what(),
                    value.type_name()
                )))
            }
        };
        let writer = self.writer(topic, &schema)?;
        let message = data::to_message(&writer.message, value).map_err(|e| {
            ConnectError::Data(format!(
                "Failed to serialize Protobuf data from topic {topic} with schema id {}: {e}",
                writer.id
            ))
        })?;
        let mut out = Vec::with_capacity(64);
        write_frame(writer.id, &mut out);
        write_indexes(&writer.indexes, &mut out);
        message
            .encode(&mut out)
            .map_err(|e| ConnectError::Data(format!("Failed to serialize Protobuf data: {e}")))?;
        Ok(Some(out))
    }

    fn to_connect(&self, topic: &str, data: Option<&[u8]>) -> Result<SchemaAndValue, ConnectError> {
        let Some(data) = data else {
            return Ok(SchemaAndValue::new(None, Value::Null));
        };
        let fail = |e: String| {
            ConnectError::Data(format!(
                "Failed to deserialize data for topic {topic} to Protobuf: {e}"
            ))
        };
        let (id, mut payload) = read_frame(data).map_err(|e| fail(e.to_string()))?;
        let indexes =
            read_indexes(&mut payload).map_err(|e| fail(format!("schema id {id}: {e}")))?;
        let reader = self.reader(id, indexes)?;
        let message = DynamicMessage::decode(reader.message.clone(), payload).map_err(|e| {
            fail(format!(
                "Error deserializing Protobuf message {} for id {id}: {e}",
                reader.message.full_name()
            ))
        })?;
        let value = data::to_connect_value(&reader.schema, &message).map_err(|e| {
            fail(format!(
                "Error deserializing Protobuf message {} for id {id}: {e}",
                reader.message.full_name()
            ))
        })?;
        Ok(SchemaAndValue::new(Some(reader.schema.clone()), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Schema, SchemaBuilder, Struct};
    use crate::schema_registry::client::MockClient;
    use crate::schema_registry::{Registry, RegistrySettings};

    fn converter(registry: &Arc<Registry>) -> ProtobufConverter {
        let mut config = ConfigMap::new();
        config.insert("schema.registry.url".into(), "http://unused".into());
        ProtobufConverter::new(Arc::new(MockClient::new(registry.clone())), &config, false).unwrap()
    }

    #[test]
    fn indexes_round_trip() {
        for idx in [vec![0], vec![1], vec![0, 2], vec![3, 0, 1]] {
            let mut out = Vec::new();
            write_indexes(&idx, &mut out);
            let mut slice = out.as_slice();
            assert_eq!(read_indexes(&mut slice).unwrap(), idx);
            assert!(slice.is_empty());
        }
        let mut out = Vec::new();
        write_indexes(&[0], &mut out);
        assert_eq!(out, vec![0]);
    }

    #[test]
    fn round_trip_through_the_registry() {
        let reg = Arc::new(Registry::in_memory(RegistrySettings::default()));
        let c = converter(&reg);
        let address = SchemaBuilder::struct_()
            .name("com.example.Address")
            .field("city", Schema::string())
            .optional()
            .build();
        let schema = SchemaBuilder::struct_()
            .name("com.example.User")
            .field("id", Schema::int64())
            .field("name", Schema::optional_string())
            .field("tags", SchemaBuilder::array(Schema::string()).build())
            .field("address", address.clone())
            .build();
        let mut a = Struct::new(address);
        a.put("city", "Oslo".into()).unwrap();
        let mut s = Struct::new(schema.clone());
        s.put("id", Value::Int64(7)).unwrap();
        s.put("tags", Value::Array(vec!["x".into()])).unwrap();
        s.put("address", Value::Struct(a)).unwrap();
        let bytes = c
            .to_bytes("users", Some(&schema), &Value::Struct(s))
            .unwrap()
            .unwrap();
        assert_eq!(&bytes[..6], &[0, 0, 0, 0, 1, 0]);
        let back = converter(&reg).to_connect("users", Some(&bytes)).unwrap();
        let Value::Struct(v) = back.value else {
            panic!()
        };
        assert_eq!(v.get("id"), Some(&Value::Int64(7)));
        assert_eq!(v.get("name"), Some(&Value::Null));
        assert_eq!(v.get("tags"), Some(&Value::Array(vec!["x".into()])));
        let Some(Value::Struct(addr)) = v.get("address") else {
            panic!()
        };
        assert_eq!(addr.get("city"), Some(&Value::String("Oslo".into())));
        // Bytes that are not the message: the id and message are named.
        let mut bad = bytes[..6].to_vec();
        bad.extend_from_slice(&[0x08]);
        let e = c.to_connect("users", Some(&bad)).unwrap_err().to_string();
        assert!(e.contains("for id 1"), "{e}");
        assert!(e.contains("com.example.User"), "{e}");
    }

    #[test]
    fn logical_types_are_confluent_and_google_messages() {
        use crate::data::logical_schemas;
        use prost_reflect::ReflectMessage;
        let reg = Arc::new(Registry::in_memory(RegistrySettings::default()));
        let c = converter(&reg);
        let schema = SchemaBuilder::struct_()
            .name("com.example.Payment")
            .field(
                "amount",
                logical_schemas::decimal(2)
                    .parameter(schema::DECIMAL_PRECISION, "10")
                    .build(),
            )
            .field("fee", logical_schemas::decimal(3).optional().build())
            .field("day", logical_schemas::date().build())
            .field("at", logical_schemas::time().build())
            .field("ts", logical_schemas::timestamp().build())
            .build();
        let (text, _) = schema::proto_text(&schema).unwrap();
        for import in [
            "confluent/meta.proto",
            "confluent/type/decimal.proto",
            "google/type/date.proto",
            "google/type/timeofday.proto",
            "google/protobuf/timestamp.proto",
        ] {
            assert!(text.contains(&format!("import \"{import}\";")), "{text}");
        }
        assert!(
            text.contains(r#"confluent.type.Decimal amount = 1 [(confluent.field_meta) = { params: [{ key: "precision", value: "10" }, { key: "scale", value: "2" }] }];"#),
            "{text}"
        );
        assert!(text.contains("google.type.Date day = 3;"), "{text}");
        assert!(text.contains("google.type.TimeOfDay at = 4;"), "{text}");
        assert!(text.contains("google.protobuf.Timestamp ts = 5;"), "{text}");

        let mut s = Struct::new(schema.clone());
        s.put(
            "amount",
            Value::Bytes(crate::data::decimal::to_bytes(-1234)),
        )
        .unwrap();
        s.put("day", Value::Int32(19_782)).unwrap(); // 2024-02-29
        s.put("at", Value::Int32(49_530_123)).unwrap(); // 13:45:30.123
        s.put("ts", Value::Int64(-1)).unwrap();
        let bytes = c
            .to_bytes("payments", Some(&schema), &Value::Struct(s))
            .unwrap()
            .unwrap();
        // The message, read with the registered schema's own descriptors.
        let file = c.file(1).unwrap();
        let desc = file
            .pool
            .get_message_by_name("com.example.Payment")
            .unwrap();
        let m = DynamicMessage::decode(desc, &bytes[6..]).unwrap();
        let field =
            |m: &DynamicMessage, name: &str| m.get_field_by_name(name).unwrap().into_owned();
        let prost_reflect::Value::Message(amount) = field(&m, "amount") else {
            panic!()
        };
        assert_eq!(amount.descriptor().full_name(), "confluent.type.Decimal");
        assert_eq!(
            field(&amount, "value").as_bytes().unwrap().as_ref(),
            crate::data::decimal::to_bytes(-1234).as_slice()
        );
        assert_eq!(field(&amount, "precision").as_u32(), Some(4));
        assert_eq!(field(&amount, "scale").as_i32(), Some(2));
        assert!(!m.has_field_by_name("fee"));
        let prost_reflect::Value::Message(day) = field(&m, "day") else {
            panic!()
        };
        assert_eq!(
            ["year", "month", "day"].map(|f| field(&day, f).as_i32().unwrap()),
            [2024, 2, 29]
        );
        let prost_reflect::Value::Message(at) = field(&m, "at") else {
            panic!()
        };
        assert_eq!(
            ["hours", "minutes", "seconds", "nanos"].map(|f| field(&at, f).as_i32().unwrap()),
            [13, 45, 30, 123_000_000]
        );
        let prost_reflect::Value::Message(ts) = field(&m, "ts") else {
            panic!()
        };
        assert_eq!(field(&ts, "seconds").as_i64(), Some(-1));
        assert_eq!(field(&ts, "nanos").as_i32(), Some(999_000_000));

        // And back to Connect, with the logical types and the Decimal's precision and scale.
        let back = converter(&reg)
            .to_connect("payments", Some(&bytes))
            .unwrap();
        let read = back.schema.unwrap();
        let amount_schema = &read.fields[0].schema;
        assert!(amount_schema.is_logical(crate::data::logical::DECIMAL));
        assert_eq!(amount_schema.parameters["scale"], "2");
        assert_eq!(amount_schema.parameters[schema::DECIMAL_PRECISION], "10");
        assert!(read.fields[2].schema.is_logical(crate::data::logical::DATE));
        assert!(read.fields[3].schema.is_logical(crate::data::logical::TIME));
        assert!(read.fields[4]
            .schema
            .is_logical(crate::data::logical::TIMESTAMP));
        let Value::Struct(v) = back.value else {
            panic!()
        };
        assert_eq!(
            v.get("amount"),
            Some(&Value::Bytes(crate::data::decimal::to_bytes(-1234)))
        );
        assert_eq!(v.get("fee"), Some(&Value::Null));
        assert_eq!(v.get("day"), Some(&Value::Int32(19_782)));
        assert_eq!(v.get("at"), Some(&Value::Int32(49_530_123)));
        assert_eq!(v.get("ts"), Some(&Value::Int64(-1)));
    }

    #[test]
    fn a_serialized_descriptor_keeps_the_decimal_metadata() {
        // As confluent-kafka registers it: a base64 FileDescriptorProto importing the built-in
        // files without references, the field's options carrying precision and scale.
        let text = r#"syntax = "proto3";
package x;
import "confluent/meta.proto";
import "confluent/type/decimal.proto";
message P {
  confluent.type.Decimal amount = 1 [(confluent.field_meta) = { params: [{ key: "scale", value: "3" }] }];
}
"#;
        let b64 = schema::serialized(text, &[]).unwrap();
        let compiled = schema::compile(&b64, &[]).unwrap();
        let desc = compiled.pool.get_message_by_name("x.P").unwrap();
        let connect = data::to_connect_schema(&desc).unwrap();
        assert_eq!(connect.fields[0].schema.parameters["scale"], "3");
        // A message with a different scale is rescaled to the schema's; one that would lose
        // digits is refused, naming the value.
        let decimal = compiled
            .pool
            .get_message_by_name("confluent.type.Decimal")
            .unwrap();
        let mut d = DynamicMessage::new(decimal);
        d.set_field_by_name("value", prost_reflect::Value::Bytes(vec![0x4b].into()));
        d.set_field_by_name("scale", prost_reflect::Value::I32(1));
        let mut m = DynamicMessage::new(desc.clone());
        m.set_field_by_name("amount", prost_reflect::Value::Message(d.clone()));
        let Value::Struct(v) = data::to_connect_value(&connect, &m).unwrap() else {
            panic!()
        };
        assert_eq!(
            v.get("amount"),
            Some(&Value::Bytes(crate::data::decimal::to_bytes(7500)))
        );
        d.set_field_by_name("scale", prost_reflect::Value::I32(5));
        d.set_field_by_name("value", prost_reflect::Value::Bytes(vec![0x7b].into()));
        m.set_field_by_name("amount", prost_reflect::Value::Message(d));
        let e = data::to_connect_value(&connect, &m).unwrap_err();
        assert!(e.contains("0.00123") && e.contains("amount"), "{e}");
    }
}
