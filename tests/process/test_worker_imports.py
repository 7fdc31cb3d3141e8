"""What a worker process loads: the libraries only the API, the web UI or httpx's own CLI
use stay out of it (bench/idle.py holds a worker to 100 MB of resident memory)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys
from herald.cli import app  # what `herald worker` imports first
from herald.config import Settings
from herald.runtime import Herald

herald = Herald.build(Settings(database_url=sys.argv[1], media_dir=sys.argv[2]),
                      platforms=True)
herald.build_worker(worker_id="imports")
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_a_worker_loads_no_image_password_or_cli_libraries(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'herald.db'}"
    out = subprocess.run([sys.executable, "-c", SCRIPT, url, str(tmp_path / "media")],
                         check=True, capture_output=True, text=True).stdout
    loaded = set(json.loads(out.splitlines()[-1]))
    assert "herald" in loaded and "httpx" in loaded  # the script did build a worker
    # Pillow (uploads), argon2 (web sign-in), fastapi (the API), rich/pygments/click
    # (httpx's CLI, imported by httpx's __init__ when installed).
    assert loaded.isdisjoint({"PIL", "argon2", "fastapi", "rich", "pygments", "click"}), (
        loaded & {"PIL", "argon2", "fastapi", "rich", "pygments", "click"})
