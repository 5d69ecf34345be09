"""HTTP views bind the loopback interface unless DRIFTREC_WEB_HOST says otherwise."""

from __future__ import annotations

import pytest

from streams.settings import Settings
from streams.worker.faustcfg import app_config


def test_the_default_bind_is_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTREC_WEB_HOST", raising=False)
    cfg = app_config(Settings())
    assert cfg["web_bind"] == "127.0.0.1"
    assert cfg["canonical_url"].startswith("http://127.0.0.1:")


def test_another_bind_only_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTREC_WEB_HOST", "0.0.0.0")
    assert app_config(Settings())["web_bind"] == "0.0.0.0"
