"""The documents the phone verifies tags against, public and byte for byte as stored: the pinned
bureau root (DER), the trust list (COSE_Sign1 as the bureau signed it), the status lists (as the
list signer signed them), and the reason texts of a language.

Public because they are public by nature: every tag carries a record signed under this root, the
trust list names centres and their certificates, and a status list is an anonymous bit array
(docs/status-list.md). The phone checks each signature itself (core/verifier.js), so these
endpoints need no more trust than a file server, like /api/v1/trust-list for stations. Each answer
has an ETag, so the service worker's revalidation costs a 304 when nothing changed.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry_service.api import parse
from registry_service.api.common import tx
from registry_service.errors import NotFound
from registry_service.handheld.words import reason_texts, resolve
from registry_service.models import StatusListPublication
from registry_service.node import registry
from registry_service.services import status_lists, trust
from tag_tools import pki
from tag_tools.status_list import MAX_LIST_ID

STATUS_LIST_TYPE = "application/statuslist+cwt"  # as api/status_lists.py serves it
TRUST_LIST_TYPE = "application/cose; cose-type=cose-sign1"


def _conditional(blob: bytes, content_type: str, etag: str) -> Response:
    if etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers={"ETag": etag})
    return Response(blob, content_type=content_type, headers={"ETag": etag})


def root_certificate() -> Response:
    parse.query_args(())
    certificate = trust.load_root(registry().config.bureau_root_pem)  # 503 when none is configured
    der = pki.certificate_to_der(certificate)
    return _conditional(der, "application/pkix-cert", f'"{hashlib.sha256(der).hexdigest()}"')


def trust_list() -> Response:
    parse.query_args(())
    row = tx(trust.current_or_404)
    response = _conditional(row.blob, TRUST_LIST_TYPE, f'"{row.sha256}"')
    response.headers["X-Trust-List-Sequence"] = str(row.list_sequence)
    return response


def published_lists(session: Session) -> list[dict[str, Any]]:
    """Every published status list with its newest sequence, by id."""
    rows = session.execute(
        select(StatusListPublication.list_id, func.max(StatusListPublication.sequence))
        .group_by(StatusListPublication.list_id)
        .order_by(StatusListPublication.list_id)
    )
    return [{"id": list_id, "sequence": sequence} for list_id, sequence in rows]


def status_list_index() -> Response:
    """Which lists to fetch: the phone holds every published list (a city's is a few kilobytes)."""
    parse.query_args(())
    return jsonify({"lists": tx(published_lists)})


def status_list(list_id: int) -> Response:
    parse.query_args(())
    if list_id > MAX_LIST_ID:
        raise NotFound(f"no status list {list_id}")
    row = tx(lambda s: status_lists.latest_or_404(s, list_id))
    return _conditional(row.blob, STATUS_LIST_TYPE, f'"{row.list_id}-{row.sequence}"')


def reasons(lang: str) -> Response:
    """Every reason code's words in `lang` (a locale with a handheld catalogue, e.g. zh_CN or en)."""
    parse.query_args(())
    locale = resolve(lang) if len(lang) <= 16 else None
    if locale is None:
        raise NotFound(f"no reason texts in {lang[:16]!r}")
    return jsonify({"locale": locale, "reasons": reason_texts(locale)})
