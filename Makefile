# Two commands on a fresh machine: `make run` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
OCTO_VENV := .venv-octoprint
APT_PACKAGES := prusa-slicer chromium docker-compose fonts-dejavu-core fonts-noto-core wrk \
  libcap-dev libturbojpeg0
STAMP := $(VENV)/.stamp

.PHONY: run test install install-test system-deps peers lint check-compose demo screenshots lock clean help

help:
	@echo "make run   - install, migrate, seed and serve on http://127.0.0.1:5000 (SQLite, in-process jobs)"
	@echo "make test  - install test extras, system packages and peers, then run the whole suite"

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip uv

# Versions are pinned in constraints.txt (the lock: `make lock` refreshes it from a working venv).
$(STAMP): pyproject.toml constraints.txt | $(UV)
	$(UV) pip install --python $(PY) --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

# Front-end libraries (model-viewer, swagger-ui, vis-timeline) from the npm registry, copied into
# web/static by the package's postinstall script; served locally, never from a CDN.
NPM_STAMP := node_modules/.stamp
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

# Page languages (web/i18n.py): each web/translations/<lang>/LC_MESSAGES/messages.po compiled to
# the .mo Flask-Babel reads (build output, not committed). After changing a template's _()
# strings: `$(VENV)/bin/pybabel extract -F babel.cfg --no-location --sort-output
# -o web/translations/messages.pot web`, then `pybabel update -d web/translations
# -i web/translations/messages.pot` and translate what is new (tests/web/test_web_i18n.py checks).
MO_FILES := $(patsubst %.po,%.mo,$(wildcard web/translations/*/LC_MESSAGES/messages.po))
%.mo: %.po | $(STAMP)
	$(VENV)/bin/pybabel --quiet compile -i $< -o $@

# The Urdu pages' font, Noto Naskh Arabic from Debian's fonts-noto-core (system-deps), copied
# next to the npm assets and served locally like them.
NOTO_DIR := /usr/share/fonts/truetype/noto
URDU_FONTS := NotoNaskhArabic-Regular.ttf NotoNaskhArabic-Bold.ttf
FONT_DIR := web/static/vendor/fonts
.PHONY: translations fonts
translations: $(MO_FILES)
fonts:
	@mkdir -p $(FONT_DIR); for f in $(URDU_FONTS); do \
	  if [ -f $(NOTO_DIR)/$$f ]; then cp -u $(NOTO_DIR)/$$f $(FONT_DIR)/$$f; \
	  else echo "note: $(NOTO_DIR)/$$f is missing (make system-deps): Urdu pages use a system font"; fi; \
	done

install: $(STAMP) $(NPM_STAMP) translations fonts

# Debian packages the platform uses: PrusaSlicer (G-code), Chromium (browser tests), docker-compose
# (offline compose-file check), DejaVu fonts (nameplate text), Noto fonts (Urdu text and pages).
# Installed only when missing.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# OctoPrint pins its own Flask, so the real printer peer lives in a venv of its own.
$(OCTO_VENV)/bin/octoprint: | $(UV)
	$(UV) venv --quiet --python $(PY) $(OCTO_VENV)
	$(UV) pip install --quiet --python $(OCTO_VENV)/bin/python -c constraints-octoprint.txt 'octoprint>=1.10,<1.12'

# The printer-side PrusaLink (PyPI `prusalink`, pins pydantic 1) in a venv of its own; it needs
# libcap-dev to build python-prctl and libturbojpeg0 at import, and setuptools < 70 (pkg_resources).
PRUSALINK_VENV := .venv-prusalink
$(PRUSALINK_VENV)/bin/prusalink: constraints-prusalink.txt | $(UV) system-deps
	$(UV) venv --quiet --python $(PY) $(PRUSALINK_VENV)
	$(UV) pip install --quiet --python $(PRUSALINK_VENV)/bin/python -c constraints-prusalink.txt 'prusalink==0.8.1' setuptools

peers: $(OCTO_VENV)/bin/octoprint $(PRUSALINK_VENV)/bin/prusalink

run: install
	$(VENV)/bin/hunar db upgrade
	$(VENV)/bin/hunar seed
	$(VENV)/bin/hunar serve --host 127.0.0.1 --port 5000

test: system-deps install peers lint
	$(PY) -m pytest -q -p no:cacheprovider

# The fast lane (about 3 minutes on 2 cores): the pure packages and the SQLite half of the
# application tests; no PostgreSQL, browser, slow (CAD sweeps, real workers and peers), drill,
# end-to-end or bench tests. `make test` still runs everything. Bytecode is cached outside the
# checkout, even where the environment turns caching off (it halves the start-up).
.PHONY: test-fast
test-fast: system-deps install peers
	PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX="$${TMPDIR:-/tmp}/hunar-pycache" \
	  $(PY) -m pytest -q -p no:cacheprovider -m "not slow and not postgres and not browser" \
	  --ignore=tests/drills --ignore=tests/e2e --ignore=tests/bench

# Style, layering and types: ruff (lint and format), the import-linter contracts in .importlinter
# (floors, the application core's layers, no cycles) and mypy (strict on the pure packages).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

demo: install system-deps peers
	$(VENV)/bin/hunar demo

# The README's screenshots, taken by the Playwright tests and copied into docs/screenshots.
screenshots: system-deps install peers
	HUNAR_UPDATE_SCREENSHOTS=1 $(PY) -m pytest -q -p no:cacheprovider \
	  tests/web/test_web_browser.py tests/web/test_web_planner_browser.py \
	  tests/web/test_web_i18n_browser.py

lock: install peers
	$(UV) pip freeze --python $(PY) --exclude-editable > constraints.txt
	$(UV) pip freeze --python $(OCTO_VENV)/bin/python > constraints-octoprint.txt
	$(UV) pip freeze --python $(PRUSALINK_VENV)/bin/python > constraints-prusalink.txt

check-compose:
	docker-compose -f docker-compose.yml config -q

clean:
	rm -rf $(VENV) $(OCTO_VENV) $(PRUSALINK_VENV) var .pytest_cache
