"""`cylinder-registry`: migrate, serve, manage users and tokens, import CSV, seed a demo city,
maintain scan-event partitions. Expected errors print one line and exit non-zero."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from registry_service.config import RegistryConfig, from_env
from registry_service.errors import RegistryError
from registry_service.models.accounts import Role
from registry_service.models.shapes import Datum
from tag_tools import private_files

log = logging.getLogger(__name__)

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 3
# Commands other than `serve` may wait for a busy database: an import or a migration run beside a
# serving registry should queue behind its writes, not fail after a request's short lock wait.
COMMAND_LOCK_WAIT_S = 30.0
# Request line and headers; waitress's default is 256 KiB. A bearer token and a dashboard cookie fit in 1 KiB.
MAX_HEADER_BYTES = 64 * 1024


def _config(args: argparse.Namespace) -> RegistryConfig:
    return from_env(
        database_url=args.database_url,
        bureau_root_pem=_root(args.bureau_root) if getattr(args, "bureau_root", None) else None,
        signer_socket=getattr(args, "signer_socket", None),
    )


def _root(path: str) -> bytes:
    from registry_service.config import read_pem

    return read_pem(path)


def _engine(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from registry_service.db import make_engine

    return make_engine(replace(_config(args), lock_wait_s=COMMAND_LOCK_WAIT_S))


def cmd_upgrade(args: argparse.Namespace) -> int:
    from registry_service import migrate

    engine = _engine(args)
    migrate.upgrade(engine, args.revision)
    print(f"database at revision {migrate.current_revision(engine)}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from registry_service import serving
    from registry_service.app import create_app
    from registry_service.metrics import EXTENSION

    config = _config(args)
    app = create_app(config)
    publisher = None
    if config.signer_socket:
        from registry_service.status_publisher import StatusPublisher

        publisher = StatusPublisher(app.extensions["registry"]).start()
        print(f"publishing status lists through {config.signer_socket} every {config.status_list_interval_s:.0f} s", flush=True)
    from registry_service.health_sweeper import SilentSweeper

    sweeper = SilentSweeper(app.extensions["registry"]).start()  # silent stations (docs/operations.md)
    from registry_service.notify import settings as notice_settings

    notice_config = notice_settings.from_env()
    notice_worker = None
    if notice_config.senders():  # owner notices (docs/grid.md): only when a sender is configured
        from registry_service.notify.worker import NoticeWorker

        notice_worker = NoticeWorker(app.extensions["registry"], notice_config).start()
        print(f"sending owner notices by {', '.join(sorted(notice_config.senders()))}", flush=True)
    from registry_service.case_sweeper import CaseSweeper

    case_sweeper = CaseSweeper(app.extensions["registry"]).start()  # case deadlines (docs/grid.md)
    from registry_service.region_rollup_sweeper import RegionRollupSweeper

    region_rollup = RegionRollupSweeper(app.extensions["registry"]).start()  # the overview's region totals
    from registry_service.clone_watch import CloneWatch

    # Suspected clones (services/clones.py), its lag in the metrics.
    clone_watch = CloneWatch(app.extensions["registry"], app.extensions[EXTENSION]).start()
    from registry_service.token_watch import TokenWatch

    # Revocations from every node evict this node's cached tokens as they commit (PostgreSQL).
    token_watch = TokenWatch.for_registry(app.extensions["registry"], app.extensions[EXTENSION])
    if token_watch is not None:
        token_watch.start()
    if args.metrics_listen:
        # Never on the API's port: stations reach that one across the internet (registry_service/metrics.py).
        app.extensions[EXTENSION].serve(args.metrics_listen)
        print(f"metrics on http://{args.metrics_listen}/metrics", flush=True)
    if args.access_log:
        from registry_service import access_log

        access_log.install(app, args.access_log)  # Combined Log Format, no query strings (access_log.py)
    logging.basicConfig()  # as waitress.serve would: the app's warnings and errors go to stderr
    server = serving.create_server(app, waitress_options(config, args))
    app.extensions[EXTENSION].watch_queue(server.task_dispatcher)
    print(f"serving on http://{args.host}:{args.port} with {args.threads} threads", flush=True)
    try:
        server.run()
    finally:
        sweeper.stop()
        if notice_worker is not None:
            notice_worker.stop()
        case_sweeper.stop()
        region_rollup.stop()
        clone_watch.stop()
        if token_watch is not None:
            token_watch.stop()
        if publisher is not None:
            publisher.stop()
    return EXIT_OK


def waitress_options(config: RegistryConfig, args: argparse.Namespace) -> dict[str, object]:
    """How `serve` bounds what one client can hold: the app's own body limit enforced by waitress
    before the app sees a byte (also for chunked bodies), small headers, idle connections closed
    after `--channel-timeout`, at most `--connection-limit` connections. A client that dribbles
    bytes can still hold a connection; the reverse proxy in front (docs/registry.md) ends those."""
    timeout = args.channel_timeout
    options: dict[str, object] = {
        "host": args.host,
        "port": args.port,
        "threads": args.threads,
        "connection_limit": args.connection_limit,
        "channel_timeout": timeout,
        # Idle channels are looked for every cleanup_interval: no longer than the timeout itself.
        "cleanup_interval": max(1, min(30, round(timeout))),
        # waitress refuses a body of max_request_body_size bytes or more, Flask one over MAX_CONTENT_LENGTH.
        "max_request_body_size": config.max_body_bytes + 1,
        "max_request_header_size": MAX_HEADER_BYTES,
        "asyncore_use_poll": True,  # select() cannot watch descriptors above 1023
        "ident": "cylinder-registry",
    }
    if args.trusted_proxy:
        options.update(
            trusted_proxy=args.trusted_proxy,
            trusted_proxy_count=1,
            trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto"},
        )
    return options


def cmd_publish_status_list(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from list_signer.client import SignerClient
    from registry_service.db import make_session_factory, run_in_transaction
    from registry_service.services import status_lists

    sessions = make_session_factory(_engine(args))
    policy = status_lists.Policy(timedelta(hours=args.validity_h), timedelta(seconds=args.ttl_s))
    outcome = status_lists.publish(
        lambda work: run_in_transaction(sessions, work),
        SignerClient(args.signer_socket),
        args.list_id,
        datetime.now(UTC),
        policy,
        force=True,
    )
    print(
        json.dumps(
            {
                "list_id": outcome.list_id,
                "result": outcome.result,
                "sequence": outcome.sequence,
                "count": outcome.count,
                "detail": outcome.detail,
            }
        )
    )
    return EXIT_OK if outcome.result == "published" else EXIT_ERROR


def cmd_publish_policies(args: argparse.Namespace) -> int:
    """Sign and store the central policy of every station whose effective policy changed."""
    from list_signer.client import SignerClient
    from registry_service.db import make_session_factory, run_in_transaction
    from registry_service.services import policies

    sessions = make_session_factory(_engine(args))
    outcome = policies.publish_pending(
        lambda work: run_in_transaction(sessions, work), SignerClient(args.signer_socket), datetime.now(UTC)
    )
    print(json.dumps(outcome.to_json()))
    return EXIT_ERROR if outcome.result == "refused" else EXIT_OK


def cmd_create_user(args: argparse.Namespace) -> int:
    from registry_service.db import make_session_factory, run_in_transaction
    from registry_service.services import accounts

    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif args.password_prompt:
        password = getpass.getpass("password: ")
    sessions = make_session_factory(_engine(args))
    user = run_in_transaction(
        sessions,
        lambda s: accounts.create_user(
            s,
            args.operator,
            datetime.now(UTC),
            username=args.username,
            role=Role(args.role),
            password=password,
            station_code=args.station,
            centre_code=args.centre,
        ),
    )
    print(json.dumps({"id": user.id, "username": user.username, "role": user.role.value}))
    return EXIT_OK


def cmd_issue_token(args: argparse.Namespace) -> int:
    from registry_service.db import make_session_factory, run_in_transaction
    from registry_service.services import accounts

    sessions = make_session_factory(_engine(args))
    issued = run_in_transaction(
        sessions,
        lambda s: accounts.issue_token(
            s, args.operator, datetime.now(UTC), username=args.username, label=args.label, valid_days=args.days
        ),
    )
    print(
        json.dumps(
            {
                "token": issued.token,
                "token_id": issued.token_id,
                "expires_at": issued.expires_at.isoformat() if issued.expires_at else None,
            }
        )
    )
    return EXIT_OK


def cmd_set_password(args: argparse.Namespace) -> int:
    """Set a user's password, asked twice at a prompt or read from stdin's first line."""
    from registry_service.db import make_session_factory, run_in_transaction
    from registry_service.services import accounts

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != password:
            print("cylinder-registry: the passwords differ", file=sys.stderr)
            return EXIT_ERROR
    sessions = make_session_factory(_engine(args))
    run_in_transaction(
        sessions, lambda s: accounts.set_password(s, args.operator, datetime.now(UTC), username=args.username, password=password)
    )
    print(json.dumps({"username": args.username, "password_set": True}))
    return EXIT_OK


def cmd_revoke_token(args: argparse.Namespace) -> int:
    from registry_service.db import make_session_factory, run_in_transaction
    from registry_service.services import accounts

    sessions = make_session_factory(_engine(args))
    run_in_transaction(sessions, lambda s: accounts.revoke_token(s, args.operator, datetime.now(UTC), args.token_id))
    print(json.dumps({"revoked": args.token_id}))
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from registry_service.csv_import import import_csv
    from registry_service.db import make_session_factory
    from tag_tools.clerk_csv import say

    source = Path(args.file)
    sessions = make_session_factory(_engine(args))
    report = import_csv(sessions, args.kind, source, datetime.now(UTC), args.operator, not args.quiet, args.lang)
    summary = report.summary()
    # Refused rows go to a file the clerk corrects and imports again, not to the terminal; an
    # asked-for --errors file is written even when empty, so no earlier run's rows are left in it.
    rejects = Path(args.errors) if args.errors else source.with_name(f"{source.stem}-rejects.csv")
    problem = None
    if report.rejected or args.errors:
        try:
            rejects.write_bytes(report.rejects_csv())
            summary["rejects_file"] = str(rejects)
        except OSError as exc:
            problem = f"cannot write the rejected rows to {rejects}: {exc.strerror}"
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(say(args.lang, "import.summary", file=source.name, **summary))
        if report.rejected and problem is None:
            print(say(args.lang, "import.rejects", file=rejects))
    if problem is not None:
        print(f"cylinder-registry: {problem}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_PARTIAL if report.rejected else EXIT_OK


def cmd_import_regions(args: argparse.Namespace) -> int:
    from registry_service.db import make_session_factory, run_in_transaction
    from registry_service.services import region_shapes

    source = Path(args.file)
    try:
        data = source.read_bytes()
    except OSError as exc:
        print(f"cylinder-registry: cannot read {source}: {exc.strerror}", file=sys.stderr)
        return EXIT_ERROR
    read = region_shapes.read_features(data, args.code_property)
    sessions = make_session_factory(_engine(args))
    report = run_in_transaction(
        sessions,
        lambda s: region_shapes.import_shapes(s, read, Datum(args.datum), datetime.now(UTC), args.operator, source.name),
    )
    print(json.dumps({"file": source.name, "datum": args.datum, **report.summary()}, ensure_ascii=False))
    return EXIT_PARTIAL if report.rejected else EXIT_OK


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from registry_service import migrate
    from registry_service.seed import DemoShape, seed_demo
    from registry_service.services.rollups import Reckoning

    engine = _engine(args)
    migrate.upgrade(engine)
    today = date.fromisoformat(args.today) if args.today else datetime.now(UTC).date()
    shape = DemoShape(vehicles=args.vehicles, stations_per_district=args.stations_per_district, event_days=args.event_days)
    summary = seed_demo(engine, args.seed, today, shape, progress=not args.quiet, reckoning=Reckoning.of(_config(args)))
    print(json.dumps(summary.to_json()))
    return EXIT_OK


def cmd_rebuild_rollups(args: argparse.Namespace) -> int:
    from registry_service.db import make_session_factory, run_in_transaction
    from registry_service.services import events
    from registry_service.services.rollups import Reckoning

    reckoning = Reckoning.of(_config(args))
    derived = run_in_transaction(make_session_factory(_engine(args)), lambda s: events.rebuild_rollups(s, reckoning))
    print(json.dumps(derived))
    return EXIT_OK


def cmd_watch_clones(args: argparse.Namespace) -> int:
    from registry_service.clone_watch import judge_queued
    from registry_service.db import make_session_factory, run_in_transaction
    from registry_service.services.rollups import Reckoning

    sessions = make_session_factory(_engine(args))
    judged = judge_queued(lambda work: run_in_transaction(sessions, work), Reckoning.of(_config(args)), lambda: datetime.now(UTC))
    print(json.dumps({"uploads_judged": judged}))
    return EXIT_OK


def cmd_roll_region_totals(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from registry_service.db import make_session_factory, run_in_transaction
    from registry_service.errors import ConfigError
    from registry_service.services import region_rollups

    config = _config(args)
    try:
        now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    except ValueError as exc:
        raise ConfigError(f"--now must be an ISO 8601 time, not {args.now!r}") from exc
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    lag = timedelta(seconds=config.region_rollup_lag_s)
    offset = config.report_utc_offset_hours
    rolled = run_in_transaction(make_session_factory(_engine(args)), lambda s: region_rollups.roll(s, now, offset, lag))
    print(json.dumps(rolled.as_json()))
    return EXIT_OK


def cmd_grade_stations(args: argparse.Namespace) -> int:
    from registry_service import grading_rules
    from registry_service.db import make_session_factory, run_in_transaction
    from registry_service.errors import ConfigError
    from registry_service.services import grades

    config = _config(args)
    rules = grading_rules.load(config.grading_rules_path)
    try:
        now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    except ValueError as exc:
        raise ConfigError(f"--now must be an ISO 8601 time, not {args.now!r}") from exc
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    offset = config.report_utc_offset_hours
    graded = run_in_transaction(
        make_session_factory(_engine(args)),
        lambda s: grades.compute_grades(s, now, rules, utc_offset_hours=offset, station_code=args.station),
    )
    print(json.dumps(grades.summary(graded), ensure_ascii=False))
    return EXIT_OK


def cmd_partitions(args: argparse.Namespace) -> int:
    from registry_service import partitions

    engine = _engine(args)
    if engine.dialect.name != "postgresql":
        print(json.dumps({"created": [], "dropped": [], "note": "partitions exist only on PostgreSQL"}))
        return EXIT_OK
    today = datetime.now(UTC).date()
    with engine.begin() as connection:
        created = partitions.ensure_daily_partitions(connection, today, days_ahead=args.days_ahead)
        dropped = []
        if args.retain_days:
            from datetime import timedelta

            dropped = partitions.drop_partitions_before(connection, today - timedelta(days=args.retain_days))
    print(json.dumps({"created": created, "dropped": dropped}))
    return EXIT_OK


def cmd_send_notices(args: argparse.Namespace) -> int:
    """One round of owner notices, for cron: plan due-soon/overdue notices, purge expired contacts, send."""
    from registry_service.db import make_session_factory, run_in_transaction
    from registry_service.notify import settings as notice_settings
    from registry_service.notify.delivery import deliver_due
    from registry_service.services import notices

    config, settings = _config(args), notice_settings.from_env()
    sessions = make_session_factory(_engine(args))
    now = datetime.now(UTC)
    today = now.astimezone(config.zone()).date()
    planned = run_in_transaction(sessions, lambda s: notices.plan_due_notices(s, today, config.due_soon_days, now))
    purged = run_in_transaction(sessions, lambda s: notices.purge_contacts(s, today, now))
    senders = settings.senders()
    delivered = deliver_due(sessions, senders, now, language=settings.language)
    print(
        json.dumps(
            {"planned": planned.to_json(), "purged": purged, "channels": sorted(senders), "delivered": delivered.to_json()}
        )
    )
    return EXIT_OK


def cmd_purge_contacts(args: argparse.Namespace) -> int:
    """Delete owner contacts past their retain_until day (personal data is kept no longer)."""
    from registry_service.db import make_session_factory, run_in_transaction
    from registry_service.services import notices

    config = _config(args)
    now = datetime.now(UTC)
    today = now.astimezone(config.zone()).date()
    purged = run_in_transaction(
        make_session_factory(_engine(args)), lambda s: notices.purge_contacts(s, today, now, args.operator)
    )
    print(json.dumps({"purged": purged}))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cylinder-registry", description="The central cylinder registry.")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: REGISTRY_DATABASE_URL, else sqlite:///registry.sqlite3)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("upgrade", help="apply database migrations")
    p.add_argument("revision", nargs="?", default="head")
    p.set_defaults(handler=cmd_upgrade)

    p = sub.add_parser("serve", help="serve the API with waitress")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--connection-limit", type=int, default=200, help="connections held at once (default 200)")
    p.add_argument("--channel-timeout", type=int, default=30, help="seconds an idle connection is kept (default 30)")
    p.add_argument("--trusted-proxy", help="address of the reverse proxy whose X-Forwarded-For/-Proto to trust")
    p.add_argument("--bureau-root", help="PEM of the bureau root that signs trust lists (or REGISTRY_BUREAU_ROOT)")
    p.add_argument("--signer-socket", help="publish status lists through this list signer (or REGISTRY_SIGNER_SOCKET)")
    p.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        help="serve Prometheus /metrics on this address of its own, e.g. 127.0.0.1:9464 (default: not served)",
    )
    p.add_argument(
        "--access-log",
        metavar="FILE",
        help="write an access log in the Combined Log Format to FILE, or - for stderr (default: none)",
    )
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("publish-status-list", help="sign and store the next status list now (through cylinder-signer)")
    p.add_argument("--signer-socket", required=True, help="the list signer's Unix socket")
    p.add_argument("--list-id", type=int, default=0)
    p.add_argument("--validity-h", type=float, default=48.0, help="hours stations may use the list (signer: at most 15 days)")
    p.add_argument("--ttl-s", type=int, default=300, help="seconds a station keeps the list before asking again")
    p.set_defaults(handler=cmd_publish_status_list)

    p = sub.add_parser("publish-policies", help="sign and store changed central station policies now (through cylinder-signer)")
    p.add_argument("--signer-socket", required=True, help="the list signer's Unix socket")
    p.set_defaults(handler=cmd_publish_policies)

    p = sub.add_parser("create-user", help="create a user (admin, bureau, centre, station, grid)")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=[role.value for role in Role])
    p.add_argument("--station", help="station code (role station)")
    p.add_argument("--centre", help="inspection centre code (role centre)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--password-stdin", action="store_true", help="read a password from stdin")
    group.add_argument("--password-prompt", action="store_true", help="ask for a password")
    p.set_defaults(handler=cmd_create_user)

    p = sub.add_parser("issue-token", help="issue an API token for a user (printed once)")
    p.add_argument("username")
    p.add_argument("--label", default="")
    p.add_argument("--days", type=int, default=90)
    p.set_defaults(handler=cmd_issue_token)

    p = sub.add_parser("set-password", help="set a user's password (a grid user imported without one, a reset)")
    p.add_argument("username")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin instead of a prompt")
    p.set_defaults(handler=cmd_set_password)

    p = sub.add_parser("revoke-token", help="revoke an API token by id")
    p.add_argument("token_id", type=int)
    p.set_defaults(handler=cmd_revoke_token)

    p = sub.add_parser("import", help="import vehicles, cylinders or stations from CSV (UTF-8, or GBK as Chinese Excel saves it)")
    p.add_argument("kind", choices=["vehicles", "cylinders", "stations", "owner-contacts", "grid-people"])
    p.add_argument("file")
    p.add_argument(
        "--errors",
        metavar="FILE",
        help="where the rejected rows go, as typed with an error column (default: FILE's name with -rejects, beside it)",
    )
    p.add_argument("--lang", choices=["zh", "en"], default="zh", help="language of the summary and row errors (default zh)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("import-regions", help="import region outlines for the dashboard's map from GeoJSON (docs/map.md)")
    p.add_argument("file", help="a GeoJSON FeatureCollection of Polygons/MultiPolygons, each naming its region")
    p.add_argument(
        "--datum",
        required=True,
        choices=[datum.value for datum in Datum],
        help="the coordinates' datum: wgs84 (GNSS, OpenStreetMap), cgcs2000 (天地图, surveying), gcj02 (AMap, Tencent)",
    )
    p.add_argument("--code-property", default="code", help="the feature property holding the region code (default: code)")
    p.set_defaults(handler=cmd_import_regions)

    p = sub.add_parser("seed-demo", help="fill an empty database with a synthetic Zhengzhou")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--vehicles", type=int, default=5000)
    p.add_argument("--stations-per-district", type=int, default=6)
    p.add_argument("--event-days", type=int, default=0, help="also generate this many days of scan events")
    p.add_argument("--today", help="the demo's today, YYYY-MM-DD (default: the real date)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=cmd_seed_demo)

    p = sub.add_parser(
        "rebuild-rollups",
        help="recount the day roll-ups (and their day and month totals) and find the clone suspects again from every scan event "
        "(once after upgrading to 0008; after changing the report offset or plausible speed)",
    )
    p.set_defaults(handler=cmd_rebuild_rollups)

    p = sub.add_parser(
        "watch-clones",
        help="judge the uploads the clone watch has queued now (`serve` does it every clone_watch_interval_s; "
        "before a downgrade below 0020)",
    )
    p.set_defaults(handler=cmd_watch_clones)

    p = sub.add_parser(
        "roll-region-totals",
        help="roll the closed days into the overview's per-region day totals now (`serve` does it every "
        "region_rollup_interval_s; once after upgrading to 0017)",
    )
    p.add_argument("--now", help="the moment to roll at, ISO 8601 (default: now; UTC when it names no offset)")
    p.set_defaults(handler=cmd_roll_region_totals)

    p = sub.add_parser("grade-stations", help="grade stations A-D from their measured behaviour (cron, daily; docs/grid.md)")
    p.add_argument("--station", help="grade only this station (code)")
    p.add_argument("--now", help="the moment to grade at, ISO 8601 (default: now)")
    p.set_defaults(handler=cmd_grade_stations)

    p = sub.add_parser("partitions", help="create upcoming daily scan_events partitions (PostgreSQL; run daily)")
    p.add_argument("--days-ahead", type=int, default=7)
    p.add_argument("--retain-days", type=int, default=0, help="drop partitions older than this (0: keep all)")
    p.set_defaults(handler=cmd_partitions)

    p = sub.add_parser(
        "send-notices", help="plan, purge and send owner notices once (for cron; `serve` does it when a sender is set)"
    )
    p.set_defaults(handler=cmd_send_notices)

    p = sub.add_parser("purge-contacts", help="delete owner contacts past their retain_until day")
    p.set_defaults(handler=cmd_purge_contacts)

    for subparser in sub.choices.values():
        if subparser.prog.split()[-1] in (
            "create-user",
            "issue-token",
            "set-password",
            "revoke-token",
            "import",
            "import-regions",
            "purge-contacts",
        ):
            subparser.add_argument("--operator", default=getpass.getuser(), help="name recorded in the audit log")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        with private_files.private_umask():  # the SQLite database and anything else made: 0600 / 0700
            return int(args.handler(args))
    except RegistryError as exc:
        print(f"cylinder-registry: {exc.detail}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from sqlalchemy.exc import OperationalError

        if isinstance(exc, OperationalError):
            print(f"cylinder-registry: database unreachable: {str(exc.orig).strip()}", file=sys.stderr)
            return EXIT_ERROR
        raise


if __name__ == "__main__":
    sys.exit(main())
