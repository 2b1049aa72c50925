"""Operator commands: publish checkpoints (and gather cosignatures), export, verify offline."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from casework.access import door
from casework.access.targets import Target
from casework.custody import integrator, publication
from casework.custody.export import export_lines
from casework.custody.signer import SignerBusy, signer
from casework.db import db
from casework.errors import CustodyUnavailable, LogCorrupted
from casework.settings import settings
from casework_verify.cli import main as verify_main

custody_cli = AppGroup("custody", help="Publish, export and verify the chain-of-custody log.")
LOG = Target("custody_log")


def quorum(witnesses: list[publication.WitnessEndpoint]) -> int:
    """CASEWORK_WITNESS_QUORUM, at least a majority of the configured witnesses (checked at start)."""
    return publication.majority_quorum(witnesses, settings().custody.witness_quorum)


def publish_once(witnesses: list[publication.WitnessEndpoint], *, wait: bool = True) -> publication.Publication:
    """Record the publication, sign the tree head that includes it, then ask the witnesses.

    The publication's own event is inside the head it signs, so a fresh checkpoint covers the
    whole log. A refusal is recorded too, with the first differing seq where there is one.
    """
    try:
        door.system_access("custody.publish", LOG)
        door.commit()
    except CustodyUnavailable:  # the log cannot take events: the publication says why, or signs
        click.echo("warning: the custody log could not record this publication", err=True)
    try:
        return publication.publish(signer(), witnesses, wait=wait)
    except LogCorrupted as exc:
        db.session.rollback()
        seq = exc.first_bad_seq if isinstance(exc, publication.PublicationRefused) else None
        with contextlib.suppress(CustodyUnavailable):
            door.system_access("custody.publish.refused", LOG, reason=str(exc)[:500], first_bad_seq=seq)
            door.commit()
        raise


@custody_cli.command("publish")
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    default=None,
    help="Keep publishing every N seconds (the publisher service; see `custody serve`).",
)
@click.option("--no-wait", is_flag=True, help="Exit (status 4) if another publisher is signing, instead of waiting.")
def publish(every: float | None, no_wait: bool) -> None:
    """Sign the current tree head if the signer can recompute it, and gather cosignatures."""
    while True:
        _publish_and_report(publication.configured_witnesses(), exit_on_quorum=every is None, wait=not no_wait)
        if every is None:
            return
        time.sleep(every)
        db.session.remove()


def _publish_and_report(
    witnesses: list[publication.WitnessEndpoint], *, exit_on_quorum: bool, wait: bool = True
) -> None:
    try:
        needed = quorum(witnesses)
        result = publish_once(witnesses, wait=wait)
    except ValueError as exc:
        click.echo(f"REFUSED: {exc}", err=True)
        raise SystemExit(2) from None
    except SignerBusy as exc:
        click.echo(f"BUSY: {exc}", err=True)
        raise SystemExit(4) from None
    except LogCorrupted as exc:
        click.echo(f"REFUSED: {exc}", err=True)
        raise SystemExit(2) from None
    cosigned = sum(1 for r in result.cosignatures.values() if r == "ok")
    sys.stdout.write(result.published.cosigned)
    sys.stdout.flush()
    for name, outcome in sorted(result.cosignatures.items()):
        click.echo(f"witness {name}: {outcome}", err=True)
    if witnesses and cosigned < needed:
        click.echo(f"warning: {cosigned} of {needed} witness cosignatures needed", err=True)
        if exit_on_quorum:
            raise SystemExit(3)


@custody_cli.command("serve")
@click.option(
    "--publish-every",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds between checkpoints.",
)
def serve(publish_every: float) -> None:
    """The publisher service: integrate within the merge delay, publish on a cadence, forever."""
    witnesses = publication.configured_witnesses()
    quorum(witnesses)  # a quorum that is not a majority is refused at start
    delay = settings().custody.merge_delay
    integrator.run(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        delay,
        publish_every=publish_every,
        publish=lambda: _publish_and_report(witnesses, exit_on_quorum=False),
    )


@custody_cli.command("recover-state")
def recover_state() -> None:
    """Rebuild the signer's state from a quorum of witnesses' latest cosigned checkpoint."""
    witnesses = publication.configured_witnesses()
    try:
        state = publication.recover_state(signer(), witnesses, quorum(witnesses))
    except (ValueError, LogCorrupted) as exc:
        door.system_access("custody.recover_state.refused", LOG, reason=str(exc)[:500])
        door.commit()
        click.echo(f"REFUSED: {exc}", err=True)
        raise SystemExit(2) from None
    door.system_access("custody.recover_state", LOG, tree_size=state.size)
    door.commit()
    click.echo(f"signer state recovered at size {state.size}")


@custody_cli.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export(directory: Path) -> None:
    """Write log.jsonl, every published checkpoint with its cosignatures, and log.vkey.

    Export is the forensic tool for a damaged log, so it still runs when the log cannot
    record: it warns. It signs nothing; verify against checkpoints kept elsewhere.
    """
    directory.mkdir(parents=True, exist_ok=True)
    try:
        door.system_access("custody.export", LOG, via="cli")
        door.commit()
    except CustodyUnavailable:
        click.echo("warning: the custody log could not record this export", err=True)
    folder = directory / "checkpoints"
    folder.mkdir(exist_ok=True)
    published = publication.all_published(signer())
    for checkpoint in published:
        (folder / f"{checkpoint.size:012d}.txt").write_text(checkpoint.cosigned)
    if published:
        (directory / "checkpoint.txt").write_text(published[-1].cosigned)
    (directory / "log.vkey").write_text(signer().vkey() + "\n")
    witnesses = publication.configured_witnesses()
    (directory / "witnesses.vkey").write_text("".join(w.vkey + "\n" for w in witnesses))
    count = 0
    with (directory / "log.jsonl").open("wb") as out:
        for line in export_lines():
            out.write(line)
            count += 1
    click.echo(f"exported {count} events and {len(published)} checkpoints to {directory}")


@custody_cli.command("verify", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def verify(ctx: click.Context) -> None:
    """Verify an export offline (same arguments as ``casework-verify log``)."""
    ctx.exit(verify_main(["log", *ctx.args]))
