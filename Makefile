# Redline: `make demo` and `make test` are the whole set-up on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# Airflow reads these at import: project-local home, absolute SQLite URL, our DAGs only.
export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW_CONFIG := $(CURDIR)/airflow.cfg
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN := sqlite:///$(CURDIR)/.airflow/airflow.db

.PHONY: demo test airflow airflow-cluster airflow-cluster-stop airflow-shell bench crash-test imap-server browser bytecode explore install clean

demo: $(STAMP) bytecode .airflow/airflow.db .airflow/env
	$(BIN)/redline demo --workdir .airflow/demo

test: $(STAMP) bytecode .airflow/airflow.db .airflow/env imap-server browser
	$(BIN)/python -m pytest

# The IMAP tests run against Debian's Dovecot (started by the tests on 127.0.0.1, in a folder of
# their own): installed here where it is absent and we may (root with apt-get); else they are skipped.
imap-server:
	@command -v dovecot >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  echo "installing Debian's dovecot-imapd for the IMAP tests" && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd) >/dev/null 2>&1; } || \
	  echo "Dovecot is not installed: the IMAP tests will be skipped"

# The workspace's browser test drives Debian's Chromium (never a browser a test tool downloads):
# installed here where it is absent and we may; else that test is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  echo "installing Debian's chromium for the browser test" && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1; } || \
	  echo "Chromium is not installed: the browser test will be skipped"

# Airflow's UI and scheduler on 127.0.0.1:8080, following the demo newsroom (started
# here on 127.0.0.1:8765, publishing its next versions every NEWSROOM_EVERY seconds)
# unless REDLINE_CONFIG names another config.
NEWSROOM_EVERY ?= 900
airflow: $(STAMP) bytecode .airflow/airflow.db .airflow/jwt_secret .airflow/env
	$(BIN)/python -m demo.newsroom --port 8765 --advance-every $(NEWSROOM_EVERY) > .airflow/newsroom.log 2>&1 & \
	trap "kill $$! 2>/dev/null" EXIT INT TERM; \
	echo "Demo newsroom on http://127.0.0.1:8765: the next versions of its stories every $(NEWSROOM_EVERY) s"; \
	echo "  (now: curl -X POST http://127.0.0.1:8765/_control/advance; its log: .airflow/newsroom.log)"; \
	PATH="$(CURDIR)/$(BIN):$$PATH" REDLINE_CONFIG="$${REDLINE_CONFIG:-$(CURDIR)/demo/redline.toml}" \
	AIRFLOW__API_AUTH__JWT_SECRET="$$(cat .airflow/jwt_secret)" $(BIN)/airflow standalone

# Airflow distributed on this machine (docs/deployment.md): CeleryExecutor with Redis as broker, Airflow's
# metadata and Redline's archive in PostgreSQL, an API server, a scheduler, a DAG processor and WORKERS Celery
# workers. Needs the PostgreSQL and Redis these machines run (REDLINE_CLUSTER_POSTGRES, REDLINE_CLUSTER_BROKER).
WORKERS ?= 2
airflow-cluster: $(STAMP) bytecode
	$(BIN)/python -m deploy.cluster start --workers $(WORKERS)

airflow-cluster-stop:
	$(BIN)/python -m deploy.cluster stop

# A shell in which `airflow` and `redline` use this project's Airflow home, config and DAGs
# (a bare .venv/bin/airflow would make and use ~/airflow). Or: `. .airflow/env` in your own shell.
airflow-shell: $(STAMP) .airflow/airflow.db .airflow/env
	@echo "Airflow home $(AIRFLOW_HOME); 'exit' to leave"
	@. ./.airflow/env && exec $${SHELL:-/bin/sh}

# The same settings for any shell: `. .airflow/env`.
.airflow/env: Makefile
	mkdir -p .airflow
	printf '%s\n' "# Written by make: this project's Airflow settings. Use: . .airflow/env" \
	  "export AIRFLOW_HOME='$(AIRFLOW_HOME)'" "export AIRFLOW_CONFIG='$(AIRFLOW_CONFIG)'" \
	  "export AIRFLOW__CORE__DAGS_FOLDER='$(AIRFLOW__CORE__DAGS_FOLDER)'" \
	  "export AIRFLOW__CORE__PLUGINS_FOLDER='$(AIRFLOW__CORE__PLUGINS_FOLDER)'" \
	  "export AIRFLOW__CORE__LOAD_EXAMPLES='$(AIRFLOW__CORE__LOAD_EXAMPLES)'" \
	  "export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN='$(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)'" \
	  "export REDLINE_CONFIG=\"\$${REDLINE_CONFIG:-$(CURDIR)/demo/redline.toml}\"" \
	  "export PATH='$(CURDIR)/$(BIN)':\"\$$PATH\"" > $@

# The scheduler and API server must sign and check task tokens with one shared secret.
.airflow/jwt_secret: $(STAMP)
	mkdir -p .airflow
	$(BIN)/python -c "import secrets; print(secrets.token_urlsafe(64))" > $@

bench: $(STAMP) bytecode
	$(BIN)/python -m benchmarks.run

# `redline run` killed with SIGKILL at random moments (KILLS times, ARTICLES changing articles), resumed,
# and compared with a run never killed; a shorter run is part of `make test` (tests/test_crash.py).
KILLS ?= 50
ARTICLES ?= 40
crash-test: $(STAMP)
	$(BIN)/python tests/crash_harness.py --kills $(KILLS) --articles $(ARTICLES)

# Datasette over the archive (the demo's by default; ARCHIVE=path/to/redline.db for another), with table and
# column descriptions and canned queries, on http://127.0.0.1:8001/.
ARCHIVE ?= .airflow/demo/redline.db
explore: $(STAMP)
	@test -f "$(ARCHIVE)" || { echo "no archive at $(ARCHIVE): run make demo first, or give ARCHIVE=path/to/redline.db"; exit 1; }
	$(BIN)/python -m pip install --quiet -c constraints.txt $(EDITABLE) '.[explore]'
	$(BIN)/datasette serve "$(ARCHIVE)" --metadata pipeline/web/datasette.yml --plugins-dir pipeline/web/datasette_plugins \
		--host 127.0.0.1 --port 8001

install: $(STAMP)

# An editable install puts the repository on sys.path with a one-line .pth ("compat" mode): setuptools'
# default for a flat layout is an import finder that site loads into every Python process, pathlib and
# urllib with it: a bare `python -c pass` took 28 ms of CPU here against 12, a Redline command 3-4 ms more.
# setuptools calls the mode transitional: were it dropped, `-e` alone still works, and tests/test_cli.py says so.
EDITABLE = --config-settings editable_mode=compat -e
$(STAMP): pyproject.toml constraints.txt Makefile  # (the Makefile: how it installs can change too)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt $(EDITABLE) '.[dev,cluster]'
	touch $@

# pip compiles what it installs, but not an editable project: where PYTHONDONTWRITEBYTECODE is set (as on
# these machines) every command and Airflow task would compile Redline's modules again (0.12 s of CPU each).
bytecode: $(STAMP)
	@PYTHONDONTWRITEBYTECODE= $(BIN)/python -m compileall -q pipeline storage demo dags plugins deploy benchmarks > /dev/null

.airflow/airflow.db: $(STAMP)
	mkdir -p .airflow
	$(BIN)/airflow db migrate > .airflow/migrate.log 2>&1 || (cat .airflow/migrate.log; exit 1)

clean:
	rm -rf .airflow
