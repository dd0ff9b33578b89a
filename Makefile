# The two commands a newcomer needs:
#   make train   create .venv, install, build the offline data set if absent, train, evaluate, export, report
#   make test    the test suite (what CI runs)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_ROOT ?= data/offline_kws
RUN_DIR ?= outputs/train/make_$(shell date +%Y-%m-%d_%H-%M-%S)
TRAIN_ARGS ?=

.PHONY: install data train test test-fast lint format clean

$(BIN)/kws-train: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "kws needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e ".[dev]"
	touch $@

install: $(BIN)/kws-train

data: install
	$(BIN)/kws-synth root=$(DATA_ROOT)

train: data
	$(BIN)/kws-train data.root=$(DATA_ROOT) hydra.run.dir=$(RUN_DIR) $(TRAIN_ARGS)
	$(BIN)/kws-eval ckpt_path=$(RUN_DIR)/checkpoints/best.ckpt hydra.run.dir=$(RUN_DIR)/eval
	$(BIN)/kws-export ckpt_path=$(RUN_DIR)/checkpoints/best.ckpt out_dir=$(RUN_DIR)/export quantize=static
	$(BIN)/kws-report $(RUN_DIR)
	@echo
	@echo "run directory:  $(RUN_DIR)  (config.yaml, checkpoints/, metrics.json, eval/, report.png)"
	@echo "exported model: $(RUN_DIR)/export  (model.pt, model.onnx, model.int8.onnx, model.json)"
	@echo "TensorBoard:    $(BIN)/tensorboard --logdir outputs"
	@echo "try it:         $(BIN)/kws-predict $(RUN_DIR)/export <file.wav>"

test: install
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not slow"

lint: install
	$(BIN)/ruff check kws tests scripts
	$(BIN)/ruff format --check kws tests scripts

format: install
	$(BIN)/ruff format kws tests scripts
	$(BIN)/ruff check --fix kws tests scripts

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache
