"""The bureau's signed policy at the station (station_agent.central_policy): it switches a station
from monitor to enforce, a forged (unknown, uncertified or revoked signer) or older one is refused,
it survives a restart, and the station's own file can tighten it but never loosen it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from station_agent.central_policy import CentralPolicy, merge, policy_sha256
from station_agent.config import Policy
from station_agent.session import SessionState
from tag_tools import cose, crypto, pki
from tag_tools.station_policy import Mode, PolicyTerms, StationPolicy, build_station_policy
from tag_tools.trustlist import RevocationReason, RevokedSigner, build_trust_list
from tests.station_agent.conftest import OVERDUE, Station, uid_for, vehicle_claims
from tests.testkit import TestPki

STATION = "ST-JS-01"  # conftest's station code
ENFORCE = PolicyTerms(mode=Mode.ENFORCE)


def sign(
    p: TestPki,
    sequence: int,
    terms: PolicyTerms = ENFORCE,
    *,
    at: datetime | None = None,
    station: str = STATION,
    key: crypto.PrivateKey | None = None,
    certificate: x509.Certificate | None = None,
) -> bytes:
    document = StationPolicy(station, sequence, (at or p.now).replace(microsecond=0), terms)
    return build_station_policy(document, key or p.signer_key, certificate or p.signer_certificate)


def listing_the_signer(station: Station) -> Station:
    """The station holds a trust list that names the list signer (the provisioning file does not)."""
    assert station.agent.cache.offer(station.pki.signed_trust_list(2), "test")
    return station


def restarted(station: Station, applied: list[tuple[Policy, int | None]]) -> CentralPolicy:
    """What the agent builds at start-up from the same outbox."""
    return CentralPolicy(
        station.agent.outbox,
        lambda: station.agent.cache.trust_list,
        STATION,
        station.agent.config.policy if not applied else applied[0][0],
        apply=lambda policy, sequence: applied.append((policy, sequence)),
        clock=station.clock,
    )


def test_a_signed_policy_switches_a_station_from_monitor_to_enforce(make_station: Callable[..., Station]) -> None:
    station = listing_the_signer(make_station(mode="monitor"))
    local = station.agent.policy
    assert station.read(uid_for(0), **vehicle_claims(0, **OVERDUE)).decision == "refuse"
    assert station.agent.pump.enabled  # monitor: a refusal is logged, the pump still runs
    station.agent.new_vehicle()

    station.registry.policy_blob = sign(station.pki, 1)
    station.sync.sync_trust()
    assert station.agent.policy.mode == "enforce" and station.agent.policy_sequence == 1
    assert policy_sha256(station.agent.policy) != policy_sha256(local)
    assert station.read(uid_for(1), **vehicle_claims(1, **OVERDUE)).decision == "refuse"
    assert not station.agent.pump.enabled and station.session_state() is SessionState.REFUSED
    assert station.snapshot()["mode"] == "enforce"

    station.sync.sync_trust()  # the same document again (304 or not) changes nothing
    assert station.agent.policy_sequence == 1
    applied: list[tuple[Policy, int | None]] = []
    held = restarted(station, applied)  # after a restart the saved copy is in force before any sync
    assert held.sequence == 1 and applied and applied[0][0].mode == "enforce" and applied[0][1] == 1


def test_forged_and_older_policies_are_refused(make_station: Callable[..., Station]) -> None:
    station = listing_the_signer(make_station(mode="monitor"))
    p = station.pki
    station.registry.policy_blob = sign(p, 5)
    station.sync.sync_trust()
    assert station.agent.policy_sequence == 5
    monitor = PolicyTerms(mode=Mode.MONITOR, warning_days=90)
    stranger = TestPki.create(p.now)  # a signer the bureau root never certified
    genuine = cose.parse_sign1(sign(p, 9, monitor)).payload  # the genuine signer's kid, another key
    uncertified = cose.sign1(genuine, crypto.generate_private_key(), pki.kid_of(p.signer_certificate))
    offers = {
        "stranger": sign(p, 9, monitor, key=stranger.signer_key, certificate=stranger.signer_certificate),
        "uncertified key": uncertified,
        "root-signed": sign(p, 9, monitor, key=p.root_key, certificate=p.root_certificate),
        "older": sign(p, 4, monitor),
        "same sequence": sign(p, 5, monitor),
        "other station": sign(p, 9, monitor, station="ST-EQ-01"),
    }
    for what, blob in offers.items():
        assert not station.agent.central_policy.offer(blob, what), what
    station.registry.policy_blob = offers["older"]
    station.sync.sync_trust()
    assert station.agent.policy_sequence == 5 and station.agent.policy.warning_days != 90

    # The root revokes the list signer (a stolen key): nothing it signs is adopted any more, and a
    # restart does not bring back a policy it signed.
    kid = pki.kid_of(p.signer_certificate)
    revoked = RevokedSigner(kid, p.now - timedelta(minutes=1), RevocationReason.KEY_COMPROMISE)
    assert station.agent.cache.offer(build_trust_list(p.trust_list(3, revoked=(revoked,)), p.root_certificate, p.root_key), "t")
    assert not station.agent.central_policy.offer(sign(p, 6, monitor), "revoked signer")
    assert station.agent.policy_sequence == 5
    applied: list[tuple[Policy, int | None]] = []
    assert restarted(station, applied).sequence is None and applied == []


def test_merge_only_tightens() -> None:
    loose = Policy(mode="monitor", warning_days=10, min_refill_interval=timedelta(0))
    central = StationPolicy(
        STATION,
        1,
        datetime(2026, 11, 30, tzinfo=UTC),
        PolicyTerms(
            mode=Mode.ENFORCE,
            warning_days=45,
            overridable=frozenset({"trust_list_stale", "chip_not_genuine"}),
            min_refill_interval=timedelta(hours=2),
        ),
    )
    merged = merge(loose, central)
    assert (merged.mode, merged.warning_days, merged.min_refill_interval) == ("enforce", 45, timedelta(hours=2))
    assert merged.overridable == loose.overridable & {"trust_list_stale", "chip_not_genuine"}
    assert merged.timezone == loose.timezone  # terms the bureau does not set stay the file's

    strict = Policy(mode="enforce", warning_days=60, min_refill_interval=timedelta(hours=3), overridable=frozenset())
    lenient_centre = replace(
        central,
        terms=PolicyTerms(
            mode=Mode.MONITOR, warning_days=5, overridable=frozenset(loose.overridable), min_refill_interval=timedelta(0)
        ),
    )
    assert merge(strict, lenient_centre) == strict  # the file is stricter everywhere: it stays in force
    assert merge(loose, replace(central, terms=PolicyTerms())) == loose  # nothing set centrally
    assert merge(loose, None) == loose


@pytest.mark.parametrize("local_mode", ["monitor", "enforce"])
def test_a_local_file_cannot_loosen_a_central_policy(make_station: Callable[..., Station], local_mode: str) -> None:
    station = listing_the_signer(
        make_station(
            mode=local_mode, warning_days=5, min_refill_interval_min=0, overridable=["trust_list_stale", "chip_not_genuine"]
        )
    )
    terms = PolicyTerms(
        mode=Mode.ENFORCE, warning_days=45, overridable=frozenset({"trust_list_stale"}), min_refill_interval=timedelta(hours=2)
    )
    station.registry.policy_blob = sign(station.pki, 1, terms)
    station.sync.sync_trust()
    for policy in (station.agent.policy, station.agent.config.policy, station.agent.assessor.policy):
        assert policy.mode == "enforce" and policy.warning_days == 45
        assert policy.overridable == {"trust_list_stale"} and policy.min_refill_interval == timedelta(hours=2)
    assert station.agent.assessor.verification.warning_days == 45


def test_without_a_published_policy_the_file_rules(make_station: Callable[..., Station]) -> None:
    station = listing_the_signer(make_station(mode="monitor"))
    station.sync.sync_trust()  # the registry answers 404: not an error
    assert station.agent.policy_sequence is None and station.agent.policy == station.agent.central_policy.local
    assert station.agent.policy.mode == "monitor" and station.sync.status.last_trust_sync is not None
