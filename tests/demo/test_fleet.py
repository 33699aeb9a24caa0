"""The demo's vehicles, checked offline on awkward days (leap day ahead, year end, local date ahead
of UTC): every tag a scenario writes gets the decision the story promises, without any server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cylinder_demo.bureau import create_bureau
from cylinder_demo.fleet import MOVED_TO_UID, Tamper, sign_fleet
from tag_tools import pki
from tag_tools.trustlist import TrustStore
from tag_tools.verdict import Decision
from tag_tools.verify import verify_tag

DAYS = [datetime(2028, 4, 29, 20, 0, tzinfo=UTC), datetime(2026, 12, 31, 23, 30, tzinfo=UTC)]


@pytest.mark.parametrize("now", DAYS, ids=lambda d: d.date().isoformat())
def test_every_scenario_gets_its_decision_offline(tmp_path: Path, now: datetime) -> None:
    bureau = create_bureau(tmp_path, now)
    trust = TrustStore.load(pki.load_certificate(bureau.root_pem), bureau.trust_list, timedelta(days=7))
    for vehicle in sign_fleet(bureau, now.date()):
        scenario = vehicle.scenario
        verdicts = [verify_tag(tag.uid, tag.message, trust=trust, now=now) for tag in vehicle.tags]
        refused = [v for v in verdicts if v.decision is Decision.REFUSE]
        if scenario.decision is Decision.REFUSE:
            assert len(refused) == 1, (scenario.label, verdicts)
            assert tuple(r.value for r in refused[0].reasons) == scenario.reasons, (scenario.label, verdicts)
        else:
            assert [v.decision for v in verdicts] == [scenario.decision], (scenario.label, verdicts)
            assert tuple(r.value for v in verdicts for r in v.reasons) == scenario.reasons
        assert (vehicle.tags[0].uid == MOVED_TO_UID) == (scenario.tamper is Tamper.MOVED)
        assert len(vehicle.reports) == (len(vehicle.tags) if scenario.certified else 0)
