"""What a test does when something it needs is missing: skip, or fail with CI=true."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(message: str) -> NoReturn:
    """Skip the test, or fail it with CI=true (where everything must be there)."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
