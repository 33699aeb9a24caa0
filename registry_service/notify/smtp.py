"""E-mail notices over SMTP (smtplib): plain, STARTTLS or implicit TLS, optional log-in."""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from registry_service.notify.senders import OutgoingMessage, SendError

SECURITY = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"  # SECURITY
    username: str | None = None
    password: str | None = None
    sender: str = "cylinder-registry@localhost"  # the From address
    timeout_s: float = 20.0


class SmtpSender:
    channel = "email"

    def __init__(self, settings: SmtpSettings, tls_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self._tls = tls_context or ssl.create_default_context()

    def send(self, message: OutgoingMessage) -> None:
        mail = self.compose(message)
        try:
            with self._connect() as smtp:
                if self.settings.username:
                    smtp.login(self.settings.username, self.settings.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise SendError(f"recipient refused: {codes}", retryable=all(400 <= c < 500 for c in codes)) from None
        except smtplib.SMTPAuthenticationError as exc:
            # The registry's credentials, not the notice: keep it for when they are fixed.
            raise SendError(f"SMTP log-in refused: {exc.smtp_code}", retryable=True) from None
        except smtplib.SMTPResponseException as exc:
            raise SendError(f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}", retryable=exc.smtp_code < 500) from None
        except (smtplib.SMTPException, OSError) as exc:  # refused connection, timeout, TLS failure
            raise SendError(f"SMTP unreachable: {type(exc).__name__}: {exc}"[:300], retryable=True) from None

    def compose(self, message: OutgoingMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.settings.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        # The same notice always gets the same Message-ID: a mail system can recognise a resend.
        domain = self.settings.sender.rpartition("@")[2] or "localhost"
        mail["Message-ID"] = f"<notice-{hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]}@{domain}>"
        mail.set_content(message.text)
        return mail

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "ssl":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=self._tls)
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
        try:
            if s.security == "starttls":
                smtp.starttls(context=self._tls)
        except BaseException:
            smtp.close()
            raise
        return smtp


def _text(value: bytes | str) -> str:
    return (value.decode(errors="replace") if isinstance(value, bytes) else value)[:200]
