"""The `herald` command: every role of the one package, plus admin and monitoring."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from herald import __version__, logs, migrate, services
from herald.cli_options import COMPANY_HELP, hide_flag_types
from herald.config import ConfigError, Settings, load_settings
from herald.crypto import TokenCipher
from herald.db import Database
from herald.errors import AppError
from herald.media import build_store
from herald.models import Company, utcnow
from herald.permissions import ROLE_NAMES
from herald.runtime import Herald
from herald.schemas import PostOut
from herald.services.companies import record_revoked

hide_flag_types()
if TYPE_CHECKING:
    from herald.metrics_http import MetricsServer

app = typer.Typer(help="Herald: schedule social media posts and publish them exactly once, "
                       "on time.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
company_app = typer.Typer(help="Companies (tenants).", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
posts_app = typer.Typer(help="Posts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(company_app, name="company")
app.add_typer(token_app, name="token")
app.add_typer(posts_app, name="posts")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
CompanyOpt = Annotated[str | None, typer.Option("--company", help=COMPANY_HELP)]


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"herald: error: {message}", err=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        fail(str(exc))


def _herald(*, migrated: bool = True, auto_migrate: bool = False, platforms: bool = False,
            sandbox: bool = False, settings: Settings | None = None,
            wait_for_db: bool = False) -> Herald:
    """Settings, database and cipher, with one readable line for anything wrong."""
    settings = settings or _settings()
    logs.configure(settings.log_level, settings.log_format)
    try:
        # The parts that can refuse the configuration first, in this order: the database
        # URL, the secret key, the media store; only then is the database reached.
        db = Database.from_settings(settings)
        cipher = TokenCipher(settings.resolved_secret_key(),
                                 settings.resolved_old_secret_keys())
        store = build_store(settings)
        if wait_for_db:
            _wait_for_database(db)
        db.check_connection()
        if auto_migrate:
            migrate.upgrade(db.engine)
        elif migrated and not migrate.is_up_to_date(db.engine):
            fail("the database schema is not up to date; run `herald db upgrade` first")
        # Built last and whole: the sandbox loads its accounts from the migrated database.
        return Herald.build(settings, db=db, cipher=cipher, media_store=store,
                            platforms=platforms, sandbox=sandbox, clock=_clock())
    except ConfigError as exc:
        fail(str(exc))


#: The clock of this invocation's use cases (set by `_main` for every command).
_invocation: dict[str, Callable[[], datetime]] = {"clock": utcnow}


def _clock() -> Callable[[], datetime]:
    return _invocation["clock"]


def _wait_for_database(db: Database) -> None:
    """A worker started while the database is away (a deploy, a restart) waits for it."""
    import time

    delay = 1.0
    while True:
        try:
            db.check_connection()
            return
        except ConfigError as exc:
            logging.getLogger("herald").warning("%s; retrying in %.0fs", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)


def _print(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        typer.echo(json.dumps(data, default=str, indent=2))
    else:
        typer.echo(text)


def _company_id(herald: Herald, given: str | None) -> str:
    """The company --company names (id, name or id prefix), else $HERALD_COMPANY, else the
    only one."""
    given = given or herald.settings.company or None
    with herald.db.session() as session:
        if given:
            try:
                return services.find_company(session, given).id
            except AppError as exc:
                fail(exc.message)
        companies = services.list_companies(session)
    if len(companies) != 1:
        fail("there are several companies; say which with --company (its id, name or id "
             "prefix) or HERALD_COMPANY; `herald company list` shows them" if companies else
             "there is no company yet; create one with `herald company create NAME`")
    return companies[0].id


@app.callback(invoke_without_command=True)
def _main(context: typer.Context,
          version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False
          ) -> None:
    # The real clock, unless the command was invoked in process with another as the
    # context's `obj` (`CliRunner().invoke(app, args, obj={"clock": …})`): how tests plan
    # across a date of their choosing, such as a daylight-saving change.
    given = context.obj.get("clock") if isinstance(context.obj, dict) else None
    _invocation["clock"] = given if callable(given) else utcnow
    if version:
        typer.echo(__version__)
        raise typer.Exit()


# --- roles -------------------------------------------------------------------------------


@app.command()
def run(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    worker_id: Annotated[str | None, typer.Option("--id", help="Worker id.")] = None,
) -> None:
    """API, web UI and one worker in one process: the embedded default (SQLite)."""
    import uvicorn

    from herald.app import UVICORN_OPTIONS, create_app

    settings = _settings()
    host, port = host or settings.host, port or settings.port
    if "public_url" not in settings.model_fields_set:
        # Media URLs and the sandbox must point at the port actually served.
        public_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        settings.public_url = f"http://{public_host}:{port}"
    herald = _herald(auto_migrate=True, platforms=True, sandbox=True, settings=settings)
    _first_company(herald, f"http://{host}:{port}")
    uvicorn.run(create_app(herald, run_worker=True, worker_id=worker_id), host=host, port=port,
                **logs.uvicorn_options(settings.log_level, settings.log_format),
                **UVICORN_OPTIONS)


def _first_company(herald: Herald, base_url: str) -> None:
    """On a fresh embedded install, make a company so the API can be tried at once."""
    from sqlalchemy import select

    with herald.db.session() as session:
        if session.scalars(select(Company.id).limit(1)).first() is not None:
            return
        company, token = services.create_company(session, name="My company")
    typer.echo(f"Created company {company.name!r} ({company.id}).\n"
               f"Its API token, shown once: {token}\n"
               f"API docs: {base_url}/docs\n"
               f"Web UI: {base_url}/ — first create a user: herald user create "
               f"--email you@example.com")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int, typer.Option(help="Server processes (use the cores).")] = 1,
) -> None:
    """API and web UI only (production: run workers separately)."""
    import uvicorn

    from herald.app import UVICORN_OPTIONS, create_app

    herald = _herald()
    settings = herald.settings
    host, port = host or settings.host, port or settings.port
    logging_options = logs.uvicorn_options(settings.log_level, settings.log_format)
    if workers > 1:
        from herald import serving

        # Each process builds its own app from the environment.
        herald.db.dispose()
        serving.serve(uvicorn.Config("herald.app:app_from_env", factory=True, host=host,
                                     port=port, **logging_options, **UVICORN_OPTIONS),
                      workers,
                      metrics_dir=settings.metrics_dir)
    else:
        uvicorn.run(create_app(herald, freeze_heap=True), host=host, port=port,
                    **logging_options, **UVICORN_OPTIONS)


@app.command()
def worker(
    worker_id: Annotated[str | None, typer.Option("--id", help="Worker id (default: "
                                                  "hostname-pid).")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Posts published at once.")] = None,
    metrics_port: Annotated[int | None, typer.Option(
        help="Serve /metrics (Prometheus) and /healthz on this port "
             "(default: HERALD_WORKER_METRICS_PORT; off when neither is set).")] = None,
) -> None:
    """The publishing worker. Run any number, on any hosts sharing the database."""
    herald = _herald(platforms=True, wait_for_db=True)
    overrides: dict[str, Any] = {}
    if concurrency:
        overrides["concurrency"] = concurrency
    w = herald.build_worker(worker_id=worker_id, **overrides)
    from herald.worker import open_files_for

    open_files_for(w.concurrency)
    port = metrics_port if metrics_port is not None else herald.settings.worker_metrics_port
    server = _worker_metrics(herald, port) if port is not None else None

    async def main() -> None:
        loop = asyncio.get_running_loop()
        signals = {"count": 0}

        def on_signal() -> None:
            signals["count"] += 1
            if signals["count"] > 1:
                # Second signal: leave now. Leases of posts in flight expire and are
                # rescued (and reconciled) by another worker.
                logging.getLogger("herald").warning("second signal: exiting at once")
                os._exit(130)
            w.stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        try:
            await w.run()
        finally:
            await herald.aclose()

    _use_uvloop()
    try:
        asyncio.run(main())
    finally:
        if server is not None:
            server.stop()


def _worker_metrics(herald: Herald, port: int) -> MetricsServer:
    from herald import metrics, metrics_http

    token = herald.settings.metrics_token
    try:
        return metrics_http.serve(herald.settings.worker_metrics_host, port,
                                  token=token.get_secret_value() if token else None,
                                  queue=metrics.queue_registry(herald.db.engine))
    except OSError as exc:
        fail(f"cannot serve the worker's metrics on {herald.settings.worker_metrics_host}:"
             f"{port}: {exc.strerror or exc}")


def _use_uvloop() -> None:
    """uvloop where installed: a worker spends much of its CPU in the event loop's I/O."""
    try:
        import uvloop
    except ImportError:  # Windows, or installed without it
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


@app.command("run-once")
def run_once(
    json_out: JsonOpt = False,
    worker_id: Annotated[str | None, typer.Option("--id", help="Worker id.")] = None,
) -> None:
    """Publish everything due now, then exit (for cron, a Kubernetes CronJob or PM2).

    Exits 1 when a post failed or became unconfirmed in the run, else 0.
    """
    herald = _herald(platforms=True)
    w = herald.build_worker(worker_id=worker_id, listen=False)

    async def main() -> Any:
        try:
            return await w.run(until_idle=True)
        finally:
            await herald.aclose()

    totals = asyncio.run(main())
    data = totals.as_dict()
    _print(data, json_out, " ".join(f"{k}={v}" for k, v in data.items()))
    if totals.failed or totals.unconfirmed:
        # Cron and a CronJob see a run that failed a post (or could not tell) as failed.
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema to the latest version."""
    herald = _herald(migrated=False)
    migrate.upgrade(herald.db.engine)
    typer.echo(f"database at revision {migrate.current_revision(herald.db.engine)}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the database."""
    herald = _herald(migrated=False)
    current = migrate.current_revision(herald.db.engine)
    typer.echo(f"{current or 'empty'} (latest: {migrate.head_revision()})")


# --- admin -------------------------------------------------------------------------------


@company_app.command("create")
def company_create(name: str, json_out: JsonOpt = False) -> None:
    """Create a company and print its id and a new API token (shown once)."""
    herald = _herald()
    with herald.unit_of_work() as session:
        company, token = services.create_company(session, name=name)
    _print({"company_id": company.id, "api_token": token}, json_out,
           f"company {company.id}\napi token (shown once): {token}")


@company_app.command("remove")
def company_remove(
    company: Annotated[str, typer.Argument(help="The company's id, name or id prefix.")],
    force: Annotated[bool, typer.Option(
        "--force", help="Remove it even with posts still to go out (never sent).")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask to confirm.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete a company and all it holds: tokens, members, accounts, posts, audit log.

    Its API tokens and its members' sessions stop working (servers trust a token they
    checked for at most 2 s more). Refused while one of its posts is being published, and
    while posts are still to go out unless --force. Logged at WARNING (herald.audit): the
    company's own audit log goes with it.
    """
    herald = _herald()
    try:
        with herald.unit_of_work() as session:
            found = services.find_company(session, company)
            name, company_id = found.name, found.id
            if not yes:
                typer.confirm(f"Remove {name!r} ({company_id}) and everything it holds?",
                              abort=True)
            counts = services.remove_company(session, found, force=force)
    except AppError as exc:
        fail(exc.message, 1)
    logging.getLogger("herald.audit").warning(
        "company %s (%r) removed by the CLI%s; its posts by status: %s", company_id, name,
        " with --force" if force else "", counts or "none")
    _print({"removed": company_id, "name": name, "posts": counts}, json_out,
           f"removed {name!r} ({company_id}) and its {sum(counts.values())} posts")


RoleOpt = Annotated[str, typer.Option(
    "--role", help=f"What the token may do: {', '.join(ROLE_NAMES)} (see docs/roles.md).")]


@token_app.command("create")
def token_create(company: CompanyOpt = None, name: str = "", role: RoleOpt = "owner",
                 json_out: JsonOpt = False) -> None:
    """Create an API token for a company (shown once), acting with a role."""
    herald = _herald()
    company_id = _company_id(herald, company)
    try:
        with herald.unit_of_work() as session:
            token = services.issue_api_token(session, herald.context(company_id, actor="cli"),
                                             name=name, role=role)
    except AppError as exc:
        fail(exc.message, 1)
    _print({"company_id": company_id, "api_token": token, "role": role.strip().lower()},
           json_out, token)


@token_app.command("revoke")
def token_revoke(token: str, json_out: JsonOpt = False) -> None:
    """Revoke an API token (the token, its id or its printed prefix)."""
    herald = _herald()
    try:
        with herald.unit_of_work() as session:
            row = services.find_api_token(session, token=token)
            was = row.revoked_at
            services.revoke_api_token(session, token=token)
            record_revoked(session, herald.context(row.company_id, actor="cli"), row, was)
    except AppError as exc:
        fail(exc.message, 1)
    _print({"id": row.id, "revoked_at": row.revoked_at}, json_out, f"revoked {row.prefix}…")


@posts_app.command("list")
def posts_list(
    company: CompanyOpt = None,
    status: Annotated[list[str] | None, typer.Option(help="Only posts in this status.")] = None,
    limit: int = 50,
    json_out: JsonOpt = False,
) -> None:
    """List posts, newest first."""
    herald = _herald()
    ctx = herald.context(_company_id(herald, company))
    with herald.db.session() as session:
        rows, _ = services.list_posts(session, ctx, services.PostFilters(status=status or ()),
                                      limit=limit)
        items = [PostOut.model_validate(p).model_dump(mode="json") for p in rows]
    lines = [f"{p['id']}  {p['status']:<11} {p['platform']:<9} {p['run_at'] or '-':<32} "
             f"{(p['caption'] or '')[:40]!r}" for p in items]
    _print(items, json_out, "\n".join(lines) or "no posts")


@posts_app.command("show")
def posts_show(post_id: str, company: CompanyOpt = None, json_out: JsonOpt = False) -> None:
    """Show one post with its attempts."""
    herald = _herald()
    ctx = herald.context(_company_id(herald, company))
    try:
        with herald.db.session() as session:
            detail = services.post_detail_out(session, ctx, post_id).model_dump(mode="json")
    except AppError as exc:
        fail(exc.message, 1)
    attempts = "\n".join(
        f"  #{a['attempt']} {a['worker_id']} {a['started_at']} {a['phase']} {a['outcome']} "
        f"{a['error_message'] or ''}" for a in detail["attempt_log"])
    text = (f"{detail['id']} {detail['status']} on {detail['platform']} at {detail['run_at']}\n"
            f"caption: {detail['caption']!r}\n"
            f"external id: {detail['external_post_id'] or '-'}  "
            f"permalink: {detail['permalink'] or '-'}\n"
            f"error: {detail['error_message'] or '-'}\nattempts:\n{attempts or '  none'}")
    if detail.get("waiting_for_platform"):
        text += f"\nwaiting: {detail['waiting_for_platform']}"
    if comment := detail.get("first_comment_state"):
        text += (f"\nfirst comment: {comment['status']} {comment['text']!r}"
                 f"{' ' + comment['error'] if comment['error'] else ''}")
    _print(detail, json_out, text)


@posts_app.command("retry-comment")
def posts_retry_comment(post_id: str, company: CompanyOpt = None,
                        json_out: JsonOpt = False) -> None:
    """Post a published post's failed first comment again (the post stays published)."""
    herald = _herald()
    ctx = herald.context(_company_id(herald, company))
    try:
        with herald.unit_of_work() as session:
            post = PostOut.model_validate(services.retry_first_comment(session, ctx, post_id))
    except AppError as exc:
        fail(exc.message, 1)
    _print(post.model_dump(mode="json"), json_out,
           f"{post.id} {post.status}: its first comment is queued again")


@posts_app.command("cancel")
def posts_cancel(post_id: str, company: CompanyOpt = None, json_out: JsonOpt = False) -> None:
    """Cancel a post that has not gone out."""
    herald = _herald()
    ctx = herald.context(_company_id(herald, company))
    try:
        with herald.unit_of_work() as session:
            post = PostOut.model_validate(services.cancel_post(session, ctx, post_id))
    except AppError as exc:
        fail(exc.message, 1)
    _print(post.model_dump(mode="json"), json_out, f"{post.id} {post.status}")


@app.command()
def status(json_out: JsonOpt = False) -> None:
    """Queue health: due now, processing, expired leases, today's results, per worker."""
    herald = _herald()
    now = utcnow()
    stats = herald.queue().stats(now=now, since=now - timedelta(days=1))
    rate = stats["success_rate_today"]
    workers = ", ".join(f"{w}: {n}" for w, n in stats["processing_per_worker"].items()) or "-"
    text = (f"due now:          {stats['due_now']}\n"
            f"pending:          {stats['pending']}\n"
            f"processing:       {stats['processing']} ({workers})\n"
            f"held (paused):    {stats['held']}\n"
            f"expired leases:   {stats['expired_leases']}\n"
            f"last 24 h:        {stats['published_today']} published, "
            f"{stats['failed_today']} failed, {stats['unconfirmed_today']} unconfirmed\n"
            f"success rate:     {'-' if rate is None else f'{rate:.1%}'}")
    _print(stats, json_out, text)


def _add_web_commands() -> None:
    from herald import ops_cli
    from herald.cli_audit import audit_list
    from herald.cli_import import posts_import
    from herald.cli_schedule import schedule_app
    from herald.web.cli import user_app

    ops_cli.register(app, company_app, token_app)

    app.add_typer(user_app, name="user")
    app.add_typer(schedule_app, name="schedule")
    posts_app.command("import")(posts_import)
    app.command("audit")(audit_list)


_add_web_commands()


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        typer.echo(f"herald: error: {exc}", err=True)
        sys.exit(2)
