"""Flask extension singletons, bound to the app in ``create_app``."""

from __future__ import annotations

import http
from typing import Any

from flask import Response, current_app
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields

from casework.db import db
from casework.problems import PROBLEM_MIMETYPE, to_problem


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(metadata={"description": "Field errors by location (json, query, path, form)."})


class CaseworkApi(Api):
    """flask-smorest Api whose errors are RFC 9457 problems, raised and documented alike."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: Exception) -> Response:
        return to_problem(error)

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        default: dict[str, Any] = {"description": "Error (RFC 9457 problem details)", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, default, lazy=True)


# ``app.extensions`` key of the app's throttle handler, installed by ``casework.access.hooks``:
# ``handler(limit, limit_key, reset_time)``, called for every refusal by a rate limit.
THROTTLE_HANDLER = "casework.throttle_handler"


def _on_breach(breached: RequestLimit) -> None:
    """Every refusal by a Flask-Limiter limit (the login limits) goes to the throttle handler,
    which summarises 429s in the custody log instead of recording each one."""
    handler = current_app.extensions.get(THROTTLE_HANDLER)
    if handler is not None:
        handler(breached.limit, breached.key, breached.window.reset_time)


migrate = Migrate()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[], on_breach=_on_breach)
api = CaseworkApi()

__all__ = ["api", "db", "limiter", "login_manager", "migrate"]
