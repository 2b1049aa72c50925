"""The workbench's languages: every string translatable (Flask-Babel), English and Ukrainian
shipped, dates and numbers in the reader's locale, and the page's direction from its language.

The reader chooses with ``?lang=`` on any page (kept in the session); otherwise the browser's
Accept-Language decides. Transcripts keep their own direction (``dir="auto"``), so Arabic text
reads right to left inside an English or Ukrainian page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, request, session
from flask_babel import Babel, format_datetime, get_locale, lazy_gettext

LANGUAGES = {"en": "English", "uk": "Українська"}
DEFAULT_LANGUAGE = "en"
RIGHT_TO_LEFT = frozenset({"ar", "fa", "he", "ur"})

ROLE_NAMES = {
    "admin": lazy_gettext("administrator"),
    "interviewer": lazy_gettext("interviewer"),
    "legal": lazy_gettext("lawyer"),
    "auditor": lazy_gettext("auditor"),
}

babel = Babel()


def role_name(role: str) -> str:
    return str(ROLE_NAMES.get(role, role))


def select_locale() -> str:
    chosen = session.get("lang")
    if isinstance(chosen, str) and chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def remember_choice() -> None:
    """``?lang=uk`` on any page switches the language for the rest of the session."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen


def text_direction() -> str:
    return "rtl" if str(get_locale()).split("_")[0] in RIGHT_TO_LEFT else "ltr"


def when(value: Any, format: str = "medium") -> str:
    """A time from a model or a schema (ISO text), in the reader's locale; empty for none."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return format_datetime(value, format)


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters["when"] = when
