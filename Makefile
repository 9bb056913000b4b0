# The front door. `make demo` and `make test` bootstrap everything they need on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
DEMO_SUBJECTS ?= 2000
STAMP  := $(VENV)/.installed

export PLEDGE_DATA_DIR ?= $(CURDIR)/var

.PHONY: setup demo demo-reset test lint typecheck pytest bench system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# PostgreSQL and Redis (tests start their own servers from these binaries) and Chromium (browser tests).
system-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ ! -x /usr/bin/chromium ] \
	    || [ ! -x /usr/bin/redis-server ]; then \
	  echo "installing postgresql, redis-server and chromium from Debian's packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server chromium \
	    >/dev/null; \
	fi

# The synthetic customer databases are built once (deterministic by seed); `make demo-reset` rebuilds.
demo: setup
	mkdir -p var
	$(BIN)/pledge db upgrade
	[ -d var/systems ] || $(BIN)/pledge demo build --subjects $(DEMO_SUBJECTS)
	$(BIN)/pledge serve --host 127.0.0.1 --port $(PORT)

demo-reset:
	rm -rf var

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src/pledge

pytest: setup system-deps
	$(BIN)/pytest -q

test: lint pytest

bench: setup system-deps
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
