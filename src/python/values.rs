//! Python values <-> Connect values ([`Value`] with an optional [`Schema`]).
//!
//! With a schema, a Python value is checked and converted to what the schema says (an `int`
//! for an INT32 field must fit in 32 bits; `datetime` for Timestamp; `decimal.Decimal` for
//! Decimal; a `dict` or a `Struct` for a struct). Without one, values are Connect's schemaless
//! data: `dict` -> map, `list`/`tuple` -> array, `int` -> INT64, `float` -> FLOAT64, `str`,
//! `bytes`, `bool`, `None`; `datetime`/`date`/`time` become ISO-8601 text and `Decimal` its
//! text, because Connect has no schemaless form for logical types. Every error names the place
//! in the value (`value.address.zip`).

use std::fmt;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple,
};

use super::errors::data_error;
use super::schema::PySchema;
use super::structs::PyStruct;
use crate::data::decimal;
use crate::data::{logical, Schema, SchemaRef, SchemaType, Struct, Value};

/// Where in a value a conversion is, for error messages. Lives on the stack: no allocation
/// unless an error is reported.
#[derive(Clone, Copy)]
pub enum Path<'a> {
    Root(&'a str),
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
    MapKey(&'a Path<'a>),
    MapValue(&'a Path<'a>),
    /// A dict entry: `.name` for a str key, `[repr]` otherwise (formatted only on error).
    Key(&'a Path<'a>, &'a Bound<'a, PyAny>),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(name) => f.write_str(name),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
            Path::MapKey(parent) => write!(f, "{parent} (a map key)"),
            Path::MapValue(parent) => write!(f, "{parent}[...]"),
            Path::Key(parent, key) => match key.cast::<PyString>() {
                Ok(s) => write!(f, "{parent}.{s}"),
                Err(_) => write!(f, "{parent}[{}]", short_repr(key)),
            },
        }
    }
}

impl Path<'_> {
    /// How many containers deep this place is.
    fn depth(&self) -> usize {
        let mut depth = 0;
        let mut at = self;
        loop {
            at = match at {
                Path::Root(_) => return depth,
                Path::Field(p, _)
                | Path::Index(p, _)
                | Path::MapKey(p)
                | Path::MapValue(p)
                | Path::Key(p, _) => p,
            };
            depth += 1;
        }
    }
}

/// Values nested deeper than this are refused: without a schema to bound it, converting a
/// cyclic list (`v = []; v.append(v)`) would recurse until the worker's stack overflows.
pub const MAX_DEPTH: usize = 100;

fn check_depth(obj: &Bound<'_, PyAny>, path: &Path<'_>) -> PyResult<()> {
    if path.depth() > MAX_DEPTH {
        // The path itself would be MAX_DEPTH segments long: name only where it starts.
        let mut root = path;
        while let Path::Field(p, _)
        | Path::Index(p, _)
        | Path::MapKey(p)
        | Path::MapValue(p)
        | Path::Key(p, _) = root
        {
            root = p;
        }
        return Err(data_error(
            obj.py(),
            format!(
                "{root}: the value is nested more than {MAX_DEPTH} levels deep (does a list or dict contain itself?)"
            ),
        ));
    }
    Ok(())
}

pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

/// A short, bounded repr of `obj` for error messages.
pub(crate) fn short_repr(obj: &Bound<'_, PyAny>) -> String {
    let text = obj
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "<unprintable>".into());
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}...")
    } else {
        text
    }
}

fn mismatch(obj: &Bound<'_, PyAny>, path: &Path<'_>, expected: &str) -> PyErr {
    data_error(
        obj.py(),
        format!(
            "{path}: expected {expected}, got {} {}",
            type_name(obj),
            short_repr(obj)
        ),
    )
}

fn schema_label(schema: &Schema) -> String {
    match &schema.name {
        Some(name) => format!("{} ({name})", schema.schema_type),
        None => schema.schema_type.to_string(),
    }
}

/// Python helpers for the logical types (`conveyor._convert`).
fn helper<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyAny>> {
    cell.import(py, "conveyor._convert", name)
}

macro_rules! helper_fn {
    ($fn_name:ident, $py_name:literal) => {
        fn $fn_name<'py>(py: Python<'py>) -> PyResult<&'py Bound<'py, PyAny>> {
            static CELL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            helper(py, &CELL, $py_name)
        }
    };
}

helper_fn!(timestamp_to_ms, "timestamp_to_ms");
helper_fn!(ms_to_timestamp, "ms_to_timestamp");
helper_fn!(date_to_days, "date_to_days");
helper_fn!(days_to_date, "days_to_date");
helper_fn!(time_to_ms, "time_to_ms");
helper_fn!(ms_to_time, "ms_to_time");

macro_rules! py_type {
    ($fn_name:ident, $module:literal, $name:literal) => {
        fn $fn_name<'py>(py: Python<'py>) -> PyResult<&'py Bound<'py, PyAny>> {
            static CELL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            CELL.import(py, $module, $name)
        }
    };
}

py_type!(datetime_type, "datetime", "datetime");
py_type!(date_type, "datetime", "date");
py_type!(time_type, "datetime", "time");
py_type!(decimal_type, "decimal", "Decimal");
py_type!(memoryview_type, "builtins", "memoryview");

fn is_instance(obj: &Bound<'_, PyAny>, ty: PyResult<&Bound<'_, PyAny>>) -> bool {
    match ty {
        Ok(ty) => obj.is_instance(ty).unwrap_or(false),
        Err(_) => false,
    }
}

/// Bytes of a `bytes`, `bytearray` or `memoryview`, if `obj` is one.
fn as_bytes(obj: &Bound<'_, PyAny>) -> PyResult<Option<Vec<u8>>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Some(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Some(b.to_vec()));
    }
    if is_instance(obj, memoryview_type(obj.py())) {
        let bytes = obj.call_method0("tobytes")?;
        return Ok(Some(bytes.cast::<PyBytes>()?.as_bytes().to_vec()));
    }
    Ok(None)
}

fn as_int(obj: &Bound<'_, PyAny>, path: &Path<'_>, what: &str) -> PyResult<i64> {
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        return Err(mismatch(obj, path, what));
    }
    obj.extract::<i64>().map_err(|_| {
        data_error(
            obj.py(),
            format!("{path}: {} does not fit in 64 bits", short_repr(obj)),
        )
    })
}

fn fit<T: TryFrom<i64>>(obj: &Bound<'_, PyAny>, path: &Path<'_>, ty: SchemaType) -> PyResult<T> {
    let v = as_int(obj, path, &format!("an int for {ty}"))?;
    T::try_from(v).map_err(|_| data_error(obj.py(), format!("{path}: {v} does not fit in {ty}")))
}

/// Converts `obj` to a Connect value of `schema`.
pub fn to_value(obj: &Bound<'_, PyAny>, schema: &SchemaRef, path: &Path<'_>) -> PyResult<Value> {
    let py = obj.py();
    if obj.is_none() {
        if schema.optional || schema.default.is_some() {
            return Ok(Value::Null);
        }
        return Err(data_error(
            py,
            format!(
                "{path}: None for a required {} (make the schema optional to allow None)",
                schema_label(schema)
            ),
        ));
    }
    let name = schema.name.as_deref();
    Ok(match schema.schema_type {
        SchemaType::Int32 if name == Some(logical::DATE) => {
            if !is_instance(obj, date_type(py)) {
                return Err(mismatch(obj, path, "a datetime.date for a Date"));
            }
            Value::Int32(date_to_days(py)?.call1((obj,))?.extract()?)
        }
        SchemaType::Int32 if name == Some(logical::TIME) => {
            if !is_instance(obj, time_type(py)) {
                return Err(mismatch(obj, path, "a datetime.time for a Time"));
            }
            Value::Int32(time_to_ms(py)?.call1((obj,))?.extract()?)
        }
        SchemaType::Int64 if name == Some(logical::TIMESTAMP) => {
            if !is_instance(obj, datetime_type(py)) {
                return Err(mismatch(obj, path, "a datetime.datetime for a Timestamp"));
            }
            Value::Int64(timestamp_to_ms(py)?.call1((obj,))?.extract()?)
        }
        SchemaType::Int8 => Value::Int8(fit(obj, path, SchemaType::Int8)?),
        SchemaType::Int16 => Value::Int16(fit(obj, path, SchemaType::Int16)?),
        SchemaType::Int32 => Value::Int32(fit(obj, path, SchemaType::Int32)?),
        SchemaType::Int64 => Value::Int64(fit(obj, path, SchemaType::Int64)?),
        SchemaType::Float32 | SchemaType::Float64 => {
            let numeric = obj.is_instance_of::<PyFloat>()
                || (obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>());
            if !numeric {
                return Err(mismatch(obj, path, "a float"));
            }
            let f = obj.extract::<f64>()?;
            if schema.schema_type == SchemaType::Float32 {
                Value::Float32(f as f32)
            } else {
                Value::Float64(f)
            }
        }
        SchemaType::Boolean => match obj.cast::<PyBool>() {
            Ok(b) => Value::Boolean(b.is_true()),
            Err(_) => return Err(mismatch(obj, path, "a bool")),
        },
        SchemaType::String => match obj.cast::<PyString>() {
            Ok(s) => Value::String(s.to_cow()?.into_owned()),
            Err(_) => return Err(mismatch(obj, path, "a str")),
        },
        SchemaType::Bytes if name == Some(logical::DECIMAL) => {
            Value::Bytes(decimal_bytes(obj, schema, path)?)
        }
        SchemaType::Bytes => match as_bytes(obj)? {
            Some(b) => Value::Bytes(b),
            None => return Err(mismatch(obj, path, "bytes")),
        },
        SchemaType::Array => {
            let items = schema.value_schema.as_ref();
            let mut out = Vec::new();
            for_each_item(obj, path, |i, item| {
                let at = Path::Index(path, i);
                out.push(match items {
                    Some(s) => to_value(item, s, &at)?,
                    None => to_schemaless(item, &at)?,
                });
                Ok(())
            })?;
            Value::Array(out)
        }
        SchemaType::Map => {
            let mut out = Vec::new();
            for_each_entry(obj, path, "a dict for a map", |k, v| {
                let key = match &schema.key_schema {
                    Some(s) => to_value(k, s, &Path::MapKey(path))?,
                    None => to_schemaless(k, &Path::MapKey(path))?,
                };
                let at = Path::MapValue(path);
                let value = match &schema.value_schema {
                    Some(s) => to_value(v, s, &at)?,
                    None => to_schemaless(v, &at)?,
                };
                out.push((key, value));
                Ok(())
            })?;
            Value::Map(out)
        }
        SchemaType::Struct => Value::Struct(to_struct(obj, schema, path)?),
    })
}

/// A struct of `schema` from a `Struct` with that schema or a mapping of field names.
pub fn to_struct(obj: &Bound<'_, PyAny>, schema: &SchemaRef, path: &Path<'_>) -> PyResult<Struct> {
    let py = obj.py();
    if let Ok(s) = obj.cast::<PyStruct>() {
        let s = &s.get().value;
        if s.schema() != schema {
            return Err(data_error(
                py,
                format!(
                    "{path}: a Struct of schema {} where {} was expected",
                    s.schema().describe(),
                    schema.describe()
                ),
            ));
        }
        return Ok(s.clone());
    }
    let mut out = Struct::new(schema.clone());
    let mut seen = 0usize;
    for_each_entry(obj, path, "a dict or a Struct for a struct", |k, v| {
        let Ok(key) = k.cast::<PyString>() else {
            return Err(data_error(
                py,
                format!(
                    "{path}: struct field names must be str, got {}",
                    short_repr(k)
                ),
            ));
        };
        let key = key.to_cow()?;
        let key: &str = &key;
        let Some(field) = schema.field(key) else {
            let names: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
            return Err(data_error(
                py,
                format!(
                    "{path}: '{key}' is not a field of {} (fields: {})",
                    schema.describe(),
                    names.join(", ")
                ),
            ));
        };
        let at = Path::Field(path, key);
        out.put_unchecked(field.index, to_value(v, &field.schema, &at)?);
        seen += 1;
        Ok(())
    })?;
    if seen < schema.fields.len() {
        for f in &schema.fields {
            let missing = out.get_without_default(&f.name).is_none_or(|v| v.is_null());
            if missing && !f.schema.optional && f.schema.default.is_none() {
                return Err(data_error(
                    py,
                    format!(
                        "{}: missing required field of type {}",
                        Path::Field(path, &f.name),
                        schema_label(&f.schema)
                    ),
                ));
            }
        }
    }
    Ok(out)
}

fn mapping_items<'py>(
    obj: &Bound<'py, PyAny>,
    path: &Path<'_>,
    expected: &str,
) -> PyResult<Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
    if let Ok(d) = obj.cast::<PyDict>() {
        return Ok(d.iter().collect());
    }
    if let Ok(m) = obj.cast::<PyMapping>() {
        let mut out = Vec::new();
        for item in m.items()?.iter() {
            let (k, v): (Bound<'py, PyAny>, Bound<'py, PyAny>) = item.extract()?;
            out.push((k, v));
        }
        return Ok(out);
    }
    Err(mismatch(obj, path, expected))
}

fn for_each_entry<'py>(
    obj: &Bound<'py, PyAny>,
    path: &Path<'_>,
    expected: &str,
    mut f: impl FnMut(&Bound<'py, PyAny>, &Bound<'py, PyAny>) -> PyResult<()>,
) -> PyResult<()> {
    if let Ok(d) = obj.cast::<PyDict>() {
        for (k, v) in d.iter() {
            f(&k, &v)?;
        }
        return Ok(());
    }
    for (k, v) in mapping_items(obj, path, expected)? {
        f(&k, &v)?;
    }
    Ok(())
}

fn for_each_item<'py>(
    obj: &Bound<'py, PyAny>,
    path: &Path<'_>,
    mut f: impl FnMut(usize, &Bound<'py, PyAny>) -> PyResult<()>,
) -> PyResult<()> {
    if let Ok(l) = obj.cast::<PyList>() {
        for (i, item) in l.iter().enumerate() {
            f(i, &item)?;
        }
        return Ok(());
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        for (i, item) in t.iter().enumerate() {
            f(i, &item)?;
        }
        return Ok(());
    }
    Err(mismatch(obj, path, "a list or a tuple for an array"))
}

/// Decimal bytes at the schema's scale from a `Decimal`, an `int` or decimal text; refuses to
/// drop digits (Connect requires the exact scale).
fn decimal_bytes(obj: &Bound<'_, PyAny>, schema: &Schema, path: &Path<'_>) -> PyResult<Vec<u8>> {
    let py = obj.py();
    let scale: i32 = schema
        .parameters
        .get(logical::DECIMAL_SCALE)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let text = if is_instance(obj, decimal_type(py)) {
        obj.call_method1("__format__", ("f",))?.to_string()
    } else if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
        obj.str()?.to_string()
    } else if let Ok(s) = obj.cast::<PyString>() {
        s.to_cow()?.into_owned()
    } else {
        return Err(mismatch(obj, path, "a decimal.Decimal for a Decimal"));
    };
    let exact = |t: &str| -> Option<i128> {
        let (mantissa, _) = t.split_once(['e', 'E']).unwrap_or((t, ""));
        let frac_digits = mantissa.split_once('.').map_or(0, |(_, f)| f.len()) as i32;
        let fine = decimal::parse_unscaled(t, frac_digits.max(scale))?;
        let extra = frac_digits - scale;
        if extra > 0 {
            let div = 10i128.checked_pow(extra as u32)?;
            if fine % div != 0 {
                return None;
            }
            Some(fine / div)
        } else {
            decimal::parse_unscaled(t, scale)
        }
    };
    match exact(&text) {
        Some(unscaled) => Ok(decimal::to_bytes(unscaled)),
        None => Err(data_error(
            py,
            format!(
                "{path}: {text} is not a decimal with at most {scale} decimal places (the Decimal schema's scale), or has more than 38 digits"
            ),
        )),
    }
}

/// Schemaless conversion (see the module docs).
pub fn to_schemaless(obj: &Bound<'_, PyAny>, path: &Path<'_>) -> PyResult<Value> {
    let py = obj.py();
    check_depth(obj, path)?;
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Boolean(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(Value::Int64(as_int(obj, path, "an int")?));
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(Value::Float64(obj.extract()?));
    }
    if let Some(b) = as_bytes(obj)? {
        return Ok(Value::Bytes(b));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut out = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            out.push((
                to_schemaless(&k, &Path::MapKey(path))?,
                to_schemaless(&v, &Path::Key(path, &k))?,
            ));
        }
        return Ok(Value::Map(out));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for_each_item(obj, path, |i, item| {
            out.push(to_schemaless(item, &Path::Index(path, i))?);
            Ok(())
        })?;
        return Ok(Value::Array(out));
    }
    if let Ok(s) = obj.cast::<PyStruct>() {
        return Ok(Value::Struct(s.get().value.clone()));
    }
    if is_instance(obj, date_type(py)) || is_instance(obj, time_type(py)) {
        return Ok(Value::String(obj.call_method0("isoformat")?.extract()?));
    }
    if is_instance(obj, decimal_type(py)) {
        return Ok(Value::String(obj.str()?.to_string()));
    }
    if obj.is_instance_of::<PyMapping>() {
        let mut out = Vec::new();
        for (k, v) in mapping_items(obj, path, "a mapping")? {
            out.push((
                to_schemaless(&k, &Path::MapKey(path))?,
                to_schemaless(&v, &Path::Key(path, &k))?,
            ));
        }
        return Ok(Value::Map(out));
    }
    Err(data_error(
        py,
        format!(
            "{path}: cannot convert {} {} to a Connect value; use dict, list, str, bytes, int, float, bool, None, datetime, Decimal or conveyor.Struct",
            type_name(obj),
            short_repr(obj)
        ),
    ))
}

/// A value with its schema: with `schema` given (not `None`), converted to it; otherwise
/// schemaless, except that a `Struct` brings its own schema.
pub fn to_value_and_schema(
    obj: &Bound<'_, PyAny>,
    schema: Option<&SchemaRef>,
    path: &Path<'_>,
) -> PyResult<(Option<SchemaRef>, Value)> {
    match schema {
        Some(s) => Ok((Some(s.clone()), to_value(obj, s, path)?)),
        None => {
            if let Ok(s) = obj.cast::<PyStruct>() {
                let value = s.get().value.clone();
                return Ok((Some(value.schema().clone()), Value::Struct(value)));
            }
            Ok((None, to_schemaless(obj, path)?))
        }
    }
}

/// A Connect value as Python: logical types become `datetime`/`date`/`time`/`Decimal` when
/// the schema says so, structs become `conveyor.Struct`.
pub fn to_py<'py>(
    py: Python<'py>,
    value: &Value,
    schema: Option<&SchemaRef>,
) -> PyResult<Bound<'py, PyAny>> {
    let name = schema.and_then(|s| s.name.as_deref());
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Boolean(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Int32(v) if name == Some(logical::DATE) => days_to_date(py)?.call1((*v,))?,
        Value::Int32(v) if name == Some(logical::TIME) => ms_to_time(py)?.call1((*v,))?,
        Value::Int64(v) if name == Some(logical::TIMESTAMP) => ms_to_timestamp(py)?.call1((*v,))?,
        Value::Int8(v) => v.into_pyobject(py)?.into_any(),
        Value::Int16(v) => v.into_pyobject(py)?.into_any(),
        Value::Int32(v) => v.into_pyobject(py)?.into_any(),
        Value::Int64(v) => v.into_pyobject(py)?.into_any(),
        Value::Float32(v) => PyFloat::new(py, *v as f64).into_any(),
        Value::Float64(v) => PyFloat::new(py, *v).into_any(),
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Bytes(b) if name == Some(logical::DECIMAL) => {
            let scale = schema
                .and_then(|s| s.parameters.get(logical::DECIMAL_SCALE))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            decimal_type(py)?.call1((decimal::to_string(b, scale),))?
        }
        Value::Bytes(b) => PyBytes::new(py, b).into_any(),
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.value_schema.as_ref());
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item, item_schema)?)?;
            }
            list.into_any()
        }
        Value::Map(entries) => {
            let (ks, vs) = match schema {
                Some(s) => (s.key_schema.as_ref(), s.value_schema.as_ref()),
                None => (None, None),
            };
            let dict = PyDict::new(py);
            for (k, v) in entries {
                let key = to_py(py, k, ks)?;
                // Python dict keys must be hashable: a list or map key becomes a tuple.
                let key = if key.hash().is_err() {
                    match key.cast::<PyList>() {
                        Ok(l) => l.to_tuple().into_any(),
                        Err(_) => {
                            return Err(data_error(
                                py,
                                format!(
                                    "a map key of type {} cannot be a Python dict key",
                                    k.type_name()
                                ),
                            ))
                        }
                    }
                } else {
                    key
                };
                dict.set_item(key, to_py(py, v, vs)?)?;
            }
            dict.into_any()
        }
        Value::Struct(s) => Bound::new(py, PyStruct { value: s.clone() })?.into_any(),
    })
}

/// A schema argument: a `Schema` or `None`.
pub fn schema_arg(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<SchemaRef>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => match o.cast::<PySchema>() {
            Ok(s) => Ok(Some(s.get().schema.clone())),
            Err(_) => Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "{what} must be a conveyor.Schema or None, got {}",
                type_name(o)
            ))),
        },
    }
}

/// A schema as Python (`Schema` or `None`).
pub fn schema_to_py<'py>(
    py: Python<'py>,
    schema: Option<&SchemaRef>,
) -> PyResult<Bound<'py, PyAny>> {
    match schema {
        Some(s) => Ok(Bound::new(py, PySchema { schema: s.clone() })?.into_any()),
        None => Ok(py.None().into_bound(py)),
    }
}

/// JSON (source partitions and offsets, REST answers) as Python objects.
pub fn json_to_py<'py>(py: Python<'py>, json: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value as J;
    Ok(match json {
        J::Null => py.None().into_bound(py),
        J::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
            }
        }
        J::String(s) => PyString::new(py, s).into_any(),
        J::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        J::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, json_to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// A Python value as JSON; only JSON types are accepted (`what` names it in errors).
pub fn py_to_json(obj: &Bound<'_, PyAny>, path: &Path<'_>) -> PyResult<serde_json::Value> {
    use serde_json::Value as J;
    let py = obj.py();
    check_depth(obj, path)?;
    if obj.is_none() {
        return Ok(J::Null);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(J::String(s.to_cow()?.into_owned()));
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(J::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(J::from(as_int(obj, path, "an int")?));
    }
    if obj.is_instance_of::<PyFloat>() {
        let f: f64 = obj.extract()?;
        return serde_json::Number::from_f64(f)
            .map(J::Number)
            .ok_or_else(|| data_error(py, format!("{path}: {f} cannot be stored as JSON")));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return Ok(J::Object(py_dict_to_json(d, path)?));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for_each_item(obj, path, |i, item| {
            out.push(py_to_json(item, &Path::Index(path, i))?);
            Ok(())
        })?;
        return Ok(J::Array(out));
    }
    Err(mismatch(
        obj,
        path,
        "a JSON value (dict, list, str, int, float, bool or None)",
    ))
}

/// A `dict` with `str` keys as a JSON object.
pub fn py_dict_to_json(
    dict: &Bound<'_, PyDict>,
    path: &Path<'_>,
) -> PyResult<serde_json::Map<String, serde_json::Value>> {
    let mut out = serde_json::Map::new();
    for (k, v) in dict.iter() {
        let Ok(key) = k.cast::<PyString>() else {
            return Err(data_error(
                dict.py(),
                format!("{path}: keys must be str, got {}", short_repr(&k)),
            ));
        };
        let key = key.to_cow()?;
        let key: &str = &key;
        out.insert(key.to_owned(), py_to_json(&v, &Path::Field(path, key))?);
    }
    Ok(out)
}

/// A source partition or offset: `None` or a `dict` of JSON values.
pub fn offset_map_arg(
    obj: Option<&Bound<'_, PyAny>>,
    path: &Path<'_>,
) -> PyResult<serde_json::Map<String, serde_json::Value>> {
    match obj {
        None => Ok(serde_json::Map::new()),
        Some(o) if o.is_none() => Ok(serde_json::Map::new()),
        Some(o) => match o.cast::<PyDict>() {
            Ok(d) => py_dict_to_json(d, path),
            Err(_) => Err(mismatch(o, path, "a dict")),
        },
    }
}

/// A config (`dict[str, str]`); `int`, `float` and `bool` values are accepted and written as
/// Connect writes them (`true`/`false`), `None` values are left out.
pub fn config_from_py(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<crate::config::ConfigMap> {
    let mut out = crate::config::ConfigMap::new();
    let items = mapping_items(obj, &Path::Root(what), "a dict of str to str")?;
    for (k, v) in items {
        let Ok(key) = k.cast::<PyString>() else {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "{what}: config keys must be str, got {}",
                short_repr(&k)
            )));
        };
        let key = key.to_cow()?.into_owned();
        let value = if v.is_none() {
            // Dropping it would silently give the key its default; say so instead.
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "{what}: the value of '{key}' is None; leave the key out to use its default, \
                 or give a str (or int, float, bool, list)"
            )));
        } else if let Ok(s) = v.cast::<PyString>() {
            s.to_cow()?.into_owned()
        } else if let Ok(b) = v.cast::<PyBool>() {
            b.is_true().to_string()
        } else if v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>() {
            v.str()?.to_string()
        } else if let Ok(l) = v.cast::<PyList>() {
            let mut parts = Vec::new();
            for item in l.iter() {
                parts.push(item.str()?.to_string());
            }
            parts.join(",")
        } else {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "{what}: the value of '{key}' must be a str (or int, float, bool, list), got {}",
                type_name(&v)
            )));
        };
        out.insert(key, value);
    }
    Ok(out)
}

/// A config as a Python `dict[str, str]`.
pub fn config_to_py<'py>(
    py: Python<'py>,
    config: &crate::config::ConfigMap,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (k, v) in config {
        dict.set_item(k, v)?;
    }
    Ok(dict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Schema, SchemaBuilder};

    #[test]
    fn paths_name_the_field() {
        let root = Path::Root("value");
        let field = Path::Field(&root, "address");
        let item = Path::Index(&field, 2);
        let zip = Path::Field(&item, "zip");
        assert_eq!(zip.to_string(), "value.address[2].zip");
    }

    /// Conversions that need no `conveyor` package, with an embedded interpreter (the Python
    /// suite covers the rest: logical types, Struct, records).
    #[test]
    fn converts_through_an_embedded_interpreter_and_names_bad_fields() {
        Python::initialize();
        Python::attach(|py| {
            let json = serde_json::json!({"a": [1, 2.5, "x", null, true], "b": {"c": -3}});
            let obj = json_to_py(py, &json).unwrap();
            assert_eq!(py_to_json(&obj, &Path::Root("v")).unwrap(), json);

            let value = to_schemaless(&obj, &Path::Root("value")).unwrap();
            assert_eq!(
                value.map_get("b").and_then(|b| b.map_get("c")),
                Some(&Value::Int64(-3))
            );

            let schema = SchemaBuilder::struct_()
                .field("zip", Schema::int32())
                .field("tags", SchemaBuilder::array(Schema::string()).build())
                .build();
            let good = PyDict::new(py);
            good.set_item("zip", 7).unwrap();
            good.set_item("tags", vec!["a"]).unwrap();
            let Value::Struct(s) = to_value(good.as_any(), &schema, &Path::Root("value")).unwrap()
            else {
                panic!("expected a struct");
            };
            assert_eq!(s.get("zip"), Some(&Value::Int32(7)));

            let bad = PyDict::new(py);
            bad.set_item("zip", 7).unwrap();
            bad.set_item("tags", vec![PyBool::new(py, true)]).unwrap();
            let err = to_value(bad.as_any(), &schema, &Path::Root("value")).unwrap_err();
            let text = err.value(py).to_string();
            assert!(
                text.contains("value.tags[0]: expected a str, got bool True"),
                "{text}"
            );

            let big = PyDict::new(py);
            big.set_item("zip", 1i64 << 40).unwrap();
            big.set_item("tags", PyList::empty(py)).unwrap();
            let err = to_value(big.as_any(), &schema, &Path::Root("value")).unwrap_err();
            assert!(err.value(py).to_string().contains("does not fit in INT32"));
        });
    }

    #[test]
    fn cyclic_and_too_deep_values_are_data_errors_not_crashes() {
        Python::initialize();
        Python::attach(|py| {
            let cyclic = PyList::empty(py);
            cyclic.append(&cyclic).unwrap();
            for err in [
                to_schemaless(cyclic.as_any(), &Path::Root("value")).unwrap_err(),
                py_to_json(cyclic.as_any(), &Path::Root("offset")).unwrap_err(),
            ] {
                let text = err.value(py).to_string();
                assert!(text.contains("nested more than 100 levels"), "{text}");
            }
            let mut deep = json_to_py(py, &serde_json::json!(1)).unwrap();
            for _ in 0..MAX_DEPTH {
                let outer = PyList::empty(py);
                outer.append(&deep).unwrap();
                deep = outer.into_any();
            }
            assert!(to_schemaless(&deep, &Path::Root("value")).is_ok());
        });
    }

    #[test]
    fn labels_include_logical_names() {
        let s = crate::data::logical_schemas::date().build();
        assert_eq!(
            schema_label(&s),
            "INT32 (org.apache.kafka.connect.data.Date)"
        );
        assert_eq!(
            schema_label(&SchemaBuilder::new(SchemaType::String).build()),
            "STRING"
        );
    }
}
