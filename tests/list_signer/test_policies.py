"""The real `cylinder-signer serve` process signs batches of central station policies: one sequence
per batch that never goes back (also after a restart), dated by its own clock, known terms only."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from list_signer import protocol
from list_signer.errors import Refusal, RefusedError
from tag_tools.errors import PolicyRollbackError
from tag_tools.station_policy import Mode, PolicyTerms, parse_station_policy
from tests.list_signer.conftest import SignerFiles, SignerProcess, start_signer
from tests.testkit import TestPki

ENFORCE = PolicyTerms(mode=Mode.ENFORCE, warning_days=45)
NO_OVERRIDES = PolicyTerms(overridable=frozenset(), min_refill_interval=timedelta(hours=3))


def test_signs_a_batch_with_one_sequence_and_its_own_clock(signer: SignerProcess, live_pki: TestPki, real_now: datetime) -> None:
    first, second = signer.client.sign_station_policies(7, [("ST-JS-01", ENFORCE), ("ST-EQ-01", NO_OVERRIDES)])
    one = parse_station_policy(first, live_pki.signer_certificate, now=real_now, station_code="ST-JS-01")
    two = parse_station_policy(second, live_pki.signer_certificate, now=real_now, station_code="ST-EQ-01")
    assert (one.sequence, one.terms) == (7, ENFORCE) and (two.sequence, two.terms) == (7, NO_OVERRIDES)
    assert abs(one.issued_at - real_now) < timedelta(minutes=1)  # the signer's clock, not one the registry chose
    assert signer.client.status()["policy_sequence"] == 7
    with pytest.raises(PolicyRollbackError):  # what a station holding it does with the same document again
        parse_station_policy(first, live_pki.signer_certificate, now=real_now, station_code="ST-JS-01", after_sequence=7)


def test_the_sequence_never_goes_back_even_after_a_restart(signer_files: SignerFiles) -> None:
    process = start_signer(signer_files.serve_args(), signer_files.socket)
    try:
        process.client.sign_station_policies(3, [("ST-JS-01", ENFORCE)])
        for sequence in (3, 2):
            with pytest.raises(RefusedError) as refusal:
                process.client.sign_station_policies(sequence, [("ST-JS-01", PolicyTerms(mode=Mode.MONITOR))])
            assert refusal.value.code is Refusal.ROLLBACK
    finally:
        process.stop()
    restarted = start_signer(signer_files.serve_args(), signer_files.socket)
    try:
        with pytest.raises(RefusedError) as refusal:
            restarted.client.sign_station_policies(3, [("ST-JS-01", PolicyTerms(mode=Mode.MONITOR))])
        assert refusal.value.code is Refusal.ROLLBACK
        assert len(restarted.client.sign_station_policies(4, [("ST-JS-01", PolicyTerms(mode=Mode.MONITOR))])) == 1
    finally:
        restarted.stop()


def test_bad_batches_are_refused_and_sign_nothing(signer: SignerProcess) -> None:
    def ask(policies: object, sequence: object = 10) -> RefusedError:
        answer = signer.client.call({"op": protocol.OP_SIGN_STATION_POLICIES, "sequence": sequence, "policies": policies})
        with pytest.raises(RefusedError) as refusal:
            protocol.answer_batch(answer, 1)
        return refusal.value

    good = {"station": "ST-JS-01", "terms": {"mode": "enforce"}}
    unknown = ask([good, {"station": "ST-EQ-01", "terms": {"overridable": ["no_such_reason"]}}])
    assert unknown.code is Refusal.INVALID_LIST and unknown.index == 1 and "no_such_reason" in unknown.detail
    assert ask([good, good]).code is Refusal.INVALID_LIST  # one station twice in one batch
    assert ask([{"station": "bad code", "terms": {}}]).code is Refusal.INVALID_LIST
    assert ask([{"station": "ST-JS-01", "terms": {"mode": "lenient"}}]).code is Refusal.INVALID_LIST
    assert ask([{"station": "ST-JS-01"}]).code is Refusal.INVALID_LIST
    assert ask([]).code is Refusal.BAD_REQUEST
    assert ask("all").code is Refusal.BAD_REQUEST
    assert ask([good], sequence=-1).code is Refusal.BAD_REQUEST
    assert signer.client.status()["policy_sequence"] is None  # nothing was signed
