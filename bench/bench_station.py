"""Station agent latency: from a read completing to the interlock command, over 1,000 reads,
offline (local verification only) and online (plus a status request to a local registry).
Prints one JSON object. Goal: p99 <= 20 ms offline.

    .venv/bin/python bench/bench_station.py [--reads 1000] [--skip-online]

Each read is an allowed one-cylinder vehicle, so each read ends in a pump-enable command (the
`log:` interlock timestamps it); the fill is then ended, untimed. The time includes signature
verification, the local rules, the durable outbox commit (WAL, synchronous=FULL: one fsync per
read) and, online, the registry's answer. The registry runs in this process (werkzeug's threaded
server on SQLite), so the online figures also pay for sharing the interpreter with it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from station_agent.agent import Agent
from station_agent.config import parse_config
from station_agent.interlock import LogInterlock
from station_agent.outbox import Outbox
from station_agent.registry_client import HttpRegistryClient
from station_agent.sync import TrustCache
from station_agent.tagsource import FakeTagSource, TagReading
from tag_tools.verdict import ChipEvidence, Originality
from tests.testkit import TestPki

VEHICLES = 50


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(latencies_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in latencies_s]
    return {
        "p50_ms": round(percentile(ms, 0.50), 3),
        "p99_ms": round(percentile(ms, 0.99), 3),
        "max_ms": round(max(ms), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def run(pki: TestPki, reads: list[tuple[bytes, bytes]], workdir: Path, registry: Any | None) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    root = workdir / "root.pem"
    root.write_bytes(pki.root_certificate_pem)
    document: dict[str, Any] = {
        "station": {"code": "ST-JS-01", "pump": 1, "state_dir": str(workdir / "state")},
        "reader": {"path": "none:"},
        "interlock": {"path": "log:"},
        "trust": {"root_certificate": str(root)},
        "policy": {"min_refill_interval_min": 0, "timezone": "UTC"},
    }
    if registry is not None:
        document["registry"] = {"url": registry.url, "token": registry.token, "budget_ms": 300}
    config = parse_config(document)
    outbox = Outbox(config.outbox_path)
    cache = TrustCache(outbox, pki.root_certificate, config.policy.trust_list_max_age, pki.trust_list_bytes)
    interlock = LogInterlock()
    client = HttpRegistryClient(registry.url, registry.token) if registry is not None else None
    agent = Agent(
        config, source=FakeTagSource(), interlock=interlock, outbox=outbox, cache=cache, client=client, echo=lambda line: None
    )
    agent.pump.start()  # not agent.start(): no background upload competing with the timed path
    latencies: list[float] = []
    online = 0
    try:
        for uid, message in reads:
            reading = TagReading(uid, message, ChipEvidence(Originality.GENUINE, "NTAG215", 7), time.perf_counter())
            result = agent.handle(reading)
            command = interlock.commands[-1]
            if not (command.enabled and result.decision == "allow" and result.online == (registry is not None)):
                raise RuntimeError(f"expected an allowed read, got {result}")
            latencies.append(command.at - reading.completed_at)
            online += result.online
            agent.end_fill()
    finally:
        agent.pump.stop()
        outbox.close()
    return {**summary(latencies), "reads": len(latencies), "decided_online": online}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=1000)
    parser.add_argument("--skip-online", action="store_true")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    now = datetime.now(UTC)
    pki = TestPki.create(now)
    from tag_tools.claims import CylinderId

    vehicles = []
    for index in range(VEHICLES):
        uid = bytes.fromhex("04B0") + index.to_bytes(5, "big")
        claims: dict[str, Any] = {
            "cylinder_id": CylinderId(156, 4101, 30_000_000 + index),
            "plate": f"豫A{index:05d}",
            "vin": f"LSVAU2180N{index:07d}",
        }
        vehicles.append((uid, pki.ndef_message(uid, **claims), claims))
    reads = [(vehicles[i % VEHICLES][0], vehicles[i % VEHICLES][1]) for i in range(args.reads)]
    result: dict[str, Any] = {
        "benchmark": "station_agent read -> interlock command",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "goal": {"offline_p99_ms": 20},
    }
    with tempfile.TemporaryDirectory(prefix="bench-station-") as tmp:
        result["offline"] = run(pki, reads, Path(tmp) / "offline", None)
        if not args.skip_online:
            from tests.station_agent.registry_peer import RegistryPeer, database_url

            registry = RegistryPeer(database_url("sqlite", Path(tmp)), pki, lambda: datetime.now(UTC)).start()
            try:
                for uid, _, claims in vehicles:
                    record = pki.record(uid, **claims)
                    registry.register_vehicle(
                        record.plate,
                        record.vin,
                        [
                            {
                                "cylinder_id": str(record.cylinder_id),
                                "tag_uid": uid.hex().upper(),
                                "next_due": record.next_due,
                                "end_of_life": record.end_of_life,
                                "record_sequence": record.sequence,
                            }
                        ],
                    )
                result["online"] = run(pki, reads, Path(tmp) / "online", registry)
                result["online"]["registry"] = "in-process werkzeug + SQLite"
            finally:
                registry.dispose()
    result["goal"]["offline_met"] = result["offline"]["p99_ms"] <= 20
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
