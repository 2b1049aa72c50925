"""``casework login``: a session only long enough to make a personal token, then the token alone.

The steps the server asks for, in its order: POST /auth/login (password, and the TOTP code when
the account has a second factor); if an administrator set the password, POST /auth/password
with a new one (nothing else is allowed before it); POST /auth/tokens; POST /auth/logout. The
session is cookie-authenticated, so each change carries the X-CSRF-Token the login answered.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from casework_client.api import API, TIMEOUT, USER_AGENT, ApiError, Unreachable, check
from casework_client.config import Config

PASSWORD_ENV = "CASEWORK_PASSWORD"  # noqa: S105 (a variable's name)
NEW_PASSWORD_ENV = "CASEWORK_NEW_PASSWORD"  # noqa: S105 (a variable's name)


class LoginFailed(Exception):
    """Login could not finish; the message says what the user has to do."""


@dataclass
class Secrets:
    """Where each secret comes from: an option, the environment, or a prompt (a terminal only)."""

    password: str | None
    totp: str | None
    new_password: str | None
    interactive: bool
    prompt: Callable[[str], str] = getpass.getpass

    @classmethod
    def gather(cls, totp: str | None, new_password: str | None) -> Secrets:
        return cls(
            os.environ.get(PASSWORD_ENV), totp, new_password or os.environ.get(NEW_PASSWORD_ENV), sys.stdin.isatty()
        )

    def the_password(self, username: str) -> str:
        if self.password is None:
            if not self.interactive:
                raise LoginFailed(f"no password: set {PASSWORD_ENV} or run in a terminal")
            self.password = self.prompt(f"Password for {username}: ")
        return self.password

    def the_code(self) -> str:
        if self.totp is None:
            if not self.interactive:
                raise LoginFailed("this account has a second factor: pass --totp CODE (or run in a terminal)")
            self.totp = self.prompt("Authenticator code (or a recovery code): ").strip()
        return self.totp

    def the_new_password(self) -> str:
        if self.new_password is None:
            if not self.interactive:
                raise LoginFailed(
                    "an administrator set this account's password and it must be changed before "
                    f"anything else: pass --new-password or set {NEW_PASSWORD_ENV} (or run in a "
                    "terminal)"
                )
            print(
                "An administrator set your password: choose your own now (at least 12 characters, hard to guess).",
                file=sys.stderr,
            )
            first = self.prompt("New password: ")
            if first != self.prompt("New password again: "):
                raise LoginFailed("the two new passwords differ; nothing was changed")
            self.new_password = first
        return self.new_password


def _second_factor(code: str) -> dict[str, str]:
    digits = code.replace(" ", "")
    return {"otp": digits} if digits.isdigit() and len(digits) == 6 else {"recovery_code": code}


def login(
    server: str, username: str, secrets: Secrets, *, token_days: int, say: Callable[[str], None]
) -> dict[str, Any]:
    """Log in, change an administrator-set password if asked, and answer a new token (shown once)."""
    with httpx.Client(base_url=server.rstrip("/"), headers={"User-Agent": USER_AGENT}, timeout=TIMEOUT) as http:

        def post(
            path: str, body: Any, *expected: int, csrf: str | None = None, cookie: str | None = None
        ) -> httpx.Response:
            headers = {}
            if csrf:
                headers["X-CSRF-Token"] = csrf
            if cookie:
                headers["Cookie"] = cookie  # sent as is: a Secure cookie over plain http on a test box too
            try:
                return check(http.post(API + path, json=body, headers=headers), *expected)
            except httpx.TransportError as exc:
                raise Unreachable(f"cannot reach {server}: {exc or type(exc).__name__}") from None

        body: dict[str, Any] = {"username": username, "password": secrets.the_password(username)}
        if secrets.totp:
            body.update(_second_factor(secrets.totp))
        try:
            answer = post("/auth/login", body)
        except ApiError as exc:
            if exc.problem != "mfa-required" or "otp" in body or "recovery_code" in body:
                raise
            body.update(_second_factor(secrets.the_code()))
            answer = post("/auth/login", body)
        me = answer.json()
        cookie = "; ".join(f"{name}={value}" for name, value in answer.cookies.items())
        csrf = me.get("csrf_token")
        if me.get("must_change_password"):
            new_password = secrets.the_new_password()
            try:
                post(
                    "/auth/password",
                    {"current_password": body["password"], "new_password": new_password},
                    204,
                    csrf=csrf,
                    cookie=cookie,
                )
            except ApiError as exc:
                if exc.problem == "weak-password":
                    raise LoginFailed(
                        f"the server refused the new password as too easy to guess: {exc.errors}"
                    ) from None
                raise
            say("Password changed (every other session and token of this account ended).")
        if me.get("mfa_enrolment_required"):
            raise LoginFailed(
                "your role must use a second factor: enrol an authenticator first "
                "(POST /api/v1/auth/mfa/totp, then /confirm), then log in again with --totp"
            )
        name = f"casework CLI on {socket.gethostname()}"[:100]
        token = post(
            "/auth/tokens", {"name": name, "expires_in_days": token_days}, 201, csrf=csrf, cookie=cookie
        ).json()
        with contextlib.suppress(ApiError, Unreachable):  # else the session expires by itself
            post("/auth/logout", None, 204, csrf=csrf, cookie=cookie)
        return {"me": me, "token": token}


def store(config: Config, server: str, username: str, token: dict[str, Any]) -> int | None:
    """Keep the new token; answer the id of the one it replaces (for the caller to revoke)."""
    previous = config.token_id if config.server == server.rstrip("/") and config.username == username else None
    config.server, config.username = server.rstrip("/"), username
    config.token, config.token_id, config.token_expires_at = token["token"], token["id"], token.get("expires_at")
    config.save()
    return previous
