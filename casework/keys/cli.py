"""Operator commands: ``flask --app wsgi keys status|rotate|rewrap|retire``."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from casework.custody import recorder
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
    recorder.record("keys.rotate", resource_type="kek", resource_id=new, details={"via": "cli"})
    recorder.commit()
    click.echo(f"new current KEK: {new}; now run `keys rewrap`")


@keys_cli.command("rewrap")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10000))
def rewrap_command(batch_size: int) -> None:
    """Rewrap every live data key under the current KEK (resumable; ciphertext untouched)."""
    done = rewrap_all(batch_size)
    recorder.record("keys.rewrap", resource_type="kek", resource_id=keyring().current_kek_id(),
                    details={"rewrapped": done, "via": "cli"})
    recorder.commit()
    click.echo("rewrapped: " + ", ".join(f"{n} {label}" for label, n in done.items()))


@keys_cli.command("retire")
@click.argument("kek_id")
def retire_command(kek_id: str) -> None:
    """Delete an old KEK from the keyring once no live record uses it."""
    remaining = records_under(kek_id)
    if remaining:
        raise click.ClickException(f"{remaining} live records still use {kek_id}; run `keys rewrap` first")
    keyring().retire(kek_id)
    recorder.record("keys.retire", resource_type="kek", resource_id=kek_id, details={"via": "cli"})
    recorder.commit()
    click.echo(f"retired {kek_id}")
