//! A Python `conveyor.Converter` as a Rust [`Converter`] and/or [`HeaderConverter`].
//! Converters are called from the task's thread; keys and values a batch at a time (one GIL
//! acquisition per batch, as for transformations), headers once per record.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use super::errors::from_py_err;
use super::source_task::type_name;
use super::values::{schema_arg, schema_to_py, to_py, to_value_and_schema, Path};
use crate::convert::{Converter, HeaderConverter, SchemaAndValue};
use crate::data::{Header, SchemaRef, Value};
use crate::errors::{ConnectError, Result};

pub struct PyConverter {
    obj: Arc<Py<PyAny>>,
    owner: String,
}

impl PyConverter {
    pub fn new(obj: Py<PyAny>, class: &str) -> Self {
        PyConverter {
            obj: Arc::new(obj),
            owner: format!("converter {class}"),
        }
    }

    fn error(&self, py: Python<'_>, method: &str, e: PyErr) -> ConnectError {
        from_py_err(py, e, &format!("Converter.{method}"), &self.owner)
    }

    fn misuse(&self, method: &str, message: String) -> ConnectError {
        ConnectError::Data(format!(
            "error calling `Converter.{method}` in {}: {message}",
            self.owner
        ))
    }

    /// The bound method `method`, looked up once per call or batch.
    fn method<'py>(&self, py: Python<'py>, method: &'static str) -> Result<Bound<'py, PyAny>> {
        self.obj
            .bind(py)
            .getattr(method)
            .map_err(|e| self.error(py, method, e))
    }

    /// Calls `f(*args)`, which must return bytes or None.
    fn serialize_with<'py>(
        &self,
        py: Python<'py>,
        method: &'static str,
        f: &Bound<'py, PyAny>,
        args: PyResult<Bound<'py, PyTuple>>,
    ) -> Result<Option<Vec<u8>>> {
        let out = args
            .and_then(|a| f.call1(a))
            .map_err(|e| self.error(py, method, e))?;
        if out.is_none() {
            return Ok(None);
        }
        match out.cast::<PyBytes>() {
            Ok(b) => Ok(Some(b.as_bytes().to_vec())),
            Err(_) => Err(self.misuse(
                method,
                format!(
                    "{method}() must return bytes or None, got {}",
                    type_name(&out)
                ),
            )),
        }
    }

    /// Calls `f(*args)`, which must return a `(schema, value)` tuple.
    fn deserialize_with<'py>(
        &self,
        py: Python<'py>,
        method: &'static str,
        f: &Bound<'py, PyAny>,
        args: PyResult<Bound<'py, PyTuple>>,
    ) -> Result<SchemaAndValue> {
        let out = args
            .and_then(|a| f.call1(a))
            .map_err(|e| self.error(py, method, e))?;
        let (schema, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
            out.extract().map_err(|_| {
                self.misuse(
                    method,
                    format!(
                        "{method}() must return a (schema, value) tuple, got {}",
                        type_name(&out)
                    ),
                )
            })?;
        let schema =
            schema_arg(Some(&schema), "the schema").map_err(|e| self.error(py, method, e))?;
        let (schema, value) = to_value_and_schema(&value, schema.as_ref(), &Path::Root("value"))
            .map_err(|e| self.error(py, method, e))?;
        Ok(SchemaAndValue::new(schema, value))
    }

    fn serialize(
        &self,
        method: &'static str,
        args: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyTuple>>,
    ) -> Result<Option<Vec<u8>>> {
        Python::attach(|py| {
            let f = self.method(py, method)?;
            self.serialize_with(py, method, &f, args(py))
        })
    }

    fn deserialize(
        &self,
        method: &'static str,
        args: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyTuple>>,
    ) -> Result<SchemaAndValue> {
        Python::attach(|py| {
            let f = self.method(py, method)?;
            self.deserialize_with(py, method, &f, args(py))
        })
    }
}

fn from_connect_args<'py>(
    py: Python<'py>,
    topic: &str,
    schema: Option<&SchemaRef>,
    value: &Value,
) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        [
            topic.into_pyobject(py)?.into_any(),
            schema_to_py(py, schema)?,
            to_py(py, value, schema)?,
        ],
    )
}

fn to_connect_args<'py>(
    py: Python<'py>,
    topic: &str,
    data: Option<&[u8]>,
) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        [topic.into_pyobject(py)?.into_any(), data_to_py(py, data)],
    )
}

fn data_to_py<'py>(py: Python<'py>, data: Option<&[u8]>) -> Bound<'py, PyAny> {
    match data {
        Some(d) => PyBytes::new(py, d).into_any(),
        None => py.None().into_bound(py),
    }
}

impl Converter for PyConverter {
    fn to_bytes(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>> {
        self.serialize("from_connect_data", |py| {
            from_connect_args(py, topic, schema, value)
        })
    }

    fn to_connect(&self, topic: &str, data: Option<&[u8]>) -> Result<SchemaAndValue> {
        self.deserialize("to_connect_data", |py| to_connect_args(py, topic, data))
    }

    fn batches(&self) -> bool {
        true
    }

    /// One GIL acquisition and one method look-up for the whole batch; a failure stays with
    /// its record.
    fn to_bytes_batch(
        &self,
        items: &[(&str, Option<&SchemaRef>, &Value)],
    ) -> Vec<Result<Option<Vec<u8>>>> {
        let method = "from_connect_data";
        Python::attach(|py| match self.method(py, method) {
            Ok(f) => items
                .iter()
                .map(|(topic, schema, value)| {
                    self.serialize_with(
                        py,
                        method,
                        &f,
                        from_connect_args(py, topic, *schema, value),
                    )
                })
                .collect(),
            Err(e) => items.iter().map(|_| Err(e.clone())).collect(),
        })
    }

    fn to_connect_batch(&self, items: &[(&str, Option<&[u8]>)]) -> Vec<Result<SchemaAndValue>> {
        let method = "to_connect_data";
        Python::attach(|py| match self.method(py, method) {
            Ok(f) => items
                .iter()
                .map(|(topic, data)| {
                    self.deserialize_with(py, method, &f, to_connect_args(py, topic, *data))
                })
                .collect(),
            Err(e) => items.iter().map(|_| Err(e.clone())).collect(),
        })
    }
}

impl HeaderConverter for PyConverter {
    fn to_connect_header(&self, topic: &str, key: &str, data: Option<&[u8]>) -> Result<Header> {
        let sv = self.deserialize("to_connect_header", |py| {
            PyTuple::new(
                py,
                [
                    topic.into_pyobject(py)?.into_any(),
                    key.into_pyobject(py)?.into_any(),
                    data_to_py(py, data),
                ],
            )
        })?;
        Ok(Header {
            key: key.to_string(),
            schema: sv.schema,
            value: sv.value,
        })
    }

    fn header_to_bytes(&self, topic: &str, header: &Header) -> Result<Option<Vec<u8>>> {
        self.serialize("from_connect_header", |py| {
            PyTuple::new(
                py,
                [
                    topic.into_pyobject(py)?.into_any(),
                    header.key.as_str().into_pyobject(py)?.into_any(),
                    schema_to_py(py, header.schema.as_ref())?,
                    to_py(py, &header.value, header.schema.as_ref())?,
                ],
            )
        })
    }
}
