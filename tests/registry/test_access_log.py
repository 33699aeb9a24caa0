"""The registry's access log: `cylinder-registry serve --access-log` run for real, every line parsed
with the Combined Log Format's own pattern (what log shippers use); the status fast path and Flask
routes alike, the remote address taken from X-Forwarded-For only behind `--trusted-proxy`, and no
token, Authorization header, query string or body in any line."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from registry_service.access_log import AccessLog, combined_line
from tests.peers import wait_until
from tests.registry.conftest import World
from tests.registry.served import serving

# The combined format as Logstash's COMBINEDAPACHELOG and Apache's LogFormat define it.
COMBINED = re.compile(
    r"(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r'"(?P<method>[A-Z]+) (?P<path>\S+) (?P<protocol>HTTP/\d\.\d)" (?P<status>\d{3}) (?P<size>\d+|-) '
    r'"(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)"'
)
PLATE = "豫A12345"
REFERER = "https://registry.example/dashboard/events?plate=%E8%B1%ABA12345"


def call(url: str, method: str = "GET", headers: dict[str, str] | None = None, body: object = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def parsed_lines(path: Path, expected: int) -> list[dict[str, str]]:
    """The log's lines once `expected` are written (a line is written when its body has been sent),
    each parsed whole by the combined pattern."""

    def lines() -> list[str] | None:
        found = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] if path.exists() else []
        return found if len(found) >= expected else None

    found = wait_until(lines, f"{expected} access log lines in {path}", 20)
    parsed = []
    for line in found:
        match = COMBINED.fullmatch(line)
        assert match, f"not a combined-format line: {line!r}"
        parsed.append(match.groupdict())
    return parsed


def access_lines(text: str) -> list[dict[str, str]]:
    return [m.groupdict() for m in map(COMBINED.fullmatch, text.splitlines()) if m]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # nothing here depends on the database
def test_served_requests_are_logged_in_the_combined_format(database_url: str, world: World, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    station, bureau = world.tokens["station"], world.tokens["bureau"]
    with serving(database_url, "--access-log", str(log), "--trusted-proxy", "127.0.0.1") as base:
        parsed_lines(log, 1)  # the health checks `serving` made while waiting
        log.write_text("")  # WatchedFileHandler reopens only on a move: a truncated file keeps being appended to
        answered = call(f"{base}/api/v1/status", "POST", {"Authorization": f"Bearer {station}"}, {"plate": PLATE})
        refused = call(f"{base}/api/v1/status", "POST", {"Authorization": "Bearer cgr_nope"}, {"plate": PLATE})
        listed = call(
            f"{base}/api/v1/bureau/refuel-attempts?plate={urllib.parse.quote(PLATE)}",
            headers={"Authorization": f"Bearer {bureau}", "Referer": REFERER, "User-Agent": 'probe "quoted" \\ agent'},
        )
        missing = call(f"{base}/api/v1/nowhere/a%20b")
        proxied = call(f"{base}/api/v1/health", headers={"X-Forwarded-For": "203.0.113.7"})
        lines = parsed_lines(log, 5)
    text = log.read_text(encoding="utf-8")

    expected = [
        ("POST", "/api/v1/status", "200"),  # the status fast path, answered in front of Flask
        ("POST", "/api/v1/status", "401"),
        ("GET", "/api/v1/bureau/refuel-attempts", "200"),  # the path only: the query held a plate
        ("GET", "/api/v1/nowhere/a%20b", "404"),
        ("GET", "/api/v1/health", "200"),
    ]
    assert sorted((line["method"], line["path"], line["status"]) for line in lines) == sorted(expected)
    # A line is written once its body has been sent, by the thread that served it: the next request
    # may be answered and logged first. Put them in request order for the checks below.
    lines.sort(key=lambda line: expected.index((line["method"], line["path"], line["status"])))
    assert (answered[0], refused[0], listed[0], missing[0], proxied[0]) == (200, 401, 200, 404, 200)
    assert [int(line["size"]) for line in lines] == [len(answer[1]) for answer in (answered, refused, listed, missing, proxied)]
    assert all(line["protocol"] == "HTTP/1.1" and line["ident"] == "-" and line["user"] == "-" for line in lines)
    assert [line["host"] for line in lines] == ["127.0.0.1"] * 4 + ["203.0.113.7"]  # behind the trusted proxy
    assert lines[2]["referer"] == "https://registry.example/dashboard/events"
    assert lines[2]["agent"] == r"probe \x22quoted\x22 \x5C agent"
    assert lines[0]["referer"] == "-"
    for secret in (station, bureau, "cgr_nope", "Bearer", "plate", "A12345", "%E8%B1%AB", "?"):
        assert secret not in text, secret


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_forwarded_addresses_are_ignored_without_a_trusted_proxy(database_url: str, world: World, tmp_path: Path) -> None:
    stderr = tmp_path / "stderr.log"
    with serving(database_url, "--access-log", "-", log=stderr) as base:
        assert call(f"{base}/api/v1/health", headers={"X-Forwarded-For": "203.0.113.7"})[0] == 200
        wait_until(lambda: len(access_lines(stderr.read_text(encoding="utf-8"))) >= 2, "the access log on stderr")
    lines = access_lines(stderr.read_text(encoding="utf-8"))
    assert lines[-1]["path"] == "/api/v1/health"
    assert {line["host"] for line in lines} == {"127.0.0.1"}  # anyone can send X-Forwarded-For


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, line: str) -> None:
        self.lines.append(line)


def environ(**extra: Any) -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": "/x", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "192.0.2.1", **extra}


def test_a_failing_app_is_logged_as_500_and_the_error_kept() -> None:
    def broken(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("boom")

    recorder = Recorder()
    with pytest.raises(RuntimeError):
        AccessLog(broken, recorder)(environ(), lambda *args: None)  # type: ignore[arg-type]
    line = COMBINED.fullmatch(recorder.lines[0])
    assert line and (line["status"], line["size"]) == ("500", "0")


def test_a_line_cannot_be_split_or_unquoted_by_what_the_client_sends() -> None:
    hostile = environ(PATH_INFO='/a b"\n/c', HTTP_USER_AGENT='x"\r\nforged - - [01/Jan/2000:00:00:00 +0000] "GET / HTTP/1.1"')
    line = combined_line(hostile, "200", 3, 0.0)
    assert "\n" not in line and "\r" not in line
    match = COMBINED.fullmatch(line)
    assert match and match["path"] == "/a%20b%22%0A/c"
    assert match["agent"].startswith(r"x\x22\x0D\x0Aforged")
