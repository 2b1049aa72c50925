"""Operator commands: export the log, sign a checkpoint, verify an export offline."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from casework.custody import log, recorder, service
from casework.custody.canonical import canonical_json
from casework.custody.models import CustodyEvent, CustodyNode
from casework.custody.verify import main as verify_main
from casework.db import db

custody_cli = AppGroup("custody", help="Export, checkpoint and verify the chain-of-custody log.")


def export_lines(batch: int = 5000):
    """Every event as an export line, in seq order, streamed in batches.

    The leaf hash comes from the tree (custody_nodes level 0), not from the event row, so a
    row edited in place, even with its own leaf_hash column recomputed, is named exactly.
    """
    statement = (
        select(CustodyEvent, CustodyNode.hash)
        .outerjoin(CustodyNode, (CustodyNode.level == 0) & (CustodyNode.index == CustodyEvent.seq))
        .order_by(CustodyEvent.seq)
        .execution_options(yield_per=batch)
    )
    for event, tree_leaf in db.session.execute(statement):
        yield canonical_json({"entry": event.entry(), "leaf_hash": (tree_leaf or b"").hex()}) + b"\n"


@custody_cli.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export(directory: Path) -> None:
    """Write log.jsonl, checkpoint.txt and log.vkey into DIRECTORY, for offline verification.

    Export is the forensic tool for a damaged log, so unlike the API it still runs when the
    log cannot record or sign: it warns and exports the last checkpoint signed while intact.
    """
    directory.mkdir(parents=True, exist_ok=True)
    try:
        recorder.record("custody.export", resource_type="custody_log", details={"via": "cli"})
        recorder.commit()
    except recorder.CustodyUnavailable:
        click.echo("warning: the custody log could not record this export", err=True)
    try:
        signed = service.sign_checkpoint()
        db.session.commit()
    except log.LogCorrupted as exc:
        db.session.rollback()
        click.echo(f"warning: not signing a new checkpoint: {exc}", err=True)
        signed = service.last_signed_checkpoint()
    (directory / "checkpoint.txt").write_text(signed)
    (directory / "log.vkey").write_text(service.vkey() + "\n")
    count = 0
    with (directory / "log.jsonl").open("wb") as out:
        for line in export_lines():
            out.write(line)
            count += 1
    click.echo(f"exported {count} events to {directory}")


@custody_cli.command("checkpoint")
def checkpoint() -> None:
    """Sign (if the log grew) and print the latest checkpoint."""
    recorder.record("custody.checkpoint.read", resource_type="custody_log", details={"via": "cli"})
    recorder.commit()
    signed = service.sign_checkpoint()
    db.session.commit()
    sys.stdout.write(signed)


@custody_cli.command("verify", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def verify(ctx: click.Context) -> None:
    """Verify an export offline (same arguments as ``python -m casework.custody.verify``)."""
    ctx.exit(verify_main(ctx.args))
