"""Fixtures of the integration tests (the broker itself is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT text encoder saved once per session (no downloads, loads in milliseconds)."""
    from tests.unit.tinylm import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-bert"))
