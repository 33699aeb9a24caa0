"""The handheld verifier core (registry_service/handheld/static/core) in Node, on the shared vectors:
the same decision, reasons (in order), status-checked flag, signer and record as tag_tools gives
for every vector; the same accept or refuse for every input of the strict CBOR, zlib and X.509
decoders; every hostile input refused by both. Node 20 runs the modules unchanged (WebCrypto,
no packages), which is also what a WeChat mini-program needs of them.

One Node process runs every vector (tests/handheld/run_vectors.mjs); the tests below read its report.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.handheld.compare import check_vectors_are_meaningful, differences, web_nfc_count
from tests.peers import peer_unavailable

HERE = Path(__file__).resolve().parent
CORE = HERE.parents[1] / "registry_service" / "handheld" / "static" / "core"
RUNNER = HERE / "run_vectors.mjs"
NODE = "/usr/bin/node"


@pytest.fixture(scope="module")
def results(vectors_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not Path(NODE).exists():
        peer_unavailable("Node", f"{NODE} is not installed")
    out = tmp_path_factory.mktemp("handheld-node") / "results.json"
    done = subprocess.run([NODE, str(RUNNER), str(vectors_file), str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    loaded: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert loaded["engine"].startswith("node v"), loaded["engine"]
    return loaded


def test_the_vectors_cannot_pass_vacuously(vectors: dict[str, Any]) -> None:
    check_vectors_are_meaningful(vectors)


KINDS = ["warning reasons", "trust list", "status list", "case", "flip", "CBOR", "zlib", "X.509", "serial number"]


@pytest.mark.parametrize("kind", KINDS)
def test_node_agrees_with_python(vectors: dict[str, Any], results: dict[str, Any], kind: str) -> None:
    found = [d for d in differences(vectors, results) if d.startswith(kind)]
    assert not found, f"{len(found)} differences, the first: " + "\n".join(found[:10])


def test_every_case_ran_and_web_nfc_records_were_tried(vectors: dict[str, Any], results: dict[str, Any]) -> None:
    assert [c["name"] for c in results["cases"]] == [c["name"] for c in vectors["cases"]]
    assert not [c["name"] for c in results["cases"] if "crash" in c]
    assert web_nfc_count(results) >= 100  # the same tags as Web NFC records, where that view exists
    assert len(results["cbor"]) == len(vectors["cbor"]) and len(results["zlib"]) == len(vectors["zlib"])


def test_every_hostile_input_is_refused_by_both(vectors: dict[str, Any], results: dict[str, Any]) -> None:
    hostile = [(c, r) for c, r in zip(vectors["cases"], results["cases"], strict=True) if c["hostile"]]
    assert len(hostile) >= 60
    assert all(c["expect"]["decision"] == "refuse" and r["decision"] == "refuse" for c, r in hostile)
    refused_by_python = [(e, got) for e, got in zip(vectors["cbor"], results["cbor"], strict=True) if not e["accept"]]
    assert len(refused_by_python) >= 1000 and not [e["name"] for e, got in refused_by_python if got is not False]
    codec_tests = [
        got for e, got in zip(vectors["cbor"], results["cbor"], strict=True) if e["name"].startswith("test_cbor_codec: ")
    ]
    assert len(codec_tests) >= 10


# What the core may use: relative imports of its own modules and the platform's WebCrypto,
# TextDecoder and Intl; never the page's world (DOM, Web NFC, network) nor a package.
FORBIDDEN = re.compile(r"\b(document|window|navigator|NDEFReader|fetch|XMLHttpRequest|localStorage|indexedDB|require)\b\s*[.(]")
IMPORT = re.compile(r"""^\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]""", re.MULTILINE)


def test_the_core_is_plain_modules_without_dom_nfc_network_or_packages() -> None:
    modules = sorted(CORE.glob("*.js"))
    assert len(modules) >= 10
    for module in modules:
        text = module.read_text(encoding="utf-8")
        assert text.startswith("//"), f"{module.name} lacks its header comment"
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(("//", "*", "/*")))
        assert not FORBIDDEN.search(code), f"{module.name}: {FORBIDDEN.search(code)}"
        for target in IMPORT.findall(text):
            assert target.startswith("./") and (CORE / target).is_file(), f"{module.name} imports {target}"


def test_node_is_20_or_later(results: dict[str, Any]) -> None:
    # The contract's floor: Node 20 has WebCrypto Ed25519 and ES modules; older ones do not.
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True, timeout=30).stdout
    assert int(version.lstrip("v").split(".")[0]) >= 20, version
