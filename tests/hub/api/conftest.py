"""The API's own tests: typed declarations are database-independent, so SQLite alone."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def registry_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"
