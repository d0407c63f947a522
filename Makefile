# edgemesh — build, run and test. `make run` and `make test` install Deno when it is missing.
SHELL := /bin/bash
DENO_VERSION := 2.9.6
DENO ?= $(shell command -v deno 2>/dev/null || echo node_modules/.bin/deno)

.PHONY: deps run test check test-unit fmt

deps: ## Install Deno $(DENO_VERSION) from npm when no deno is on PATH
	@if ! command -v deno >/dev/null 2>&1 && [ ! -x node_modules/.bin/deno ]; then \
		echo "Installing deno@$(DENO_VERSION) from npm"; \
		npm install --no-save --no-audit --no-fund deno@$(DENO_VERSION); \
	fi
	@$(DENO) --version | head -1

check: deps ## fmt --check, lint, type check
	$(DENO) fmt --check
	$(DENO) lint
	$(DENO) check main.ts lib/ tests/

test: check ## Everything: static checks and all tests
	$(DENO) test --allow-all --unstable-net tests/

fmt: deps
	$(DENO) fmt
