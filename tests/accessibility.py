"""axe-core (npm, pinned in web/package-lock.json, vendored by scripts/vendor_web.sh) run inside a
Playwright page: every page of the dashboard and the attendant's screen must report no violation.

The script is injected from web/node_modules, never fetched; with CI=true a missing copy fails the
run (the README's test command vendors it), elsewhere it skips with the reason printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.peers import peer_unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[1] / "web" / "node_modules" / "axe-core" / "axe.min.js"
# The rules axe groups as WCAG 2.1 A and AA, plus its best practices: what a regulator's site is held to.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now: id, impact, help and the offending nodes."""
    if not AXE.is_file():
        peer_unavailable("axe-core", f"{AXE} missing: run scripts/vendor_web.sh (the README's test command does)")
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS)
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation and node, for an assertion message a person can act on."""
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}" for v in violations for node in v["nodes"])
