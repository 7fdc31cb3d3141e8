"""Herald: a self-hosted social media post scheduler."""

from __future__ import annotations

__version__ = "0.1.0"
