"""Shared fixtures: the repository root, the CLI binary, the recorded market data."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("ORDER_ROUTER_BIN", ROOT / "target" / "debug" / "order-router"))
MARKET = ROOT.parent / "shared" / "data" / "market"


@pytest.fixture(scope="session")
def cli():
    """Runs the `order-router` binary; returns the completed process."""
    if not BIN.exists():
        pytest.fail(f"{BIN} is missing: build it with `cargo build` (tests/python/run does)")

    def run(*args, check=True):
        p = subprocess.run([str(BIN), *map(str, args)], cwd=ROOT, capture_output=True)
        if check and p.returncode not in (0, 1):
            raise AssertionError(p.stderr.decode())
        return p

    return run


@pytest.fixture(scope="session")
def market():
    if not MARKET.is_dir():
        pytest.skip(f"recorded market data not found at {MARKET} (the shared/ folder beside the repository)")
    return MARKET
