"""The `herald` command, run as a user runs it: a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import SECRET

HERALD = [sys.executable, "-m", "herald"]


def herald_cmd(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60
               ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HERALD, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def cli_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update(HERALD_DATABASE_URL=database_url, HERALD_SECRET_KEY=SECRET)
    return env


def test_company_create_prints_a_token_the_api_accepts(herald, cli_env, tmp_path):
    result = herald_cmd("company", "create", "acme", "--json", env=cli_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert set(created) == {"company_id", "api_token"}
    from fastapi.testclient import TestClient

    from herald.app import create_app

    with TestClient(create_app(herald)) as client:
        response = client.get("/api/v1/posts",
                              headers={"Authorization": f"Bearer {created['api_token']}"})
    assert response.status_code == 200
    # Revoking it from the CLI locks the API out.
    result = herald_cmd("token", "revoke", created["api_token"], env=cli_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with TestClient(create_app(herald)) as client:
        response = client.get("/api/v1/posts",
                              headers={"Authorization": f"Bearer {created['api_token']}"})
    assert response.status_code == 401


def test_status_and_posts_list_print_json(herald, cli_env, tmp_path, company):
    from tests.helpers import add_account, add_posts

    account = add_account(herald, company[0])
    add_posts(herald, company[0], account, 2)
    result = herald_cmd("status", "--json", env=cli_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["due_now"] == 2
    result = herald_cmd("posts", "list", "--json", env=cli_env, cwd=tmp_path)
    assert [p["status"] for p in json.loads(result.stdout)] == ["pending", "pending"]


def test_run_once_publishes_due_posts_through_the_platform_and_exits(
    herald, cli_env, tmp_path, company
):
    from herald.platforms.fake import FakeServer
    from tests.helpers import add_account, add_posts

    account = add_account(herald, company[0], "facebook", "1001")
    for n in range(3):  # Facebook refuses identical consecutive posts (code 506)
        add_posts(herald, company[0], account, caption=f"Hello {n}")
    with FakeServer() as fake:
        fake.state.add_facebook_page("1001", "secret-token-1001")
        env = {**cli_env, "HERALD_GRAPH_API_URL": fake.graph_url}
        result = herald_cmd("run-once", "--json", env=env, cwd=tmp_path)
        published = fake.state.published(platform="facebook")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["claimed"], summary["published"]) == (3, 3), result.stderr
    assert sorted(r.caption for r in published) == ["Hello 0", "Hello 1", "Hello 2"]
    assert "secret-token-1001" not in result.stderr + result.stdout


@pytest.mark.parametrize("url,expected", [
    ("not a url", "is not a database URL"),
    ("redis://localhost/0", "supports sqlite, postgresql and mysql"),
    ("postgresql://herald@127.0.0.1:1/herald", "cannot reach the database"),
])
def test_bad_database_url_is_one_line_no_traceback(url, expected, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update(HERALD_DATABASE_URL=url, HERALD_SECRET_KEY=SECRET)
    result = herald_cmd("status", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_weak_or_missing_secret_is_refused_outside_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update(HERALD_DATABASE_URL="postgresql://postgres@127.0.0.1/postgres")
    result = herald_cmd("status", env=env, cwd=tmp_path)
    assert "HERALD_SECRET_KEY is required" in result.stderr
    env["HERALD_SECRET_KEY"] = "changeme"
    result = herald_cmd("status", env=env, cwd=tmp_path)
    assert "too weak" in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_herald_run_on_a_fresh_folder_serves_docs_and_stops_on_sigterm(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    port = _free_port()
    proc = subprocess.Popen([*HERALD, "run", "--port", str(port)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "herald run did not start"
                time.sleep(0.2)
        assert response.status_code == 200
        assert (tmp_path / "herald.db").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    # uvicorn re-raises the signal after its graceful shutdown, so -SIGTERM is a clean exit.
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "API token, shown once: hld_" in output
    assert "worker" in output and "stopping" in output


def test_a_worker_started_before_its_database_waits_for_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update(HERALD_DATABASE_URL="postgresql://herald@127.0.0.1:1/herald",
               HERALD_SECRET_KEY=SECRET)
    proc = subprocess.Popen([*HERALD, "worker"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        second = proc.stdout.readline()
        # It is still running, saying what it waits for, instead of exiting with an error.
        assert proc.poll() is None
        assert "cannot reach the database" in first and "retrying" in first
        assert "retrying" in second
    finally:
        proc.kill()
        proc.wait(10)
