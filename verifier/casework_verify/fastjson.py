"""Compact JSON in and out: orjson when it is installed, else the standard library, same bytes.

The server has orjson and verifies millions of lines with it; a recipient who installed only
this package (``cryptography`` is its one dependency) gets the standard library instead. For
what the log holds (objects, arrays, strings, integers, booleans, null; no floats) both give the
same bytes: keys in code point order when sorted, no whitespace, UTF-8, and only ``"``, ``\\``
and the control characters escaped (``\\b \\f \\n \\r \\t``, others as lower-case ``\\u00xx``).
``tests/unit/test_canonical.py`` checks this on generated values.

Both ``loads`` refuse what orjson refuses and the log never holds: invalid UTF-8, lone surrogates,
``NaN`` and ``Infinity``. Every failure to parse is a ``ValueError``; a failure to encode is one
of ``ENCODE_ERRORS`` (orjson's is a ``TypeError``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

try:
    import orjson
except ImportError:  # the verifier installed on its own
    HAVE_ORJSON = False
else:
    HAVE_ORJSON = True

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def dumps_stdlib(obj: Any, sort_keys: bool = False) -> bytes:
    """Compact UTF-8 JSON by the standard library; ValueError for a lone surrogate or NaN."""
    return json.dumps(obj, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def loads_stdlib(data: bytes | str) -> Any:
    """Parse like ``orjson.loads``: strict UTF-8, no lone surrogates, no NaN or Infinity."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray | memoryview) else data
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text):  # rare: only then look for an escape of half a pair
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("JSON string holds a lone surrogate") from None
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text} is infinity when parsed as a double")
    return value


loads: Callable[[bytes | str], Any]
encode: Callable[[Any, bool], bytes]  # (obj, sort_keys)
dumps: Callable[[Any], bytes]
dumps_sorted: Callable[[Any], bytes]
ENCODE_ERRORS: tuple[type[Exception], ...]

if HAVE_ORJSON:

    def dumps_orjson(obj: Any, sort_keys: bool = False) -> bytes:
        """Compact UTF-8 JSON by orjson; orjson.JSONEncodeError (a TypeError) where it cannot."""
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS) if sort_keys else orjson.dumps(obj)

    loads, encode, dumps = orjson.loads, dumps_orjson, orjson.dumps
    dumps_sorted = functools.partial(orjson.dumps, option=orjson.OPT_SORT_KEYS)  # no Python frame: a hot loop calls it
    ENCODE_ERRORS = (orjson.JSONEncodeError, ValueError)
else:
    loads, encode, dumps = loads_stdlib, dumps_stdlib, dumps_stdlib
    dumps_sorted = functools.partial(dumps_stdlib, sort_keys=True)
    ENCODE_ERRORS = (ValueError,)
