"""Notice settings from REGISTRY_SMTP_*, REGISTRY_SMS_WEBHOOK_* and REGISTRY_NOTICE_* variables
(docs/registry.md). Read only when a command asks (`serve`, `send-notices`), never at import."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from registry_service.errors import ConfigError
from registry_service.notify.senders import Sender
from registry_service.notify.smtp import SECURITY, SmtpSender, SmtpSettings
from registry_service.notify.webhook import WebhookSender, WebhookSettings
from registry_service.services.notice_texts import DEFAULT_LANGUAGE


@dataclass(frozen=True)
class NoticeSettings:
    smtp: SmtpSettings | None = None
    webhook: WebhookSettings | None = None
    language: str = DEFAULT_LANGUAGE  # the language notices are written in
    interval_s: float = 60.0  # how often `serve`'s worker looks for notices to send

    def senders(self) -> dict[str, Sender]:
        """channel -> sender, for each configured one (empty: nothing is sent)."""
        found: dict[str, Sender] = {}
        if self.smtp is not None:
            found["email"] = SmtpSender(self.smtp)
        if self.webhook is not None:
            found["sms"] = WebhookSender(self.webhook)
        return found


def from_env(environ: Mapping[str, str] | None = None) -> NoticeSettings:
    env = os.environ if environ is None else environ
    smtp = None
    if host := env.get("REGISTRY_SMTP_HOST", "").strip():
        security = env.get("REGISTRY_SMTP_SECURITY", "starttls").strip().lower()
        if security not in SECURITY:
            raise ConfigError(f"REGISTRY_SMTP_SECURITY must be one of {', '.join(SECURITY)}, not {security!r}")
        default_port = {"none": 25, "starttls": 587, "ssl": 465}[security]
        smtp = SmtpSettings(
            host=host,
            port=_number(env, "REGISTRY_SMTP_PORT", default_port, 1, 65535),
            security=security,
            username=env.get("REGISTRY_SMTP_USER") or None,
            password=env.get("REGISTRY_SMTP_PASSWORD") or None,
            sender=env.get("REGISTRY_SMTP_FROM", "").strip() or f"cylinder-registry@{host}",
            timeout_s=float(_number(env, "REGISTRY_SMTP_TIMEOUT_S", 20, 1, 120)),
        )
    webhook = None
    if url := env.get("REGISTRY_SMS_WEBHOOK_URL", "").strip():
        if not url.startswith(("https://", "http://")):
            raise ConfigError("REGISTRY_SMS_WEBHOOK_URL must be an http(s) URL")
        secret = env.get("REGISTRY_SMS_WEBHOOK_SECRET", "")
        if len(secret) < 16:
            raise ConfigError("REGISTRY_SMS_WEBHOOK_SECRET must be set, at least 16 characters (the HMAC key the gateway checks)")
        webhook = WebhookSettings(url, secret, float(_number(env, "REGISTRY_SMS_WEBHOOK_TIMEOUT_S", 10, 1, 120)))
    return NoticeSettings(
        smtp=smtp,
        webhook=webhook,
        language=env.get("REGISTRY_NOTICE_LANGUAGE", "").strip() or DEFAULT_LANGUAGE,
        interval_s=float(_number(env, "REGISTRY_NOTICE_INTERVAL_S", 60, 5, 3600)),
    )


def _number(env: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    text = env.get(key, "").strip()
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise ConfigError(f"{key} must be a whole number between {low} and {high}, not {text!r}")
    return int(text)
