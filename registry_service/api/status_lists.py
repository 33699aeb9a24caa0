"""Status lists: index blocks for centres, and the signed lists for stations.

The list is served exactly as the signer signed it; stations verify it themselves
(tag_tools.status_list.parse_status_list against the trust list's status signers), so this
endpoint needs no more trust than a file server. Its ETag names the list and sequence, so a
station's conditional GET is answered 304 without the body (about 1 MB for the national list).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from registry_service.api import parse
from registry_service.api.common import now, tx
from registry_service.auth import current, roles
from registry_service.errors import NotFound
from registry_service.models import Role
from registry_service.services import status_indexes, status_lists
from tag_tools.status_list import MAX_LIST_ID

blueprint = Blueprint("status_lists", __name__)
CONTENT_TYPE = "application/statuslist+cwt"


@blueprint.post("/centres/<code>/status-indexes")
@roles(Role.CENTRE)
def allocate_status_indexes(code: str) -> Response:
    body = parse.json_body()
    parse.only_fields(body, {"count"})
    count = parse.integer(body, "count", low=1, high=status_indexes.MAX_BLOCK) or 0  # required: never None
    block = tx(lambda s: status_indexes.block_json(status_indexes.allocate(s, current(), now(), code, count)))
    return jsonify(block)


@blueprint.get("/status-lists/<int:list_id>")
@roles(Role.STATION, Role.BUREAU, Role.CENTRE)
def get_status_list(list_id: int) -> Response:
    parse.query_args(())
    if list_id > MAX_LIST_ID:
        raise NotFound(f"no status list {list_id}")
    row = tx(lambda s: status_lists.latest_or_404(s, list_id))
    etag = f'"{row.list_id}-{row.sequence}"'
    headers = {"ETag": etag, "Cache-Control": f"max-age={row.ttl_s}"}
    if etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers=headers)
    return Response(row.blob, content_type=CONTENT_TYPE, headers=headers)
