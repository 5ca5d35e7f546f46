"""The API answers a build request for a design no machine can make at once, and builds nothing."""

from __future__ import annotations

from sqlalchemy import func, select
from webshop_helpers import ENCLOSURE, MakeShop, shop_fixture  # noqa: F401  (the make_shop fixture)

from orders.models import JobRecord

RESIN_TOO_BIG = ENCLOSURE | {"inner_length": 250, "process": "resin", "material": "resin"}


def test_preview_of_a_design_no_machine_can_make_is_422_with_the_reason_and_no_job(
    make_shop: MakeShop,
) -> None:
    shop = make_shop()
    alice = shop.shopper()
    big = shop.save_design(alice, RESIN_TOO_BIG)  # saving (and quoting) it is still allowed
    quote = alice.api("POST", "/api/quote", {"family": "enclosure", "params": RESIN_TOO_BIG})
    reason = quote.json["feasibility"]["reasons"][0]
    resp = alice.api("POST", f"/api/configurations/{big}/preview")
    assert resp.status_code == 422, resp.json
    error = resp.json["error"]
    assert error["code"] == "not_makeable"
    assert reason["message"] in error["message"]  # the same reason the quote gives
    assert set(error["fields"]) == {"size"} and reason["code"] in error["fields"]["size"]
    assert alice.api("GET", f"/api/configurations/{big}/preview").json["state"] == "none"
    with shop.ctx.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(JobRecord)) == 0
