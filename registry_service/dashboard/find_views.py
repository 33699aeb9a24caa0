"""Pages for finding things: the search box (plate, cylinder ID or tag UID), the region and station
pickers' options (bounded JSON), and the list of suspected clones with its CSV export."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, jsonify, redirect, request, url_for

from registry_service.api.common import csv_response
from registry_service.dashboard import forms, records
from registry_service.dashboard.filters import MAX_ECHO, FieldProblem, Form, today_local
from registry_service.dashboard.forms import keeps_form
from registry_service.dashboard.languages import words
from registry_service.dashboard.web import allow, blueprint, now, offset_hours, page, read, user
from registry_service.models import Role
from registry_service.services import search
from registry_service.services.queries import MAX_RANGE

CLONE_COLUMNS = [
    "kind",
    "key_type",
    "key",
    "at",
    "station",
    "previous_at",
    "previous_station",
    "event_id",
    "detail",
    "local_time",
    "kind_text",
    "detail_text",
    "station_name",
    "previous_station_name",
]


@blueprint.get("/search")
@allow(Role.BUREAU, Role.CENTRE)
def search_page() -> Any:
    """One match: its page; several: a list; none: "nothing found" (all with the box kept)."""
    typed = request.args.get("q", "")
    if not typed.strip():
        return page("search.html", found=None, form=Form({}))
    centre_id = user().centre_id if user().role is Role.CENTRE else None
    try:
        found = read(lambda s: search.find(s, typed, now(), centre_id))
    except search.SearchRefused as refused:
        problem = FieldProblem("q", "not_searchable")
        return page("search.html", refused.status, found=None, form=Form({"q": typed[:MAX_ECHO]}, {"q": problem}))
    only = found.only
    if only is not None:
        return redirect(match_url(only))
    return page("search.html", found=found, form=Form({"q": typed}), match_url=match_url)


def match_url(match: search.VehicleMatch | search.CylinderMatch | search.UnknownTag) -> str:
    if isinstance(match, search.VehicleMatch):
        return url_for("dashboard.vehicle", plate=match.plate)
    if isinstance(match, search.CylinderMatch):
        return url_for("dashboard.cylinder", cylinder_id=match.cylinder_id)
    # The tag's refuel attempts, over the days it was seen (a query covers at most MAX_RANGE).
    hours = offset_hours()
    until = today_local(match.last_at, hours)
    since = max(today_local(match.first_at, hours), until - timedelta(days=MAX_RANGE.days - 1))
    return url_for("dashboard.attempts", tag_uid=match.tag_uid, since=since.isoformat(), until=until.isoformat())


@blueprint.get("/regions.json")
@allow(Role.BUREAU)
def region_options() -> Response:
    """The region picker's options for what was typed (at most search.LIMIT)."""
    typed = request.args.get("q", "")
    found, more = read(lambda s: search.regions(s, typed))
    return _options(found, more)


@blueprint.get("/stations.json")
@allow(Role.BUREAU)
def station_options() -> Response:
    """The station picker's options for what was typed (at most search.LIMIT)."""
    typed = request.args.get("q", "")
    found, more = read(lambda s: search.stations(s, typed))
    return _options(found, more)


def _options(found: list[search.Place], more: bool) -> Response:
    w = words()
    status = w.ngettext("picker_matches", len(found), count=len(found)) if found else w.gettext("picker_none")
    if more:
        status = w.gettext("picker_more", count=len(found))
    items = [{"code": p.code, "name": p.name, "within": p.within} for p in found]
    return jsonify({"items": items, "more": more, "status": status})


@blueprint.get("/clones")
@allow(Role.BUREAU)
@keeps_form("clones.html")
def clone_list() -> Any:
    return forms.filtered_page("clones.html", lambda s, query: records.clone_page(s, query, now(), offset_hours()))


@blueprint.get("/clones.csv")
@allow(Role.BUREAU)
def clones_csv() -> Response:
    query = forms.filtered().query
    found, names = read(lambda s: records.clones_for_export(s, query, now(), offset_hours()))
    w, hours = words(), offset_hours()
    rows = [
        suspect.as_json()
        | {
            "local_time": w.timestamp(suspect.at, hours),
            "kind_text": w.label("clone", suspect.kind),
            "detail_text": w.clone_detail(suspect),
            "station_name": names.get(suspect.station, ""),
            "previous_station_name": names.get(suspect.previous_station or "", ""),
        }
        for suspect in found
    ]
    scope = query.events.station or query.events.region or "all"
    name = f"suspected-clones-{scope}-{query.since.isoformat()}-{query.until.isoformat()}.csv"
    return csv_response(rows, CLONE_COLUMNS, name)
