"""Tests that need other settings for a while replace the app's settings object (it is frozen:
nothing in the app changes it). Assigning to ``app.config`` at run time changes nothing any more:
the app read its settings once, in ``create_app``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import is_dataclass, replace
from typing import Any

import pytest
from flask import Flask

from casework.settings import EXTENSION, Settings, settings


def changed(current: Settings, **changes: Any) -> Settings:
    """``current`` with some fields replaced: a group's by a dict (``exhibits={"chunk_bytes": 65536}``),
    a field of the settings themselves by its value (``erasure_delay=timedelta(0)``)."""
    fields: dict[str, Any] = {}
    for name, value in changes.items():
        group = getattr(current, name)
        fields[name] = replace(group, **value) if is_dataclass(group) and isinstance(value, dict) else value
    return replace(current, **fields)


def replace_settings(app: Flask, **changes: Any) -> Settings:
    """From now on (the caller restores them: see ``settings_replaced``, ``patch_settings``)."""
    app.extensions[EXTENSION] = found = changed(settings(app), **changes)
    return found


@contextmanager
def settings_replaced(app: Flask, **changes: Any) -> Iterator[Settings]:
    """Within the block; the settings before are back after it."""
    before = settings(app)
    try:
        yield replace_settings(app, **changes)
    finally:
        app.extensions[EXTENSION] = before


def patch_settings(monkeypatch: pytest.MonkeyPatch, app: Flask, **changes: Any) -> Settings:
    """Until the end of the test (``monkeypatch`` puts the settings before back)."""
    monkeypatch.setitem(app.extensions, EXTENSION, changed(settings(app), **changes))
    return settings(app)
