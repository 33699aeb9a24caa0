"""Who is calling, in a Flask request: the bearer token of the request resolved to a Principal,
roles checked per endpoint; scope (the station or centre a credential belongs to) is checked by the
services, which take the Principal as a plain value (registry_service.principal, re-exported here).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import g, request

from registry_service.errors import Forbidden, NotAuthenticated
from registry_service.models import Role
from registry_service.node import registry
from registry_service.principal import Principal, TokenCache, principal_for_user, resolve_token

__all__ = [
    "Principal",
    "TokenCache",
    "bearer_token",
    "bearer_token_in",
    "current",
    "principal_for_user",
    "resolve_token",
    "roles",
]

P = ParamSpec("P")
R = TypeVar("R")


def bearer_token() -> str:
    return bearer_token_in(request.headers.get("Authorization", ""))


def bearer_token_in(header: str) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthenticated("send an API token as 'Authorization: Bearer <token>'")
    return value.strip()


def current() -> Principal:
    principal: Principal | None = g.get("principal")
    if principal is None:
        raise NotAuthenticated("authentication required")
    return principal


def roles(*allowed: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Endpoint decorator: authenticate, then allow only these roles."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            principal = registry().authenticate(bearer_token())
            if principal.role not in allowed:
                raise Forbidden(f"role {principal.role.value} may not call this endpoint")
            g.principal = principal
            return view(*args, **kwargs)

        wrapper.allowed_roles = frozenset(allowed)  # type: ignore[attr-defined]
        return wrapper

    return decorate
