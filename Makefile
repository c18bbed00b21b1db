# govedge: `make demo` runs the whole system on one machine; `make test` checks it.
# Both create the virtual environment and install what they need, system packages included
# (with apt-get, when run as root and missing).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

# System packages the tests start for real: the broker, the PC/SC stack with the virtual reader,
# PostgreSQL and InfluxDB for the hub's stores, Chromium for the consoles' browser tests,
# the headers pyscard builds against, a CJK font for rendered receipts, and gcc for the stand-in
# vendor libraries the ID-card tests compile; systemd (systemd-analyze verify of the shipped units)
# and prometheus (promtool, for the shipped alert rules).
APT_PACKAGES := mosquitto mosquitto-clients pcscd vsmartcard-vpcd libpcsclite-dev swig socat \
	influxdb postgresql chromium chromium-driver fonts-noto-cjk gcc systemd prometheus

.PHONY: help sysdeps install lint typecheck imports test test-only demo bench clean

help:
	@echo "make demo   install, then run broker + hub + simulated fleet + consoles"
	@echo "make test   install (system packages too, as root), then ruff, mypy, import rules, pytest"
	@echo "make bench  run the benchmark suite; results in bench/results/"

sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = "0" ]; then \
			echo "installing system packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else \
			echo "missing system packages:$$missing (run as root, or: sudo apt-get install$$missing)"; exit 1; \
		fi; \
	fi

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# face_recognition is installed apart from setup.cfg's requirements: its dependency `dlib` is a
# long C++ source build, while dlib-bin is a prebuilt wheel of the same module. face_recognition
# needs pkg_resources (setuptools<81) and click, and is then installed with --no-deps.
$(STAMP): $(VENV)/bin/python setup.cfg pyproject.toml
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[all,test]" --config-settings editable_mode=compat
	$(PIP) install -q dlib-bin face_recognition_models "setuptools<81" click
	$(PIP) install -q --no-deps face-recognition
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(VENV)/bin/ruff check .

typecheck: install
	$(VENV)/bin/mypy govedge drivers edge_agent hub sim provisioning firmware_configs kiosk bench

# The import rules of docs/architecture.md (contracts in setup.cfg, [importlinter]).
imports: install
	PYTHONPATH=. $(VENV)/bin/lint-imports --no-cache

test-only:
	$(PY) -m pytest -q -ra --durations=25 tests

test: sysdeps install lint typecheck imports test-only

demo: install
	$(VENV)/bin/govedge demo

bench: sysdeps install
	$(VENV)/bin/govedge bench

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
