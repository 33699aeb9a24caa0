"""The handheld verifier's cost per record in this machine's Chromium, against tag_tools in the same run.

A realistic mix of tags (mostly valid records, some due soon, overdue, superseded, revoked, and a few
forged or moved) is verified one at a time by the JavaScript core (registry_service/handheld/static/
core) in Debian's Chromium through Playwright, the modules loaded from the registry's /verify/ static
route, with the trust list and the national-size status list already parsed, as the page holds them
after loading. The page is cross-origin isolated so that performance.now() resolves 5 us, not 100.
The one-off parse times of the trust list and of the status list (about 40 M entries after ten
years, ~1.2 MB signed, built as bench/bench_status_list.py builds it) are reported beside.

Baseline in the same run: tag_tools.verify.verify_tag on the same bytes, same lists, same clock; both
implementations must reach the same decision on every record. Prints one JSON object. Goal (issue 18):
at most 5 ms per record in Chromium (p95).

    .venv/bin/python bench/bench_handheld.py [--records 1000] [--cylinders 10000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import platform
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test kit lives under tests/
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_status_list import national_statuses
from flask import Flask, Response

from registry_service.handheld.web import URL_PREFIX, blueprint
from tag_tools import pki
from tag_tools.claims import InspectionResult, StatusReference
from tag_tools.status_list import StatusList, StatusValue, build_status_list, parse_status_list
from tag_tools.trustlist import TrustStore
from tag_tools.verify import VerificationPolicy, verify_tag
from tests.dashboard.browser import CHROMIUM, chromium, serve
from tests.handheld.world import NOW, World, build_world

GOAL_MS = 5.0
ZONE = "Asia/Shanghai"
# The mix a patrol meets: (kind, share). Most cylinders on the road are in order.
MIX = (
    ("valid", 0.88),
    ("valid_p256", 0.04),
    ("due_soon", 0.03),
    ("overdue", 0.015),
    ("superseded", 0.01),
    ("revoked", 0.005),
    ("moved_tag", 0.01),
    ("forged", 0.01),
)
WANTED = {"valid": StatusValue.VALID, "superseded": StatusValue.SUPERSEDED, "revoked": StatusValue.REVOKED_SCRAPPED}

# Runs in the page: parse the lists once, then time each verification. Returns JSON text.
PAGE_SCRIPT = """async ({ core, rounds }) => {
  const m = await import(core + 'verifier.js');
  const { fromBase64, fromHex } = await import(core + 'bytes.js');
  const data = await (await fetch('/bench/data.json')).json();
  const statusBytes = new Uint8Array(await (await fetch('/bench/status-list')).arrayBuffer());
  const now = new Date(data.now);
  let t = performance.now();
  const trust = await m.parseTrustList(fromBase64(data.trustList), fromBase64(data.root), now);
  const trustMs = performance.now() - t;
  t = performance.now();
  const list = await m.parseStatusList(statusBytes, trust, now, { listId: 0 });
  const statusMs = performance.now() - t;
  const lists = new Map([[list.listId, list]]);
  const tags = data.records.map((r) => ({ uid: fromHex(r.uid), ndefMessage: fromBase64(r.ndef) }));
  const decisions = [];
  for (const tag of tags.slice(0, 50)) await m.verifyTag({ ...tag, trust, statusLists: lists, now, policy: data.policy });
  const samples = [];
  for (let round = 0; round < rounds; round++) {
    for (const tag of tags) {
      const start = performance.now();
      const v = await m.verifyTag({ ...tag, trust, statusLists: lists, now, policy: data.policy });
      samples.push(performance.now() - start);
      if (round === 0) decisions.push(v.decision + ':' + v.reasons.join(','));
    }
  }
  const start = performance.now();
  for (const tag of tags) await m.verifyTag({ ...tag, trust, statusLists: lists, now, policy: data.policy });
  const sequentialMs = (performance.now() - start) / tags.length;
  let resolution = Infinity;
  for (let i = 0, last = performance.now(); i < 10000; i++) {
    const next = performance.now();
    if (next > last) { resolution = Math.min(resolution, next - last); last = next; }
  }
  return JSON.stringify({ trustMs, statusMs, samples, decisions, sequentialMs, resolution,
    isolated: globalThis.crossOriginIsolated === true, userAgent: navigator.userAgent, entries: list.count });
}"""


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(samples_ms: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(samples_ms, 0.50), 4),
        "p95": round(percentile(samples_ms, 0.95), 4),
        "mean": round(statistics.fmean(samples_ms), 4),
        "max": round(max(samples_ms), 4),
    }


def make_tags(world: World, national: StatusList, count: int, rng: random.Random) -> list[tuple[str, bytes, bytes]]:
    """(kind, uid, NDEF message) in the mix's shares, each valid record naming a VALID entry of the
    national list, each superseded or revoked one an entry of that value."""
    today = NOW.astimezone(ZoneInfo(ZONE)).date()
    kinds = rng.choices([k for k, _ in MIX], weights=[s for _, s in MIX], k=count)
    tags = []
    for kind in kinds:
        uid = bytes([0x04]) + rng.randbytes(6)
        wanted = WANTED.get(kind, StatusValue.VALID)
        index = rng.randrange(len(national))
        while national.status(index) is not wanted:
            index = rng.randrange(len(national))
        claims: dict[str, Any] = {"status_ref": StatusReference(0, index), "sequence": rng.randrange(1, 9)}
        centre = "ZZES02" if kind == "valid_p256" else "ZZTJ01"
        if kind == "due_soon":
            claims["next_due"] = today + timedelta(days=rng.randrange(1, 30))
        elif kind == "overdue":
            claims["next_due"] = today - timedelta(days=rng.randrange(1, 200))
            claims["inspected"] = claims["next_due"] - timedelta(days=30)
            claims["issued_at"] = NOW.replace(microsecond=0) - timedelta(days=(today - claims["inspected"]).days)
        elif kind == "superseded" and rng.random() < 0.5:
            claims["result"] = InspectionResult.FAILED
        message = world.message(centre, uid, **claims)
        if kind == "moved_tag":
            uid = bytes([0x04]) + rng.randbytes(6)
        elif kind == "forged":
            forged = bytearray(message)
            forged[-5] ^= 0x20
            message = bytes(forged)
        tags.append((kind, uid, message))
    return tags


def browser_run(data: dict[str, Any], status_token: bytes, rounds: int) -> dict[str, Any]:
    app = Flask(__name__)
    app.register_blueprint(blueprint, url_prefix=URL_PREFIX)
    isolated = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}

    @app.get("/bench/")
    def page() -> Response:
        return Response("<!doctype html><title>handheld bench</title><p>bench</p>", mimetype="text/html", headers=isolated)

    @app.get("/bench/data.json")
    def bench_data() -> Response:
        return Response(json.dumps(data), mimetype="application/json")

    @app.get("/bench/status-list")
    def status_list() -> Response:
        return Response(status_token, mimetype="application/octet-stream")

    with serve(app) as base_url, chromium() as browser:
        page_ = browser.new_page()
        page_.goto(f"{base_url}/bench/")
        raw = page_.evaluate(PAGE_SCRIPT, {"core": f"{URL_PREFIX}/static/core/", "rounds": rounds})
    result: dict[str, Any] = json.loads(raw)
    return result


def python_run(
    world: World, trust_bytes: bytes, status_token: bytes, tags: list[tuple[str, bytes, bytes]], rounds: int
) -> dict[str, Any]:
    started = time.perf_counter()
    store = TrustStore.load(world.root.certificate, trust_bytes, now=NOW)
    trust_ms = (time.perf_counter() - started) * 1000
    assert store.trust_list is not None
    started = time.perf_counter()
    held = parse_status_list(status_token, store.trust_list.status_signers(NOW), now=NOW, list_id=0)
    status_ms = (time.perf_counter() - started) * 1000
    policy = VerificationPolicy(local_timezone=ZoneInfo(ZONE))
    lists = {0: held}
    decisions, samples = [], []
    for round_ in range(rounds):
        for _, uid, message in tags:
            begin = time.perf_counter_ns()
            verdict = verify_tag(uid, message, trust=store, now=NOW, policy=policy, status_lists=lists)
            samples.append((time.perf_counter_ns() - begin) / 1e6)
            if round_ == 0:
                decisions.append(verdict.decision.value + ":" + ",".join(r.value for r in verdict.reasons))
    return {"trust_ms": trust_ms, "status_ms": status_ms, "samples": samples, "decisions": decisions}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--cylinders", type=int, default=10_000_000, help="fleet size behind the national status list")
    parser.add_argument("--rounds", type=int, default=3, help="times each record is verified (after a warm-up)")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    began = time.perf_counter()
    rng = random.Random(args.seed)

    world = build_world(NOW)
    trust_bytes = world.signed_trust_list("p256")
    national = national_statuses(args.cylinders, rng)
    body = StatusList(0, 1, NOW - timedelta(minutes=5), NOW + timedelta(days=2), timedelta(hours=1), national.statuses)
    signer = world.list_signers["ed25519"]
    status_token = build_status_list(body, signer.key, signer.certificate)
    tags = make_tags(world, body, args.records, rng)

    data = {
        "now": NOW.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "root": base64.b64encode(pki.certificate_to_der(world.root.certificate)).decode(),
        "trustList": base64.b64encode(trust_bytes).decode(),
        "policy": {"warningDays": 30, "clockSkewSeconds": 600, "timeZone": ZONE},
        "records": [{"uid": uid.hex(), "ndef": base64.b64encode(message).decode()} for _, uid, message in tags],
    }
    python = python_run(world, trust_bytes, status_token, tags, args.rounds)
    browser = browser_run(data, status_token, args.rounds)
    disagreements = sum(1 for a, b in zip(python["decisions"], browser["decisions"], strict=True) if a != b)
    chromium_version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    per_record = summary(browser["samples"])
    result: dict[str, Any] = {
        "benchmark": "handheld_verify",
        "records": args.records,
        "rounds": args.rounds,
        "mix": {kind: sum(1 for k, _, _ in tags if k == kind) for kind, _ in MIX},
        "decisions": {d: browser["decisions"].count(d) for d in sorted(set(browser["decisions"]))},
        "decisions_agree_with_python": disagreements == 0,
        "chromium": {
            "version": chromium_version,
            "per_record_ms": per_record,
            "sequential_ms_per_record": round(browser["sequentialMs"], 4),
            "trust_list_parse_ms": round(browser["trustMs"], 1),
            "status_list_parse_ms": round(browser["statusMs"], 1),
            "timer_resolution_us": round(browser["resolution"] * 1000, 1),
            "cross_origin_isolated": browser["isolated"],
        },
        "python_baseline": {
            "per_record_ms": summary(python["samples"]),
            "trust_list_parse_ms": round(python["trust_ms"], 1),
            "status_list_parse_ms": round(python["status_ms"], 1),
        },
        "trust_list_bytes": len(trust_bytes),
        "trust_list_centres": 4,
        "status_list_bytes": len(status_token),
        "status_list_entries": len(body),
        "goal_per_record_ms": GOAL_MS,
        "goal_met": per_record["p95"] <= GOAL_MS and disagreements == 0,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    result["elapsed_s"] = round(time.perf_counter() - began, 1)
    print(json.dumps(result, indent=2))
    return 0 if result["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
