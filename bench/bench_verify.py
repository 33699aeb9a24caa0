"""Verification cost per record against a bare Ed25519 verify, measured in the same run.

Prints one JSON object. Goal (issue 2): full verification of a typical record costs at most 3x
a bare Ed25519 signature check of the same bytes, so the format and checks add little over the
cryptography that cannot be avoided.

    python bench/bench_verify.py [--rounds N]
"""

import argparse
import json
import platform
import statistics
import sys
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test kit lives under tests/

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tag_tools import cose, ndef_record
from tag_tools.record import size_on_tag
from tag_tools.verdict import Decision
from tag_tools.verify import verify_tag
from tests.testkit import TYPICAL_UID, TestPki

GOAL_RATIO = 3.0


def per_call_microseconds(function: Callable[[], object], rounds: int, repeat: int = 7) -> float:
    """Median over `repeat` runs of the mean time per call, in microseconds."""
    timings = timeit.repeat(function, number=rounds, repeat=repeat)
    return statistics.median(timings) / rounds * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3000)
    args = parser.parse_args()

    now = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    pki = TestPki.create(now)
    message = pki.ndef_message(TYPICAL_UID)
    trust = pki.trust_store()
    assert verify_tag(TYPICAL_UID, message, trust=trust, now=now).decision is Decision.ALLOW

    envelope = cose.parse_sign1(ndef_record.record_payload(message))
    signed_bytes = envelope.to_be_signed()
    public_key = pki.centre_certificate.public_key()
    assert isinstance(public_key, Ed25519PublicKey)  # the test PKI's centres sign with Ed25519

    def bare() -> None:
        public_key.verify(envelope.signature, signed_bytes)

    def full() -> None:
        verify_tag(TYPICAL_UID, message, trust=trust, now=now)

    bare_us = per_call_microseconds(bare, args.rounds)
    full_us = per_call_microseconds(full, args.rounds)
    ratio = full_us / bare_us
    result = {
        "benchmark": "verify_record",
        "record_bytes_on_tag": size_on_tag(message),
        "rounds": args.rounds,
        "bare_ed25519_verify_us": round(bare_us, 2),
        "verify_tag_us": round(full_us, 2),
        "verifications_per_second": round(1e6 / full_us),
        "ratio": round(ratio, 3),
        "goal_ratio_max": GOAL_RATIO,
        "meets_goal": ratio <= GOAL_RATIO,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(json.dumps(result, indent=2))
    return 0 if result["meets_goal"] else 1


if __name__ == "__main__":
    sys.exit(main())
