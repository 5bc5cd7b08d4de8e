//! Avro schemas as the converter reads them: parsed from their JSON with every attribute kept
//! (`connect.name`, `connect.type`, `connect.parameters`, `logicalType`, ...), named types
//! resolved (namespaces inherited, references by name, schemas from registry references).
//! Named types live in an arena, so recursive schemas parse; the Connect mapping refuses them.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};

/// The primitive and complex Avro types.
#[derive(Clone, Debug, PartialEq)]
pub enum AvroType {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Array(Box<AvroSchema>),
    Map(Box<AvroSchema>),
    Union(Vec<AvroSchema>),
    /// A record, enum or fixed: an index into [`AvroSchemas::named`].
    Named(usize),
}

/// A schema node with its attributes (everything but the structural keys).
#[derive(Clone, Debug, PartialEq)]
pub struct AvroSchema {
    pub ty: AvroType,
    pub props: Map<String, Json>,
}

impl AvroSchema {
    pub fn new(ty: AvroType) -> Self {
        AvroSchema {
            ty,
            props: Map::new(),
        }
    }

    pub fn prop_str(&self, key: &str) -> Option<&str> {
        self.props.get(key).and_then(|v| v.as_str())
    }

    pub fn logical_type(&self) -> Option<&str> {
        self.prop_str("logicalType")
    }
}

/// A record field.
#[derive(Clone, Debug, PartialEq)]
pub struct AvroField {
    pub name: String,
    pub schema: AvroSchema,
    pub default: Option<Json>,
    pub doc: Option<String>,
    pub props: Map<String, Json>,
}

/// The body of a named type.
#[derive(Clone, Debug, PartialEq)]
pub enum NamedKind {
    Record(Vec<AvroField>),
    Enum {
        symbols: Vec<String>,
        default: Option<String>,
    },
    Fixed(usize),
}

/// A named type: full name, doc, attributes, body.
#[derive(Clone, Debug, PartialEq)]
pub struct Named {
    pub full_name: String,
    pub doc: Option<String>,
    pub props: Map<String, Json>,
    pub kind: NamedKind,
}

impl Named {
    pub fn simple_name(&self) -> &str {
        self.full_name.rsplit('.').next().unwrap_or(&self.full_name)
    }

    pub fn namespace(&self) -> Option<&str> {
        self.full_name.rsplit_once('.').map(|(ns, _)| ns)
    }
}

/// A parsed schema: its root and the named types it (and its references) define.
#[derive(Clone, Debug, PartialEq)]
pub struct AvroSchemas {
    pub root: AvroSchema,
    pub named: Vec<Named>,
}

impl AvroSchemas {
    pub fn named(&self, index: usize) -> &Named {
        &self.named[index]
    }

    /// The full name of the root when it is a named type.
    pub fn root_name(&self) -> Option<&str> {
        match self.root.ty {
            AvroType::Named(i) => Some(&self.named[i].full_name),
            _ => None,
        }
    }
}

/// Parses a schema's JSON text; `references` are the texts of the schemas it references
/// (dependencies first), whose named types it may use.
pub fn parse(text: &str, references: &[String]) -> Result<AvroSchemas, String> {
    let mut parser = Parser::default();
    for r in references {
        let json: Json =
            serde_json::from_str(r).map_err(|e| format!("a referenced schema is not JSON: {e}"))?;
        parser.parse(&json, None)?;
    }
    let json: Json = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let root = parser.parse(&json, None)?;
    for (i, n) in parser.named.iter().enumerate() {
        if n.is_none() {
            return Err(format!(
                "the type {} is used but never defined",
                parser
                    .names
                    .iter()
                    .find(|(_, v)| **v == i)
                    .map(|(k, _)| k.as_str())
                    .unwrap_or("?")
            ));
        }
    }
    Ok(AvroSchemas {
        root,
        named: parser.named.into_iter().flatten().collect(),
    })
}

#[derive(Default)]
struct Parser {
    names: HashMap<String, usize>,
    /// `None` while a named type's body is being parsed (a recursive reference).
    named: Vec<Option<Named>>,
}

const PRIMITIVES: &[&str] = &[
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

fn primitive(name: &str) -> Option<AvroType> {
    Some(match name {
        "null" => AvroType::Null,
        "boolean" => AvroType::Boolean,
        "int" => AvroType::Int,
        "long" => AvroType::Long,
        "float" => AvroType::Float,
        "double" => AvroType::Double,
        "bytes" => AvroType::Bytes,
        "string" => AvroType::String,
        _ => return None,
    })
}

fn full_name(name: &str, namespace: Option<&str>) -> String {
    if name.contains('.') {
        return name.to_string();
    }
    match namespace.filter(|ns| !ns.is_empty()) {
        Some(ns) => format!("{ns}.{name}"),
        None => name.to_string(),
    }
}

impl Parser {
    fn reference(&self, name: &str, namespace: Option<&str>) -> Option<usize> {
        self.names
            .get(&full_name(name, namespace))
            .or_else(|| self.names.get(name))
            .copied()
    }

    fn parse(&mut self, json: &Json, namespace: Option<&str>) -> Result<AvroSchema, String> {
        match json {
            Json::String(name) => {
                if let Some(ty) = primitive(name) {
                    return Ok(AvroSchema::new(ty));
                }
                self.reference(name, namespace)
                    .map(|i| AvroSchema::new(AvroType::Named(i)))
                    .ok_or_else(|| format!("unknown type {name}"))
            }
            Json::Array(branches) => Ok(AvroSchema::new(AvroType::Union(
                branches
                    .iter()
                    .map(|b| self.parse(b, namespace))
                    .collect::<Result<_, _>>()?,
            ))),
            Json::Object(obj) => self.parse_object(obj, namespace),
            other => Err(format!("{other} is not an Avro schema")),
        }
    }

    fn parse_object(
        &mut self,
        obj: &Map<String, Json>,
        namespace: Option<&str>,
    ) -> Result<AvroSchema, String> {
        let ty = obj.get("type").ok_or("a schema object has no \"type\"")?;
        let type_name = match ty {
            Json::String(t) => t.as_str(),
            // {"type": {"type": "string"}} or {"type": [..]}: the inner schema.
            other => return self.parse(other, namespace),
        };
        let props = |skip: &[&str]| -> Map<String, Json> {
            obj.iter()
                .filter(|(k, _)| !skip.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        if PRIMITIVES.contains(&type_name) {
            let mut s = AvroSchema::new(primitive(type_name).unwrap_or(AvroType::Null));
            s.props = props(&["type"]);
            return Ok(s);
        }
        match type_name {
            "array" => {
                let items = obj.get("items").ok_or("an array schema has no \"items\"")?;
                let mut s =
                    AvroSchema::new(AvroType::Array(Box::new(self.parse(items, namespace)?)));
                s.props = props(&["type", "items"]);
                Ok(s)
            }
            "map" => {
                let values = obj.get("values").ok_or("a map schema has no \"values\"")?;
                let mut s =
                    AvroSchema::new(AvroType::Map(Box::new(self.parse(values, namespace)?)));
                s.props = props(&["type", "values"]);
                Ok(s)
            }
            "record" | "error" | "enum" | "fixed" => {
                let name = obj
                    .get("name")
                    .and_then(|n| n.as_str())
                    .ok_or_else(|| format!("a {type_name} schema has no \"name\""))?;
                let own_ns = obj.get("namespace").and_then(|n| n.as_str());
                let full = full_name(name, own_ns.or(namespace));
                let inner_ns = full.rsplit_once('.').map(|(ns, _)| ns.to_string());
                let index = match self.names.get(&full) {
                    Some(i) if self.named[*i].is_some() => {
                        return Err(format!("the type {full} is defined twice"))
                    }
                    Some(i) => *i,
                    None => {
                        self.named.push(None);
                        let i = self.named.len() - 1;
                        self.names.insert(full.clone(), i);
                        i
                    }
                };
                let doc = obj.get("doc").and_then(|d| d.as_str()).map(String::from);
                let kind = match type_name {
                    "enum" => NamedKind::Enum {
                        symbols: obj
                            .get("symbols")
                            .and_then(|s| s.as_array())
                            .ok_or("an enum schema has no \"symbols\"")?
                            .iter()
                            .map(|s| {
                                s.as_str()
                                    .map(String::from)
                                    .ok_or("an enum symbol is not a string")
                            })
                            .collect::<Result<_, _>>()?,
                        default: obj
                            .get("default")
                            .and_then(|d| d.as_str())
                            .map(String::from),
                    },
                    "fixed" => NamedKind::Fixed(
                        obj.get("size")
                            .and_then(|s| s.as_u64())
                            .ok_or("a fixed schema has no \"size\"")?
                            as usize,
                    ),
                    _ => {
                        let fields = obj
                            .get("fields")
                            .and_then(|f| f.as_array())
                            .ok_or_else(|| format!("the record {full} has no \"fields\""))?;
                        let mut out = Vec::with_capacity(fields.len());
                        for f in fields {
                            let fobj = f.as_object().ok_or("a record field is not an object")?;
                            let fname = fobj
                                .get("name")
                                .and_then(|n| n.as_str())
                                .ok_or_else(|| format!("a field of {full} has no \"name\""))?;
                            let ftype = fobj.get("type").ok_or_else(|| {
                                format!("the field {full}.{fname} has no \"type\"")
                            })?;
                            let schema = self.parse(ftype, inner_ns.as_deref())?;
                            out.push(AvroField {
                                name: fname.to_string(),
                                schema,
                                default: fobj.get("default").cloned(),
                                doc: fobj.get("doc").and_then(|d| d.as_str()).map(String::from),
                                props: fobj
                                    .iter()
                                    .filter(|(k, _)| {
                                        !matches!(
                                            k.as_str(),
                                            "name"
                                                | "type"
                                                | "default"
                                                | "doc"
                                                | "aliases"
                                                | "order"
                                        )
                                    })
                                    .map(|(k, v)| (k.clone(), v.clone()))
                                    .collect(),
                            });
                        }
                        NamedKind::Record(out)
                    }
                };
                self.named[index] = Some(Named {
                    full_name: full,
                    doc,
                    props: props(&[
                        "type",
                        "name",
                        "namespace",
                        "doc",
                        "fields",
                        "symbols",
                        "size",
                        "aliases",
                        "default",
                    ]),
                    kind,
                });
                Ok(AvroSchema::new(AvroType::Named(index)))
            }
            other => self
                .reference(other, namespace)
                .map(|i| {
                    let mut s = AvroSchema::new(AvroType::Named(i));
                    s.props = props(&["type"]);
                    s
                })
                .ok_or_else(|| format!("unknown type {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_namespaces_and_props() {
        let s = parse(
            r#"{"type":"record","name":"User","namespace":"com.x","fields":[
                {"name":"id","type":{"type":"int","connect.type":"int16"}},
                {"name":"home","type":{"type":"record","name":"Address","fields":[{"name":"city","type":"string"}]}},
                {"name":"work","type":["null","Address"],"default":null},
                {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}}
            ],"connect.name":"com.x.User"}"#,
            &[],
        )
        .unwrap();
        assert_eq!(s.root_name(), Some("com.x.User"));
        let user = s.named(0);
        assert_eq!(user.props["connect.name"], "com.x.User");
        let NamedKind::Record(fields) = &user.kind else {
            panic!()
        };
        assert_eq!(fields[0].schema.prop_str("connect.type"), Some("int16"));
        let AvroType::Union(branches) = &fields[2].schema.ty else {
            panic!()
        };
        let AvroType::Named(a) = branches[1].ty else {
            panic!()
        };
        assert_eq!(s.named(a).full_name, "com.x.Address");
        assert_eq!(fields[2].default, Some(Json::Null));
    }

    #[test]
    fn references_and_errors() {
        let address = r#"{"type":"record","name":"Address","namespace":"x","fields":[{"name":"c","type":"string"}]}"#;
        let user = r#"{"type":"record","name":"U","namespace":"x","fields":[{"name":"a","type":"Address"}]}"#;
        assert!(parse(user, &[address.to_string()]).is_ok());
        assert!(parse(user, &[]).unwrap_err().contains("unknown type"));
        assert!(parse("{", &[]).is_err());
        // Recursive types parse.
        let list =
            r#"{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}"#;
        assert!(parse(list, &[]).is_ok());
    }
}
