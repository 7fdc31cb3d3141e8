"""The fake OpenID Connect provider (herald.sso.fake) served by uvicorn on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from herald.sso.fake import FakeProvider
from tests.smtp_server import free_port


@contextmanager
def oidc_provider() -> Iterator[FakeProvider]:
    port = free_port()
    fake = FakeProvider(issuer=f"http://127.0.0.1:{port}", clients={"herald": "s3cret-client"})
    server = uvicorn.Server(uvicorn.Config(fake.app(), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the fake OIDC provider did not start"
        time.sleep(0.02)
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(5)
