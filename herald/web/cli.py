"""`herald user …`: people who sign in to the web UI. Wired into the CLI with
`app.add_typer(user_app, name="user")` in herald.cli.

herald.web.users is imported inside the commands: importing it loads argon2 and hashes a
dummy password (64 MiB of Argon2 memory), which `herald worker` and every command that
never checks a password need not pay at start (the web UI imports it for sign-in)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from herald.cli_options import COMPANY_HELP
from herald.errors import AppError

user_app = typer.Typer(help="People who sign in to the web UI.", no_args_is_help=True)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        # One line: `printf '%s\n' "$PASSWORD" | herald user create … --password-stdin`.
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@user_app.command("create")
def create(
    company: Annotated[str | None, typer.Option(
        "--company", help=COMPANY_HELP)] = None,
    email: Annotated[str, typer.Option("--email", help="What they sign in with.")] = "",
    name: Annotated[str, typer.Option(help="Their name, as shown to the team.")] = "",
    timezone: Annotated[str | None, typer.Option(
        help="IANA time zone, e.g. Europe/Paris (default: the company's).")] = None,
    role: Annotated[str | None, typer.Option(
        "--role", help="owner, admin, editor, contributor, client or viewer (default: owner "
                       "for the company's first user, editor after; see docs/roles.md).")
    ] = None,
    account: Annotated[list[str] | None, typer.Option(
        "--account", help="Limit them to this account id (repeat for several; default: "
                          "every account).")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input, not a prompt.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")
                        ] = False,
) -> None:
    """Create a user who can sign in to the web UI."""
    from herald import services
    from herald.cli import _company_id, _herald, _print, fail
    from herald.services import audit
    from herald.web import users

    if not email.strip():
        fail("give the user's email with --email")
    herald = _herald()
    company_id = _company_id(herald, company)
    password = _password(password_stdin)
    try:
        with herald.unit_of_work() as session:
            limited = (services.members.account_ids_of(session, company_id, account)
                       if account else None)
            user = users.create_user(session, company_id=company_id, email=email,
                                     password=password, name=name, timezone=timezone,
                                     role=role, account_ids=limited)
            created = {"id": user.id, "company_id": user.company_id, "email": user.email,
                       "role": user.role, "account_ids": user.account_ids}
            audit.record(session, herald.context(company_id, actor="cli"),
                         audit.Action.MEMBER_ADDED,
                         after={"id": user.id, "email": user.email, "role": user.role})
    except AppError as exc:
        fail(exc.message, 1)
    _print(created, json_out, f"Created {created['email']} ({created['role']}); they can sign "
                              f"in at {herald.settings.public_url}/signin")


@user_app.command("list")
def list_users(
    company: Annotated[str | None, typer.Option(
        "--company", help=COMPANY_HELP)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")
                        ] = False,
) -> None:
    """The members of a company."""
    from herald.cli import _company_id, _herald, _print
    from herald.web import users

    herald = _herald()
    company_id = _company_id(herald, company)
    with herald.db.session() as session:
        rows = [{"id": u.id, "email": u.email, "name": u.name, "role": u.role,
                 "last_login_at": u.last_login_at}
                for u in users.list_members(session, company_id=company_id)]
    _print(rows, json_out, "\n".join(f"{r['email']}\t{r['role']}\t{r['name']}" for r in rows) or
           "No users yet.")


@user_app.command("set-password")
def set_password(
    email: Annotated[str, typer.Option("--email", help="Whose password.")] = "",
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input, not a prompt.")
    ] = False,
) -> None:
    """Give a user a new password; every web session of theirs ends."""
    from herald.cli import _herald, fail
    from herald.web import users

    if not email.strip():
        fail("give the user's email with --email")
    herald = _herald()
    password = _password(password_stdin)
    try:
        with herald.unit_of_work() as session:
            users.set_password(session, email=email, password=password)
    except AppError as exc:
        fail(exc.message, 1)
    typer.echo(f"New password set for {users.normalize_email(email)}; they are signed out "
               "everywhere.")


@user_app.command("remove")
def remove(email: Annotated[str, typer.Option("--email", help="Whom to remove.")] = "") -> None:
    """Remove a user: they can no longer sign in, and every web session of theirs ends."""
    from herald.cli import _herald, fail
    from herald.services import audit
    from herald.web import users

    if not email.strip():
        fail("give the user's email with --email")
    herald = _herald()
    try:
        with herald.unit_of_work() as session:
            gone = users.remove_user(session, email=email)
            audit.record(session, herald.context(gone.company_id, actor="cli"),
                         audit.Action.MEMBER_REMOVED,
                         before={"id": gone.id, "email": gone.email, "role": gone.role})
    except AppError as exc:
        fail(exc.message, 1)
    typer.echo(f"Removed {users.normalize_email(email)}.")


@user_app.command("invite")
def invite(
    company: Annotated[str | None, typer.Option(
        "--company", help=COMPANY_HELP)] = None,
    email: Annotated[str, typer.Option("--email", help="Whom to invite.")] = "",
    role: Annotated[str, typer.Option(
        "--role", help="owner, admin, editor, contributor, client or viewer.")] = "editor",
    days: Annotated[int, typer.Option("--days", help="How long the link works (1-30).")] = 7,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")
                        ] = False,
) -> None:
    """Invite someone by e-mail link (mailed when HERALD_SMTP_HOST is set, printed always).

    Someone who already signs in to Herald (in another company) joins with their account;
    anyone else chooses a password when they open the link."""
    from herald.cli import _company_id, _herald, _print, fail
    from herald.notifications.channels import Smtp
    from herald.services import invitations

    if not email.strip():
        fail("give the address with --email")
    herald = _herald()
    company_id = _company_id(herald, company)
    try:
        with herald.unit_of_work() as session:
            new = invitations.invite(session, herald.context(company_id, actor="cli"),
                                     email=email, role=role, days=days)
            name = invitations.company_name(session, new.invitation)
    except AppError as exc:
        fail(exc.message, 1)
    problem = invitations.send(Smtp.from_settings(herald.settings), new, company=name,
                               public_url=herald.settings.public_url)
    url = invitations.invitation_url(herald.settings.public_url, new.token)
    row = new.invitation
    out = {"id": row.id, "email": row.email, "role": row.role, "url": url,
           "expires_at": row.expires_at.isoformat(), "email_sent": problem is None,
           "email_error": problem}
    sent = (f"mailed to {row.email}" if problem is None
            else f"not mailed ({problem}); send them the link yourself")
    _print(out, json_out, f"Invited {row.email} as {row.role}, {sent}:\n{url}")
