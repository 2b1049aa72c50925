"""Operator commands: ``flask --app wsgi keys status|rotate|rewrap|retire|reapply-erasures``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from casework.access import door
from casework.access.targets import Target
from casework.keys import keyring
from casework.keys.rotation import reapply_erasures, records_under, rewrap_all, status

keys_cli = AppGroup(
    "keys", help="Key-encryption keys and witnesses' subject keys: status, rotation, rewrap, retirement, erasures."
)


@keys_cli.command("status")
def status_command() -> None:
    """Which KEK protects how many records (and how many are shredded); "subject": a witness's own key."""
    current = keyring().current_kek_id()
    click.echo(f"current KEK: {current}; keyring holds: {', '.join(keyring().kek_ids())}")
    click.echo("records under 'subject' are wrapped by their witness's own key (not a KEK; never rewrapped)")
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


@keys_cli.command("reapply-erasures")
def reapply_erasures_command() -> None:
    """Destroy the subject keys of every witness the database records as shredded (after a keyring restore)."""
    report = reapply_erasures()
    for row in report.destroyed:
        door.system_access("keys.erasure.reapply", row.custody_target(), via="cli")
    door.system_access(
        "keys.erasures.reapply",
        Target("keyring", "subjects"),
        via="cli",
        destroyed=len(report.destroyed),
        already_destroyed=report.already_gone,
        live_without_key=[row.id for row in report.missing],
    )
    door.commit()
    click.echo(f"destroyed again: {len(report.destroyed)}; already destroyed: {report.already_gone}")
    if report.missing:
        click.echo(
            "not shredded in the database, yet their key is missing (unreadable): "
            + ", ".join(f"{type(row).__name__.lower()} {row.id}" for row in report.missing)
        )
