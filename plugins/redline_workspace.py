"""Redline's workspace inside Airflow's UI: the same app as `redline serve`, mounted at /redline/ in
Airflow's API server behind Airflow's own login, and listed in the UI's navigation."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


def _workspace():
    # Airflow does not guard the apps it mounts: every route asks for Airflow's logged-in user (its
    # session cookie or a bearer token), as Airflow's own API does.
    from fastapi import Depends

    from airflow.api_fastapi.core_api.security import get_user
    from pipeline.config import load_settings  # REDLINE_CONFIG, as for the DAGs
    from pipeline.web import create_app

    return create_app(load_settings(), dependencies=(Depends(get_user),))


class RedlineWorkspacePlugin(AirflowPlugin):
    """The researcher's workspace at /redline/, and "Redline" in Airflow's navigation."""

    name = "redline_workspace"
    fastapi_apps = [{"app": _workspace(), "url_prefix": "/redline", "name": "Redline workspace"}]
    external_views = [{"name": "Redline", "href": "/redline/", "url_route": "redline", "destination": "nav",
                       "nav_top_level": True}]
