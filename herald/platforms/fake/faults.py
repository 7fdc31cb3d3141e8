"""Fault injection: rules that make chosen calls fail, stall or lose their response.

A rule matches calls by platform (a registry name, or "*" for any) and by
endpoint kind:

- ``container``: Instagram ``POST /{ig-user-id}/media``, Threads ``POST /{user}/threads``;
- ``upload``: idempotent media steps (unpublished FB photos, LinkedIn initialize/PUT/finalize);
- ``status``: processing polls (IG and Threads containers, FB video, LinkedIn video);
- ``commit``: the non-idempotent call (``media_publish``, ``/feed``, published ``/photos``,
  ``/videos``, ``/rest/posts``, Threads ``threads_publish``, Bluesky ``createRecord``);
- ``comment``: a first comment (Graph ``POST /{object}/comments``, LinkedIn
  ``POST /rest/socialActions/{urn}/comments``, Threads ``threads_publish`` of a reply);
- ``oauth``: the token endpoints (Graph ``oauth/access_token``, LinkedIn ``accessToken``);
- ``read``: every other GET; ``*``: anything.

Kinds:

- ``error``: a transient server error (Graph code 1/2 with HTTP 5xx; LinkedIn 500), not applied;
  Graph ``code=390`` answers Meta's video-upload failure instead (``subcode`` 6000, 1363019,
  1363030 or 1363037), also not applied;
- ``throttle``: a throttling error (Graph code 4/17/32/613/80001/80002; LinkedIn 429), not applied;
- ``timeout``: wait ``delay`` seconds first, then apply and answer (``apply=False``: then drop
  the connection without applying), so a client with a shorter timeout gives up;
- ``drop``: apply the call, record it, then close the connection without a response;
- ``reset``: close the connection without applying anything;
- ``processing_error``: the call succeeds but the media later fails processing (IG container
  ERROR, FB video error, LinkedIn PROCESSING_FAILED).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Any

from herald.platforms.registry import NAMES

KINDS = frozenset({"error", "throttle", "timeout", "drop", "reset", "processing_error"})
ENDPOINTS = frozenset({"container", "upload", "status", "commit", "comment", "oauth", "read",
                       "*"})
PLATFORMS = frozenset({*NAMES, "*"})


@dataclass
class FaultRule:
    """One injected misbehaviour; ``count`` None means it fires for as long as it is set."""

    kind: str
    platform: str = "*"
    endpoint: str = "*"
    probability: float = 1.0
    count: int | None = None
    #: Seconds to stall for ``timeout``.
    delay: float = 30.0
    #: For ``timeout``: whether the call is applied after the stall.
    apply: bool = True
    #: Overrides for the error sent (Graph code/subcode, HTTP status).
    code: int | None = None
    subcode: int | None = None
    status: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(KINDS)}")
        if self.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint kind {self.endpoint!r}")
        if self.platform not in PLATFORMS:
            raise ValueError(f"unknown platform {self.platform!r}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if self.count is not None and self.count < 1:
            raise ValueError("count must be at least 1")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, platform: str, endpoint: str) -> bool:
        return self.platform in ("*", platform) and self.endpoint in ("*", endpoint)


class FaultPlan:
    """The active rules plus a seeded random source, so faulty runs are reproducible.

    Not thread-safe on its own: FakeState calls it under its lock.
    """

    def __init__(self, seed: int = 0) -> None:
        self.rules: list[FaultRule] = []
        self.random = random.Random(seed)

    def seed(self, seed: int) -> None:
        self.random.seed(seed)

    def add(self, rule: FaultRule) -> FaultRule:
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def pick(self, platform: str, endpoint: str) -> FaultRule | None:
        """The first matching rule that fires for this call, if any."""
        for rule in self.rules:
            if not rule.matches(platform, endpoint):
                continue
            # Draw only for probabilistic rules so "next N calls" rules don't shift the
            # random sequence other rules see.
            if rule.probability < 1.0 and self.random.random() >= rule.probability:
                continue
            if rule.count is not None:
                rule.count -= 1
                if rule.count == 0:
                    self.rules.remove(rule)
            return rule
        return None
