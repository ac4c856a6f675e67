"""The workspace inside Airflow: its API server mounts the app at /redline/ and lets no one in without a login."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import AIRFLOW_HOME, ROOT

pytestmark = pytest.mark.airflow


def test_the_plugin_registers_the_app_under_redline(archive, monkeypatch):
    settings, _ = archive
    monkeypatch.setenv("REDLINE_CONFIG", str(_config(settings)))
    sys.path.insert(0, str(ROOT / "plugins"))
    try:
        import redline_workspace
    finally:
        sys.path.remove(str(ROOT / "plugins"))
    plugin = redline_workspace.RedlineWorkspacePlugin
    [app] = plugin.fastapi_apps
    assert app["url_prefix"] == "/redline" and app["app"].title == "Redline workspace"
    [view] = plugin.external_views
    assert view["href"] == "/redline/" and view["url_route"] == "redline"


def _config(settings) -> Path:
    path = Path(settings.database).with_name("workspace.toml")
    path.write_text(f'[database]\npath = "{settings.database}"\n', encoding="utf-8")
    return path


@pytest.fixture
def api_server(archive, airflow_db):
    """Airflow's API server on a free port of 127.0.0.1, as `make airflow` runs it (our airflow.cfg, plugins folder)."""
    settings, _ = archive
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "REDLINE_CONFIG": str(_config(settings)), "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
           "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}"}
    log = open(AIRFLOW_HOME / f"api-server-{port}.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "airflow", "api-server", "--port", str(port), "--host", "127.0.0.1"],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/api/v2/version", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API server did not start: {(AIRFLOW_HOME / f'api-server-{port}.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_airflow_serves_the_workspace_under_redline_only_after_a_login(api_server, archive):
    _, ids = archive
    for path in ("/redline/", f"/redline/articles/{ids['flood']}/diff?from=1&to=2", "/redline/static/redline.css"):
        assert httpx.get(api_server + path).status_code == 401, path
    assert httpx.get(api_server + "/redline/", cookies={"_token": "forged"}).status_code in (401, 403)

    passwords = json.loads((AIRFLOW_HOME / "simple_auth_manager_passwords.json.generated").read_text())
    login = httpx.post(f"{api_server}/auth/token", json={"username": "admin", "password": passwords["admin"]})
    token = login.json()["access_token"]

    overview = httpx.get(f"{api_server}/redline/", cookies={"_token": token})  # the UI's session cookie
    assert overview.status_code == 200 and "newsroom" in overview.text
    assert 'href="./articles"' in overview.text
    diff = httpx.get(f"{api_server}/redline/articles/{ids['flood']}/diff?from=1&to=2",
                     headers={"Authorization": f"Bearer {token}"})
    assert diff.status_code == 200 and 'class="figure"' in diff.text
    plugins = httpx.get(f"{api_server}/api/v2/plugins", headers={"Authorization": f"Bearer {token}"}).json()
    [ours] = [p for p in plugins["plugins"] if p["name"] == "redline_workspace"]
    assert ours["external_views"][0]["href"] == "/redline/"
