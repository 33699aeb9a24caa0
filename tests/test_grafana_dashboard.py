"""docs/grafana/cylinder-guard.json: a Grafana dashboard whose every PromQL expression names only
metrics the registry and the station agent export (read from their own collector registries), and
that shows every one of them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry

from registry_service.metrics import RegistryMetrics
from station_agent.errors import OutboxError
from station_agent.metrics import AgentMetrics

DASHBOARD = Path(__file__).parents[1] / "docs" / "grafana" / "cylinder-guard.json"
DATASOURCE = "${DS_PROMETHEUS}"
# What, besides metric names, is a bare identifier in the dashboard's PromQL.
KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"})
SERIES_OF = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported(registry: CollectorRegistry) -> set[str]:
    """The series names a scrape can hold, from the metric families' types (a labelled histogram
    with no observations has no samples yet, so samples alone would miss it)."""
    return {family.name + suffix for family in registry.collect() for suffix in SERIES_OF[family.type]}


class _NoOutbox:
    def counts(self) -> Any:
        raise OutboxError("not read in this test")


def defined_series() -> set[str]:
    agent = AgentMetrics()
    pump = SimpleNamespace(enabled=False, healthy=True)
    agent.watch(SimpleNamespace(outbox=_NoOutbox(), sync=None, pump=pump, reader_problem=None, clock=lambda: datetime.now(UTC)))
    return exported(RegistryMetrics().registry) | exported(agent.registry)


def metric_names(expr: str) -> set[str]:
    """The metric names in one PromQL expression: what is left once strings, label matchers,
    ranges and groupings are removed, minus function names (followed by a parenthesis) and keywords."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"(?<![A-Za-z0-9_:])\d[\d.]*(?:[eE][+-]?\d+)?", " ", text)  # numbers, 1e3 included
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()
        if not following.startswith("(") and match.group() not in KEYWORDS:
            names.add(match.group())
    return names


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # panels inside a collapsed row
    return found


def test_metric_names_are_parsed_out_of_promql() -> None:
    expr = 'histogram_quantile(0.95, sum by (le, route) (rate(a_bucket{route="/x{y}", instance=~"$i"}[$__rate_interval])))'
    assert metric_names(expr) == {"a_bucket"}
    assert metric_names("b_total / on (instance) c + 1e3") == {"b_total", "c"}


def test_every_expression_names_only_exported_metrics_and_every_metric_is_shown() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert [i["name"] for i in dashboard["__inputs"] if i["pluginId"] == "prometheus"] == ["DS_PROMETHEUS"]
    defined = defined_series()
    used: set[str] = set()
    expressions = 0
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names and names <= defined, (panel["title"], names - defined)
            used |= names
            expressions += 1
    for variable in dashboard["templating"]["list"]:
        names = metric_names(variable["definition"].removeprefix("label_values(").removesuffix(", instance)"))
        assert names and names <= defined, variable["name"]
    assert expressions >= 12
    # Each metric shown at least once (a histogram through its buckets).
    families = {name.removesuffix("_total") for name in defined if not name.endswith(("_sum", "_count"))}
    assert families == {name.removesuffix("_total") for name in used}, families ^ used
