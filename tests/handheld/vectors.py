"""The shared test vectors of the handheld verifier, made and judged by the Python code.

Every vector is inputs (the tag's UID and NDEF message, which trust list and status lists are held,
the clock, the policy) and the verdict tag_tools.verify.verify_tag gives them: decision, reasons in
order, the signer's centre, the record's claims, and whether the record's status entry was read
(`statusChecked`: the record names a list that is held, unexpired, and holds its index). Trust
and status lists carry their own expectations (parsed, or refused and why); the corpora
(tests/handheld/corpora.py) label inputs of the strict decoders one by one.

The JavaScript core (registry_service/handheld/static/core) must give the same answer for every
one: tests/handheld/test_vectors_node.py and test_vectors_browser.py run them through
tests/handheld/run_vectors.mjs in Node and in Chromium.

    .venv/bin/python -m tests.handheld.vectors --out vectors.json
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import random
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tag_tools import cbor_codec, cose, ndef_record, pki
from tag_tools.claims import InspectionResult, StatusReference
from tag_tools.errors import StatusIndexError, StatusListError, StatusListRollbackError, StatusListStaleError
from tag_tools.reason_catalogue import Origin, Severity, catalogue
from tag_tools.status_list import Claim, StatusList, StatusValue, parse_status_list
from tag_tools.trustlist import TrustStore
from tag_tools.verdict import Verdict
from tag_tools.verify import VerificationPolicy, verify_tag
from tests.handheld import corpora
from tests.handheld.world import NOW, UID, World, build_world
from tests.tag_tools import test_cbor_codec, test_ndef_tnf, test_status_list
from tests.tag_tools.test_cert_profile import AKI, BC, EKU, KU, LIST, REC, REGION, SKI, build, build_root, key_usage

FORMAT = 1
SHANGHAI = "Asia/Shanghai"
DEFAULT_POLICY: dict[str, Any] = {"warningDays": 30, "clockSkewSeconds": 600, "timeZone": SHANGHAI}
MAX_AGE_SECONDS = 7 * 86_400
V, SUPERSEDED, STOLEN, SCRAPPED = StatusValue


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def python_policy(policy: Mapping[str, Any]) -> VerificationPolicy:
    return VerificationPolicy(
        warning_days=policy["warningDays"],
        clock_skew=timedelta(seconds=policy["clockSkewSeconds"]),
        local_timezone=ZoneInfo(policy["timeZone"]),
    )


@dataclass
class TrustListVector:
    data: bytes
    now: datetime
    root_der: bytes
    store: TrustStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = TrustStore.load(
            pki.load_certificate(self.root_der), self.data, timedelta(seconds=MAX_AGE_SECONDS), now=self.now
        )

    def to_json(self) -> dict[str, Any]:
        if self.store.trust_list is None:
            expect: dict[str, Any] = {"ok": False, "reason": str(self.store.problem)}
        else:
            expect = {"ok": True, "sequence": self.store.trust_list.sequence, "centres": len(self.store.signers)}
        return {
            "b64": b64(self.data),
            "rootB64": b64(self.root_der),
            "now": iso(self.now),
            "maxAgeSeconds": MAX_AGE_SECONDS,
            "expect": expect,
        }


@dataclass
class StatusListVector:
    data: bytes
    trust_list: str
    now: datetime
    list_id: int
    min_sequence: int = 0
    parsed: StatusList | None = None
    error: StatusListError | None = None

    def to_json(self) -> dict[str, Any]:
        if self.parsed is not None:
            expect: dict[str, Any] = {
                "ok": True,
                "listId": self.parsed.list_id,
                "sequence": self.parsed.sequence,
                "count": len(self.parsed),
            }
        else:
            kind = (
                "stale"
                if isinstance(self.error, StatusListStaleError)
                else "rollback"
                if isinstance(self.error, StatusListRollbackError)
                else "invalid"
            )
            expect = {"ok": False, "kind": kind}
        return {
            "b64": b64(self.data),
            "trustList": self.trust_list,
            "now": iso(self.now),
            "listId": self.list_id,
            "minSequence": self.min_sequence,
            "expect": expect,
        }


class Vectors:
    """Collects trust lists, status lists and cases, judging each with the Python code."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.trust_lists: dict[str, TrustListVector] = {}
        self.status_lists: dict[str, StatusListVector] = {}
        self.cases: list[dict[str, Any]] = []

    def add_trust_list(self, name: str, data: bytes, now: datetime | None = None, root_der: bytes | None = None) -> None:
        self.trust_lists[name] = TrustListVector(data, now or self.world.now, root_der or self.world.root_der)

    def add_status_list(
        self,
        name: str,
        data: bytes,
        trust_list: str = "main",
        list_id: int = 0,
        now: datetime | None = None,
        min_sequence: int = 0,
    ) -> None:
        moment = now or self.world.now
        vector = StatusListVector(data, trust_list, moment, list_id, min_sequence)
        trust = self.trust_lists[trust_list].store.trust_list
        assert trust is not None
        try:
            vector.parsed = parse_status_list(
                data, trust.status_signers(moment), now=moment, list_id=list_id, min_sequence=min_sequence
            )
        except StatusListError as error:
            vector.error = error
        self.status_lists[name] = vector

    def add_case(
        self,
        name: str,
        message: bytes,
        *,
        uid: bytes = UID,
        trust_list: str | None = "main",
        status_lists: tuple[str, ...] = (),
        now: datetime | None = None,
        policy: Mapping[str, Any] | None = None,
        hostile: bool = False,
        expect: str | None = None,
    ) -> dict[str, Any]:
        """One vector; `expect` ("allow", "refuse:malformed"...) guards the generator itself: the
        Python verdict must be what the case is named for."""
        moment = now or self.world.now
        chosen = dict(policy or DEFAULT_POLICY)
        held: dict[int, StatusList] = {}
        for list_name in status_lists:
            parsed = self.status_lists[list_name].parsed
            assert parsed is not None, list_name
            held[parsed.list_id] = parsed
        store = self.trust_lists[trust_list].store if trust_list is not None else self.unloaded_store()
        verdict = verify_tag(uid, message, trust=store, now=moment, policy=python_policy(chosen), status_lists=held)
        summary = short(verdict)
        if expect is not None:
            assert summary == expect, f"{name}: Python says {summary}, the case expects {expect}"
        case = {
            "name": name,
            "uid": uid.hex(),
            "ndefB64": b64(message),
            "trustList": trust_list if trust_list is not None and store.trust_list is not None else None,
            "statusLists": list(status_lists),
            "now": iso(moment),
            "policy": chosen,
            "hostile": hostile,
            "expect": {
                "decision": verdict.decision.value,
                "reasons": [r.value for r in verdict.reasons],
                "statusChecked": status_checked(verdict, held, moment),
                "signerCentreId": verdict.signer_centre_id,
                "record": verdict.record.to_json() if verdict.record is not None else None,
            },
        }
        self.cases.append(case)
        return case

    def unloaded_store(self) -> TrustStore:
        """What a station holds before any authentic trust list: every verdict refuses."""
        return TrustStore(self.world.root.certificate, timedelta(seconds=MAX_AGE_SECONDS), None, problem_detail="no trust list")


def short(verdict: Verdict) -> str:
    return ":".join([verdict.decision.value, ",".join(r.value for r in verdict.reasons)]).rstrip(":")


def status_checked(verdict: Verdict, held: Mapping[int, StatusList], now: datetime) -> bool:
    """True when the record's entry was read from a held, unexpired list (the page shows "status
    unknown" otherwise, never "valid")."""
    reference = verdict.record.status_ref if verdict.record is not None else None
    if reference is None or reference.list_id not in held or now >= held[reference.list_id].expires_at:
        return False
    try:
        held[reference.list_id].status(reference.index)
    except StatusIndexError:
        return False
    return True


# --- trust lists and status lists -------------------------------------------------------------------


def add_trust_lists(v: Vectors) -> None:
    w = v.world
    now = w.now
    v.add_trust_list("main", w.signed_trust_list("p256"))
    v.add_trust_list("ed25519 signer", w.signed_trust_list("ed25519", sequence=41))
    v.add_trust_list("root signed v1", w.signed_trust_list(None, signers=(), signer_revocations=None, revoked=()))
    v.add_trust_list("root signed v2", w.signed_trust_list(None))
    v.add_trust_list(
        "expired",
        w.signed_trust_list(
            None, signers=(), signer_revocations=None, issued_at=now - timedelta(days=20), expires_at=now - timedelta(days=6)
        ),
    )
    v.add_trust_list(
        "older than max age", w.signed_trust_list("p256", issued_at=now - timedelta(days=8), expires_at=now + timedelta(days=6))
    )
    v.add_trust_list(
        "issued in the future",
        w.signed_trust_list("p256", issued_at=now + timedelta(hours=1), expires_at=now + timedelta(days=6)),
    )
    main = w.signed_trust_list("p256")
    tampered = bytearray(main)
    tampered[len(tampered) // 2] ^= 0x01
    v.add_trust_list("tampered", bytes(tampered))
    stranger = build_world(now)
    v.add_trust_list("signed by another root", stranger.signed_trust_list("p256"))
    v.add_trust_list("another root pinned", main, root_der=stranger.root_der)
    # A list signed by the root-revoked signer, carrying the revocation (made by hand: the CA refuses).
    retired = w.list_signers["retired"]
    body = w.raw_body(version=2, extra={8: w.signer_revocations.blob})
    v.add_trust_list(
        "signed by a revoked list signer",
        w.raw_trust_list(body, retired.key, retired.kid, (pki.certificate_to_der(retired.certificate),)),
    )
    expired = w.list_signers["expired"]
    issued = now - timedelta(days=90)
    old = w.raw_body(version=2)
    old[3], old[4] = int(issued.timestamp()), int((issued + timedelta(days=5)).timestamp())
    v.add_trust_list(
        "list signer expired", w.raw_trust_list(old, expired.key, expired.kid, (pki.certificate_to_der(expired.certificate),))
    )
    p256 = w.list_signers["p256"]
    chain = (pki.certificate_to_der(p256.certificate), w.root_der)
    v.add_trust_list("x5chain with the root", w.raw_trust_list(w.raw_body(version=2), p256.key, p256.kid, chain))
    wrong_tail = (pki.certificate_to_der(p256.certificate), pki.certificate_to_der(w.centres["ZZTJ01"].certificate))
    v.add_trust_list("x5chain ending elsewhere", w.raw_trust_list(w.raw_body(version=2), p256.key, p256.kid, wrong_tail))
    v.add_trust_list(
        "v1 from a list signer",
        w.raw_trust_list(w.raw_body(version=1), p256.key, p256.kid, (pki.certificate_to_der(p256.certificate),)),
    )
    v.add_trust_list("version 3", w.raw_trust_list(w.raw_body(version=3)))
    v.add_trust_list("version true", w.raw_trust_list({**w.raw_body(), 1: True}))
    v.add_trust_list("signer revocations null", w.raw_trust_list(w.raw_body(version=2, extra={8: None})))
    v.add_trust_list("pem centre", w.raw_trust_list(w.raw_body([pki.certificate_to_pem(w.centres["ZZTJ01"].certificate)])))
    v.add_trust_list("centre entry not bytes", w.raw_trust_list(w.raw_body([1])))
    v.add_trust_list("revoked entry bad reason", w.raw_trust_list(w.raw_body(extra={6: [[bytes(8), 0, 9]]})))
    v.add_trust_list("time beyond year 9999", w.raw_trust_list(w.raw_body(extra={4: 253_402_300_800})))
    v.add_trust_list("extra key", w.raw_trust_list(w.raw_body(extra={9: 0})))
    add_bad_certificates(v)


def add_bad_certificates(v: Vectors) -> None:
    """Root-signed lists naming one certificate that breaks one clause of the profile (the
    certificates of tests/tag_tools/test_cert_profile.py), and hand-made roots that break it."""
    w = v.world
    p = w.as_test_pki()
    rogue_ec = ec.generate_private_key(ec.SECP256R1())
    centres: dict[str, Any] = {
        "builder default (meets the profile)": build(p)[1],
        "p256 centre key (meets the profile)": build(p, key=ec.generate_private_key(ec.SECP256R1()))[1],
        "ca": build(p, {BC: (x509.BasicConstraints(ca=True, path_length=0), True)})[1],
        "basic constraints missing": build(p, drop=(BC,))[1],
        "key usage plus cert sign": build(p, {KU: (key_usage("digital_signature", "key_cert_sign"), True)})[1],
        "key usage not critical": build(p, {KU: (key_usage("digital_signature"), False)})[1],
        "eku plus server auth": build(p, {EKU: (x509.ExtendedKeyUsage([REC, ExtendedKeyUsageOID.SERVER_AUTH]), True)})[1],
        "eku list signing": build(p, {EKU: (x509.ExtendedKeyUsage([LIST]), True)})[1],
        "eku not critical": build(p, {EKU: (x509.ExtendedKeyUsage([REC]), False)})[1],
        "no subject key id": build(p, drop=(SKI,))[1],
        "no authority key id": build(p, drop=(AKI,))[1],
        "no region": build(p, drop=(REGION,))[1],
        "region octet string": build(p, {REGION: (x509.UnrecognizedExtension(REGION, b"\x04\x06410105"), False)})[1],
        "two centre ids": build(
            p, subject=[(NameOID.ORGANIZATION_NAME, "C"), (NameOID.SERIAL_NUMBER, "A"), (NameOID.SERIAL_NUMBER, "B")]
        )[1],
        "centre id too long": build(p, subject=[(NameOID.ORGANIZATION_NAME, "C"), (NameOID.SERIAL_NUMBER, "Z" * 33)])[1],
        "no organisation": build(p, subject=[(NameOID.SERIAL_NUMBER, "ZZTJ01")])[1],
        "ecdsa signed": build(p, signer=rogue_ec)[1],
        "other issuer name": build(p, issuer=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Another bureau")]))[1],
        "p384 key": build(p, key=ec.generate_private_key(ec.SECP384R1()))[1],
        "outlives the root": build(p, not_after=p.root_certificate.not_valid_after_utc + timedelta(days=1))[1],
        "unknown critical extension": build(
            p, {x509.ObjectIdentifier("2.25.1"): (x509.UnrecognizedExtension(x509.ObjectIdentifier("2.25.1"), b"\x05\x00"), True)}
        )[1],
        "unknown extension not critical": build(
            p,
            {x509.ObjectIdentifier("2.25.1"): (x509.UnrecognizedExtension(x509.ObjectIdentifier("2.25.1"), b"\x05\x00"), False)},
        )[1],
        "signed by another root": build_world(w.now).centres["ZZTJ01"].certificate,
    }
    for name, certificate in centres.items():
        v.add_trust_list(f"centre: {name}", w.raw_trust_list(w.raw_body([pki.certificate_to_der(certificate)])))
    signers: dict[str, Any] = {
        "list signer with server auth": build(
            p, {EKU: (x509.ExtendedKeyUsage([LIST, ExtendedKeyUsageOID.SERVER_AUTH]), True)}, purpose=LIST
        )[1],
        "list signer named wrong": build(p, purpose=LIST, subject=[(NameOID.COMMON_NAME, "pump.example.org")])[1],
        "list signer named ' list signer'": build(p, purpose=LIST, subject=[(NameOID.COMMON_NAME, " list signer")])[1],
    }
    for name, certificate in signers.items():
        body = w.raw_body(version=2)
        body[7] = [pki.certificate_to_der(certificate)]
        v.add_trust_list(f"signers: {name}", w.raw_trust_list(body))
    roots: dict[str, tuple[Any, Any]] = {
        "builder default (meets the profile)": build_root(
            not_before=w.now - timedelta(days=1), not_after=w.now + timedelta(days=30)
        ),
        "not a CA": build_root(
            {BC: (x509.BasicConstraints(ca=False, path_length=None), True)},
            not_before=w.now - timedelta(days=1),
            not_after=w.now + timedelta(days=30),
        ),
        "path length 1": build_root(
            {BC: (x509.BasicConstraints(ca=True, path_length=1), True)},
            not_before=w.now - timedelta(days=1),
            not_after=w.now + timedelta(days=30),
        ),
        "key usage plus digital signature": build_root(
            {KU: (key_usage("key_cert_sign", "crl_sign", "digital_signature"), True)},
            not_before=w.now - timedelta(days=1),
            not_after=w.now + timedelta(days=30),
        ),
        "extended key usage": build_root(
            {EKU: (x509.ExtendedKeyUsage([REC]), False)},
            not_before=w.now - timedelta(days=1),
            not_after=w.now + timedelta(days=30),
        ),
        "no subject key id": build_root(drop=(SKI,), not_before=w.now - timedelta(days=1), not_after=w.now + timedelta(days=30)),
        "p256 key": build_root(
            key=ec.generate_private_key(ec.SECP256R1()),
            not_before=w.now - timedelta(days=1),
            not_after=w.now + timedelta(days=30),
        ),
        "expired": build_root(not_before=w.now - timedelta(days=100), not_after=w.now - timedelta(days=10)),
    }
    for name, (key, root) in roots.items():
        kid = pki.kid_of(root)
        data = w.raw_trust_list(w.raw_body([]), key, kid)
        v.add_trust_list(f"root: {name}", data, root_der=pki.certificate_to_der(root))


def add_status_lists(v: Vectors) -> None:
    w = v.world
    now = w.now
    v.add_status_list("list 0 (p256)", w.status_list(0, {5: SUPERSEDED, 6: STOLEN, 7: SCRAPPED}))
    v.add_status_list("list 1 (ed25519)", w.status_list(1, {3: SUPERSEDED}, signer="ed25519"), list_id=1)
    v.add_status_list("list 2 (expires in an hour)", w.status_list(2, {}, expires=timedelta(hours=1)), list_id=2)
    v.add_status_list("list 0 read from the root-signed v2 list", w.status_list(0, {5: SUPERSEDED}), trust_list="root signed v2")
    v.add_status_list("list 3 (odd count)", w.status_list(3, {4: STOLEN}, count=5), list_id=3)
    v.add_status_list("wrong list id", w.status_list(0, {}), list_id=1)
    v.add_status_list("expired", w.status_list(0, {}, issued=timedelta(days=-3), expires=timedelta(days=-1)))
    v.add_status_list("issued in the future", w.status_list(0, {}, issued=timedelta(hours=1)))
    v.add_status_list("older than held", w.status_list(0, {}, sequence=6), min_sequence=7)
    v.add_status_list("same as held", w.status_list(0, {}, sequence=7), min_sequence=7)
    v.add_status_list("signed by the retired signer", w.status_list(0, {}, signer="retired"))
    v.add_status_list("signed by an unlisted key", build_world(now).status_list(0, {}))
    token = bytearray(w.status_list(0, {}))
    token[-10] ^= 0x04
    v.add_status_list("tampered", bytes(token))
    v.add_status_list("trailing byte", w.status_list(0, {}) + b"\x00")
    for lst, message in corpora.parametrised(test_status_list.test_bad_compressed_entries_are_refused):
        v.add_status_list(
            f"lst: {message}", w.signed_status_claims(w.status_claims() | {Claim.STATUS_LIST: {"bits": 2, "lst": lst}})
        )
    for i, (changes,) in enumerate(corpora.parametrised(test_status_list.test_bad_claims_are_refused)):
        claims = w.status_claims() | changes
        v.add_status_list(f"bad claims #{i}", w.signed_status_claims(claims))
    v.add_status_list("good hand-made claims", w.signed_status_claims(w.status_claims()))
    v.add_status_list(
        "bits 2.0",
        w.signed_status_claims(w.status_claims() | {Claim.STATUS_LIST: {"bits": 2.0, "lst": zlib.compress(b"\xe4\x01")}}),
    )
    reordered = cbor2.dumps(dict(reversed(list(w.status_claims().items()))))
    v.add_status_list("claims out of order", cose.sign1(reordered, w.list_signers["p256"].key, w.list_signers["p256"].kid))
    bomb = zlib.compress(bytes(1 << 20), 9)
    v.add_status_list(
        "zlib bomb", w.signed_status_claims(w.status_claims(count=8) | {Claim.STATUS_LIST: {"bits": 2, "lst": bomb}})
    )


# --- cases --------------------------------------------------------------------------------------------


def add_cases(v: Vectors) -> None:
    w = v.world
    now = w.now
    today = now.astimezone(ZoneInfo(SHANGHAI)).date()  # 2026-11-22 in Shanghai at 16:00
    ref = StatusReference
    lists = ("list 0 (p256)", "list 1 (ed25519)")

    # Valid records, with and without a status entry read.
    v.add_case("valid: Ed25519 centre, status entry read", w.message(status_ref=ref(0, 1)), status_lists=lists, expect="allow")
    v.add_case(
        "valid: P-256 centre, list 1 by the Ed25519 signer",
        w.message("ZZES02", status_ref=ref(1, 2)),
        status_lists=lists,
        expect="allow",
    )
    v.add_case("valid: no status reference (status unknown)", w.message(), status_lists=lists, expect="allow")
    v.add_case("valid: names a list not held", w.message(status_ref=ref(9, 1)), status_lists=lists, expect="allow")
    v.add_case("valid: index beyond the list", w.message(status_ref=ref(0, 500)), status_lists=lists, expect="allow")
    v.add_case(
        "valid: last index of an odd-sized list",
        w.message(status_ref=ref(3, 3)),
        status_lists=("list 3 (odd count)",),
        expect="allow",
    )
    v.add_case(
        "refused: stolen, index 4 of an odd-sized list",
        w.message(status_ref=ref(3, 4)),
        status_lists=("list 3 (odd count)",),
        expect="refuse:cylinder_revoked",
    )
    v.add_case("valid: root-signed v1 trust list", w.message(), trust_list="root signed v1", expect="allow")
    v.add_case("valid: trust list by the Ed25519 signer", w.message("ZZES02"), trust_list="ed25519 signer", expect="allow")
    v.add_case(
        "valid: root-signed v2 trust list and its status list",
        w.message(status_ref=ref(0, 2)),
        trust_list="root signed v2",
        status_lists=("list 0 read from the root-signed v2 list",),
        expect="allow",
    )
    v.add_case("valid: x5chain with the root", w.message(), trust_list="x5chain with the root", expect="allow")
    v.add_case("valid: PEM centre certificate in the list", w.message(), trust_list="pem centre", expect="allow")
    v.add_case(
        "valid: issued within the clock skew",
        w.message(issued_at=now.replace(microsecond=0) + timedelta(minutes=5)),
        expect="allow",
    )

    # Warnings.
    v.add_case(
        "due soon: next inspection in 10 days",
        w.message(next_due=today + timedelta(days=10)),
        expect="allow_with_warning:due_soon",
    )
    v.add_case(
        "due soon: end of life in 20 days",
        w.message(end_of_life=today + timedelta(days=20)),
        expect="allow_with_warning:due_soon",
    )
    v.add_case("due soon: exactly 30 days", w.message(next_due=today + timedelta(days=30)), expect="allow_with_warning:due_soon")
    v.add_case("not due soon: 31 days", w.message(next_due=today + timedelta(days=31)), expect="allow")
    v.add_case(
        "due soon with a 60-day policy",
        w.message(next_due=today + timedelta(days=45)),
        policy={**DEFAULT_POLICY, "warningDays": 60},
        expect="allow_with_warning:due_soon",
    )
    v.add_case(
        "due soon and its status read",
        w.message(next_due=today + timedelta(days=3), status_ref=ref(0, 9)),
        status_lists=lists,
        expect="allow_with_warning:due_soon",
    )

    # Refusals by the filling rules and the status list.
    v.add_case("overdue", w.message(next_due=today - timedelta(days=1)), expect="refuse:inspection_overdue")
    v.add_case("past service life", w.message(end_of_life=today - timedelta(days=1)), expect="refuse:past_service_life")
    v.add_case("failed inspection", w.message(result=InspectionResult.FAILED), expect="refuse:inspection_failed")
    v.add_case("superseded (status list)", w.message(status_ref=ref(0, 5)), status_lists=lists, expect="refuse:record_superseded")
    v.add_case(
        "revoked: stolen (status list)", w.message(status_ref=ref(0, 6)), status_lists=lists, expect="refuse:cylinder_revoked"
    )
    v.add_case(
        "revoked: scrapped (status list)", w.message(status_ref=ref(0, 7)), status_lists=lists, expect="refuse:cylinder_revoked"
    )
    v.add_case(
        "superseded on the Ed25519 signer's list",
        w.message("ZZES02", status_ref=ref(1, 3)),
        status_lists=lists,
        expect="refuse:record_superseded",
    )
    failed = InspectionResult.FAILED
    v.add_case(
        "everything at once",
        w.message(
            status_ref=ref(0, 5),
            result=failed,
            next_due=today - timedelta(days=2),
            end_of_life=today - timedelta(days=1),
            inspected=today - timedelta(days=300),
            issued_at=now.replace(microsecond=0) - timedelta(days=300),
        ),
        status_lists=lists,
        expect="refuse:record_superseded,inspection_failed,past_service_life,inspection_overdue",
    )
    later = now + timedelta(hours=2)
    v.add_case(
        "status list expired",
        w.message(status_ref=ref(2, 1)),
        status_lists=("list 2 (expires in an hour)",),
        now=later,
        expect="refuse:trust_list_stale",
    )
    v.add_case(
        "status list expired, record without a reference",
        w.message(),
        status_lists=("list 2 (expires in an hour)",),
        now=later,
        expect="allow",
    )

    # Boundary days: next_due 2026-11-22 is valid until midnight in Shanghai (16:00 UTC).
    due = date(2026, 11, 22)
    record = w.message(next_due=due, inspected=due - timedelta(days=30))
    for when, expect in (
        (datetime(2026, 11, 22, 15, 59, 59, tzinfo=UTC), "allow_with_warning:due_soon"),
        (datetime(2026, 11, 22, 16, 0, 0, tzinfo=UTC), "refuse:inspection_overdue"),
        (datetime(2026, 11, 22, 23, 30, 0, tzinfo=UTC), "refuse:inspection_overdue"),
    ):
        v.add_case(f"boundary: next due {due}, now {iso(when)}, Shanghai", record, now=when, expect=expect)
    v.add_case(
        "boundary: 23:30 UTC judged in UTC",
        record,
        now=datetime(2026, 11, 22, 23, 30, tzinfo=UTC),
        policy={**DEFAULT_POLICY, "timeZone": "UTC"},
        expect="allow_with_warning:due_soon",
    )
    eol = w.message(end_of_life=due, next_due=due + timedelta(days=100))
    v.add_case(
        "boundary: end of life at 16:00 UTC, Shanghai",
        eol,
        now=datetime(2026, 11, 22, 16, 0, tzinfo=UTC),
        expect="refuse:past_service_life",
    )
    v.add_case(
        "boundary: end of life at 16:00 UTC, UTC",
        eol,
        now=datetime(2026, 11, 22, 16, 0, tzinfo=UTC),
        policy={**DEFAULT_POLICY, "timeZone": "UTC"},
        expect="allow_with_warning:due_soon",
    )
    # Issued before its inspection day in Shanghai (fine in UTC+14, where the claims are checked).
    inspected = date(2026, 11, 1)
    early = w.message(inspected=inspected, issued_at=datetime(2026, 10, 31, 15, 0, tzinfo=UTC))
    v.add_case("issued the evening before its inspection day (Shanghai)", early, expect="refuse:malformed")
    late = w.message(inspected=inspected, issued_at=datetime(2026, 10, 31, 17, 0, tzinfo=UTC))
    v.add_case("issued 01:00 on its inspection day (Shanghai)", late, expect="allow")
    v.add_case(
        "issued 01:00 Shanghai, judged in UTC", late, policy={**DEFAULT_POLICY, "timeZone": "UTC"}, expect="refuse:malformed"
    )

    add_authentication_cases(v)
    add_trust_cases(v)
    add_ndef_cases(v)
    add_hostile_cbor_cases(v)
    add_claims_cases(v)


def add_authentication_cases(v: Vectors) -> None:
    w = v.world
    now = w.now
    v.add_case("unknown signer", w.message("ZZUN05"), expect="refuse:unknown_signer")
    v.add_case("signer revoked", w.message("ZZRV03"), expect="refuse:signer_revoked")
    old = w.centres["ZZOLD4"]
    payload = cbor_codec.encode(w.record("ZZOLD4").to_cbor_map())
    v.add_case(
        "signer not valid at issue",
        ndef_record.encode_message(cose.sign1(payload, old.key, old.kid)),
        expect="refuse:signer_not_valid_at_issue",
    )
    v.add_case("uid mismatch (moved tag)", w.message(uid=bytes.fromhex("04112233445566")), expect="refuse:uid_mismatch")
    v.add_case("uid mismatch: 4-byte uid", w.message(), uid=bytes.fromhex("04A2C4D2"), expect="refuse:uid_mismatch")
    v.add_case(
        "issued in the future",
        w.message(issued_at=now.replace(microsecond=0) + timedelta(hours=1)),
        expect="refuse:issued_in_future",
    )
    v.add_case(
        "issued 11 minutes ahead",
        w.message(issued_at=now.replace(microsecond=0) + timedelta(minutes=11)),
        expect="refuse:issued_in_future",
    )
    mismatch = cbor_codec.encode(w.record("ZZES02").to_cbor_map())
    v.add_case("record names another centre", w.raw_message(mismatch, "ZZTJ01"), expect="refuse:malformed")
    for centre in ("ZZTJ01", "ZZES02"):
        message = bytearray(w.message(centre))
        message[-1] ^= 0x01
        v.add_case(f"bad signature: last byte flipped ({centre})", bytes(message), hostile=True, expect="refuse:bad_signature")
        message = bytearray(w.message(centre))
        message[60] ^= 0x10
        v.add_case(f"bad signature: claims byte flipped ({centre})", bytes(message), hostile=True, expect="refuse:bad_signature")
    # Algorithm confusion: an Ed25519 signature that says ES256 in its protected header.
    ed = w.centres["ZZTJ01"]
    claims = cbor_codec.encode(w.record().to_cbor_map())
    v.add_case(
        "algorithm says ES256, key is Ed25519",
        w.raw_message(claims, header={1: -7, 4: ed.kid}),
        hostile=True,
        expect="refuse:bad_signature",
    )
    # Ed25519 S + L (non-canonical) and ECDSA high S (accepted by OpenSSL, so by tag_tools).
    envelope = cbor2.loads(ndef_record.record_payload(w.message()))
    protected, _, payload_bytes, signature = envelope.value
    order_l = 2**252 + 27742317777372353535851937790883648493
    s_plus_l = (int.from_bytes(signature[32:], "little") + order_l).to_bytes(32, "little")
    v.add_case(
        "Ed25519 signature with S + L",
        resigned(protected, payload_bytes, signature[:32] + s_plus_l),
        hostile=True,
        expect="refuse:bad_signature",
    )
    es = cbor2.loads(ndef_record.record_payload(w.message("ZZES02"))).value
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    high_s = es[3][:32] + (n - int.from_bytes(es[3][32:], "big")).to_bytes(32, "big")
    v.add_case("ECDSA signature with high S", resigned(es[0], es[2], high_s))
    v.add_case(
        "ECDSA signature with r = 0", resigned(es[0], es[2], bytes(32) + es[3][32:]), hostile=True, expect="refuse:bad_signature"
    )
    v.add_case(
        "ECDSA signature with s = n",
        resigned(es[0], es[2], es[3][:32] + n.to_bytes(32, "big")),
        hostile=True,
        expect="refuse:bad_signature",
    )
    # Versions.
    version2 = w.record().to_cbor_map() | {1: 2}
    v.add_case("unsupported version 2", w.raw_message(cbor_codec.encode(version2)), expect="refuse:unsupported_version")
    v.add_case(
        "unsupported version 3 with nothing else",
        w.raw_message(cbor_codec.encode({1: 3, 99: [1.5, None]})),
        expect="refuse:unsupported_version",
    )
    v.add_case("version 2**64", w.raw_message(cbor_codec.encode({1: 2**64})), expect="refuse:unsupported_version")
    v.add_case("version missing", w.raw_message(cbor_codec.encode({2: "x"})), hostile=True, expect="refuse:malformed")
    v.add_case(
        "version 1.0 (a float)",
        w.raw_message(cbor_codec.encode(w.record().to_cbor_map() | {1: 1.0})),
        hostile=True,
        expect="refuse:malformed",
    )
    # Headers.
    v.add_case(
        "x5chain in a record's header",
        w.raw_message(claims, header={1: -8, 4: ed.kid, 33: pki.certificate_to_der(ed.certificate)}),
        hostile=True,
        expect="refuse:malformed",
    )
    v.add_case("kid of 7 bytes", w.raw_message(claims, header={1: -8, 4: ed.kid[:7]}), hostile=True, expect="refuse:malformed")
    v.add_case("alg -35", w.raw_message(claims, header={1: -35, 4: ed.kid}), hostile=True, expect="refuse:malformed")
    v.add_case("alg as text", w.raw_message(claims, header={1: "EdDSA", 4: ed.kid}), hostile=True, expect="refuse:malformed")
    v.add_case("header key true for alg (Python: true == 1)", w.raw_message(claims, header={True: -8, 4: ed.kid}), expect="allow")
    v.add_case("header key 1.0 for alg (Python: 1.0 == 1)", w.raw_message(claims, header={1.0: -8, 4: ed.kid}), expect="allow")
    unprotected_set = cbor_codec.encode(cbor2.CBORTag(18, [protected, {4: b"x"}, payload_bytes, signature]))
    v.add_case(
        "unprotected header not empty", ndef_record.encode_message(unprotected_set), hostile=True, expect="refuse:malformed"
    )
    other_tag = cbor_codec.encode(cbor2.CBORTag(98, [protected, {}, payload_bytes, signature]))
    v.add_case("tag 98 (COSE_Sign)", ndef_record.encode_message(other_tag), hostile=True, expect="refuse:malformed")
    untagged = cbor_codec.encode([protected, {}, payload_bytes, signature])
    v.add_case("untagged COSE_Sign1", ndef_record.encode_message(untagged), hostile=True, expect="refuse:malformed")
    v.add_case(
        "signature of 63 bytes",
        ndef_record.encode_message(cbor_codec.encode(cbor2.CBORTag(18, [protected, {}, payload_bytes, signature[:63]]))),
        hostile=True,
        expect="refuse:malformed",
    )


def resigned(protected: bytes, payload: bytes, signature: bytes) -> bytes:
    """An NDEF message of the envelope with `signature` in place of the real one."""
    return ndef_record.encode_message(cbor_codec.encode(cbor2.CBORTag(18, [protected, {}, payload, signature])))


def add_trust_cases(v: Vectors) -> None:
    w = v.world
    message = w.message()
    v.add_case("trust list stale: expired", message, trust_list="expired", expect="refuse:trust_list_stale")
    v.add_case(
        "trust list stale: older than the maximum age", message, trust_list="older than max age", expect="refuse:trust_list_stale"
    )
    v.add_case(
        "trust list stale: issued in the future", message, trust_list="issued in the future", expect="refuse:trust_list_stale"
    )
    v.add_case("trust list stale beats no record", b"", trust_list="expired", expect="refuse:trust_list_stale")
    for name in ("signed by another root", "tampered", "signed by a revoked list signer", "centre: eku plus server auth"):
        v.add_case(f"trust list not authentic: {name}", message, trust_list=name, expect="refuse:trust_list_not_authentic")
    v.add_case(
        "trust list held becomes stale a week later",
        message,
        now=w.now + timedelta(days=7, hours=1),
        expect="refuse:trust_list_stale",
    )
    v.add_case(
        "pinned root expired",
        message,
        now=w.root.certificate.not_valid_after_utc + timedelta(seconds=1),
        expect="refuse:trust_list_not_authentic",
    )


def add_ndef_cases(v: Vectors) -> None:
    w = v.world
    message = w.message()
    cose_bytes = ndef_record.record_payload(message)
    other = ndef_record.record_payload(w.message(uid=bytes.fromhex("04040404040404")))
    t = test_ndef_tnf
    v.add_case("no record: empty tag", b"", expect="refuse:no_record")
    v.add_case("no record: only a text record", t.message((t.TNF_WELL_KNOWN, b"T", b"\x02enhello")), expect="refuse:no_record")
    for tnf, type_, name in (
        (t.TNF_URI, t.URN, "absolute URI urn:nfc:ext:gcyl.org:r"),
        (t.TNF_MEDIA, t.URN, "media type urn"),
        (t.TNF_MEDIA, t.TYPE, "media type gcyl.org:r"),
        (t.TNF_WELL_KNOWN, t.TYPE, "well-known gcyl.org:r"),
    ):
        v.add_case(f"look-alike alone: {name}", t.message((tnf, type_, cose_bytes)), expect="refuse:no_record")
    v.add_case(
        "look-alike before the record",
        t.message((t.TNF_URI, t.URN, b"not a record"), (t.TNF_EXTERNAL, t.TYPE, cose_bytes)),
        expect="allow",
    )
    v.add_case(
        "look-alike after the record",
        t.message((t.TNF_EXTERNAL, t.TYPE, cose_bytes), (t.TNF_MEDIA, t.URN, other)),
        expect="allow",
    )
    for type_ in (b"GCYL.ORG:R", b"Gcyl.Org:r"):
        v.add_case(f"type in another case: {type_.decode()}", t.message((t.TNF_EXTERNAL, type_, cose_bytes)), expect="allow")
    for type_ in (b"gcyl.org:rx", b"gcyl.org", b"gcyl.org:r\x00", b"urn:nfc:ext:gcyl.org:r", "gcyl.org:\u0130".encode()):
        v.add_case(f"another external type: {type_!r}", t.message((t.TNF_EXTERNAL, type_, cose_bytes)), expect="refuse:no_record")
    v.add_case(
        "ambiguous: two cylinder records",
        t.message((t.TNF_EXTERNAL, t.TYPE, cose_bytes), (t.TNF_EXTERNAL, b"GCYL.ORG:R", other)),
        hostile=True,
        expect="refuse:malformed",
    )
    half = len(cose_bytes) // 2
    chunked = t.record(t.TNF_EXTERNAL, t.TYPE, cose_bytes[:half], t.MB | t.CF) + t.record(
        t.TNF_UNCHANGED, b"", cose_bytes[half:], t.ME
    )
    v.add_case("chunked cylinder record", chunked, hostile=True, expect="refuse:malformed")
    beside = (
        t.record(t.TNF_MEDIA, b"text/plain", b"see ", t.MB | t.CF)
        + t.record(t.TNF_UNCHANGED, b"", b"the ", t.CF)
        + t.record(t.TNF_UNCHANGED, b"", b"bureau", 0)
        + t.record(t.TNF_EXTERNAL, t.TYPE, cose_bytes, t.ME)
    )
    v.add_case("chunked other record beside the record", beside, expect="allow")
    v.add_case(
        "record ID on the cylinder record",
        t.record(t.TNF_EXTERNAL, t.TYPE, cose_bytes, t.MB | t.ME, record_id=b"1"),
        hostile=True,
        expect="refuse:malformed",
    )
    long_form = bytes([t.MB | t.ME | t.TNF_EXTERNAL, len(t.TYPE)]) + len(cose_bytes).to_bytes(4, "big") + t.TYPE + cose_bytes
    v.add_case("long-form payload length", long_form, expect="allow")
    v.add_case(
        "message over 1024 bytes",
        t.message((t.TNF_MEDIA, b"a/b", bytes(900)), (t.TNF_EXTERNAL, t.TYPE, cose_bytes)),
        hostile=True,
        expect="refuse:malformed",
    )
    ids = corpora.parametrised_ids(t.test_ill_formed_messages_are_malformed)
    for name, (data,) in zip(ids, corpora.parametrised(t.test_ill_formed_messages_are_malformed), strict=True):
        v.add_case(f"ill-formed NDEF: {name}", data, hostile=True, expect="refuse:malformed")
    v.add_case(
        "ill-formed NDEF: empty record with payload", t.record(0, b"", b"x", t.MB | t.ME), hostile=True, expect="refuse:malformed"
    )
    v.add_case(
        "ill-formed NDEF: header cut short", bytes([t.MB | t.ME | t.TNF_EXTERNAL]), hostile=True, expect="refuse:malformed"
    )


def add_hostile_cbor_cases(v: Vectors) -> None:
    """The hostile CBOR of tests/tag_tools/test_cbor_codec.py as the record's envelope (unsigned)
    and as its claims (signed by a trusted centre's key): malformed either way."""
    w = v.world
    for hex_input, why in corpora.parametrised(test_cbor_codec.test_strict_decoding_refuses):
        data = bytes.fromhex(hex_input)
        if len(data) < 1000:
            v.add_case(
                f"hostile CBOR as the envelope: {why}", ndef_record.encode_message(data), hostile=True, expect="refuse:malformed"
            )
        v.add_case(f"hostile CBOR as signed claims: {why}", w.raw_message(data), hostile=True, expect="refuse:malformed")
    claims = w.record().to_cbor_map()
    canonical = cbor_codec.encode(claims)
    v.add_case(
        "signed claims as cbor2's canonical form writes them (small keys: the same bytes)",
        w.raw_message(cbor2.dumps(dict(reversed(list(claims.items()))), canonical=True)),
        expect="allow",
    )
    v.add_case(
        "signed claims with keys reversed",
        w.raw_message(cbor2.dumps(dict(reversed(list(claims.items()))))),
        hostile=True,
        expect="refuse:malformed",
    )
    v.add_case("signed claims with a trailing byte", w.raw_message(canonical + b"\x00"), hostile=True, expect="refuse:malformed")
    v.add_case(
        "signed claims with a non-shortest key",
        w.raw_message(bytes([canonical[0], 0x18, 0x01]) + canonical[2:]),
        hostile=True,
        expect="refuse:malformed",
    )
    indefinite = b"\xbf" + canonical[1:] + b"\xff"
    v.add_case("signed claims as an indefinite map", w.raw_message(indefinite), hostile=True, expect="refuse:malformed")
    v.add_case("signed claims nested 401 deep", w.raw_message(b"\x81" * 401 + b"\x00"), hostile=True, expect="refuse:malformed")


def add_claims_cases(v: Vectors) -> None:
    """Claims a trusted centre's key signed without tag_tools' checks: each breaks one rule."""
    w = v.world
    base = w.record().to_cbor_map()
    changes: dict[str, dict[int, object]] = {
        "serial empty": {2: ""},
        "serial 33 characters": {2: "S" * 33},
        "serial with a newline": {2: "TH2019\nCNG2"},
        "serial with a zero-width space": {2: "TH2019\u200bCNG2"},
        "plate of 17 Chinese characters": {13: "豫" * 17},
        "cylinder id of 2 numbers": {3: [156, 4101]},
        "cylinder id country 0": {3: [0, 4101, 1]},
        "cylinder id number 2**48": {3: [156, 4101, 2**48]},
        "cylinder id with a bool": {3: [156, True, 1]},
        "kind 7": {5: 7},
        "kind true": {5: True},
        "working pressure 0": {6: 0},
        "water capacity 1.5": {7: 1.5},
        "result 2": {10: 2},
        "VIN with an O": {14: "LSVAU2180N21837O4"},
        "VIN of 16 characters": {14: "LSVAU2180N218374"},
        "vehicle cylinders 17": {15: 17},
        "centre id of 33 characters": {16: "Z" * 33},
        "sequence 2**32": {18: 2**32},
        "sequence -1": {18: -1},
        "issued at beyond 2199": {19: 7_258_032_001},
        "tag uid of 3 bytes": {20: b"\x04\x01\x02"},
        "tag uid as text": {20: "04A2C4D2E15A80"},
        "status [0]": {21: [0]},
        "status [0, -1]": {21: [0, -1]},
        "status [65536, 1]": {21: [65536, 1]},
        "status [0, 2**32]": {21: [0, 2**32]},
        "status [true, 1]": {21: [True, 1]},
        "status as a map": {21: {0: 1}},
        "unknown key 22": {22: 0},
        "inspected after next due": {9: base[11] + 1},
        "end of life before manufacture": {12: base[8] - 1},
        "date beyond 2199": {11: 84_006},
        "issued a day before inspection everywhere": {19: (base[9] - 1) * 86_400},
    }
    for name, change in changes.items():
        v.add_case(
            f"signed claims: {name}", w.raw_message(cbor_codec.encode(base | change)), hostile=True, expect="refuse:malformed"
        )
    missing = dict(base)
    del missing[14]
    v.add_case("signed claims: VIN missing", w.raw_message(cbor_codec.encode(missing)), hostile=True, expect="refuse:malformed")
    v.add_case(
        "signed claims: a list, not a map",
        w.raw_message(cbor_codec.encode(list(base.values()))),
        hostile=True,
        expect="refuse:malformed",
    )
    v.add_case(
        "signed claims: plate of 16 Chinese characters", w.raw_message(cbor_codec.encode(base | {13: "豫" * 16})), expect="allow"
    )
    v.add_case(
        "signed claims: serial of 32 characters with emoji",
        w.raw_message(cbor_codec.encode(base | {2: "😀" * 32})),
        expect="allow",
    )
    v.add_case(
        "signed claims: plate with a BOM",
        w.raw_message(cbor_codec.encode(base | {13: "\ufeff豫A8M2K7"})),
        hostile=True,
        expect="refuse:malformed",
    )
    # Keys Python finds equal to the integer keys: the record is accepted as if they were integers.
    quirky = {(True if k == 1 else k): val for k, val in base.items()}
    v.add_case("signed claims: key true in place of 1", w.raw_message(cbor_codec.encode(quirky)), expect="allow")
    floaty = {(float(k) if k == 2 else k): val for k, val in base.items()}
    v.add_case("signed claims: key 2.0 in place of 2", w.raw_message(cbor_codec.encode(floaty)), expect="allow")
    simple = {(cbor2.CBORSimpleValue(3) if k == 3 else k): val for k, val in base.items()}
    v.add_case("signed claims: key simple(3) in place of 3", w.raw_message(cbor_codec.encode(simple)), expect="allow")


def add_flips(v: Vectors) -> list[dict[str, Any]]:
    """Every single-bit flip of two valid messages (Ed25519 and P-256), judged by Python."""
    out = []
    for base_name in ("valid: Ed25519 centre, status entry read", "valid: P-256 centre, list 1 by the Ed25519 signer"):
        case = next(c for c in v.cases if c["name"] == base_name)
        message = base64.b64decode(case["ndefB64"])
        held = {}
        for list_name in case["statusLists"]:
            parsed = v.status_lists[list_name].parsed
            assert parsed is not None
            held[parsed.list_id] = parsed
        store = v.trust_lists[case["trustList"]].store
        moment = datetime.fromisoformat(case["now"].replace("Z", "+00:00"))
        expected = []
        for _, mutated in corpora._flips(message):
            verdict = verify_tag(UID, mutated, trust=store, now=moment, policy=python_policy(case["policy"]), status_lists=held)
            expected.append(short(verdict))
        out.append({"base": base_name, "expect": expected})
    return out


def serial_numbers() -> list[dict[str, Any]]:
    return [
        {"text": "04:a2:c4:d2:e1:5a:80", "hex": "04a2c4d2e15a80"},
        {"text": "04:A2:C4:D2", "hex": "04a2c4d2"},
        {"text": "04a2c4d2", "hex": None},
        {"text": "04:a2:", "hex": None},
        {"text": "", "hex": None},
        {"text": "04:g2", "hex": None},
    ]


def build_vectors(now: datetime = NOW, seed: int = 18) -> dict[str, Any]:
    """All vectors, as one JSON-ready object."""
    rng = random.Random(seed)
    world = build_world(now)
    vectors = Vectors(world)
    add_trust_lists(vectors)
    add_status_lists(vectors)
    add_cases(vectors)
    warning = sorted(catalogue().codes_where(severity=Severity.WARNING, origin=Origin.VERIFIER))
    return {
        "format": FORMAT,
        "generatedBy": "tests/handheld/vectors.py",
        "defaultPolicy": DEFAULT_POLICY,
        "warningReasons": warning,
        "trustLists": {name: t.to_json() for name, t in vectors.trust_lists.items()},
        "statusLists": {name: s.to_json() for name, s in vectors.status_lists.items()},
        "cases": vectors.cases,
        "flips": add_flips(vectors),
        "cbor": corpora.cbor_corpus(world.message(status_ref=StatusReference(0, 1)), rng),
        "zlib": corpora.zlib_corpus(rng),
        "x509": corpora.x509_corpus(world),
        "serialNumbers": serial_numbers(),
    }


def write(path: Path, vectors: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(vectors, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # tag_tools logs every list it refuses; these are refused on purpose
    write(args.out, build_vectors())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["DEFAULT_POLICY", "Vectors", "build_vectors", "write"]
