"""Operators' commands: `herald company list`, `herald token list`, `herald keys rotate`,
`herald doctor`.

Wired into the CLI by herald.cli (`register`), after its groups exist.
"""

from __future__ import annotations

from typing import Annotated

import typer

from herald.cli_options import COMPANY_HELP

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def company_list(json_out: JsonOpt = False) -> None:
    """Every company: id, name, time zone (oldest first)."""
    from herald import services
    from herald.cli import _herald, _print

    herald = _herald()
    with herald.db.session() as session:
        rows = [{"id": c.id, "name": c.name, "timezone": c.timezone,
                 "created_at": c.created_at} for c in services.list_companies(session)]
    _print(rows, json_out, "\n".join(f"{r['id']}  {r['name']}" for r in rows) or
           "no companies yet; create one with `herald company create NAME`")


def token_list(
    company: Annotated[str | None, typer.Option("--company", help=COMPANY_HELP)] = None,
    json_out: JsonOpt = False,
) -> None:
    """A company's API tokens: the prefix `herald token revoke` takes, name, role, when made."""
    from herald import services
    from herald.cli import _company_id, _herald, _print

    herald = _herald()
    company_id = _company_id(herald, company)
    with herald.db.session() as session:
        rows = [{"id": t.id, "prefix": t.prefix, "name": t.name, "role": t.role,
                 "created_at": t.created_at, "revoked_at": t.revoked_at}
                for t in services.company_api_tokens(session, company_id=company_id)]
    lines = [f"{r['prefix']}…  {r['name'] or '-':<16} {r['role']:<11} "
             f"created {r['created_at']:%Y-%m-%d %H:%M}"
             f"{'  revoked' if r['revoked_at'] else ''}" for r in rows]
    _print(rows, json_out, "\n".join(lines) or "no API tokens")


keys_app = typer.Typer(help="The secret key that encrypts stored tokens.",
                       no_args_is_help=True)


@keys_app.command("rotate")
def keys_rotate(json_out: JsonOpt = False) -> None:
    """Re-encrypt stored tokens, webhook secrets and channels with HERALD_SECRET_KEY
    (HERALD_OLD_SECRET_KEYS still decrypt); safe to run while Herald runs, and again
    after an interruption."""
    from herald.cli import _herald, _print, fail
    from herald.services import keys

    herald = _herald()
    if not herald.settings.old_secret_keys:
        typer.echo("HERALD_OLD_SECRET_KEYS is empty: values under another key cannot be "
                   "read. Checking that everything is under HERALD_SECRET_KEY.", err=True)
    try:
        done = keys.rotate(herald.db, herald.cipher)
    except ValueError as exc:
        fail(f"{exc}; nothing after it was rotated (what was is kept)", 1)
    _print(done.as_dict(), json_out,
           f"re-encrypted {done.rotated} value(s) with HERALD_SECRET_KEY; "
           f"{done.current} were already under it. Nothing is left under an old key: "
           "HERALD_OLD_SECRET_KEYS can be emptied.")


def doctor(json_out: JsonOpt = False, offline: Annotated[bool, typer.Option(
        "--offline", help="Do not ask the platforms about the tokens (judge them by what "
                          "Herald stores).")] = False) -> None:
    """Check the configuration, secret key, database and migrations, media store, API
    versions and every account's token (asking its platform: valid, expiring, missing
    permissions), and say what to fix. Exits 1 if anything failed."""
    import json

    from herald import doctor as checks
    from herald import logs

    logs.install()  # nothing it prints carries a secret
    findings = checks.diagnose(ask_platforms=not offline)
    if json_out:
        typer.echo(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        width = max(len(f.check) for f in findings)
        for f in findings:
            typer.echo(f"{str(f.level).upper():<5} {f.check:<{width}}  {f.message}")
        failed = sum(f.level == checks.Level.FAIL for f in findings)
        warned = sum(f.level == checks.Level.WARN for f in findings)
        typer.echo("\nEverything is fine." if not failed and not warned else
                   f"\n{failed} problem(s) to fix, {warned} warning(s).")
    raise typer.Exit(checks.exit_status(findings))


def register(app: typer.Typer, company_app: typer.Typer, token_app: typer.Typer) -> None:
    company_app.command("list")(company_list)
    token_app.command("list")(token_list)
    app.add_typer(keys_app, name="keys")
    app.command("doctor")(doctor)
