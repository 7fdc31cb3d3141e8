"""`herald audit [--post ID] [--account ID] [--actor WHO] [--action A] [--limit N] [--json]`:
the audit log from the command line, newest first (the service the API calls)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from herald.cli_options import COMPANY_HELP
from herald.errors import AppError


def audit_list(
    company: Annotated[str | None, typer.Option("--company", help=COMPANY_HELP)] = None,
    post: Annotated[str | None, typer.Option("--post", help="Only this post's entries.")
                    ] = None,
    account: Annotated[str | None, typer.Option(
        "--account", help="Only this account's entries.")] = None,
    actor: Annotated[str | None, typer.Option(
        "--actor", help="Only this actor's, e.g. web:ada@example.com, token:hld_…, cli.")
    ] = None,
    action: Annotated[str | None, typer.Option(
        "--action", help="Only this action, e.g. post.approved (docs/roles.md lists them).")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many entries.", min=1, max=1000)
                     ] = 50,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")
                        ] = False,
) -> None:
    """The audit log: who did what, when, with the before and after."""
    from herald import cli
    from herald.services import audit

    herald = cli._herald()
    ctx = herald.context(cli._company_id(herald, company), actor="cli")
    filters = audit.AuditFilters(post_id=post, account_id=account, actor=actor, action=action)
    try:
        with herald.db.session() as session:
            rows, _ = audit.entries(session, ctx, filters, limit=limit)
            items = [{"id": r.id, "at": r.at.isoformat(), "actor": r.actor,
                      "action": r.action, "post_id": r.post_id, "account_id": r.account_id,
                      "before": r.before, "after": r.after} for r in rows]
    except AppError as exc:
        cli.fail(exc.message, 1)
    if json_out:
        typer.echo(json.dumps(items, indent=2, default=str))
        return
    for item in items:
        what = item["post_id"] or item["account_id"] or ""
        typer.echo(f"{item['at']}  {item['actor']:<32} {item['action']:<20} {what}  "
                   f"{json.dumps(item['after'], default=str) if item['after'] else ''}")
    if not items:
        typer.echo("No entries.")
