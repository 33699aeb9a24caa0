"""`cylinder-tag status-block fetch`: ask the registry for a block of status indexes, and the block
file that `cylinder-tag sign --status-block` takes its indexes from.

The file is `{"list_id": n, "next": i, "end": j}` (end exclusive). `sign` takes `next` for a record
and writes the advanced file (atomically, fsync'ed) before it writes the record: a crash between
the two wastes one index, and no index is ever put on two records. A row that fails before
signing takes no index. An unused index costs nothing: it stays VALID in the list and is never
handed out again.
"""

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tag_tools.claims import StatusReference
from tag_tools.cli.common import read_input
from tag_tools.cli.exit_codes import ExitCode
from tag_tools.errors import InputError
from tag_tools.keys import atomic_write
from tag_tools.status_list import MAX_INDEXES, MAX_LIST_ID

MAX_COUNT = 100_000  # the registry's limit per request
TIMEOUT_S = 30.0


@dataclass
class StatusBlock:
    """The unused part of an allocated block, backed by its file."""

    path: Path
    list_id: int
    next: int
    end: int

    @classmethod
    def load(cls, path: Path) -> "StatusBlock":
        try:
            data = json.loads(read_input(path, "status block"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"{path} is not a status block file: {error}") from None
        if not isinstance(data, dict) or set(data) != {"list_id", "next", "end"}:
            raise InputError(f'{path}: a status block file is {{"list_id", "next", "end"}}')
        if any(type(v) is not int for v in data.values()):
            raise InputError(f"{path}: list_id, next and end must be integers")
        if not (0 <= data["list_id"] <= MAX_LIST_ID and 0 <= data["next"] <= data["end"] <= MAX_INDEXES):
            raise InputError(f"{path}: list_id or next/end out of range")
        return cls(path, data["list_id"], data["next"], data["end"])

    def to_json(self) -> dict[str, int]:
        return {"list_id": self.list_id, "next": self.next, "end": self.end}

    def save(self) -> None:
        atomic_write(self.path, json.dumps(self.to_json()).encode() + b"\n", mode=0o644)

    @property
    def remaining(self) -> int:
        return self.end - self.next

    def peek(self) -> StatusReference:
        """The index the next record gets; InputError when the block is used up."""
        if self.next >= self.end:
            raise InputError(f"status block {self.path} is used up; fetch another with `cylinder-tag status-block fetch`")
        return StatusReference(self.list_id, self.next)

    def consume(self, taken: StatusReference) -> None:
        """Mark `taken` (the last peek) used, on disk, before the record that carries it is written."""
        if taken != StatusReference(self.list_id, self.next):
            raise InputError(f"status index {taken.index} is not the next one of {self.path}")
        self.next += 1
        self.save()


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    block = subparsers.add_parser("status-block", help="status indexes for the records a centre signs")
    actions = block.add_subparsers(dest="status_block_command", required=True, metavar="ACTION")
    fetch = actions.add_parser(
        "fetch",
        help="ask the registry for a block of status indexes (for `sign --status-block`)",
        description="POST /api/v1/centres/CODE/status-indexes with the centre's API token; writes the block file.",
    )
    fetch.add_argument("--registry", required=True, metavar="URL", help="the registry's base URL, e.g. https://registry.example")
    fetch.add_argument("--token-file", type=Path, required=True, metavar="FILE", help="a file holding the centre's API token")
    fetch.add_argument("--centre", required=True, metavar="CODE", help="the centre's code (its own only)")
    fetch.add_argument("--count", type=int, required=True, help=f"how many indexes (1..{MAX_COUNT})")
    fetch.add_argument("--out", type=Path, required=True, help="the block file to write (refused if it exists)")
    fetch.set_defaults(handler=_fetch)


def _fetch(args: argparse.Namespace) -> ExitCode:
    if not 1 <= args.count <= MAX_COUNT:
        raise InputError(f"--count must be 1..{MAX_COUNT}")
    if args.out.exists():
        raise InputError(f"{args.out} exists; a block file still in use must not be overwritten")
    token = read_input(args.token_file, "token file").decode("utf-8", "replace").strip()
    if not token:
        raise InputError(f"{args.token_file} is empty")
    answer = _post(f"{args.registry.rstrip('/')}/api/v1/centres/{args.centre}/status-indexes", token, {"count": args.count})
    values = [answer.get(k) for k in ("list_id", "first", "count")]
    if not all(type(v) is int and v >= 0 for v in values):
        raise InputError(f"the registry's answer is not a block: {answer}")
    list_id, first, count = (int(v) for v in values)  # type: ignore[arg-type]  # ints, checked above
    block = StatusBlock(args.out, list_id, first, first + count)
    block.save()
    print(f"status indexes {first}..{block.end - 1} of list {list_id} in {args.out}")
    return ExitCode.OK


def _post(url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        response = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_S)
    except requests.RequestException as error:
        raise InputError(f"cannot reach the registry at {url}: {error}") from None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code != 200 or not isinstance(answer, dict):
        detail = answer.get("detail") if isinstance(answer, dict) else response.reason
        raise InputError(f"the registry refused ({response.status_code}): {detail}")
    return answer
