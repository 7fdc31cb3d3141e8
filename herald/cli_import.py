"""`herald posts import FILE [--dry-run]`: the bulk import from the command line, with a
progress bar. Mounted by herald.cli as `posts import`; it calls the service the API calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from herald.cli_options import COMPANY_HELP
from herald.errors import AppError

#: What each stage of the service is called on the progress bar.
_STAGES = {"read": "Reading rows", "media": "Checking media", "check": "Checking rows",
           "store": "Storing posts"}


def posts_import(
    file: Annotated[Path, typer.Argument(help="A CSV (header row) or a JSON array of "
                                              "create bodies.", exists=True, dir_okay=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row; store "
                                                            "nothing.")] = False,
    company: Annotated[str | None, typer.Option(
        "--company", help=COMPANY_HELP)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")
                        ] = False,
) -> None:
    """Import posts from a CSV or JSON file: every row checked, all stored or none."""
    from herald import cli, services

    herald = cli._herald()
    ctx = herald.context(cli._company_id(herald, company), actor="cli")
    raw = file.read_bytes()
    if len(raw) > herald.settings.max_import_bytes:
        cli.fail(f"{file} is {len(raw):,} bytes; Herald imports at most "
                 f"{herald.settings.max_import_bytes:,} (HERALD_MAX_IMPORT_BYTES)")
    kind = "application/json" if file.suffix.lower() == ".json" else "text/csv"
    try:
        with _ProgressBar(quiet=json_out) as tell:
            report = services.import_posts(herald.unit_of_work, ctx, raw, kind,
                                           dry_run=dry_run,
                                           max_rows=herald.settings.max_import_rows,
                                           progress=tell)
    except AppError as exc:
        cli.fail(exc.message, 1)
    found = report.as_dict()
    if json_out:
        typer.echo(json.dumps(found, indent=2))
    else:
        typer.echo(_text(found, report.summary()))
    if report.bad_rows:
        raise typer.Exit(1)


def _text(found: dict[str, Any], summary: str) -> str:
    lines = [f"row {p['row']}" + (f" (line {p['line']})" if p["line"] else "")
             + (f", account {p['account']!r}" if p["account"] else "")
             + ": " + "; ".join(p["problems"]) for p in found["problems"]]
    notes = sorted({n for item in found["items"] for n in item["notes"]})
    return "\n".join([*lines, *[f"note: {n}" for n in notes[:5]], summary])


class _ProgressBar:
    """A rich progress bar fed by the service's (stage, done, total) calls."""

    def __init__(self, *, quiet: bool) -> None:
        from rich.progress import Progress

        self.bar = Progress(disable=quiet, transient=True)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Any:
        self.bar.start()
        return self.update

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def update(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(_STAGES.get(stage, stage), total=total)
        self.bar.update(self.tasks[stage], completed=done, total=max(total, 1))
