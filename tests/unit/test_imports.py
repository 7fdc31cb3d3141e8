"""Every module of herald imports on its own, whatever was imported before it.

An import cycle shows only when a module of the cycle is imported first: the suite's
usual order hid one between herald.platforms.fake and its Graph API part, which broke
`python -m bench.chaos`. Each module is imported in a fresh subprocess-free state: the
herald modules loaded so far are dropped from sys.modules before each import.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import herald


def _module_names() -> list[str]:
    names = [info.name for info in pkgutil.walk_packages(herald.__path__, "herald.")]
    # Alembic's env.py runs migrations and a __main__ runs its command when imported:
    # neither is a library module.
    return [n for n in names if not n.startswith("herald.migrations")
            and not n.endswith("__main__")]


def test_every_herald_module_imports_first() -> None:
    saved = {k: v for k, v in sys.modules.items() if k == "herald" or k.startswith("herald.")}
    failures: list[str] = []
    try:
        for name in _module_names():
            for key in [k for k in sys.modules if k == "herald" or k.startswith("herald.")]:
                del sys.modules[key]
            try:
                importlib.import_module(name)
            except Exception as exc:  # the test reports every module that fails
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
    finally:
        for key in [k for k in sys.modules if k == "herald" or k.startswith("herald.")]:
            del sys.modules[key]
        sys.modules.update(saved)
    assert not failures, "\n".join(failures)
