"""The national status list: download size, a station's time to load it and to look up a record.

Builds the list for 10 M cylinders (--cylinders) after ten years of re-inspections, about 40 M
entries: 10 % taxis inspected every year and 90 % private cars every three years, each cylinder
starting on a random day, its next inspection 0-60 days before it falls due, so one cylinder's
records are spread over the years and interleaved with everyone else's in index (issue) order.
Every entry that is not its cylinder's newest is superseded; 2 % of the newest are revoked
(0.4 % stolen, 1.6 % condemned or scrapped). The list is signed as a Status List Token (Ed25519),
then parsed, verified and inflated as a station does.

Baselines in the same run: for lookup, the station's current check against the JSON revocation
feed (`Revocations`: two dict lookups by cylinder id); for size, that feed for the same data
({"cylinders": revoked, "latest_sequence": newest record per cylinder}), raw and gzip-compressed.
Prints one JSON object. Goals: status_list_bytes_10m <= 2 MB, status_list_load_s <= 1 s,
status_lookup_us <= 5 us.

    .venv/bin/python bench/bench_status_list.py [--cylinders 10000000] [--seed 1]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import sys
import time
import timeit
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tag_tools import crypto, pki
from tag_tools.revocations import CylinderRevocation, Revocations
from tag_tools.status_list import (
    PER_BYTE,
    StatusArray,
    StatusList,
    StatusValue,
    build_status_list,
    check_no_cleared_revocations,
    parse_status_list,
)

GOAL_BYTES = 2_000_000
GOAL_LOAD_S = 1.0
GOAL_LOOKUP_US = 5.0
DAYS = 3650
CLASSES = ((365, 0.10), (3 * 365, 0.90))  # (inspection interval in days, share of cylinders)
EARLY_DAYS = 60  # a cylinder is re-inspected up to this many days before it falls due
REVOKED_SHARE = 0.02
STOLEN_SHARE_OF_REVOKED = 0.2
SHARD_ENTRIES = 1 << 23  # for the sharding comparison: 8.4 M entries, 2 MiB unpacked per shard
NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class NationalList:
    statuses: StatusArray
    counts: dict[str, int]
    build_s: float


def national_statuses(cylinders: int, rng: random.Random) -> NationalList:
    """The entries in issue order, built a day at a time.

    Cylinders that share an interval and a first inspection day form a cohort that is inspected on
    the same days; on each day the cohorts' records are interleaved at random. A record is current
    when its cohort has no later inspection within the ten years.
    """
    started = time.perf_counter()
    current, superseded = [0] * DAYS, [0] * DAYS
    for interval, share in CLASSES:
        per_day = cylinders * share / interval
        for first_day in range(interval):
            size = int(per_day + rng.random())
            day, last = first_day, -1
            while day < DAYS:
                if last >= 0:
                    superseded[last] += size
                last = day
                day += interval - rng.randrange(EARLY_DAYS + 1)
            current[last] += size
    codes = bytearray()
    for day in range(DAYS):
        total = current[day] + superseded[day]
        if total:
            codes += rng.randbytes(total).translate(_day_table(current[day], total))
    counts = {value.name.lower(): codes.count(value) for value in StatusValue}
    packed = _pack(codes)
    return NationalList(StatusArray(len(codes), packed), counts, time.perf_counter() - started)


def _day_table(current: int, total: int) -> bytes:
    """Maps a random byte to a status with the day's proportions (resolution 1/256)."""
    valid_or_revoked = round(256 * current / total)
    revoked = round(valid_or_revoked * REVOKED_SHARE)
    stolen = round(revoked * STOLEN_SHARE_OF_REVOKED)
    table = (
        [StatusValue.SUPERSEDED] * (256 - valid_or_revoked)
        + [StatusValue.VALID] * (valid_or_revoked - revoked)
        + [StatusValue.REVOKED_STOLEN] * stolen
        + [StatusValue.REVOKED_SCRAPPED] * (revoked - stolen)
    )
    return bytes(table)


def _pack(codes: bytearray) -> bytes:
    """One status per byte -> PER_BYTE statuses per byte, in the draft's bit order, at C speed."""
    codes += bytes(-len(codes) % PER_BYTE)
    packed = 0
    for position in range(PER_BYTE):
        shifted = bytes((value << (2 * position)) & 0xFF for value in range(256))
        packed |= int.from_bytes(codes[position::PER_BYTE].translate(shifted), "little")
    return packed.to_bytes(len(codes) // PER_BYTE, "little")


def median_seconds(function: Any, repeat: int) -> float:
    return statistics.median(timeit.repeat(function, number=1, repeat=repeat))


def json_feed_size(cylinders: int, revoked: int, rng: random.Random) -> dict[str, int]:
    """Bytes of the JSON revocation feed for the same fleet, streamed in chunks (never held whole)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip, as an HTTP server would send it
    raw = compressed = 0

    def emit(text: str) -> None:
        nonlocal raw, compressed
        data = text.encode()
        raw += len(data)
        compressed += len(compressor.compress(data))

    def ids(start: int, stop: int) -> list[str]:
        return [f"156-{4101 + n % 97}-{19_000_000 + n}" for n in range(start, stop)]

    chunk = 200_000
    emit('{"cylinders": {')
    reasons = list(CylinderRevocation)
    for start in range(0, revoked, chunk):
        why = {cid: rng.choice(reasons).value for cid in ids(start, min(start + chunk, revoked))}
        emit(("," if start else "") + json.dumps(why)[1:-1])
    emit('}, "latest_sequence": {')
    for start in range(0, cylinders, chunk):
        newest = {cid: 1 + n % 9 for n, cid in enumerate(ids(start, min(start + chunk, cylinders)))}
        emit(("," if start else "") + json.dumps(newest)[1:-1])
    emit("}}")
    compressed += len(compressor.flush())
    return {"raw": raw, "gzip": compressed}


def feed_lookup_us(cylinders: int, revoked: int, rng: random.Random, lookups: list[int]) -> tuple[float, int]:
    """Today's offline check per record: two dict lookups by cylinder id text (at most 1 M cylinders
    are held: dict lookups cost the same at 10 M, which would need gigabytes here)."""
    held = min(cylinders, 1_000_000)
    names = [f"156-{4101 + n % 97}-{19_000_000 + n}" for n in range(held)]
    revocations = Revocations(
        {name: CylinderRevocation.SCRAPPED for name in names[: int(held * revoked / cylinders)]},
        {name: 3 for name in names},
    )
    asked = [(names[i % held], 2) for i in lookups]

    def run() -> None:
        for name, sequence in asked:
            revocations.cylinder_revocation(name)
            revocations.is_superseded(name, sequence)

    return median_seconds(run, 5) / len(asked) * 1e6, held


def shard_sizes(statuses: StatusArray) -> dict[str, Any]:
    """The same entries cut into lists of SHARD_ENTRIES in issue order, each compressed alone."""
    sizes = []
    step = SHARD_ENTRIES // PER_BYTE
    for start in range(0, len(statuses.packed), step):
        sizes.append(len(zlib.compress(statuses.packed[start : start + step], 9)))
    return {"shard_entries": SHARD_ENTRIES, "lst_bytes_per_shard": sizes, "total_lst_bytes": sum(sizes)}


def measure(cylinders: int, seed: int, lookups: int = 100_000) -> dict[str, Any]:
    """Everything the JSON output reports; importable so bench_fleet can print the same keys."""
    began = time.perf_counter()
    rng = random.Random(seed)
    national = national_statuses(cylinders, rng)
    statuses = national.statuses
    key = crypto.generate_private_key()
    certificate = pki.create_root(key, "Status signer (bench)", NOW - timedelta(days=30), valid_days=365)
    status_list = StatusList(0, 1, NOW, NOW + timedelta(days=2), timedelta(hours=1), statuses)

    started = time.perf_counter()
    token = build_status_list(status_list, key, certificate)
    sign_s = time.perf_counter() - started

    def load() -> StatusList:
        return parse_status_list(token, certificate, now=NOW, list_id=0, min_sequence=1)

    gc.collect()
    loaded = load()
    assert loaded.statuses == statuses
    load_s = median_seconds(load, 5)

    indexes = [rng.randrange(len(loaded)) for _ in range(lookups)]
    lookup = loaded.status

    def look_up_all() -> None:
        for index in indexes:
            lookup(index)

    lookup_us = median_seconds(look_up_all, 5) / lookups * 1e6
    revoked = national.counts["revoked_stolen"] + national.counts["revoked_scrapped"]
    current = national.counts["valid"] + revoked
    baseline_lookup_us, baseline_held = feed_lookup_us(current, revoked, rng, indexes)

    # The signer's refusal to lower an entry, on a day's worth of changes (new records, supersessions).
    sampled = rng.sample(range(len(statuses)), 40_000)
    changes = {i: StatusValue.SUPERSEDED for i in sampled if statuses.status(i) is StatusValue.VALID}
    changed = statuses.updated(changes, count=len(statuses) + 11_000)
    started = time.perf_counter()
    check_no_cleared_revocations(statuses, changed)
    check_s = time.perf_counter() - started

    feed = json_feed_size(current, revoked, rng)
    result: dict[str, Any] = {
        "benchmark": "status_list",
        "status_list_bytes_10m": len(token),
        "status_list_load_s": round(load_s, 4),
        "status_lookup_us": round(lookup_us, 3),
        "cylinders": current,
        "entries": len(statuses),
        "entries_by_status": national.counts,
        "unpacked_bytes": len(statuses.packed),
        "compression_ratio": round(len(statuses.packed) / len(token), 1),
        "sign_s": round(sign_s, 3),
        "signer_no_cleared_check_s": round(check_s, 4),
        "generate_s": round(national.build_s, 2),
        "sharded": shard_sizes(statuses),
        "baseline": {
            "json_feed_bytes": feed["raw"],
            "json_feed_gzip_bytes": feed["gzip"],
            "feed_lookup_us": round(baseline_lookup_us, 3),
            "feed_lookup_cylinders_held": baseline_held,
        },
        "lookups": lookups,
        "goal": {"status_list_bytes_10m": GOAL_BYTES, "status_list_load_s": GOAL_LOAD_S, "status_lookup_us": GOAL_LOOKUP_US},
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    result["elapsed_s"] = round(time.perf_counter() - began, 1)
    result["goal_met"] = len(token) <= GOAL_BYTES and load_s <= GOAL_LOAD_S and lookup_us <= GOAL_LOOKUP_US
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cylinders", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = measure(args.cylinders, args.seed)
    print(json.dumps(result, indent=2))
    return 0 if result["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
