# The two commands a user needs: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: demo test install sysdeps clean bench

$(STAMP): pyproject.toml constraints.txt
	@$(MAKE) --no-print-directory sysdeps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# open3d needs a few system libraries a bare Debian lacks; install them only when missing and root.
sysdeps:
	@missing=""; for p in libusb-1.0-0 libgl1 libegl1 libgomp1; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing system libraries for open3d:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "warning: open3d may need these system libraries:$$missing (install them with your package manager)"; fi; \
	fi

test: $(STAMP)
	$(PY) -m pytest -q tests

demo: $(STAMP)
	$(VENV)/bin/scantalk demo --out demo

bench: $(STAMP)
	$(PY) experiments/bench/operators.py

clean:
	rm -rf $(VENV) demo
