"""The local server keeps to its user: Host and Origin checks (DNS rebinding, cross-site requests), the URL
token traded for an HttpOnly cookie, Referrer-Policy, and web forms confined to the server's folders."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from mechscope.ui.app import create_app
from mechscope.ui.security import cookie_name, session_value

TOKEN = "security-test-token"
BASE = "http://127.0.0.1:8765"


@pytest.fixture
def app(tmp_path):
    (tmp_path / "work").mkdir()
    return create_app(tmp_path / "store", token=TOKEN, folder=tmp_path / "work")


def test_a_foreign_host_header_is_refused_even_with_the_token(app):
    client = TestClient(app, base_url=BASE)
    # a page on attacker.example that re-pointed its name at 127.0.0.1 sends its own name as Host
    for host in ["attacker.example:8765", "attacker.example", "127.0.0.1.attacker.example", "0.0.0.0:8765", ""]:
        res = client.get(f"/api/store?token={TOKEN}", headers={"Host": host})
        assert res.status_code == 403 and "only requests for 127.0.0.1" in res.json()["error"], host
        assert client.get(f"/?token={TOKEN}", headers={"Host": host}, follow_redirects=False).status_code == 403
    for host in ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "127.0.0.2:8765"]:
        assert client.get(f"/api/store?token={TOKEN}", headers={"Host": host}).status_code == 200, host


def test_the_host_it_was_started_with_is_allowed(tmp_path):
    client = TestClient(create_app(tmp_path / "s", token=TOKEN, host="10.1.2.3"), base_url="http://10.1.2.3:8765")
    assert client.get(f"/api/store?token={TOKEN}").status_code == 200
    assert client.get(f"/api/store?token={TOKEN}", headers={"Host": "10.9.9.9:8765"}).status_code == 403


def test_the_token_becomes_an_httponly_strict_cookie_and_leaves_the_url(app):
    client = TestClient(app, base_url=BASE)
    first = client.get(f"/?token={TOKEN}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/"
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{cookie_name(8765)}={session_value(TOKEN)};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
    page = client.get("/")  # the cookie alone opens the page and the API
    assert page.status_code == 200 and "assets/app.js" in page.text
    assert client.get("/api/store").status_code == 200
    assert client.get(f"/?token={TOKEN}&view=x", follow_redirects=False).headers["location"] == "/?view=x"
    # a cookie for another port's server, or a forged one, opens nothing
    other = TestClient(app, base_url=BASE, cookies={cookie_name(9999): session_value(TOKEN)})
    assert other.get("/api/store").status_code == 403
    forged = TestClient(app, base_url=BASE, cookies={cookie_name(8765): TOKEN})
    assert forged.get("/api/store").status_code == 403 and forged.get("/").status_code == 403


def test_changes_from_another_origin_are_refused(app):
    client = TestClient(app, base_url=BASE, headers={"X-Mechscope-Token": TOKEN})
    body = {"kind": "no-such-kind", "params": {}}
    for headers in [{"Origin": "http://attacker.example"}, {"Origin": "null"}, {"Origin": "http://127.0.0.1:9999"},
                    {"Sec-Fetch-Site": "cross-site"}]:
        res = client.post("/api/jobs", json=body, headers=headers)
        assert res.status_code == 403 and "another origin" in res.json()["error"], headers
    # the app's own page (same origin) and scripts without an Origin reach the handler: a 400 for the bad kind
    assert client.post("/api/jobs", json=body, headers={"Origin": BASE}).status_code == 400
    assert client.post("/api/jobs", json=body).status_code == 400
    assert client.get("/api/jobs", headers={"Origin": "http://attacker.example"}).status_code == 200  # reads: CORS


def test_every_answer_sends_no_referrer(app):
    client = TestClient(app, base_url=BASE)
    for res in [client.get("/"), client.get(f"/api/store?token={TOKEN}"), client.get("/api/store"),
                client.get("/api/nothing", headers={"Host": "evil.example"}),
                client.get(f"/?token={TOKEN}", follow_redirects=False)]:
        assert res.headers["referrer-policy"] == "no-referrer", res.url
        assert res.headers["x-frame-options"] == "DENY"


def test_web_forms_name_files_only_inside_the_servers_folders(app, tmp_path):
    client = TestClient(app, base_url=BASE, headers={"X-Mechscope-Token": TOKEN})
    outside = tmp_path / "outside.jsonl"
    outside.write_text('{"clean": "a", "corrupt": "b", "answers": [" c"]}\n')
    for params in [{"task": str(outside)}, {"task": "../outside.jsonl"}, {"tasks": ["ioi", "/etc/passwd"]},
                   {"source": "/etc/hosts"}, {"reference": str(outside)}]:
        res = client.post("/api/jobs", json={"kind": "discover", "params": params})
        assert res.status_code == 400 and "outside the folders this server may read" in res.json()["error"], params
    res = client.post("/api/data/maps/m/augmentations/a/export", json={"decisions": [1], "out": "/tmp/x.jsonl"})
    assert res.status_code == 400 and "outside the folders" in res.json()["error"]
