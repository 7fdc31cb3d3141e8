"""The web UI's import page: upload, a per-row report (dry run), then the import."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from herald.models import Post, utcnow
from tests.helpers import add_account


def _count(herald) -> int:
    with herald.db.session() as s:
        return s.scalar(select(func.count()).select_from(Post))


def _csv(account: str, *, bad_row: int | None = None) -> bytes:
    when = (utcnow() + timedelta(hours=2)).replace(microsecond=0).isoformat()
    rows = [f"{account},{when},Post {n}" for n in range(1, 6)]
    if bad_row:
        rows[bad_row - 1] = f"{account},whenever,bad"
    return ("account,run_at,caption\n" + "\n".join(rows) + "\n").encode()


def test_check_then_import(signed_in, herald, company):
    account = add_account(herald, company[0])
    assert "Import posts" in signed_in.get("/import").text
    checked = signed_in.post("/import", data={"action": "check"},
                             files={"file": ("posts.csv", _csv(account), "text/csv")})
    assert checked.status_code == 200, checked.text
    assert "5 rows are valid" in checked.text and "Import these 5 rows" in checked.text
    assert _count(herald) == 0
    # The checked file comes back with the page: importing needs no second upload.
    content = _csv(account).decode()
    done = signed_in.post("/import", data={"action": "import", "content": content,
                                           "filename": "posts.csv"})
    assert done.status_code == 303 and done.headers["location"] == "/posts"
    assert _count(herald) == 5


def test_the_report_names_the_bad_row(signed_in, herald, company):
    account = add_account(herald, company[0])
    page = signed_in.post("/import", data={"action": "import"},
                          files={"file": ("posts.csv", _csv(account, bad_row=4), "text/csv")})
    assert page.status_code == 422
    assert "<td>4</td><td>5</td>" in page.text  # row 4, on line 5 of the file
    assert "Nothing was imported" in page.text
    assert _count(herald) == 0


def test_a_whole_file_fault_is_shown(signed_in, herald, company):
    page = signed_in.post("/import", data={"action": "check"},
                          files={"file": ("p.csv", b"account,colour\nx,y\n", "text/csv")})
    assert page.status_code == 422 and "Unknown column" in page.text


def test_the_form_needs_its_csrf_token(signed_in, herald, company):
    response = signed_in.client.post("/import", data={"action": "check"},
                                     files={"file": ("p.csv", b"a\n", "text/csv")})
    assert response.status_code == 403
