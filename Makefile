# edgemesh — build, run and test. `make run` and `make test` install Deno when it is missing.
# `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
DENO_VERSION := 2.9.6
DENO ?= $(shell command -v deno 2>/dev/null || echo node_modules/.bin/deno)

# Paths the agent may write (see scripts/permissions.ts); override when your config moves them:
#   make run STATE_DIR=/tmp/em RUNTIME_DIR=/tmp/em-run ARGS="--config my.yaml"
STATE_DIR ?= /var/lib/edgemesh
RUNTIME_DIR ?= /run/edgemesh
RESOLV_CONF ?= /etc/resolv.conf
ARGS ?=

# Every TypeScript file the type check covers (bench/ and scripts/ may be empty or absent).
TS_FILES = main.ts $(shell find lib tests bench scripts -name '*.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)
PERMS = $(shell $(DENO) run --no-prompt scripts/permissions.ts --state-dir $(STATE_DIR) --runtime-dir $(RUNTIME_DIR) --resolv-conf $(RESOLV_CONF))
TARGETS := x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu

.PHONY: help deps run check fmt test test-unit test-netns test-arm64 build bench soak demo clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

deps: ## Install Deno 2.9.6 from npm when no deno is on PATH
	@if ! command -v deno >/dev/null 2>&1 && [ ! -x node_modules/.bin/deno ]; then \
		echo "Installing deno@$(DENO_VERSION) from npm"; \
		npm install --no-save --no-audit --no-fund deno@$(DENO_VERSION); \
	fi
	@$(DENO) --version | head -1

run: deps ## Start the agent (built-in defaults; root: creates edge0). ARGS="..." adds flags
	$(DENO) run --no-prompt $(PERMS) main.ts run $(ARGS)

check: deps ## fmt --check, lint, type check of main.ts, lib/, tests/, bench/, scripts/
	$(DENO) fmt --check
	$(DENO) lint
	$(DENO) check $(TS_FILES)

fmt: deps ## Format the sources in place
	$(DENO) fmt

test: check ## check + every test (unit, loopback integration, netns: self-skip when not root)
	$(DENO) test --allow-all --unstable-net tests/ bench/tests/

test-unit: deps ## Tests without network namespaces (quick)
	$(DENO) test --allow-all --unstable-net --ignore=tests/netns tests/

test-netns: deps ## Only the network-namespace tests (root)
	$(DENO) test --allow-all --unstable-net tests/netns/

test-arm64: deps ## Type-check natively, then run the suite with the aarch64 Deno under qemu
	DENO="$(DENO)" bash scripts/test-arm64.sh

build: deps ## deno compile for x86_64 and aarch64 into dist/ (needs Deno's runtime download)
	DENO="$(DENO)" bash scripts/build.sh $(TARGETS)

bench: deps ## Benchmarks (bench/run.sh)
	@if [ -f bench/run.sh ]; then DENO="$(DENO)" bash bench/run.sh; \
	else echo "make bench: bench/run.sh does not exist yet (see issue 7)" >&2; exit 1; fi

soak: deps ## Leak hunt: two agents under churn for SOAK_MINUTES (default 10; root; bench/README.md)
	$(DENO) cache --config deno.json main.ts bench/soak.ts bench/soak/node.ts >/dev/null
	$(DENO) run -A --config deno.json bench/soak.ts

demo: deps ## Two nodes in network namespaces, a service across both, then cleanup (root)
	@if [ -f scripts/demo.sh ]; then DENO="$(DENO)" bash scripts/demo.sh; \
	else echo "make demo: scripts/demo.sh does not exist yet" >&2; exit 1; fi

clean: ## Remove build output and the emulated aarch64 Deno
	rm -rf dist/ .deno/arm64/
