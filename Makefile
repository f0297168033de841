# painter-match: `make help` lists the targets. Every target works from a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= data/synth
RUN    ?= runs/synth
# The built-in data: enough artists that held-out ones can be told apart by what was learnt.
SYNTH_ARGS ?= --artists 72 --test-artists 16 --paintings 14 --max-size 1200
# The synthetic paintings are up to 1200 px and the compact model sees 96 px: a global view plus
# four crops at twice that (the model's default views, so embed uses them) lifted the demo's
# test AUC from 0.844 to 0.902, and with the train/ reference from 0.919 to 0.953 (README).
TRAIN_ARGS ?= --views 4
SRC    := painter_match tests docs/experiments $(wildcard export bench)
# Rules pinned here so that a newer ruff with other defaults gives the same verdict.
RUFF_RULES := --line-length 110 --select E4,E7,E9,F,W,I,UP,B --ignore B905

.DEFAULT_GOAL := help
.PHONY: help install test test-all test-inference lint format synth train evaluate demo clean

help:  ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The extras installed (setup.cfg): CI adds ray (`make install EXTRAS=train,dev,ray`), gpu-check adds gpu.
EXTRAS ?= train,dev

# torch is pinned to the build this project is tested with; the rest comes from setup.cfg.
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install painter-match with the train and dev extras (EXTRAS=train,dev,ray adds more)

test: install  ## run the fast test suite (what CI runs)
	$(BIN)/python -m pytest -q

test-all: install  ## run every test, the slow ones too
	$(BIN)/python -m pytest -q --run-slow

# The inference install (`pip install painter-match` plus the dev extra: no torch, torchvision or
# onnx) in a venv of its own. The suite must pass there too, the torch tests skipping with a reason
# (-ra in setup.cfg prints each): that proves the torch wall. setuptools as pyproject.toml's build
# system, since tests/install/test_packaged_model.py builds the wheel without build isolation.
INF_VENV  := .venv-inference
INF_STAMP := $(INF_VENV)/.installed
$(INF_STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(INF_VENV)
	$(INF_VENV)/bin/pip install --quiet "setuptools>=77" wheel
	$(INF_VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(INF_STAMP)

test-inference: $(INF_STAMP)  ## run the fast suite on the inference install (no torch, no onnx) in .venv-inference
	$(INF_VENV)/bin/python -c "import importlib.util as u, sys; found = [m for m in ('torch', 'torchvision', 'onnx') if u.find_spec(m)]; sys.exit(f'{found} installed in $(INF_VENV): it must be the inference install' if found else 0)"
	$(INF_VENV)/bin/python -m pytest -q

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

MODEL  ?= models/painter-match.onnx
# The best checkpoint of the most recently trained run; EXPORT_ARGS takes --int8 or --fp16.
CHECKPOINT ?= $(shell ls -t runs/*/best.pt 2>/dev/null | head -1)
EXPORT_ARGS ?=

.PHONY: export
export: install  ## latest run's best.pt -> verified models/painter-match.onnx (CHECKPOINT=..., EXPORT_ARGS=--int8)
	@test -n "$(CHECKPOINT)" || { echo "make export: no runs/*/best.pt found; run 'make train' first or pass CHECKPOINT=path/to/best.pt" >&2; exit 1; }
	$(BIN)/python -m export $(CHECKPOINT) -o $(MODEL) --force $(EXPORT_ARGS)

demo: install  ## the main job from a fresh clone: synth -> scan -> train -> export -> embed -> score (AUC), then with the train/ paintings as a reference
	@echo "== 1/8 synth: synthetic painters in the Kaggle layout -> $(DATA)"
	$(BIN)/painter-match synth $(DATA) --force $(SYNTH_ARGS)
	@echo "== 2/8 scan: check the data"
	$(BIN)/painter-match scan $(DATA)
	@echo "== 3/8 train: the Siamese encoder -> $(RUN) (a few minutes on a CPU)"
	rm -rf $(RUN)
	$(BIN)/painter-match train $(DATA) -o $(RUN) $(TRAIN_ARGS)
	@echo "== 4/8 export: $(RUN)/best.pt -> $(MODEL)"
	$(BIN)/python -m export $(RUN)/best.pt -o $(MODEL) --force
	@echo "== 5/8 embed: every test painting with ONNX Runtime (no torch)"
	$(BIN)/painter-match embed $(DATA)/test -o $(RUN)/test-embeddings.npz -m $(MODEL) --force
	@echo "== 6/8 score: the Kaggle pairs file -> $(RUN)/submission.csv, and its AUC against solution.csv"
	$(BIN)/painter-match score $(DATA)/submission_info.csv --embeddings $(RUN)/test-embeddings.npz \
		-o $(RUN)/submission.csv --solution $(DATA)/solution.csv
	@echo "== 7/8 reference: embed the labelled train/ paintings and fit how their artists weigh in -> $(RUN)/reference.npz"
	$(BIN)/painter-match embed $(DATA)/train -o $(RUN)/train-embeddings.npz -m $(MODEL) --force
	$(BIN)/painter-match reference $(RUN)/train-embeddings.npz --labels $(DATA)/train_info.csv -o $(RUN)/reference.npz --force
	@echo "== 8/8 score with the reference -> $(RUN)/submission-reference.csv (compare the AUCs with step 6's)"
	$(BIN)/painter-match score $(DATA)/submission_info.csv --embeddings $(RUN)/test-embeddings.npz \
		--reference $(RUN)/reference.npz -o $(RUN)/submission-reference.csv --solution $(DATA)/solution.csv --force

# Real paintings: the shared development sets are not part of the project, so these targets only
# train where they are present. REAL_TRAIN_ARGS overrides preset values (e.g. --epochs 10).
REAL_DATA  ?= ../shared/data/real-paintings-128 ../shared/data/wikiart-224
REAL_RUN   ?= runs/real
REAL_MODEL ?= models/painter-match-real.onnx
REAL_TRAIN_ARGS ?=
# The one model the package ships (README, "Real paintings"; its card is beside it).
PACKAGED_MODEL := painter_match/models/painter-match.onnx
PACKAGED_VARIANT ?= --int8
FOLDS ?= 4
REAL_PRESENT = for d in $(REAL_DATA); do [ -d "$$d" ] || { echo "make $@: $$d is absent, so there is nothing to train on; skipping (not an error)"; exit 0; }; done

.PHONY: real-model real-folds
real-model: install  ## train --preset real on every $(REAL_DATA) folder if present; export it and the packaged default
	@$(REAL_PRESENT); \
	set -e; start=$$(date +%s); \
	echo "== 1/3 train --preset real on $(REAL_DATA) -> $(REAL_RUN)"; \
	rm -rf $(REAL_RUN); \
	$(BIN)/painter-match train $(REAL_DATA) -o $(REAL_RUN) --preset real --feature-cache runs/feature-cache --quiet $(REAL_TRAIN_ARGS); \
	echo "== 2/3 export $(REAL_RUN)/best.pt -> $(REAL_MODEL)"; \
	$(BIN)/python -m export $(REAL_RUN)/best.pt -o $(REAL_MODEL) --force --quiet; \
	echo "== 3/3 export $(PACKAGED_VARIANT) -> $(PACKAGED_MODEL) (the packaged default; commit it only when the fold figures beat the last)"; \
	$(BIN)/python -m export $(REAL_RUN)/best.pt -o $(PACKAGED_MODEL) $(PACKAGED_VARIANT) --force --quiet; \
	ls -l $(REAL_MODEL) $(PACKAGED_MODEL); \
	echo "make real-model: done in $$(( $$(date +%s) - start ))s"

real-folds: install  ## the preset's held-out AUC: FOLDS artist-disjoint folds of $(REAL_DATA), fp32 and int8 (long)
	@$(REAL_PRESENT); \
	set -e; start=$$(date +%s); last=$$(( $(FOLDS) - 1 )); \
	for k in $$(seq 0 $$last); do \
		run=runs/real-fold$$k; rm -rf $$run; \
		echo "== fold $$k/$(FOLDS): train with its artists held out -> $$run"; \
		$(BIN)/painter-match train $(REAL_DATA) -o $$run --preset real --hold-out-fold $$k/$(FOLDS) \
			--feature-cache runs/feature-cache --quiet $(REAL_TRAIN_ARGS); \
		$(BIN)/python -m export $$run/best.pt -o $$run/model.onnx --force --quiet; \
		$(BIN)/python -m export $$run/best.pt -o $$run/model-int8.onnx --int8 --force --quiet; \
		echo "== fold $$k/$(FOLDS): evaluate on the held-out artists (all pairs, at most 60 per artist)"; \
		$(BIN)/painter-match evaluate $$run/model.onnx $(REAL_DATA) --fold $$k/$(FOLDS) --find-painting off --quiet --json > $$run/evaluate.json; \
		$(BIN)/painter-match evaluate $$run/model-int8.onnx $(REAL_DATA) --fold $$k/$(FOLDS) --find-painting off --no-baseline --quiet --json \
			> $$run/evaluate-int8.json; \
	done; \
	$(BIN)/python -m bench.yardstick_tables folds --folds $(FOLDS); \
	echo "make real-folds: done in $$(( $$(date +%s) - start ))s"

.PHONY: real-photographed
real-photographed: install  ## yardstick c: fold 0's held-out paintings photographed, scored by fold 0's model (after real-folds)
	@$(REAL_PRESENT); \
	[ -f runs/real-fold0/model-int8.onnx ] || { echo "make $@: runs/real-fold0/model-int8.onnx is absent; run make real-folds first"; exit 2; }; \
	set -e; $(BIN)/python -m bench.photographed_copies --data ../shared/data --out runs/photographed; \
	for s in 0.25 0.5 0.75 1.0; do for mode in auto none; do \
		$(BIN)/painter-match evaluate runs/real-fold0/model-int8.onnx runs/photographed/s$$s/real-paintings-128 \
			runs/photographed/s$$s/wikiart-224 --no-baseline --collection $$mode --quiet --json > runs/photographed-s$$s-$$mode.json; \
	done; done; \
	$(BIN)/python -m bench.yardstick_tables photographed

# Every recipe judged on three yardsticks (docs/real-photographs.md): the four folds, cross-source
# (train on one shared folder, score the other's artists), photographs (gallery-photos, and fold 0's
# paintings photographed at five strengths), raw and centred on the collection, beside the
# untrained ImageNet features and colour histograms. RECIPE takes the script's key=value options.
RECIPE ?= views=global,flip,photo1,photo2
RECIPE_NAME ?= candidate

.PHONY: real-yardsticks
real-yardsticks: install  ## three-yardstick table of RECIPE beside the previous preset (long; needs ../shared/data)
	@$(REAL_PRESENT); \
	[ -d ../shared/data/gallery-photos ] || { echo "make $@: ../shared/data/gallery-photos is absent; skipping (not an error)"; exit 0; }; \
	$(BIN)/python docs/experiments/yardsticks.py previous views=global,flip && \
	$(BIN)/python docs/experiments/yardsticks.py $(RECIPE_NAME) $(RECIPE) && \
	$(BIN)/python docs/experiments/yardsticks.py table runs/yardsticks.jsonl

# BENCH_ARGS takes --quick, --stage decode,model, --model PATH, --pairs N, --json FILE, ...
BENCH_ARGS ?=

.PHONY: bench
bench: install  ## time every stage against its limit and the usual way (BENCH_ARGS=--quick); see bench/RESULTS.md
	$(BIN)/python -m bench $(BENCH_ARGS)

.PHONY: man
# The page is committed and installed with the package (setup.cfg, data_files); rebuild it whenever
# a command's options change: tests/install/test_man_page.py fails until it matches the parser.
# COLUMNS is fixed because argparse wraps the usage lines to the terminal's width.
man: install  ## rebuild the manual page man/painter-match.1 from the real parser (committed; shipped in the wheel)
	@mkdir -p man
	COLUMNS=80 $(BIN)/argparse-manpage --module painter_match.cli --function get_parser --project-name painter-match \
		--prog painter-match --version "$$($(BIN)/python -c 'import painter_match; print(painter_match.__version__)')" \
		--description "decide whether two paintings share an artist" --manual-title "painter-match manual" \
		--output man/painter-match.1
	@echo "wrote man/painter-match.1 (read it with: man ./man/painter-match.1)"

.PHONY: report-check
report-check: install  ## open each HTML report in headless Chromium, check it is not blank; screenshots -> docs/
	@test -x /usr/bin/chromium || { echo "make report-check: needs /usr/bin/chromium (apt-get install chromium)" >&2; exit 1; }
	REPORT_SCREENSHOTS=docs $(BIN)/python -m pytest -q --run-slow tests/evaluation/test_html_screenshots.py

clean:  ## remove the generated data, runs and models (keeps .venv and the committed man page)
	rm -rf data runs models .pytest_cache .ruff_cache .mypy_cache
