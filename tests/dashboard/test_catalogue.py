"""The dashboard's catalogues hold exactly the messages its code can ask for.

What the code asks for is read from the code, not listed here: message ids are extracted with
Babel's extractors (the Python one for the modules, Jinja2's for the templates) from calls of the
translation functions (Words.gettext / Words.ngettext in Python, t() / tn() in templates), and the
run-time families (i18n.FAMILIES) add one message per member. Every call must name its message
literally, or the extraction could not see it: a test fails on any other call.
"""

from __future__ import annotations

import ast
from pathlib import Path

from babel.messages.extract import extract_from_dir
from jinja2 import Environment, nodes

from registry_service.dashboard import i18n
from tag_tools.messages import LOCALE_DIR
from tests.catalogues import assert_catalogues_complete, key, messages

DASHBOARD = Path(i18n.__file__).parent
TEMPLATES = DASHBOARD / "templates"
# Translation functions and which argument is the msgid (a plural's msgid_plural is derived: key + ".plural").
PYTHON_KEYWORDS = {"gettext": (1,), "ngettext": (1,)}
TEMPLATE_KEYWORDS = {"t": (1,), "tn": (1,)}
PLURAL_FUNCTIONS = frozenset({"ngettext", "tn"})
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2.ext:babel_extract")]
# Where keys are built from a family and a member (checked against FAMILIES instead).
FAMILY_MACHINERY = DASHBOARD / "i18n.py"


def extracted() -> dict[str, str]:
    """Every literal msgid in the dashboard's code and templates, with the function that asks for it."""
    found: dict[str, str] = {}
    keywords = {**PYTHON_KEYWORDS, **TEMPLATE_KEYWORDS}
    for _, _, msgid, _, _ in extract_from_dir(DASHBOARD, METHODS, keywords=keywords, comment_tags=()):
        assert isinstance(msgid, str)
        found.setdefault(msgid, "")
    # extract_from_dir does not say which keyword matched: tell plural calls apart by a second pass.
    plural = {name: spec for name, spec in keywords.items() if name in PLURAL_FUNCTIONS}
    for _, _, msgid, _, _ in extract_from_dir(DASHBOARD, METHODS, keywords=plural, comment_tags=()):
        assert isinstance(msgid, str)
        found[msgid] = "plural"
    return found


def wanted() -> set[str]:
    families = {f"{family}.{member}" for family, members in i18n.FAMILIES.items() for member in members}
    return set(extracted()) | families


def test_extraction_sees_python_and_templates() -> None:
    found = extracted()
    assert {"app_title", "local_time_note", "vin", "outcome.refused"} <= found.keys()  # templates
    assert {"bad_credentials", "role_refused", "per_day"} <= found.keys()  # web.py, charts.py
    assert found["locked_out"] == found["results"] == "plural" and found["overview"] == ""


def test_catalogues_have_every_message_and_no_unused_one() -> None:
    assert_catalogues_complete(i18n.DOMAIN, wanted())


def test_plural_messages_are_plural_in_every_catalogue() -> None:
    asked = {msgid for msgid, kind in extracted().items() if kind == "plural"}
    for path in sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{i18n.DOMAIN}.po")):
        plural = {key(m): m for m in messages(path) if m.pluralizable}
        assert asked <= plural.keys(), f"{path}: {sorted(asked - plural.keys())} asked for with plural forms"
        assert all(m.id[1] == f"{k}.plural" for k, m in plural.items()), f"{path}: msgid_plural is the key + .plural"
        assert {f"offset.{unit}" for unit in i18n.FAMILIES["offset"]} <= plural.keys()


def test_every_translation_call_names_its_message_literally() -> None:
    dynamic = []
    for path in sorted(DASHBOARD.glob("*.py")):
        if path == FAMILY_MACHINERY:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _name(node.func) in PYTHON_KEYWORDS:
                first = node.args[0] if node.args else None
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    dynamic.append(f"{path.name}:{node.lineno}")
    environment = Environment(autoescape=True)
    for path in sorted(TEMPLATES.rglob("*.html")):
        for call in environment.parse(path.read_text(encoding="utf-8")).find_all(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name in TEMPLATE_KEYWORDS:
                argument = call.args[0] if call.args else None
                if not (isinstance(argument, nodes.Const) and isinstance(argument.value, str)):
                    dynamic.append(f"{path.name}:{call.lineno}")
    assert dynamic == [], "a message picked at run time belongs to a family (i18n.FAMILIES, words.label)"


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None
