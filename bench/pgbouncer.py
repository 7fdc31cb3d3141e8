"""A PgBouncer in transaction pooling in front of the local PostgreSQL, for the PgBouncer
test and `bench.chaos --pgbouncer` (Debian's pgbouncer package).

PgBouncer refuses to run as root: as root it runs as the `postgres` user, its folder
handed to that user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

PGBOUNCER = "/usr/sbin/pgbouncer"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgBouncer:
    """`with PgBouncer() as pool:` — pool.url(database) is the database through it."""

    def __init__(self, *, upstream_host: str = "127.0.0.1", upstream_port: int = 5432,
                 user: str = "postgres", pool_size: int = 20, folder: Path | None = None,
                 binary: str = PGBOUNCER) -> None:
        self.port = _free_port()
        self.user = user
        self.binary = binary
        self.folder = folder or Path(tempfile.mkdtemp(prefix="herald-pgbouncer-"))
        self._owned = folder is None
        self.upstream = (upstream_host, upstream_port)
        self.pool_size = pool_size
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.folder / "pgbouncer.log"

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _config(self) -> Path:
        host, port = self.upstream
        (self.folder / "users.txt").write_text(f'"{self.user}" ""\n')
        config = self.folder / "pgbouncer.ini"
        config.write_text("\n".join([
            "[databases]",
            f"* = host={host} port={port}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            "auth_type = trust",
            f"auth_file = {self.folder / 'users.txt'}",
            "pool_mode = transaction",
            f"default_pool_size = {self.pool_size}",
            "max_client_conn = 1000",
            "server_reset_query =",
            # After a failed login to the server (PostgreSQL restarting) PgBouncer refuses
            # every client for this long: its default, 15 s, stretches a 3 s restart to
            # 15 s, longer than a lease. 1 s tracks the server's own outage.
            "server_login_retry = 1",
            f"logfile = {self.log}",
            f"pidfile = {self.folder / 'pgbouncer.pid'}",
            "",
        ]))
        return config

    def start(self, timeout: float = 20.0) -> PgBouncer:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self._config()
        command = [self.binary, str(config)]
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
            for path in self.folder.iterdir():
                shutil.chown(path, "postgres")
            command = ["runuser", "-u", "postgres", "--", *command]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited ({self.proc.returncode}): "
                                   f"{self.log.read_text() if self.log.exists() else ''}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("pgbouncer did not start listening") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._owned:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PgBouncer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
