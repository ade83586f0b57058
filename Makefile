# Two commands: `make run` serves the assistant on http://127.0.0.1:8000; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench chaos eval clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/sms-assistant db upgrade
	$(BIN)/sms-assistant serve --host 127.0.0.1 --port 8000

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 3  # three processes: most tests wait on I/O, not the CPU

# The browser tests drive Debian's Chromium; install it where we may (root with apt), else they skip.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& (apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 \
		&& apt-get install -y -q chromium >/dev/null 2>&1; }); } \
		|| echo "NOTE: no Chromium (apt-get install chromium): the browser tests will be skipped"

# The chaos suite at full size (300 texts from 30 phones, about two minutes); `make test` runs a bounded one.
chaos: $(STAMP)
	CHAOS=full $(BIN)/python -m pytest -s tests/chaos

# The offline engine's scripted conversations (tests/dialogues/*.toml): prints the share that pass.
eval: $(STAMP)
	$(BIN)/python -m tests.dialogues

# Speed figures in one JSON file (PostgreSQL + Redis from TEST_DATABASE_URL / TEST_REDIS_URL, as in .ci/run).
BENCH_JSON ?= bench-results.json
bench: $(STAMP)
	rm -f $(BENCH_JSON)
	$(BIN)/python -m bench.webhook_throughput --json $(BENCH_JSON)
	$(BIN)/python -m bench.turns --json $(BENCH_JSON)
	$(BIN)/python -m bench.pacing --json $(BENCH_JSON)
	$(BIN)/python -m bench.report $(BENCH_JSON)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
