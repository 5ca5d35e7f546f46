"""The plant's status subscriber: `hunar/<site>/+/status` at QoS 1, handed to a callback.

The MQTT side of status intake lives here with the other MQTT code; what a message means is
decided by the callback (the order book applies it as a floor event).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt

from mes_bridge.transports.mqtt import topic

MessageHandler = Callable[[str, bytes], None]


class MqttStatusSubscriber:
    """Subscribes to every machine's status topic of one site; `subscribed` is set once the
    broker has acknowledged the subscription."""

    def __init__(self, site: str, host: str, port: int, on_message: MessageHandler) -> None:
        self.host, self.port = host, port
        topic(site, "machine", "status")  # the same site-name rules as every other topic
        self.topic = f"hunar/{site}/+/status"
        self.subscribed = threading.Event()
        self._handler = on_message
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"hunar-intake-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(self.topic, qos=1)
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self._handler(msg.topic, bytes(msg.payload))

    def start(self) -> None:
        self.client.connect(self.host, self.port)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
