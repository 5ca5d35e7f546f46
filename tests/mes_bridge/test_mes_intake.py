"""Bad input is rejected with a reason and a counter; state is never corrupted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mes_bridge.intake import (
    EventGate,
    Rejection,
    StatusEvent,
    button_event,
    parse_json_bytes,
    parse_mqtt,
    parse_rest,
)
from mes_bridge.transports.webhook import signed_headers

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SECRET = b"s3cret"


def ev(kind: str, event_id: str, job: str = "JO-1", **extra) -> bytes:
    doc = {"job_order_id": job, "kind": kind, "event_id": event_id, "at": NOW.isoformat()}
    return json.dumps(doc | extra).encode()


def test_valid_mqtt_event_takes_machine_from_topic():
    result = parse_mqtt("hunar/site1/mk4-01/status", ev("progress", "e1", progress_pct=42))
    assert isinstance(result, StatusEvent)
    assert (result.kind, result.progress_pct, result.machine_id) == ("progress", 42.0, "mk4-01")


@pytest.mark.parametrize(
    ("payload", "code", "reason_part"),
    [
        (b"{not json", "malformed", "not JSON"),
        (b"[1, 2]", "malformed", "JSON object"),
        (ev("exploded", "e1"), "unknown_kind", "kind"),
        (ev("started", ""), "malformed", "event_id"),
        (ev("started", "e1", job=""), "malformed", "job_order_id"),
        (ev("progress", "e1", progress_pct=140), "malformed", "progress_pct"),
        (ev("progress", "e1", progress_pct="50"), "malformed", "progress_pct"),
        (ev("scrapped", "e1", qty=0), "malformed", "qty"),
        (ev("scrapped", "e1", qty=True), "malformed", "qty"),
        (ev("machine_down", "e1", job=""), "malformed", "machine_id"),
        (
            json.dumps(
                {
                    "job_order_id": "J",
                    "kind": "started",
                    "event_id": "e",
                    "at": "2026-11-22T10:00:00",
                }
            ).encode(),
            "malformed",
            "offset",
        ),
    ],
)
def test_malformed_messages_are_rejections_with_reasons(payload, code, reason_part):
    result = parse_json_bytes(payload, "mqtt")
    assert isinstance(result, Rejection)
    assert result.code == code and reason_part in result.reason


def test_rest_events_need_a_valid_signature():
    body = ev("started", "e1")
    good = parse_rest(body, signed_headers(SECRET, body, NOW), SECRET, NOW)
    assert isinstance(good, StatusEvent)
    tampered = parse_rest(body + b" ", signed_headers(SECRET, body, NOW), SECRET, NOW)
    assert isinstance(tampered, Rejection) and tampered.code == "bad_signature"
    old = signed_headers(SECRET, body, NOW - timedelta(minutes=10))
    replay = parse_rest(body, old, SECRET, NOW, tolerance_s=300)
    assert isinstance(replay, Rejection) and "too old" in replay.reason
    wrong_key = parse_rest(body, signed_headers(b"other", body, NOW), SECRET, NOW)
    assert isinstance(wrong_key, Rejection) and wrong_key.code == "bad_signature"
    missing = parse_rest(body, {}, SECRET, NOW)
    assert isinstance(missing, Rejection) and "missing" in missing.reason


def test_gate_accepts_a_normal_lifecycle():
    gate = EventGate()
    for kind, eid, extra in [
        ("started", "a", {}),
        ("progress", "b", {"progress_pct": 50}),
        ("paused", "c", {}),
        ("started", "d", {}),
        ("completed", "e", {}),
        ("scrapped", "f", {"qty": 2, "reason": "warped"}),
    ]:
        assert isinstance(gate.admit(parse_json_bytes(ev(kind, eid, **extra), "mqtt")), StatusEvent)
    assert gate.counters["accepted.scrapped"] == 1


def test_gate_rejects_replays_out_of_order_and_unknown_jobs():
    gate = EventGate(known_job=lambda job_id: job_id.startswith("JO-"))
    done_first = gate.admit(parse_json_bytes(ev("completed", "x1"), "mqtt"))
    assert isinstance(done_first, Rejection) and done_first.code == "out_of_order"
    assert isinstance(gate.admit(parse_json_bytes(ev("started", "x2"), "mqtt")), StatusEvent)
    replay = gate.admit(parse_json_bytes(ev("started", "x2"), "mqtt"))
    assert isinstance(replay, Rejection) and replay.code == "duplicate"
    unknown = gate.admit(parse_json_bytes(ev("started", "x3", job="NOPE"), "mqtt"))
    assert isinstance(unknown, Rejection) and unknown.code == "unknown_job"
    assert isinstance(gate.admit(parse_json_bytes(ev("completed", "x4"), "mqtt")), StatusEvent)
    late = gate.admit(parse_json_bytes(ev("progress", "x5", progress_pct=10), "mqtt"))
    assert isinstance(late, Rejection) and late.code == "out_of_order"
    # the earlier rejected 'completed' did not poison its event id: a valid resend is fine
    malformed = gate.admit(parse_json_bytes(b"{", "mqtt"))
    assert isinstance(malformed, Rejection)
    assert gate.counters == {
        "rejected.out_of_order": 2,
        "rejected.duplicate": 1,
        "rejected.unknown_job": 1,
        "rejected.malformed": 1,
        "accepted.started": 1,
        "accepted.completed": 1,
    }


def test_machine_events_and_buttons():
    gate = EventGate()
    down = parse_json_bytes(ev("machine_down", "m1", job="", machine_id="mk4-01"), "opcua")
    assert isinstance(gate.admit(down), StatusEvent)
    press = button_event("JO-9", "started", NOW, "btn-1")
    assert isinstance(gate.admit(press), StatusEvent) and press.source == "button"
    assert isinstance(button_event("JO-9", "started", datetime(2026, 1, 1), "b"), Rejection)


def test_unknown_source_is_a_programmer_error():
    with pytest.raises(ValueError, match="source"):
        parse_json_bytes(ev("started", "e"), "carrier-pigeon")
