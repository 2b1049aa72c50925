"""Operator commands: ``flask --app wsgi keys status|rotate|rewrap|retire``."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from casework.access import door
from casework.access.targets import Target
from casework.keys import keyring
from casework.keys.rotation import records_under, rewrap_all, status

keys_cli = AppGroup("keys", help="Key-encryption keys: status, rotation, rewrap, retirement.")


@keys_cli.command("status")
def status_command() -> None:
    """Which KEK protects how many records (and how many are shredded)."""
    current = keyring().current_kek_id()
    click.echo(f"current KEK: {current}; keyring holds: {', '.join(keyring().kek_ids())}")
    for row in status():
        state = "shredded" if row["shredded"] else "live"
        click.echo(f"{row['records']:<22} {row['kek_id']:<10} {state:<9} {row['count']}")


@keys_cli.command("rotate")
def rotate_command() -> None:
    """Make a new KEK current (old ones stay until every record is rewrapped)."""
    new = keyring().rotate()
    door.system_access("keys.rotate", Target("kek", new), via="cli")
    door.commit()
    click.echo(f"new current KEK: {new}; now run `keys rewrap`")


@keys_cli.command("rewrap")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10000))
def rewrap_command(batch_size: int) -> None:
    """Rewrap every live data key under the current KEK (resumable; ciphertext untouched)."""
    done = rewrap_all(batch_size)
    door.system_access("keys.rewrap", Target("kek", keyring().current_kek_id()), rewrapped=done, via="cli")
    door.commit()
    click.echo("rewrapped: " + ", ".join(f"{n} {label}" for label, n in done.items()))


@keys_cli.command("retire")
@click.argument("kek_id")
def retire_command(kek_id: str) -> None:
    """Delete an old KEK from the keyring once no live record uses it."""
    remaining = records_under(kek_id)
    if remaining:
        raise click.ClickException(f"{remaining} live records still use {kek_id}; run `keys rewrap` first")
    keyring().retire(kek_id)
    door.system_access("keys.retire", Target("kek", kek_id), via="cli")
    door.commit()
    click.echo(f"retired {kek_id}")
