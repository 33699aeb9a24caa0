"""A translator's first draft of Spanish: a few messages of each domain, in a directory named in
CYLINDER_LOCALE_PATH, and nothing else. What is not translated yet falls back to English; no code
names the language."""

from __future__ import annotations

from pathlib import Path

import pytest

from tag_tools.messages import LOCALE_PATH_ENV

HEADER = """\
msgid ""
msgstr ""
"Language: es\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"
"Content-Type: text/plain; charset=utf-8\\n"
"""

STUBS: dict[str, str] = {
    "reasons": """
msgid "reason.inspection_overdue"
msgstr "Inspección periódica vencida"

msgid "reason.refilled_too_soon"
msgstr "Cilindro ya cargado en los últimos {interval}"

msgid "interval.minutes"
msgid_plural "interval.minutes.plural"
msgstr[0] "{n} minuto"
msgstr[1] "{n} minutos"
""",
    "tag": """
msgid "claim.next_due"
msgstr "Próxima inspección"

msgid "decision.refuse"
msgstr "No cargar"

msgid "decision.allow"
msgstr "Cargar"
""",
    "attendant": """
msgid "page.pump"
msgstr "Surtidor"

msgid "page.pump_off"
msgstr "Surtidor bloqueado"

msgid "headline.refused"
msgstr "No cargar"

msgid "headline.read_count"
msgstr "{headline} (leídos {read}/{expected})"

msgid "headline.collecting"
msgstr "Lea los demás cilindros del vehículo"
""",
}


def install_spanish(root: Path, monkeypatch: pytest.MonkeyPatch, domains: tuple[str, ...] = tuple(STUBS)) -> None:
    """Write the stubs of `domains` under `root`/es and put `root` first on the catalogue search path
    (tag_tools.messages caches per search path, so the built-in catalogues are not disturbed)."""
    folder = root / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    for domain in domains:
        (folder / f"{domain}.po").write_text(HEADER + STUBS[domain], encoding="utf-8")
    monkeypatch.setenv(LOCALE_PATH_ENV, str(root))
