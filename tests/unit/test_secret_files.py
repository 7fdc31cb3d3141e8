"""HERALD_<NAME>_FILE: secrets from files, as Docker and Kubernetes hand them over (issue
17, #6), and refused when the file is missing, world-readable, empty or doubled."""

from __future__ import annotations

import os

import pytest

from herald.config import ConfigError, load_settings
from herald.secret_files import secret_fields

KEY = "8f14e45fceea167a5a36dedd4bea2543"


@pytest.fixture
def env(monkeypatch):
    for name in list(os.environ):
        if name.upper().startswith("HERALD_"):
            monkeypatch.delenv(name)

    def set_(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_


def _file(tmp_path, text: str, mode: int = 0o600, name: str = "secret"):
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def test_every_secret_setting_has_a_file_variant():
    assert {"secret_key", "old_secret_keys", "database_url", "facebook_app_secret",
            "linkedin_client_secret", "s3_secret_access_key"} <= set(secret_fields(
                load_settings().__class__))


def test_the_secret_key_and_others_are_read_from_their_files(env, tmp_path):
    env(HERALD_SECRET_KEY_FILE=_file(tmp_path, KEY + "\n"),
        HERALD_FACEBOOK_APP_SECRET_FILE=_file(tmp_path, "app-secret\r\n", 0o640, "fb"),
        HERALD_DATABASE_URL_FILE=_file(tmp_path, "postgresql://h:pw@db/herald\n", name="db"),
        HERALD_OLD_SECRET_KEYS_FILE=_file(tmp_path, "old-one-0123456789\nold-two-0123456789\n",
                                          name="old"))
    settings = load_settings()
    assert settings.resolved_secret_key() == KEY  # the trailing newline dropped
    assert settings.facebook_app_secret is not None
    assert settings.facebook_app_secret.get_secret_value() == "app-secret"
    assert settings.database_url == "postgresql://h:pw@db/herald"
    assert settings.resolved_old_secret_keys() == ["old-one-0123456789", "old-two-0123456789"]


def test_a_missing_file_is_named(env, tmp_path):
    env(HERALD_SECRET_KEY_FILE=str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match=r"HERALD_SECRET_KEY_FILE names .*nope, which does "
                                          "not exist"):
        load_settings()


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o444])
def test_a_world_readable_file_is_refused(env, tmp_path, mode):
    env(HERALD_SECRET_KEY_FILE=_file(tmp_path, KEY, mode))
    with pytest.raises(ConfigError, match=f"can be read by every user.*mode {mode:04o}.*chmod"):
        load_settings()


def test_a_directory_an_empty_file_or_both_forms_are_refused(env, tmp_path):
    env(HERALD_SECRET_KEY_FILE=str(tmp_path))
    with pytest.raises(ConfigError, match="which is not a file"):
        load_settings()
    env(HERALD_SECRET_KEY_FILE=_file(tmp_path, "\n"))
    with pytest.raises(ConfigError, match="is empty"):
        load_settings()
    env(HERALD_SECRET_KEY_FILE=_file(tmp_path, KEY), HERALD_SECRET_KEY=KEY)
    with pytest.raises(ConfigError, match="both HERALD_SECRET_KEY and HERALD_SECRET_KEY_FILE"):
        load_settings()


def test_old_keys_from_the_environment_are_comma_separated(env):
    env(HERALD_OLD_SECRET_KEYS=" first-key-0123456789 , second-key-0123456789,")
    assert load_settings().resolved_old_secret_keys() == ["first-key-0123456789",
                                                          "second-key-0123456789"]
