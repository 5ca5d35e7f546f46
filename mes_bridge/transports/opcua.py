"""OPC UA transport: calls Store / Start on an ISA-95 job-control receiver.

The receiver side (server) lives in ``opcua_receiver.py``. Delivery = the Store
method returned ReturnStatus 0; Store is idempotent for identical content, so a
retry after a lost reply is safe. Start is at most once: the job's ``State`` node
is read first and Start is only called from NotAllowedToStart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asyncua import ua
from asyncua.sync import Client

from mes_bridge.transports.base import (
    ConnectionState,
    DeliveryReceipt,
    DeliveryRejected,
    JobState,
    NotReady,
    Packet,
    StartResult,
    Transport,
    TransportUnavailable,
    now_utc,
)
from mes_bridge.transports.opcua_receiver import NAMESPACE, ReturnStatus
from mes_bridge.transports.registry import SiteConfig

# Connection-level failures worth a retry; any other asyncua error is a bug to surface.
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    ConnectionError,
    *(
        getattr(ua.uaerrors, name)
        for name in (
            "BadConnectionClosed",
            "BadSessionClosed",
            "BadSessionIdInvalid",
            "BadSecureChannelClosed",
            "BadServerNotConnected",
            "BadTimeout",
            "BadRequestTimeout",
            "BadCommunicationError",
            "BadNoCommunication",
            "BadNotConnected",
            "BadTcpInternalError",
        )
    ),
)


class OpcUaTransport(Transport):
    name = "opcua"

    def __init__(self, endpoint: str, timeout_s: float = 5.0, store_and_start: bool = False):
        super().__init__()
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.store_and_start = store_and_start
        self._client: Client | None = None
        self._control: Any = None
        self._idx = 0

    def connect(self) -> None:
        if self._client is not None:
            return
        self._state = ConnectionState.CONNECTING
        client = Client(self.endpoint, timeout=self.timeout_s, sync_wrapper_timeout=30)
        try:
            client.connect()
            self._idx = client.get_namespace_index(NAMESPACE)
            self._control = client.nodes.objects.get_child([f"{self._idx}:JobControl"])
        except _NETWORK_ERRORS as exc:
            self._state = ConnectionState.FAILED
            _quiet_disconnect(client)
            raise TransportUnavailable(f"opcua {self.endpoint}: {exc}") from exc
        self._client = client
        self._state = ConnectionState.CONNECTED

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _quiet_disconnect(client)
        self._state = ConnectionState.DISCONNECTED

    def _call(self, method: str, *args: str) -> ReturnStatus:
        self.connect()
        try:
            result = self._control.call_method(f"{self._idx}:{method}", *args)
        except _NETWORK_ERRORS as exc:
            self.close()
            self._state = ConnectionState.FAILED
            raise TransportUnavailable(f"opcua {self.endpoint} {method}: {exc}") from exc
        return ReturnStatus(int(result))

    def deliver(self, packet: Packet, idempotency_key: str) -> DeliveryReceipt:
        method = "StoreAndStart" if self.store_and_start else "Store"
        status = self._call(method, packet.xml.decode("utf-8"), f"key={idempotency_key}")
        if status is not ReturnStatus.OK:
            raise DeliveryRejected(f"opcua {method} {packet.job.job_order_id}: {status.name}")
        return DeliveryReceipt(
            self.name, packet.job.job_order_id, idempotency_key, now_utc(), method
        )

    def read_state(self, job_id: str) -> JobState:
        self.connect()
        path = [f"{self._idx}:JobOrders", f"{self._idx}:{job_id}", f"{self._idx}:State"]
        try:
            value = self._control.get_child(path).read_value()
        except ua.uaerrors.BadNoMatch:
            return JobState.UNKNOWN
        except _NETWORK_ERRORS as exc:
            self.close()
            self._state = ConnectionState.FAILED
            raise TransportUnavailable(f"opcua {self.endpoint} read {job_id}: {exc}") from exc
        try:
            return JobState(value)
        except ValueError:
            return JobState.UNKNOWN

    def start(self, job_id: str) -> StartResult:
        state = self.read_state(job_id)
        if state is JobState.UNKNOWN:
            raise NotReady(f"opcua receiver has no job order {job_id} yet")
        if state is not JobState.NOT_ALLOWED_TO_START:
            return StartResult(job_id, False, state, "reconciled: not in NotAllowedToStart")
        status = self._call("Start", job_id, "hunar dispatch")
        if status is ReturnStatus.INVALID_JOB_ORDER_STATUS:
            return StartResult(job_id, False, self.read_state(job_id), "raced: already started")
        if status is not ReturnStatus.OK:
            raise DeliveryRejected(f"opcua Start {job_id}: {status.name}")
        return StartResult(job_id, True, JobState.ALLOWED_TO_START, "Start called")

    def call(self, method: str, job_id: str, comment: str = "") -> ReturnStatus:
        """Any other job-control command (Pause, Resume, Abort, Cancel, Clear)."""
        return self._call(method, job_id, comment)


def _quiet_disconnect(client: Client) -> None:
    """Disconnect, tolerating an already-dead socket (the error is the caller's to report)."""
    try:
        client.disconnect()
    except (*_NETWORK_ERRORS, RuntimeError, ua.UaError):
        pass


def from_config(machine_id: str, config: Mapping[str, Any], site: SiteConfig) -> Transport:
    """The machine's OPC UA endpoint, else the plant's."""
    return OpcUaTransport(str(config.get("endpoint", site.opcua_endpoint)))
