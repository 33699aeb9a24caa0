"""The registry's one base error and its narrow subclasses.

Each maps to an HTTP status and a problem type in problems.py; services raise them, blueprints
never build error responses by hand.
"""

import random


class RegistryError(Exception):
    """Base of every error the registry raises on purpose."""

    status = 400
    type_slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class InvalidInput(RegistryError, ValueError):
    status = 422
    type_slug = "invalid-input"
    title = "Invalid input"


class NotAuthenticated(RegistryError):
    status = 401
    type_slug = "not-authenticated"
    title = "Authentication required"


class Forbidden(RegistryError):
    status = 403
    type_slug = "forbidden"
    title = "Not allowed for this credential"


class NotFound(RegistryError, LookupError):
    status = 404
    type_slug = "not-found"
    title = "Not found"


class Conflict(RegistryError):
    status = 409
    type_slug = "conflict"
    title = "Conflict with the current state"


class RecordRejected(RegistryError, ValueError):
    """A signed record or trust list that did not verify."""

    status = 422
    type_slug = "record-rejected"
    title = "Signed data rejected"


class ServiceUnavailable(RegistryError):
    """The database is unreachable; the client should retry (after `retry_after_s`, sent as Retry-After)."""

    status = 503
    type_slug = "unavailable"
    title = "Temporarily unavailable"
    retry_after_s = 2


class DatabaseBusy(ServiceUnavailable):
    """Another writer holds the database's lock longer than a request may wait.

    Retry-After is 1 or 2 seconds at random, so stations turned away together do not all come back
    in the same second.
    """

    type_slug = "busy"
    title = "Busy, retry shortly"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.retry_after_s = random.randint(1, 2)


class WriteUnconfirmed(ServiceUnavailable):
    """A commit that PostgreSQL made on the leader but no synchronous standby confirmed in time (its
    wait was cancelled: RegistryConfig.commit_wait_s, see sync_commit.py): a failover now could
    lose it, so it is not acknowledged, and the client sends it again (station uploads are idempotent)."""

    type_slug = "unconfirmed"
    title = "Not yet replicated, retry shortly"


class ConfigError(RegistryError):
    """Bad configuration given to the command line or the app factory."""
