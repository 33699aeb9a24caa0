"""Central station policies: what the bureau sets per station or per region, and the signed
documents the list signer makes of them for each station (schemas/station-policy.md).

A station's effective policy is its own, else that of its nearest region (cell, then district, then
city), else none. Publishing compares each station's effective terms with the last document
published for it and asks the signer, in one batch with one new sequence, for those that differ;
a station whose policy was cleared gets a document with no terms, so it goes back to its file
instead of keeping the old terms for ever. The sequence is global and only goes up; the signer
refuses one it already signed, so two registry nodes racing cost one refused request.

Like the status lists, the registry never holds the key: a refused or unreachable signer stores
nothing, is logged and audited (`policy_publish_refused`), and the next write, the background
publisher or `cylinder-registry publish-policies` tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from list_signer.errors import Refusal, RefusedError, SignerUnavailable
from registry_service.errors import NotFound
from registry_service.models import PolicyDocument, Region, Station, StationPolicyRow
from registry_service.principal import Principal
from registry_service.services import audit
from registry_service.services.places import region_by_code, station_by_code
from tag_tools.station_policy import Mode, PolicyTerms, terms_sha256

log = logging.getLogger(__name__)
T = TypeVar("T")
PUBLISHER = "policy-publisher"


class Runner(Protocol):
    """Runs a unit of work in one transaction (Registry.transaction)."""

    def __call__(self, work: Callable[[Session], T]) -> T: ...


class PolicySigner(Protocol):
    """What the registry needs of list_signer.client.SignerClient."""

    def sign_station_policies(self, sequence: int, policies: Sequence[tuple[str, PolicyTerms]]) -> list[bytes]: ...

    def status(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Publication:
    """What one publishing round did: `published` (count documents, one sequence), `unchanged`, or `refused`."""

    result: str
    sequence: int | None = None
    count: int = 0
    stations: tuple[str, ...] = ()
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"result": self.result, "sequence": self.sequence, "count": self.count, "detail": self.detail}


# -- the rows the bureau sets ---------------------------------------------------------------------


def terms_of(row: StationPolicyRow) -> PolicyTerms:
    return PolicyTerms(
        mode=Mode(row.mode) if row.mode is not None else None,
        warning_days=row.warning_days,
        overridable=frozenset(c for c in row.overridable.split(",") if c) if row.overridable is not None else None,
        min_refill_interval=timedelta(seconds=row.min_refill_interval_s) if row.min_refill_interval_s is not None else None,
    )


def terms_json(terms: PolicyTerms) -> dict[str, Any]:
    """The terms as the API shows them (null: not set centrally)."""
    interval = terms.min_refill_interval
    return {
        "mode": terms.mode.value if terms.mode is not None else None,
        "warning_days": terms.warning_days,
        "overridable": sorted(terms.overridable) if terms.overridable is not None else None,
        "min_refill_interval_min": interval.total_seconds() / 60 if interval is not None else None,
    }


def _scope(session: Session, station_code: str | None, region_code: str | None) -> tuple[str, int]:
    if station_code is not None:
        return "station_id", station_by_code(session, station_code).id
    assert region_code is not None
    return "region_id", region_by_code(session, region_code).id


def _row(session: Session, column: str, ident: int) -> StationPolicyRow | None:
    return session.scalar(select(StationPolicyRow).where(getattr(StationPolicyRow, column) == ident))


def set_policy(
    session: Session,
    actor: Principal | str,
    now: datetime,
    terms: PolicyTerms,
    *,
    station_code: str | None = None,
    region_code: str | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Set (replace) the policy of one station or one region; audited as `set_policy`."""
    column, ident = _scope(session, station_code, region_code)
    row = _row(session, column, ident)
    if row is None:
        row = StationPolicyRow(**{column: ident})
        session.add(row)
    row.mode = terms.mode.value if terms.mode is not None else None
    row.warning_days = terms.warning_days
    row.overridable = ",".join(sorted(terms.overridable)) if terms.overridable is not None else None
    interval = terms.min_refill_interval
    row.min_refill_interval_s = int(interval.total_seconds()) if interval is not None else None
    row.note = note
    row.set_by = actor.username if isinstance(actor, Principal) else f"cli:{actor}"
    row.set_at = now
    session.flush()
    scope, code = ("station", station_code) if station_code is not None else ("region", region_code)
    audit.record(session, actor, "set_policy", f"{scope}_policy", code, now, note=note, **terms_json(terms))
    return policy_json(session, row)


def clear_policy(
    session: Session, actor: Principal | str, now: datetime, *, station_code: str | None = None, region_code: str | None = None
) -> None:
    """Remove the policy of one station or region (NotFound when none is set); audited as `clear_policy`."""
    column, ident = _scope(session, station_code, region_code)
    row = _row(session, column, ident)
    if row is None:
        raise NotFound("no policy is set there")
    session.delete(row)
    scope, code = ("station", station_code) if station_code is not None else ("region", region_code)
    audit.record(session, actor, "clear_policy", f"{scope}_policy", code, now)


def policy_json(session: Session, row: StationPolicyRow) -> dict[str, Any]:
    if row.station_id is not None:
        scope, code = "station", session.get(Station, row.station_id).code  # type: ignore[union-attr]
    else:
        scope, code = "region", session.get(Region, row.region_id).code  # type: ignore[union-attr]
    return {
        "scope": scope,
        "code": code,
        **terms_json(terms_of(row)),
        "note": row.note,
        "set_by": row.set_by,
        "set_at": row.set_at.isoformat(),
    }


def list_policies(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(StationPolicyRow).order_by(StationPolicyRow.id))
    return sorted((policy_json(session, r) for r in rows), key=lambda p: (p["scope"], p["code"]))


# -- effective policies and published documents ---------------------------------------------------


def effective_all(session: Session) -> dict[int, tuple[PolicyTerms, str, str]]:
    """Every station's effective policy by station id: (terms, scope, code of where it was set).
    Stations with none are absent. Three queries whatever the number of stations."""
    rows = list(session.scalars(select(StationPolicyRow)))
    by_station = {r.station_id: r for r in rows if r.station_id is not None}
    by_region = {r.region_id: r for r in rows if r.region_id is not None}
    region_codes = {code: ident for code, ident in session.execute(select(Region.code, Region.id))}
    found: dict[int, tuple[PolicyTerms, str, str]] = {}
    stations = session.execute(select(Station.id, Station.code, Region.path).join(Region, Station.region_id == Region.id))
    for station_id, code, path in stations:
        own = by_station.get(station_id)
        if own is not None:
            found[station_id] = (terms_of(own), "station", code)
            continue
        for region_code in reversed(path.split("/")):  # nearest first: cell, district, city
            region_id = region_codes.get(region_code)
            row = by_region.get(region_id) if region_id is not None else None
            if row is not None:
                found[station_id] = (terms_of(row), "region", region_code)
                break
    return found


def latest_document(session: Session, station_id: int) -> PolicyDocument | None:
    return session.scalar(
        select(PolicyDocument).where(PolicyDocument.station_id == station_id).order_by(PolicyDocument.sequence.desc()).limit(1)
    )


def document_for_station(session: Session, station_code: str) -> PolicyDocument:
    """The newest signed document of a station; NotFound when none was ever published."""
    document = latest_document(session, station_by_code(session, station_code).id)
    if document is None:
        raise NotFound(f"no policy has been published for station {station_code}")
    return document


def station_view(session: Session, station_code: str) -> dict[str, Any]:
    """The bureau's view of one station: effective terms, where they come from, what was published."""
    station = station_by_code(session, station_code)
    effective = effective_all(session).get(station.id)
    document = latest_document(session, station.id)
    terms = effective[0] if effective is not None else PolicyTerms()
    return {
        "station": station.code,
        "effective": terms_json(terms) if effective is not None else None,
        "source": {"scope": effective[1], "code": effective[2]} if effective is not None else None,
        "published": (
            {
                "sequence": document.sequence,
                "terms_sha256": document.terms_sha256,
                "published_at": document.published_at.isoformat(),
            }
            if document is not None
            else None
        ),
        "pending": _needs_document(terms, document),
    }


def _needs_document(terms: PolicyTerms, document: PolicyDocument | None) -> bool:
    if document is None:
        return not terms.empty  # a station that never had a policy needs no empty document
    return document.terms_sha256 != terms_sha256(terms)


def pending(session: Session) -> tuple[int, list[tuple[int, str, PolicyTerms]]]:
    """The last sequence published and the stations whose newest document is not their effective policy."""
    effective = effective_all(session)
    latest = (
        select(PolicyDocument.station_id, func.max(PolicyDocument.sequence).label("sequence"))
        .group_by(PolicyDocument.station_id)
        .subquery()
    )
    newest = select(PolicyDocument.station_id, PolicyDocument.terms_sha256).join(
        latest, (PolicyDocument.station_id == latest.c.station_id) & (PolicyDocument.sequence == latest.c.sequence)
    )
    published = {station_id: sha for station_id, sha in session.execute(newest)}
    last = session.scalar(select(func.max(PolicyDocument.sequence))) or 0
    todo = []
    for station_id, code in session.execute(select(Station.id, Station.code).order_by(Station.id)):
        terms = effective[station_id][0] if station_id in effective else PolicyTerms()
        sha = published.get(station_id)
        if (sha is None and not terms.empty) or (sha is not None and sha != terms_sha256(terms)):
            todo.append((station_id, code, terms))
    return last, todo


def publish_pending(run: Runner, signer: PolicySigner, now: datetime) -> Publication:
    """Sign and store a document for every station whose effective policy changed. The signer is
    called outside any transaction."""
    last, todo = run(pending)
    if not todo:
        return Publication("unchanged", last)
    sequence = last + 1
    try:
        sequence, blobs = _sign(signer, sequence, [(code, terms) for _, code, terms in todo])
    except (RefusedError, SignerUnavailable) as error:
        code = error.code.value if isinstance(error, RefusedError) else "unavailable"
        detail = str(error)
        log.error("station policies sequence %d not signed (%s); stations keep their policy", sequence, error)
        run(
            lambda s: audit.record(
                s, PUBLISHER, "policy_publish_refused", "station_policy", sequence, now, refusal=code, detail=detail
            )
        )
        return Publication("refused", sequence, len(todo), detail=f"{code}: {error}")

    def store(session: Session) -> None:
        for (station_id, _, terms), blob in zip(todo, blobs, strict=True):
            session.add(
                PolicyDocument(
                    sequence=sequence, station_id=station_id, blob=blob, terms_sha256=terms_sha256(terms), published_at=now
                )
            )

    run(store)
    stations = tuple(code for _, code, _ in todo)
    log.info("published station policies sequence %d for %d station(s)", sequence, len(todo))
    return Publication("published", sequence, len(todo), stations)


def _sign(signer: PolicySigner, sequence: int, batch: list[tuple[str, PolicyTerms]]) -> tuple[int, list[bytes]]:
    """The sequence used and the documents. When the signer has signed a higher sequence than the
    registry's books hold (a database restored from a backup, a node on another database), stations
    may hold that one too: continue above the signer's, once, or a restored registry would publish
    documents every station refuses as older."""
    try:
        return sequence, signer.sign_station_policies(sequence, batch)
    except RefusedError as error:
        if error.code is not Refusal.ROLLBACK:
            raise
        held = signer.status().get("policy_sequence")
        if type(held) is not int or held < sequence:
            raise
        log.warning("the signer is at policy sequence %d, the registry's books at %d: continuing above it", held, sequence - 1)
        return held + 1, signer.sign_station_policies(held + 1, batch)
