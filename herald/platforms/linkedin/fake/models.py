"""The fake LinkedIn's objects: members and their roles, posts, uploaded assets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LiRole:
    """One organizationAcls row: a member's role on an organization."""

    organization: str  # urn:li:organization:…
    role: str = "ADMINISTRATOR"
    state: str = "APPROVED"


@dataclass
class LiMember:
    """A LinkedIn member who can authorize apps, with their organization roles."""

    id: str  # the OpenID Connect `sub`; the member URN is urn:li:person:{id}
    name: str
    email: str | None = None
    roles: list[LiRole] = field(default_factory=list)

    @property
    def urn(self) -> str:
        return f"urn:li:person:{self.id}"

    @property
    def given_name(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def family_name(self) -> str:
        return self.name.split(" ", 1)[1] if " " in self.name else ""


@dataclass
class LiPost:
    """A LinkedIn post as created through /rest/posts."""

    urn: str
    author: str
    commentary: str
    body: dict[str, Any]
    created_at: float


@dataclass
class LiPart:
    first_byte: int
    last_byte: int
    etag: str | None = None


@dataclass
class LiAsset:
    """An uploaded (or awaited) LinkedIn image, video or document."""

    urn: str
    kind: str  # image | video | document
    owner: str
    created_at: float
    status: str = "WAITING_UPLOAD"  # → PROCESSING (videos) → AVAILABLE | PROCESSING_FAILED
    size: int = 0
    parts: list[LiPart] = field(default_factory=list)
    ready_polls: int = 0
    polls: int = 0
    fail_processing: bool = False

    @property
    def asset_id(self) -> str:
        return self.urn.rsplit(":", 1)[1]
