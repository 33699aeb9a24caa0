"""Fixtures of the handheld tests: the shared vectors, made once per session by the Python code
(tests/handheld/vectors.py) and written where the Node and Chromium runs can read them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.handheld.vectors import build_vectors, write


@pytest.fixture(scope="session")
def vectors_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("handheld-vectors") / "vectors.json"
    write(path, build_vectors())
    return path


@pytest.fixture(scope="session")
def vectors(vectors_file: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(vectors_file.read_text(encoding="utf-8"))
    return loaded
