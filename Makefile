# The two commands a user needs: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast install sysdeps clean bench gltf-validator docs

$(STAMP): pyproject.toml constraints.txt
	@$(MAKE) --no-print-directory sysdeps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	@$(MAKE) --no-print-directory gltf-validator
	@touch $(STAMP)

# The Khronos glTF validator (npm) that the export tests run on every .glb they write.
GLTF_VALIDATOR := $(VENV)/node
export SCANTALK_GLTF_VALIDATOR := $(abspath $(GLTF_VALIDATOR))
gltf-validator:
	@if command -v npm >/dev/null; then \
	  test -d $(GLTF_VALIDATOR)/node_modules/gltf-validator || npm install -s --no-fund --no-audit --prefix $(GLTF_VALIDATOR) gltf-validator >/dev/null; \
	else echo "warning: npm not found; the glTF export tests will skip validation (install nodejs and npm)"; fi

install: $(STAMP)

# System packages, installed only when missing and root: the libraries open3d needs, the speech
# synthesizers built from real voices (training speech), the real recordings used for evaluation and
# the demo (pocketsphinx-testdata), and headless Blender (with the numpy its glTF importer needs)
# that the export tests import every .glb into, and headless Chromium that the live viewer's test
# loads the page in.
SYSDEPS := libusb-1.0-0 libgl1 libegl1 libgomp1 festival flite festvox-us-slt-hts festvox-kallpc16k \
	festvox-kdlpc16k pocketsphinx-testdata blender python3-numpy chromium
sysdeps:
	@missing=""; for p in $(SYSDEPS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "warning: missing system packages:$$missing (install them with your package manager: open3d, speech synthesis and the demo need them)"; fi; \
	fi

# `make test`: the whole suite, what CI runs (slow and integration sets included). `make test-fast`:
# the same without tests marked slow/integration (training runs, notebook, CLI subprocesses).
# Both print the 30 slowest tests, so a test that grows past its budget shows up in every run.
PYTEST_ARGS ?=
# Under CI every test's outcome and duration is also written to test-results/junit.xml.
JUNIT := $(if $(CI),--junitxml=test-results/junit.xml,)
test: $(STAMP)
	$(PY) -m pytest -q --durations=30 $(JUNIT) $(PYTEST_ARGS) tests

test-fast: $(STAMP)
	$(PY) -m pytest -q --durations=30 -m "not slow and not integration" $(PYTEST_ARGS) tests

demo: $(STAMP)
	$(VENV)/bin/scantalk demo --out demo

bench: $(STAMP)
	$(PY) experiments/bench/operators.py

# `make docs`: the HTML API reference of both packages (pdoc, Google docstrings) in docs/api/;
# fails on any pdoc warning (tests/test_docs.py holds the builder and the test of it).
docs: $(STAMP)
	@$(PY) -c "import pdoc" 2>/dev/null || $(PIP) install -q -c constraints.txt pdoc
	$(PY) tests/test_docs.py docs/api scantalk emotion

clean:
	rm -rf $(VENV) demo
