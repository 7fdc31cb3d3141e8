"""FakeServer: the fake platforms on a real port, in a background thread; and the CLI."""

from __future__ import annotations

import argparse
import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from herald.platforms.fake.app import create_fake_app
from herald.platforms.fake.demo import add_demo_accounts
from herald.platforms.fake.state import FakeState

DEFAULT_PORT = 8400
#: Long enough for a normal stop; short enough that calls stalled by a timeout fault
#: (delay 30 s by default) do not hold up a test session.
GRACEFUL_SHUTDOWN = 1


def _mounts() -> tuple[str, str, str]:
    """Where the Graph API, Facebook's dialog and LinkedIn are mounted in the fake.

    Imported when asked, not at the top: those modules import this package (its calls
    and state), so importing one of them first would find this package half made.
    """
    from herald.platforms.facebook.fake.oauth import FACEBOOK_MOUNT
    from herald.platforms.graph.fake import GRAPH_MOUNT
    from herald.platforms.linkedin.fake.api import LINKEDIN_MOUNT

    return GRAPH_MOUNT, FACEBOOK_MOUNT, LINKEDIN_MOUNT


class FakeServer:
    """Serve the fake on 127.0.0.1 (a free port by default) until stop() or `with` ends.

    Pass `app` (and the `prefix` it mounts the fake under) to serve a parent app instead,
    e.g. to check the fake works mounted at /sandbox.
    """

    def __init__(
        self,
        state: FakeState | None = None,
        *,
        app: ASGIApp | None = None,
        prefix: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
    ) -> None:
        self.state = state or FakeState()
        self.app = app if app is not None else create_fake_app(self.state)
        self.prefix = prefix.rstrip("/")
        self.host = host
        self.port = port
        self.log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the fake app (its sandbox page)."""
        return f"http://{self.host}:{self.port}{self.prefix}"

    @property
    def graph_url(self) -> str:
        """What HERALD_GRAPH_API_URL should be."""
        return self.url + _mounts()[0]

    @property
    def facebook_url(self) -> str:
        """Stands for www.facebook.com: the Login dialog is at <this>/dialog/oauth."""
        return self.url + _mounts()[1]

    @property
    def instagram_url(self) -> str:
        """What HERALD_INSTAGRAM_API_URL should be (graph.instagram.com; its dialog is at
        <this>/oauth/authorize and its code exchange at <this>/oauth/access_token)."""
        from herald.platforms.instagram_login.fake.oauth import INSTAGRAM_MOUNT

        return self.url + INSTAGRAM_MOUNT

    @property
    def linkedin_url(self) -> str:
        """What HERALD_LINKEDIN_API_URL should be."""
        return self.url + _mounts()[2]

    def start(self, timeout: float = 10.0) -> FakeServer:
        # Bind here rather than in uvicorn so port 0 yields a known free port. The explicit
        # IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say they are
        # TCP, and without it every response waits 40 ms on a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            # "auto" picks httptools and uvloop when installed (uvicorn[standard]): several
            # times the throughput of h11 for benchmarks.
            self.app, log_level=self.log_level, access_log=False, http="auto", loop="auto",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN, backlog=4096,
        )
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fake-platforms", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError("the fake platform server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=GRACEFUL_SHUTDOWN + 10)
        self._server = self._thread = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """Run the fake platforms standalone: python -m herald.platforms.fake --port N."""
    parser = argparse.ArgumentParser(
        prog="python -m herald.platforms.fake",
        description="Emulated Facebook/Instagram Graph API and LinkedIn REST API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each call")
    parser.add_argument("--seed", type=int, default=0, help="seed for random fault injection")
    parser.add_argument("--no-fetch-media", action="store_true",
                        help="do not download image_url/video_url to check them")
    parser.add_argument("--demo", action="store_true", help="register the demo accounts")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    state = FakeState(seed=args.seed)
    state.configure(latency=args.latency, fetch_media=not args.no_fetch_media)
    base = f"http://{args.host}:{args.port}"
    print(f"Sandbox page:            {base}/")
    graph_mount, facebook_mount, linkedin_mount = _mounts()
    print(f"HERALD_GRAPH_API_URL=    {base}{graph_mount}")
    print(f"HERALD_LINKEDIN_API_URL= {base}{linkedin_mount}")
    print(f"HERALD_INSTAGRAM_API_URL={base}/instagram  (its dialog: …/oauth/authorize)")
    print(f"Facebook Login dialog:   {base}{facebook_mount}/dialog/oauth")
    print(f"LinkedIn authorization:  {base}{linkedin_mount}/oauth/v2/authorization")
    print(f"Admin API:               {base}/_fake/")
    if args.demo:
        for account in add_demo_accounts(state):
            print(f"  {account['platform']:<9} {account['id']:<28} token={account['token']}")
    uvicorn.run(
        create_fake_app(state), host=args.host, port=args.port, log_level=args.log_level,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN, backlog=4096,
    )
