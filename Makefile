# Ampere Stream: set-up, services, tests, demo. Everything lands in $(AMPERE_HOME) and is reused.
SHELL := /bin/bash
.DEFAULT_GOAL := help

AMPERE_HOME ?= $(HOME)/.cache/ampere
export AMPERE_HOME
VENV ?= $(AMPERE_HOME)/venv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
AMPERE := $(VENV)/bin/ampere
# The install is redone when pyproject.toml or the checkout folder changes (editable install).
SETUP_STAMP := $(VENV)/.ampere-setup-$(shell (pwd; cat pyproject.toml) | sha1sum | cut -c1-12)
# one line per set-up stage; the full output goes to the log
STEP := bash infra/step.sh
SETUP_LOG := $(AMPERE_HOME)/logs/setup.log

.PHONY: help setup test demo infra-install browser-install infra-up infra-down infra-status lint gpu-check image

# images: one per Dockerfile target, tagged with the package version (the chart's appVersion)
IMAGE_TOOL ?= $(shell command -v docker || command -v podman)
IMAGE_REGISTRY ?= ampere-stream
IMAGE_TAG ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE_TARGETS := worker gateway dashboard

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: $(SETUP_STAMP)  ## venv + package + cached llama.cpp wheel + pinned model weights, once

$(SETUP_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed, got " + sys.version'
	@test -x $(VENV)/bin/python || { echo "creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@$(STEP) "setup: python packages" $(SETUP_LOG) $(VENV)/bin/python -m pip install -q -e '.[dev]'
	@$(STEP) "setup: llama.cpp wheel (built once)" $(SETUP_LOG) bash -c \
	  'wheel="$$(PYTHON=$(VENV)/bin/python bash infra/llamacpp_wheel.sh | tail -n 1)" && $(VENV)/bin/python -m pip install -q "$$wheel"'
	@$(STEP) "setup: llama.cpp server packages" $(SETUP_LOG) \
	  $(VENV)/bin/python -m pip install -q --find-links $(AMPERE_HOME)/wheels -e '.[dev,llm-server]'
	@$(STEP) "setup: encoder weights (sha256-pinned)" $(SETUP_LOG) $(AMPERE) model fetch
	@$(STEP) "setup: summarizer model (sha256-pinned)" $(SETUP_LOG) $(AMPERE) fetch-llm
	@rm -f $(VENV)/.ampere-setup-*
	@touch $@

test: setup infra-install browser-install  ## run the tests (they start a real Kafka broker and a real Weaviate server)
	$(VENV)/bin/pytest -q

demo: setup  ## run the main job on the bundled sample
	$(AMPERE) demo

infra-install: setup  ## fetch/build Kafka jars and weaviate-server into the cache
	$(AMPERE) infra install

browser-install:  ## Debian's chromium + chromium-driver for the browser test (apt, once)
	@$(STEP) "test: chromium + chromium-driver (apt, once)" $(AMPERE_HOME)/logs/setup.log bash infra/browser.sh

infra-up: setup  ## start the local Kafka broker and Weaviate server
	$(AMPERE) infra up

infra-down: setup  ## stop them
	$(AMPERE) infra down

infra-status: setup  ## show what runs
	$(AMPERE) infra status

lint: setup  ## ruff
	$(VENV)/bin/ruff check .

image:  ## build the worker, gateway and dashboard images ($(IMAGE_REGISTRY)/<target>:$(IMAGE_TAG); IMAGE_PUSH=1 pushes)
	@test -n "$(IMAGE_TOOL)" || { echo "make image needs docker or podman on the PATH"; exit 2; }
	@for target in $(IMAGE_TARGETS); do \
	  extras=$$([ $$target = worker ] && echo gpu || echo ""); \
	  echo "image $(IMAGE_REGISTRY)/$$target:$(IMAGE_TAG)"; \
	  $(IMAGE_TOOL) build --target $$target --build-arg AMPERE_EXTRAS=$$extras -t $(IMAGE_REGISTRY)/$$target:$(IMAGE_TAG) . || exit 1; \
	  if [ -n "$(IMAGE_PUSH)" ]; then $(IMAGE_TOOL) push $(IMAGE_REGISTRY)/$$target:$(IMAGE_TAG) || exit 1; fi; \
	done

gpu-check: setup  ## TensorRT parity + throughput vs torch fp16, vLLM summarizer; exit 3 without a CUDA device
	$(VENV)/bin/ampere bench gpu-check --out bench/results
