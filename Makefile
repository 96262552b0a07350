# httpaf developer tasks. Everything runs inside a virtualenv at $(VENV).
VENV ?= .venv
PY = $(VENV)/bin/python
PYX := $(wildcard httpaf/_*.pyx)
LINT_PATHS := $(wildcard httpaf tests examples benchmarks)

.PHONY: venv install test serve lint clean bench parse-bench

venv: $(PY)

$(PY):
	python3 -m venv $(VENV)
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

serve: install
	$(PY) examples/hello.py --host 127.0.0.1 --port 8080

# The side-by-side benchmark (docs/benchmarks.md): wrk and nginx from Debian, the peers
# into the venv; results in benchmarks/results/. BENCH_ARGS=--quick for a short run.
BENCH_PEERS = 'uvicorn==0.54.0' granian aiohttp httptools uvloop zttp psutil matplotlib h11
bench: install
	@command -v wrk >/dev/null && command -v nginx >/dev/null || \
	  { apt-get update && apt-get install -y wrk nginx-light; }
	$(PY) -m pip install $(BENCH_PEERS)
	$(PY) benchmarks/bench.py $(BENCH_ARGS)

# Parse/serialize micro-benchmark against httptools, h11 and zttp.
parse-bench: install
	$(PY) -m pip install httptools h11 zttp
	taskset -c 1 $(PY) benchmarks/parse_bench.py || $(PY) benchmarks/parse_bench.py

lint: venv
	@$(PY) -m ruff --version >/dev/null 2>&1 || $(PY) -m pip install ruff
	@$(PY) -m mypy --version >/dev/null 2>&1 || $(PY) -m pip install mypy
	$(PY) -m ruff check $(LINT_PATHS)
	$(PY) -m mypy httpaf

clean:
	rm -rf build/ *.egg-info httpaf/*.so httpaf/_*.c .pytest_cache
