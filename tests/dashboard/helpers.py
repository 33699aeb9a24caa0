"""Small helpers shared by the dashboard tests: sign in through the real form, count rows directly."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import ColumnElement, Engine, func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from registry_service.models import ScanEvent
from tests.dashboard.world import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ZONE = timezone(timedelta(hours=8))


def csrf_token(client: FlaskClient) -> str:
    """The token from the page's form: the sign-in form, or the sign-out form once signed in."""
    match = CSRF.search(client.get("/dashboard/sign-in", follow_redirects=True).get_data(as_text=True))
    assert match, "every page with a form carries a CSRF token"
    return match.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD, **extra: str) -> TestResponse:
    return client.post(
        "/dashboard/sign-in", data={"username": username, "password": password, "csrf_token": csrf_token(client), **extra}
    )


def signed_in(app: Flask, username: str) -> FlaskClient:
    """A client of its own, signed in as `username` (several users in one test)."""
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def page_text(client: FlaskClient, path: str, status: int = 200) -> str:
    """The page at `path`, after checking it answered `status`."""
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return response.get_data(as_text=True)


@contextmanager
def world_rows(app: Flask, engine: Engine, build: Callable[[Session], object], clean: Callable[[Engine], None]) -> Iterator[None]:
    """A test module's own rows over the seeded database: `build` stored in one transaction, and
    `clean` run before (a crashed run's leftovers) and after, so the next module sees the seed alone."""
    clean(engine)
    app.extensions["registry"].transaction(build)
    yield
    clean(engine)


def local_window(since: str, until: str) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(since).replace(tzinfo=ZONE)
    end = datetime.fromisoformat(until).replace(tzinfo=ZONE) + timedelta(days=1)
    return start, end


def count_events(engine: Engine, since: str, until: str, *where: ColumnElement[bool]) -> int:
    start, end = local_window(since, until)
    with engine.connect() as connection:
        return int(
            connection.scalar(
                select(func.count())
                .select_from(ScanEvent)
                .where(ScanEvent.occurred_at >= start, ScanEvent.occurred_at < end, *where)
            )
            or 0
        )
