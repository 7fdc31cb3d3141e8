"""A TCP proxy to a database server that can go silent, as a blackholed network does.

`cut()`: from then on every open connection carries nothing either way (what arrives is
read and dropped), and new connections are accepted but hear nothing. The peers' kernels
see live connections that never answer: no reset, no error, the way a firewall that drops
packets or a dead NAT entry looks to a client. `heal()`: new connections pass again; the
cut ones stay silent for good (a real blackhole that lasted outlives them too).
`refuse()`: what a restarting server does instead: every open connection is closed, and
new ones are closed as soon as they arrive, until `heal()`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class _Pipe:
    client: socket.socket
    server: socket.socket | None
    silent: bool = False


@dataclass
class Blackhole:
    target_host: str
    target_port: int
    port: int = 0
    cut_now: bool = False
    refusing: bool = False
    pipes: list[_Pipe] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _listener: socket.socket | None = None
    _closed: bool = False

    def start(self) -> Blackhole:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, daemon=True, name="blackhole-accept").start()
        return self

    def cut(self) -> None:
        with self._lock:
            self.cut_now = True
            for pipe in self.pipes:
                pipe.silent = True

    def refuse(self) -> None:
        with self._lock:
            self.refusing = True
            pipes, self.pipes = self.pipes, []
        for pipe in pipes:
            for sock in (pipe.client, pipe.server):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                        sock.close()

    def heal(self) -> None:
        with self._lock:
            self.cut_now = False
            self.refusing = False

    def close(self) -> None:
        self._closed = True
        with self._lock:
            socks = [s for p in self.pipes for s in (p.client, p.server) if s is not None]
        if self._listener is not None:
            socks.append(self._listener)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                silent, refusing = self.cut_now, self.refusing
            if refusing:
                client.close()
                continue
            server = None
            if not silent:
                try:
                    server = socket.create_connection((self.target_host, self.target_port))
                except OSError:
                    client.close()
                    continue
            pipe = _Pipe(client, server, silent)
            with self._lock:
                self.pipes.append(pipe)
            threading.Thread(target=self._pump, args=(pipe, client, server), daemon=True).start()
            if server is not None:
                threading.Thread(target=self._pump, args=(pipe, server, client),
                                 daemon=True).start()

    def _pump(self, pipe: _Pipe, src: socket.socket, dst: socket.socket | None) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                if not pipe.silent and dst is not None:
                    # A close passes on while the network works; a silent pipe keeps the
                    # other side waiting, as a blackhole would.
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
                return
            if pipe.silent or dst is None:
                continue  # dropped on the floor
            try:
                dst.sendall(data)
            except OSError:
                return
