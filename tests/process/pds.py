"""A real AT Protocol PDS on loopback: @atproto/pds and an in-memory PLC directory.

The packages named in scripts/pds/package.json are installed with npm into
~/.cache/herald-pds (the first install takes about 2 minutes; later runs reuse it while
package.json is unchanged), and scripts/pds/start.mjs starts both servers on free ports.
Node and npm come from Debian (apt-get install nodejs npm) when missing and we are root.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.process.browser.live import unavailable

SOURCE = Path(__file__).resolve().parents[2] / "scripts" / "pds"
CACHE = Path(os.environ.get("HERALD_PDS_CACHE", Path.home() / ".cache" / "herald-pds"))
#: Longest wait for the PDS to say it is up (it takes about 3 s).
START_TIMEOUT = 90.0


@dataclass(frozen=True)
class PdsAccount:
    handle: str
    did: str
    app_password: str


@dataclass
class Pds:
    url: str
    process: subprocess.Popen[str]

    def create_account(self, handle: str) -> PdsAccount:
        """A new account on this PDS, with an app password for Herald."""
        with httpx.Client(base_url=self.url, timeout=30) as client:
            made = client.post("/xrpc/com.atproto.server.createAccount", json={
                "email": f"{handle.split('.')[0]}@example.test", "handle": handle,
                "password": secrets.token_urlsafe(12)})
            made.raise_for_status()
            body = made.json()
            app = client.post("/xrpc/com.atproto.server.createAppPassword",
                              json={"name": "herald"},
                              headers={"Authorization": f"Bearer {body['accessJwt']}"})
            app.raise_for_status()
            return PdsAccount(handle, body["did"], app.json()["password"])

    def records(self, did: str) -> list[dict]:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            listed = client.get("/xrpc/com.atproto.repo.listRecords", params={
                "repo": did, "collection": "app.bsky.feed.post", "limit": 100})
            listed.raise_for_status()
            return list(listed.json()["records"])

    def blob(self, did: str, cid: str) -> bytes:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            got = client.get("/xrpc/com.atproto.sync.getBlob", params={"did": did, "cid": cid})
            got.raise_for_status()
            return got.content


def _run(command: list[str], timeout: float) -> None:
    result = subprocess.run(command, cwd=CACHE, capture_output=True, text=True,
                            timeout=timeout, env={**os.environ, "npm_config_nodedir": "/usr"})
    if result.returncode != 0:
        unavailable(f"{' '.join(command)} failed: {(result.stderr or result.stdout)[-800:]}")


def _ensure_node() -> None:
    if shutil.which("node") and shutil.which("npm"):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        unavailable("node and npm are missing; install Debian's nodejs and npm packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "nodejs", "npm"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
        if result.returncode != 0:
            unavailable(f"{' '.join(command)} failed: {result.stderr.strip()[-500:]}")


def install() -> Path:
    """The PDS's packages in CACHE, installed when package.json changed or never was."""
    _ensure_node()
    CACHE.mkdir(parents=True, exist_ok=True)
    wanted = (SOURCE / "package.json").read_text()
    shutil.copyfile(SOURCE / "start.mjs", CACHE / "start.mjs")
    stamp = CACHE / ".installed"
    if stamp.exists() and stamp.read_text() == wanted and (CACHE / "node_modules").exists():
        return CACHE
    (CACHE / "package.json").write_text(wanted)
    _run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], 1500)
    # npm 11 skips packages' install scripts unless approved: build the one native module.
    _run(["npm", "rebuild", "better-sqlite3"], 1200)
    _run(["node", "-e", "require('better-sqlite3')(':memory:').close()"], 60)
    stamp.write_text(wanted)
    return CACHE


def start() -> Iterator[Pds]:
    """Start a PDS (and its PLC directory); stop it when the generator is closed."""
    folder = install()
    data = tempfile.mkdtemp(prefix="herald-pds-")
    log = Path(data) / "pds.log"
    with log.open("w") as errors:
        process = subprocess.Popen(["node", "start.mjs", data], cwd=folder, text=True,
                                   stdout=subprocess.PIPE, stderr=errors)
    try:
        assert process.stdout is not None
        # The one JSON line comes once both servers listen.
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
        line = process.stdout.readline() if ready else ""
        if not line:
            unavailable(f"the PDS did not start: {log.read_text()[-1500:]}")
        yield Pds(json.loads(line)["pds"], process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(data, ignore_errors=True)
