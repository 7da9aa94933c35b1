# Warroom: `make run` starts the room, `make test` runs the suite, `make bench` the benchmarks.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test bench venv services stop-services clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

services:
	scripts/services.sh up

stop-services:
	scripts/services.sh stop

run: venv
	scripts/run.sh

test: venv
	scripts/test.sh $(ARGS)

bench: venv
	scripts/bench.sh

clean: stop-services
	rm -rf .run $(VENV)
