"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile), and strength.

The profile is configuration: the test environment may choose argon2's cheapest parameters so
that a suite creating thousands of accounts stays fast; production refuses that profile.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn  # type: ignore[import-untyped]

from casework.errors import Invalid

PROFILES = {
    "rfc9106-low-memory": profiles.RFC_9106_LOW_MEMORY,
    "cheapest-for-tests": profiles.CHEAPEST,
}
DEFAULT_PROFILE = "rfc9106-low-memory"

_hasher = PasswordHasher.from_parameters(PROFILES[DEFAULT_PROFILE])
# Verified against when the username is unknown, so both paths cost the same time.
_dummy_hash = _hasher.hash("casework-dummy-password-for-timing")


def configure(profile: str) -> None:
    """Use the named argon2 parameters for new hashes (existing ones verify whatever they used)."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher.from_parameters(PROFILES[profile])
    _dummy_hash = _hasher.hash("casework-dummy-password-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _dummy_hash, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


# Strength: zxcvbn's estimate (0-4) of how hard a password is to guess, with the account's own
# words (username, display name, the product's name) counted as guessable.
MIN_SCORE = 3
_ZXCVBN_MAX = 72  # zxcvbn refuses longer input; a longer password is at least as strong as its start
_zxcvbn_lock = threading.Lock()  # zxcvbn keeps the user's words in a module-level dictionary


def _own_words(username: str, display_name: str | None) -> list[str]:
    words = [username, "casework"]
    words += [part for part in re.split(r"[._-]+", username) if len(part) > 2]
    if display_name:
        words.append(display_name)
        words += [part for part in re.split(r"\W+", display_name) if len(part) > 2]
    return words


def _score(password: str, words: list[str]) -> dict[str, Any]:
    if not password:
        return {"score": 0, "feedback": {}}
    with _zxcvbn_lock:
        return zxcvbn(password[:_ZXCVBN_MAX], user_inputs=words)


def _without(password: str, words: list[str]) -> str:
    """The password with the account's own words taken out (they are the first guesses)."""
    for word in sorted({w for w in words if len(w) > 2}, key=len, reverse=True):
        password = re.sub(re.escape(word), "", password, flags=re.IGNORECASE)
    return password


def weakness(password: str, *, username: str, display_name: str | None = None) -> list[str]:
    """Why ``password`` is too easy to guess (zxcvbn's warning and suggestions), or [] if strong enough.

    The whole password must score ``MIN_SCORE``, and so must what is left of it without the
    account's own words: a username or a name, reordered or decorated, is no password. Never
    repeats the password: the messages are zxcvbn's fixed phrases.
    """
    words = _own_words(username, display_name)
    result = _score(password, words)
    messages: list[str] = []
    rest = _without(password, words)
    if result["score"] >= MIN_SCORE and rest != password:
        result = _score(rest, words)
        messages.append("Your username and name are guessed first: the rest of the password must be strong on its own.")
    if result["score"] >= MIN_SCORE:
        return []
    feedback = result.get("feedback") or {}
    messages.insert(0, f"Too easy to guess (strength {result['score']} of 4; at least {MIN_SCORE} is needed).")
    if feedback.get("warning"):
        messages.append(str(feedback["warning"]))
    messages += [str(s) for s in feedback.get("suggestions") or []]
    if len(messages) == 1:
        messages.append("Use a longer passphrase of several uncommon words, not your name or username.")
    return messages


def require_strong(password: str, *, field: str, username: str, display_name: str | None = None) -> None:
    """Refuse a guessable password (``Invalid``, problem ``weak-password``) with zxcvbn's feedback."""
    messages = weakness(password, username=username, display_name=display_name)
    if messages:
        raise Invalid(
            "The password is too easy to guess; see errors.",
            problem="weak-password",
            errors={"json": {field: messages}},
        )
