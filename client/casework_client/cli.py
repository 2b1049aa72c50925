"""``casework``: the command line for field interviewers, lawyers and auditors (see client/README.md).

Exit status: 0 done; 1 the server refused, or something failed; 2 usage (or not logged in);
3 a check failed (a receipt, signature, digest, quorum, or the log's key changed); 4 the log
forked or rolled back (``custody monitor``); 5 the server could not be reached.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from casework_client import __version__, bundles, custody, trust
from casework_client import login as login_flow
from casework_client.api import Api, ApiError, Unreachable
from casework_client.config import Config, ConfigError, config_dir, write_private
from casework_client.outbox import Item, Outbox, OutboxError
from casework_client.uploads import DEFAULT_CHUNK, KINDS, UrlMemory, guess_kind, send_exhibit, send_statement
from casework_verify import receipts
from casework_verify.bundle import verify_bundle
from casework_verify.cli import describe_bundle
from casework_verify.cosignature import parse_cosigner_vkey
from casework_verify.note import NoteError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNVERIFIED, EXIT_FORK, EXIT_UNREACHABLE = 0, 1, 2, 3, 4, 5

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Context:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.directory = config_dir(args.config)
        self.config = Config.load(self.directory)

    def api(self) -> Api:
        server, token = self.config.require_login()
        return Api(server, token)


def say(message: str) -> None:
    err.print(message, markup=False)


def _json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


@contextmanager
def transfer_bar(label: str) -> Iterator[tuple[Callable[[int, int], None], Callable[[int], None]]]:
    """A progress bar on stderr: ``start(total, done)`` then ``advance(done)``."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
    task = progress.add_task(label, total=None)
    with progress:

        def start(total: int, done: int) -> None:
            progress.update(task, total=total, completed=done)

        def advance(done: int) -> None:
            progress.update(task, completed=done)

        yield start, advance


# -- trust ------------------------------------------------------------------------------------


def ensure_pinned(config: Config, api: Api, *, quiet: bool = False) -> str | None:
    """The pinned log key, fetched and pinned on first use when this role may read it.

    A different key than the one pinned raises ``KeyChanged`` (nothing is replaced)."""
    try:
        offered = api.public_key()
    except Unreachable as exc:  # the upload went through; check against what is pinned
        say(f"Could not fetch the log's key now ({exc}); using the one pinned, if any.")
        return config.pinned_vkey()
    if offered is not None:
        if trust.pin(config, offered):
            say(
                f"Pinned the log's key on first use: {offered}\n  fingerprint {trust.fingerprint(offered)}\n"
                "  Compare this fingerprint with the operator's, out of band (as with a new SSH host)."
            )
    elif config.pinned_vkey() is None and not quiet:
        say(
            "This server did not give your role the log's key (GET /custody/public-key), and none "
            "is pinned for this server: receipts are kept but cannot be verified. Get the key from a lawyer, an "
            "auditor or the operator, check its fingerprint, then: casework key pin KEY_OR_FILE"
        )
    return config.pinned_vkey()


def _save_receipt(ctx: Context, name: str, receipt: dict[str, Any]) -> Path:
    directory = ctx.directory / "receipts"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{name}.json"
    write_private(path, (json.dumps(receipt, indent=2, sort_keys=True) + "\n").encode())
    return path


def show_receipt(
    ctx: Context,
    api: Api,
    title: str,
    receipt: dict[str, Any],
    kind: receipts.ReceiptKind,
    *,
    sha256: str,
    size: int,
    expect: dict[str, Any],
    notes: Sequence[str] = (),
    as_json: bool = False,
    inclusion: bool = False,
) -> int:
    """Print the receipt and what was checked of it; the exit status says whether it held."""
    vkey = ensure_pinned(ctx.config, api, quiet=True)
    failure: str | None = None
    try:
        checked = trust.check_receipt(receipt, kind, sha256=sha256, size=size, vkey=vkey, expect=expect)
        if inclusion:
            checked.facts.append(trust.check_inclusion(receipt, vkey))
    except trust.VerificationFailed as exc:
        checked, failure = trust.ReceiptCheck(False), str(exc)
    if as_json:
        _json(
            {
                "receipt": receipt,
                "verified": checked.verified and failure is None,
                "facts": checked.facts,
                "notes": list(notes),
                "unverified_reason": failure or checked.unverified_reason,
            }
        )
    else:
        table = Table(title=title, show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for name, value in receipt.items():
            if name != "custody":
                table.add_row(name, json.dumps(value) if isinstance(value, dict | list) else str(value))
        out.print(table)
        for note in notes:
            out.print(note, markup=False)
        for fact in checked.facts:
            out.print(f"[green]OK[/green] {escape(fact)}")
    if failure:
        err.print(f"[bold red]RECEIPT NOT VERIFIED:[/bold red] {escape(failure)}")
        return EXIT_UNVERIFIED
    if not checked.verified:
        err.print(
            f"[yellow]Receipt not verified: {checked.unverified_reason}.[/yellow] If your role may not "
            "read the log's key (interviewers), get it from a lawyer, an auditor or the operator, check its "
            "fingerprint, pin it (casework key pin KEY_OR_FILE) and check this receipt again with the "
            "receipt command. The receipt was saved under receipts/ in the config directory."
        )
    return EXIT_OK


# -- commands ---------------------------------------------------------------------------------


def cmd_login(ctx: Context) -> int:
    args = ctx.args
    secrets = login_flow.Secrets.gather(args.totp, args.new_password)
    made = login_flow.login(args.server, args.username, secrets, token_days=args.token_days, say=say)
    config = ctx.config
    previous = login_flow.store(config, args.server, args.username, made["token"])
    me, token = made["me"], made["token"]
    say(
        f"Logged in to {config.server} as {me['username']} ({me['role']}). Token {token['prefix']}… "
        f"expires {token.get('expires_at')}; stored in {config.path} (mode 0600)."
    )
    with ctx.api() as api:
        if previous and previous != token["id"]:
            # The token this login replaces (already revoked if the password changed: no matter).
            with contextlib.suppress(ApiError):
                api.request("DELETE", f"/auth/tokens/{previous}", 204)
        if args.log_key:
            trust.pin(config, trust.read_vkey(args.log_key), replace=False)
            say(f"Pinned the log key given: {trust.fingerprint(config.pinned_vkey() or '')}")
        ensure_pinned(config, api)
    return EXIT_OK


def cmd_logout(ctx: Context) -> int:
    config = ctx.config
    with ctx.api() as api:
        try:
            api.request("DELETE", f"/auth/tokens/{config.token_id}", 204)
            say("Token revoked.")
        except ApiError as exc:
            say(f"The server did not revoke the token ({exc}); forgetting it anyway.")
    config.token = config.token_id = config.token_expires_at = None
    config.save()
    return EXIT_OK


def cmd_key_show(ctx: Context) -> int:
    vkey = ctx.config.pinned_vkey()
    if vkey is None:
        say(f"No log key is pinned for {ctx.config.server or 'any server'}.")
        return EXIT_FAILED
    entry = ctx.config.known_logs[ctx.config.server or ""]
    out.print(f"{vkey}\n{trust.fingerprint(vkey)}\npinned {entry.get('pinned_at')} for {ctx.config.server}")
    return EXIT_OK


def cmd_key_pin(ctx: Context) -> int:
    ctx.config.require_login()
    vkey = trust.read_vkey(ctx.args.key)
    if trust.pin(ctx.config, vkey, replace=ctx.args.replace):
        say(f"Pinned for {ctx.config.server}: {vkey}\n  fingerprint {trust.fingerprint(vkey)}")
    else:
        say("That key is already the one pinned.")
    return EXIT_OK


def _statement_expect(interview_id: int) -> dict[str, Any]:
    return {"interview_id": interview_id}


def cmd_statement_upload(ctx: Context) -> int:
    args, config = ctx.args, ctx.config
    server, _ = config.require_login()
    path = Path(args.file)
    content = path.read_bytes()
    if not content:
        raise ConfigError(f"{path} is empty")
    sha256, size = trust.sha256_file(path)
    key = str(uuid.uuid4())  # fixed now: a retry, or the outbox later, sends the same
    with ctx.api() as api:
        try:
            receipt, replayed = send_statement(
                api, args.interview_id, content, filename=path.name, reason=args.reason, idempotency_key=key
            )
        except Unreachable as exc:
            if not args.queue:
                raise
            item = Outbox(ctx.directory).add(
                {
                    "kind": "statement",
                    "server": server,
                    "username": config.username,
                    "interview_id": args.interview_id,
                    "filename": path.name,
                    "reason": args.reason,
                    "idempotency_key": key,
                    "sha256": sha256,
                },
                path,
            )
            say(f"{exc}\nQueued as {item.id} in the outbox (encrypted). Send it later: casework outbox send")
            return EXIT_OK
        return _statement_receipt(ctx, api, receipt, replayed, sha256, size, args.interview_id, args.json)


def _statement_receipt(
    ctx: Context,
    api: Api,
    receipt: dict[str, Any],
    replayed: bool,
    sha256: str,
    size: int,
    interview_id: int,
    as_json: bool,
) -> int:
    notes = (
        ["The server already had this upload (same Idempotency-Key): this is its first receipt."] if replayed else []
    )
    notes.append(
        f"Later, check it is in the log: casework statement receipt {interview_id} {receipt.get('version')} FILE"
    )
    _save_receipt(ctx, f"transcript-{interview_id}-{receipt.get('version')}", receipt)
    return show_receipt(
        ctx,
        api,
        f"Receipt: interview {interview_id}, transcript version {receipt.get('version')}",
        receipt,
        receipts.TRANSCRIPT,
        sha256=sha256,
        size=size,
        expect=_statement_expect(interview_id),
        notes=notes,
        as_json=as_json,
    )


def cmd_statement_receipt(ctx: Context) -> int:
    args = ctx.args
    sha256, size = trust.sha256_file(Path(args.file))
    with ctx.api() as api:
        receipt = api.get_json(f"/interviews/{args.interview_id}/transcripts/{args.version}/receipt")
        return show_receipt(
            ctx,
            api,
            f"Receipt: interview {args.interview_id}, transcript version {args.version}",
            receipt,
            receipts.TRANSCRIPT,
            sha256=sha256,
            size=size,
            expect={**_statement_expect(args.interview_id), "version": args.version},
            as_json=args.json,
            inclusion=True,
        )


def _exhibit_receipt(
    ctx: Context, api: Api, result: Any, sha256: str, size: int, interview_id: int, kind: str, as_json: bool
) -> int:
    notes = []
    if result.resumed_from is not None:
        notes.append(f"Resumed the upload of exhibit {result.exhibit_id} at byte {result.resumed_from}.")
    if result.stored_receipt:
        notes.append("The upload had completed before; this is the stored receipt, checked against the file.")
    notes.append(f"Later, check it is in the log: casework exhibit receipt {result.exhibit_id} FILE")
    _save_receipt(ctx, f"exhibit-{result.exhibit_id}", result.receipt)
    return show_receipt(
        ctx,
        api,
        f"Receipt: exhibit {result.exhibit_id} of interview {interview_id}",
        result.receipt,
        receipts.EXHIBIT,
        sha256=sha256,
        size=size,
        expect={"exhibit_id": result.exhibit_id, "interview_id": interview_id, "kind": kind},
        notes=notes,
        as_json=as_json,
    )


def cmd_exhibit_upload(ctx: Context) -> int:
    args, config = ctx.args, ctx.config
    server, token = config.require_login()
    path = Path(args.file)
    sha256, size = trust.sha256_file(path)
    if size == 0:
        raise ConfigError(f"{path} is empty")
    kind = args.kind or guess_kind(path)
    memory = UrlMemory.tus_storage(config, f"interview:{args.interview_id}", sha256, kind)
    try:
        with ctx.api() as api, path.open("rb") as stream, transfer_bar(path.name) as (start, advance):

            def started(exhibit_id: int, resumed_from: int | None) -> None:
                start(size, resumed_from or 0)
                if resumed_from is not None:
                    say(f"Resuming the upload of exhibit {exhibit_id} at byte {resumed_from} of {size}.")

            result = send_exhibit(
                api,
                token,
                args.interview_id,
                stream,
                size,
                kind=kind,
                filename=path.name,
                memory=memory,
                chunk_size=args.chunk_size,
                retries=args.retries,
                on_start=started,
                on_progress=advance,
            )
    except Unreachable as exc:
        if not args.queue:
            say("Run the same command again to resume the upload where it stopped (or add --queue).")
            raise
        item = Outbox(ctx.directory).add(
            {
                "kind": "exhibit",
                "server": server,
                "username": config.username,
                "interview_id": args.interview_id,
                "filename": path.name,
                "exhibit_kind": kind,
                "tus_url": memory.get(),
                "sha256": sha256,
            },
            path,
        )
        memory.put(None)  # from now on the outbox item remembers the upload
        say(f"{exc}\nQueued as {item.id} in the outbox (encrypted). Send it later: casework outbox send")
        return EXIT_OK
    with ctx.api() as api:  # stored on the server: from here on nothing is queued again
        return _exhibit_receipt(ctx, api, result, sha256, size, args.interview_id, kind, args.json)


def cmd_exhibit_receipt(ctx: Context) -> int:
    args = ctx.args
    sha256, size = trust.sha256_file(Path(args.file))
    with ctx.api() as api:
        receipt = api.get_json(f"/exhibits/{args.exhibit_id}/receipt")
        return show_receipt(
            ctx,
            api,
            f"Receipt: exhibit {args.exhibit_id}",
            receipt,
            receipts.EXHIBIT,
            sha256=sha256,
            size=size,
            expect={"exhibit_id": args.exhibit_id},
            as_json=args.json,
            inclusion=True,
        )


# -- outbox -----------------------------------------------------------------------------------


def _describe_item(item: Item) -> dict[str, Any]:
    meta = item.meta
    return {
        "id": item.id,
        "kind": meta["kind"],
        "interview_id": meta["interview_id"],
        "file": meta.get("filename"),
        "size": meta["size"],
        "queued_at": meta["queued_at"],
        "attempts": meta.get("attempts", 0),
        "last_error": meta.get("last_error"),
        "server": meta.get("server"),
        "upload_started": bool(meta.get("tus_url")),
        "exhibit_kind": meta.get("exhibit_kind"),
    }


def cmd_outbox_list(ctx: Context) -> int:
    items = [_describe_item(item) for item in Outbox(ctx.directory).items()]
    if ctx.args.json:
        _json(items)
        return EXIT_OK
    if not items:
        out.print("The outbox is empty.")
        return EXIT_OK
    table = Table(title=f"Outbox ({len(items)} waiting, encrypted)", title_justify="left")
    for column in ("id", "what", "interview", "file", "bytes", "queued", "tries", "last error"):
        table.add_column(column, overflow="fold")
    for item in items:
        what = item["kind"] + (
            f" ({item['exhibit_kind']}, upload started)"
            if item["upload_started"]
            else f" ({item['exhibit_kind']})"
            if item["exhibit_kind"]
            else ""
        )
        table.add_row(
            item["id"],
            what,
            str(item["interview_id"]),
            item["file"] or "",
            str(item["size"]),
            item["queued_at"],
            str(item["attempts"]),
            item["last_error"] or "",
        )
    out.print(table)
    return EXIT_OK


def _send_item(ctx: Context, api: Api, token: str, item: Item) -> int:
    meta = item.meta
    interview_id = int(meta["interview_id"])
    if item.kind == "statement":
        receipt, replayed = send_statement(
            api,
            interview_id,
            item.read_all(),
            filename=meta.get("filename"),
            reason=meta.get("reason"),
            idempotency_key=meta["idempotency_key"],
        )
        return _statement_receipt(
            ctx, api, receipt, replayed, meta["sha256"], int(meta["size"]), interview_id, ctx.args.json
        )

    def remember(url: str | None) -> None:
        item.update(tus_url=url)

    memory = UrlMemory(lambda: meta.get("tus_url"), remember)
    size = int(meta["size"])
    with item.open() as stream, transfer_bar(meta.get("filename") or item.id) as (start, advance):
        result = send_exhibit(
            api,
            token,
            interview_id,
            stream,
            size,
            kind=meta["exhibit_kind"],
            filename=meta.get("filename"),
            memory=memory,
            chunk_size=ctx.args.chunk_size,
            retries=ctx.args.retries,
            on_start=lambda _id, done: start(size, done or 0),
            on_progress=advance,
        )
    return _exhibit_receipt(ctx, api, result, meta["sha256"], size, interview_id, meta["exhibit_kind"], ctx.args.json)


def cmd_outbox_send(ctx: Context) -> int:
    config = ctx.config
    server, token = config.require_login()
    outbox = Outbox(ctx.directory)
    status, sent, kept = EXIT_OK, 0, 0
    with outbox.lock():
        items = list(outbox.items())
        if not items:
            out.print("The outbox is empty: nothing to send.")
            return EXIT_OK
        with Api(server, token) as api:
            for item in items:
                if item.meta.get("server") != server or item.meta.get("username") != config.username:
                    say(
                        f"{item.id}: queued for {item.meta.get('username')} at {item.meta.get('server')}, not the "
                        "account logged in now: left in the outbox"
                    )
                    kept += 1
                    continue
                say(
                    f"Sending {item.id} ({item.kind}, interview {item.meta['interview_id']}, "
                    f"{item.meta.get('filename')})"
                )
                try:
                    result = _send_item(ctx, api, token, item)
                except Unreachable as exc:
                    item.update(attempts=item.meta.get("attempts", 0) + 1, last_error=str(exc))
                    say(f"{exc}\n{len(items) - sent - kept} item(s) still wait in the outbox.")
                    return EXIT_UNREACHABLE
                except ApiError as exc:
                    item.update(attempts=item.meta.get("attempts", 0) + 1, last_error=str(exc))
                    err.print(
                        f"[red]{item.id} refused:[/red] {escape(exc.describe())}\n  It stays in the outbox "
                        f"(casework outbox drop {item.id} to give it up)."
                    )
                    status, kept = EXIT_FAILED, kept + 1
                    continue
                outbox.remove(item)  # delivered: the receipt was answered (and saved under receipts/)
                sent += 1
                status = max(status, result)
    say(f"Sent {sent}; {kept} left in the outbox.")
    return status


def cmd_outbox_drop(ctx: Context) -> int:
    outbox = Outbox(ctx.directory)
    with outbox.lock():
        for item in outbox.items():
            if item.id == ctx.args.item:
                outbox.remove(item)
                say(f"Dropped {item.id}; it will not be sent.")
                return EXIT_OK
    say(f"No item {ctx.args.item} in the outbox.")
    return EXIT_FAILED


# -- custody ----------------------------------------------------------------------------------


def cmd_who_read(ctx: Context) -> int:
    args = ctx.args
    with ctx.api() as api:
        found, notes = custody.find_witness(api, args.witness, args.case)
        for note in notes:
            say(f"note: {note}")
        if not found:
            say(f"No witness {args.witness}" + (f" in case {args.case}." if args.case else " in any case you may see."))
            return EXIT_FAILED
        if len(found) > 1:
            say(
                f"{args.witness} names a witness in several cases ({', '.join(str(w.case_id) for w in found)}): "
                "pass --case CASE_ID."
            )
            return EXIT_USAGE
        witness = found[0]
        events = [
            e
            for e in custody.events_of_witness(api, witness.witness_id, since=args.since, until=args.until)
            if args.all or custody.is_read(e["action"])
        ]
    rows = [
        {
            "seq": e["seq"],
            "time": e["time"],
            "who": e.get("actor_username"),
            "role": e.get("actor_role"),
            "action": e["action"],
            "what": custody.describe_target(e),
            "outcome": e["outcome"],
            "request_id": e.get("request_id"),
        }
        for e in events
    ]
    if args.json:
        _json(
            {
                "witness": {"pseudonym": witness.pseudonym, "id": witness.witness_id, "case_id": witness.case_id},
                "events": rows,
                "notes": notes,
            }
        )
        return EXIT_OK
    table = Table(
        title=f"Who read {witness.pseudonym} (witness {witness.witness_id}, case {witness.case_id})"
        + ("" if args.all else ": reads only, --all for every event"),
        title_justify="left",
    )
    for column in ("seq", "time", "who", "action", "what", "outcome"):
        table.add_column(column, overflow="fold")
    styles = {"allowed": "green", "denied": "bold red", "error": "yellow"}
    for row in rows:
        who = f"{row['who'] or '(anonymous)'} ({row['role'] or '-'})"
        outcome = row["outcome"]
        table.add_row(
            str(row["seq"]),
            row["time"],
            who,
            row["action"],
            row["what"],
            f"[{styles.get(outcome, 'white')}]{outcome}[/]",
        )
    out.print(table)
    out.print(f"{len(rows)} event(s).")
    return EXIT_OK


def cmd_monitor(ctx: Context) -> int:
    args, config = ctx.args, ctx.config
    config.require_login()
    keys = config.witness_keys
    if args.witness_key:
        keys = [key for value in args.witness_key for key in _keys(value)]
        for key in keys:
            parse_cosigner_vkey(key)
    quorum = args.quorum if args.quorum is not None else (config.quorum if not args.witness_key else None)
    if quorum is None:
        quorum = len(keys)
    if not 0 <= quorum <= len(keys):
        raise ConfigError(f"a quorum of {quorum} needs at least that many witness keys (--witness-key)")
    if keys != config.witness_keys or (args.quorum is not None and args.quorum != config.quorum):
        if keys != config.witness_keys:
            say(f"Stored {len(keys)} witness key(s) in {config.path}.")
        config.witness_keys, config.quorum = keys, args.quorum
        config.save()
    with ctx.api() as api:
        vkey = ensure_pinned(config, api)
        if vkey is None:
            raise ConfigError("no log key is pinned and this role may not read it: casework key pin KEY")
        result = custody.monitor(api, config, vkey, config.witness_keys, quorum)
    served, kept = result.served, result.kept
    out.print(f"served:  {served.name()}")
    out.print(f"kept:    {kept.name() + ' (kept ' + str(result.kept_at) + ')' if kept else '(none: first run)'}")
    out.print(f"[green]OK[/green] signed by the pinned log key {trust.fingerprint(vkey)}")
    if config.witness_keys:
        cosigned = ", ".join(result.cosigners) or "nobody"
        out.print(f"witnesses: cosigned by {cosigned} (quorum {quorum} of {len(config.witness_keys)})")
    else:
        err.print(
            "[yellow]No witness keys: cosignatures not checked (--witness-key KEY); a split view shown to "
            "this monitor alone would go unseen.[/yellow]"
        )
    if result.consistency:
        out.print(f"[green]OK[/green] {result.consistency}")
    for problem in result.problems:
        err.print(f"[bold red]FAIL[/bold red] {escape(problem)}")
    if result.fork:
        err.print(
            f"[bold red]FORK: the log signed two histories.[/bold red]\n  kept:   {kept.name() if kept else '-'}"
            f"\n  served: {served.name()}\n  evidence (both signed notes): {result.evidence}"
        )
        return EXIT_FORK
    if result.problems:
        err.print("The new checkpoint was not kept.")
        return EXIT_UNVERIFIED
    out.print(f"Kept checkpoint {served.checkpoint.size}.")
    return EXIT_OK


def _keys(value: str) -> list[str]:
    path = Path(value).expanduser()
    if path.is_file():
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [value.strip()]


# -- bundles ----------------------------------------------------------------------------------


def cmd_bundle_download(ctx: Context) -> int:
    args = ctx.args
    with ctx.api() as api, transfer_bar(f"disclosure {args.disclosure_id}") as (start, advance):
        done = bundles.download(
            api, args.disclosure_id, Path(args.output) if args.output else None, on_start=start, on_progress=advance
        )
    if done.resumed_from:
        say(f"Resumed at byte {done.resumed_from}.")
    out.print(f"[green]OK[/green] {done.path}: {done.size} bytes, SHA-256 {done.sha256} (matches Repr-Digest)")
    out.print(f"Check it offline: casework bundle verify {done.path}")
    return EXIT_OK


def cmd_bundle_verify(ctx: Context) -> int:
    args, config = ctx.args, ctx.config
    vkey = trust.read_vkey(args.vkey) if args.vkey else config.pinned_vkey()
    witnesses = [k for value in args.witness_key for k in _keys(value)] if args.witness_key else config.witness_keys
    quorum = args.quorum if args.quorum is not None else (config.quorum if witnesses and config.quorum else None)
    if vkey and not args.vkey and not args.json:
        say(f"Using the log key pinned for {config.server}: {trust.fingerprint(vkey)}")
    report = verify_bundle(args.file, vkey=vkey, witness_keys=witnesses or None, quorum=quorum)
    print(json.dumps(report.to_dict(), indent=2) if args.json else describe_bundle(report))
    return EXIT_OK if report.ok else EXIT_UNVERIFIED


# -- parser -----------------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="casework",
        description="Casework from the command line: uploads that survive bad links, receipts "
        "checked under the log's pinned key, custody audits, disclosure bundles.",
        epilog="Exit status: 0 done, 1 failed, 2 usage, 3 a check failed, 4 the log forked, 5 server unreachable.",
    )
    root.add_argument("--version", action="version", version=f"casework {__version__}")
    root.add_argument(
        "--config",
        metavar="DIR",
        help="config directory (default: $CASEWORK_CONFIG, else the user's config dir, e.g. ~/.config/casework)",
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    login = commands.add_parser("login", help="log in and store a personal token")
    login.add_argument("--server", required=True, metavar="URL", help="e.g. https://casework.example.org")
    login.add_argument("--username", required=True, metavar="NAME")
    login.add_argument(
        "--totp",
        metavar="CODE",
        help="the authenticator's code (or a recovery code); prompted if the account needs one and this is a terminal",
    )
    login.add_argument(
        "--new-password",
        metavar="PASSWORD",
        help="when an administrator set your password: the new one (or $CASEWORK_NEW_PASSWORD; prompted in a terminal)",
    )
    login.add_argument("--token-days", type=_positive, default=30, metavar="N", help="token lifetime (default 30)")
    login.add_argument("--log-key", metavar="KEY_OR_FILE", help="pin this log key now (checked out of band)")
    login.set_defaults(run=cmd_login)
    commands.add_parser("logout", help="revoke and forget the stored token").set_defaults(run=cmd_logout)

    key = commands.add_parser("key", help="the log's key pinned for this server").add_subparsers(
        dest="key_command", required=True, metavar="ACTION"
    )
    key.add_parser("show", help="print the pinned key and its fingerprint").set_defaults(run=cmd_key_show)
    pin = key.add_parser("pin", help="pin a log key obtained out of band")
    pin.add_argument("key", metavar="KEY_OR_FILE")
    pin.add_argument("--replace", action="store_true", help="replace a different key already pinned")
    pin.set_defaults(run=cmd_key_pin)

    transfer = argparse.ArgumentParser(add_help=False)
    transfer.add_argument(
        "--chunk-size",
        type=_positive,
        default=DEFAULT_CHUNK,
        metavar="BYTES",
        help=f"bytes per tus PATCH (default {DEFAULT_CHUNK}); smaller loses less on a bad link",
    )
    transfer.add_argument("--retries", type=int, default=3, metavar="N", help="retries of a failed PATCH (default 3)")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print the result as JSON")
    queueable = argparse.ArgumentParser(add_help=False)
    queueable.add_argument(
        "--queue",
        action="store_true",
        help="if the server cannot be reached, keep it in the outbox (encrypted) for casework outbox send",
    )

    statement = commands.add_parser("statement", help="witness statements (transcripts)").add_subparsers(
        dest="statement_command", required=True, metavar="ACTION"
    )
    upload = statement.add_parser(
        "upload", parents=[queueable, as_json], help="upload a statement; print and verify its receipt"
    )
    upload.add_argument("interview_id", type=int, metavar="INTERVIEW_ID")
    upload.add_argument("file", metavar="FILE", help="UTF-8 text")
    upload.add_argument("--reason", help="why this version (required for a correction, version 2 and later)")
    upload.set_defaults(run=cmd_statement_upload)
    receipt = statement.add_parser(
        "receipt", parents=[as_json], help="check a version's stored receipt against the file, and its place in the log"
    )
    receipt.add_argument("interview_id", type=int, metavar="INTERVIEW_ID")
    receipt.add_argument("version", type=int, metavar="VERSION")
    receipt.add_argument("file", metavar="FILE", help="the file that was uploaded")
    receipt.set_defaults(run=cmd_statement_receipt)

    exhibit = commands.add_parser("exhibit", help="exhibits (recordings, photos, documents)").add_subparsers(
        dest="exhibit_command", required=True, metavar="ACTION"
    )
    upload = exhibit.add_parser(
        "upload", parents=[transfer, queueable, as_json], help="upload an exhibit (tus, resumable by running it again)"
    )
    upload.add_argument("interview_id", type=int, metavar="INTERVIEW_ID")
    upload.add_argument("file", metavar="FILE")
    upload.add_argument("--kind", choices=KINDS, help="default: guessed from the file name, else other")
    upload.set_defaults(run=cmd_exhibit_upload)
    receipt = exhibit.add_parser(
        "receipt",
        parents=[as_json],
        help="check an exhibit's stored receipt against the file, and its place in the log",
    )
    receipt.add_argument("exhibit_id", type=int, metavar="EXHIBIT_ID")
    receipt.add_argument("file", metavar="FILE", help="the file that was uploaded")
    receipt.set_defaults(run=cmd_exhibit_receipt)

    outbox = commands.add_parser("outbox", help="uploads waiting for the server").add_subparsers(
        dest="outbox_command", required=True, metavar="ACTION"
    )
    outbox.add_parser("list", parents=[as_json], help="what waits").set_defaults(run=cmd_outbox_list)
    outbox.add_parser("send", parents=[transfer, as_json], help="deliver what waits, each once").set_defaults(
        run=cmd_outbox_send
    )
    drop = outbox.add_parser("drop", help="give up an item (it is deleted unsent)")
    drop.add_argument("item", metavar="ID")
    drop.set_defaults(run=cmd_outbox_drop)

    audit = commands.add_parser("custody", help="the chain-of-custody log (auditors)").add_subparsers(
        dest="custody_command", required=True, metavar="ACTION"
    )
    who = audit.add_parser("who-read", parents=[as_json], help="who read a witness's records, when, with what outcome")
    who.add_argument("--witness", required=True, metavar="PSEUDONYM", help="e.g. W-0001")
    who.add_argument("--case", type=int, metavar="CASE_ID", help="the case (pseudonyms are unique per case)")
    who.add_argument("--since", metavar="TIME", help="ISO 8601, inclusive")
    who.add_argument("--until", metavar="TIME", help="ISO 8601, exclusive")
    who.add_argument("--all", action="store_true", help="every event about the witness, not only reads")
    who.set_defaults(run=cmd_who_read)
    watch = audit.add_parser(
        "monitor",
        help="check the checkpoint, its cosignatures and that it extends the last one kept (exit 4 on a fork)",
    )
    watch.add_argument(
        "--witness-key",
        action="append",
        metavar="KEY_OR_FILE",
        help="a witness's cosigner key, or a file of them (stored in the config for later runs)",
    )
    watch.add_argument("--quorum", type=int, metavar="N", help="cosignatures required (default: every witness key)")
    watch.set_defaults(run=cmd_monitor)

    bundle = commands.add_parser("bundle", help="disclosure bundles").add_subparsers(
        dest="bundle_command", required=True, metavar="ACTION"
    )
    get = bundle.add_parser("download", help="download a bundle (resumable), checked against Repr-Digest")
    get.add_argument("disclosure_id", type=int, metavar="DISCLOSURE_ID")
    get.add_argument("-o", "--output", metavar="FILE", help="default: disclosure-ID.zip")
    get.set_defaults(run=cmd_bundle_download)
    check = bundle.add_parser("verify", parents=[as_json], help="verify a bundle offline (casework-verify)")
    check.add_argument("file", metavar="FILE", help="the zip, or the folder it unzipped to")
    check.add_argument("--vkey", metavar="KEY_OR_FILE", help="the log key (default: the one pinned)")
    check.add_argument(
        "--witness-key",
        action="append",
        metavar="KEY_OR_FILE",
        help="witness keys (default: those stored by custody monitor)",
    )
    check.add_argument("--quorum", type=int, metavar="N")
    check.set_defaults(run=cmd_bundle_verify)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        ctx = Context(args)
        return int(args.run(ctx))
    except trust.KeyChanged as exc:
        err.print(str(exc), style="bold red", markup=False)
        return EXIT_UNVERIFIED
    except trust.VerificationFailed as exc:
        err.print(f"[bold red]VERIFICATION FAILED:[/bold red] {escape(str(exc))}")
        return EXIT_UNVERIFIED
    except Unreachable as exc:
        err.print(f"[red]unreachable:[/red] {escape(str(exc))}")
        return EXIT_UNREACHABLE
    except ApiError as exc:
        err.print(f"[red]error:[/red] {escape(exc.describe())}")
        return EXIT_FAILED
    except (login_flow.LoginFailed, OutboxError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return EXIT_FAILED
    except (ConfigError, NoteError, FileNotFoundError, IsADirectoryError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
