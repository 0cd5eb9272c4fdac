# All set-up goes through here; CI (.ci/run) and the README use these targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
WORLD ?= data/world
RUNS ?= runs

.PHONY: help setup system venv test test-fast lint world report bundle baselines sweep ablations \
	benchmark msd clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

setup: system venv  ## everything: Debian packages, then the Python virtualenv

system:  ## Debian packages from packages.txt (runtime) and packages-dev.txt (tests); needs root
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$(grep -hv '^#' packages.txt packages-dev.txt)

venv: $(VENV)/.installed  ## Python virtualenv with runtime + dev requirements

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

test: venv  ## lint, then the whole test suite
	$(PY) -m ruff check .
	$(PY) -c "from apron_core.encoders import warm_up; warm_up()"  # numba cache, once
	$(PY) -m pytest -q -n 2

test-fast: venv  ## tests without the slow ones
	$(PY) -m pytest -q -m "not slow"

lint: venv
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

world: venv  ## build the default demo world into $(WORLD) and export prototype clips
	$(PY) -m training.build_world --output $(WORLD)

report: venv  ## print and save the world's checks
	$(PY) -m training.world_report --data $(WORLD)

bundle: venv  ## train the shipped APRON bundle into assets/demo
	$(PY) -m training.train --data $(WORLD) --output assets/demo

# Epoch caps (early stopping on validation NDCG@100 inside them) that fit a 2-core machine.
baselines: venv  ## train every baseline into $(RUNS)/ (~1 h on 2 cores)
	$(PY) -m training.train --data $(WORLD) --model popularity --output $(RUNS)/popularity
	$(PY) -m training.train --data $(WORLD) --model ease --output $(RUNS)/ease
	$(PY) -m training.train --data $(WORLD) --model mult-vae --output $(RUNS)/mult-vae --set epochs=60
	$(PY) -m training.train --data $(WORLD) --model mult-dae --output $(RUNS)/mult-dae \
	  --set epochs=30 --set patience=8
	$(PY) -m training.train --data $(WORLD) --model recvae --output $(RUNS)/recvae \
	  --set epochs=25 --set patience=5
	$(PY) -m training.train --data $(WORLD) --model macridvae --output $(RUNS)/macridvae \
	  --set epochs=30 --set patience=5
	$(PY) -m training.train --data $(WORLD) --model sem-macridvae --output $(RUNS)/sem-macridvae \
	  --set epochs=30 --set patience=5

LAMBDAS ?= 0 10 30 100
SWEEP_EPOCHS ?= 30
sweep: venv  ## APRON λ_control sweep into $(RUNS)/sweep (for the Pareto plot)
	for l in $(LAMBDAS); do \
	  $(PY) -m training.train --data $(WORLD) --set lambda_control=$$l \
	    --set epochs=$(SWEEP_EPOCHS) --no-eval --output $(RUNS)/sweep/lambda_$$l || exit 1; done

# The ablations the paper and its reviewers ask for, each one APRON run under the same epoch
# cap as the sweep (early stopping inside it); reference = the defaults under that cap.
ABLATION_EPOCHS ?= 30
ABLATE = $(PY) -m training.train --data $(WORLD) --no-eval --set epochs=$(ABLATION_EPOCHS)
ablations: venv  ## APRON ablations into $(RUNS)/ablations (~8 runs of ~3-8 min on 2 idle cores)
	$(ABLATE) --output $(RUNS)/ablations/reference
	$(ABLATE) --set lambda_control=0 --output $(RUNS)/ablations/lambda_control_0
	$(ABLATE) --set lambda_separation=0 --output $(RUNS)/ablations/lambda_separation_0
	$(ABLATE) --set lambda_control=0 --set lambda_separation=0 --output $(RUNS)/ablations/lambdas_0
	$(ABLATE) --set recon=bce --output $(RUNS)/ablations/bce
	$(ABLATE) --set per_head_profile=true --output $(RUNS)/ablations/per_head_profile
	$(ABLATE) --set trainable_prototypes=true --output $(RUNS)/ablations/trainable_prototypes
	$(ABLATE) --rule most_listened --output $(RUNS)/ablations/paper_prototype_rule

benchmark: venv  ## evaluate the bundle, baselines and sweep → reports/benchmark.md
	$(PY) -m training.evaluate --data $(WORLD) --bundle assets/demo --runs runs

msd: venv  ## Million Song Dataset files in data/msd/raw → data/msd/prepared (docs/msd.md)
	$(PY) -m training.prepare_msd --msd-dir data/msd/raw

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
