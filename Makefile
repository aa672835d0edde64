# The two commands: `make run` and `make test`. Both create .venv when it is missing and
# build the native module (native/, Rust: needs cargo and rustc) into it.
PYTHON ?= python3
CARGO  ?= cargo
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NATIVE := $(VENV)/.native
CRATES := --manifest-path native/Cargo.toml
# What stockade._native is built from; a change rebuilds it, incrementally, in native/target.
NATIVE_SOURCES := native/Cargo.toml native/Cargo.lock $(shell find native/core native/front native/python -name '*.rs' -o -name Cargo.toml)

.PHONY: run test check bench install clean unasync

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pip builds the extension module with maturin in the release profile: what users get and
# what the benchmarks measure (and the wheel test then reuses the build).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP) $(NATIVE)

$(NATIVE): $(NATIVE_SOURCES) | $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(NATIVE)

install: $(STAMP) $(NATIVE)

run: install
	@echo "stockade: serving examples/ (SQLite store examples/stockade.db)"
	@echo "  public page:         http://127.0.0.1:8080/"
	@echo "  protected directory: http://127.0.0.1:8080/secure/"
	@echo "  demo users:          alice / wonderland, bob / builder (max 3 wrong passwords)"
	@echo "  IP bans:             5 probes (try /.env) ban the client for 10 minutes"
	@echo "  operators' console:  http://127.0.0.1:9180/ui/"
	@echo "  console token:       stockade-demo-token-not-a-secret (a DEMO token from examples/stockade.toml: set your own)"
	$(BIN)/stockade serve -c examples/stockade.toml

test: install
	$(BIN)/python -m pytest

check: install
	$(BIN)/python scripts/unasync.py --check
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(CARGO) fmt $(CRATES) --all -- --check
	$(CARGO) clippy $(CRATES) --workspace --all-targets -- -D warnings
	$(CARGO) test $(CRATES) --workspace

bench: install
	$(BIN)/python bench/native_iptable.py
	$(BIN)/python bench/lockout.py
	$(BIN)/python bench/conditions.py
	$(BIN)/python bench/stores.py
	$(BIN)/python bench/blocklist.py
	$(BIN)/python bench/bans.py
	$(BIN)/python bench/proxy.py
	$(BIN)/python bench/decision.py

unasync: install
	$(BIN)/python scripts/unasync.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache src/stockade/*.so native/target
