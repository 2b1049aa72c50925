"""Operator commands: ``flask --app wsgi exhibits expire`` and ``exhibits seal-digests``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from casework.access import door
from casework.exhibits.completion import seal_missing_digests
from casework.exhibits.disposal import expire_uploads

exhibits_cli = AppGroup("exhibits", help="Exhibit uploads: expire abandoned ones; seal missing digests.")


@exhibits_cli.command("expire")
def expire_command() -> None:
    """Expire uploads past Upload-Expires: delete their chunks and data keys, and log each one."""
    count = expire_uploads()
    door.commit()
    click.echo(f"expired {count} abandoned upload(s)")


@exhibits_cli.command("seal-digests")
def seal_digests_command() -> None:
    """Seal the SHA-256 (served as Repr-Digest) of exhibits completed before it was sealed at completion."""
    count = seal_missing_digests()
    door.commit()
    click.echo(f"sealed the digest of {count} exhibit(s)")
