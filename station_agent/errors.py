"""The one base error of the station agent and its narrow subclasses.

Each refines a builtin where one fits (ValueError for bad input, OSError for I/O), so callers that
only know the builtin still catch it; at a boundary the cause is kept with `raise ... from`.
"""


class StationAgentError(Exception):
    """Base of every error raised on purpose by station_agent."""


class ConfigError(StationAgentError, ValueError):
    """The station configuration file is missing, unreadable or holds a bad value (names the key)."""


class InterlockError(StationAgentError, OSError):
    """The pump interlock could not be driven; the pump must be treated as disabled."""


class InterlockPathError(InterlockError, ValueError):
    """An interlock path string is malformed or names an unknown backend."""


class OutboxError(StationAgentError, OSError):
    """The local event store cannot take or give events: the pump stays disabled."""


class OutboxFullError(OutboxError):
    """The disk holding the outbox is full."""


class OutboxCorruptError(OutboxError):
    """The outbox database fails its integrity check or is not a database at all."""


class RegistryUnavailable(StationAgentError, OSError):
    """No answer from the registry itself within the deadline: a network fault, a server error, or
    an answer that is not the registry's (a proxy's HTML page, a body that is not JSON). Retried;
    `retry_after_s` carries the registry's Retry-After when it sent one."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RegistryRejected(StationAgentError, ValueError):
    """The registry itself refused a request as invalid (a well-formed problem+json 4xx): retrying
    the same request will not help."""


class EventFieldError(StationAgentError, ValueError):
    """A typed value (attendant, supervisor, override reason, session id) breaks the shared field
    rules of tag_tools.fields, so the registry would refuse the event: it is refused here, before
    the event exists (and before anything it would record is acted on). `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class OverrideRefused(StationAgentError, PermissionError):
    """An override was asked for without valid supervisor credentials or for a non-overridable refusal.

    `code` says which rule refused (station_agent.overrides names them) and `values` what the words
    need (a count, reason codes), so the booth page says it in the attendant's language."""

    def __init__(self, message: str, *, code: str = "refused", **values: object) -> None:
        super().__init__(message)
        self.code = code
        self.values = values


class BoothInputError(OverrideRefused, ValueError):
    """A value typed at the booth (attendant, supervisor id, reason) breaks the shared field rules
    (tag_tools.fields): refused before anything reaches the pump; the page answers 400."""


class OverrideLocked(OverrideRefused):
    """Too many wrong supervisor passwords: overrides wait (`retry_after_s`), even with the right one."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message, code="locked")
        self.retry_after_s = retry_after_s


class TagSourceError(StationAgentError, OSError):
    """The tag source (reader) failed in a way the agent cannot recover from by itself."""


class PumpSessionEnded(InterlockError):
    """A fill whose session already ended (deadline, fault, disable) cannot be switched on again."""
