# GraphCart: `make run` starts the demo store, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

ifeq ($(CI),true)
export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/graphcart
export CELERY_BROKER_URL ?= redis://127.0.0.1:6379/0
export REDIS_URL ?= redis://127.0.0.1:6379/1
endif

.PHONY: run test venv clean screenshots

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	bash scripts/run-demo.sh

test: $(STAMP)
ifeq ($(CI),true)
	bash scripts/ensure-services.sh
endif
	$(PY) -m pytest $(PYTEST_ARGS)

# Re-take the README's dashboard screenshots (docs/screenshots/) with the browser test.
screenshots: $(STAMP)
	UPDATE_SCREENSHOTS=1 $(PY) -m pytest tests/e2e/test_dashboard.py

clean:
	rm -rf var staticfiles .pytest_cache test-artifacts
