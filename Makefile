# Makefile: build, test (with the real parts), lint, bench, dist and demo for codex-auth.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
LDFLAGS := -X main.version=$(VERSION)

CACHE := $(CURDIR)/.cache
CODEX_BIN ?= $(CACHE)/npm/node_modules/.bin/codex
STATICCHECK := $(CACHE)/bin/staticcheck

# Fuzz targets run briefly by make test, as package:FuzzName.
FUZZ_TARGETS := ./store:FuzzParseRecord ./store:FuzzLoadConfig ./store:FuzzParseIDToken ./rpc:FuzzStream
FUZZTIME ?= 5s

# Per test binary; keeps a hung test from eating the whole CI budget.
TEST_TIMEOUT ?= 5m

# Release matrix for make dist.
DIST_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

.PHONY: all build deps test unit fuzz lint bench dist demo clean distclean

all: build

## build: bin/codex-auth, stamped with VERSION
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/codex-auth ./cmd/codex-auth

## deps: install what the tests need (Debian packages as root, Codex CLI, staticcheck)
deps:
	scripts/deps.sh

## test: deps, the whole suite with the real parts required, short fuzz runs, lint
test: deps
	$(MAKE) --no-print-directory unit fuzz lint

# unit: go test with the real keyring, Codex CLI and Neovim (missing ones fail).
unit:
	CODEX_AUTH_REAL_PARTS=required CODEX_BIN="$(CODEX_BIN)" \
		scripts/with-keyring.sh $(GO) test -race -count=1 -timeout=$(TEST_TIMEOUT) ./...

fuzz:
	for target in $(FUZZ_TARGETS); do \
		pkg="$${target%%:*}"; name="$${target##*:}"; \
		echo "fuzz: $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) "$$pkg"; \
	done

## lint: gofmt, go vet, staticcheck, go mod tidy leaves no diff
lint:
	@test -x "$(STATICCHECK)" || { echo "lint: $(STATICCHECK) missing: run scripts/deps.sh" >&2; exit 1; }
	@files="$$(find . -name '*.go' -not -path './.cache/*' -not -path '*/node_modules/*' -not -path '*/testdata/*' | xargs gofmt -l)"; \
		if [[ -n "$$files" ]]; then echo "lint: not gofmt'ed:" >&2; echo "$$files" >&2; exit 1; fi
	$(GO) vet ./...
	"$(STATICCHECK)" ./...
	$(GO) mod tidy -diff

## bench: Go benchmarks, then every bench/*/ program (against bin/codex-auth and the pinned Codex CLI)
bench: deps build
	$(GO) test -run='^$$' -bench=. ./...
	for dir in bench/*/; do \
		if [[ -f "$$dir/main.go" ]]; then \
			echo "bench: $$dir"; \
			CODEX_BIN="$(CODEX_BIN)" CODEX_AUTH_BIN="$(CURDIR)/bin/codex-auth" \
				scripts/with-keyring.sh $(GO) run "./$$dir"; \
		fi; \
	done

## dist: CGO-free binaries for every platform in dist/, with SHA256SUMS
dist:
	rm -rf dist && mkdir -p dist
	for platform in $(DIST_PLATFORMS); do \
		os="$${platform%/*}"; arch="$${platform#*/}"; ext=""; \
		if [[ "$$os" == windows ]]; then ext=.exe; fi; \
		echo "dist: codex-auth-$$os-$$arch$$ext"; \
		CGO_ENABLED=0 GOOS="$$os" GOARCH="$$arch" $(GO) build -trimpath \
			-ldflags "-s -w $(LDFLAGS)" -o "dist/codex-auth-$$os-$$arch$$ext" ./cmd/codex-auth; \
	done
	cd dist && if command -v sha256sum >/dev/null; then sha256sum codex-auth-*; else shasum -a 256 codex-auth-*; fi > SHA256SUMS
	cat dist/SHA256SUMS

## demo: a real editor session against the bundled local issuer (browser login, status, token, logout)
demo: build
	$(GO) run ./internal/demo -bin bin/codex-auth

## clean: remove build output (bin/, dist/)
clean:
	rm -rf bin dist

## distclean: clean, and remove the installed test tools (.cache/)
distclean: clean
	rm -rf .cache
