"""Where the handheld app lives: its URL prefix and its files (one module, imported by the views
and by web.py, which puts the views on the blueprint)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

HERE: Final = Path(__file__).parent
URL_PREFIX: Final = "/verify"
