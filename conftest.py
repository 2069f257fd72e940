"""Test-wide set-up: every test run writes its experiment store to a temporary folder, never to ./.mechscope."""

import os
import tempfile

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_store():
    old = os.environ.get("MECHSCOPE_HOME")
    with tempfile.TemporaryDirectory(prefix="mechscope-test-store-") as home:
        os.environ["MECHSCOPE_HOME"] = home
        yield home
    if old is None:
        os.environ.pop("MECHSCOPE_HOME", None)
    else:
        os.environ["MECHSCOPE_HOME"] = old
