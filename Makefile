# Redline: `make demo` and `make test` are the whole set-up on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# Airflow reads these at import: project-local home, absolute SQLite URL, our DAGs only.
export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW_CONFIG := $(CURDIR)/airflow.cfg
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN := sqlite:///$(CURDIR)/.airflow/airflow.db

.PHONY: demo test airflow bench install clean

demo: $(STAMP) .airflow/airflow.db
	$(BIN)/redline demo --workdir .airflow/demo

test: $(STAMP) .airflow/airflow.db
	$(BIN)/python -m pytest

# Airflow's UI and scheduler on 127.0.0.1:8080, following the demo newsroom (started
# here on 127.0.0.1:8765) unless REDLINE_CONFIG names another config.
airflow: $(STAMP) .airflow/airflow.db .airflow/jwt_secret
	$(BIN)/python -m demo.newsroom --port 8765 > .airflow/newsroom.log 2>&1 & \
	trap "kill $$! 2>/dev/null" EXIT INT TERM; \
	PATH="$(CURDIR)/$(BIN):$$PATH" REDLINE_CONFIG="$${REDLINE_CONFIG:-$(CURDIR)/demo/redline.toml}" \
	AIRFLOW__API_AUTH__JWT_SECRET="$$(cat .airflow/jwt_secret)" $(BIN)/airflow standalone

# The scheduler and API server must sign and check task tokens with one shared secret.
.airflow/jwt_secret: $(STAMP)
	mkdir -p .airflow
	$(BIN)/python -c "import secrets; print(secrets.token_urlsafe(64))" > $@

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

.airflow/airflow.db: $(STAMP)
	mkdir -p .airflow
	$(BIN)/airflow db migrate > .airflow/migrate.log 2>&1 || (cat .airflow/migrate.log; exit 1)

clean:
	rm -rf .airflow
