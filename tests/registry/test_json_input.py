"""The JSON body decoder's nesting limit, at its edge (the no-500 tests cover far deeper bodies)."""

from __future__ import annotations

import json

import pytest

from registry_service.api import json_input
from registry_service.errors import InvalidInput


def _nested(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def test_a_body_at_the_limit_decodes_and_one_level_more_is_refused() -> None:
    assert json_input.loads(_nested(json_input.MAX_DEPTH)) is not None
    with pytest.raises(InvalidInput, match="nests deeper"):
        json_input.loads(_nested(json_input.MAX_DEPTH + 1))
    with pytest.raises(InvalidInput, match="nests deeper"):
        json_input.loads(b'{"a":' * (json_input.MAX_DEPTH + 1) + b"1" + b"}" * (json_input.MAX_DEPTH + 1))


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    body = json.dumps({"note": "[{" * 100, "events": [{"x": [1]}]}).encode()
    assert json_input.loads(body)["events"] == [{"x": [1]}]
