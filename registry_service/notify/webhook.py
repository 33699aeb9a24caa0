"""SMS notices through an HTTP webhook of an SMS gateway: one JSON POST per message, signed.

The body is JSON {"notice_id", "idempotency_key", "kind", "to", "text"}. The gateway checks
X-Registry-Signature: "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body), where timestamp
is X-Registry-Timestamp (Unix seconds): a body cannot be forged or replayed later with another time.
Idempotency-Key carries the notice's key so the gateway can drop a second copy.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from registry_service.notify.senders import OutgoingMessage, SendError

SIGNATURE_HEADER = "X-Registry-Signature"
TIMESTAMP_HEADER = "X-Registry-Timestamp"


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    secret: str
    timeout_s: float = 10.0


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookSender:
    channel = "sms"

    def __init__(self, settings: WebhookSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock

    def send(self, message: OutgoingMessage) -> None:
        body = json.dumps(
            {
                "notice_id": message.notice_id,
                "idempotency_key": message.idempotency_key,
                "kind": message.kind,
                "to": message.to,
                "text": message.text,
            },
            ensure_ascii=False,
            sort_keys=True,
        ).encode()
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(self.settings.secret, timestamp, body),
            "Idempotency-Key": message.idempotency_key,
        }
        try:
            response = requests.post(self.settings.url, data=body, headers=headers, timeout=self.settings.timeout_s)
        except requests.RequestException as exc:
            raise SendError(f"SMS gateway unreachable: {type(exc).__name__}", retryable=True) from None
        if 200 <= response.status_code < 300:
            return
        # 408, 429 and 5xx: the gateway may take it later; any other 4xx refuses this message.
        retryable = response.status_code in (408, 429) or response.status_code >= 500
        raise SendError(f"SMS gateway answered {response.status_code}", retryable=retryable)
