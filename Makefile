# painter-match: `make help` lists the targets. Every target works from a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= data/synth
RUN    ?= runs/synth
# The built-in data: enough artists that held-out ones can be told apart by what was learnt.
SYNTH_ARGS ?= --artists 72 --test-artists 16 --paintings 14 --max-size 1200
TRAIN_ARGS ?=
SRC    := painter_match tests $(wildcard export bench)
# Rules pinned here so that a newer ruff with other defaults gives the same verdict.
RUFF_RULES := --line-length 110 --select E4,E7,E9,F,W,I,UP,B --ignore B905

.DEFAULT_GOAL := help
.PHONY: help install test test-all lint format synth train evaluate demo clean

help:  ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# torch is pinned to the build this project is tested with; the rest comes from setup.cfg.
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e '.[train,dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install painter-match with the train and dev extras

test: install  ## run the fast test suite (what CI runs)
	$(BIN)/python -m pytest -q

test-all: install  ## run every test, the slow ones too
	$(BIN)/python -m pytest -q --run-slow

lint: install  ## ruff lint and format check, mypy on the package
	$(BIN)/ruff check $(RUFF_RULES) $(SRC)
	$(BIN)/ruff format --check --line-length 110 $(SRC)
	$(BIN)/mypy

format: install  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix $(RUFF_RULES) $(SRC)
	$(BIN)/ruff format --line-length 110 $(SRC)

synth: install  ## write the synthetic painters to $(DATA)
	$(BIN)/painter-match synth $(DATA) --force $(SYNTH_ARGS)

$(DATA)/all_data_info.csv: | $(STAMP)
	$(BIN)/painter-match synth $(DATA) --force $(SYNTH_ARGS)

train: install $(DATA)/all_data_info.csv  ## train the compact encoder on $(DATA) into $(RUN) (replaces it)
	rm -rf $(RUN)
	$(BIN)/painter-match train $(DATA) -o $(RUN) $(TRAIN_ARGS)

evaluate: install  ## score $(DATA)'s test pairs with $(RUN)/best.pt (seen and unseen artists)
	$(BIN)/painter-match evaluate $(RUN)/best.pt $(DATA) --roc $(RUN)/roc.png

demo: install  ## the main job on the built-in synthetic data: synth -> scan -> train -> evaluate
	$(BIN)/painter-match synth $(DATA) --force $(SYNTH_ARGS)
	$(BIN)/painter-match scan $(DATA)
	rm -rf $(RUN)
	$(BIN)/painter-match train $(DATA) -o $(RUN) $(TRAIN_ARGS)
	$(BIN)/painter-match evaluate $(RUN)/best.pt $(DATA) --roc $(RUN)/roc.png

clean:  ## remove the generated data, runs and models (keeps .venv)
	rm -rf data runs models man .pytest_cache .ruff_cache .mypy_cache
