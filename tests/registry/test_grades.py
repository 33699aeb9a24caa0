"""Station grades A-D (services/grades.py, grading_rules.py): each measure moves the grade, the
rules file changes thresholds and intervals, a bad file is a typed error, the grade sets the patrol
interval, and which stations are due a patrol."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service import cli, grading_rules
from registry_service.grading_rules import GradingRules, GradingRulesError
from registry_service.models import Case, Outcome, ScanDayCount, StationAlarm, StationGrade, User
from registry_service.principal import Principal, principal_for_user
from registry_service.services import cases, grades, patrols, places
from tests.registry.conftest import World
from tests.registry.test_patrols import SQLITE_ONLY, add_grid_user, answers, json_of

OFFSET = 8  # the bureau's day: UTC+8 (RegistryConfig.report_utc_offset_hours)


def station(s: Session, code: str) -> tuple[int, int]:
    found = places.station_by_code(s, code)
    return found.id, found.region_id


def bureau(s: Session) -> Principal:
    return principal_for_user(s.scalars(select(User).where(User.username == "bureau")).one())


def fills(world: World, code: str, allowed: int, overridden: int, days_ago: int = 1) -> None:
    """Scans in the day roll-up, as ingestion would have counted them."""
    day = (world.clock() - timedelta(days=days_ago)).date()

    def work(s: Session) -> None:
        sid, region = station(s, code)
        for outcome, scans in ((Outcome.ALLOWED, allowed), (Outcome.OVERRIDDEN, overridden)):
            if scans:
                s.add(ScanDayCount(day=day, station_id=sid, region_id=region, outcome=outcome, reason_mask=0, scans=scans))

    world.registry.transaction(work)


def station_cases(world: World, code: str, opened: int, closed: int, days_ago: int = 30) -> None:
    at = world.clock() - timedelta(days=days_ago)

    def work(s: Session) -> None:
        sid, region = station(s, code)
        for n in range(opened):
            case = cases.open_or_attach(
                s, kind="override", subject_key=f"override:{code}:{days_ago}:{n}", region_id=region, now=at, station_id=sid
            )
            if n < closed:
                case.state, case.closed_at = "closed", at + timedelta(days=1)

    world.registry.transaction(work)


def alarm(world: World, code: str, kind: str, start: datetime, end: datetime | None) -> None:
    def work(s: Session) -> None:
        sid, _ = station(s, code)
        s.add(
            StationAlarm(
                station_id=sid,
                kind=kind,
                source="registry",
                opened_at=start,
                silent_since=start if kind == "silent" else None,
                cleared_at=end,
                quantity=3.0 if kind == "unexplained_quantity" else None,
                unit="kg" if kind == "unexplained_quantity" else None,
                detail="",
            )
        )

    world.registry.transaction(work)


def patrol(world: World, code: str, failed: tuple[str, ...]) -> None:
    world.registry.transaction(
        lambda s: patrols.record_patrol(s, bureau(s), world.clock(), GradingRules(), station_code=code, results=answers(failed))
    )


def grade_all(world: World, rules: GradingRules | None = None) -> dict[str, grades.Graded]:
    graded = world.registry.transaction(
        lambda s: grades.compute_grades(s, world.clock(), rules or GradingRules(), utc_offset_hours=OFFSET)
    )
    return {g.station: g for g in graded}


Setup = Callable[[World], None]


def _left_open(world: World) -> None:
    station_cases(world, "ST-JS-01", 4, 1)
    station_cases(world, "ST-JS-01", 3, 0, days_ago=2)  # too young to count


def _unexplained_twice(world: World) -> None:
    for days in (3, 9):
        alarm(world, "ST-JS-01", "unexplained_quantity", world.clock() - timedelta(days=days), None)


def _failed_then_passed(world: World) -> None:
    patrol(world, "ST-JS-01", ("no_bypass",))
    world.clock.advance(minutes=30)
    patrol(world, "ST-JS-01", ())  # the last two patrols count: one failure left


MEASURED: list[tuple[str, Setup, str, list[str]]] = [
    ("overrides", lambda w: fills(w, "ST-JS-01", 1000, 10), "C", ["overrides_per_1000"]),
    ("one override among few fills", lambda w: fills(w, "ST-JS-01", 20, 1), "B", ["overrides_per_1000"]),
    ("overrides before the window", lambda w: fills(w, "ST-JS-01", 1000, 50, days_ago=120), "A", []),
    ("refusals left open", lambda w: _left_open(w), "D", ["refusals_handled"]),
    ("refusals handled", lambda w: station_cases(w, "ST-JS-01", 10, 9), "A", []),
    (
        "dark",
        lambda w: alarm(w, "ST-JS-01", "silent", w.clock() - timedelta(hours=30), w.clock() - timedelta(hours=2)),
        "C",
        ["hours_dark"],
    ),
    ("dark still", lambda w: alarm(w, "ST-JS-01", "silent", w.clock() - timedelta(days=5), None), "D", ["hours_dark"]),
    ("unexplained gas", lambda w: _unexplained_twice(w), "C", ["unexplained_quantity"]),
    ("patrol failures", lambda w: patrol(w, "ST-JS-01", ("no_bypass", "clock_correct")), "C", ["patrol_failures"]),
    ("a passed patrol after a failed one", lambda w: _failed_then_passed(w), "B", ["patrol_failures"]),
]


@SQLITE_ONLY
@pytest.mark.parametrize(("setup", "grade", "deciding"), [m[1:] for m in MEASURED], ids=[m[0] for m in MEASURED])
def test_each_measure_moves_the_grade(world: World, setup: Setup, grade: str, deciding: list[str]) -> None:
    setup(world)
    graded = grade_all(world)
    assert (graded["ST-JS-01"].grade, graded["ST-JS-01"].deciding) == (grade, deciding), graded["ST-JS-01"].figures
    assert graded["ST-EQ-01"].grade == "A" and graded["ST-EQ-01"].deciding == []  # nothing happened there
    assert graded["ST-JS-01"].patrol_interval_days == {"A": 90, "B": 30, "C": 14, "D": 7}[grade]


def test_figures_are_measured_and_stored_with_the_worst_measure_deciding(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every measure at once, on both databases (the roll-up sum with FILTER, the window function
    over patrols), stations measured in chunks (here of two)."""
    monkeypatch.setattr(grades, "CHUNK", 2)
    fills(world, "ST-JS-01", 2000, 8)
    fills(world, "ST-JS-01", 1000, 2, days_ago=10)
    station_cases(world, "ST-JS-01", 5, 4)
    alarm(world, "ST-JS-01", "silent", world.clock() - timedelta(hours=10), world.clock() - timedelta(hours=4))
    alarm(world, "ST-JS-01", "silent", world.clock() - timedelta(hours=8), world.clock() - timedelta(hours=1))  # overlaps once
    alarm(world, "ST-JS-01", "unexplained_quantity", world.clock() - timedelta(days=1), None)
    patrol(world, "ST-JS-01", ("no_bypass",))
    graded = grade_all(world)["ST-JS-01"]
    assert graded.figures == grades.Figures(
        fills=3010,
        overrides=10,
        overrides_per_1000=round(10_000 / 3010, 3),
        cases=5,
        cases_closed=4,
        refusals_handled=0.8,
        hours_dark=9.0,
        unexplained_quantity=1,
        patrols=1,
        patrol_failures=1,
    )
    # overrides 3.3 (B), handled 0.8 (B), dark 9 h (B), unexplained 1 (B), patrol 1 (B): B, by all five.
    assert graded.grade == "B" and graded.deciding == list(grading_rules.MEASURES)
    stored = world.registry.transaction(lambda s: s.scalars(select(StationGrade).order_by(StationGrade.id)).all())
    assert [g.grade for g in stored] == ["A", "A", "B"]  # ST-EQ-01, ST-FAR, ST-JS-01 by code
    mine = stored[-1]
    assert mine.figures["fills"] == 3010 and mine.deciding == list(grading_rules.MEASURES) and mine.patrol_interval_days == 30


@SQLITE_ONLY
def test_the_rules_file_changes_thresholds_and_intervals_through_the_command(
    world: World, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fills(world, "ST-JS-01", 1000, 10)

    def run() -> dict[str, Any]:
        code = cli.main(["--database-url", database_url, "grade-stations", "--now", world.clock().isoformat()])
        assert code == cli.EXIT_OK
        summary: dict[str, Any] = json.loads(capsys.readouterr().out)
        return summary

    assert run()["grades"] == {"A": 2, "B": 0, "C": 1, "D": 0}
    path = tmp_path / "grading.json"
    path.write_text(
        json.dumps({"thresholds": {"overrides_per_1000": {"A": 10, "B": 20, "C": 30}}, "patrol_interval_days": {"A": 60}})
    )
    monkeypatch.setenv("REGISTRY_GRADING_RULES", str(path))
    assert run() == {"stations": 3, "grades": {"A": 3, "B": 0, "C": 0, "D": 0}, "grade_d": []}
    newest = world.registry.transaction(lambda s: s.scalars(select(StationGrade).order_by(StationGrade.id.desc())).first())
    assert newest is not None and newest.patrol_interval_days == 60
    path.write_text(json.dumps({"thresholds": {"overrides_per_1000": {"A": 30, "B": 20, "C": 10}}}))
    assert cli.main(["--database-url", database_url, "grade-stations"]) == cli.EXIT_ERROR
    assert "overrides_per_1000" in capsys.readouterr().err


BAD_RULES: list[tuple[object, str]] = [
    ([1, 2], "one JSON object"),
    ({"window": 90}, "unknown key(s) window"),
    ({"window_days": "90"}, "window_days must be a whole number"),
    ({"window_days": 3}, "window_days must be a whole number from 7"),
    ({"min_fills": True}, "min_fills"),
    ({"thresholds": {"speed": {"A": 1, "B": 2, "C": 3}}}, "unknown measure(s) speed"),
    ({"thresholds": {"hours_dark": {"A": 1, "B": 2}}}, "thresholds.hours_dark must be"),
    ({"thresholds": {"hours_dark": {"A": 5, "B": 2, "C": 9}}}, "A's limit must be at most B's"),
    ({"thresholds": {"refusals_handled": {"A": 0.5, "B": 0.7, "C": 0.9}}}, "at least"),
    ({"thresholds": {"refusals_handled": {"A": 2, "B": 1, "C": 0.5}}}, "a share"),
    ({"thresholds": {"hours_dark": {"A": -1, "B": 2, "C": 9}}}, "from 0"),
    ({"patrol_interval_days": {"E": 3}}, "keys among A, B, C, D"),
    ({"patrol_interval_days": {"D": 100}}, "must not grow from A to D"),
    ({"patrol_interval_days": {"A": 0}}, "patrol_interval_days.A"),
    ({"checklist": []}, "list of 1 to 60"),
    ({"checklist": ["Reader works"]}, "lowercase words"),
    ({"checklist": ["gate", "gate"]}, "unique"),
]


@pytest.mark.parametrize(("document", "words"), BAD_RULES, ids=[w for _, w in BAD_RULES])
def test_a_bad_rules_document_is_a_typed_error(document: object, words: str) -> None:
    with pytest.raises(GradingRulesError) as raised:
        grading_rules.from_document(document)
    assert words in raised.value.detail


def test_an_unreadable_or_non_json_rules_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(GradingRulesError, match="cannot read"):
        grading_rules.load(tmp_path / "absent.json")
    with pytest.raises(GradingRulesError, match="cannot read"):
        grading_rules.current(tmp_path / "absent.json")
    path = tmp_path / "rules.json"
    path.write_text("{window_days: 30}")
    with pytest.raises(GradingRulesError, match="not JSON"):
        grading_rules.load(path)
    path.write_text(json.dumps({"window_days": 30}))
    assert grading_rules.current(path).window_days == 30
    assert grading_rules.current(None) == GradingRules()


def test_the_grade_sets_the_patrol_interval() -> None:
    rules = GradingRules()
    assert [rules.interval_days(g) for g in ("A", "B", "C", "D", None)] == [90, 30, 14, 7, 30]
    changed = grading_rules.from_document({"patrol_interval_days": {"C": 10, "D": 3}})
    assert [changed.interval_days(g) for g in grading_rules.GRADES] == [90, 30, 10, 3]
    assert rules.grade(dict.fromkeys(grading_rules.MEASURES, 0.0) | {"refusals_handled": 1.0}) == ("A", [])


def _graded(world: World, code: str, grade: str, at: datetime) -> None:
    def work(s: Session) -> None:
        s.add(
            StationGrade(
                station_id=station(s, code)[0],
                computed_at=at,
                grade=grade,
                figures={},
                deciding=[],
                patrol_interval_days=GradingRules().interval_days(grade),
            )
        )

    world.registry.transaction(work)


@SQLITE_ONLY
def test_patrols_due_follow_the_newest_grade_and_the_grid_scope(world: World) -> None:
    start = world.clock()
    _graded(world, "ST-JS-01", "A", start - timedelta(days=40))
    _graded(world, "ST-JS-01", "C", start - timedelta(days=1))  # the newest grade counts
    _graded(world, "ST-EQ-01", "B", start - timedelta(days=1))
    patrol(world, "ST-JS-01", ())
    patrol(world, "ST-EQ-01", ())
    rules = GradingRules()

    def due(who: str = "bureau", **kw: Any) -> list[tuple[str, date | None]]:
        def work(s: Session) -> list[grades.DueStation]:
            principal = bureau(s) if who == "bureau" else world.registry.authenticate(world.tokens[who])
            return grades.patrols_due(s, principal, world.clock(), rules, utc_offset_hours=OFFSET, **kw)

        return [(d.station, d.due_on) for d in world.registry.transaction(work)]

    assert due() == [("ST-FAR", None)]  # never patrolled: due now
    world.clock.advance(days=14)
    assert due() == [("ST-FAR", None)]  # C: 14 days, due on the 14th day, not before it
    world.clock.advance(days=1)
    patrolled = (start + timedelta(hours=OFFSET)).date()
    assert due() == [("ST-FAR", None), ("ST-JS-01", patrolled + timedelta(days=14))]
    world.clock.advance(days=16)
    assert due() == [("ST-FAR", None), ("ST-JS-01", patrolled + timedelta(days=14)), ("ST-EQ-01", patrolled + timedelta(days=30))]
    assert due(region="410103") == [("ST-EQ-01", patrolled + timedelta(days=30))]
    add_grid_user(world, "grid-js", "410105-01")
    assert due("grid-js") == [("ST-JS-01", patrolled + timedelta(days=14))]


@SQLITE_ONLY
def test_the_bureau_lists_current_grades_worst_first_with_filters(client: FlaskClient, world: World) -> None:
    fills(world, "ST-JS-01", 1000, 10)
    alarm(world, "ST-EQ-01", "silent", world.clock() - timedelta(days=5), None)
    grade_all(world)
    world.clock.advance(days=1)
    grade_all(world)  # a second run: each station listed once, by its newest grade

    def get(query: str = "") -> dict[str, Any]:
        response = client.get(f"/api/v1/bureau/station-grades{query}", headers=world.auth("bureau"))
        assert response.status_code == 200, response.json
        return json_of(response)

    body = get()
    assert [(s["station"], s["grade"]) for s in body["stations"]] == [("ST-EQ-01", "D"), ("ST-JS-01", "C"), ("ST-FAR", "A")]
    assert body["grades"] == {"A": 1, "B": 0, "C": 1, "D": 1} and body["total"] == 3
    assert body["stations"][0]["deciding"] == ["hours_dark"] and body["stations"][0]["patrol_interval_days"] == 7
    assert body["stations"][0]["computed_at"] == world.clock().isoformat()
    assert [s["station"] for s in get("?grade=C")["stations"]] == ["ST-JS-01"]
    assert [s["station"] for s in get("?region=410105")["stations"]] == ["ST-JS-01"]
    assert get("?region=410105&grade=D")["stations"] == []
    assert client.get("/api/v1/bureau/station-grades?grade=E", headers=world.auth("bureau")).status_code == 422
    assert client.get("/api/v1/bureau/station-grades?region=NOWHERE", headers=world.auth("bureau")).status_code == 404


def test_refusals_handled_counts_no_patrol_failures_and_no_fresh_cases(world: World) -> None:
    patrol(world, "ST-JS-01", ("no_bypass",))  # a patrol_failure case: the patrol measure's, not this one's
    station_cases(world, "ST-JS-01", 2, 0, days_ago=3)
    graded = grade_all(world)["ST-JS-01"]
    assert (graded.figures.cases, graded.figures.refusals_handled) == (0, 1.0)
    assert world.registry.transaction(lambda s: len(s.scalars(select(Case)).all())) == 3
