"""Operator commands: ``flask --app wsgi exhibits expire``."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from casework.access import door
from casework.exhibits.service import expire_uploads

exhibits_cli = AppGroup("exhibits", help="Exhibit uploads: expire abandoned ones.")


@exhibits_cli.command("expire")
def expire_command() -> None:
    """Expire uploads past Upload-Expires: delete their chunks and data keys, and log each one."""
    count = expire_uploads()
    door.commit()
    click.echo(f"expired {count} abandoned upload(s)")
