"""The leaf encoding of the custody log: RFC 8785 (JCS) restricted to JSON without floats.

Every leaf hash is ``SHA-256(0x00 || canonical_json(entry))``, so this function must give
the same bytes on every machine forever. Floats are refused because JCS numbers follow
ECMAScript double formatting, which orjson (like most libraries) does not reproduce; without
floats, JCS is exactly "keys sorted, no whitespace, UTF-8, minimal escaping", which orjson
produces byte for byte, and so does the standard library's ``json`` where orjson is not
installed (``casework_verify.fastjson``; the verifier needs nothing but cryptography). Two
corner cases are handled explicitly:

* JCS sorts keys by UTF-16 code units while both encoders sort by code point. The
  orders only differ for keys outside the Basic Multilingual Plane, so those rare objects are
  pre-sorted here and serialized in insertion order.
* I-JSON (which JCS requires) only guarantees integers in +-(2**53 - 1); larger ones are
  refused rather than silently encoded in a form other JCS implementations would not match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from casework_verify import fastjson

MAX_SAFE_INTEGER = 2**53 - 1

_SCALARS = (str, bool, type(None))


def canonical_json(obj: Any) -> bytes:
    """Encode ``obj`` (dict/list/tuple/str/int/bool/None, str keys only) as canonical JSON.

    Raises TypeError for floats, non-str keys and any other type; ValueError for integers
    outside the I-JSON safe range and for strings that are not valid Unicode (lone surrogates).
    """
    return _encode(obj, fastjson.encode)


def _encode(obj: Any, dumps: Callable[[Any, bool], bytes]) -> bytes:
    """``canonical_json`` by one encoder (``fastjson.dumps_orjson`` or ``dumps_stdlib``)."""
    astral = _check(obj)
    try:
        if astral:
            return dumps(_utf16_sorted(obj), False)
        return dumps(obj, True)
    except fastjson.ENCODE_ERRORS as exc:  # only lone surrogates get past _check
        raise ValueError(f"not encodable as canonical JSON: {exc}") from exc


def _check(value: Any) -> bool:
    """Validate the whole structure; return True if some key lies outside the BMP."""
    kind = type(value)  # the exact built-in types first: this runs for every event
    if kind is str or kind is bool or value is None:
        return False
    if kind is int:
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise ValueError(f"integer {value} is outside the I-JSON range +-(2**53 - 1)")
        return False
    if kind is dict:
        astral = False
        for key, item in value.items():
            if type(key) is not str and not isinstance(key, str):
                raise TypeError(f"object keys must be str, not {type(key).__name__}")
            if not key.isascii() and max(key) > "\uffff":
                astral = True
            astral = _check(item) or astral
        return astral
    return _check_subclassed(value)


def _check_subclassed(value: Any) -> bool:
    """``_check`` for anything but the exact built-in types: subclasses (a StrEnum, say) and refusals."""
    if isinstance(value, float):
        raise TypeError("floats are not allowed in canonical JSON (use int or str)")
    if isinstance(value, _SCALARS):
        return False
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise ValueError(f"integer {value} is outside the I-JSON range +-(2**53 - 1)")
        return False
    if isinstance(value, dict):
        return _check(dict(value))
    if isinstance(value, (list, tuple)):
        astral = False
        for item in value:
            astral = _check(item) or astral
        return astral
    raise TypeError(f"{type(value).__name__} is not allowed in canonical JSON")


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _utf16_sorted(value: Any) -> Any:
    """Copy ``value`` with every object's keys in JCS (UTF-16 code unit) order."""
    if isinstance(value, dict):
        return {key: _utf16_sorted(value[key]) for key in sorted(value, key=_utf16_key)}
    if isinstance(value, (list, tuple)):
        return [_utf16_sorted(item) for item in value]
    return value
