"""What every `herald` command module shares: option help and how flags are shown."""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption

#: The help of every --company option.
COMPANY_HELP = ("Company id, name or id prefix (default: $HERALD_COMPANY, else the only "
                "company).")


def hide_flag_types() -> None:
    """Show flags as flags: recent typer prints `--json <bool>`, as if the flag took a value.

    Only flags change (an option that takes a value keeps its `<int>`), and it is a no-op on
    a typer that already leaves flags bare.
    """
    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_herald_flags_bare", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    display_type_rich._herald_flags_bare = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
