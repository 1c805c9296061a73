"""Path safety: traversal ids give 404, never a file."""

from __future__ import annotations

import pytest

TRAVERSALS = [
    "../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/etc/passwd",
    "%252e%252e%252fetc%252fpasswd",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "....//....//etc/passwd",
    "..%5c..%5ccli.py",
    "..\\..\\cli.py",
    "C:\\Windows\\win.ini",
    "file:///etc/passwd",
    "../../../../../../../../proc/self/environ",
    "/proc/self/environ",
    "../cli.py",
    "../../pyproject.toml",
    "..",
    "%2e%2e",
    ".",
    "~root",
    "%00",
    "a1%00.txt",
    "a1/../a2",
]
FILE_MARKERS = ("root:x:", "root:*:", "[fonts]", "PATH=", "import click", "[project]", "HOME=")


@pytest.mark.parametrize("raw", TRAVERSALS)
def test_api_article_paths_are_ids_not_files(site, raw):
    for url in (f"/api/articles/{raw}", f"/api/articles/{raw}/related"):
        response = site.client.get(url, follow_redirects=True)
        body = response.get_data(as_text=True)
        assert not any(m in body for m in FILE_MARKERS), url
        assert response.status_code == 404, (url, response.status_code, body[:200])
        data = response.get_json()
        assert set(data) == {"error"} and data["error"]["code"] == "not_found", (url, data)


@pytest.mark.parametrize("raw", TRAVERSALS)
def test_article_page_paths_are_ids_not_files(site, raw):
    url = f"/articles/{raw}"
    response = site.client.get(url, follow_redirects=True)
    body = response.get_data(as_text=True)
    assert not any(m in body for m in FILE_MARKERS), url
    assert response.status_code == 404, (url, response.status_code)
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("raw", ["../cli.py", "%2e%2e/cli.py", "..%2fcli.py", "%2e%2e%2f%2e%2e%2fpyproject.toml"])
def test_static_paths_do_not_escape(site, raw):
    response = site.client.get(f"/static/{raw}", follow_redirects=True)
    assert response.status_code == 404
    assert not any(m in response.get_data(as_text=True) for m in FILE_MARKERS)
