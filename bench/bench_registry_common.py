"""Shared by the registry benchmarks: a throw-away database, servers in child processes, and a
closed-loop load generator with keep-alive connections. Not a benchmark itself."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

# The scratch database (tests/registry/pg_cluster.py) and free_port (tests/peers.py) are the tests':
# one helper for both. The repository root goes on the path as in bench_fleet.py (tests/ is not installed).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.peers import free_tcp_port
from tests.registry import pg_cluster

free_port = free_tcp_port  # the benchmarks import it from here


def scratch_database(keep: bool = False) -> AbstractContextManager[str]:
    """A new database with a unique name on REGISTRY_BENCH_PG_URL (default 127.0.0.1:5432),
    dropped afterwards unless `keep`."""
    return pg_cluster.scratch_database("registry_bench", keep=keep, server=pg_cluster.server_url("REGISTRY_BENCH_PG_URL"))


@contextmanager
def child_server(argv: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """The server in a child process, listening on `port`; yields the process (its pid is what
    a benchmark reads CPU time from)."""
    # stderr goes to a file, not a pipe: nobody reads a pipe while the load runs, and a server
    # whose log filled the pipe's 64 KiB would block on its next log line mid-benchmark.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, **(env or {})})
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError as exc:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError(f"server did not start: {log.read().decode()[-2000:]}") from exc
                    time.sleep(0.1)
            yield process
        finally:
            process.terminate()
            process.wait(timeout=10)


def registry_server_argv(
    database_url: str, port: int, threads: int, *, connection_limit: int = 500, serve_options: tuple[str, ...] = ()
) -> list[str]:
    """`cylinder-registry serve` on 127.0.0.1:`port`; `serve_options` are more serve flags (--bureau-root ...)."""
    return [
        sys.executable,
        "-m",
        "registry_service.cli",
        "--database-url",
        database_url,
        *_serve_flags(port, threads, connection_limit),
        *serve_options,
    ]


def _serve_flags(port: int, threads: int, connection_limit: int) -> list[str]:
    return [
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--threads",
        str(threads),
        "--connection-limit",
        str(connection_limit),
    ]


# The baselines are served with the waitress options `cylinder-registry serve` computes from the same
# flags (registry_service.cli.waitress_options), by the same server factory (registry_service.serving:
# waitress's queue warnings off) and logging set up as serve sets it, so only the application differs.
HELLO_SERVER = """
import logging, sys
from registry_service.cli import build_parser, waitress_options
from registry_service.config import from_env
from registry_service.serving import create_server
kind, serve_flags = sys.argv[1], sys.argv[2:]
BODY = b'{"hello": "world"}'
if kind == "wsgi":
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
        return [BODY]
elif kind == "wsgi_db":
    # The floor of any path that asks the database once: read the body, run one prepared
    # one-row statement through libpq (PQexecPrepared on a connection per server thread, the
    # status check's own way: services/status_reads.py), answer. Nothing else.
    import os, threading, psycopg
    from psycopg import pq
    local = threading.local()
    def one_round_trip():
        pgconn = getattr(local, "pgconn", None)
        if pgconn is None:
            local.connection = psycopg.connect(os.environ["HELLO_DATABASE_URL"], autocommit=True)
            pgconn = local.pgconn = local.connection.pgconn
            pgconn.prepare(b"hello_one", b"SELECT $1::text")
        result = pgconn.exec_prepared(b"hello_one", [b"1"])
        if result.status != pq.ExecStatus.TUPLES_OK:
            raise RuntimeError(result.error_message)
    def app(environ, start_response):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        one_round_trip()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
        return [BODY]
else:
    from flask import Flask, Response
    app = Flask("hello")
    @app.post("/api/v1/status")
    def hello():
        return Response(BODY, mimetype="application/json")
logging.basicConfig()
create_server(app, waitress_options(from_env(), build_parser().parse_args(serve_flags))).run()
"""


def wsgi_db_hello_env(database_url: str) -> dict[str, str]:
    """The environment of a `wsgi_db` hello: the registry's database as a plain libpq URL."""
    from sqlalchemy.engine import make_url

    return {"HELLO_DATABASE_URL": make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)}


def hello_server_argv(
    kind: Literal["wsgi", "wsgi_db", "flask"], port: int, threads: int, *, connection_limit: int = 500
) -> list[str]:
    """A "hello" answering any request with a small JSON body, on the same waitress options as
    `registry_server_argv` with the same arguments: `wsgi` is a bare WSGI callable (the baseline
    for paths answered in front of Flask), `wsgi_db` the same plus one prepared one-row query to
    the database in HELLO_DATABASE_URL (the floor of a path that reads the database once), `flask`
    a Flask view answering POST /api/v1/status."""
    return [sys.executable, "-c", HELLO_SERVER, kind, *_serve_flags(port, threads, connection_limit)]


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    error_samples: list[str]

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms) or [0.0]
        return {
            "requests": self.requests,
            "errors": self.errors,
            "requests_per_s": round(self.requests / self.seconds, 1),
            "p50_ms": round(statistics.median(lat), 2),
            "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
            "error_samples": self.error_samples[:5],
        }


RequestFactory = Callable[[int], tuple[str, str, bytes, dict[str, str]]]


def closed_loop(port: int, connections: int, seconds: float, make_request: RequestFactory, warmup_s: float = 1.0) -> LoadResult:
    """`connections` threads, each with one keep-alive connection, sending back to back."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    samples: list[str] = []
    start_measuring = time.monotonic() + warmup_s
    stop_at = start_measuring + seconds

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        n = 0
        while True:
            now = time.monotonic()
            if now >= stop_at:
                break
            method, path, body, headers = make_request(index * 1_000_000 + n)
            n += 1
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                body = response.read()
                ok = response.status < 400
                if not ok and len(samples) < 5:
                    samples.append(f"{response.status} {body[:200]!r}")
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
                if len(samples) < 5:
                    samples.append(repr(exc))
            elapsed = (time.perf_counter() - t0) * 1000
            if now >= start_measuring:
                latencies[index].append(elapsed)
                errors[index] += not ok
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [x for per in latencies for x in per]
    return LoadResult(len(flat), sum(errors), seconds, flat, samples)


WRK_SCRIPT = """
local bodies = {%(bodies)s}
local headers = {%(headers)s}
-- One header (the station token) drawn per request from these values, when there are any.
local rotating_name = %(rotating_name)s
local rotating_values = {%(rotating_values)s}
local counter = 0
function setup(thread)
  thread:set("seed", counter)
  counter = counter + 1
end
function init(args)
  math.randomseed(7 + seed)
end
function request()
  if #rotating_values > 0 then
    headers[rotating_name] = rotating_values[math.random(#rotating_values)]
  end
  return wrk.format("%(method)s", "%(path)s", headers, bodies[math.random(#bodies)])
end
function done(summary, latency, requests)
  io.write(string.format(
    '\\nWRK_JSON {"requests": %%d, "duration_us": %%d, "non_2xx": %%d, "socket_errors": %%d, "timeouts": %%d, ' ..
    '"p50_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def wrk_closed_loop(
    port: int,
    connections: int,
    seconds: float,
    method: str,
    path: str,
    headers: dict[str, str],
    bodies: list[bytes],
    threads: int = 2,
    rotating_header: tuple[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Drive the server with wrk (C, event loop): the load generator then takes a small share of
    the cores the server and PostgreSQL need. Each request carries a random one of `bodies` and,
    with `rotating_header` (name, values), that header set to a random one of the values."""
    rotating_name, rotating_values = rotating_header or ("", [])
    script = WRK_SCRIPT % {
        "bodies": ",".join(_lua_string(body.decode()) for body in bodies),
        "headers": ",".join(f"[ {_lua_string(k)} ]={_lua_string(v)}" for k, v in headers.items()),
        "rotating_name": _lua_string(rotating_name),
        "rotating_values": ",".join(_lua_string(v) for v in rotating_values),
        "method": method,
        "path": path,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", encoding="utf-8") as lua:
        lua.write(script)
        lua.flush()
        argv = [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "30s",
            "-s",
            lua.name,
            f"http://127.0.0.1:{port}",
        ]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    line = next((line for line in run.stdout.splitlines() if line.startswith("WRK_JSON ")), None)
    if run.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({run.returncode}): {run.stderr[-2000:]} {run.stdout[-2000:]}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    duration_s = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "errors": raw["non_2xx"] + raw["socket_errors"] + raw["timeouts"],
        "timeouts": raw["timeouts"],
        "requests_per_s": round(raw["requests"] / duration_s, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
    }


def print_json(result: dict[str, object]) -> None:
    print(json.dumps(result, ensure_ascii=False, indent=2))
