"""Operator commands: publish checkpoints (and gather cosignatures), export, verify offline."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from casework.access import door
from casework.access.targets import Target
from casework.custody import checkpoints
from casework.custody.export import export_lines
from casework.custody.verify import main as verify_main
from casework.db import db
from casework.errors import CustodyUnavailable, LogCorrupted
from casework.keys import signer

custody_cli = AppGroup("custody", help="Publish, export and verify the chain-of-custody log.")
LOG = Target("custody_log")


def configured_witnesses() -> list[checkpoints.Witness]:
    """CASEWORK_WITNESSES: a JSON file listing {name, vkey, url} for each witness."""
    path = current_app.config.get("CASEWORK_WITNESSES")
    if not path:
        return []
    return [checkpoints.Witness(w["name"], w["vkey"], w["url"]) for w in json.loads(Path(path).read_text())]


def quorum(witnesses: list[checkpoints.Witness]) -> int:
    configured = current_app.config.get("CASEWORK_WITNESS_QUORUM")
    return int(configured) if configured is not None else len(witnesses)


def publish_once(witnesses: list[checkpoints.Witness]) -> tuple[str, dict[str, str]]:
    """Record the publication, sign the tree head that includes it, then ask the witnesses.

    The publication's own event is inside the head it signs, so a fresh checkpoint covers the
    whole log; a refusal is recorded too.
    """
    door.system_access("custody.publish", LOG)
    door.commit()
    try:
        published = checkpoints.publish(signer())
        db.session.commit()
    except LogCorrupted as exc:
        db.session.rollback()
        door.system_access("custody.publish.refused", LOG, reason=str(exc))
        door.commit()
        raise
    results = checkpoints.gather_cosignatures(published, witnesses) if witnesses else {}
    db.session.commit()
    return checkpoints.cosigned(published), results


@custody_cli.command("publish")
@click.option("--every", type=click.FloatRange(min=1), default=None,
              help="Keep publishing every N seconds (the background option).")
def publish(every: float | None) -> None:
    """Sign the current tree head if the signer can prove it consistent, and gather cosignatures."""
    while True:
        witnesses = configured_witnesses()
        try:
            note, results = publish_once(witnesses)
        except LogCorrupted as exc:
            click.echo(f"REFUSED: {exc}", err=True)
            raise SystemExit(2) from None
        cosigned = sum(1 for r in results.values() if r == "ok")
        sys.stdout.write(note)
        for name, result in sorted(results.items()):
            click.echo(f"witness {name}: {result}", err=True)
        if witnesses and cosigned < quorum(witnesses):
            click.echo(f"warning: {cosigned} of {quorum(witnesses)} witness cosignatures needed", err=True)
            if every is None:
                raise SystemExit(3)
        if every is None:
            return
        time.sleep(every)
        db.session.remove()


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
    published = checkpoints.all_published()
    for checkpoint in published:
        (folder / f"{checkpoint.tree_size:012d}.txt").write_text(checkpoints.cosigned(checkpoint))
    if published:
        (directory / "checkpoint.txt").write_text(checkpoints.cosigned(published[-1]))
    (directory / "log.vkey").write_text(signer().vkey() + "\n")
    witnesses = configured_witnesses()
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
    """Verify an export offline (same arguments as ``python -m casework.custody.verify``)."""
    ctx.exit(verify_main(ctx.args))
