# Quick start. Two commands, each safe to run again (the second run reuses what the first made):
#
#   make demo    set up .venv (CPU build of PyTorch, the project), index the bundled corpus into
#                indexes/default, and answer an example question with cited hits
#   make test    set up .venv the same way and run the whole test suite
#
# Variables: PYTHON (the interpreter that makes the environment), VENV (its folder), TORCH (the
# PyTorch requirement; the CPU build, since a plain "torch" pulls a multi-GB CUDA build),
# PIP_TORCH_OPTS (e.g. --index-url https://download.pytorch.org/whl/cpu where no CPU wheel is at
# hand), INDEX, QUERY.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PIP_TORCH_OPTS ?=
INDEX ?= indexes/default
QUERY ?= states should not allow their territory to be used for wrongful acts using ICTs

BIN := $(VENV)/bin
# Stamp of a finished install: newer than pyproject.toml, or the environment is set up again.
STAMP := $(VENV)/.installed

# The embedding model ships inside a package: nothing may be fetched from a model hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test env

env:
	@if [ -f "$(STAMP)" ] && [ "$(STAMP)" -nt pyproject.toml ] && [ -x "$(BIN)/aseancyberdocs" ]; then \
		echo "environment: reusing $(VENV) (delete it to start again)"; \
	else \
		echo "environment: creating $(VENV) with $(TORCH) (CPU) and aseancyberdocs[dev]"; \
		$(PYTHON) -m venv "$(VENV)" && \
		"$(BIN)/python" -m pip install --quiet $(PIP_TORCH_OPTS) "$(TORCH)" && \
		"$(BIN)/python" -m pip install --quiet -e ".[dev]" && \
		touch "$(STAMP)" && \
		echo "environment: ready in $(VENV)"; \
	fi

demo: env
	@echo "index: $(INDEX) from the bundled corpus in corpus/ (only what changed since the last build is redone)"
	@"$(BIN)/aseancyberdocs" build --index "$(INDEX)"
	@echo
	@echo "search: $(QUERY)"
	@"$(BIN)/aseancyberdocs" search "$(QUERY)" -k 3 --index "$(INDEX)"
	@echo
	@echo "done: environment $(VENV), index $(INDEX). Try: $(BIN)/aseancyberdocs search \"your question\""

test: env
	"$(BIN)/python" -m pytest -q
