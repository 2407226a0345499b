# Blnk Cloud API keys dashboard.
#   make run    build and serve on http://127.0.0.1:8080 (data in ./data)
#   make test   install test dependencies (Chromium, nginx, Caddy), check, run every test
#   make bench  measure the API hot path against the bare handler, then
#               several servers on PostgreSQL (skipped when none answers),
#               then the keys list of a 10,000-key workspace
#   make bench-signin  sign-in storms against the real server
#   make bench-lockout a minute of wrong passwords for the admin: the owner still signs in
#   make bench-simulate 100,000,000 keys on paper: hot sets, hit rate, memory, revocation
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export CGO_ENABLED ?= 0
GO ?= go
BIN := bin/dashboard
HTMX_SHA256 := d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717

.PHONY: help
help:
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/dashboard (pure Go, CGO_ENABLED=0)
	$(GO) build -trimpath -o $(BIN) ./cmd/dashboard

.PHONY: run
run: build ## build and serve the dashboard on http://127.0.0.1:8080
	./$(BIN) serve

.PHONY: generate
generate: ## regenerate templ components (views/*_templ.go)
	$(GO) tool templ generate -path views

.PHONY: test-deps
test-deps: ## install Chromium, nginx, Caddy, the Playwright driver, and PostgreSQL if none runs (idempotent)
	bash e2e/setup.sh
	bash e2e/setup-postgres.sh >/dev/null

# The packages whose tests run against a database, run once per engine.
DB_PKGS := ./db/... ./internal/... ./web/...
# The tests' PostgreSQL (e2e/setup-postgres.sh prints its URL).
PG = export BLNK_TEST_POSTGRES=$$(bash e2e/setup-postgres.sh);

.PHONY: check
check: ## gofmt, go vet, staticcheck, go.mod tidy, generated code up to date, vendored htmx intact
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy and commit"; exit 1; }
	$(GO) tool templ generate -path views >/dev/null
	@git diff --exit-code --stat -- views || { echo "views/*_templ.go are stale: run make generate and commit"; exit 1; }
	@echo "$(HTMX_SHA256)  static/js/htmx-2.0.11.min.js" | sha256sum -c --quiet
	CGO_ENABLED=0 $(GO) build ./...

.PHONY: test
test: test-deps check ## everything: checks, unit, HTTP, gateway and browser tests on SQLite, then the database tests on PostgreSQL (race detector on)
	$(PG) CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 30m ./...
	$(PG) BLNK_TEST_DB=postgres CGO_ENABLED=1 $(GO) test -race -count=1 $(DB_PKGS)

.PHONY: test-unit
test-unit: ## unit and HTTP tests only (no browser, no gateways), on SQLite and on PostgreSQL
	$(PG) CGO_ENABLED=1 $(GO) test -race -count=1 $(DB_PKGS) ./cmd/...
	$(PG) BLNK_TEST_DB=postgres CGO_ENABLED=1 $(GO) test -race -count=1 $(DB_PKGS)

.PHONY: test-gateways
test-gateways: test-deps ## the README's nginx and Caddy configurations, run in front of the dashboard
	$(GO) test -count=1 -v ./e2e/gateways/

.PHONY: test-e2e
test-e2e: test-deps ## browser tests only; screenshots in e2e/artifacts/
	$(GO) test -count=1 -timeout 30m -v ./e2e/

.PHONY: fuzz
fuzz: ## fuzz the key parser for 30 seconds
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./internal/apikey/

# The PostgreSQL server of `make bench`: the tests' one when set, else the
# one this project's machines run. Not started or installed by the bench.
BENCH_POSTGRES ?= $(or $(BLNK_TEST_POSTGRES),postgres://postgres@127.0.0.1:5432/test?sslmode=disable)

.PHONY: bench
bench: ## load-test /api/v1/verify against /healthz on a 100,000-key database, several servers on PostgreSQL, the keys list of a 10,000-key workspace, the management API
	$(GO) test -run '^$$' -bench . -benchmem ./internal/apikey/ ./internal/keyauth/
	$(GO) run ./cmd/bench
	$(GO) run ./cmd/bench -usage
	$(GO) run ./cmd/bench -postgres '$(BENCH_POSTGRES)' -postgres-optional
	$(GO) run ./cmd/bench -list
	$(GO) run ./cmd/bench -mgmt

.PHONY: bench-signin
bench-signin: ## sign-in storms (128, then 2,000 wrong passwords at once): hashes, peak memory, /healthz
	$(GO) run ./cmd/bench -signin

.PHONY: bench-lockout
bench-lockout: ## a minute of wrong passwords for the admin's email from one address: how often the owner still signs in
	$(GO) run ./cmd/bench -lockout

.PHONY: bench-simulate
bench-simulate: ## simulate 100,000,000 keys (scaled down) with a bounded hot set per server: hit rate, memory, revocation guarantee
	$(GO) run ./cmd/bench -simulate

.PHONY: clean
clean:
	rm -rf bin e2e/artifacts
