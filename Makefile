# Lore — every target bootstraps .venv itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: test lint unit demo bench soak clean web web-check dist

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "bootstrapping $(VENV) (log: $(VENV)/install.log)"
	@$(BIN)/python -m pip install -q --upgrade pip > $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@$(BIN)/python -m pip install -q -e '.[dev]' >> $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check lored lorectl loreproto lorecloud tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

# the browser bundle (lorecloud/dashboard/static/lore-web.js) from web/ and its lockfile
web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

web: web/node_modules/.package-lock.json
	cd web && node build.mjs

# rebuild into a temp file and fail if it differs from the committed bundle
web-check: web/node_modules/.package-lock.json
	@tmp=$$(mktemp --suffix=.js) && (cd web && node build.mjs --out $$tmp) && \
	  if cmp -s $$tmp lorecloud/dashboard/static/lore-web.js; then rm -f $$tmp; echo "web bundle: up to date"; \
	  else rm -f $$tmp; echo "error: lorecloud/dashboard/static/lore-web.js differs from a fresh build of web/"; \
	  echo "hint: run 'make web' and commit the bundle"; exit 1; fi

test: $(STAMP) lint web-check
	$(BIN)/pytest -q -p no:cacheprovider

# the wheel and the sdist into $(DIST) (pipx install $(DIST)/lore_sessions-*.whl)
DIST ?= dist
dist: $(STAMP)
	$(BIN)/python -m build --outdir $(DIST) .

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

bench: $(STAMP)
	$(BIN)/python -m bench.run

soak: $(STAMP)
	LORE_SOAK=1 $(BIN)/pytest -q -m slow

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
