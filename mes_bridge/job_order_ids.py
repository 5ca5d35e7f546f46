"""The one job-order id format, `JO-<operation id>-v<schedule version>`, for every transport.

Ids are ASCII digits within a 32-bit database key, whatever they arrive by (button, MQTT,
OPC UA, REST), so a hostile id can never overflow a database driver.
"""

from __future__ import annotations

import re

# ASCII digits without leading zeros: JO-085-v4 is not an alias of JO-85-v4
JOB_ORDER = re.compile(r"^JO-(0|[1-9][0-9]{0,9})-v(0|[1-9][0-9]{0,9})$")
MAX_DB_ID = 2**31 - 1  # integer keys and versions are 32-bit columns


def job_order_id(operation_id: int, schedule_version: int) -> str:
    return f"JO-{operation_id}-v{schedule_version}"


def parse_job_order(job_order: str) -> tuple[int, int] | None:
    """(operation id, schedule version) of `JO-<op>-v<version>`; None for anything else, also
    for ids no row can have (they would overflow the database driver on any transport)."""
    m = JOB_ORDER.match(job_order)
    if m is None:
        return None
    op_id, version = int(m.group(1)), int(m.group(2))
    return (op_id, version) if max(op_id, version) <= MAX_DB_ID else None


def operation_of(job_order: str) -> int | None:
    parsed = parse_job_order(job_order)
    return parsed[0] if parsed else None
