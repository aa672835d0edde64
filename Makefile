# The two commands: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test check bench install clean unasync

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@echo "stockade: serving examples/ (SQLite store examples/stockade.db)"
	@echo "  public page:         http://127.0.0.1:8080/"
	@echo "  protected directory: http://127.0.0.1:8080/secure/"
	@echo "  demo users:          alice / wonderland, bob / builder (max 3 wrong passwords)"
	@echo "  IP bans:             5 probes (try /.env) ban the client for 10 minutes"
	@echo "  operators' console:  http://127.0.0.1:9180/ui/"
	@echo "  console token:       stockade-demo-token-not-a-secret (a DEMO token from examples/stockade.toml: set your own)"
	$(BIN)/stockade serve -c examples/stockade.toml

test: $(STAMP)
	$(BIN)/python -m pytest

check: $(STAMP)
	$(BIN)/python scripts/unasync.py --check
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/lockout.py
	$(BIN)/python bench/conditions.py
	$(BIN)/python bench/stores.py
	$(BIN)/python bench/blocklist.py
	$(BIN)/python bench/bans.py
	$(BIN)/python bench/http_server.py
	$(BIN)/python bench/proxy.py

unasync: $(STAMP)
	$(BIN)/python scripts/unasync.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
