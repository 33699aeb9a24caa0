"""One answer (issue 11): the registry's status and the station's offline verdict apply the same
date rules (tag_tools.rules), so on and around the last valid day of the inspection and of the
service life they agree, also when the UTC date and the station's date differ."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from tag_tools import rules
from tag_tools.verify import VerificationPolicy
from tests.registry.conftest import Clock, World
from tests.registry.helpers import add_vehicle
from tests.testkit import TYPICAL_UID, TestPki

SHANGHAI = ZoneInfo("Asia/Shanghai")
CYLINDER = "156-4101-19012345"  # tests.testkit.typical_record's
DATE_REASONS = {"inspection_overdue", "past_service_life", "due_soon"}


def _online(client: FlaskClient, world: World, next_due: date, end_of_life: date) -> tuple[str, list[str]]:
    add_vehicle(
        world,
        "豫A8M2K7",
        [{"cylinder_id": CYLINDER, "tag_uid": TYPICAL_UID.hex().upper(), "next_due": next_due, "end_of_life": end_of_life}],
    )
    body = {
        "plate": "豫A8M2K7",
        "cylinders": [{"cylinder_id": CYLINDER, "tag_uid": TYPICAL_UID.hex().upper()}],
        "timezone": "Asia/Shanghai",
    }
    r = client.post("/api/v1/status", json=body, headers=world.auth("station"))
    assert r.status_code == 200, r.json
    answer: dict[str, Any] = r.get_json()["cylinders"][0]
    return answer["decision"], answer["reasons"]


def _offline(pki: TestPki, now: datetime, next_due: date, end_of_life: date) -> tuple[str, list[str]]:
    message = pki.ndef_message(TYPICAL_UID, next_due=next_due, end_of_life=end_of_life)
    verdict = pki.verify(TYPICAL_UID, message, now=now, policy=VerificationPolicy(warning_days=30, local_timezone=SHANGHAI))
    return verdict.decision.value, [reason.value for reason in verdict.reasons]


@pytest.mark.parametrize(
    "moment",
    [datetime(2026, 11, 22, 2, 0, tzinfo=UTC), datetime(2026, 11, 22, 17, 0, tzinfo=UTC)],
    ids=["same-day-in-utc", "next-day-in-shanghai"],
)
@pytest.mark.parametrize("which", ["next_due", "end_of_life"])
@pytest.mark.parametrize("days", [-1, 0, 1])
def test_the_last_valid_day_gives_the_same_answer_online_and_offline(
    client: FlaskClient, world: World, pki: TestPki, clock: Clock, moment: Any, which: Any, days: Any
) -> None:
    clock.now = moment
    today = rules.local_today(moment, SHANGHAI)
    dates = {"next_due": today + timedelta(days=200), "end_of_life": today + timedelta(days=400)}
    dates[which] = today + timedelta(days=days)
    online = _online(client, world, **dates)
    offline = _offline(pki, moment, **dates)
    assert online == offline
    expected = {
        -1: ("refuse", ["inspection_overdue" if which == "next_due" else "past_service_life"]),
        0: ("allow_with_warning", ["due_soon"]),
        1: ("allow_with_warning", ["due_soon"]),
    }[days]
    assert online == expected and set(online[1]) <= DATE_REASONS
