"""People who sign in to the web UI: create, authenticate, list, set their time zone.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile);
a hash made with weaker parameters is upgraded the next time its owner signs in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from herald.errors import Invalid, NotFound, Unauthorized
from herald.models import Company, User, new_id, utcnow
from herald.permissions import Role, parse_role
from herald.services import memberships

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # hashing a megabyte "password" is a denial of service
# Deliberately loose: the one real check of an address is mail reaching it.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a wrong address costs as long as a wrong
# password and response times do not tell which addresses have accounts.
_DUMMY_HASH = _hasher.hash("herald: no such user")


def normalize_email(email: str) -> str:
    """Stored lower-case, so one equality (and the unique index) finds it on every engine."""
    return email.strip().lower()


def check_timezone(name: str) -> str:
    """The IANA name if it is one (e.g. Europe/Paris), else Invalid."""
    name = name.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"{name!r} is not a time zone; pick one like Europe/Paris or "
                      "America/New_York.") from None
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid(f"A password may have at most {MAX_PASSWORD_LENGTH} characters.")


def default_role(session: Session, company_id: str) -> Role:
    """The first member of a company is its owner; the others are editors."""
    return Role.EDITOR if memberships.has_members(session, company_id) else Role.OWNER


def create_user(session: Session, *, company_id: str, email: str, password: str,
                name: str = "", timezone: str | None = None, role: Role | str | None = None,
                account_ids: list[str] | None = None) -> User:
    """A member of the company; without a role, its owner if the first, else an editor.

    No permission check: the CLI's operator calls this; members.add_member checks."""
    if session.get(Company, company_id) is None:
        raise NotFound(f"No company with id {company_id!r}.")
    chosen = parse_role(role) if role else default_role(session, company_id)
    email = normalize_email(email)
    check_password(password)
    # Hashed before the address is looked up: a refusal costs as long as an add.
    password_hash = _hasher.hash(password)
    # One answer for a malformed address and for one already in use, here or in another
    # company: a member adding people must not learn who has an account elsewhere.
    if (not _EMAIL.match(email)
            or session.scalars(select(User.id).where(User.email == email)).first()):
        raise Invalid(f"Herald cannot add {email!r} as a member: check the address, or ask "
                      "them for another one.")
    user = User(id=new_id(), company_id=company_id, email=email, name=name.strip(),
                password_hash=password_hash,
                timezone=check_timezone(timezone) if timezone else None,
                created_at=utcnow(), role=chosen.value, account_ids=account_ids)
    session.add(user)
    session.flush()
    memberships.join(session, user=user, company_id=company_id, role=chosen,
                     account_ids=account_ids)
    return user


def authenticate(session: Session, *, email: str, password: str,
                 now: Callable[[], datetime] = utcnow) -> User:
    """The user with this email and password; Unauthorized, saying no more, otherwise."""
    user = session.scalars(
        select(User).where(User.email == normalize_email(email))
    ).first()
    refused = Unauthorized("The email or the password is not right.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise refused
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise refused from None
    if user is None:
        raise refused
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = now()
    return user


def get_user(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)


def end_sessions(session: Session, *, user_id: str, generation: int | None = None) -> None:
    """End every web session of this user, on every server process (see web/sessions.py).

    With `generation`, only if the sessions are still of that one: a stale cookie (already
    ended) must not be able to sign its owner out again."""
    where = [User.id == user_id]
    if generation is not None:
        where.append(User.session_generation == generation)
    # One UPDATE that adds one, so two sign-outs at once cannot both write the same value.
    session.execute(update(User).where(*where)
                    .values(session_generation=User.session_generation + 1))


def _by_email(session: Session, email: str) -> User:
    user = session.scalars(select(User).where(User.email == normalize_email(email))).first()
    if user is None:
        raise NotFound(f"No user with the email {normalize_email(email)}.")
    return user


def set_password(session: Session, *, email: str, password: str) -> User:
    """A new password for this user; their sessions end, so a stolen one ends with them."""
    user = _by_email(session, email)
    check_password(password)
    user.password_hash = _hasher.hash(password)
    session.flush()
    end_sessions(session, user_id=user.id)
    return user


def remove_user(session: Session, *, email: str) -> User:
    """Remove a user from every company; their sessions end with the row."""
    user = _by_email(session, email)
    session.delete(user)
    return user


def list_members(session: Session, *, company_id: str) -> list[memberships.Member]:
    return memberships.members_of(session, company_id)


def set_timezone(session: Session, *, user_id: str, timezone: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    user.timezone = check_timezone(timezone)
    return user


def any_users(session: Session) -> bool:
    return session.scalars(select(User.id).limit(1)).first() is not None


def any_user_with(session: Session, email: str) -> bool:
    """Whether someone has this address (an invitation's holder needs to know: sign in,
    or choose a password)."""
    return session.scalars(select(User.id).where(User.email == normalize_email(email))
                           ).first() is not None
