# Pressroom: `make run` starts the service, `make test` runs the tests.
# Both do all set-up first: system programs (apt-get), a virtual environment
# with the locked Python dependencies (uv), and the database migrations.

PYTHON ?= python3.11
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test setup system test-tools lint typecheck bench clean

run: setup
	$(VENV)/bin/pressroom serve

test: setup test-tools
	bash scripts/test.sh

setup: system $(VENV)/.synced

system:
	@bash scripts/system-deps.sh

# what only the tests need: Debian's chromium for the web page's test (Playwright
# with its path; no browser download), and LibreOffice for the office-to-PDF test
test-tools:
	@bash scripts/system-deps.sh --with-browser --with-office

$(UV):
	@command -v $(PYTHON) >/dev/null || { echo "Pressroom needs Python 3.11 ($(PYTHON)); install python3.11 or set PYTHON=" >&2; exit 1; }
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

lint: setup
	$(VENV)/bin/ruff check pressroom tests bench
	$(VENV)/bin/mypy pressroom

bench: setup
	$(VENV)/bin/python bench/pipeline.py

clean:
	rm -rf $(VENV) .tools var
