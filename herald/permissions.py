"""Roles and what each may do: the one permission table (docs/roles.md shows it).

Every use case in herald.services asks `Context.require(permission)` before it acts, so
the REST API, the web UI and the CLI obey this table alike. A user and an API token each
carry one role per company. Roles are contract strings: added to, never renamed.
"""

from __future__ import annotations

from enum import StrEnum

from herald.errors import Forbidden


class Role(StrEnum):
    """Who someone is in a company (**contract**)."""

    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    CONTRIBUTOR = "contributor"
    CLIENT = "client"
    VIEWER = "viewer"


class Permission(StrEnum):
    """One thing a role may do; a refusal's 403 names it."""

    #: See posts, accounts, the calendar, media.
    VIEW = "view"
    #: Write posts (drafts, or posts sent for approval) and upload media; edit one's own.
    CREATE_POSTS = "create_posts"
    #: Schedule posts (and reschedule, retry) without approval; posting schedules, the
    #: queue, series.
    SCHEDULE = "schedule"
    #: Post with run_at "now" (a post due at once).
    PUBLISH_NOW = "publish_now"
    #: Edit, reschedule and cancel posts someone else wrote.
    EDIT_OTHERS = "edit_others_posts"
    #: Approve or reject posts awaiting approval.
    APPROVE = "approve"
    #: Connect, reconnect, configure and remove social accounts.
    MANAGE_ACCOUNTS = "manage_accounts"
    #: Add and remove members, and set their roles.
    MANAGE_MEMBERS = "manage_members"
    #: Create and revoke API tokens; add, change and remove webhooks (machine access).
    MANAGE_TOKENS = "manage_tokens"
    #: The company's own settings (approval required for every account).
    MANAGE_COMPANY = "manage_company"
    #: Read the audit log.
    VIEW_AUDIT = "view_audit"
    #: Create, list and revoke client review links (a secret URL showing posts to a client).
    MANAGE_REVIEW_LINKS = "manage_review_links"
    #: Comment in a post's thread (and mention members); delete one's own comments.
    COMMENT = "comment"


P = Permission
_EDITOR = frozenset({P.VIEW, P.CREATE_POSTS, P.SCHEDULE, P.PUBLISH_NOW, P.EDIT_OTHERS,
                     P.APPROVE, P.VIEW_AUDIT, P.MANAGE_REVIEW_LINKS, P.COMMENT})
_ADMIN = _EDITOR | {P.MANAGE_ACCOUNTS, P.MANAGE_MEMBERS, P.MANAGE_TOKENS}

#: The permission table. docs/roles.md shows it, and a test keeps the two the same.
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.ADMIN: _ADMIN,
    Role.EDITOR: _EDITOR,
    Role.CONTRIBUTOR: frozenset({P.VIEW, P.CREATE_POSTS, P.COMMENT}),
    Role.CLIENT: frozenset({P.VIEW, P.APPROVE, P.COMMENT}),
    Role.VIEWER: frozenset({P.VIEW}),
}

ROLE_NAMES = tuple(r.value for r in Role)


def parse_role(value: str) -> Role:
    """The role named `value`, or Invalid saying which roles there are."""
    from herald.errors import Invalid

    try:
        return Role(value.strip().lower())
    except ValueError:
        raise Invalid(f"{value!r} is not a role; pick one of {', '.join(ROLE_NAMES)}."
                      ) from None


def allows(role: Role | str, permission: Permission) -> bool:
    return permission in PERMISSIONS[Role(role)]


def require(role: Role | str, permission: Permission) -> None:
    """Forbidden, naming the permission, unless `role` has it."""
    if not allows(role, permission):
        raise Forbidden(f"This needs the permission '{permission}', which the role "
                        f"'{role}' does not have.", permission=permission)


def require_grant(granter: Role | str, role: Role | str) -> None:
    """One may give a member or a token only a role whose permissions one holds oneself."""
    missing = PERMISSIONS[Role(role)] - PERMISSIONS[Role(granter)]
    if missing:
        first = sorted(missing)[0]
        raise Forbidden(f"Giving the role '{role}' needs the permission '{first}', which the "
                        f"role '{granter}' does not have.", permission=first)
