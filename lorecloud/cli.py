"""``lore-server``: serve Lore Cloud, manage accounts, migrate the schema.

Every subcommand takes ``--data-dir`` (SQLite, env ``LORE_SERVER_DATA_DIR``) or
``--database-url`` (PostgreSQL, env ``LORE_DATABASE_URL``), and ``--blob-store`` (env
``LORE_BLOB_STORE``: ``db``, the default, or ``s3://BUCKET?endpoint=URL&region=R``).
Start-up problems (an unreachable database or bucket, an unwritable data dir, a bad
flag value) are one ``error: …`` line, usually a ``hint: …`` line, and exit 1.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import platformdirs

from lorecloud.backends import BackendUnavailable, open_backend, redact_url
from lorecloud.blobs import BlobStore, BlobStoreError, open_blob_store, parse_blob_store
from lorecloud.config import ServerConfig
from lorecloud.errors import ServiceError
from lorecloud.service import SyncService

T = TypeVar("T")
#: the shortest account password (the service checks it again)
MIN_PASSWORD = ServerConfig().min_password_length


def default_data_dir() -> Path:
    """Where SQLite lives when neither flag nor env var says otherwise."""
    return Path(platformdirs.user_data_dir("lore-server"))


def _fail(message: str, hint: str | None = None) -> None:
    click.echo(f"error: {message}", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)
    sys.exit(1)


def _check_data_dir(data_dir: Path) -> None:
    """Refuse an unusable data dir up front with one clear line."""
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # a per-process name: several `lore-server user add` may start at once
        probe = data_dir / f".lore-server-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        _fail(f"data dir {data_dir} is not writable: {exc.strerror or exc}",
              "pass --data-dir to a directory this user may write")


async def _blobs(value: str | None) -> BlobStore:
    """The blob store of ``--blob-store``; a bad value or bucket is error + hint."""
    try:
        return await open_blob_store(value)
    except BlobStoreError as exc:
        _fail(exc.message, exc.hint)
        raise AssertionError("unreachable") from None


async def _open(ctx: click.Context, config: ServerConfig | None = None) -> SyncService:
    url: str | None = ctx.obj["database_url"]
    data_dir: Path = ctx.obj["data_dir"]
    if not url:
        _check_data_dir(data_dir)
    blobs = await _blobs(ctx.obj.get("blob_store"))
    try:
        backend = await open_backend(data_dir=data_dir, database_url=url, blobs=blobs)
        return await SyncService.create(backend, config or ServerConfig())
    except BackendUnavailable as exc:
        await blobs.close()
        _fail(str(exc), "check --database-url / LORE_DATABASE_URL" if url else None)
        raise AssertionError("unreachable") from None


def _run(ctx: click.Context, body: Callable[[SyncService], Awaitable[T]]) -> T:
    async def main() -> T:
        svc = await _open(ctx)
        try:
            return await body(svc)
        finally:
            await svc.close()

    try:
        return asyncio.run(main())
    except ServiceError as exc:
        _fail(exc.message, exc.hint)
        raise AssertionError("unreachable") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="LORE_SERVER_DATA_DIR",
              help="SQLite data dir (lore.db lives here).")
@click.option("--database-url", envvar="LORE_DATABASE_URL",
              help="postgresql://user:password@host:port/db — use PostgreSQL instead.")
@click.option("--blob-store", envvar="LORE_BLOB_STORE",
              help="Where sealed chunks live: db (default) or s3://BUCKET?endpoint=URL&region=R.")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, database_url: str | None,
        blob_store: str | None) -> None:
    """Lore Cloud: the end-to-end encrypted sync server of Lore."""
    ctx.ensure_object(dict)
    ctx.obj["data_dir"] = data_dir or default_data_dir()
    ctx.obj["database_url"] = database_url or None
    ctx.obj["blob_store"] = blob_store or None


def _db_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Accept --data-dir/--database-url/--blob-store after the subcommand too (CLI.md)."""
    f = click.option("--blob-store", "sub_blob_store", envvar="LORE_BLOB_STORE",
                     callback=_check_blob_store, expose_value=False,
                     help="db (default) or s3://BUCKET?endpoint=URL&region=R.")(f)
    f = click.option("--database-url", "sub_database_url", envvar="LORE_DATABASE_URL",
                     help="postgresql://… (PostgreSQL instead of SQLite).")(f)
    f = click.option("--data-dir", "sub_data_dir", type=click.Path(path_type=Path),
                     envvar="LORE_SERVER_DATA_DIR", help="SQLite data dir.")(f)
    return f


def _check_blob_store(ctx: click.Context, param: Any, value: str | None) -> str | None:
    """Refuse a bad --blob-store before anything starts (error + hint, no traceback)."""
    for candidate in (value, (ctx.obj or {}).get("blob_store")):
        if candidate is not None:
            try:
                parse_blob_store(candidate)
            except BlobStoreError as exc:
                _fail(exc.message, exc.hint)
    if value:
        ctx.ensure_object(dict)
        ctx.obj["blob_store"] = value
    return value


def _apply_db(ctx: click.Context, data_dir: Path | None, url: str | None) -> None:
    if data_dir:
        ctx.obj["data_dir"] = data_dir
    if url:
        ctx.obj["database_url"] = url
    if data_dir and url:
        raise click.UsageError("give either --data-dir or --database-url, not both")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int,
              help="0 picks a free port (the URL is printed).")
@_db_options
@click.option("--open-registration", is_flag=True, help="Let anyone register an account.")
@click.option("--max-session-bytes", type=click.IntRange(min=1024), default=None,
              help="Largest session accepted (default 16 MiB).")
@click.option("--max-inflight-bytes", type=click.IntRange(min=1024 * 1024), default=None,
              help="Request body bytes held at once before 503 (default 128 MiB).")
@click.option("--body-timeout", type=click.FloatRange(min=0.1), default=None,
              help="Seconds a request body may stall (default 30; 10x that in all).")
@click.option("--gc-interval", type=click.FloatRange(min=0), default=3600.0,
              show_default=True, help="Seconds between orphan collections (0: never).")
@click.option("--gc-grace", type=click.FloatRange(min=0), default=3600.0, show_default=True,
              help="Seconds an unreferenced object is kept (an upload may be committing).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--log-format", default="auto", show_default=True,
              type=click.Choice(["auto", "json", "console"]),
              help="auto: readable lines on a terminal, JSON lines otherwise.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, sub_data_dir: Path | None,
          sub_database_url: str | None, open_registration: bool,
          max_session_bytes: int | None, max_inflight_bytes: int | None,
          body_timeout: float | None, gc_interval: float, gc_grace: float,
          log_level: str, log_format: str) -> None:
    """Serve Lore Cloud until SIGTERM/SIGINT (then finish in-flight requests)."""
    _apply_db(ctx, sub_data_dir, sub_database_url)
    ctx.obj["gc"] = (gc_interval, gc_grace)
    from dataclasses import replace

    from lorecloud.logs import configure_logging

    configure_logging(log_level, fmt=log_format)
    config = ServerConfig(open_registration=open_registration)
    if max_session_bytes:
        config = replace(config, max_session_bytes=max_session_bytes)
    if max_inflight_bytes:
        config = replace(config, max_inflight_bytes=max_inflight_bytes)
    if body_timeout:
        config = replace(config, body_idle_timeout=body_timeout, body_timeout=10 * body_timeout)
    asyncio.run(_serve(ctx, config, host, port))


async def _serve(ctx: click.Context, config: ServerConfig, host: str, port: int) -> None:
    import structlog
    from aiohttp import web

    from lorecloud.app import create_app
    from lorecloud.logs import AccessLogger

    log = structlog.get_logger("lorecloud")
    svc = await _open(ctx, config)
    runner = web.AppRunner(create_app(svc), access_log_class=AccessLogger,
                           handle_signals=False, shutdown_timeout=30.0)
    await runner.setup()
    tasks: list[asyncio.Task[None]] = []
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
        bound = runner.addresses[0]
        url = f"http://{host if ':' not in host else f'[{host}]'}:{bound[1]}"
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        backend = "postgresql" if ctx.obj["database_url"] else "sqlite"
        where = (redact_url(ctx.obj["database_url"]) if ctx.obj["database_url"]
                 else str(ctx.obj["data_dir"]))
        log.info("listening", url=url, backend=backend, database=where,
                 blobs=svc.backend.blobs.describe())
        click.echo(f"lore-server listening on {url}")
        sys.stdout.flush()
        interval, grace = ctx.obj["gc"]
        if interval > 0 and not svc.backend.blobs.inline:
            from lorecloud.maintenance import gc_forever

            tasks.append(asyncio.create_task(gc_forever(svc.backend, interval, grace)))
        await stop.wait()
        log.info("shutting down")
    finally:
        for task in tasks:
            task.cancel()
        # stops accepting, lets in-flight requests finish (shutdown_timeout), closes
        await runner.cleanup()
        await svc.close()


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            _fail("no password on stdin")
        return line
    env = os.environ.get("LORE_PASSWORD")
    if env:
        return env
    if sys.stdin.isatty():
        pw: str = click.prompt("Password", hide_input=True)
        # the length is checked before the confirmation: no retyping a password that
        # was going to be refused anyway
        if len(pw) < MIN_PASSWORD:
            _fail(f"the password must have at least {MIN_PASSWORD} characters",
                  "run the command again with a longer password")
        if click.prompt("Repeat for confirmation", hide_input=True) != pw:
            _fail("the two passwords differ", "run the command again and type the same twice")
        return pw
    _fail("no password given", "pipe it with --password-stdin or set LORE_PASSWORD")
    raise AssertionError("unreachable")


@cli.group()
def user() -> None:
    """Manage accounts."""


@user.command("add")
@click.argument("email")
@click.option("--plan", type=click.Choice(["free", "pro"]), default="free", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@_db_options
@click.pass_context
def user_add(ctx: click.Context, email: str, plan: str, password_stdin: bool,
             sub_data_dir: Path | None, sub_database_url: str | None) -> None:
    """Create an account."""
    _apply_db(ctx, sub_data_dir, sub_database_url)
    password = _read_password(password_stdin)
    doc = _run(ctx, lambda svc: svc.add_user(email, password, plan))
    click.echo(f"created {doc['email']} (plan {doc['plan']}, id {doc['account_id']})")


@user.command("list")
@click.option("--json", "as_json", is_flag=True)
@_db_options
@click.pass_context
def user_list(ctx: click.Context, as_json: bool, sub_data_dir: Path | None,
              sub_database_url: str | None) -> None:
    """List accounts with plan and usage."""
    _apply_db(ctx, sub_data_dir, sub_database_url)
    users = _run(ctx, lambda svc: svc.list_users())
    if as_json:
        click.echo(json.dumps(users, indent=2))
        return
    for u in users:
        click.echo(f"{u['email']}\t{u['plan']}\t{u['sessions']} sessions\t"
                   f"{u['storage_bytes']} bytes")


@user.command("remove")
@click.argument("email")
@_db_options
@click.pass_context
def user_remove(ctx: click.Context, email: str, sub_data_dir: Path | None,
                sub_database_url: str | None) -> None:
    """Delete an account and all its data."""
    _apply_db(ctx, sub_data_dir, sub_database_url)
    _run(ctx, lambda svc: svc.remove_user(email))
    click.echo(f"removed {email}")


@cli.group()
def machine() -> None:
    """Manage machines of an account."""


@machine.command("list")
@click.argument("email", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_db_options
@click.pass_context
def machine_list(ctx: click.Context, email: str | None, as_json: bool,
                 sub_data_dir: Path | None, sub_database_url: str | None) -> None:
    """List the machines of every account (or of EMAIL's): id, name, sessions, last sync.

    A name several machines of one account share is shown with an id fragment.
    """
    _apply_db(ctx, sub_data_dir, sub_database_url)
    from lorecloud.machines import admin_list

    rows = _run(ctx, lambda svc: admin_list(svc, email))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No machines yet: run `lorectl login` on one.")
        return
    head = ("ACCOUNT", "MACHINE ID", "NAME", "SESSIONS", "LAST SYNC", "STATE")
    table = [head] + [(r["email"], r["machine_id"], r["label"], str(r["sessions"]),
                       r["last_sync"] or "never",
                       "signed in" if r["signed_in"] else "signed out") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@machine.command("revoke")
@click.argument("email")
@click.argument("machine_id")
@_db_options
@click.pass_context
def machine_revoke(ctx: click.Context, email: str, machine_id: str, sub_data_dir: Path | None,
                   sub_database_url: str | None) -> None:
    """Sign a machine out of an account (its tokens stop working)."""
    _apply_db(ctx, sub_data_dir, sub_database_url)

    async def body(svc: SyncService) -> int:
        account = await svc.backend.account_by_email(email.strip().lower())
        if account is None:
            raise ServiceError("not_found", f"no account {email}", 404)
        return await svc.revoke_machine(account.account_id, machine_id)

    n = _run(ctx, body)
    click.echo(f"revoked {n} token(s) of machine {machine_id}")


@cli.command()
@_db_options
@click.pass_context
def migrate(ctx: click.Context, sub_data_dir: Path | None, sub_database_url: str | None) -> None:
    """Apply schema migrations (serve also applies them at start)."""
    _apply_db(ctx, sub_data_dir, sub_database_url)

    async def body(svc: SyncService) -> int:
        return await svc.backend.migrate()

    click.echo(f"schema at version {_run(ctx, body)}")


@cli.command()
@click.option("--grace", type=click.FloatRange(min=0), default=3600.0, show_default=True,
              help="Only objects older than this many seconds are candidates.")
@_db_options
@click.pass_context
def gc(ctx: click.Context, grace: float, sub_data_dir: Path | None,
       sub_database_url: str | None) -> None:
    """Delete orphaned chunk objects of the --blob-store (safe while serving)."""
    _apply_db(ctx, sub_data_dir, sub_database_url)
    from lorecloud.maintenance import GcReport, collect_garbage

    async def body(svc: SyncService) -> GcReport:
        return await collect_garbage(svc.backend, grace)

    if not ctx.obj.get("blob_store") or ctx.obj["blob_store"] == "db":
        _fail("gc needs the object store", "pass --blob-store s3://… (chunks in the "
              "database are deleted with their rows; there is nothing to collect)")
    r = _run(ctx, body)
    click.echo(f"gc: {r.objects} objects, {r.deleted} orphans deleted, "
               f"{r.young} younger than {grace:g} s kept")


@cli.command("migrate-blobs")
@click.option("--to", "target", required=True, help="s3://BUCKET?endpoint=URL&region=R")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=64, show_default=True,
              help="Chunks read and moved per round.")
@_db_options
@click.pass_context
def migrate_blobs(ctx: click.Context, target: str, batch_size: int,
                  sub_data_dir: Path | None, sub_database_url: str | None) -> None:
    """Move chunks from the database into an object store, while serving (resumable)."""
    _apply_db(ctx, sub_data_dir, sub_database_url)
    from lorecloud.maintenance import MigrateReport
    from lorecloud.maintenance import migrate_blobs as run_migration

    try:
        if parse_blob_store(target) == "db":
            raise BlobStoreError("--to must be an object store", "e.g. --to s3://BUCKET?…")
    except BlobStoreError as exc:
        _fail(exc.message, exc.hint)
    ctx.obj["blob_store"] = target

    async def body(svc: SyncService) -> MigrateReport:
        return await run_migration(svc.backend, svc.backend.blobs, batch=batch_size)

    r = _run(ctx, body)
    click.echo(f"migrate-blobs: moved {r.moved} chunks ({r.bytes} bytes) in "
               f"{r.seconds:.1f} s; {r.skipped} changed meanwhile and were skipped")


def main() -> None:
    """Console entry point."""
    cli(prog_name="lore-server")


if __name__ == "__main__":
    main()
