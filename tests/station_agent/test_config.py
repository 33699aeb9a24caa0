"""station.toml parsing: a good file loads; each kind of mistake is a ConfigError naming the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from station_agent.cli import main
from station_agent.config import load_config, parse_config
from station_agent.errors import ConfigError
from station_agent.overrides import credentials_match
from station_agent.passwords import hash_password, verify_password
from tag_tools.passwords import CHEAP_FOR_TESTS
from tests.station_agent.conftest import config_document
from tests.tag_tools.test_passwords import AGENT_LEGACY, REGISTRY_LEGACY

EXAMPLE = Path(__file__).parent.parent / "data" / "station" / "station.toml"


def test_example_config_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.station_code == "ST-JS-01" and config.pump == 2
    assert config.policy.mode == "enforce" and config.policy.min_refill_interval == timedelta(hours=1)
    assert config.registry.budget == timedelta(milliseconds=300)
    assert config.interlock_path.startswith("modbus-tcp://")
    assert config.supervisor("S-01") is not None and config.outbox_path.name == "outbox.sqlite3"


def _with(tmp_path: Path, change: dict[str, Any]) -> dict[str, Any]:
    document = config_document(tmp_path, tmp_path / "root.pem")
    for dotted, value in change.items():
        table, _, key = dotted.partition(".")
        if key:
            document.setdefault(table, {})[key] = value
        else:
            document[table] = value
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"policy.mode": "lenient"}, "policy.mode"),
        ({"policy.colour": "red"}, "unknown setting policy.colour"),
        ({"station.pump": 0}, "station.pump must be between"),
        ({"station.pump": "1"}, "station.pump must be a int"),
        ({"policy.overridable": ["inspection_overdue", "whatever"]}, "unknown reason codes: whatever"),
        ({"policy.timezone": "Mars/Olympus"}, "policy.timezone"),
        ({"policy.session_window_s": -1}, "non-negative"),
        ({"registry.url": "ftp://x"}, "registry.url"),
        ({"registry.url": "http://x/api/v1"}, "needs registry.token"),
        ({"attendant.listen": "nowhere"}, "HOST:PORT"),
        ({"supervisors": [{"id": "S", "password_hash": "plain"}]}, r"supervisors\[0\].password_hash"),
        ({"interlock": "log:"}, "interlock must be a table"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(_with(tmp_path, change))


def test_missing_table_and_bad_toml(tmp_path: Path) -> None:
    document = config_document(tmp_path, tmp_path / "root.pem")
    del document["reader"]
    with pytest.raises(ConfigError, match=r"missing \[reader\]"):
        parse_config(document)
    broken = tmp_path / "broken.toml"
    broken.write_text("[station\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_password_hash_round_trip() -> None:
    stored = hash_password("s3cret-pass", cost=CHEAP_FOR_TESTS)
    assert verify_password("s3cret-pass", stored) and not verify_password("s3cret-Pass", stored)
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$") and hash_password("s3cret-pass", cost=CHEAP_FOR_TESTS) != stored


def test_supervisor_hashes_in_either_format_work_and_others_are_config_errors(tmp_path: Path) -> None:
    """Configs written before Argon2id keep working: the agent's own scrypt (hex) entries, and the
    registry's (base64) ones an operator may have copied; anything else is refused at load time."""
    argon2 = hash_password("argon2 supervisor", cost=CHEAP_FOR_TESTS)
    document = _with(tmp_path, {})
    document["supervisors"] = [
        {"id": "S-01", "password_hash": AGENT_LEGACY},
        {"id": "S-02", "password_hash": REGISTRY_LEGACY},
        {"id": "S-03", "password_hash": argon2},
    ]
    config = parse_config(document)
    assert credentials_match(config, "S-01", "legacy agent pw") and not credentials_match(config, "S-01", "legacy agent pw!")
    assert credentials_match(config, "S-02", "legacy registry pw") and credentials_match(config, "S-03", "argon2 supervisor")
    assert not credentials_match(config, "S-09", "legacy agent pw")
    for broken in ("scrypt$16384$8$1$zz$zz", "$argon2id$v=19$m=8,t=1,p=1$salt", "bcrypt$2b$10$x"):
        document["supervisors"] = [{"id": "S-01", "password_hash": broken}]
        with pytest.raises(ConfigError, match=r"supervisors\[0\]\.password_hash: .*station-agent hash-password"):
            parse_config(document)


def test_cli_check_config_and_hash_password(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["check-config", "--config", str(EXAMPLE)]) == 0
    assert "ok: station ST-JS-01 pump 2" in capsys.readouterr().out
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("long enough password\n"))
    assert main(["hash-password", "--stdin"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and verify_password("long enough password", printed)


def test_cli_reports_bad_config_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.read_text(encoding="utf-8").replace('mode = "enforce"', 'mode = "maybe"'))
    assert main(["check-config", "--config", str(bad)]) == 2
    assert "configuration error: policy.mode" in capsys.readouterr().err
