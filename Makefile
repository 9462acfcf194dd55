# Two commands on a fresh machine: `make demo` and `make test`. Both create the virtualenv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv test test-fast demo clean browser

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# Debian's Chromium and its driver, for fastchi serve's browser test
# (tests/test_serve_browser.py). `make test` installs them only as root on a machine with
# apt-get (CI's fresh Debian machine). Where that fails (offline, no mirror) it says in one
# line that the browser test will skip, and the tests go on; with FASTCHI_REQUIRE_BROWSER=1
# (CI, .ci/run) the failure stops make instead.
CHROMIUM ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver
browser:
	@if [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then :; \
	elif apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get \
	    install -y -qq chromium chromium-driver >/dev/null 2>&1; then :; \
	elif [ -n "$(FASTCHI_REQUIRE_BROWSER)" ]; then \
	  echo "make browser: apt-get could not install chromium chromium-driver" >&2; exit 1; \
	else echo "make browser: apt-get could not install chromium (offline?); the browser test" \
	  "will skip"; fi
BROWSER := $(if $(and $(filter 0,$(shell id -u)),$(shell command -v apt-get)),browser)

# One TensorFlow thread per op in each of the two workers (and the tools they start): two
# workers already fill two cores, and more threads only contend (the slow files ran 19%
# faster).
test: venv $(BROWSER)
	TF_NUM_INTRAOP_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder tests

# Everything but the tests marked slow (pytest.ini: tools in subprocesses, training runs, the
# demo): the quick check while editing. `make test`, which CI runs, stays everything.
test-fast: venv
	TF_NUM_INTRAOP_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder -m "not slow" tests

demo: venv
	$(PY) tools/demo.py --out_dir demo_out

clean:
	rm -rf $(VENV) demo_out .pytest_cache
