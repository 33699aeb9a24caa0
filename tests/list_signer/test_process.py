"""The real `cylinder-signer serve` process: it signs a sequence of status lists, refuses a list
that clears a revoked entry or goes back in sequence (also after a restart), and the lists it signs
are the only ones a station accepts."""

import socket
import struct
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from list_signer.errors import Refusal, RefusedError
from tag_tools import cose, crypto, pki
from tag_tools.errors import StatusListError, StatusListRollbackError
from tag_tools.status_list import StatusArray, StatusList, StatusValue, build_status_list, parse_status_list
from tag_tools.trustlist import RevocationReason, RevokedSigner, check_succession, parse_trust_list
from tests.list_signer.conftest import SignerFiles, SignerProcess, start_signer, statuses
from tests.testkit import TestPki

LIST = 7
TTL = timedelta(hours=1)


def sign(signer: SignerProcess, sequence: int, array: StatusArray, now: datetime, list_id: int = LIST) -> bytes:
    return signer.client.sign_status_list(list_id, sequence, array, now, now + timedelta(days=1), TTL)


def test_signs_a_sequence_and_refuses_to_clear_a_revocation(signer: SignerProcess, live_pki: TestPki, real_now: datetime) -> None:
    first = sign(signer, 1, statuses(100), real_now)
    second = sign(signer, 2, statuses(120, i3=StatusValue.REVOKED_STOLEN, i50=StatusValue.SUPERSEDED), real_now)
    held = parse_status_list(second, live_pki.signer_certificate, now=real_now, list_id=LIST, min_sequence=1)
    assert held.status(3) is StatusValue.REVOKED_STOLEN and len(held) == 120
    assert parse_status_list(first, live_pki.signer_certificate, now=real_now, list_id=LIST).sequence == 1

    with pytest.raises(RefusedError) as cleared:
        sign(signer, 3, statuses(120, i50=StatusValue.SUPERSEDED), real_now)  # entry 3 back to VALID
    assert cleared.value.code is Refusal.CLEARED_REVOCATION and cleared.value.index == 3
    with pytest.raises(RefusedError) as lowered:
        sign(signer, 3, statuses(120, i3=StatusValue.SUPERSEDED, i50=StatusValue.SUPERSEDED), real_now)
    assert lowered.value.code is Refusal.CLEARED_REVOCATION  # stolen -> merely superseded is lowering too
    for sequence in (2, 1):
        with pytest.raises(RefusedError) as rolled_back:
            sign(signer, sequence, statuses(120, i3=StatusValue.REVOKED_SCRAPPED, i50=StatusValue.SUPERSEDED), real_now)
        assert rolled_back.value.code is Refusal.ROLLBACK

    third = sign(signer, 3, statuses(120, i3=StatusValue.REVOKED_SCRAPPED, i50=StatusValue.SUPERSEDED), real_now)
    assert parse_status_list(third, live_pki.signer_certificate, now=real_now, list_id=LIST, min_sequence=2).status(3) is (
        StatusValue.REVOKED_SCRAPPED
    )
    with pytest.raises(StatusListRollbackError):  # the station's side of a replayed older list
        parse_status_list(second, live_pki.signer_certificate, now=real_now, list_id=LIST, min_sequence=3)
    assert signer.client.status()["sequences"] == {f"status-{LIST}": 3}


def test_memory_survives_a_restart(signer_files: SignerFiles, real_now: datetime) -> None:
    process = start_signer(signer_files.serve_args(), signer_files.socket)
    try:
        sign(process, 1, statuses(10, i4=StatusValue.REVOKED_SCRAPPED), real_now)
    finally:
        process.stop()
    restarted = start_signer(signer_files.serve_args(), signer_files.socket)
    try:
        with pytest.raises(RefusedError) as refusal:
            sign(restarted, 2, statuses(10), real_now)
        assert refusal.value.code is Refusal.CLEARED_REVOCATION and refusal.value.index == 4
        sign(restarted, 2, statuses(12, i4=StatusValue.REVOKED_SCRAPPED), real_now)
    finally:
        restarted.stop()


def test_forged_status_lists_are_refused_by_stations(signer: SignerProcess, live_pki: TestPki, real_now: datetime) -> None:
    genuine = sign(signer, 1, statuses(16), real_now)
    parse_status_list(genuine, live_pki.signer_certificate, now=real_now, list_id=LIST)
    content = StatusList(LIST, 2, real_now, real_now + timedelta(days=1), TTL, statuses(16))
    stranger = TestPki.create(real_now)  # a key the bureau root never certified
    with pytest.raises(StatusListError, match="not a trusted status signer"):
        parse_status_list(
            build_status_list(content, stranger.signer_key, stranger.signer_certificate),
            live_pki.signer_certificate,
            now=real_now,
            list_id=LIST,
        )
    # The same content under the genuine signer's kid but another key: the signature fails.
    payload = cose.parse_sign1(
        build_status_list(content, stranger.signer_key, stranger.signer_certificate), max_size=1 << 20
    ).payload
    forged = cose.sign1(payload, stranger.signer_key, pki.kid_of(live_pki.signer_certificate))
    with pytest.raises(StatusListError, match="not authentic"):
        parse_status_list(forged, live_pki.signer_certificate, now=real_now, list_id=LIST)


def test_refuses_bad_times(signer: SignerProcess, real_now: datetime) -> None:
    with pytest.raises(RefusedError) as future:
        sign(signer, 1, statuses(8), real_now + timedelta(hours=2))
    assert future.value.code is Refusal.BAD_TIME
    with pytest.raises(RefusedError) as long_lived:
        signer.client.sign_status_list(LIST, 1, statuses(8), real_now, real_now + timedelta(days=60), TTL)
    assert long_lived.value.code is Refusal.BAD_TIME


def test_garbage_on_the_socket_does_not_stop_the_signer(signer: SignerProcess, real_now: datetime) -> None:
    answer = signer.client.call({"op": "sign-status-list", "list_id": "seven"})
    assert answer["ok"] is False and answer["refusal"] == Refusal.BAD_REQUEST
    assert signer.client.call({"op": "format-disk"})["refusal"] == Refusal.BAD_REQUEST
    for junk in (b"\xff\xff\xff\xff", struct.pack(">I", 5) + b"\xff\xff\xff\xff\xff", b"\x00"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
            raw.connect(str(signer.socket))
            raw.sendall(junk)
            raw.shutdown(socket.SHUT_WR)
            raw.settimeout(10)
            raw.recv(1 << 16)
    sign(signer, 1, statuses(8), real_now)  # still serving
    assert signer.process.poll() is None


def test_signs_trust_lists_and_never_drops_a_revocation(signer: SignerProcess, live_pki: TestPki, real_now: datetime) -> None:
    revoked = (RevokedSigner(b"\x01" * 8, real_now, RevocationReason.MISCONDUCT),)
    week = dict(issued_at=real_now, expires_at=real_now + timedelta(days=7))
    first = signer.client.sign_trust_list(live_pki.trust_list(sequence=5, revoked=revoked, **week))
    held = parse_trust_list(first, live_pki.root_certificate, now=real_now)
    assert held.signed_by == live_pki.signer_certificate and held.revoked == revoked
    with pytest.raises(RefusedError) as dropped:
        signer.client.sign_trust_list(live_pki.trust_list(sequence=6, **week))
    assert dropped.value.code is Refusal.CLEARED_REVOCATION
    with pytest.raises(RefusedError) as rolled_back:
        signer.client.sign_trust_list(live_pki.trust_list(sequence=5, revoked=revoked, **week))
    assert rolled_back.value.code is Refusal.ROLLBACK
    second = parse_trust_list(
        signer.client.sign_trust_list(live_pki.trust_list(sequence=6, revoked=revoked, **week)),
        live_pki.root_certificate,
        now=real_now,
    )
    check_succession(held, second)


def test_an_es256_key_file_works_too_and_lists_never_outlive_the_signer(tmp_path: Path, real_now: datetime) -> None:
    from tests.list_signer.conftest import SignerFiles

    es_pki = TestPki.create(real_now)
    key = crypto.generate_private_key(crypto.Algorithm.ES256)
    es_pki.signer_key = key
    es_pki.signer_certificate = pki.issue_list_signer_certificate(
        key.public_key(), "ES256", es_pki.root_certificate, es_pki.root_key, real_now - timedelta(hours=1), valid_days=2
    )
    files = SignerFiles(tmp_path, es_pki).write()
    process = start_signer(files.serve_args(), files.socket)
    try:
        token = sign(process, 1, statuses(4), real_now)
        with pytest.raises(RefusedError) as outlives:
            process.client.sign_status_list(LIST, 2, statuses(4), real_now, real_now + timedelta(days=3), TTL)
        assert outlives.value.code is Refusal.SIGNER_UNUSABLE
    finally:
        process.stop()
    assert cose.parse_sign1(token, max_size=1 << 20).algorithm == crypto.Algorithm.ES256
    parse_status_list(token, es_pki.signer_certificate, now=real_now, list_id=LIST)
