"""App factory. `create_app(config)` builds one Registry (registry_service.node: engine, sessions,
token cache, clock) and registers the blueprints; nothing here reads the environment. The top of the
layers: it imports the API and the dashboard, nothing imports it but entry points."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Engine

from registry_service import case_rules, problems, request_guard
from registry_service.api import register_blueprints, status
from registry_service.config import RegistryConfig
from registry_service.dashboard import register_dashboard
from registry_service.handheld import register_handheld
from registry_service.metrics import RegistryMetrics
from registry_service.node import Clock, Registry, registry, utc_now

__all__ = ["Clock", "Registry", "create_app", "registry", "utc_now"]


def create_app(config: RegistryConfig, *, engine: Engine | None = None, clock: Clock = utc_now) -> Flask:
    app = Flask("registry_service", static_folder=None)
    app.response_class = problems.TextSafeResponse  # an echoed lone surrogate cannot fail the answer
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["registry"] = node = Registry(config, engine, clock)
    case_rules.use(case_rules.load(config.case_rules_path))  # a bad file stops the start (CaseRulesError)
    metrics = RegistryMetrics()  # this app's own collector registry (registry_service/metrics.py)
    metrics.watch(node.engine)
    if node.station_engine is not None:  # the stations' uploads' own pool (db.make_station_engine)
        metrics.watch(node.station_engine)
    metrics.install(app)  # first, so requests the guard refuses are timed too
    problems.register(app)
    request_guard.register(app)
    register_blueprints(app)
    register_dashboard(app, secret_key=config.dashboard_secret_key, secure_cookies=config.dashboard_secure_cookies)
    register_handheld(app)  # issue 18: the handheld verifier at /verify/ (docs/handheld.md)
    status.install(app, node, metrics)  # POST /api/v1/status: in the URL map, answered only in front of Flask
    return app
