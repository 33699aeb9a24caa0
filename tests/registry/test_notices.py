"""Owner notices (docs/grid.md, "Telling vehicle owners"): planning without duplicates, delivery at
most once through a real local SMTP server (aiosmtpd) with a failed first attempt and two nodes,
the SMS webhook's HMAC against a local http.server, no consent -> no notice and the case says so,
the purge of contacts past their keeping day, the contacts import and the bureau's read."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from registry_service.csv_import import import_csv
from registry_service.db import make_session_factory
from registry_service.errors import ConfigError
from registry_service.models import AuditEntry, Case, CaseStep, CylinderState, Notice, OwnerContact
from registry_service.notify import settings as notice_settings
from registry_service.notify.delivery import DeliveryPolicy, deliver_due
from registry_service.notify.senders import OutgoingMessage, Sender, SendError
from registry_service.notify.smtp import SmtpSender, SmtpSettings
from registry_service.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSender, WebhookSettings
from registry_service.notify.worker import NoticeWorker
from registry_service.services import notice_texts, notices, places
from registry_service.services.registration import CylinderIn, upsert_cylinder, upsert_vehicle
from tests.catalogues import assert_catalogues_complete
from tests.registry.conftest import Clock, World

ROOT = Path(__file__).parents[2]
NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
TODAY = NOW.date()
KEEP = TODAY + timedelta(days=365)


# --- builders ----------------------------------------------------------------------------------


def add_car(
    s: Session, plate: str, cylinder_id: str, next_due: date, state: CylinderState = CylinderState.ACTIVE
) -> tuple[int, int]:
    vehicle = upsert_vehicle(s, plate, None, "private", None)
    cylinder = upsert_cylinder(
        s,
        CylinderIn(
            cylinder_id=cylinder_id,
            serial=f"S-{cylinder_id}",
            manufactured_on=date(2018, 1, 1),
            end_of_life=date(2034, 1, 1),
            next_due=next_due,
            plate=plate,
            state=state,
        ),
    )
    return vehicle.id, cylinder.id


def add_contact(s: Session, plate: str, channel: str, address: str, consent: bool = True, keep: date = KEEP) -> OwnerContact:
    return notices.upsert_contact(s, notices.ContactIn(plate, channel, address, consent, "dmv-2026", NOW, keep), NOW)


def add_case(s: Session, number: str, vehicle_id: int, cylinder_pk: int) -> Case:
    region = places.ensure_region(s, "410105", "金水区")
    case = Case(
        number=number,
        kind="refused_cylinder",
        subject_key=f"cylinder:{cylinder_pk}",
        state="reported",
        region_id=region.id,
        handling_region_id=region.id,
        cylinder_pk=cylinder_pk,
        vehicle_id=vehicle_id,
        reason="inspection_overdue",
        opened_at=NOW,
        state_since=NOW,
        last_seen_at=NOW,
    )
    s.add(case)
    s.flush()
    return case


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


# --- a real SMTP server and an SMS gateway -----------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Inbox:
    """aiosmtpd handler: keeps what arrives; answers 451 (try later) to the first `refuse` messages."""

    def __init__(self, refuse: int = 0) -> None:
        self.refuse = refuse
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        with self.lock:
            if self.refuse:
                self.refuse -= 1
                return "451 4.3.0 mailbox busy, try again later"
            assert isinstance(envelope.content, bytes)
            parsed = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(parsed)
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox(refuse=1)
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


class Gateway(BaseHTTPRequestHandler):
    """An SMS gateway: checks the signature as a real one would, answers 503 to the first message."""

    secret = "s3cret-shared-with-the-gateway"
    received: list[dict[str, Any]] = []
    answers: list[int] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        stamp = self.headers[TIMESTAMP_HEADER]
        expected = "sha256=" + hmac.new(self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        signed = hmac.compare_digest(expected, self.headers[SIGNATURE_HEADER])
        status = 401 if not signed else (self.answers.pop(0) if self.answers else 200)
        if status == 200:
            self.received.append({"body": json.loads(body), "key": self.headers["Idempotency-Key"]})
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def gateway() -> Iterator[str]:
    Gateway.received, Gateway.answers = [], [503]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sms"
    server.shutdown()
    server.server_close()


# --- tests -------------------------------------------------------------------------------------


def test_the_notices_catalogues_are_complete() -> None:
    source = (ROOT / "registry_service" / "services" / "notice_texts.py").read_text(encoding="utf-8")
    used = set(re.findall(r'"((?:due_soon|overdue|refused|case)\.[a-z_]+)"', source))
    assert {"due_soon.text", "refused.subject", "case.no_consent"} <= used
    assert_catalogues_complete(notice_texts.DOMAIN, used)


def test_notice_words_are_chinese_by_default_and_english_on_request() -> None:
    zh = notice_texts.words("overdue", "zh_CN", plate="豫A8M2K7", cylinder_id="156-4101-1", due_on="2026-11-01")
    en = notice_texts.words("overdue", "en", plate="豫A8M2K7", cylinder_id="156-4101-1", due_on="2026-11-01")
    assert "超期" in zh.text and "豫A8M2K7" in zh.subject and "2026-11-01" in zh.text
    assert "overdue" in en.text and "156-4101-1" in en.text


def test_due_soon_and_overdue_planning_is_idempotent(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        soon_vehicle, _ = add_car(s, "豫A10001", "156-4101-1", TODAY + timedelta(days=10))
        add_car(s, "豫A10002", "156-4101-2", TODAY - timedelta(days=5))  # overdue, no contact
        add_car(s, "豫A10003", "156-4101-3", TODAY + timedelta(days=100))  # not yet
        add_car(s, "豫A10004", "156-4101-4", TODAY - timedelta(days=5), CylinderState.SCRAPPED)  # not any more
        add_contact(s, "豫A10001", "email", "owner1@example.cn")
    with sessions.begin() as s:
        first = notices.plan_due_notices(s, TODAY, 30, NOW)
    with sessions.begin() as s:
        again = notices.plan_due_notices(s, TODAY, 30, NOW)
    assert first.to_json() == {"planned": 1, "no_consent": 1, "already": 0}
    assert again.to_json() == {"planned": 0, "no_consent": 0, "already": 2}
    with sessions() as s:
        rows = {(n.kind, n.state, n.channel, n.vehicle_id == soon_vehicle) for n in s.scalars(select(Notice))}
        assert rows == {("due_soon", "pending", "email", True), ("overdue", "no_consent", None, False)}


def test_the_e_mail_arrives_exactly_once_after_a_failed_attempt_and_with_two_nodes(
    sessions: sessionmaker[Session], smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    with sessions.begin() as s:
        vehicle_id, cylinder_pk = add_car(s, "豫A8M2K7", "156-4101-9", TODAY - timedelta(days=3))
        add_contact(s, "豫A8M2K7", "email", "owner@example.cn")
        case = add_case(s, "410105-20261130-0001", vehicle_id, cylinder_pk)
        assert notices.notice_for_case(s, case, NOW) is not None
        case_id = case.id
    senders: dict[str, Sender] = {"email": SmtpSender(SmtpSettings("127.0.0.1", port, security="none", timeout_s=5))}
    rules = DeliveryPolicy(first_retry_s=60)

    first = deliver_due(sessions, senders, NOW, rules)  # the server answers 451: retried later
    assert (first.retrying, first.sent, inbox.messages) == (1, 0, [])
    assert deliver_due(sessions, senders, NOW + timedelta(seconds=30), rules).to_json()["sent"] == 0  # back-off

    later = NOW + timedelta(seconds=61)
    results = []
    nodes = [threading.Thread(target=lambda: results.append(deliver_due(sessions, senders, later, rules))) for _ in range(2)]
    for node in nodes:
        node.start()
    for node in nodes:
        node.join(30)
    assert sorted(r.sent for r in results) == [0, 1]
    assert deliver_due(sessions, senders, later + timedelta(hours=1), rules).sent == 0

    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert mail["To"] == "owner@example.cn" and "豫A8M2K7" in str(mail["Subject"])
    body = mail.get_body()
    assert body is not None and "410105-20261130-0001" in body.get_content()
    with sessions() as s:
        notice = s.scalars(select(Notice)).one()
        assert (notice.state, notice.attempts, notice.lease_owner) == ("sent", 2, None)
        notes = [step.note for step in s.scalars(select(CaseStep).where(CaseStep.case_id == case_id).order_by(CaseStep.id))]
        assert notes == ["已安排车主通知（email）", "车主通知已发送（email）"]
        reads = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "read_owner_contact"))
        assert reads == 2  # one per attempt that read the address


def test_without_a_consented_contact_no_notice_is_sent_and_the_case_says_so(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        vehicle_id, cylinder_pk = add_car(s, "豫A20001", "156-4102-1", TODAY - timedelta(days=3))
        add_contact(s, "豫A20001", "sms", "13812345678", consent=False)
        case = add_case(s, "410105-20261130-0002", vehicle_id, cylinder_pk)
        notice = notices.notice_for_case(s, case, NOW)
        assert notice is not None and (notice.state, notice.channel) == ("no_consent", None)
        assert notices.notice_for_case(s, case, NOW) is None  # the same case again: nothing new
        steps = s.scalars(select(CaseStep).where(CaseStep.case_id == case.id)).all()
    assert [(step.action, step.note) for step in steps] == [("notice", "车主没有同意接收通知的联系方式：未发送车主通知")]
    sent = deliver_due(sessions, {"sms": RecordingSender()}, NOW + timedelta(days=1))
    assert sent.to_json() == {"sent": 0, "retrying": 0, "failed": 0, "skipped": 0}


class RecordingSender:
    channel = "sms"

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> None:
        self.sent.append(message)


def test_the_sms_webhook_is_signed_retried_and_refused_for_good_on_a_4xx(gateway: str) -> None:
    sender = WebhookSender(WebhookSettings(gateway, Gateway.secret, timeout_s=5), clock=lambda: 1_764_464_400.0)
    message = OutgoingMessage(7, "refused:1:2:410105-20261130-0007", "refused", "+8613812345678", "subject", "您的车辆…")
    with pytest.raises(SendError) as busy:
        sender.send(message)  # the gateway answers 503 first
    assert busy.value.retryable
    sender.send(message)
    assert Gateway.received == [
        {
            "body": {
                "notice_id": 7,
                "idempotency_key": "refused:1:2:410105-20261130-0007",
                "kind": "refused",
                "to": "+8613812345678",
                "text": "您的车辆…",
            },
            "key": "refused:1:2:410105-20261130-0007",
        }
    ]
    forged = WebhookSender(WebhookSettings(gateway, "not-the-shared-secret", timeout_s=5))
    with pytest.raises(SendError) as refused:
        forged.send(message)  # 401: the gateway checked the HMAC
    assert not refused.value.retryable and len(Gateway.received) == 1


def test_contacts_past_their_keeping_day_are_purged_and_their_pending_notices_fail(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        add_car(s, "豫A30001", "156-4103-1", TODAY + timedelta(days=5))
        add_car(s, "豫A30002", "156-4103-2", TODAY + timedelta(days=5))
        add_contact(s, "豫A30001", "email", "short@example.cn", keep=TODAY + timedelta(days=1))
        add_contact(s, "豫A30002", "email", "long@example.cn")
        assert notices.plan_due_notices(s, TODAY, 30, NOW).planned == 2
    later = TODAY + timedelta(days=2)
    with sessions.begin() as s:
        assert notices.purge_contacts(s, later, NOW + timedelta(days=2), "operator") == 1
        assert notices.purge_contacts(s, later, NOW + timedelta(days=2)) == 0
    with sessions() as s:
        assert s.scalars(select(OwnerContact.address)).all() == ["long@example.cn"]
        states = sorted((n.state, n.last_error, n.contact_id is None) for n in s.scalars(select(Notice)))
        assert states == [("failed", "contact_purged", True), ("pending", "", False)]
        assert s.scalar(select(AuditEntry.actor).where(AuditEntry.action == "purge_owner_contacts")) == "cli:operator"


def test_owner_contacts_import_reports_bad_rows_and_updates_consent(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    with sessions.begin() as s:
        add_car(s, "豫A40001", "156-4104-1", TODAY + timedelta(days=5))
    header = "plate,channel,address,consent,source,consented_at,retain_until\n"
    good = "豫A40001,sms,138 1234 5678,是,dmv-2026,2026-11-01,2027-11-01\n豫A40001,email,a@example.cn,yes,taxi-co,,2027-11-01\n"
    bad = "豫A40001,email,not-an-address,yes,taxi-co,,2027-11-01\n豫A49999,sms,13812345678,yes,dmv,,2027-11-01\n豫A40001,fax,1,maybe,x,,2027-11-01\n"
    path = tmp_path / "contacts.csv"
    path.write_text(header + good + bad, encoding="utf-8")
    report = import_csv(sessions, "owner-contacts", path, NOW, "clerk", progress=False, language="en")
    assert (report.imported, [line for line, _ in report.errors]) == (2, [4, 5, 6])
    assert "not an e-mail address" in report.errors[0][1] and "import vehicles first" in report.errors[1][1]
    path.write_text(header + "豫A40001,sms,+8613812345678,no,dmv-2026,2026-11-20T08:00:00+08:00,2027-11-01\n", encoding="utf-8")
    assert import_csv(sessions, "owner-contacts", path, NOW, "clerk", progress=False).imported == 1
    with sessions() as s:
        contacts = {(c.channel, c.address, c.consent) for c in s.scalars(select(OwnerContact))}
    assert contacts == {("sms", "+8613812345678", False), ("email", "a@example.cn", True)}


def test_the_bureau_reads_notices_with_filters_and_the_read_is_audited(client: FlaskClient, world: World) -> None:
    def work(s: Session) -> None:
        add_car(s, "豫A50001", "156-4105-1", TODAY + timedelta(days=5))
        add_car(s, "豫A50002", "156-4105-2", TODAY - timedelta(days=5))
        add_contact(s, "豫A50001", "sms", "13812345678")
        notices.plan_due_notices(s, TODAY, 30, NOW)

    world.registry.transaction(work)
    answer = client.get("/api/v1/bureau/notices?limit=1", headers=world.auth("bureau"))
    assert answer.status_code == 200, answer.json
    assert answer.json is not None and len(answer.json["notices"]) == 1 and answer.json["next_cursor"]
    rest = client.get(f"/api/v1/bureau/notices?cursor={answer.json['next_cursor']}", headers=world.auth("bureau")).json
    assert rest is not None and rest["next_cursor"] is None and len(rest["notices"]) == 1
    sent = client.get("/api/v1/bureau/notices?state=pending&plate=豫a50001", headers=world.auth("bureau")).json
    assert sent is not None and [(n["kind"], n["channel"], n["plate"]) for n in sent["notices"]] == [
        ("due_soon", "sms", "豫A50001")
    ]
    assert "13812345678" not in json.dumps(sent) and "address" not in sent["notices"][0]
    assert client.get("/api/v1/bureau/notices?state=lost", headers=world.auth("bureau")).status_code == 422
    assert client.get("/api/v1/bureau/notices", headers=world.auth("station")).status_code == 403

    def audited(s: Session) -> int:
        return int(s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "list_notices")) or 0)

    assert world.registry.transaction(audited) == 3


def test_notice_settings_come_from_the_environment() -> None:
    assert notice_settings.from_env({}).senders() == {}
    settings = notice_settings.from_env(
        {
            "REGISTRY_SMTP_HOST": "mail.example.cn",
            "REGISTRY_SMTP_SECURITY": "ssl",
            "REGISTRY_SMTP_FROM": "registry@example.cn",
            "REGISTRY_SMS_WEBHOOK_URL": "https://sms.example.cn/send",
            "REGISTRY_SMS_WEBHOOK_SECRET": "0123456789abcdef",
            "REGISTRY_NOTICE_LANGUAGE": "en",
        }
    )
    assert sorted(settings.senders()) == ["email", "sms"] and settings.language == "en"
    assert settings.smtp is not None and (settings.smtp.port, settings.smtp.sender) == (465, "registry@example.cn")
    for bad in (
        {"REGISTRY_SMTP_HOST": "h", "REGISTRY_SMTP_SECURITY": "tls1"},
        {"REGISTRY_SMTP_HOST": "h", "REGISTRY_SMTP_PORT": "99999"},
        {"REGISTRY_SMS_WEBHOOK_URL": "https://sms.example.cn", "REGISTRY_SMS_WEBHOOK_SECRET": "short"},
        {"REGISTRY_SMS_WEBHOOK_URL": "ftp://sms.example.cn", "REGISTRY_SMS_WEBHOOK_SECRET": "0123456789abcdef"},
    ):
        with pytest.raises(ConfigError):
            notice_settings.from_env(bad)


def test_the_serve_worker_plans_once_a_day_purges_and_delivers(app: Flask, clock: Clock) -> None:
    registry = app.extensions["registry"]
    today = clock().astimezone(registry.default_zone).date()

    def work(s: Session) -> None:
        add_car(s, "豫A60001", "156-4106-1", today + timedelta(days=3))
        notices.upsert_contact(
            s, notices.ContactIn("豫A60001", "sms", "13812345678", True, "dmv", None, today + timedelta(days=9)), clock()
        )

    registry.transaction(work)
    sender = RecordingSender()
    worker = NoticeWorker(registry, notice_settings.NoticeSettings(language="en"), {"sms": sender})
    first = worker.run_once()
    assert first.planned == {"planned": 1, "no_consent": 0, "already": 0} and first.purged == 0
    assert first.delivered["sent"] == 1 and "due for its periodic inspection" in sender.sent[0].text
    assert worker.run_once().planned is None  # the same day: no second planning pass
    clock.advance(days=1)
    assert worker.run_once().planned == {"planned": 0, "no_consent": 0, "already": 1}
    assert len(sender.sent) == 1
