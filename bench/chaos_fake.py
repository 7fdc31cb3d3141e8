"""The platform fake as a separate process, driven through its /_fake admin API."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from bench.chaos_procs import free_port, spawn, stop_process, tail
from herald.platforms.bluesky.fake.routes import BLUESKY_MOUNT
from herald.platforms.graph.fake import GRAPH_MOUNT
from herald.platforms.instagram_login.fake.oauth import INSTAGRAM_MOUNT
from herald.platforms.linkedin.fake.api import LINKEDIN_MOUNT
from herald.platforms.mastodon.fake.routes import MASTODON_MOUNT
from herald.platforms.threads.fake.routes import THREADS_MOUNT

IMAGE_NAME = "chaos.jpg"


@dataclass(frozen=True)
class ChaosPlatform:
    """One platform in the chaos run: its accounts, its posts and where its fake lives."""

    name: str
    #: The i-th account's (external id, token), i from 0.
    account: Callable[[int], tuple[str, str]]
    #: Where its API is under the fake, and the setting that points Herald there (None:
    #: the accounts carry it as their server_url instead, as Bluesky's PDS).
    mount: str
    setting: str | None
    post_type: str = "feed"
    #: Its posts carry the hosted JPEG.
    image: bool = False
    #: Herald can always settle its unknown outcomes, so `unconfirmed` there is a bug.
    reconcilable: bool = True
    #: A Graph throttling code, injected a few times (see FaultPlan.rules).
    throttle_code: int | None = None


def _linkedin(i: int) -> tuple[str, str]:
    urn = (f"urn:li:person:chaosMember{i + 1}" if i % 2 == 0
           else f"urn:li:organization:{900000 + i + 1}")
    return urn, f"chaos-li-token-{i + 1}"


#: Every platform the chaos run publishes to, one line each.
PLATFORMS: tuple[ChaosPlatform, ...] = (
    ChaosPlatform("instagram", lambda i: (f"178414{i + 1:011d}", f"chaos-ig-token-{i + 1}"),
                  GRAPH_MOUNT, "HERALD_GRAPH_API_URL", image=True, throttle_code=80002),
    ChaosPlatform("instagram_login",
                  lambda i: (f"178415{i + 1:011d}", f"chaos-igl-token-{i + 1}"),
                  INSTAGRAM_MOUNT, "HERALD_INSTAGRAM_API_URL", image=True,
                  throttle_code=80002),
    # Facebook cannot always tell after the fact whether a post went out.
    ChaosPlatform("facebook", lambda i: (f"10{i + 1:013d}", f"chaos-fb-token-{i + 1}"),
                  GRAPH_MOUNT, "HERALD_GRAPH_API_URL", reconcilable=False,
                  throttle_code=80001),
    ChaosPlatform("linkedin", _linkedin, LINKEDIN_MOUNT, "HERALD_LINKEDIN_API_URL"),
    ChaosPlatform("threads", lambda i: (f"2600{i + 1:08d}", f"chaos-th-token-{i + 1}"),
                  THREADS_MOUNT, "HERALD_THREADS_API_URL", post_type="text"),
    ChaosPlatform("bluesky", lambda i: (f"chaos{i + 1}.bsky.test", f"chaos-bs-pass-{i + 1}"),
                  BLUESKY_MOUNT, None, post_type="text"),
    # A Mastodon account lives on an instance: the fake's, seeded as its server_url.
    ChaosPlatform("mastodon", lambda i: (f"chaos{i + 1}", f"chaos-ma-token-{i + 1}"),
                  MASTODON_MOUNT, None, post_type="text"),
)
BY_NAME = {p.name: p for p in PLATFORMS}


def post_shape(platform: str, image_url: str) -> tuple[str, list[dict[str, str]]]:
    """The post type and media of the platform's chaos posts."""
    found = BY_NAME[platform]
    return found.post_type, [{"url": image_url, "type": "image"}] if found.image else []


@dataclass(frozen=True)
class Account:
    """One account, registered on the fake and seeded into Herald with the same token."""

    platform: str
    external_id: str
    token: str


@dataclass(frozen=True)
class FaultPlan:
    """What the fake is told to do wrong; every rate is a probability per matching call."""

    transient: float = 0.30
    drop: float = 0.02
    stall: float = 0.02
    stall_lost: float = 0.01
    reset: float = 0.01
    stall_seconds: float = 2.0
    throttles: int = 4
    throttle_rate: float = 0.01

    def rules(self) -> list[dict[str, Any]]:
        """FaultRules, most specific first: the fake fires the first matching rule that
        draws, so `drop` is exactly its rate of commit calls and the rest share what is left.
        """
        rules: list[dict[str, Any]] = []
        if self.drop > 0:
            # Applied and recorded by the platform; the client sees the connection die.
            rules.append({"kind": "drop", "endpoint": "commit", "probability": self.drop})
        if self.throttles > 0 and self.throttle_rate > 0:
            # Graph only, and only a few: the accounts are configured to regain access
            # after a minute. (LinkedIn's throttle is a DAY limit: Herald rightly holds the
            # account until midnight UTC, which no short test can wait for.)
            for platform, code in ((p.name, p.throttle_code) for p in PLATFORMS
                                   if p.throttle_code):
                rules.append({"kind": "throttle", "platform": platform, "code": code,
                              "probability": self.throttle_rate,
                              "count": max(1, self.throttles // 2)})
        if self.stall > 0:
            # A slow answer: the call stalls, then is applied and answered.
            rules.append({"kind": "timeout", "probability": self.stall,
                          "delay": self.stall_seconds, "apply": True})
        if self.stall_lost > 0:
            # Stalls, then the connection dies and nothing was applied.
            rules.append({"kind": "timeout", "probability": self.stall_lost,
                          "delay": self.stall_seconds, "apply": False})
        if self.reset > 0:
            rules.append({"kind": "reset", "probability": self.reset})
        if self.transient > 0:
            # Half Graph code 1 / HTTP 500, half code 2 / HTTP 503 (LinkedIn: 500 and 503);
            # the second rule's rate makes the pair fire on `transient` of the calls.
            half = 1 - (1 - self.transient) ** 0.5
            rules.append({"kind": "error", "code": 1, "status": 500, "probability": half})
            rules.append({"kind": "error", "code": 2, "status": 503,
                          "probability": round(half, 6)})
        return rules

    def as_dict(self) -> dict[str, Any]:
        return {"transient": self.transient, "drop_after_commit": self.drop,
                "stall_then_apply": self.stall, "stall_then_lost": self.stall_lost,
                "reset": self.reset, "stall_seconds": self.stall_seconds,
                "graph_throttles_max": self.throttles if self.throttle_rate > 0 else 0}


def make_accounts(per_platform: int) -> list[Account]:
    """`per_platform` accounts of every platform in PLATFORMS."""
    return [Account(p.name, *p.account(i)) for p in PLATFORMS for i in range(per_platform)]


def jpeg_bytes() -> bytes:
    """A small square JPEG that Instagram's checks accept."""
    image = Image.new("RGB", (1080, 1080), (40, 110, 200))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


@dataclass
class FakePlatforms:
    """`python -m herald.platforms.fake` on a free loopback port."""

    log: Path
    seed: int
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    client: httpx.Client = field(init=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graph_url(self) -> str:
        return self.base + GRAPH_MOUNT

    @property
    def linkedin_url(self) -> str:
        return self.base + LINKEDIN_MOUNT

    def settings(self) -> dict[str, str]:
        """The settings that point Herald's clients at the fake, per PLATFORMS."""
        return {p.setting: self.base + p.mount for p in PLATFORMS if p.setting}

    def server_urls(self) -> dict[str, str]:
        """The server_url of the accounts of platforms that take one (Bluesky's PDS)."""
        return {p.name: self.base + p.mount for p in PLATFORMS if p.setting is None}

    def start(self, timeout: float = 30.0) -> None:
        self.port = self.port or free_port()
        # --log-level info keeps uvicorn's access log: one line per call with its status,
        # which is how the faults injected on non-commit calls are counted afterwards.
        self.proc = spawn([sys.executable, "-m", "herald.platforms.fake", "--port",
                           str(self.port), "--seed", str(self.seed), "--log-level", "info"],
                          log=self.log)
        self.client = httpx.Client(base_url=self.base, timeout=httpx.Timeout(30.0))
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the platform fake exited ({self.proc.returncode}):\n"
                                   f"{tail(self.log)}")
            try:
                if self.client.get("/_fake/").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the platform fake did not answer within {timeout:g}s")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace=5)
        if hasattr(self, "client"):
            self.client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.client.request(method, path, **kwargs)
        if resp.status_code >= 400:
            raise RuntimeError(f"fake admin {method} {path}: HTTP {resp.status_code} "
                               f"{resp.text[:300]}")
        return resp.json()

    def setup(self, accounts: list[Account], plan: FaultPlan, *, seed: int) -> str:
        """Accounts, generous quotas, one hosted JPEG; returns the JPEG's URL."""
        self._call("PUT", "/_fake/config", json={
            "ig_quota_total": 1_000_000, "li_daily_limit": 1_000_000})
        for account in accounts:
            self._call("POST", "/_fake/accounts", json={
                "platform": account.platform, "id": account.external_id,
                "token": account.token})
            if BY_NAME[account.platform].throttle_code and plan.throttles:
                # A throttled Graph account regains access after a minute (the business
                # use case header's estimate), so Herald holds it that long, not 15 min.
                self._call("POST", "/_fake/usage", json={
                    "account": account.external_id, "percent": 0, "regain_minutes": 1})
        resp = self.client.put(f"/_fake/files/{IMAGE_NAME}", content=jpeg_bytes(),
                               headers={"content-type": "image/jpeg"})
        if resp.status_code >= 400:
            raise RuntimeError(f"could not host the image: HTTP {resp.status_code}")
        self._call("POST", "/_fake/seed", json={"seed": seed})
        return f"{self.base}/_fake/files/{IMAGE_NAME}"

    def inject(self, plan: FaultPlan) -> list[dict[str, Any]]:
        return [self._call("POST", "/_fake/faults", json=rule) for rule in plan.rules()]

    def clear_faults(self) -> None:
        self._call("DELETE", "/_fake/faults")

    def published(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self._call("GET", "/_fake/published")["data"]
        return data

    def commits(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self._call("GET", "/_fake/commits")["data"]
        return data

    def faults_left(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self._call("GET", "/_fake/faults")["data"]
        return data


_MOUNTS = tuple(dict.fromkeys(p.mount for p in PLATFORMS))
_ACCESS = re.compile(r'"(GET|POST|PUT|DELETE) (/\S*) HTTP/[\d.]+" (\d{3})')


def access_counts(log: Path) -> dict[str, int]:
    """Platform API calls seen by the fake, by family and answer, from its access log.

    A dropped or reset connection is logged by uvicorn as "ASGI callable returned without
    completing response" (its access line, if any, says 200).
    """
    counts: Counter[str] = Counter()
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    for line in text.splitlines():
        if "returned without completing response" in line:
            counts["connection_dropped"] += 1
            continue
        match = _ACCESS.search(line)
        if match is None:
            continue
        path, status = match.group(2), int(match.group(3))
        family = next((m.strip("/") for m in _MOUNTS if path.startswith(m + "/")), None)
        if family is None:
            continue  # the admin API and the hosted image
        counts[f"{family}_calls"] += 1
        if status >= 500:
            counts[f"{family}_5xx"] += 1
        elif status == 429 or (family == "graph" and status == 400):
            counts[f"{family}_4xx_throttle_or_refusal"] += 1
        elif status >= 400:
            counts[f"{family}_{status}"] += 1
    return dict(sorted(counts.items()))
