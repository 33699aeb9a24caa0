"""schemathesis against schemas/registry-api.yaml, in-process over WSGI, with bounded examples:
no server errors, and every response conforms (status code, content type, body schema).
Each operation runs with a credential of a role it allows, so the handlers themselves are fuzzed.
Negative cases (data that violates the schema) must be rejected with a 4xx."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.registry.conftest import World
from tests.registry.helpers import add_vehicle
from tests.testkit import TestPki

SPEC = yaml.safe_load((Path(__file__).parents[2] / "schemas" / "registry-api.yaml").read_text())


def _without_security(spec: dict[str, Any]) -> dict[str, Any]:
    """The credential is the test's to choose (a role the operation allows); schemathesis must
    not fuzz the Authorization header, which the authorisation-matrix test covers."""
    fuzzed = copy.deepcopy(spec)
    fuzzed["security"] = []
    for item in fuzzed["paths"].values():
        for operation in item.values():
            operation["security"] = []
    return fuzzed


FUZZ_SPEC = _without_security(SPEC)


@schemathesis.serializer("application/cose")
def _cose_body(ctx: schemathesis.SerializationContext, value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


OPERATIONS = [(m.upper(), p, op.get("x-roles", [])) for p, item in SPEC["paths"].items() for m, op in item.items()]
# Negative data needs something to break: operations without parameters or body have none.
CASES = [
    pytest.param(method, path, roles, mode, id=f"{method} {path} {mode.value}")
    for method, path, roles in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or {"parameters", "requestBody"} & set(SPEC["paths"][path][method.lower()])
]
POSITIVE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
NEGATIVE_CHECKS = [*POSITIVE_CHECKS, negative_data_rejection]
MAX_EXAMPLES = 12


def test_document_is_valid_openapi_3_1() -> None:
    schema = schemathesis.openapi.from_dict(SPEC)
    results = list(schema.get_all_operations())
    assert [r.err() for r in results if isinstance(r, Err)] == []
    assert SPEC["openapi"] == "3.1.0" and len(results) == len(OPERATIONS)


@pytest.mark.parametrize(("method", "path", "roles", "mode"), CASES)
def test_operation_conforms(
    app: Flask, world: World, pki: TestPki, method: str, path: str, roles: list[str], mode: GenerationMode
) -> None:
    add_vehicle(world, "豫A8M2K7", [{"cylinder_id": "156-4101-1", "tag_uid": "04A2C4D2E15A80"}])
    app.test_client().put(
        "/api/v1/trust-list", data=pki.trust_list_bytes, content_type="application/cose", headers=world.auth("bureau")
    )
    schema = schemathesis.openapi.from_dict(FUZZ_SPEC)
    schema.app = app
    operation = schema[path][method]
    role = next((r for r in ("station", "bureau", "centre", "admin") if r in roles), None)
    headers = world.auth(role) if role else {}
    checks = NEGATIVE_CHECKS if mode is GenerationMode.NEGATIVE else POSITIVE_CHECKS

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    run()
