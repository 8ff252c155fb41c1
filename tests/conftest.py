"""Shared fixtures. Qt must be told to render offscreen before anything imports it."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def demo_dataset(tmp_path_factory):
    """A small demo dataset shared (read-only) by the tests."""
    from iris_gui.engine.demo import write_demo_dataset

    return write_demo_dataset(tmp_path_factory.mktemp("demo"), size=256, seed=7)
