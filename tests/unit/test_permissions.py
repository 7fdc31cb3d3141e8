"""The permission table: docs/roles.md shows exactly it, and refusals name what is missing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from herald.errors import Forbidden, Invalid
from herald.permissions import (
    PERMISSIONS,
    Permission,
    Role,
    parse_role,
    require,
    require_grant,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "roles.md"


def _documented_table() -> tuple[list[str], dict[str, set[str]]]:
    lines = [line for line in DOCS.read_text().splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    roles = header[1:-1]
    table: dict[str, set[str]] = {}
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        found = re.fullmatch(r"`(\w+)`", cells[0])
        if found is None:
            continue
        marks = cells[1:1 + len(roles)]
        table[found.group(1)] = {role for role, mark in zip(roles, marks, strict=True)
                                 if mark == "✓"}
    return roles, table


def test_docs_roles_md_lists_the_permission_table():
    roles, table = _documented_table()
    assert roles == [r.value for r in Role]
    assert set(table) == {p.value for p in Permission}
    for permission in Permission:
        holders = {r.value for r in Role if permission in PERMISSIONS[r]}
        assert table[permission.value] == holders, permission


def test_every_role_has_a_row_and_owner_has_everything():
    assert set(PERMISSIONS) == set(Role)
    assert PERMISSIONS[Role.OWNER] == frozenset(Permission)
    assert PERMISSIONS[Role.VIEWER] == {Permission.VIEW}


def test_a_refusal_names_the_permission_and_the_role():
    with pytest.raises(Forbidden) as refused:
        require(Role.CONTRIBUTOR, Permission.APPROVE)
    assert refused.value.status == 403
    assert "'approve'" in refused.value.message and "'contributor'" in refused.value.message
    assert refused.value.to_dict()["error"]["details"] == [{"permission": "approve"}]
    require(Role.EDITOR, Permission.APPROVE)


def test_nobody_grants_a_role_stronger_than_their_own():
    require_grant(Role.ADMIN, Role.EDITOR)
    require_grant(Role.ADMIN, Role.ADMIN)
    with pytest.raises(Forbidden, match="manage_company"):
        require_grant(Role.ADMIN, Role.OWNER)
    with pytest.raises(Forbidden):
        require_grant(Role.CLIENT, Role.CONTRIBUTOR)


def test_roles_are_parsed_with_a_helpful_refusal():
    assert parse_role(" Editor ") is Role.EDITOR
    with pytest.raises(Invalid, match="owner, admin, editor, contributor, client, viewer"):
        parse_role("intern")
