//! `io.confluent.connect.avro.AvroConverter`: Avro in Confluent's wire format (magic byte,
//! 4-byte schema id, Avro binary), with schemas in a Schema Registry and Connect schemas
//! mapped as Confluent's `AvroData` maps them ([`data`]).
//!
//! Schemas are fetched once per id and registered (or looked up) once per Connect schema;
//! both caches hold `schemas.cache.config` entries. A registry that cannot be reached is a
//! retriable error; bad bytes (magic byte, unknown id, data that does not match its schema)
//! are data errors naming the id and the field, which `errors.tolerance` and the dead letter
//! queue handle like any conversion failure.

pub mod codec;
pub mod data;
pub mod schema;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::confluent::{
    read_frame, write_frame, RegistryClient, RegistryClientError, RegistryConverterConfig,
    RegistrySchema, RegistrySchemaType, SchemaReference,
};
use super::{Converter, SchemaAndValue};
use crate::config::ConfigMap;
use crate::data::{Schema, SchemaRef, SchemaType, Value};
use crate::errors::ConnectError;
use codec::Node;
use schema::AvroSchemas;

/// The Connect class name.
pub const CLASS: &str = "io.confluent.connect.avro.AvroConverter";

/// A schema id's reader: the Connect schema and how to decode into it.
struct Decoder {
    schema: SchemaRef,
    node: Node,
}

/// A Connect schema's writer: the registered id and how to encode from it.
struct Encoder {
    id: i32,
    node: Node,
}

/// Confluent's AvroConverter.
pub struct AvroConverter {
    client: Arc<dyn RegistryClient>,
    config: RegistryConverterConfig,
    decoders: Mutex<HashMap<i32, Arc<Decoder>>>,
    /// Most recently used last.
    encoders: Mutex<Vec<(SchemaRef, Arc<Encoder>)>>,
}

impl AvroConverter {
    pub fn new(
        client: Arc<dyn RegistryClient>,
        config: &ConfigMap,
        is_key: bool,
    ) -> Result<Self, ConnectError> {
        Ok(AvroConverter {
            client,
            config: RegistryConverterConfig::from_config(config, is_key)?,
            decoders: Mutex::new(HashMap::new()),
            encoders: Mutex::new(Vec::new()),
        })
    }

    fn decoder(&self, id: i32) -> Result<Arc<Decoder>, ConnectError> {
        if let Some(d) = self.decoders.lock().get(&id) {
            return Ok(d.clone());
        }
        let what = format!(
            "Error retrieving Avro {} schema for id {id}",
            self.config.what()
        );
        let schema = self
            .client
            .schema_by_id(id)
            .map_err(|e| e.into_connect(&what))?;
        if schema.schema_type != RegistrySchemaType::Avro {
            return Err(ConnectError::Data(format!(
                "{what}: the schema is {}, not AVRO; use the matching converter",
                schema.schema_type.as_str()
            )));
        }
        let references = resolve_references(self.client.as_ref(), &schema.references, &what)?;
        let parsed = schema::parse(&schema.text, &references)
            .map_err(|e| ConnectError::Data(format!("{what}: invalid Avro schema: {e}")))?;
        let connect = data::to_connect_schema(&parsed)
            .map_err(|e| ConnectError::Data(format!("{what}: {e}")))?;
        let node = codec::compile(&parsed, &parsed.root, &connect)
            .map_err(|e| ConnectError::Data(format!("{what}: {e}")))?;
        let decoder = Arc::new(Decoder {
            schema: connect,
            node,
        });
        let mut cache = self.decoders.lock();
        if cache.len() >= self.config.cache_size {
            cache.clear();
        }
        cache.insert(id, decoder.clone());
        Ok(decoder)
    }

    fn encoder(&self, topic: &str, schema: &SchemaRef) -> Result<Arc<Encoder>, ConnectError> {
        {
            let cache = self.encoders.lock();
            if let Some((_, e)) = cache.iter().rev().find(|(s, _)| Arc::ptr_eq(s, schema)) {
                return Ok(e.clone());
            }
            if let Some((_, e)) = cache.iter().rev().find(|(s, _)| **s == **schema) {
                return Ok(e.clone());
            }
        }
        let encoder = Arc::new(self.register(topic, schema)?);
        let mut cache = self.encoders.lock();
        if cache.len() >= self.config.cache_size {
            cache.remove(0);
        }
        cache.push((schema.clone(), encoder.clone()));
        Ok(encoder)
    }

    /// Finds the id and writer for a Connect schema: registers it, looks it up, or takes the
    /// subject's latest version, as configured.
    fn register(&self, topic: &str, schema: &SchemaRef) -> Result<Encoder, ConnectError> {
        let avro_json = data::from_connect_schema(schema).map_err(|e| {
            ConnectError::Data(format!(
                "Converting Kafka Connect schema {} to an Avro schema failed: {e}",
                schema.describe()
            ))
        })?;
        let text = avro_json.to_string();
        let parsed = schema::parse(&text, &[]).map_err(|e| {
            ConnectError::Data(format!("the generated Avro schema is invalid: {e}"))
        })?;
        let subject = self.config.subject_strategy.subject(
            topic,
            self.config.is_key,
            Some(
                parsed
                    .root_name()
                    .unwrap_or_else(|| root_type_name(&parsed)),
            ),
        )?;
        let registry_schema = RegistrySchema {
            schema_type: RegistrySchemaType::Avro,
            text: text.clone(),
            references: Vec::new(),
        };
        let what = format!("Error registering Avro schema for subject {subject}");
        if self.config.use_latest_version {
            let what = format!("Error retrieving the latest schema of subject {subject}");
            let latest = self
                .client
                .latest(&subject)
                .map_err(|e| e.into_connect(&what))?;
            let references =
                resolve_references(self.client.as_ref(), &latest.schema.references, &what)?;
            let latest_parsed = schema::parse(&latest.schema.text, &references)
                .map_err(|e| ConnectError::Data(format!("{what}: {e}")))?;
            if self.config.latest_compatibility_strict {
                check_latest_reads(&text, &latest.schema.text, &references, latest.id)?;
            }
            let node = codec::compile(&latest_parsed, &latest_parsed.root, schema).map_err(|e| {
                ConnectError::Data(format!(
                    "the record's schema does not fit the latest schema (id {}) of subject {subject}: {e}",
                    latest.id
                ))
            })?;
            return Ok(Encoder {
                id: latest.id,
                node,
            });
        }
        let id = if self.config.auto_register {
            self.client
                .register(&subject, &registry_schema)
                .map_err(|e| e.into_connect(&what))?
        } else {
            let what = format!("Error retrieving Avro schema for subject {subject}");
            self.client
                .lookup(&subject, &registry_schema)
                .map_err(|e| match e {
                    RegistryClientError::Refused { code: 40401 | 40403, message, .. } => {
                        ConnectError::Data(format!(
                            "{what}: {message}; auto.register.schemas=false, so the schema must be registered beforehand"
                        ))
                    }
                    e => e.into_connect(&what),
                })?
                .id
        };
        let node = codec::compile(&parsed, &parsed.root, schema)
            .map_err(|e| ConnectError::Data(format!("{what}: {e}")))?;
        Ok(Encoder { id, node })
    }
}

/// The subject name a primitive root gets with RecordNameStrategy (Avro's type name).
fn root_type_name(parsed: &AvroSchemas) -> &'static str {
    use schema::AvroType::*;
    match parsed.root.ty {
        Null => "null",
        Boolean => "boolean",
        Int => "int",
        Long => "long",
        Float => "float",
        Double => "double",
        Bytes => "bytes",
        String => "string",
        Array(_) => "array",
        Map(_) => "map",
        Union(_) => "union",
        Named(_) => "record",
    }
}

/// Checks that the latest registered schema can read what the record's schema writes
/// (`latest.compatibility.strict`).
fn check_latest_reads(
    writer: &str,
    latest: &str,
    references: &[String],
    latest_id: i32,
) -> Result<(), ConnectError> {
    use crate::schema_registry::parse::without_logical_types as plain;
    let w = apache_avro::Schema::parse_str(&plain(writer));
    let r = if references.is_empty() {
        apache_avro::Schema::parse_str(&plain(latest))
    } else {
        let refs: Vec<String> = references.iter().map(|r| plain(r)).collect();
        apache_avro::Schema::parse_str_with_list(&plain(latest), &refs).map(|(s, _)| s)
    };
    let (Ok(w), Ok(r)) = (w, r) else {
        return Ok(());
    };
    apache_avro::schema_compatibility::SchemaCompatibility::can_read(&w, &r).map_err(|e| {
        ConnectError::Data(format!(
            "Schema being used is not backward compatible with the latest schema (id {latest_id}): {e} (latest.compatibility.strict=true)"
        ))
    })
}

/// The texts of referenced schemas, dependencies first.
fn resolve_references(
    client: &dyn RegistryClient,
    references: &[SchemaReference],
    what: &str,
) -> Result<Vec<String>, ConnectError> {
    Ok(
        super::confluent::access::resolve_references(client, references, what)?
            .into_iter()
            .map(|(_, text)| text)
            .collect(),
    )
}

/// The schema a schemaless primitive gets (Connect's inference); other values need one.
pub(crate) fn inferred_schema(value: &Value) -> Option<SchemaRef> {
    Some(match value {
        Value::Boolean(_) => Schema::boolean(),
        Value::Int8(_) => Schema::int8(),
        Value::Int16(_) => Schema::int16(),
        Value::Int32(_) => Schema::int32(),
        Value::Int64(_) => Schema::int64(),
        Value::Float32(_) => Schema::float32(),
        Value::Float64(_) => Schema::float64(),
        Value::String(_) => Schema::string(),
        Value::Bytes(_) => Schema::bytes(),
        Value::Struct(s) => s.schema().clone(),
        _ => return None,
    })
}

impl Converter for AvroConverter {
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
                inferred = inferred_schema(value).ok_or_else(|| {
                    ConnectError::Data(format!(
                        "AvroConverter needs a schema for the record {} of topic {topic}: a schemaless {} has no Avro schema (give the record a schema, or use JsonConverter with schemas.enable=false)",
                        self.config.what(),
                        value.type_name()
                    ))
                })?;
                &inferred
            }
        };
        if schema.schema_type == SchemaType::Struct && !matches!(value, Value::Struct(_)) {
            return Err(ConnectError::Data(format!(
                "Failed to serialize Avro data from topic {topic}: the {} schema is a struct, the value is a {}",
                self.config.what(),
                value.type_name()
            )));
        }
        let encoder = self.encoder(topic, schema)?;
        let mut out = Vec::with_capacity(64);
        write_frame(encoder.id, &mut out);
        encoder.node.encode(value, &mut out).map_err(|e| {
            ConnectError::Data(format!(
                "Failed to serialize Avro data from topic {topic} with schema id {}: {}",
                encoder.id,
                e.describe()
            ))
        })?;
        Ok(Some(out))
    }

    fn to_connect(&self, topic: &str, data: Option<&[u8]>) -> Result<SchemaAndValue, ConnectError> {
        let Some(data) = data else {
            return Ok(SchemaAndValue::new(None, Value::Null));
        };
        let (id, mut payload) = read_frame(data).map_err(|e| {
            ConnectError::Data(format!(
                "Failed to deserialize data for topic {topic} to Avro: {e}"
            ))
        })?;
        let decoder = self.decoder(id)?;
        let value = decoder.node.decode(&mut payload).map_err(|e| {
            ConnectError::Data(format!(
                "Failed to deserialize data for topic {topic} to Avro: Error deserializing Avro message for id {id}: {}",
                e.describe()
            ))
        })?;
        Ok(SchemaAndValue::new(Some(decoder.schema.clone()), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{logical_schemas, SchemaBuilder, Struct};
    use crate::schema_registry::client::MockClient;
    use crate::schema_registry::{Registry, RegistrySettings};

    fn converter(registry: &Arc<Registry>, extra: &[(&str, &str)], is_key: bool) -> AvroConverter {
        let mut config = ConfigMap::new();
        config.insert("schema.registry.url".into(), "http://unused".into());
        for (k, v) in extra {
            config.insert(k.to_string(), v.to_string());
        }
        AvroConverter::new(Arc::new(MockClient::new(registry.clone())), &config, is_key).unwrap()
    }

    fn registry() -> Arc<Registry> {
        Arc::new(Registry::in_memory(RegistrySettings::default()))
    }

    fn user_schema(with_email: bool) -> SchemaRef {
        let mut b = SchemaBuilder::struct_()
            .name("com.example.User")
            .field("id", Schema::int64())
            .field("balance", logical_schemas::decimal(2).build());
        if with_email {
            b = b.field("email", Schema::optional_string());
        }
        b.build()
    }

    #[test]
    fn round_trip_through_the_registry() {
        let reg = registry();
        let c = converter(&reg, &[], false);
        let schema = user_schema(false);
        let mut s = Struct::new(schema.clone());
        s.put("id", Value::Int64(7)).unwrap();
        s.put("balance", Value::Bytes(vec![0x30, 0x39])).unwrap();
        let bytes = c
            .to_bytes("users", Some(&schema), &Value::Struct(s.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(&bytes[..5], &[0, 0, 0, 0, 1]);
        let subjects = reg.read(|st| st.subjects("", crate::schema_registry::store::Listing::Live));
        assert_eq!(subjects, vec!["users-value"]);
        // Another converter (another task) reads it back.
        let back = converter(&reg, &[], false)
            .to_connect("users", Some(&bytes))
            .unwrap();
        assert_eq!(back.schema.as_ref(), Some(&schema));
        assert_eq!(back.value, Value::Struct(s));
        // Tombstones.
        assert_eq!(
            c.to_bytes("users", Some(&schema), &Value::Null).unwrap(),
            None
        );
        assert_eq!(c.to_connect("users", None).unwrap().value, Value::Null);
    }

    #[test]
    fn bad_input_names_the_id_and_field() {
        let reg = registry();
        let c = converter(&reg, &[], false);
        let e = c.to_connect("t", Some(b"plain text")).unwrap_err();
        assert!(matches!(e, ConnectError::Data(_)));
        assert!(e.to_string().contains("Unknown magic byte"), "{e}");
        let e = c.to_connect("t", Some(&[0, 0, 0, 0, 42, 1])).unwrap_err();
        assert!(e.to_string().contains("id 42"), "{e}");
        assert!(matches!(e, ConnectError::Data(_)));
        // A record cut short: the field is named.
        let schema = user_schema(false);
        let mut s = Struct::new(schema.clone());
        s.put("id", Value::Int64(1_000_000)).unwrap();
        s.put("balance", Value::Bytes(vec![1])).unwrap();
        let bytes = c
            .to_bytes("t", Some(&schema), &Value::Struct(s))
            .unwrap()
            .unwrap();
        let e = c
            .to_connect("t", Some(&bytes[..6]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("for id 1: field id:"), "{e}");
        // A value that does not fit its schema.
        let e = c
            .to_bytes(
                "t",
                Some(&schema),
                &Value::Struct(Struct::new(schema.clone())),
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("field id"), "{e}");
    }

    #[test]
    fn evolution_registers_new_versions_and_reads_old_data() {
        let reg = registry();
        let c = converter(&reg, &[], false);
        let v1 = user_schema(false);
        let mut s1 = Struct::new(v1.clone());
        s1.put("id", Value::Int64(1)).unwrap();
        s1.put("balance", Value::Bytes(vec![1])).unwrap();
        let old = c
            .to_bytes("u", Some(&v1), &Value::Struct(s1))
            .unwrap()
            .unwrap();
        let v2 = user_schema(true);
        let mut s2 = Struct::new(v2.clone());
        s2.put("id", Value::Int64(2)).unwrap();
        s2.put("balance", Value::Bytes(vec![2])).unwrap();
        s2.put("email", "a@b".into()).unwrap();
        let new = c
            .to_bytes("u", Some(&v2), &Value::Struct(s2))
            .unwrap()
            .unwrap();
        assert_eq!(&new[..5], &[0, 0, 0, 0, 2]);
        assert_eq!(
            reg.read(|s| s.versions("u-value", crate::schema_registry::store::Listing::Live)),
            vec![1, 2]
        );
        let reader = converter(&reg, &[], false);
        assert_eq!(
            reader.to_connect("u", Some(&old)).unwrap().schema,
            Some(v1.clone())
        );
        assert_eq!(
            reader.to_connect("u", Some(&new)).unwrap().schema,
            Some(v2.clone())
        );
        // An incompatible change is refused by the registry: a data error.
        let bad = SchemaBuilder::struct_()
            .name("com.example.User")
            .field("id", Schema::string())
            .build();
        let mut s3 = Struct::new(bad.clone());
        s3.put("id", "x".into()).unwrap();
        let e = c.to_bytes("u", Some(&bad), &Value::Struct(s3)).unwrap_err();
        assert!(e.to_string().contains("incompatible"), "{e}");
    }

    #[test]
    fn strategies_and_latest_version() {
        let reg = registry();
        let c = converter(
            &reg,
            &[(
                "value.subject.name.strategy",
                "io.confluent.kafka.serializers.subject.RecordNameStrategy",
            )],
            false,
        );
        let v2 = user_schema(true);
        let mut s = Struct::new(v2.clone());
        s.put("id", Value::Int64(2)).unwrap();
        s.put("balance", Value::Bytes(vec![2])).unwrap();
        c.to_bytes("t", Some(&v2), &Value::Struct(s)).unwrap();
        assert_eq!(
            reg.read(|st| st.subjects("", crate::schema_registry::store::Listing::Live)),
            vec!["com.example.User"]
        );
        // use.latest.version writes older records with the latest schema (email defaults).
        let latest = converter(
            &reg,
            &[
                (
                    "value.subject.name.strategy",
                    "io.confluent.kafka.serializers.subject.RecordNameStrategy",
                ),
                ("use.latest.version", "true"),
                ("auto.register.schemas", "false"),
            ],
            false,
        );
        let v1 = user_schema(false);
        let mut old = Struct::new(v1.clone());
        old.put("id", Value::Int64(1)).unwrap();
        old.put("balance", Value::Bytes(vec![1])).unwrap();
        let bytes = latest
            .to_bytes("t", Some(&v1), &Value::Struct(old))
            .unwrap()
            .unwrap();
        assert_eq!(&bytes[..5], &[0, 0, 0, 0, 1]);
        let back = latest.to_connect("t", Some(&bytes)).unwrap();
        assert_eq!(back.schema, Some(v2));
        // Without auto-registration, an unknown schema is a data error.
        let lookup_only = converter(&reg, &[("auto.register.schemas", "false")], true);
        let e = lookup_only
            .to_bytes("t", Some(&Schema::string()), &"k".into())
            .unwrap_err();
        assert!(e.to_string().contains("auto.register.schemas=false"), "{e}");
    }

    #[test]
    fn schemaless_primitives_are_inferred() {
        let reg = registry();
        let c = converter(&reg, &[], true);
        let bytes = c.to_bytes("t", None, &"key".into()).unwrap().unwrap();
        assert_eq!(&bytes[5..], &[6, b'k', b'e', b'y']);
        assert_eq!(
            reg.read(|s| s.get(
                "t-key",
                crate::schema_registry::types::VersionSpec::Latest,
                false
            ))
            .unwrap()
            .schema
            .text
            .as_ref(),
            "\"string\""
        );
        let e = c
            .to_bytes("t", None, &Value::Array(vec![]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs a schema"), "{e}");
    }
}
