"""Decoding a JSON request body without letting its shape cost a 500.

Python's decoder recurses once per nesting level, so 100,000 '[' raise RecursionError (not a
ValueError, so Flask's `get_json(silent=True)` lets it through); and a document nested just below
the interpreter's limit decodes but breaks whatever walks it next (serialising it back, a recursive
check). Every JSON body the registry reads (parse.json_body, the status fast path) comes through
`loads`, which refuses both with InvalidInput (422), and refuses what RFC 8259 does not allow
(NaN, Infinity), which no database column takes either.
"""

from __future__ import annotations

import json
from typing import Any

from registry_service.errors import InvalidInput

# Deeper than any body the API defines (a scan event inside a list inside the body is level 3;
# a station's fault report quotes a little JSON of its own), far below the interpreter's limit.
MAX_DEPTH = 32


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(raw: bytes) -> Any:
    """The decoded body; InvalidInput when it is not JSON, uses NaN/Infinity or nests too deep."""
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise InvalidInput(f"the body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # also UnicodeDecodeError, and integers longer than Python converts
        raise InvalidInput("the body must be a JSON object") from None
    # Nesting needs an opening bracket per level: a body with no more of them than the limit
    # cannot nest too deep, and counting them in C spares the walk on every station request.
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
        check_depth(value)
    return value


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse a decoded document nested deeper than `limit`; iterative, so it cannot recurse itself."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            raise InvalidInput(f"the body nests deeper than {limit} levels")
        pending.extend((child, depth + 1) for child in children)
