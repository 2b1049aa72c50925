"""The auditor's pages: the custody timeline and its fixed views (who read a witness, what a
user did), the current checkpoint with its cosignatures, and an inclusion proof checked in the
reader's own browser.

Each page calls the same audit service as the API, so it records the same custody event: the
timeline is ``custody.events.list`` with the same filters, the checkpoint page is the
checkpoint read (and the key read it shows). Filters are validated by the API's own query
schema. The verify page's checks run in the browser (``verify.js``) against what the API
serves, so a server that lied in its HTML could not make them pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.wrappers import Response

from casework.audit import service
from casework.audit.schemas import EventFilterArgs, EventSchema, InclusionArgs
from casework.custody import publication
from casework.errors import Invalid, NotFound
from casework.problems import status_of
from casework.workbench.blueprint import blp, load_form, nav_link, render
from casework_verify import cosignature, note

nav_link("custody_timeline", lazy_gettext("Custody log"), "auditor")
nav_link("checkpoint_page", lazy_gettext("Checkpoint"), "auditor")
nav_link("verify_page", lazy_gettext("Verify an event"), "auditor")

# The query fields the API's filter schema knows: nothing else in the address reaches it.
FILTER_NAMES = tuple(EventFilterArgs().fields)


def _filter_args(fixed: Mapping[str, Any]) -> dict[str, str]:
    """The filters the reader set (empty fields dropped), with a fixed view's own filter."""
    chosen = {
        name: request.args[name].strip()
        for name in FILTER_NAMES
        if name not in fixed and request.args.get(name, "").strip()
    }
    return {**chosen, **{name: str(value) for name, value in fixed.items()}}


def _timeline(heading: str, lead: str, fixed: Mapping[str, Any]) -> Response:
    """One filtered page of the log: the filter form and its results (the results alone for htmx)."""
    raw = _filter_args(fixed)
    shown = {name: value for name, value in raw.items() if name not in fixed}
    here = url_for(request.endpoint or "workbench.custody_timeline", **(request.view_args or {}))
    unpaged = {name: value for name, value in shown.items() if name != "cursor"}
    context: dict[str, Any] = {
        "heading": heading,
        "lead": lead,
        "filters": shown,
        "fixed": fixed,
        "here": here,
        "first_url": None,
        "next_url": None,
    }
    status = 200
    try:
        page = service.list_events(load_form(EventFilterArgs(), raw))
    except Invalid as error:  # refusals (403) propagate to the error page, as in the API
        status = status_of(error)
        context.update(error=error, events=None)
    else:
        context["events"] = EventSchema(many=True).dump(page["items"])
        if raw.get("cursor"):
            context["first_url"] = _with_query(here, unpaged)
        if page["next_cursor"]:
            context["next_url"] = _with_query(here, {**unpaged, "cursor": page["next_cursor"]})
    partial = request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")
    response = render(
        "workbench/audit/_results.html" if partial else "workbench/audit/timeline.html", status=status, **context
    )
    response.vary.add("HX-Request")
    return response


def _with_query(path: str, args: Mapping[str, str]) -> str:
    return f"{path}?{urlencode(args)}" if args else path


@blp.get("/custody", endpoint="custody_timeline")
def custody_timeline() -> Response:
    return _timeline(_("Custody log"), _("Every recorded access, allowed or refused, in the order it was logged."), {})


@blp.get("/custody/witnesses/<int:witness_id>", endpoint="witness_reads")
def witness_reads(witness_id: int) -> Response:
    """Who read witness W: the log filtered by the witness, as the API's ``?witness_id=``."""
    return _timeline(
        _("Who accessed witness %(id)s", id=witness_id),
        _("Every recorded access to this witness's records: reads, changes and refused attempts."),
        {"witness_id": witness_id},
    )


@blp.get("/custody/users/<int:user_id>", endpoint="user_activity")
def user_activity(user_id: int) -> Response:
    """Everything user U did: the log filtered by the actor, as the API's ``?actor_id=``."""
    return _timeline(
        _("Everything user %(id)s did", id=user_id),
        _("Every action recorded with this user as the actor, refusals included."),
        {"actor_id": user_id},
    )


@dataclass(frozen=True)
class SignatureLine:
    """One signature line of the checkpoint note, as the verifier package reads it."""

    name: str
    key_id: str
    line: str
    verified: bool | None = None  # None: no trusted key here to check it with
    timestamp: int | None = None

    @property
    def cosigned_at(self) -> datetime | None:
        """The time a witness attests in its cosignature (seconds since the epoch, UTC)."""
        return None if self.timestamp is None else datetime.fromtimestamp(self.timestamp, UTC)


@dataclass(frozen=True)
class CheckpointView:
    origin: str
    size: int
    root_hex: str
    root_b64: str
    vkey: str
    log_signature: SignatureLine | None
    cosignatures: list[SignatureLine]
    problem: str | None = None


def read_checkpoint(signed: str, vkey: str) -> CheckpointView:
    """The served note parsed and checked by ``casework_verify``: the log's signature under its
    key, and each cosignature under the witness key this server is configured with, if any."""
    text, lines = cosignature.split_note(signed)
    body = note.parse_checkpoint(text)
    log_key = note.parse_vkey(vkey)
    problem: str | None = None
    log_problem: str | None = None
    try:
        note.open_note(signed, vkey)
    except note.NoteError as error:
        problem = log_problem = str(error)
    trusted = [w.vkey for w in publication.configured_witnesses()]
    checked: dict[tuple[str, bytes], int] = {}
    if trusted:
        try:
            checked = {(c.name, c.key_id): c.timestamp for c in cosignature.cosigners(signed, trusted)}
        except cosignature.CosignatureError as error:
            problem = str(error)
    trusted_ids = {(k.name, k.key_id) for k in map(cosignature.parse_cosigner_vkey, trusted)}
    log_line, cosigned = None, []
    for line in lines:
        name, raw = cosignature.parse_signature_line(line)
        if name == log_key.name and raw[:4] == log_key.key_id:
            log_line = SignatureLine(name, raw[:4].hex(), line, verified=log_problem is None)
            continue
        known = (name, raw[:4]) in trusted_ids
        cosigned.append(
            SignatureLine(
                name,
                raw[:4].hex(),
                line,
                verified=(name, raw[:4]) in checked if known else None,
                timestamp=checked.get((name, raw[:4])),
            )
        )
    return CheckpointView(
        body.origin, body.size, body.root.hex(), text.splitlines()[2], vkey.strip(), log_line, cosigned, problem
    )


@blp.get("/custody/checkpoint", endpoint="checkpoint_page")
def checkpoint_page() -> Response:
    """The checkpoint the API serves (recorded as its read), and the log's key it is checked with."""
    try:
        signed = service.checkpoint()
    except NotFound as error:
        if error.problem_type != "no-checkpoint":
            raise
        return render("workbench/audit/checkpoint.html", status=status_of(error), checkpoint=None)
    view = read_checkpoint(signed, service.public_key())
    return render("workbench/audit/checkpoint.html", checkpoint=view, signed=signed)


@blp.get("/custody/verify", endpoint="verify_page")
def verify_page() -> Response:
    """Enter an event's seq. The page reads the checkpoint (to say what it covers) and, with a seq,
    the event, each as the API's read; ``verify.js`` then checks them against the API's answers."""
    checkpoint = _served_checkpoint()
    raw = request.args.get("seq", "").strip()
    event, error = None, None
    if raw:
        try:
            seq = load_form(InclusionArgs(only=("seq",)), {"seq": raw})["seq"]
        except Invalid as invalid:
            error = invalid
        else:
            event = EventSchema().dump(service.get_event(seq))
    witnesses = [w.vkey for w in publication.configured_witnesses()]
    return render(
        "workbench/audit/verify.html",
        status=status_of(error) if error else 200,
        event=event,
        error=error,
        seq=raw,
        witness_keys=witnesses,
        checkpoint=checkpoint,
    )


def _served_checkpoint() -> note.Checkpoint | None:
    """The latest checkpoint's body (its read recorded as the API's), or None before the first."""
    try:
        signed = service.checkpoint()
    except NotFound as error:
        if error.problem_type != "no-checkpoint":
            raise
        return None
    return note.parse_checkpoint(cosignature.split_note(signed)[0])
