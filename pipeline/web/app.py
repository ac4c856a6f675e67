"""The researcher's workspace: a read-only web app over the archive.

Every route is thin over storage (its workspace reads) and the stage functions, like the CLI.
Links are relative, so the same app serves at / (`redline serve`) and under /redline/ in
Airflow's API server (plugins/redline_workspace.py). Each request reads through its own
read-only connection: the app cannot write to the archive.
"""

from __future__ import annotations

import hmac
import os
import threading
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

import storage
from pipeline import archive
from pipeline.config import CHANGE_KINDS, Settings
from pipeline.errors import InputError, NotFoundError
from pipeline.models import ArticleQuery, to_iso, utcnow
from pipeline.output import describe_change, describe_disclosure, describe_stats, workspace_path
from pipeline.reread import diff_article
from pipeline.web import plots, render

HERE = Path(__file__).parent
PAGE = 50  # rows per page of a list
SEARCH_PAGE = 20
OVERVIEW_DAYS = 14
ALERT_STATES = ("pending", "sending", "sent", "failed", "abandoned", "uncertain")
TOKEN_COOKIE = "redline_token"
STATIC = {path.name: ({".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}[path.suffix],
                      path.read_bytes()) for path in (HERE / "static").iterdir()}


def _environment() -> Environment:
    environment = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(href=render.safe_href, snippet=render.mark_snippet, when=_when,
                               share=lambda v: "–" if v is None else f"{v:.0%}",
                               hours=lambda v: "–" if v is None else plots.describe_hours(v))
    environment.globals.update(describe_change=describe_change, workspace_path=workspace_path)
    return environment


def _when(value: str | None) -> str:
    """An ISO time as 2026-12-01 09:15 (UTC)."""
    return value[:16].replace("T", " ") if value else "–"


def _root(request: Request) -> str:
    # The way back to the app's root from this page, relative, so that the app works wherever it is mounted.
    path, mount = request.url.path, request.scope.get("root_path", "")
    if mount and path.startswith(mount):
        path = path[len(mount):]
    depth = path.count("/") - 1
    return "../" * depth if depth > 0 else "./"


def _flag(value: str | None) -> bool:
    return value not in (None, "", "0", "false", "off")


def _page(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        raise InputError(f"page {value!r}: expected a whole number from 1") from None


def _token_guard(token: str) -> Callable:
    async def guard(request: Request, call_next):
        given = (request.headers.get("authorization", "").removeprefix("Bearer ").strip()
                 or request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE) or "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HTMLResponse("<!DOCTYPE html><title>Redline: token needed</title><p>This workspace needs its "
                                "access token: open it once with <code>?token=…</code>, or send "
                                "<code>Authorization: Bearer …</code>.</p>", status_code=401)
        response = await call_next(request)
        if request.query_params.get("token"):  # remembered, so links need not carry it
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response
    return guard


def create_app(settings: Settings, token: str | None = None, dependencies: tuple = ()) -> FastAPI:
    """The workspace over settings' archive. token, when given, is required of every request (as a bearer
    token, ?token= once, or its cookie); dependencies guard every route (Airflow's login, when mounted there)."""
    ready = threading.Event()
    environment = _environment()
    app = FastAPI(title="Redline workspace", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=list(dependencies))
    if token:
        app.middleware("http")(_token_guard(token))

    def archive_db() -> Iterator:
        if not ready.is_set():  # once: the archive exists and is migrated (Airflow may start before its first run)
            if not settings.database_url and not settings.database.is_file():
                raise NotFoundError(f"no archive at {settings.archive} yet: `redline init`, or the first DAG run, "
                                    "makes it")
            storage.open_archive(settings, create=False).close()
            ready.set()
        db = storage.open_reader(settings.archive_location)
        try:
            yield db
        finally:
            db.close()

    def page(request: Request, template: str, code: int = 200, **context) -> HTMLResponse:
        html = environment.get_template(template).render(root=_root(request), request=request, **context)
        return HTMLResponse(html, status_code=code)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError):
        return page(request, "error.html", 404, title="Not found", message=str(exc))

    @app.exception_handler(InputError)
    async def bad_input(request: Request, exc: InputError):
        return page(request, "error.html", 400, title="Cannot show this", message=str(exc))

    @app.get("/static/{name}")
    def static(name: str):
        # A route, not a mounted folder: the guards of the app (Airflow's login) apply to it too.
        if name not in STATIC:
            raise NotFoundError(f"no file {name!r} here")
        return Response(STATIC[name][1], media_type=STATIC[name][0], headers={"Cache-Control": "max-age=3600"})

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request, db=Depends(archive_db)):
        since = to_iso(utcnow() - timedelta(days=OVERVIEW_DAYS))[:10]
        stats = storage.summarise_sources(db, full=False)
        versions = storage.count_per_day(db, "versions", since)
        return page(request, "overview.html", stats=stats, since=since, versions=versions,
                    changes=storage.count_per_day(db, "changes", since),
                    days=sorted({day for counts in versions.values() for day in counts}),
                    figures=list(reversed(storage.list_changes(db, kind="figure", newest=10))),
                    stealth=list(reversed(storage.list_changes(db, kind="stealth_edit", newest=10))))

    @app.get("/articles", response_class=HTMLResponse)
    def articles(request: Request, db=Depends(archive_db)):
        params = request.query_params
        number = _page(params.get("page"))
        query = ArticleQuery(
            source=params.get("source") or None, since=archive.read_day(params.get("since"), "since"),
            until=archive.read_day(params.get("until"), "until", end=True), figure=_flag(params.get("figure")),
            stealth=_flag(params.get("stealth")), gone=_flag(params.get("gone")), text=params.get("q") or None,
            sort=params.get("sort") or "latest", limit=PAGE + 1, offset=(number - 1) * PAGE)
        rows = storage.list_article_summaries(db, query)
        return page(request, "articles.html", rows=rows[:PAGE], query=query, page=number, more=len(rows) > PAGE,
                    sources=_source_names(db), total=storage.count_articles(db), link=_link_with(params))

    @app.get("/articles/{article_id}", response_class=HTMLResponse)
    def article(request: Request, article_id: int, db=Depends(archive_db)):
        found = storage.get_article(db, article_id)
        changes = storage.list_changes(db, article_id=article_id)
        return page(request, "article.html", article=found, source=storage.source_name(db, found.source_id),
                    timeline=storage.list_timeline(db, article_id), aliases=storage.list_aliases(db, article_id),
                    changes=changes, series=archive.figure_series(changes),
                    issues=storage.list_issues(db, article_id=article_id))

    @app.get("/articles/{article_id}/figures.svg")
    def figures_plot(article_id: int, db=Depends(archive_db)):
        series = archive.figure_series(storage.list_changes(db, kind="figure", article_id=article_id))
        latest = storage.latest_version(db, article_id)
        values = archive.figure_values(series, latest.text if latest else "", settings.diff.language)
        return _svg(plots.plot_figures(series, values))

    @app.get("/articles/{article_id}/diff", response_class=HTMLResponse)
    def diff(request: Request, article_id: int, db=Depends(archive_db)):
        params = request.query_params
        found = storage.get_article(db, article_id)
        report = diff_article(db, settings, found, _number(params.get("from"), "from"), _number(params.get("to"), "to"))
        timeline = storage.list_timeline(db, article_id)
        view = "side" if params.get("view") == "side" else "inline"
        return page(request, "diff.html", article=found, report=report, view=view, timeline=timeline,
                    blocks=render.diff_blocks(report), top=render.top_changes(report),
                    figures=render.figure_changes(report), disclosure=describe_disclosure(report),
                    stats=describe_stats(report.diff.stats), last=len(timeline))

    @app.get("/search", response_class=HTMLResponse)
    def search(request: Request, db=Depends(archive_db)):
        params = request.query_params
        text, number = (params.get("q") or "").strip(), _page(params.get("page"))
        hits = []
        if text:
            hits = storage.search_versions(db, text, source=params.get("source") or None,
                                           since=archive.read_day(params.get("since"), "since"),
                                           until=archive.read_day(params.get("until"), "until", end=True),
                                           limit=SEARCH_PAGE + 1, offset=(number - 1) * SEARCH_PAGE)
        return page(request, "search.html", text=text, hits=hits[:SEARCH_PAGE], more=len(hits) > SEARCH_PAGE,
                    page=number, sources=_source_names(db), link=_link_with(params),
                    source=params.get("source") or "", since=params.get("since") or "", until=params.get("until") or "")

    @app.get("/alerts", response_class=HTMLResponse)
    def alerts(request: Request, db=Depends(archive_db)):
        params = request.query_params
        status = params.get("status") or None
        if status and status not in ALERT_STATES:
            raise InputError(f"status {status!r}: expected one of {', '.join(ALERT_STATES)}")
        number = _page(params.get("page"))
        rows = storage.page_alerts(db, status, PAGE + 1, (number - 1) * PAGE)
        return page(request, "alerts.html", rows=rows[:PAGE], more=len(rows) > PAGE, page=number, status=status,
                    states=ALERT_STATES, link=_link_with(params))

    @app.get("/newsletters", response_class=HTMLResponse)
    def newsletters(request: Request, db=Depends(archive_db)):
        source = request.query_params.get("source") or None
        listed = list(reversed(archive.list_newsletters(db, source)))  # newest first
        number = _page(request.query_params.get("page"))
        shown = listed[(number - 1) * PAGE:number * PAGE]
        return page(request, "newsletters.html", issues=shown, page=number, more=len(listed) > number * PAGE,
                    source=source, link=_link_with(request.query_params))

    @app.get("/stats", response_class=HTMLResponse)
    def stats(request: Request, db=Depends(archive_db)):
        source = request.query_params.get("source") or None
        return page(request, "stats.html", stats=storage.summarise_sources(db, source), source=source,
                    kinds=CHANGE_KINDS, sources=_source_names(db))

    @app.get("/stats.json")
    def stats_json(request: Request, db=Depends(archive_db)):
        source = request.query_params.get("source") or None
        return JSONResponse(archive.stats_as_record(storage.summarise_sources(db, source)))

    @app.get("/plots/{name}.svg")
    def plot(name: str, db=Depends(archive_db)):
        since = to_iso(utcnow() - timedelta(days=90))[:10]
        drawings = {
            "versions-per-day": lambda: plots.plot_per_day(storage.count_per_day(db, "versions", since)),
            "changes-per-day": lambda: plots.plot_per_day(storage.count_per_day(db, "changes", since), "changes"),
            "update-delays": lambda: plots.plot_update_delays(h for _, h in storage.update_delays(db)),
            "stealth-share": lambda: plots.plot_stealth_share(storage.summarise_sources(db, full=False).sources),
        }
        if name not in drawings:
            raise NotFoundError(f"no plot called {name!r} (there are {', '.join(drawings)})")
        return _svg(drawings[name]())

    return app


def _source_names(db) -> list[str]:
    return sorted(storage.source_names_by_id(db).values())


def _number(value: str | None, name: str) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise InputError(f"{name} {value!r}: expected a version number")
    return int(value)


def _svg(data: bytes) -> Response:
    return Response(data, media_type="image/svg+xml", headers={"Cache-Control": "max-age=60"})


def _link_with(params) -> Callable[..., str]:
    """A function giving this page's query string with some parameters changed (None drops one)."""
    def link(**changed) -> str:
        values = {**dict(params), **changed}
        return "?" + urlencode({k: v for k, v in values.items() if v not in (None, "")})
    return link


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve the workspace with uvicorn until interrupted (127.0.0.1 unless told otherwise)."""
    import uvicorn

    token = os.environ.get(settings.web.token_env) or None
    host = host or settings.web.host
    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        raise InputError(f"serving on {host} would open the archive to the network: set {settings.web.token_env} "
                         "to an access token first")
    uvicorn.run(create_app(settings, token), host=host, port=port or settings.web.port, log_level="warning")
