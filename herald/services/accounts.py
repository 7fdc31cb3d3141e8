"""Social accounts and their tokens (encrypted at rest)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from herald import queue
from herald.errors import Conflict, Invalid, NotFound
from herald.models import AccountSchedule, Post, SocialAccount, SocialToken, new_id
from herald.permissions import Permission
from herald.platforms.base import PublishError, TransientError
from herald.platforms.registry import spec
from herald.platforms.servers import ServerURLError, check_server_url, normalize_server_url
from herald.schemas import AccountCreate, AccountTokenUpdate
from herald.services import audit
from herald.services.context import Context
from herald.statuses import PostStatus


def check_account(ctx: Context, data: AccountCreate) -> None:
    """Before the transaction: the account's server is one Herald may use, and the platform
    accepts its credentials (where it can be asked, e.g. a Bluesky app password)."""
    ctx.require(Permission.MANAGE_ACCOUNTS)
    if data.sandbox:
        return
    server = _server_url(data)
    if server is None:
        return
    try:
        server = check_server_url(server, allow_private=ctx.allow_private_servers)
    except ServerURLError as exc:
        raise Invalid(str(exc)) from None
    if ctx.verify_account is None or data.external_id is None or data.access_token is None:
        return
    try:
        ctx.verify_account(data.platform, server, data.external_id, data.access_token)
    except TransientError as exc:
        raise Invalid(f"Herald could not check the account with {server} now: {exc.message} "
                      "Try again in a moment.") from None
    except PublishError as exc:
        raise Invalid(f"{server} refused the account: {exc.message}") from None


def _server_url(data: AccountCreate) -> str | None:
    """The account's server URL, normalized (the platform's default when it names none)."""
    default = spec(data.platform).server_url_default
    if default is None:
        if data.server_url is not None:
            raise Invalid(f"{spec(data.platform).display_name} accounts take no server_url.")
        return None
    if data.sandbox:
        return None
    try:
        return normalize_server_url(data.server_url or default)
    except ServerURLError as exc:
        raise Invalid(str(exc)) from None


def create_account(session: Session, ctx: Context, data: AccountCreate) -> SocialAccount:
    ctx.require(Permission.MANAGE_ACCOUNTS)
    server_url = _server_url(data)
    if data.sandbox:
        if ctx.sandbox is None:
            raise Conflict("Sandbox accounts need the built-in sandbox, which runs under "
                           "`herald run`.")
        external_id, token = ctx.sandbox.new_identity(data.platform)
        data = data.model_copy(update={"external_id": external_id, "access_token": token})
    assert data.external_id is not None and data.access_token is not None
    exists = session.scalars(
        select(SocialAccount.id).where(SocialAccount.company_id == ctx.company_id,
                                       SocialAccount.platform == data.platform,
                                       SocialAccount.external_id == data.external_id)
    ).first()
    if exists:
        raise Conflict(f"This company already has the {data.platform} account "
                       f"{data.external_id!r} (id {exists}).")
    now = ctx.now()
    account = SocialAccount(id=new_id(), company_id=ctx.company_id, platform=data.platform,
                            external_id=data.external_id, name=data.name, state="active",
                            sandbox=data.sandbox, server_url=server_url, created_at=now,
                            updated_at=now)
    session.add(account)
    session.flush()
    session.add(_token_row(ctx, account.id, data))
    session.flush()
    if data.sandbox and ctx.sandbox is not None and not ctx.sandbox.register(
            data.platform, data.external_id, data.access_token, data.name,
            company_id=ctx.company_id):
        raise Conflict("That sandbox id was just taken; add the sandbox account again.")
    audit.record(session, ctx, audit.Action.ACCOUNT_CONNECTED, account_id=account.id,
                 after=_described(account))
    return account


def _described(account: SocialAccount) -> dict[str, object]:
    """What the audit log keeps of an account (never its tokens)."""
    return {"platform": account.platform, "external_id": account.external_id,
            "name": account.name, "sandbox": account.sandbox, "state": account.state,
            "requires_approval": account.requires_approval}


def _token_row(ctx: Context, account_id: str, data: AccountCreate | AccountTokenUpdate,
               existing: SocialToken | None = None) -> SocialToken:
    row = existing or SocialToken(account_id=account_id)
    assert data.access_token is not None
    row.access_token_enc = ctx.cipher.encrypt(data.access_token)
    # An update without a refresh token keeps the old one: dropping it would force a
    # reconnect at the next expiry for no reason.
    if data.refresh_token:
        row.refresh_token_enc = ctx.cipher.encrypt(data.refresh_token)
    elif existing is None:
        row.refresh_token_enc = None
    row.expires_at = data.token_expires_at
    if data.refresh_token_expires_at is not None or existing is None:
        row.refresh_expires_at = data.refresh_token_expires_at
    row.updated_at = ctx.now()
    return row


def list_accounts(session: Session, ctx: Context) -> list[tuple[SocialAccount, SocialToken]]:
    ctx.require(Permission.VIEW)
    return [
        (a, t) for a, t in session.execute(
            select(SocialAccount, SocialToken)
            .join(SocialToken, SocialToken.account_id == SocialAccount.id, isouter=True)
            .where(SocialAccount.company_id == ctx.company_id)
            .order_by(SocialAccount.created_at, SocialAccount.id)
        ) if ctx.account_ids is None or a.id in ctx.account_ids
    ]


def get_account(session: Session, ctx: Context, account_id: str) -> SocialAccount:
    ctx.require(Permission.VIEW)
    account = session.get(SocialAccount, account_id)
    if (account is None or account.company_id != ctx.company_id
            or (ctx.account_ids is not None and account.id not in ctx.account_ids)):
        raise NotFound(f"No account with id {account_id!r}.")
    return account


def account_token(session: Session, account_id: str) -> SocialToken | None:
    return session.get(SocialToken, account_id)


def update_account_token(session: Session, ctx: Context, account_id: str,
                         data: AccountTokenUpdate) -> SocialAccount:
    ctx.require(Permission.MANAGE_ACCOUNTS)
    account = get_account(session, ctx, account_id)
    before = {"state": account.state, "state_reason": account.state_reason}
    session.add(_token_row(ctx, account.id, data, session.get(SocialToken, account.id)))
    # A fresh token is the reconnect: the account may publish again.
    account.state = "active"
    account.state_reason = None
    account.updated_at = ctx.now()
    audit.record(session, ctx, audit.Action.ACCOUNT_RECONNECTED, account_id=account.id,
                 before=before, after={"state": "active", "state_reason": None,
                                       "token": "replaced"})
    return account


def delete_account(session: Session, ctx: Context, account_id: str) -> None:
    ctx.require(Permission.MANAGE_ACCOUNTS)
    account = get_account(session, ctx, account_id)
    busy = session.scalars(
        select(Post.id).where(Post.account_id == account.id, Post.status == PostStatus.PROCESSING)
    ).first()
    if busy:
        raise Conflict("A post of this account is being published right now; try again in a "
                       "moment.")
    audit.record(session, ctx, audit.Action.ACCOUNT_REMOVED, account_id=account.id,
                 before=_described(account))
    queue.forget_account(session.connection(), account_id=account.id)
    session.execute(delete(Post).where(Post.account_id == account.id))
    session.execute(delete(SocialToken).where(SocialToken.account_id == account.id))
    session.execute(delete(AccountSchedule).where(AccountSchedule.account_id == account.id))
    session.delete(account)


def update_account_settings(session: Session, ctx: Context, account_id: str, *,
                            requires_approval: bool | None = None) -> SocialAccount:
    """An account's own settings (today: whether its posts need approval)."""
    ctx.require(Permission.MANAGE_ACCOUNTS)
    account = get_account(session, ctx, account_id)
    before = {"requires_approval": account.requires_approval}
    if requires_approval is not None:
        account.requires_approval = requires_approval
    account.updated_at = ctx.now()
    audit.record(session, ctx, audit.Action.ACCOUNT_SETTINGS, account_id=account.id,
                 before=before, after={"requires_approval": account.requires_approval})
    return account


def servers_in_use(session: Session) -> list[tuple[str, str]]:
    """Every (platform, server URL) some non-sandbox account lives on."""
    rows = session.execute(select(SocialAccount.platform, SocialAccount.server_url)
                           .where(SocialAccount.server_url.is_not(None),
                                  SocialAccount.sandbox.is_(False)).distinct())
    return [(platform, url) for platform, url in rows if url]
