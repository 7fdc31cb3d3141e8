"""A worker raises its open-files limit to what its concurrency needs (each post in
flight holds a platform connection), up to the hard limit, and says when that is short.
Run in a child process: the limits are the process's."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import logging, resource, sys
logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="%(message)s")
from herald.worker import open_files_for
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2])))
print("limit", open_files_for(int(sys.argv[3])), resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


def _run(soft: int, hard: int, concurrency: int) -> str:
    return subprocess.run([sys.executable, "-c", SCRIPT, str(soft), str(hard),
                           str(concurrency)], capture_output=True, text=True,
                          check=True).stdout


def test_the_soft_limit_is_raised_to_what_the_posts_in_flight_need():
    out = _run(1024, 4096, 1000)
    assert "limit 2256 2256" in out  # two connections a post at most, and 256 spare
    assert "raise the limit" not in out


def test_a_limit_already_high_enough_is_left_alone():
    assert "limit 4000 4000" in _run(4000, 4096, 100)


def test_a_hard_limit_too_low_is_used_whole_and_said():
    out = _run(512, 1500, 1000)
    assert "limit 1500 1500" in out
    assert "1000 posts in flight may need 2256" in out and "HERALD_WORKER_CONCURRENCY" in out
