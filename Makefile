# The two commands a newcomer needs:
#   make train   create .venv, install, build the offline data set if absent, train, evaluate, export, report
#   make test    the test suite (what CI runs)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_ROOT ?= data/offline_kws
RUN_DIR ?= outputs/train/make_$(shell date +%Y-%m-%d_%H-%M-%S)
# configs/experiment/offline_whisper.yaml: Whisper tiny.en's encoder + a small head, 4 epochs
EXPERIMENT ?= offline_whisper
TRAIN_ARGS ?=

.PHONY: install lock data train test test-fast check-lowest lint format docs clean

# The environment is exactly requirements.lock (every package, exact version, hashes), so a release
# elsewhere never changes what `make train` and `make test` install; pyproject.toml keeps the ranges
# for `pip install kws`. A changed lock rebuilds the venv from scratch (nothing stale stays); a changed
# pyproject.toml only reinstalls kws itself, and `pip check` fails if it no longer fits the lock.
$(VENV)/installed.lock: requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "requirements.lock is for CPython 3.11 (Linux x86_64): run make PYTHON=python3.11 ...")'
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --require-hashes -r requirements.lock
	cp requirements.lock $@

$(BIN)/kws-train: $(VENV)/installed.lock pyproject.toml
	$(BIN)/pip install --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	$(BIN)/python -c 'import torch, torchaudio; print("torch", torch.__version__, "and torchaudio", torchaudio.__version__, "load together")'
	touch $@

install: $(BIN)/kws-train

# Re-resolve pyproject.toml's ranges into requirements.lock, keeping current pins where they still fit
# (with the uv version the lock itself pins; then `make test` rebuilds .venv from the new lock).
# Upgrades: make lock LOCK_ARGS=--upgrade (everything) or LOCK_ARGS="--upgrade-package onnxruntime".
lock:
	$(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install "uv==$$(sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements.lock)"
	cp requirements.lock $(VENV)-lock/requirements.lock
	$(VENV)-lock/bin/uv pip compile pyproject.toml --extra dev --extra piper --extra device --python-version 3.11 \
		--python-platform x86_64-manylinux_2_35 --generate-hashes --custom-compile-command "make lock" --quiet \
		$(LOCK_ARGS) -o $(VENV)-lock/requirements.lock
	@# Replaced only when it changed: a new requirements.lock rebuilds .venv.
	cmp -s $(VENV)-lock/requirements.lock requirements.lock || cp $(VENV)-lock/requirements.lock requirements.lock

data: install
	$(BIN)/kws-synth data.root=$(DATA_ROOT)

train: data
	$(BIN)/kws-train experiment=$(EXPERIMENT) data.root=$(DATA_ROOT) hydra.run.dir=$(RUN_DIR) $(TRAIN_ARGS)
	$(BIN)/kws-eval ckpt_path=$(RUN_DIR)/checkpoints/best.ckpt hydra.run.dir=$(RUN_DIR)/eval
	$(BIN)/kws-export ckpt_path=$(RUN_DIR)/checkpoints/best.ckpt hydra.run.dir=$(RUN_DIR)/export quantize=static
	$(BIN)/kws-report $(RUN_DIR)
	@echo
	@echo "run directory:  $(RUN_DIR)  (config.yaml, checkpoints/, metrics.json, eval/, report.png)"
	@echo "exported model: $(RUN_DIR)/export  (model.pt, model.onnx, model.int8.onnx, model.json)"
	@echo "TensorBoard:    $(BIN)/tensorboard --logdir outputs"
	@echo "try it:         $(BIN)/kws-predict $(RUN_DIR)/export <file.wav>"

# One pytest-xdist worker per core (tests/conftest.py gives each its share of the threads): the suite's
# many short commands, imports and exports overlap instead of queueing behind each other.
PYTEST := $(BIN)/pytest -n auto --dist worksteal

test: install
	$(PYTEST)

test-fast: install
	$(PYTEST) -m "not slow"

# pyproject.toml's lower bounds are true: the lowest versions they allow, in a fresh environment of their
# own (a temporary folder, not .venv), install, import and train, evaluate and export a tiny model.
check-lowest: install
	UV=$(BIN)/uv scripts/check_lowest_versions.sh

lint: install
	$(BIN)/ruff check kws tests scripts
	$(BIN)/ruff format --check kws tests scripts

format: install
	$(BIN)/ruff format kws tests scripts
	$(BIN)/ruff check --fix kws tests scripts

# The documentation site (mkdocs.yml, docs/): --strict fails on a broken link, anchor or missing page.
# Builds offline (no plugin fetches anything); open site/index.html.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache
