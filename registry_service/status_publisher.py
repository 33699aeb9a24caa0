"""The background status-list publisher `cylinder-registry serve` runs when a signer socket is
configured (RegistryConfig.signer_socket).

Every `status_list_interval_s` it publishes each list whose entries changed or that is past half
its validity (services/status_lists.publish_due), and the central station policies that changed
but are not signed yet (services/policies.publish_pending: the signer was away at the bureau's
write). Several registry nodes may run it: the signer
refuses a sequence it already signed (`rollback`), so two nodes racing for the same sequence cost
one refused request, never two lists with one sequence. A failing round is logged and retried on
the next interval; the thread never dies of it.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from list_signer.client import SignerClient
from registry_service.node import Registry
from registry_service.services import policies, status_lists

log = logging.getLogger(__name__)


def policy_of(registry: Registry) -> status_lists.Policy:
    config = registry.config
    return status_lists.Policy(timedelta(hours=config.status_list_validity_h), timedelta(seconds=config.status_list_ttl_s))


class StatusPublisher:
    def __init__(self, registry: Registry, signer: status_lists.ListSigner | None = None) -> None:
        socket = registry.config.signer_socket
        if signer is None and socket is None:
            raise ValueError("a status publisher needs a signer socket")
        self.registry = registry
        self.signer = signer or SignerClient(socket)  # type: ignore[arg-type]
        self.interval_s = registry.config.status_list_interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="status-publisher", daemon=True)

    def start(self) -> StatusPublisher:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self.registry.revoked.set()
        self._thread.join(timeout_s)

    def run_once(self) -> list[status_lists.Outcome]:
        outcomes = status_lists.publish_due(
            self.registry.transaction, self.signer, self.registry.clock(), policy_of(self.registry)
        )
        if isinstance(self.signer, SignerClient):  # central policies a bureau write could not sign at once
            policies.publish_pending(self.registry.transaction, self.signer, self.registry.clock())
        return outcomes

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a database outage or a bug: log, and try again next interval
                log.exception("status list publishing failed; retrying in %.0f s", self.interval_s)
            # Until the interval passes, or at once when a revocation commits on this node.
            self.registry.revoked.wait(self.interval_s)
            self.registry.revoked.clear()
