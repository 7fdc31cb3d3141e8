"""`herald schedule set|show ACCOUNT`: an account's posting schedule from the command line.
Mounted by herald.cli; it calls the services the API calls."""

from __future__ import annotations

from typing import Annotated

import typer

from herald.errors import AppError
from herald.planning.schedules import parse_slots
from herald.planning.schemas import ScheduleOut
from herald.planning.slots import WEEKDAYS

schedule_app = typer.Typer(help="Posting schedules: each account's weekly slots.",
                           no_args_is_help=True)

AccountArg = Annotated[str, typer.Argument(help="The account's id.")]
CompanyOpt = Annotated[str | None, typer.Option(
    "--company", help="Company id (default: the only company, if there is one).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _text(out: ScheduleOut) -> str:
    if not out.slots:
        return f"Account {out.account_id} has no posting schedule."
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(out.timezone)
    lines = [f"Posting schedule of {out.account_id} ({out.timezone}):"]
    for day in WEEKDAYS:
        times = [s.time + (f" [{s.category}]" if s.category else "")
                 for s in out.slots if s.weekday == day]
        if times:
            lines.append(f"  {day}  {', '.join(times)}")
    lines.append("Next slots: " + ", ".join(
        t.astimezone(zone).strftime("%a %d %b %H:%M") for t in out.upcoming[:5]))
    return "\n".join(lines)


@schedule_app.command("set")
def schedule_set(
    account: AccountArg,
    slot: Annotated[list[str], typer.Option(
        "--slot", help="Days and times, e.g. 'mon-fri 09:00,17:30' or 'sat 11:00'; "
                       "repeat for more.")],
    timezone: Annotated[str, typer.Option(
        "--timezone", help="The IANA zone of the times, e.g. Europe/Berlin.")] = "UTC",
    company: CompanyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Replace the account's posting schedule (posts already queued keep their times)."""
    from herald import cli
    from herald.planning import schedules
    from herald.planning.schemas import ScheduleIn

    herald = cli._herald()
    ctx = herald.context(cli._company_id(herald, company), actor="cli")
    try:
        data = ScheduleIn(timezone=timezone, slots=parse_slots(slot))
        with herald.unit_of_work() as session:
            out = schedules.set_schedule(session, ctx, account, data)
    except AppError as exc:
        cli.fail(exc.message, 1)
    cli._print(out.model_dump(mode="json"), json_out, _text(out))


@schedule_app.command("show")
def schedule_show(account: AccountArg, company: CompanyOpt = None,
                  json_out: JsonOpt = False) -> None:
    """Print the account's posting schedule and its next slots."""
    from herald import cli
    from herald.planning import schedules

    herald = cli._herald()
    ctx = herald.context(cli._company_id(herald, company), actor="cli")
    try:
        with herald.db.session() as session:
            out = schedules.schedule_out(session, ctx, account)
    except AppError as exc:
        cli.fail(exc.message, 1)
    cli._print(out.model_dump(mode="json"), json_out, _text(out))
