"""Property-based API testing against our own OpenAPI spec: no 5xx, no schema violations.

Runs every operation on one fresh seeded shop with a customer's bearer token, positive and
negative generated cases. The case count per operation is written to
test-artifacts/web/schemathesis-cases.json (and printed).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from webshop_helpers import MakeShop, shop_fixture  # noqa: F401  (the make_shop fixture)

pytestmark = pytest.mark.slow  # generated cases over every API operation (about a minute)
REPORT = Path(__file__).resolve().parents[2] / "test-artifacts" / "web" / "schemathesis-cases.json"
EXAMPLES = 60
# A design's validity has cross-field rules (corner radius vs. size, colour vs. material) that
# JSON Schema cannot state, so schema-valid bodies may be rightly refused with 422.
EXCLUDED = [schemathesis.checks.positive_data_acceptance]


def _fuzz(op: Any, mode: Any, headers: dict[str, str], counts: Counter[str]) -> None:
    label = f"{mode.value} {op.method.upper()} {op.path}"

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def run(case: Any) -> None:
        counts[label] += 1
        case.call_and_validate(headers=headers, excluded_checks=EXCLUDED)

    try:
        run()
    except Unsatisfiable:
        # Only negative mode on an operation with nothing to break (no params, no body).
        assert mode == schemathesis.GenerationMode.NEGATIVE and counts[label] == 0, label


def test_api_conforms_to_its_openapi_spec(
    make_shop: MakeShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from web.api import views

    # every valid design POSTed to /api/preview would queue a CAD build: the answers are fuzzed
    monkeypatch.setattr(views, "_start_build", lambda ctx, config_id: None)
    shop = make_shop(limits={})
    headers = {"Authorization": f"Bearer {shop.token(shop.user())}"}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", shop.app)
    counts: Counter[str] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15  # with the anonymous preview's three
    for op in operations:
        for mode in schemathesis.GenerationMode:
            _fuzz(op, mode, headers, counts)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    report = {"total": sum(counts.values()), "per_operation": dict(counts)}
    REPORT.write_text(json.dumps(report, indent=2, sort_keys=True))
    print(f"schemathesis: {report['total']} generated cases over {len(counts)} operations")
    assert report["total"] >= len(operations) * 10
