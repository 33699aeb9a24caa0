"""Reads per second and round trips per read of a typical record, on both reader stacks, beside
the on-air time the NXP datasheet's timings give for the same commands. Prints one JSON object.

    .venv/bin/python bench/bench_readers.py [--seconds 3]

The tags are emulated (nfcpy udp driver; pcscd + vpcd), so the measured rates are the cost of the
software stacks on this machine, not of radio: a real reader adds the on-air time below plus its
own USB/firmware latency. Needs pcscd and vsmartcard-vpcd, and no other pcscd running.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tag_tools import ntag
from tag_tools.emulation.ntag_emulator import NtagEmulator
from tag_tools.readers import ReadOptions, open_reader, read_tag, write_tag
from tag_tools.t2t_memory import DATA_AREA_OFFSET, ndef_tlv, pages_for
from tests.rigs import Rig, UdpRig, VpcdRig
from tests.testkit import TYPICAL_UID, TestPki

# ISO/IEC 14443-A at 106 kbit/s, as in the NTAG21x datasheet: one bit is 128/fc; each byte is sent
# with a parity bit; a frame adds start and end bits; CRC_A adds 2 bytes to every frame; the reader
# waits the frame delay time (about 1172/fc) for the answer and about as long before the next
# command. This reproduces the datasheet-derived figures: a 16-byte READ about 2 ms, a whole
# NTAG215 about 48 ms by FAST_READ and 68 ms by READs.
FC = 13.56e6
BIT = 128 / FC
FDT = 1172 / FC


def frame_seconds(data_bytes: int, crc: bool = True) -> float:
    return ((data_bytes + (2 if crc else 0)) * 9 + 2) * BIT


def command_seconds(command_bytes: int, answer_bytes: int) -> float:
    return frame_seconds(command_bytes) + FDT + frame_seconds(answer_bytes) + FDT


def activation_seconds() -> float:
    """REQA/ATQA and two cascade levels of SELECT/SAK for a 7-byte UID."""
    reqa = (7 + 2) * BIT + FDT + frame_seconds(2, crc=False) + FDT
    select = command_seconds(7, 1)  # SEL + NVB + 4 UID bytes + BCC, answered by SAK (+CRC)
    return reqa + 2 * select


def on_air(message_length: int, max_fast_read_pages: int = 60) -> dict[str, object]:
    """The commands our read sends for a message of this length, and their air time."""
    end_page = pages_for(DATA_AREA_OFFSET + len(ndef_tlv(message_length * b"\0")) - 1) - 1
    commands: list[tuple[str, int, int]] = [("GET_VERSION", 1, 8), ("FAST_READ 0-7", 3, 32)]
    page = 8
    while page <= end_page:
        last = min(end_page, page + max_fast_read_pages - 1)
        commands.append((f"FAST_READ {page}-{last}", 3, (last - page + 1) * 4))
        page = last + 1
    commands += [("READ_SIG", 2, 32), ("READ_CNT", 2, 3)]
    per_command = [{"command": name, "ms": round(command_seconds(c, a) * 1000, 3)} for name, c, a in commands]
    read_ms = sum(command_seconds(c, a) for _, c, a in commands) * 1000
    activation_ms = activation_seconds() * 1000
    total = ntag.NTAG215.total_pages
    return {
        "commands": per_command,
        "round_trips": len(commands),
        "read_ms": round(read_ms, 2),
        "activation_ms": round(activation_ms, 2),
        "reads_per_second_limit": round(1000 / (read_ms + activation_ms), 1),
        "read16_ms": round(command_seconds(2, 16) * 1000, 2),
        "whole_ntag215_fast_read_ms": round(command_seconds(3, total * 4) * 1000, 1),
        "whole_ntag215_read_ms": round((total + 3) // 4 * command_seconds(2, 16) * 1000, 1),
    }


def bench(rig: Rig, message: bytes, keys: tuple[bytes, bytes], seconds: float) -> dict[str, object]:
    emulator = NtagEmulator.blank(TYPICAL_UID, signature=ntag.sign_uid(TYPICAL_UID, keys[0]))
    rig.present(emulator)
    options = ReadOptions(originality_key=keys[1])
    with open_reader(rig.reader_path) as reader:
        write_tag(reader, message, lock=True, timeout=10)
        first = read_tag(reader, timeout=10, options=options)
        assert first.ndef_message == message and first.originality.value == "genuine"
        latencies: list[float] = []
        round_trips: set[int] = set()
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            t0 = time.perf_counter()
            tag = read_tag(reader, timeout=10, options=options)
            latencies.append(time.perf_counter() - t0)
            round_trips.add(tag.round_trips)
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "reader_path": rig.reader_path,
        "reads": len(latencies),
        "seconds": round(elapsed, 3),
        "reads_per_second": round(len(latencies) / elapsed, 1),
        "round_trips_per_read": sorted(round_trips),
        "median_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="reading time per backend (default 3)")
    args = parser.parse_args()
    pki = TestPki.create(datetime.now(UTC))
    message = pki.ndef_message(TYPICAL_UID)
    keys = ntag.generate_test_key()
    results: dict[str, object] = {}
    for rig_class in (UdpRig, VpcdRig):
        rig = rig_class()
        try:
            rig.start(NtagEmulator.blank(bytes.fromhex("04000000000001")))
            results[rig.name] = bench(rig, message, keys, args.seconds)
        except Exception as error:  # report the backend that could not run, keep the other
            results[rig_class.name] = {"error": f"{type(error).__name__}: {error}"}
        finally:
            rig.stop()
    tlv_end = DATA_AREA_OFFSET + len(ndef_tlv(message)) - 1
    print(
        json.dumps(
            {
                "record": {"ndef_message_bytes": len(message), "pages_read": pages_for(tlv_end), "chip": "NTAG215 (emulated)"},
                "backends": results,
                "on_air_datasheet": on_air(len(message)),
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "load_average_1min": round(os.getloadavg()[0], 2),
                },
                "note": "emulated tags: rates measure the driver stacks on this machine; a real reader adds the on-air time",
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
