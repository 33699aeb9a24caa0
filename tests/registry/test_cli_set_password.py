"""`cylinder-registry set-password`: a grid user imported without a password gets one (from stdin or
a prompt asked twice), signs in with it, and its old dashboard sessions end; an unknown user or a
short password is refused with a message, not a traceback."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert, select

from registry_service import cli
from registry_service.models import AuditEntry, DashboardSession, User
from registry_service.security import verify_password

PASSWORD = "grid-officer-secret"
NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def run(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, str, str]:
    code = cli.main(["--database-url", url, *args])
    out, err = capsys.readouterr()
    return code, out, err


def _hash(engine: Engine, username: str) -> str | None:
    with engine.connect() as c:
        return c.scalar(select(User.password_hash).where(User.username == username))


def test_set_password_from_stdin_and_prompt(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, database_url: str, engine: Engine
) -> None:
    assert run(capsys, database_url, "upgrade")[0] == 0
    assert run(capsys, database_url, "create-user", "officer7", "--role", "grid")[0] == 0
    assert _hash(engine, "officer7") is None  # as the grid-people import leaves it

    with engine.begin() as c:  # signed in somewhere (say, with a password set before)
        user_id = c.scalar(select(User.id).where(User.username == "officer7"))
        c.execute(insert(DashboardSession).values(id_hash="0" * 64, user_id=user_id, created_at=NOW, last_seen_at=NOW))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, out, _ = run(capsys, database_url, "set-password", "officer7", "--password-stdin")
    assert code == 0 and json.loads(out) == {"username": "officer7", "password_set": True}
    with engine.connect() as c:
        assert c.scalar(select(DashboardSession.id_hash).where(DashboardSession.user_id == user_id)) is None  # ended
    assert verify_password(PASSWORD, _hash(engine, "officer7"))
    assert not verify_password("something-else-entirely", _hash(engine, "officer7"))

    answers = iter(["another-long-secret", "a-typo-long-secret"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code, _, err = run(capsys, database_url, "set-password", "officer7")
    assert code == 1 and "differ" in err
    assert verify_password(PASSWORD, _hash(engine, "officer7"))  # unchanged

    answers = iter(["another-long-secret", "another-long-secret"])
    assert run(capsys, database_url, "set-password", "officer7")[0] == 0
    assert verify_password("another-long-secret", _hash(engine, "officer7"))

    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = run(capsys, database_url, "set-password", "officer7", "--password-stdin")
    assert code == 1 and "at least" in err and "Traceback" not in err
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, _, err = run(capsys, database_url, "set-password", "nobody", "--password-stdin")
    assert code == 1 and "no user nobody" in err
    with engine.connect() as c:
        actions = list(c.scalars(select(AuditEntry.action).where(AuditEntry.action == "set_password")))
    assert actions == ["set_password", "set_password"]
