"""Programs from Debian's packages that process tests need (Chromium, Prometheus, PgBouncer):
installed with apt-get when missing and we are root; else the test skips (fails in CI)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(message: str) -> None:
    """Skip on a developer's machine; fail in CI, where a missing program is a bug."""
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def ensure_program(path: str, package: str) -> str:
    """`path`, installing Debian's `package` first when it is missing."""
    if os.path.exists(path):
        return path
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        unavailable(f"{path} is missing; install Debian's {package} package "
                    f"(apt-get install {package}) as root to run this test")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
        if result.returncode != 0:
            unavailable(f"{' '.join(command)} failed: {result.stderr.strip()[-500:]}")
    if not os.path.exists(path):
        unavailable(f"apt-get installed {package} but {path} is not there")
    return path
