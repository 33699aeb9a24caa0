"""What the JavaScript core decided against what the Python code decided, vector by vector.

Shared by the Node and the Chromium tests: each returns the list of differences (empty when the two
implementations agree on every vector) and checks that the vectors cannot pass vacuously (enough
of each kind, both outcomes present, hostile inputs refused).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tag_tools.reason_codes import Reason

# Floors under the vector counts: the generator makes more; fewer means vectors went missing.
MINIMUM = {"trustLists": 50, "statusLists": 30, "cases": 150, "cbor": 8000, "zlib": 500, "x509": 5}


def check_vectors_are_meaningful(vectors: dict[str, Any]) -> None:
    """The vectors exercise both outcomes everywhere, so agreement cannot be vacuous."""
    for key, floor in MINIMUM.items():
        assert len(vectors[key]) >= floor, f"only {len(vectors[key])} {key} vectors (at least {floor} expected)"
    decisions = Counter(c["expect"]["decision"] for c in vectors["cases"])
    assert set(decisions) == {"allow", "allow_with_warning", "refuse"}, decisions
    reasons = {r for c in vectors["cases"] for r in c["expect"]["reasons"]}
    # Every verifier reason but the chip's: a phone reads no originality signature.
    expected = {r.value for r in Reason} - {Reason.CHIP_NOT_GENUINE.value, Reason.CHIP_NOT_GENUINE_WARNING.value}
    missing = expected - reasons
    assert not missing, f"no vector gives {sorted(missing)}"
    checked = Counter(c["expect"]["statusChecked"] for c in vectors["cases"] if c["expect"]["decision"] != "refuse")
    assert checked[True] and checked[False], checked
    hostile = [c for c in vectors["cases"] if c["hostile"]]
    assert len(hostile) >= 60 and all(c["expect"]["decision"] == "refuse" for c in hostile)
    for key, field in (("trustLists", "ok"), ("statusLists", "ok")):
        outcomes = Counter(v["expect"][field] for v in vectors[key].values())
        assert outcomes[True] >= 5 and outcomes[False] >= 20, (key, outcomes)
    for key, field in (("cbor", "accept"), ("zlib", "ok"), ("x509", "ok")):
        outcomes = Counter(e[field] for e in vectors[key])
        assert outcomes[True] >= 2 and outcomes[False] >= 2, (key, outcomes)
    for flips in vectors["flips"]:
        outcomes = Counter(f.split(":")[0] for f in flips["expect"])
        assert outcomes["refuse"] > 1000 and outcomes["allow"] >= 1, outcomes


def differences(vectors: dict[str, Any], results: dict[str, Any]) -> list[str]:
    """Every vector on which the JavaScript core and the Python code disagree (or the core crashed)."""
    out: list[str] = []
    if sorted(vectors["warningReasons"]) != results["warningReasons"]:
        out.append(f"warning reasons: catalogue {vectors['warningReasons']}, core {results['warningReasons']}")
    for name, trust in vectors["trustLists"].items():
        got, want = results["trustLists"].get(name), trust["expect"]
        if got is None or {k: got.get(k) for k in want} != want:
            out.append(f"trust list {name!r}: Python {want}, core {got}")
    for name, status in vectors["statusLists"].items():
        got, want = results["statusLists"].get(name), status["expect"]
        if got is None or {k: got.get(k) for k in want} != want:
            out.append(f"status list {name!r}: Python {want}, core {got}")
    assert len(results["cases"]) == len(vectors["cases"])
    for case, got in zip(vectors["cases"], results["cases"], strict=True):
        want = case["expect"]
        mine = {k: got.get(k) for k in want}
        if mine != want:
            out.append(f"case {case['name']!r}: Python {want}, core {mine} {got.get('crash', '')}")
        web = got.get("webNfc")
        if web is not None and web != {"decision": want["decision"], "reasons": want["reasons"]}:
            out.append(f"case {case['name']!r} as Web NFC records: Python {want['decision']} {want['reasons']}, core {web}")
    for flips, got in zip(vectors["flips"], results["flips"], strict=True):
        for position, (want_flip, got_flip) in enumerate(zip(flips["expect"], got["got"], strict=True)):
            if want_flip != got_flip:
                out.append(f"flip of bit {position} of {flips['base']!r}: Python {want_flip}, core {got_flip}")
    for entry, accepted in zip(vectors["cbor"], results["cbor"], strict=True):
        if accepted != entry["jsAccept"]:
            out.append(f"CBOR {entry['name']!r} ({entry['hex'][:80]}): Python accept={entry['accept']}, core {accepted}")
    for entry, got in zip(vectors["zlib"], results["zlib"], strict=True):
        if got != {"ok": entry["ok"], "sha256": entry["sha256"]} and not (got == {"ok": False} and not entry["ok"]):
            out.append(f"zlib {entry['name']!r}: Python ok={entry['ok']}, core {got}")
    for entry, ok in zip(vectors["x509"], results["x509"], strict=True):
        if ok != entry["ok"]:
            out.append(f"X.509 {entry['name']!r}: Python {entry['ok']}, core {ok}")
    for entry, got in zip(vectors["serialNumbers"], results["serialNumbers"], strict=True):
        if got != entry["hex"]:
            out.append(f"serial number {entry['text']!r}: expected {entry['hex']}, core {got}")
    return out


def web_nfc_count(results: dict[str, Any]) -> int:
    return sum(1 for c in results["cases"] if "webNfc" in c)
