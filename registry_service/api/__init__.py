"""HTTP API under /api/v1. Blueprints only parse, call a service function and serialise."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from registry_service.api import admin, bureau, centres, heartbeats, policies, public, station_health, stations, status_lists

    for module in (public, centres, stations, heartbeats, bureau, station_health, admin, status_lists, policies):
        app.register_blueprint(module.blueprint, url_prefix="/api/v1")
    from registry_service.api import case_figures  # issue 16: the weekly case figures

    app.register_blueprint(case_figures.blueprint, url_prefix="/api/v1")
    from registry_service.api import grades  # issue 16: station grades and patrols

    app.register_blueprint(grades.blueprint, url_prefix="/api/v1")
    from registry_service.api import notices  # issue 16: owner notices (bureau read)

    app.register_blueprint(notices.blueprint, url_prefix="/api/v1")
    from registry_service.api import cases  # issue 16: cases, grid people, Open311 GeoReport v2

    app.register_blueprint(cases.blueprint, url_prefix="/api/v1")
