"""Casework: witness-interview case management with a verifiable chain of custody."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from config import load_config

if TYPE_CHECKING:
    from casework.settings import CustodySettings


def _check_witness_quorum(custody: CustodySettings) -> None:
    """A quorum that is not a majority of the configured witnesses is refused at start: two
    disjoint minorities could each cosign one side of a fork."""
    import json
    from pathlib import Path

    from casework.custody.publication import majority_quorum

    if custody.witnesses_file:
        witnesses = json.loads(Path(custody.witnesses_file).read_text())
        majority_quorum(witnesses, custody.witness_quorum)


def _warn_about_database_role(app: Flask) -> None:
    """On PostgreSQL, a WARNING at start when the app's database role could rewrite the custody log:
    a superuser, or the owner of custody tables (or a member of the owner), can drop or bypass their
    append-only triggers, which the app's role (casework_app) cannot. The app still starts: the
    signer and the witnesses catch a rewrite of what was signed, but not of what was not yet."""
    import logging
    import os

    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from casework.custody import append_only
    from casework.extensions import db

    log = logging.getLogger("casework.security")
    with app.app_context():
        engine = db.engine
        if engine.dialect.name != "postgresql":
            return
        tables = [*append_only.TABLES, append_only.HEAD_TABLE, append_only.INTAKE_TABLE]
        try:
            with engine.connect() as conn:
                role, superuser = conn.execute(
                    text("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
                ).one()
                owned = list(
                    conn.scalars(
                        text(
                            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                            "AND tablename = ANY(:tables) AND pg_has_role(current_user, tableowner, 'USAGE') "
                            "ORDER BY tablename"
                        ),
                        {"tables": tables},
                    )
                )
        except SQLAlchemyError as exc:
            log.warning("could not check the database role's rights over the custody log (%s)", exc.__class__.__name__)
            return
        finally:
            engine.dispose()  # no connection opened here outlives start-up (or crosses a fork)
    if superuser:
        problem = "is a superuser: it can rewrite or delete the custody log past its append-only triggers"
    elif owned:
        problem = (
            f"owns the custody tables {', '.join(owned)}: it can drop their append-only triggers "
            "and rewrite the custody log"
        )
    else:
        return
    _, app_role = append_only.role_names({}, os.environ)
    log.warning(
        "database role %r %s. Run the app as a login role that is a member of %s, which can only append "
        '(README, "Append-only custody tables"); keep the owner or a superuser for `flask db upgrade`.',
        role,
        problem,
        app_role,
        extra={"database_role": role, "superuser": superuser, "owned_custody_tables": owned},
    )


def create_app(env: str | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app for ``env`` (default $CASEWORK_ENV); ``overrides`` are for tests and tools."""
    from casework import api_docs, http, settings, workbench
    from casework import logging as casework_logging
    from casework.access import hooks
    from casework.auth import credentials, passwords
    from casework.custody.signer import init_signer
    from casework.extensions import api, db, limiter, migrate
    from casework.keys import init_keyring
    from casework.problems import to_problem

    app = Flask(__name__, static_folder=None)
    app.config.update(load_config(env))
    app.config.update(overrides or {})
    found = settings.init_app(app)  # a malformed setting stops the app here
    casework_logging.configure(app.config["LOG_LEVEL"])
    passwords.configure(found.password_profile)
    if found.http.trusted_proxies:
        proxies = found.http.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    _check_witness_quorum(found.custody)
    _import_models()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True)
    _warn_about_database_role(app)
    keyring = init_keyring(app)
    init_signer(app, keyring)  # the log signs with a key of the keyring; the keyring knows nothing of the log

    # Order matters: custody context first, so every later refusal is recorded under its request id;
    # then the anonymous limit and the limiter's checks, before authentication refuses anyone.
    hooks.init_app(app)
    limiter.init_app(app)
    credentials.init_app(app)
    http.init_app(app)

    api.init_app(app)
    _register_blueprints(api)
    api_docs.init_app(app)
    workbench.init_app(app)
    app.register_error_handler(HTTPException, to_problem)
    app.register_error_handler(Exception, to_problem)

    @app.after_request
    def _finish(response: Response) -> Response:
        return http.add_security_headers(hooks.finish(response))

    @app.get("/health", endpoint="health")
    def health() -> dict[str, str]:
        """Liveness only: touches no case data, so it is exempt from custody."""
        return {"status": "ok"}

    _register_cli(app)
    return app


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"


def _import_models() -> None:
    """Every model module, so metadata (and Alembic's autogenerate) sees every table."""
    from casework.access import models as _access  # noqa: F401
    from casework.auth import models as _auth  # noqa: F401
    from casework.blobs import models as _blobs  # noqa: F401
    from casework.cases import models as _cases  # noqa: F401
    from casework.custody import models as _custody  # noqa: F401
    from casework.disclosure import models as _disclosure  # noqa: F401
    from casework.exhibits import models as _exhibits  # noqa: F401
    from casework.incidents import models as _incidents  # noqa: F401
    from casework.interviews import models as _interviews  # noqa: F401
    from casework.redactions import models as _redactions  # noqa: F401
    from casework.transcripts import models as _transcripts  # noqa: F401
    from casework.witnesses import erasure_models as _erasures  # noqa: F401
    from casework.witnesses import models as _witnesses  # noqa: F401


def _register_blueprints(api: Any) -> None:
    from casework.audit.views import blp as custody_blp
    from casework.auth.views import blp as auth_blp
    from casework.casefile.views import blp as casefile_blp
    from casework.cases.views import blp as cases_blp
    from casework.consent.views import blp as consent_blp
    from casework.disclosure.views import blp as disclosures_blp
    from casework.erasures.views import blp as erasures_blp
    from casework.exhibits.views import blp as exhibits_blp
    from casework.incidents.views import blp as incidents_blp
    from casework.interviews.views import blp as interviews_blp
    from casework.redactions.views import blp as redactions_blp
    from casework.transcripts.views import blp as transcripts_blp
    from casework.users.views import blp as users_blp
    from casework.witnesses.views import blp as witnesses_blp

    for blueprint in (
        auth_blp,
        users_blp,
        cases_blp,
        incidents_blp,
        witnesses_blp,
        consent_blp,
        interviews_blp,
        transcripts_blp,
        casefile_blp,
        custody_blp,
        exhibits_blp,
        redactions_blp,
        disclosures_blp,
        erasures_blp,
    ):
        api.register_blueprint(blueprint)


def _register_cli(app: Flask) -> None:
    from casework.audit.cli import custody_cli
    from casework.exhibits.cli import exhibits_cli
    from casework.keys.cli import keys_cli
    from casework.users.cli import users_cli

    for group in (users_cli, custody_cli, keys_cli, exhibits_cli):
        app.cli.add_command(group)
