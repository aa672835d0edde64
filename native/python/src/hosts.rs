//! The host table from Python: request host to product name (see `_native.pyi`).

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyString;
use stockade_core::block::Products;

use crate::conditions::text_bytes;
use crate::errors::guard;

/// Request host to product, built from the Python side's validated configuration.
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug)]
pub struct HostTable {
    pub table: Arc<Products>,
    products: Vec<Py<PyString>>,
}

#[pymethods]
impl HostTable {
    #[new]
    #[pyo3(signature = (exact, wildcards, default_product, /))]
    fn new(
        py: Python<'_>,
        exact: Vec<(Bound<'_, PyString>, Bound<'_, PyString>)>,
        wildcards: Vec<(Bound<'_, PyString>, Bound<'_, PyString>)>,
        default_product: Option<Bound<'_, PyString>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let mut products: Vec<Py<PyString>> = Vec::new();
            let mut numbers: HashMap<String, u32> = HashMap::new();
            let mut number = |product: &Bound<'_, PyString>| -> PyResult<u32> {
                let name = product.to_string();
                if let Some(&known) = numbers.get(&name) {
                    return Ok(known);
                }
                let next = u32::try_from(products.len()).unwrap_or(u32::MAX);
                products.push(product.clone().unbind());
                numbers.insert(name, next);
                Ok(next)
            };
            let mut entries =
                |pairs: Vec<(Bound<'_, PyString>, Bound<'_, PyString>)>| -> PyResult<Vec<(Vec<u8>, u32)>> {
                    pairs
                        .iter()
                        .map(|(name, product)| Ok((text_bytes(name.as_any())?, number(product)?)))
                        .collect()
                };
            let exact = entries(exact)?;
            let wildcards = entries(wildcards)?;
            let default = default_product.as_ref().map(&mut number).transpose()?;
            let names = products
                .iter()
                .map(|name| text_bytes(name.bind(py).as_any()))
                .collect::<PyResult<_>>()?;
            Ok(Self {
                table: Arc::new(Products {
                    table: stockade_core::block::HostTable::new(exact, wildcards, default),
                    names,
                }),
                products,
            })
        })
    }

    /// The product of a request with this Host header (port, case and one trailing dot
    /// ignored), or `None`.
    #[pyo3(signature = (host, /))]
    fn product(&self, py: Python<'_>, host: &Bound<'_, PyString>) -> PyResult<Option<Py<PyString>>> {
        guard(py, || {
            let found = match host.to_str() {
                Ok(plain) => self.table.table.product(plain.as_bytes()),
                Err(_) => self.table.table.product(&text_bytes(host.as_any())?),
            };
            Ok(found
                .and_then(|number| self.products.get(number as usize))
                .map(|product| product.clone_ref(py)))
        })
    }
}
