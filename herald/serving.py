"""`herald serve --workers N`: the API in N processes, connections dealt in turn.

uvicorn's own `--workers` lets its processes share one listening socket and race for each
connection. The process that wakes first accepts every connection waiting, so clients that
connect together land unevenly: 32 keep-alive clients split 29/3 or 23/9 in `bench/api.py`,
and the busier process sets the tail latency for all. Here the parent process accepts, and
hands each connection to the next server process in turn over a Unix socket (SCM_RIGHTS), as
Node's cluster module does; each server process runs uvicorn on the connections handed to
it. A server process that dies is replaced.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import shutil
import signal
import socket
import tempfile
import threading
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import uvicorn

from herald import logs, metrics

log = logging.getLogger("uvicorn.error")

#: Seconds between checks that every server process is alive, when no connection comes.
CHECK_EVERY = 0.5
#: Seconds the parent waits on a server process that does not take a connection before it
#: offers the connection to the next one.
HAND_OFF_TIMEOUT = 5.0
#: A server process that dies sooner than this after starting is restarted no sooner than
#: this (a process that cannot start, e.g. for a bad setting, must not spin the machine).
RESTART_AFTER = 1.0
#: Seconds a server process has to finish its requests when Herald stops.
STOP_TIMEOUT = 30.0


class HandedServer(uvicorn.Server):
    """A uvicorn server with no socket of its own: it serves the connections handed to it
    over `channel`, and stops when the parent closes the channel."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel
        self._handed: set[asyncio.Task[Any]] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])
        self.channel.setblocking(False)
        asyncio.get_running_loop().add_reader(self.channel.fileno(), self._take)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().remove_reader(self.channel.fileno())
        await super().shutdown(sockets=[])

    def _take(self) -> None:
        try:
            data, fds, _, _ = socket.recv_fds(self.channel, 1, 1)
        except BlockingIOError:
            return
        if not data:  # the parent is gone: finish what is in flight and stop
            asyncio.get_running_loop().remove_reader(self.channel.fileno())
            self.should_exit = True
            return
        for fd in fds:
            task = asyncio.ensure_future(asyncio.get_running_loop().connect_accepted_socket(
                self._protocol, socket.socket(fileno=fd)))
            self._handed.add(task)
            task.add_done_callback(self._handed.discard)

    def _protocol(self) -> asyncio.Protocol:
        # What uvicorn's startup() gives loop.create_server for each connection it accepts.
        protocol: asyncio.Protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state)
        return protocol


def _server_process(config: uvicorn.Config, channel: socket.socket) -> None:
    logs.install()  # a spawned process starts with Python's defaults: no redaction either
    config.configure_logging()
    HandedServer(config, channel).run(sockets=[])


class _Child:
    """One server process and the parent's end of its channel."""

    def __init__(self, config: uvicorn.Config) -> None:
        self.channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.channel.settimeout(HAND_OFF_TIMEOUT)
        # spawn, not fork: the parent may hold threads and an imported app's state.
        self.process: BaseProcess = multiprocessing.get_context("spawn").Process(
            target=_server_process, args=(config, theirs), name="herald-serve")
        self.process.start()
        theirs.close()
        self.started = time.monotonic()

    def hand(self, conn: socket.socket) -> None:
        socket.send_fds(self.channel, [b"c"], [conn.fileno()])

    def close(self) -> None:
        self.channel.close()


def serve(config: uvicorn.Config, workers: int, *, metrics_dir: Path | None = None) -> None:
    """Listen on config.host:config.port and serve with `workers` processes until a
    SIGINT or SIGTERM; a second signal stops the processes at once.

    The processes count their metrics in `metrics_dir` (a temporary folder if None), so
    /metrics on any of them answers for all.
    """
    folder = metrics_dir or Path(tempfile.mkdtemp(prefix="herald-metrics-"))
    metrics.prepare_multiprocess(folder)
    try:
        _serve(config, workers)
    finally:
        if metrics_dir is None:
            shutil.rmtree(folder, ignore_errors=True)


def _serve(config: uvicorn.Config, workers: int) -> None:
    listener = socket.create_server((config.host, config.port), backlog=config.backlog)
    listener.settimeout(CHECK_EVERY)
    stopping = threading.Event()
    children = [_Child(config) for _ in range(workers)]

    def on_signal(signum: int, frame: Any) -> None:
        if stopping.is_set():
            for child in children:
                child.process.kill()
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    log.info("Herald serving on http://%s:%d with %d processes (Press CTRL+C to quit)",
             config.host, listener.getsockname()[1], workers)
    turn = 0
    try:
        while not stopping.is_set():
            _replace_dead(children, config)
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                # As a listening server does for its own connections: small answers go
                # out at once, not held back by Nagle's algorithm for the peer's ACK.
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for _ in range(len(children)):
                    child = children[turn % len(children)]
                    turn += 1
                    try:
                        child.hand(conn)
                        break
                    except OSError as exc:  # dead or stuck: offer it to the next one
                        log.warning("server process %s did not take a connection: %s",
                                    child.process.pid, exc)
                else:
                    log.error("no server process took a connection; it is closed")
    finally:
        listener.close()
        _stop(children)


def _replace_dead(children: list[_Child], config: uvicorn.Config) -> None:
    for i, child in enumerate(children):
        if child.process.is_alive() or time.monotonic() - child.started < RESTART_AFTER:
            continue
        log.warning("server process %s exited with code %s; starting another",
                    child.process.pid, child.process.exitcode)
        if child.process.pid is not None:
            metrics.process_exited(child.process.pid)
        child.close()
        children[i] = _Child(config)


def _stop(children: list[_Child]) -> None:
    for child in children:
        child.process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children:
        child.process.join(max(0.0, deadline - time.monotonic()))
        if child.process.is_alive():
            child.process.kill()
            child.process.join()
        child.close()
