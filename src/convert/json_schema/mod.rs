//! `io.confluent.connect.json.JsonSchemaConverter`: JSON in Confluent's wire format (magic
//! byte, 4-byte schema id, UTF-8 JSON), with JSON Schemas in a Schema Registry and Connect
//! schemas mapped as Confluent's `JsonSchemaData` maps them ([`data`]).
//!
//! Caching, retriable registry errors and data errors naming the id and field are as for the
//! [`AvroConverter`](super::avro::AvroConverter).

pub mod data;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::Value as Json;

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
pub const CLASS: &str = "io.confluent.connect.json.JsonSchemaConverter";

/// Confluent's JsonSchemaConverter.
pub struct JsonSchemaConverter {
    client: Arc<dyn RegistryClient>,
    config: RegistryConverterConfig,
    /// Connect schemas by schema id.
    readers: Mutex<HashMap<i32, SchemaRef>>,
    /// Schema ids by Connect schema, most recently used last.
    writers: Mutex<Vec<(SchemaRef, i32)>>,
}

impl JsonSchemaConverter {
    pub fn new(
        client: Arc<dyn RegistryClient>,
        config: &ConfigMap,
        is_key: bool,
    ) -> Result<Self, ConnectError> {
        Ok(JsonSchemaConverter {
            client,
            config: RegistryConverterConfig::from_config(config, is_key)?,
            readers: Mutex::new(HashMap::new()),
            writers: Mutex::new(Vec::new()),
        })
    }

    fn reader(&self, id: i32) -> Result<SchemaRef, ConnectError> {
        if let Some(s) = self.readers.lock().get(&id) {
            return Ok(s.clone());
        }
        let fetched = fetch_by_id(
            self.client.as_ref(),
            id,
            RegistrySchemaType::Json,
            self.config.is_key,
        )?;
        let schema = connect_schema_of(&fetched.schema.text, &fetched.references)
            .map_err(|e| ConnectError::Data(format!("JSON Schema with id {id}: {e}")))?;
        let mut cache = self.readers.lock();
        if cache.len() >= self.config.cache_size {
            cache.clear();
        }
        cache.insert(id, schema.clone());
        Ok(schema)
    }

    fn writer_id(&self, topic: &str, schema: &SchemaRef) -> Result<i32, ConnectError> {
        {
            let cache = self.writers.lock();
            if let Some((_, id)) = cache
                .iter()
                .rev()
                .find(|(s, _)| Arc::ptr_eq(s, schema) || **s == **schema)
            {
                return Ok(*id);
            }
        }
        let text = data::from_connect_schema(schema).to_string();
        let subject = self.config.subject_strategy.subject(
            topic,
            self.config.is_key,
            schema.name.as_deref(),
        )?;
        let registry_schema = RegistrySchema {
            schema_type: RegistrySchemaType::Json,
            text,
            references: Vec::new(),
        };
        let (id, _) = id_for(
            self.client.as_ref(),
            &self.config,
            &subject,
            &registry_schema,
        )?;
        let mut cache = self.writers.lock();
        if cache.len() >= self.config.cache_size {
            cache.remove(0);
        }
        cache.push((schema.clone(), id));
        Ok(id)
    }
}

/// The Connect schema of a registered JSON Schema and its references.
pub fn connect_schema_of(text: &str, references: &[(String, String)]) -> Result<SchemaRef, String> {
    let root: Json = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let references = references
        .iter()
        .map(|(name, text)| {
            serde_json::from_str(text)
                .map(|j| (name.clone(), j))
                .map_err(|e| format!("reference {name} is not JSON: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ctx = data::RefContext {
        root: &root,
        references: &references,
    };
    data::to_connect_schema(&ctx, &root)
}

impl Converter for JsonSchemaConverter {
    fn to_bytes(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        if value.is_null() {
            return Ok(None);
        }
        let inferred;
        let schema = match schema {
            Some(s) => s,
            None => {
                inferred = super::avro::inferred_schema(value).ok_or_else(|| {
                    ConnectError::Data(format!(
                        "JsonSchemaConverter needs a schema for the record {} of topic {topic}: a schemaless {} has no JSON Schema",
                        self.config.what(),
                        value.type_name()
                    ))
                })?;
                &inferred
            }
        };
        let json = data::value_to_json(schema, value).map_err(|e| {
            ConnectError::Data(format!(
                "Converting Kafka Connect data to JSON Schema data for topic {topic} failed: {e}"
            ))
        })?;
        let id = self.writer_id(topic, schema)?;
        let mut out = Vec::with_capacity(64);
        write_frame(id, &mut out);
        serde_json::to_writer(&mut out, &json)
            .map_err(|e| ConnectError::Data(format!("Failed to serialize JSON: {e}")))?;
        Ok(Some(out))
    }

    fn to_connect(&self, topic: &str, data: Option<&[u8]>) -> Result<SchemaAndValue, ConnectError> {
        let Some(data) = data else {
            return Ok(SchemaAndValue::new(None, Value::Null));
        };
        let fail = |e: String| {
            ConnectError::Data(format!(
                "Converting byte[] to Kafka Connect data failed due to serialization error of topic {topic}: {e}"
            ))
        };
        let (id, payload) = read_frame(data).map_err(|e| fail(e.to_string()))?;
        let schema = self.reader(id)?;
        let json: Json = serde_json::from_slice(payload)
            .map_err(|e| fail(format!("the payload of schema id {id} is not JSON: {e}")))?;
        let value = data::json_to_value(&schema, &json)
            .map_err(|e| fail(format!("the data does not match schema id {id}: {e}")))?;
        Ok(SchemaAndValue::new(Some(schema), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Schema, SchemaBuilder, Struct};
    use crate::schema_registry::client::MockClient;
    use crate::schema_registry::{Registry, RegistrySettings};

    fn converter(registry: &Arc<Registry>) -> JsonSchemaConverter {
        let mut config = ConfigMap::new();
        config.insert("schema.registry.url".into(), "http://unused".into());
        JsonSchemaConverter::new(Arc::new(MockClient::new(registry.clone())), &config, false)
            .unwrap()
    }

    #[test]
    fn round_trip_and_bad_input() {
        let reg = Arc::new(Registry::in_memory(RegistrySettings::default()));
        let c = converter(&reg);
        let schema = SchemaBuilder::struct_()
            .name("Order")
            .field("id", Schema::int64())
            .field("note", Schema::optional_string())
            .build();
        let mut s = Struct::new(schema.clone());
        s.put("id", Value::Int64(5)).unwrap();
        let bytes = c
            .to_bytes("orders", Some(&schema), &Value::Struct(s.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(&bytes[..5], &[0, 0, 0, 0, 1]);
        assert_eq!(&bytes[5..], br#"{"id":5,"note":null}"#);
        let back = converter(&reg).to_connect("orders", Some(&bytes)).unwrap();
        assert_eq!(back.schema.as_ref(), Some(&schema));
        assert_eq!(back.value, Value::Struct(s));
        let mut wrong = bytes[..5].to_vec();
        wrong.extend_from_slice(br#"{"id":"x"}"#);
        let e = c.to_connect("orders", Some(&wrong)).unwrap_err();
        assert!(matches!(e, ConnectError::Data(_)));
        assert!(e.to_string().contains("schema id 1: field id"), "{e}");
        let e = c
            .to_connect("orders", Some(&[0, 0, 0, 0, 9, b'1']))
            .unwrap_err();
        assert!(e.to_string().contains("id 9"), "{e}");
    }
}
