//! The registry calls every Schema Registry converter makes, with the errors phrased as
//! Connect converter errors: fetching a schema by id (with its references), and finding the
//! id to write a schema with (registering it, looking it up, or taking the subject's latest
//! version, as configured).

use super::{
    RegistryClient, RegistryClientError, RegistryConverterConfig, RegistrySchema,
    RegistrySchemaType, SchemaReference,
};
use crate::errors::ConnectError;

/// A schema fetched by id: its text and the `(name, text)` of everything it references,
/// dependencies first.
pub struct Fetched {
    pub schema: RegistrySchema,
    pub references: Vec<(String, String)>,
}

/// The schema with id `id`, which must be of type `expected`.
pub fn fetch_by_id(
    client: &dyn RegistryClient,
    id: i32,
    expected: RegistrySchemaType,
    is_key: bool,
) -> Result<Fetched, ConnectError> {
    let what = format!(
        "Error retrieving {} {} schema for id {id}",
        kind_name(expected),
        if is_key { "key" } else { "value" }
    );
    let schema = client.schema_by_id(id).map_err(|e| e.into_connect(&what))?;
    if schema.schema_type != expected {
        return Err(ConnectError::Data(format!(
            "{what}: the schema is {}, not {}; use the matching converter",
            schema.schema_type.as_str(),
            expected.as_str()
        )));
    }
    let references = resolve_references(client, &schema.references, &what)?;
    Ok(Fetched { schema, references })
}

/// The id to write `schema` with, under the subject `subject`: the subject's latest version
/// (`use.latest.version`, returned with its schema), or the schema registered or looked up.
pub fn id_for(
    client: &dyn RegistryClient,
    config: &RegistryConverterConfig,
    subject: &str,
    schema: &RegistrySchema,
) -> Result<(i32, Option<Fetched>), ConnectError> {
    let kind = kind_name(schema.schema_type);
    if config.use_latest_version {
        let what = format!("Error retrieving the latest schema of subject {subject}");
        let latest = client.latest(subject).map_err(|e| e.into_connect(&what))?;
        let references = resolve_references(client, &latest.schema.references, &what)?;
        return Ok((
            latest.id,
            Some(Fetched {
                schema: latest.schema,
                references,
            }),
        ));
    }
    if config.auto_register {
        let what = format!("Error registering {kind} schema for subject {subject}");
        return Ok((
            client
                .register(subject, schema)
                .map_err(|e| e.into_connect(&what))?,
            None,
        ));
    }
    let what = format!("Error retrieving {kind} schema for subject {subject}");
    let found = client.lookup(subject, schema).map_err(|e| match e {
        RegistryClientError::Refused {
            code: 40401 | 40403,
            message,
            ..
        } => ConnectError::Data(format!(
            "{what}: {message}; auto.register.schemas=false, so the schema must be registered beforehand"
        )),
        e => e.into_connect(&what),
    })?;
    Ok((found.id, None))
}

fn kind_name(t: RegistrySchemaType) -> &'static str {
    match t {
        RegistrySchemaType::Avro => "Avro",
        RegistrySchemaType::Protobuf => "Protobuf",
        RegistrySchemaType::Json => "JSON",
    }
}

/// The `(name, text)` of referenced schemas, dependencies first.
pub fn resolve_references(
    client: &dyn RegistryClient,
    references: &[SchemaReference],
    what: &str,
) -> Result<Vec<(String, String)>, ConnectError> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    resolve_into(client, references, what, &mut out, &mut seen, 0)?;
    Ok(out)
}

fn resolve_into(
    client: &dyn RegistryClient,
    references: &[SchemaReference],
    what: &str,
    out: &mut Vec<(String, String)>,
    seen: &mut Vec<(String, i32)>,
    depth: usize,
) -> Result<(), ConnectError> {
    if depth > 32 {
        return Err(ConnectError::Data(format!(
            "{what}: references nest too deeply"
        )));
    }
    for r in references {
        let key = (r.subject.clone(), r.version);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let version = client
            .version(&r.subject, r.version)
            .map_err(|e| e.into_connect(format!("{what}: reference {}", r.name)))?;
        resolve_into(
            client,
            &version.schema.references,
            what,
            out,
            seen,
            depth + 1,
        )?;
        out.push((r.name.clone(), version.schema.text));
    }
    Ok(())
}
