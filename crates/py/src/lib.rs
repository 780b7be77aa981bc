//! `order_router._native`: the router, the simulation harness and the audit checker for
//! Python. The pure-Python package around it (`python/order_router`) adds the pyarrow tables,
//! the ccxt driver and the type stubs.
//!
//! Nothing here panics on input: every value from Python is checked and refused with one of
//! the exceptions below, whose messages are the command line's one-line messages.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

mod backtest;
mod convert;
mod router;
mod run;

create_exception!(
    _native,
    OrderRouterError,
    PyException,
    "Base of every error this package raises."
);
create_exception!(
    _native,
    ScenarioError,
    OrderRouterError,
    "A scenario, tape or market file (or text) that cannot be run: file, line and field named."
);
create_exception!(
    _native,
    AuditError,
    OrderRouterError,
    "An audit log or journal that cannot be read or recovered from."
);
create_exception!(
    _native,
    ConfigError,
    OrderRouterError,
    "Router settings, balances or arguments the router refuses."
);
create_exception!(
    _native,
    InputError,
    OrderRouterError,
    "An intent, a venue answer or another value handed to the router that it refuses."
);
create_exception!(
    _native,
    RouterContractError,
    OrderRouterError,
    "The driver broke its side of the router's contract (time going back, an unknown request id, a line made durable before it was handed out). The input was still applied."
);

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("OrderRouterError", py.get_type::<OrderRouterError>())?;
    m.add("ScenarioError", py.get_type::<ScenarioError>())?;
    m.add("AuditError", py.get_type::<AuditError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("RouterContractError", py.get_type::<RouterContractError>())?;
    run::register(m)?;
    router::register(m)?;
    backtest::register(m)?;
    Ok(())
}
