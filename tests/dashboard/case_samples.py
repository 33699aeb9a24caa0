"""A grid case in the seeded registry for tests that open the case pages (test_accessibility.py):
accepted by the bureau, so its page shows the dispatch form; removed afterwards, since the weekly
report's tests count the cases of the seeded city."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from registry_service.models import Case, CaseStep, Region, User
from registry_service.principal import principal_for_user
from registry_service.services import cases
from tests.dashboard.world import NOW

SUBJECT = "sample:override"
OPENED = NOW - timedelta(days=60)  # weeks before the weeks the report tests count


@contextmanager
def sample_case(engine: Engine, cell: str) -> Iterator[str]:
    """The number of an accepted case found in `cell`, with a note on its timeline."""
    _remove(engine)
    with Session(engine) as s, s.begin():
        region = s.scalar(select(Region.id).where(Region.code == cell))
        bureau = s.scalar(select(User).where(User.username == "bureau"))
        assert region is not None and bureau is not None
        case = cases.open_or_attach(s, kind="override", subject_key=SUBJECT, region_id=region, now=OPENED, detail="强制加气 3 次")
        cases.transition(s, case, "accepted", principal_for_user(bureau), OPENED + timedelta(hours=2), "已受理")
        number = case.number
    try:
        yield number
    finally:
        _remove(engine)


def _remove(engine: Engine) -> None:
    with engine.begin() as c:
        ids = select(Case.id).where(Case.subject_key == SUBJECT).scalar_subquery()
        c.execute(delete(CaseStep).where(CaseStep.case_id.in_(ids)))
        c.execute(delete(Case).where(Case.subject_key == SUBJECT))
