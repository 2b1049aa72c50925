"""The browser workbench at ``/app/``: server-rendered pages for lawyers, auditors and
interviewers, through the same session login, services and access door as the API."""

from __future__ import annotations

from flask import Flask
from flask_babel import get_locale

from casework import problems
from casework.workbench import (  # noqa: F401  (their routes)
    audit_pages,
    case_pages,
    disclosure_pages,
    error_pages,
    i18n,
    intake_pages,
    redaction_pages,
    session_pages,
)
from casework.workbench.blueprint import NAV_LINKS, blp, csrf_token

PREFIX = "/app/"

blp.before_request(i18n.remember_choice)


def init_app(app: Flask) -> None:
    i18n.init_app(app)
    # Globals, not a context processor: imported macros (forms' CSRF field) see them too.
    app.jinja_env.globals.update(
        csrf_token=csrf_token,
        languages=i18n.LANGUAGES,
        text_direction=i18n.text_direction,
        role_name=i18n.role_name,
        get_locale=get_locale,
        nav_links=lambda: NAV_LINKS,
    )
    app.register_blueprint(blp)
    problems.render_as_page(PREFIX, error_pages.render_problem)
