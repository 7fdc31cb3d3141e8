"""`HERALD_<NAME>_FILE`: a secret setting read from a file (Docker and Kubernetes secrets).

Every secret setting (each `SecretStr` field, the old keys, and the database URL, which
may carry a password) can be given as `HERALD_<NAME>` or as `HERALD_<NAME>_FILE`, the path
of a file holding it; not both. The file must exist, be a regular file and not be
readable by every user of the machine (a secret in a 0644 file is no secret); its trailing
newline is dropped.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

#: Settings that are secret though not typed SecretStr.
ALSO_SECRET = frozenset({"database_url"})
SUFFIX = "_FILE"


class SecretFileError(ValueError):
    """A `_FILE` setting names a file Herald cannot or will not read."""


def secret_fields(settings_cls: type[BaseSettings]) -> list[str]:
    """The names of the settings that take a `_FILE` variant."""
    return [name for name, info in settings_cls.model_fields.items()
            if name in ALSO_SECRET or _holds_secret(info)]


def _holds_secret(info: FieldInfo) -> bool:
    def secret(annotation: Any) -> bool:
        return annotation is SecretStr or any(secret(a) for a in get_args(annotation))

    return secret(info.annotation)


def read_secret_file(variable: str, path: str) -> str:
    """The secret in `path`, or SecretFileError saying what is wrong with the file."""
    file = Path(path)
    try:
        info = file.stat()  # follows symbolic links, as Kubernetes' secret volumes use
    except FileNotFoundError:
        raise SecretFileError(f"{variable} names {path}, which does not exist") from None
    except OSError as exc:
        raise SecretFileError(f"{variable}: cannot read {path} ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise SecretFileError(f"{variable} names {path}, which is not a file")
    if info.st_mode & stat.S_IROTH:
        raise SecretFileError(
            f"{variable}: {path} can be read by every user of this machine (mode "
            f"{stat.S_IMODE(info.st_mode):04o}); make it readable by Herald's user alone, "
            f"e.g. `chmod 600 {path}` (or 640 for a group)")
    try:
        value = file.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretFileError(f"{variable}: cannot read {path} ({exc})") from None
    if not value.strip():
        raise SecretFileError(f"{variable}: {path} is empty")
    return value


class SecretFilesSource(PydanticBaseSettingsSource):
    """The settings given as `HERALD_<NAME>_FILE` in the environment."""

    def __init__(self, settings_cls: type[BaseSettings], prefix: str = "HERALD_",
                 environ: Mapping[str, str] | None = None) -> None:
        super().__init__(settings_cls)
        self.prefix = prefix
        self.environ = os.environ if environ is None else environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ reads every field at once.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        # Environment names are matched in any case, as pydantic-settings matches them.
        env = {key.upper(): value for key, value in self.environ.items()}
        values: dict[str, Any] = {}
        for name in secret_fields(self.settings_cls):
            variable = f"{self.prefix}{name.upper()}"
            path = env.get(variable + SUFFIX)
            if not path:
                continue
            if env.get(variable):
                raise SecretFileError(f"both {variable} and {variable}{SUFFIX} are set; "
                                      "keep one")
            values[name] = read_secret_file(variable + SUFFIX, path)
        return values
