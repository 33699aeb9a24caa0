"""The central registry: inspections, stations, scans, revocations and the bureau's queries.

Layering: models (tables) <- services (business rules taking a Session) <- api (blueprints that
parse, call a service, serialise) and cli. tag_tools is imported for record verification only.
"""

__version__ = "0.1.0"
