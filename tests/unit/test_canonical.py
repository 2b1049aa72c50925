"""Canonical JSON gives the same bytes with orjson and with the standard library alone.

The server hashes leaves with orjson; a recipient's ``casework-verify`` may have only the
standard library. If the two encoders ever differed on a value the log can hold, an honest
bundle would fail to verify on the recipient's machine, so they are compared on generated values.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework_verify import canonical, fastjson
from casework_verify.canonical import MAX_SAFE_INTEGER

# Keys and strings across the planes: ASCII, control characters, escapes, BMP and astral
# characters (keys outside the BMP take the UTF-16 pre-sort), U+2028/2029, DEL.
TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", '"\\/', "\x00\x1f\x7f", "\u2028\u2029", "\U0001f600", "\ufb33", "\ud7ff\ue000", "a\nb\tc\rd\be\ff"]
)
SCALARS = st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | TEXT
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=24
)


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_orjson_and_the_standard_library_give_identical_bytes(value: Any) -> None:
    assert fastjson.HAVE_ORJSON
    by_orjson = canonical._encode(value, fastjson.dumps_orjson)
    by_stdlib = canonical._encode(value, fastjson.dumps_stdlib)
    assert by_orjson == by_stdlib
    assert fastjson.loads_stdlib(by_stdlib) == orjson.loads(by_orjson)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(TEXT, VALUES, max_size=6))
def test_unsorted_compact_encodings_agree_too(value: dict[str, Any]) -> None:
    """The export verifier compares a line with its re-encoding in document order, too."""
    assert fastjson.dumps_orjson(value) == fastjson.dumps_stdlib(value)


@pytest.mark.parametrize("dumps", [fastjson.dumps_stdlib, fastjson.dumps_orjson], ids=["stdlib", "orjson"])
def test_both_encoders_refuse_lone_surrogates_as_value_errors(dumps: Any) -> None:
    for value in ({"a": "\ud800"}, {"\udfff": 1}, ["x\ud83d"]):
        with pytest.raises(ValueError, match="canonical JSON"):
            canonical._encode(value, dumps)


@pytest.mark.parametrize(
    "data",
    [
        b"NaN",
        b"[Infinity]",
        b"-Infinity",
        b"1e400",
        b'["\\ud800"]',
        b'"\\uDC00x"',
        b"\xff",
        b'"\xc3"',
        b"\xef\xbb\xbf{}",
        b"{",
        b"[1,]",
        b"[" * 100_000,
    ],
)
def test_the_standard_library_parser_refuses_what_orjson_refuses(data: bytes) -> None:
    with pytest.raises(ValueError):
        orjson.loads(data)
    with pytest.raises(ValueError):
        fastjson.loads_stdlib(data)


def test_the_standard_library_parser_takes_valid_surrogate_pairs() -> None:
    data = b'{"k":"\\ud83d\\ude00 \\u00e9"}'
    assert fastjson.loads_stdlib(data) == orjson.loads(data) == {"k": "\U0001f600 \u00e9"}
    assert json.loads(canonical.canonical_json(fastjson.loads_stdlib(data))) == {"k": "\U0001f600 \u00e9"}
