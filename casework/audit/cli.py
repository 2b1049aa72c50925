"""Operator commands: export the log, sign a checkpoint, verify an export offline."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from casework.access import door
from casework.access.targets import Target
from casework.custody import checkpoints
from casework.custody.export import export_lines
from casework.custody.verify import main as verify_main
from casework.db import db
from casework.errors import CustodyUnavailable, LogCorrupted
from casework.keys import keyring

custody_cli = AppGroup("custody", help="Export, checkpoint and verify the chain-of-custody log.")
LOG = Target("custody_log")


@custody_cli.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export(directory: Path) -> None:
    """Write log.jsonl, checkpoint.txt and log.vkey into DIRECTORY, for offline verification.

    Export is the forensic tool for a damaged log, so unlike the API it still runs when the
    log cannot record or sign: it warns and exports the last checkpoint signed while intact.
    """
    directory.mkdir(parents=True, exist_ok=True)
    try:
        door.system_access("custody.export", LOG, via="cli")
        door.commit()
    except CustodyUnavailable:
        click.echo("warning: the custody log could not record this export", err=True)
    try:
        signed = checkpoints.sign_checkpoint(keyring())
        db.session.commit()
    except LogCorrupted as exc:
        db.session.rollback()
        click.echo(f"warning: not signing a new checkpoint: {exc}", err=True)
        signed = checkpoints.last_signed_checkpoint()
    (directory / "checkpoint.txt").write_text(signed)
    (directory / "log.vkey").write_text(checkpoints.vkey(keyring()) + "\n")
    count = 0
    with (directory / "log.jsonl").open("wb") as out:
        for line in export_lines():
            out.write(line)
            count += 1
    click.echo(f"exported {count} events to {directory}")


@custody_cli.command("checkpoint")
def checkpoint() -> None:
    """Sign (if the log grew) and print the latest checkpoint."""
    door.system_access("custody.checkpoint.read", LOG, via="cli")
    door.commit()
    signed = checkpoints.sign_checkpoint(keyring())
    db.session.commit()
    sys.stdout.write(signed)


@custody_cli.command("verify", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def verify(ctx: click.Context) -> None:
    """Verify an export offline (same arguments as ``python -m casework.custody.verify``)."""
    ctx.exit(verify_main(ctx.args))
