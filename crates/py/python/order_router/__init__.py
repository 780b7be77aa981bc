"""The order router for Python bots.

* ``Router``: the sans-IO router as the execution layer of your own bot (you journal its audit
  lines, execute its commands and hand back the venue's answers); ``order_router.ccxt.route``
  drives it against any ccxt exchange object.
* ``run_scenario``, ``fuzz``, ``check_audit`` and ``backtest``: the simulation harness as a
  library, the same code as the ``order-router`` command line.
* ``bot_audit``: what a bot lost track of, from ``order-router venue --record``'s file.

See docs/python.md in the repository.
"""

from ._native import (
    AuditError,
    BacktestContext,
    ConfigError,
    InputError,
    OrderRouterError,
    Router,
    RouterContractError,
    RunResult,
    ScenarioError,
    __version__,
    backtest,
    bot_audit,
    check_audit,
    fuzz,
    run_scenario,
)

__all__ = [
    "AuditError",
    "BacktestContext",
    "ConfigError",
    "InputError",
    "OrderRouterError",
    "Router",
    "RouterContractError",
    "RunResult",
    "ScenarioError",
    "__version__",
    "backtest",
    "bot_audit",
    "check_audit",
    "fuzz",
    "run_scenario",
]


def __getattr__(name: str):
    # `order_router.ccxt` needs ccxt, an optional dependency: imported on first use.
    if name == "ccxt":
        import importlib

        return importlib.import_module(".ccxt", __name__)
    raise AttributeError(f"module 'order_router' has no attribute {name!r}")
