from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from tag_tools import pki
from tag_tools.errors import TrustError
from tag_tools.trustlist import RevocationReason, RevokedSigner, TrustList, TrustStore, build_trust_list, parse_trust_list
from tag_tools.verdict import Reason
from tests.testkit import TestPki


def make(p: TestPki, now: datetime, **changes: Any) -> bytes:
    base = TrustList(sequence=7, issued_at=now, expires_at=now + timedelta(days=14), centres=(p.centre_certificate,))
    return build_trust_list(replace(base, **changes), p.root_certificate, p.root_key)


def test_round_trip(test_pki: TestPki, now: datetime) -> None:
    revoked = RevokedSigner(b"\x01" * 8, now.replace(microsecond=0), RevocationReason.MISCONDUCT)
    parsed = parse_trust_list(make(test_pki, now.replace(microsecond=0), revoked=(revoked,)), test_pki.root_certificate)
    assert parsed.sequence == 7 and parsed.centres == (test_pki.centre_certificate,) and parsed.revoked == (revoked,)


def test_signed_by_another_root_is_refused(test_pki: TestPki, now: datetime) -> None:
    stranger = TestPki.create(now)
    with pytest.raises(TrustError, match="not signed by the pinned bureau root"):
        parse_trust_list(stranger.trust_list_bytes, test_pki.root_certificate)


def test_foreign_centre_cannot_be_listed(test_pki: TestPki, now: datetime) -> None:
    stranger = TestPki.create(now)
    with pytest.raises(TrustError):
        make(test_pki, now, centres=(stranger.centre_certificate,))


def test_root_key_must_match_root_certificate(test_pki: TestPki, now: datetime) -> None:
    stranger = TestPki.create(now)
    with pytest.raises(TrustError, match="does not belong"):
        build_trust_list(
            TrustList(1, now, now + timedelta(days=1), (test_pki.centre_certificate,)),
            test_pki.root_certificate,
            stranger.root_key,
        )


def test_store_compiles_signers_and_freshness(test_pki: TestPki, now: datetime) -> None:
    store = TrustStore.load(test_pki.root_certificate, make(test_pki, now), max_age=timedelta(days=3))
    assert set(store.signers) == {pki.kid_of(test_pki.centre_certificate)}
    assert store.freshness_problem(now + timedelta(days=2)) is None
    for later in (timedelta(days=4), timedelta(days=15), timedelta(hours=-1)):  # the last: clock behind
        problem = store.freshness_problem(now + later)
        assert problem is not None and problem[0] is Reason.TRUST_LIST_STALE, later


def test_store_never_raises_on_garbage(test_pki: TestPki) -> None:
    store = TrustStore.load(test_pki.root_certificate, b"\xd2\x84garbage")
    assert store.problem is Reason.TRUST_LIST_NOT_AUTHENTIC and store.trust_list is None
