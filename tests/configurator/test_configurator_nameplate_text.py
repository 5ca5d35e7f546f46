"""Nameplate text: what no font draws is refused by name; Urdu is estimated wide enough."""

from __future__ import annotations

import pytest

from configurator import validate
from configurator.families.nameplate import drawable, glyph_span, text_width_em


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("ab\U0010fffd", "U+10FFFD"),  # private use: shown only by code point
        ("\U0001f9e1 love", "'\U0001f9e1' (U+1F9E1)"),  # an emoji DejaVu lacks
        ("中文", "'中' (U+4E2D), '文' (U+6587)"),
        ("a\u202eb", "U+202E"),  # bidi override: never raw in a message
    ],
)
def test_undrawable_characters_are_refused_by_name(text: str, named: str) -> None:
    res = validate("nameplate", {"text": text, "width": 600, "text_height": 8})
    assert not res.ok
    err = res.errors[0]
    assert (err.param, err.code) == ("text", "cannot_engrave")
    assert named in err.message and "cannot be engraved: no font here draws" in err.message
    assert "\u202e" not in err.message and "\U0010fffd" not in err.message


def test_an_allow_list_refusal_is_not_hidden_by_a_drawability_one() -> None:
    res = validate("nameplate", {"text": "a<b\U0010fffd", "width": 600, "text_height": 8})
    assert res.errors[0].code == "disallowed_characters"


@pytest.mark.parametrize("text", ["ہنر ورکشاپ", "پاکستان", "Hunar ہنر 2026", "لاہور"])
def test_urdu_is_accepted(text: str) -> None:
    res = validate("nameplate", {"text": text})
    assert res.ok, res.errors
    assert all(ord(ch) in drawable() for ch in text)


def test_urdu_width_estimate_is_an_upper_bound_and_span_is_taller() -> None:
    # Real advances in Noto Naskh Arabic Bold (em), measured with cad/text.py.
    for text, real in [("ہنر ورکشاپ", 4.29), ("پاکستان", 3.02), ("صضصض", 3.67), ("ےےےے", 3.23)]:
        assert real <= text_width_em(text) <= 2.0 * real
    assert glyph_span("پاکستان") > glyph_span("HUNAR")
    res = validate("nameplate", {"text": "پاکستان", "height": 20, "text_height": 10})
    assert res.errors[0].code == "text_does_not_fit"
