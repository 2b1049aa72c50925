"""Flask extension singletons, bound to the app in ``create_app``."""
from __future__ import annotations

from flask import Response
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api

from casework.db import db
from casework.errors import to_problem


class CaseworkApi(Api):
    """flask-smorest Api whose errors are RFC 9457 problems, like every other error here."""

    def handle_http_exception(self, error) -> Response:  # type: ignore[override]
        return to_problem(error)


migrate = Migrate()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
api = CaseworkApi()

__all__ = ["api", "db", "limiter", "login_manager", "migrate"]
