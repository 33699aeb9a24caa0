"""HTTP API under /api/v1. Blueprints only parse, call a service function and serialise."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from registry_service.api import admin, bureau, centres, public, stations, status_lists

    for module in (public, centres, stations, bureau, admin, status_lists):
        app.register_blueprint(module.blueprint, url_prefix="/api/v1")
