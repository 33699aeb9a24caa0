"""What a sender is given and what it may answer: the one interface the delivery loop knows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from registry_service.errors import RegistryError


@dataclass(frozen=True)
class OutgoingMessage:
    notice_id: int
    # The notice's dedupe_key: sent along (Message-ID, Idempotency-Key) so a gateway or mail system
    # can drop a second copy should a node die between sending and recording it.
    idempotency_key: str
    kind: str
    to: str
    subject: str
    text: str


class SendError(RegistryError):
    """A message not sent. `retryable`: a later attempt may succeed (a timeout, a 4xx SMTP reply, a
    gateway's 5xx or 429); otherwise the notice fails for good (an address the server refuses)."""

    def __init__(self, detail: str, *, retryable: bool) -> None:
        super().__init__(detail)
        self.retryable = retryable


class Sender(Protocol):
    """Sends one message on one channel ("email", "sms"); returns when it was accepted, raises
    SendError when not. It must bound its own waiting (a timeout) well below the delivery lease."""

    @property
    def channel(self) -> str: ...

    def send(self, message: OutgoingMessage) -> None: ...
