from __future__ import annotations

from herald.cli import main

main()
