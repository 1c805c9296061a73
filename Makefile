# Two commands set everything up on a fresh machine:
#   make run    build the demo index from sample/ if none exists, then serve on localhost
#   make test   install, lint, run the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INDEX ?= indexes/default
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install lint format demo-index eval bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo-index: install
	@if [ ! -f "$(INDEX)/CURRENT" ]; then \
		echo "building the demo index in $(INDEX) from sample/"; \
		$(PY) cli.py --index "$(INDEX)" reindex sample --full; \
	elif $(PY) cli.py --index "$(INDEX)" stats --check 2>&1 | grep -q "schema version"; then \
		echo "rebuilding the demo index in $(INDEX) from sample/: it was built by an older version"; \
		$(PY) cli.py --index "$(INDEX)" reindex sample --full; \
	fi

run: demo-index
	NEWS_SEARCH_CLICK_LOG=1 $(PY) cli.py --index "$(INDEX)" serve --host $(HOST) --port $(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: install
	bash tests/setup_system.sh $(VENV)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

eval: install
	@for task in ../shared/data/relevance/*/; do $(PY) cli.py eval "$$task"; done

bench: install
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
