//! `conveyor.Schema`: an immutable Connect schema, built with one constructor per type
//! (`Schema.int64()`, `Schema.struct({...})`, `Schema.decimal(2)`, ...).

use std::collections::BTreeMap;

use pyo3::basic::CompareOp;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::values::{to_py, to_value, Path};
use crate::data::{logical_schemas, SchemaBuilder, SchemaRef, SchemaType};

/// A Connect schema (Kafka Connect's `Schema`). Immutable; build one with the static
/// constructors.
#[pyclass(frozen, module = "conveyor", name = "Schema")]
pub struct PySchema {
    pub schema: SchemaRef,
}

/// The attributes every constructor takes.
struct Common<'py> {
    optional: bool,
    default: Option<Bound<'py, PyAny>>,
    name: Option<String>,
    version: Option<i32>,
    doc: Option<String>,
    parameters: Option<BTreeMap<String, String>>,
}

impl Common<'_> {
    fn apply(self, mut b: SchemaBuilder) -> PyResult<PySchema> {
        b = b.set_optional(self.optional);
        if let Some(n) = self.name {
            b = b.name(n);
        }
        if let Some(v) = self.version {
            b = b.version(v);
        }
        if let Some(d) = self.doc {
            b = b.doc(d);
        }
        for (k, v) in self.parameters.unwrap_or_default() {
            b = b.parameter(k, v);
        }
        if let Some(default) = self.default.filter(|d| !d.is_none()) {
            let bare = b.clone().build();
            let value = to_value(&default, &bare, &Path::Root("default"))?;
            b = b.default_value(value);
        }
        Ok(PySchema { schema: b.build() })
    }
}

fn repr_value(py: Python<'_>, schema: &SchemaRef) -> String {
    match &schema.default {
        Some(v) => to_py(py, v, Some(schema))
            .and_then(|o| o.repr().map(|r| r.to_string()))
            .unwrap_or_else(|_| "?".into()),
        None => String::new(),
    }
}

#[pymethods]
impl PySchema {
    /// An INT8 schema (Python `int`, -128..127).
    #[staticmethod]
    #[pyo3(signature = (*, optional=false, default=None, name=None, version=None, doc=None, parameters=None))]
    fn int8<'py>(
        optional: bool,
        default: Option<Bound<'py, PyAny>>,
        name: Option<String>,
        version: Option<i32>,
        doc: Option<String>,
        parameters: Option<BTreeMap<String, String>>,
    ) -> PyResult<PySchema> {
        Common {
            optional,
            default,
            name,
            version,
            doc,
            parameters,
        }
        .apply(SchemaBuilder::new(SchemaType::Int8))
    }

    /// An INT16 schema (Python `int`).
    #[staticmethod]
    #[pyo3(signature = (*, optional=false, default=None, name=None, version=None, doc=None, parameters=None))]
    fn int16<'py>(
        optional: bool,
        default: Option<Bound<'py, PyAny>>,
        name: Option<String>,
        version: Option<i32>,
        doc: Option<String>,
        parameters: Option<BTreeMap<String, String>>,
    ) -> PyResult<PySchema> {
        Common {
            optional,
            default,
            name,
            version,
            doc,
            parameters,
        }
        .apply(SchemaBuilder::new(SchemaType::Int16))
    }

    /// An INT32 schema (Python `int`).
    #[staticmethod]
    #[pyo3(signature = (*, optional=false, default=None, name=None, version=None, doc=None, parameters=None))]
    fn int32<'py>(
        optional: bool,
        default: Option<Bound<'py, PyAny>>,
        name: Option<String>,
        version: Option<i32>,
        doc: Option<String>,
        parameters: Option<BTreeMap<String, String>>,
    ) -> PyResult<PySchema> {
        Common {
            optional,
            default,
            name,
            version,
            doc,
            parameters,
        }
        .apply(SchemaBuilder::new(SchemaType::Int32))
    }

    /// An INT64 schema (Python `int`).
    #[staticmethod]
    #[pyo3(signature = (*, optional=false, default=None, name=None, version=None, doc=None, parameters=None))]
    fn int64<'py>(
        optional: bool,
        default: Option<Bound<'py, PyAny>>,
        name: Option<String>,
        version: Option<i32>,
        doc: Option<String>,
        parameters: Option<BTreeMap<String, String>>,
    ) -> PyResult<PySchema> {
        Common {
            optional,
            default,
            name,
            version,
            doc,
            parameters,
        }
        .apply(SchemaBuilder::new(SchemaType::Int64))
    }

    /// A FLOAT32 schema (Python `float`).
    #[staticmethod]
    #[pyo3(signature = (*, optional=false, default=None, name=None, version=None, doc=None, parameters=None))]
    fn float32<'py>(
        optional: bool,
        default: Option<Bound<'py, PyAny>>,
        name: Option<String>,
        version: Option<i32>,
        doc: Option<String>,
        parameters: Option<BTreeMap<String, String>>,
    ) -> PyResult<PySchema> {
        Common {
            optional,
            default,
            name,
            version,
            doc,
            parameters,
        }
        .apply(SchemaBuilder::new(SchemaType::Float32))
    }

    /// A FLOAT64 schema (Python `float`).
    #[staticmethod]
    #[pyo3(signature = (*, optional=false, default=None, name=None, version=None, doc=None, parameters=None))]
    fn float64<'py>(
        optional: bool,
        default: Option<Bound<'py, PyAny>>,
        name: Option<String>,
        version: Option<i32>,
        doc: Option<String>,
        parameters: Option<BTreeMap<String, String>>,
    ) -> PyResult<PySchema> {
        Common {
            optional,
            default,
            name,
            version,
            doc,
            parameters,
        }
        .apply(SchemaBuilder::new(SchemaType::Float64))
    }

    /// A BOOLEAN schema (Python `bool`).
    #[staticmethod]
    #[pyo3(signature = (*, optional=false, default=None, name=None, version=None, doc=None, parameters=None))]
    fn boolean<'py>(
        optional: bool,
        default: Option<Bound<'py, PyAny>>,
        name: Option<String>,
        version: Option<i32>,
        doc: Option<String>,
        parameters: Option<BTreeMap<String, String>>,
    ) -> PyResult<PySchema> {
        Common {
            optional,
            default,
            name,
            version,
            doc,
            parameters,
        }
        .apply(SchemaBuilder::new(SchemaType::Boolean))
    }

    /// A STRING schema (Python `str`).
    #[staticmethod]
    #[pyo3(signature = (*, optional=false, default=None, name=None, version=None, doc=None, parameters=None))]
    fn string<'py>(
        optional: bool,
        default: Option<Bound<'py, PyAny>>,
        name: Option<String>,
        version: Option<i32>,
        doc: Option<String>,
        parameters: Option<BTreeMap<String, String>>,
    ) -> PyResult<PySchema> {
        Common {
            optional,
            default,
            name,
            version,
            doc,
            parameters,
        }
        .apply(SchemaBuilder::new(SchemaType::String))
    }

    /// A BYTES schema (Python `bytes`).
    #[staticmethod]
    #[pyo3(signature = (*, optional=false, default=None, name=None, version=None, doc=None, parameters=None))]
    fn bytes<'py>(
        optional: bool,
        default: Option<Bound<'py, PyAny>>,
        name: Option<String>,
        version: Option<i32>,
        doc: Option<String>,
        parameters: Option<BTreeMap<String, String>>,
    ) -> PyResult<PySchema> {
        Common {
            optional,
            default,
            name,
            version,
            doc,
            parameters,
        }
        .apply(SchemaBuilder::new(SchemaType::Bytes))
    }

    /// A STRUCT schema with `fields` (a dict of field name to schema, in order).
    #[staticmethod]
    #[pyo3(signature = (fields, *, optional=false, default=None, name=None, version=None, doc=None, parameters=None))]
    #[allow(clippy::too_many_arguments)]
    fn r#struct<'py>(
        fields: &Bound<'py, PyAny>,
        optional: bool,
        default: Option<Bound<'py, PyAny>>,
        name: Option<String>,
        version: Option<i32>,
        doc: Option<String>,
        parameters: Option<BTreeMap<String, String>>,
    ) -> PyResult<PySchema> {
        let mut b = SchemaBuilder::struct_();
        let pairs: Vec<(String, PyRef<'py, PySchema>)> = if let Ok(d) = fields.cast::<PyDict>() {
            d.iter()
                .map(|(k, v)| Ok((k.extract::<String>()?, v.extract::<PyRef<'py, PySchema>>()?)))
                .collect::<PyResult<_>>()?
        } else {
            fields
                .try_iter()?
                .map(|item| item?.extract::<(String, PyRef<'py, PySchema>)>())
                .collect::<PyResult<_>>()
                .map_err(|_| {
                    pyo3::exceptions::PyTypeError::new_err(
                        "fields must be a dict of field name to Schema (or a list of (name, Schema) pairs)",
                    )
                })?
        };
        let mut seen = std::collections::HashSet::new();
        for (field_name, schema) in pairs {
            if !seen.insert(field_name.clone()) {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "field '{field_name}' is defined twice"
                )));
            }
            b = b.field(field_name, schema.schema.clone());
        }
        Common {
            optional,
            default,
            name,
            version,
            doc,
            parameters,
        }
        .apply(b)
    }

    /// An ARRAY schema whose items have schema `items`.
    #[staticmethod]
    #[pyo3(signature = (items, *, optional=false, default=None, name=None, version=None, doc=None, parameters=None))]
    #[allow(clippy::too_many_arguments)]
    fn array<'py>(
        items: PyRef<'py, PySchema>,
        optional: bool,
        default: Option<Bound<'py, PyAny>>,
        name: Option<String>,
        version: Option<i32>,
        doc: Option<String>,
        parameters: Option<BTreeMap<String, String>>,
    ) -> PyResult<PySchema> {
        Common {
            optional,
            default,
            name,
            version,
            doc,
            parameters,
        }
        .apply(SchemaBuilder::array(items.schema.clone()))
    }

    /// A MAP schema from `keys` to `values`.
    #[staticmethod]
    #[pyo3(signature = (keys, values, *, optional=false, default=None, name=None, version=None, doc=None, parameters=None))]
    #[allow(clippy::too_many_arguments)]
    fn map<'py>(
        keys: PyRef<'py, PySchema>,
        values: PyRef<'py, PySchema>,
        optional: bool,
        default: Option<Bound<'py, PyAny>>,
        name: Option<String>,
        version: Option<i32>,
        doc: Option<String>,
        parameters: Option<BTreeMap<String, String>>,
    ) -> PyResult<PySchema> {
        Common {
            optional,
            default,
            name,
            version,
            doc,
            parameters,
        }
        .apply(SchemaBuilder::map(
            keys.schema.clone(),
            values.schema.clone(),
        ))
    }

    /// Connect's Decimal logical type (`decimal.Decimal` values with `scale` decimal places).
    #[staticmethod]
    #[pyo3(signature = (scale, *, optional=false, default=None, doc=None))]
    fn decimal<'py>(
        scale: i32,
        optional: bool,
        default: Option<Bound<'py, PyAny>>,
        doc: Option<String>,
    ) -> PyResult<PySchema> {
        Common {
            optional,
            default,
            name: None,
            version: None,
            doc,
            parameters: None,
        }
        .apply(logical_schemas::decimal(scale))
    }

    /// Connect's Date logical type (`datetime.date` values).
    #[staticmethod]
    #[pyo3(signature = (*, optional=false, default=None, doc=None))]
    fn date<'py>(
        optional: bool,
        default: Option<Bound<'py, PyAny>>,
        doc: Option<String>,
    ) -> PyResult<PySchema> {
        Common {
            optional,
            default,
            name: None,
            version: None,
            doc,
            parameters: None,
        }
        .apply(logical_schemas::date())
    }

    /// Connect's Time logical type (`datetime.time` values, millisecond precision).
    #[staticmethod]
    #[pyo3(signature = (*, optional=false, default=None, doc=None))]
    fn time<'py>(
        optional: bool,
        default: Option<Bound<'py, PyAny>>,
        doc: Option<String>,
    ) -> PyResult<PySchema> {
        Common {
            optional,
            default,
            name: None,
            version: None,
            doc,
            parameters: None,
        }
        .apply(logical_schemas::time())
    }

    /// Connect's Timestamp logical type (`datetime.datetime` values, millisecond precision;
    /// naive datetimes are taken as UTC, and values come back as UTC).
    #[staticmethod]
    #[pyo3(signature = (*, optional=false, default=None, doc=None))]
    fn timestamp<'py>(
        optional: bool,
        default: Option<Bound<'py, PyAny>>,
        doc: Option<String>,
    ) -> PyResult<PySchema> {
        Common {
            optional,
            default,
            name: None,
            version: None,
            doc,
            parameters: None,
        }
        .apply(logical_schemas::timestamp())
    }

    /// The type name as in the JsonConverter envelope: `"int32"`, `"string"`, `"struct"`...
    #[getter]
    fn r#type(&self) -> &'static str {
        self.schema.schema_type.json_name()
    }

    #[getter]
    fn optional(&self) -> bool {
        self.schema.optional
    }

    #[getter]
    fn default<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.schema.default {
            Some(v) => to_py(py, v, Some(&self.schema)),
            None => Ok(py.None().into_bound(py)),
        }
    }

    #[getter]
    fn name(&self) -> Option<&str> {
        self.schema.name.as_deref()
    }

    #[getter]
    fn version(&self) -> Option<i32> {
        self.schema.version
    }

    #[getter]
    fn doc(&self) -> Option<&str> {
        self.schema.doc.as_deref()
    }

    #[getter]
    fn parameters(&self) -> BTreeMap<String, String> {
        self.schema.parameters.clone()
    }

    /// Struct fields in order, as a dict of name to schema (empty for other types).
    #[getter]
    fn fields<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for f in &self.schema.fields {
            d.set_item(
                &f.name,
                PySchema {
                    schema: f.schema.clone(),
                },
            )?;
        }
        Ok(d)
    }

    /// The item schema of an array.
    #[getter]
    fn items(&self) -> Option<PySchema> {
        match self.schema.schema_type {
            SchemaType::Array => self
                .schema
                .value_schema
                .clone()
                .map(|schema| PySchema { schema }),
            _ => None,
        }
    }

    /// The key schema of a map.
    #[getter]
    fn keys(&self) -> Option<PySchema> {
        self.schema
            .key_schema
            .clone()
            .map(|schema| PySchema { schema })
    }

    /// The value schema of a map.
    #[getter]
    fn values(&self) -> Option<PySchema> {
        match self.schema.schema_type {
            SchemaType::Map => self
                .schema
                .value_schema
                .clone()
                .map(|schema| PySchema { schema }),
            _ => None,
        }
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Ok(other) = other.cast::<PySchema>() else {
            return Ok(py.NotImplemented());
        };
        let equal = self.schema == other.get().schema;
        match op {
            CompareOp::Eq => Ok(equal.into_pyobject(py)?.to_owned().into_any().unbind()),
            CompareOp::Ne => Ok((!equal).into_pyobject(py)?.to_owned().into_any().unbind()),
            _ => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        format!("{:?}", self.schema).hash(&mut h);
        h.finish()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        describe(py, &self.schema)
    }
}

/// Python's repr of a string (`'name'`).
fn py_repr(py: Python<'_>, text: &str) -> String {
    pyo3::types::PyString::new(py, text)
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| format!("'{text}'"))
}

/// `Schema.int64(optional=True)`, `Schema.struct({'id': Schema.int64()}, name='User')`...
fn describe(py: Python<'_>, s: &SchemaRef) -> String {
    let mut args: Vec<String> = Vec::new();
    let name = s.name.as_deref();
    let ctor = match (s.schema_type, name) {
        (SchemaType::Bytes, Some(crate::data::logical::DECIMAL)) => {
            args.push(
                s.parameters
                    .get(crate::data::logical::DECIMAL_SCALE)
                    .cloned()
                    .unwrap_or_else(|| "0".into()),
            );
            "decimal"
        }
        (SchemaType::Int32, Some(crate::data::logical::DATE)) => "date",
        (SchemaType::Int32, Some(crate::data::logical::TIME)) => "time",
        (SchemaType::Int64, Some(crate::data::logical::TIMESTAMP)) => "timestamp",
        (SchemaType::Struct, _) => {
            let fields: Vec<String> = s
                .fields
                .iter()
                .map(|f| format!("{}: {}", py_repr(py, &f.name), describe(py, &f.schema)))
                .collect();
            args.push(format!("{{{}}}", fields.join(", ")));
            "struct"
        }
        (SchemaType::Array, _) => {
            if let Some(items) = &s.value_schema {
                args.push(describe(py, items));
            }
            "array"
        }
        (SchemaType::Map, _) => {
            if let (Some(k), Some(v)) = (&s.key_schema, &s.value_schema) {
                args.push(describe(py, k));
                args.push(describe(py, v));
            }
            "map"
        }
        (t, _) => match t {
            SchemaType::Int8 => "int8",
            SchemaType::Int16 => "int16",
            SchemaType::Int32 => "int32",
            SchemaType::Int64 => "int64",
            SchemaType::Float32 => "float32",
            SchemaType::Float64 => "float64",
            SchemaType::Boolean => "boolean",
            SchemaType::String => "string",
            _ => "bytes",
        },
    };
    let logical = matches!(ctor, "decimal" | "date" | "time" | "timestamp");
    if s.optional {
        args.push("optional=True".into());
    }
    if s.default.is_some() {
        args.push(format!("default={}", repr_value(py, s)));
    }
    if !logical {
        if let Some(n) = name {
            args.push(format!("name={}", py_repr(py, n)));
        }
        if let Some(v) = s.version {
            args.push(format!("version={v}"));
        }
    }
    if let Some(d) = &s.doc {
        args.push(format!("doc={}", py_repr(py, d)));
    }
    format!("Schema.{ctor}({})", args.join(", "))
}
