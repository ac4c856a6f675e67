"""The researcher's workspace: `redline serve`, and the same app under /redline/ in Airflow's UI."""

from pipeline.web.app import create_app, serve

__all__ = ["create_app", "serve"]
