# All set-up goes through here; CI (.ci/run) and the README use these targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
WORLD ?= data/world
WORLD_SEED ?= 0
# the audio encoder of the demo world and of the app's uploads (docs/encoders.md)
ENCODER ?= musicnn+librosa
RUNS ?= runs
BUNDLE ?= assets/demo
REPORTS ?= reports
# where make world exports the 80 prototype clips (another seed: elsewhere, not the shipped)
CLIPS ?= assets/prototypes

.PHONY: help setup system venv test test-fast lint world report bundle tune-steering apron apron-bundle baselines \
	sweep ablations variants hidden missing-tags benchmark msd clean

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
	$(PY) -m training.build_world --output $(WORLD) --seed $(WORLD_SEED) \
	  --encoder $(ENCODER) --prototypes-dir $(CLIPS)

report: venv  ## print and save the world's checks
	$(PY) -m training.world_report --data $(WORLD)

# The shipped model: grounded steering (apron_core/steering.py) on the RecVAE base of
# `make baselines` (trained here first if missing; it reads plays only, so the same split
# gives the same base whatever the audio encoder).
SHIPPED_LABEL = grounded steering (RecVAE base)
bundle: venv $(RUNS)/recvae/config.json  ## train the shipped model into $(BUNDLE)
	$(PY) -m training.train --data $(WORLD) --model grounded-steering --base $(RUNS)/recvae \
	  --label "$(SHIPPED_LABEL)" --output $(BUNDLE)

BASES = $(RUNS)/recvae/config.json $(RUNS)/ease/config.json  # the bases grounded steering reuses
$(RUNS)/recvae/config.json:
	$(PY) -m training.train --data $(WORLD) --model recvae --output $(RUNS)/recvae \
	  --set epochs=25 --set patience=5
$(RUNS)/ease/config.json:
	$(PY) -m training.train --data $(WORLD) --model ease --output $(RUNS)/ease

# β and the base mix of `make bundle`, chosen on the validation users (grounding refit once,
# then ~5 min per β on 2 idle cores): $(REPORTS)/steering_tuning.md.
tune-steering: venv $(BASES)  ## choose grounded steering's β and base mix
	$(PY) -m training.tune_steering --data $(WORLD) --runs $(RUNS) --out $(REPORTS)

# The paper's APRON, shipped beside the demo for comparison (`python app.py --bundle
# assets/apron`; the engine's APRON tests run on it).
APRON_BUNDLE ?= assets/apron
apron-bundle: venv  ## the paper's APRON with its test figures → $(APRON_BUNDLE)
	$(PY) -m training.train --data $(WORLD) --label APRON --output $(APRON_BUNDLE)

apron: venv  ## the paper's APRON, default settings, into $(RUNS)/apron (~8 min on 2 idle cores)
	$(PY) -m training.train --data $(WORLD) --label APRON --no-eval --output $(RUNS)/apron

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

# The ablations the paper and its reviewers ask for, each one APRON run under one epoch cap
# (early stopping inside it); reference = the defaults under that cap. 10 epochs fit a
# shared 2-core machine; raise ABLATION_EPOCHS on an idle one.
ABLATION_EPOCHS ?= 10
ABLATE = $(PY) -m training.train --data $(WORLD) --no-eval --set epochs=$(ABLATION_EPOCHS)
ablations: venv  ## APRON ablations into $(RUNS)/ablations (8 runs of ~1-2 min on 2 idle cores)
	$(ABLATE) --output $(RUNS)/ablations/reference
	$(ABLATE) --set lambda_control=0 --output $(RUNS)/ablations/lambda_control_0
	$(ABLATE) --set lambda_separation=0 --output $(RUNS)/ablations/lambda_separation_0
	$(ABLATE) --set lambda_control=0 --set lambda_separation=0 --output $(RUNS)/ablations/lambdas_0
	$(ABLATE) --set recon=bce --output $(RUNS)/ablations/bce
	$(ABLATE) --set per_head_profile=true --output $(RUNS)/ablations/per_head_profile
	$(ABLATE) --set trainable_prototypes=true --output $(RUNS)/ablations/trainable_prototypes
	$(ABLATE) --rule most_listened --output $(RUNS)/ablations/paper_prototype_rule

# Models beyond the paper (issue 12) besides the shipped one (`make bundle`): grounded
# steering's parts changed one at a time, and APRON with the edit-consistency term. Each
# grounded-steering variant refits only the grounding (~1 min); the RecVAE and EASE bases
# are those of `make baselines`.
VARIANT = $(PY) -m training.train --data $(WORLD) --no-eval --model grounded-steering
variants: venv $(BASES)  ## models beyond the paper into $(RUNS)/variants
	$(VARIANT) --base $(RUNS)/recvae --set beta=1 --label "grounded steering, β=1" \
	  --output $(RUNS)/variants/gs_beta1
	$(VARIANT) --base $(RUNS)/recvae --set observed=false \
	  --label "grounded steering, audio affinity only" --output $(RUNS)/variants/gs_audio_only
	$(VARIANT) --base $(RUNS)/recvae --set audio=false \
	  --label "RecVAE + log-ratio tag steering (no audio)" --output $(RUNS)/variants/gs_tags_only
	$(VARIANT) --base $(RUNS)/recvae --set renormalization=keep \
	  --label "grounded steering, renormalization kept" --output $(RUNS)/variants/gs_keep_renorm
	$(VARIANT) --base $(RUNS)/ease --set 'bases=["ease"]' \
	  --label "grounded steering (EASE base)" --output $(RUNS)/variants/gs_ease
	$(VARIANT) --base $(RUNS)/recvae --base $(RUNS)/ease --set 'bases=["recvae","ease"]' \
	  --set 'base_weights=[1,$(EASE_WEIGHT)]' \
	  --label "grounded steering (RecVAE + EASE base)" --output $(RUNS)/variants/gs_recvae_ease
	$(PY) -m training.train --data $(WORLD) --no-eval --set lambda_edit=30 \
	  --set epochs=$(EDIT_EPOCHS) --label "APRON + edit consistency ($(EDIT_EPOCHS) epochs)" \
	  --output $(RUNS)/variants/apron_edit
EDIT_EPOCHS ?= $(ABLATION_EPOCHS)
EASE_WEIGHT ?= 0.5

# Missing tags (issue 12, item 3): APRON (under the ablations' epoch cap) and grounded
# steering trained with a share of the observed tags hidden; EASE + tag filter needs no
# training. Evaluation: `make missing-tags`.
HIDE_SHARES ?= 0 0.25 0.5 0.75
hidden: venv $(RUNS)/recvae/config.json  ## models trained with tags hidden → $(RUNS)/hidden
	for s in $(HIDE_SHARES); do \
	  $(PY) -m training.train --data $(WORLD) --no-eval --hide-tags $$s \
	    --set epochs=$(ABLATION_EPOCHS) --output $(RUNS)/hidden/$$s/apron || exit 1; \
	  $(PY) -m training.train --data $(WORLD) --no-eval --hide-tags $$s \
	    --model grounded-steering --base $(RUNS)/recvae --output $(RUNS)/hidden/$$s/steering \
	    || exit 1; done

missing-tags: venv  ## evaluate the hidden-tag models → $(REPORTS)/missing_tags.{md,json,png}
	$(PY) -m training.hide_tags --data $(WORLD) --runs $(RUNS) --shares $(HIDE_SHARES) \
	  --out $(REPORTS)

benchmark: venv  ## evaluate $(BUNDLE) and everything in $(RUNS) → $(REPORTS)/benchmark.*
	$(PY) -m training.evaluate --data $(WORLD) --bundle $(BUNDLE) --runs $(RUNS) --out $(REPORTS)

# Issue 12, item 4: the same commands on a world of another seed, e.g.
#   make world baselines apron bundle benchmark WORLD=data/world_seed1 WORLD_SEED=1 \
#     RUNS=runs/seed1 BUNDLE=runs/seed1/shipped REPORTS=reports/seed1 CLIPS=runs/seed1/clips

msd: venv  ## Million Song Dataset files in data/msd/raw → data/msd/prepared (docs/msd.md)
	$(PY) -m training.prepare_msd --msd-dir data/msd/raw

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
