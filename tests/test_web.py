"""The workspace over real HTTP: every route, its paging and filters, and what it does with hostile text."""

from __future__ import annotations

import httpx
import lxml.html
import pytest

from conftest import HOSTILE_ALIAS, HOSTILE_TITLE, Served
from pipeline.web import app as web
from pipeline.web import create_app


@pytest.fixture(scope="module")
def workspace(archive):
    settings, ids = archive
    served = Served(create_app(settings))
    yield served.url, ids
    served.close()


def get(workspace, path: str, status: int = 200, **kwargs) -> httpx.Response:
    url, _ = workspace
    response = httpx.get(url + path, timeout=30, **kwargs)
    assert response.status_code == status, (path, response.text[:500])
    return response


def page(workspace, path: str, status: int = 200):
    return lxml.html.fromstring(get(workspace, path, status).text)


def test_overview_shows_sources_latest_figure_changes_and_days(workspace):
    document = page(workspace, "/")
    assert {"newsroom", "wire", "brief"} <= set(document.xpath("//table[1]//td/a/text()"))
    figures = " ".join(document.xpath("//h2[.='Latest figure changes']/following-sibling::table[1]//text()"))
    assert "at least 19 → at least 27 (people killed)" in " ".join(figures.split())  # the newest ten
    assert document.xpath("//img[@src='./plots/versions-per-day.svg']")


def test_the_article_list_sorts_filters_and_pages(workspace, monkeypatch):
    _, ids = workspace
    by_changes = page(workspace, "/articles?sort=changes")
    first = by_changes.xpath("//table[contains(@class,'articles')]//tbody/tr[1]//a[@class='story']/@href")
    assert first == [f"./articles/{ids['flood']}"]  # the flood story changed most

    wire = page(workspace, "/articles?source=wire").xpath("//a[@class='story']/@href")
    assert wire == [f"./articles/{ids['hostile']}"]
    assert page(workspace, "/articles?q=spokesman").xpath("//a[@class='story']/@href") == wire
    figures = page(workspace, "/articles?figure=1").xpath("//a[@class='story']/@href")
    assert f"./articles/{ids['flood']}" in figures and len(figures) < 7
    assert page(workspace, "/articles?gone=1").xpath("//p[.='No article matches.']")
    assert page(workspace, "/articles?since=2000-01-01&until=2000-01-02").xpath("//p[.='No article matches.']")

    monkeypatch.setattr(web, "PAGE", 2)
    first_page, second_page = page(workspace, "/articles?sort=versions"), page(workspace, "/articles?sort=versions&page=2")
    assert len(first_page.xpath("//a[@class='story']")) == 2
    assert first_page.xpath("//a[@rel='next']/@href") == ["?sort=versions&page=2"]
    assert second_page.xpath("//a[@rel='prev']/@href") == ["?sort=versions&page=1"]
    assert set(first_page.xpath("//a[@class='story']/@href")).isdisjoint(second_page.xpath("//a[@class='story']/@href"))


@pytest.mark.parametrize("query", ["sort=nonsense", "page=x", "since=yesterday"])
def test_a_bad_list_parameter_is_a_400_that_names_it(workspace, query):
    name, value = query.split("=")
    message = page(workspace, f"/articles?{query}", status=400).xpath("string(//p[@class='error'])")
    assert name in message and value in message


def test_an_article_shows_its_timeline_urls_and_figures(workspace):
    _, ids = workspace
    document = page(workspace, f"/articles/{ids['flood']}")
    versions = document.xpath("//table[contains(@class,'timeline')]/tbody/tr")
    assert [row.get("id") for row in versions] == ["v1", "v2", "v3"]
    assert document.xpath("//tr[@id='v2']//a/@href") == [f"../articles/{ids['flood']}/diff?from=1&to=2"]
    assert "timestamp only" in versions[1].text_content()  # the demo's banner and dateModified say no more
    assert document.xpath(f"//img[@src='../articles/{ids['flood']}/figures.svg']")
    series = document.xpath("string(//ul[@class='series'])")
    assert "people killed: at least 12 (v1) → at least 19 (v2) → at least 27 (v3)" in " ".join(series.split())
    assert get(workspace, f"/articles/{ids['flood']}/figures.svg").text.count("people killed") >= 1


def test_an_unknown_article_is_a_404(workspace):
    assert "article 99999" in page(workspace, "/articles/99999", status=404).xpath("string(//p[@class='error'])")


def test_the_diff_marks_the_changed_figure_and_pages_through_versions(workspace):
    _, ids = workspace
    base = f"/articles/{ids['flood']}/diff"
    inline = page(workspace, f"{base}?from=1&to=2")
    assert "19" in inline.xpath("//article[@id='inline']//ins/mark[@class='figure']/text()")
    assert inline.xpath("//article[@id='inline']//del/mark[@class='figure']/text()")[0] == "12"
    assert "figure: at least 12 → at least 19 (people killed) +7 (+58%)" in inline.xpath("//li[@class='figure']/text()")
    assert "headline: " in inline.xpath("string(//ul[@class='top'])")
    assert inline.xpath("//a[@rel='next']/@href") == [f"../../articles/{ids['flood']}/diff?from=2&to=3&view=inline"]
    assert not inline.xpath("//a[@rel='prev']")
    assert inline.xpath("//select[@name='from']/option[@selected]/@value") == ["1"]

    side = page(workspace, f"{base}?from=2&to=3&view=side")
    assert side.xpath("//table[@id='side-by-side']//td[@class='new']//mark[@class='figure']")
    assert side.xpath("//a[@rel='prev']/@href") == [f"../../articles/{ids['flood']}/diff?from=1&to=2&view=side"]

    whole = page(workspace, f"{base}?from=1&to=3")
    runs = whole.xpath("//details[@class='run']/summary/text()")
    assert all(text.startswith("show ") and text.endswith(" unchanged") for text in runs)


def test_a_diff_of_a_missing_version_says_so(workspace):
    _, ids = workspace
    assert "no version 9" in page(workspace, f"/articles/{ids['flood']}/diff?from=1&to=9", 404).text_content()
    assert "expected a version number" in page(workspace, f"/articles/{ids['flood']}/diff?from=one", 400).text_content()


def test_search_finds_words_in_any_version_with_where_they_came_and_went(workspace):
    _, ids = workspace
    document = page(workspace, '/search?q="300+homes"')
    [hit] = document.xpath("//ol[@class='hits']/li")
    assert hit.xpath(".//a[@class='story']/@href") == [f"./articles/{ids['flood']}"]
    assert hit.xpath(".//blockquote//mark/text()") == ["300 homes"]
    text = " ".join(hit.text_content().split())
    assert "first in v1" in text and "gone from v3" in text
    assert hit.xpath(".//a[.='the edit that removed it']/@href") == [f"./articles/{ids['flood']}/diff?from=2&to=3"]
    assert page(workspace, "/search?q=people&source=wire").xpath("//a[@class='story']/@href") == [
        f"./articles/{ids['hostile']}"]
    assert page(workspace, "/search?q=zzyzx").xpath("//p[@class='muted']")


def test_alerts_list_states_and_filters(workspace):
    document = page(workspace, "/alerts")
    states = document.xpath("//table[contains(@class,'alerts')]//span[contains(@class,'tag')]/text()")
    assert states and set(states) <= set(web.ALERT_STATES)
    assert page(workspace, "/alerts?status=abandoned").xpath("//p[.='No alert is abandoned.']")
    assert "status 'bogus'" in page(workspace, "/alerts?status=bogus", 400).text_content()


def test_stats_page_json_and_plots(workspace):
    document = page(workspace, "/stats")
    assert document.xpath("//tr[@class='totals']")
    record = get(workspace, "/stats.json").json()
    assert {s["name"] for s in record["sources"]} == {"newsroom", "wire", "brief"}
    assert record["totals"]["versions"] == sum(s["versions"] for s in record["sources"])
    for name in ("versions-per-day", "changes-per-day", "update-delays", "stealth-share"):
        response = get(workspace, f"/plots/{name}.svg")
        assert response.headers["content-type"] == "image/svg+xml" and "<svg" in response.text
    get(workspace, "/plots/nothing.svg", 404)


def test_newsletters_list_issues_newest_first_with_their_stories(workspace):
    _, ids = workspace
    document = page(workspace, "/newsletters")
    subjects = document.xpath("//ol[@class='issues']/li/strong/text()")
    assert subjects == ["The Courier Brief, round 2", "The Courier Brief, round 1", "The Courier Brief, round 0"]
    stories = document.xpath("//ol[@class='issues']/li[1]//ul[@class='links']//a/@href")
    assert f"./articles/{ids['flood']}" in stories  # the tracked, click-tracked link leads to the story
    article = page(workspace, f"/articles/{ids['flood']}")
    assert "The Courier Brief, round 0" in article.xpath("string(//h2[.='Newsletters that linked it']/following-sibling::ul)")


def _pages(ids) -> list[str]:
    hostile = ids["hostile"]
    return ["/", "/articles", "/articles?q=blast", f"/articles/{hostile}", f"/articles/{hostile}/diff",
            f"/articles/{hostile}/diff?view=side", "/search?q=spokesman", "/search?q=%3Cscript%3E", "/alerts", "/stats",
            "/newsletters",
            "/articles?q=%22%3E%3Cscript%3Ealert(9)%3C/script%3E"]


def test_hostile_text_is_shown_never_run(workspace):
    _, ids = workspace
    for path in _pages(ids):
        html = get(workspace, path).text
        document = lxml.html.fromstring(html)
        assert not document.xpath("//script"), path
        assert not document.xpath("//*[@onerror or @onload or @onclick]"), path
        assert not [href for href in document.xpath("//@href | //@src") if href.strip().lower().startswith(
            ("javascript:", "data:"))], path
        assert "<img src=x" not in html, path
    article = page(workspace, f"/articles/{ids['hostile']}")
    assert article.xpath("string(//h1)") == HOSTILE_TITLE  # shown as written, as text
    assert HOSTILE_ALIAS in article.xpath("//ul[@class='urls']//span[@class='url']/text()")


def test_every_link_is_relative_so_the_app_works_under_a_prefix(workspace):
    _, ids = workspace
    for path in _pages(ids):
        document = lxml.html.fromstring(get(workspace, path).text)
        own = [h for h in document.xpath("//a/@href | //link/@href | //img/@src | //form/@action")
               if not h.startswith(("http://", "https://"))]
        assert own and all(not h.startswith("/") for h in own), (path, own)


def test_a_token_guards_every_route(archive):
    settings, ids = archive
    served = Served(create_app(settings, token="s3cret"))
    try:
        assert httpx.get(f"{served.url}/articles").status_code == 401
        assert httpx.get(f"{served.url}/static/redline.css").status_code == 401
        assert httpx.get(f"{served.url}/articles", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(f"{served.url}/articles", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        with httpx.Client(base_url=served.url) as client:
            assert client.get("/?token=s3cret").status_code == 200
            assert client.get(f"/articles/{ids['flood']}").status_code == 200  # the cookie it was given
    finally:
        served.close()


def test_serving_beyond_loopback_needs_a_token(archive, monkeypatch):
    from pipeline.errors import InputError

    settings, _ = archive
    monkeypatch.delenv("REDLINE_WEB_TOKEN", raising=False)
    with pytest.raises(InputError, match="REDLINE_WEB_TOKEN"):
        web.serve(settings, host="0.0.0.0")


def test_no_archive_yet_is_a_clear_404(make_settings):
    served = Served(create_app(make_settings()))
    try:
        response = httpx.get(f"{served.url}/")
        assert response.status_code == 404 and "no archive at" in response.text
    finally:
        served.close()
