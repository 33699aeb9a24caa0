"""Shared fixtures: a fixed clock and an in-memory bureau, so every test is reproducible."""

from datetime import UTC, datetime

import pytest

from tests.testkit import TYPICAL_UID, TestPki

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def now() -> datetime:
    return NOW


@pytest.fixture(scope="session")
def test_pki() -> TestPki:
    return TestPki.create(NOW)


@pytest.fixture(scope="session")
def uid() -> bytes:
    return TYPICAL_UID


@pytest.fixture(scope="session")
def signed_message(test_pki: TestPki, uid: bytes) -> bytes:
    return test_pki.ndef_message(uid)
