from __future__ import annotations

from herald.platforms.fake.server import main

main()
