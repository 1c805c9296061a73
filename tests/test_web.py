import pytest

from search.web import create_app


@pytest.fixture
def client(engine):
    app = create_app({"INDEX": str(engine.store.root), "TESTING": True})
    return app.test_client()


def assert_error(response, status, code, mentions):
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert mentions in body["error"]["message"]


def test_api_search(client):
    data = client.get("/api/search?q=疫情防控").get_json()
    assert data["query"] == "疫情防控" and data["total"] == 2 and data["page"] == 1 and data["size"] == 10
    assert [h["id"] for h in data["hits"]] == ["a1", "a3"]
    assert data["facets"]["channel"] == {"时政": 1, "交通": 1}
    assert "took_ms" in data


def test_api_search_filters_and_sort(client):
    data = client.get("/api/search?q=衡阳&sort=date&from=2021-01-01&to=2023-12-31").get_json()
    assert [h["id"] for h in data["hits"]] == ["a3", "a2"]
    data = client.get("/api/search?q=大学生&channel=社会").get_json()
    assert [h["id"] for h in data["hits"]] == ["a4"]


@pytest.mark.parametrize(
    "query, param",
    [
        ("page=0", "page"),
        ("size=10000", "size"),
        ("size=abc", "size"),
        ("sort=views", "sort"),
        ("from=yesterday", "from"),
        ("q=" + "长" * 300, "q"),
    ],
)
def test_api_search_bad_parameters(client, query, param):
    assert_error(client.get("/api/search?" + query), 400, "invalid_parameter", param)


def test_api_article_related_hot_health(client):
    assert client.get("/api/articles/a1").get_json()["title"] == "衡阳召开疫情防控工作会议"
    assert_error(client.get("/api/articles/nope"), 404, "not_found", "nope")
    rel = client.get("/api/articles/a1/related?size=3").get_json()
    assert rel["id"] == "a1" and "a1" not in [r["id"] for r in rel["related"]]
    assert_error(client.get("/api/articles/nope/related"), 404, "not_found", "nope")
    hot = client.get("/api/hot?size=2").get_json()
    assert [a["id"] for a in hot["articles"]] == ["a3", "a1"]
    health = client.get("/healthz").get_json()
    assert health["status"] == "ok" and health["doc_count"] == 4
    assert_error(client.get("/api/nothing"), 404, "not_found", "")


def test_pages_escape_and_render(client):
    html = client.get("/search?q=疫情防控").get_data(as_text=True)
    assert "<mark>疫情防控</mark>" in html and "找到约 2 条结果" in html
    assert client.get("/").status_code == 200
    page = client.get("/articles/a1").get_data(as_text=True)
    assert "相关内容" in page and "核心提示" in page
    assert client.get("/articles/nope").status_code == 404
    assert client.get("/search?q=x&page=0").status_code == 400
