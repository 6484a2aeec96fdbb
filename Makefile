# Makefile: build, test (with the real parts), lint, bench, dist and demo for codex-auth.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
LDFLAGS := -X main.version=$(VERSION)

CACHE := $(CURDIR)/.cache
CODEX_BIN ?= $(CACHE)/npm/node_modules/.bin/codex
STATICCHECK := $(CACHE)/bin/staticcheck

# The pinned tool versions (CODEX_VERSION, FUZZ_GO_TOOLCHAIN, ...).
include scripts/versions.env

# Fuzz targets, as package:FuzzName: make fuzz runs each for FUZZTIME,
# make test for TEST_FUZZTIME.
FUZZ_TARGETS := ./store:FuzzParseRecord ./store:FuzzLoadConfig ./store:FuzzParseIDToken ./rpc:FuzzStream \
	./store:FuzzParseSecrets ./store:FuzzParseAgentIdentity ./store:FuzzParseSavedIndex ./rpc:FuzzDispatch \
	./session/openai:FuzzIssuerAnswers ./session/loopback:FuzzCallback ./session/oidc:FuzzProviderAnswers
FUZZTIME ?= 60s
TEST_FUZZTIME ?= 5s
# Fuzzing runs on Go 1.27 (scripts/versions.env says why); the tests and
# builds on the machine's Go.
FUZZ_GO ?= GOTOOLCHAIN=$(FUZZ_GO_TOOLCHAIN) $(GO)

# Per test binary; keeps a hung test from eating the whole CI budget.
TEST_TIMEOUT ?= 5m

# Release matrix for make dist.
DIST_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

# The editor clients' tests run against this binary and the pinned Codex CLI.
CODEX_AUTH_BIN := $(CURDIR)/bin/codex-auth
CLIENT_ENV := CODEX_AUTH_REAL_PARTS=required CODEX_AUTH_BIN="$(CODEX_AUTH_BIN)" CODEX_BIN="$(CODEX_BIN)"
NPM_CACHE := $(CACHE)/npm-cache
MAVEN_REPO := $(CACHE)/m2
MVN := mvn -B -q -Dmaven.repo.local=$(MAVEN_REPO)
TIMED := scripts/timed.sh

.PHONY: all build deps test unit clients test-vscode test-nvim test-jetbrains fuzz lint bench dist vsix demo clean distclean

all: build

## build: bin/codex-auth, stamped with VERSION
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/codex-auth ./cmd/codex-auth

## deps: install what the tests need (Debian packages as root, Codex CLI, staticcheck)
deps:
	scripts/deps.sh

## test: deps, the whole suite with the real parts required (Go, then the editor clients), short fuzz runs, lint
test: deps
	@rm -f .cache/suite-times
	$(TIMED) go $(MAKE) --no-print-directory unit
	$(TIMED) clients $(MAKE) --no-print-directory clients
	$(TIMED) fuzz $(MAKE) --no-print-directory fuzz FUZZTIME=$(TEST_FUZZTIME)
	$(TIMED) lint $(MAKE) --no-print-directory lint
	@cat .cache/suite-times 2>/dev/null || true

# unit: go test with the real keyring, Codex CLI and Neovim (missing ones fail).
# The encrypted secret storage tests (build tag agesecrets) are a test binary
# of their own, without -race: every file Codex writes costs one scrypt
# decryption at its work factor (3-5 s and 1 GiB here; tens of times that
# under the race detector). Budget: $(AGE_TEST_TIMEOUT) for the lot (about
# 30 s measured); the e2e test also fails itself beyond 90 s.
AGE_TEST_TIMEOUT ?= 3m
unit:
	CODEX_AUTH_REAL_PARTS=required CODEX_BIN="$(CODEX_BIN)" \
		scripts/with-keyring.sh $(GO) test -race -count=1 -timeout=$(TEST_TIMEOUT) ./...
	CODEX_AUTH_REAL_PARTS=required CODEX_BIN="$(CODEX_BIN)" \
		scripts/with-keyring.sh $(GO) test -tags agesecrets -count=1 -timeout=$(AGE_TEST_TIMEOUT) -run '^TestSecret' ./store ./internal/e2e

# The leak scan: with CODEX_AUTH_SCAN_DIR set, each client suite saves into
# a folder of its own there every log it, its sidecars and its tests wrote,
# the secrets its tests typed in, and its issuers' ledgers of every secret
# they handled; internal/leakscan then looks for every secret in every log.
SCAN_DIR := $(CACHE)/scan
SCAN_CLIENTS := vscode,nvim,jetbrains
comma := ,

## clients: the editor clients' tests against bin/codex-auth, the local issuer and the real Codex CLI, then the leak scan of all their output
clients: build
	rm -rf "$(SCAN_DIR)"
	for c in $(subst $(comma), ,$(SCAN_CLIENTS)); do mkdir -p -m 700 "$(SCAN_DIR)/$$c"; done
	$(TIMED) vscode env CODEX_AUTH_SCAN_DIR="$(SCAN_DIR)" $(MAKE) --no-print-directory test-vscode 2>&1 | tee "$(SCAN_DIR)/vscode/test-output.log"
	$(TIMED) nvim env CODEX_AUTH_SCAN_DIR="$(SCAN_DIR)" $(MAKE) --no-print-directory test-nvim 2>&1 | tee "$(SCAN_DIR)/nvim/test-output.log"
	$(TIMED) jetbrains env CODEX_AUTH_SCAN_DIR="$(SCAN_DIR)" $(MAKE) --no-print-directory test-jetbrains 2>&1 | tee "$(SCAN_DIR)/jetbrains/test-output.log"
	for r in surefire-reports failsafe-reports; do \
		if [[ -d extension/jetbrains/target/$$r ]]; then cp -r extension/jetbrains/target/$$r "$(SCAN_DIR)/jetbrains/"; fi; \
	done
	$(TIMED) leakscan $(GO) run ./internal/leakscan -dir "$(SCAN_DIR)" -clients $(SCAN_CLIENTS)

# npm packages from the committed package-lock.json into the project's cache.
test-vscode: build
	cd extension/vscode && npm ci --cache "$(NPM_CACHE)" --prefer-offline --no-audit --no-fund --loglevel=error
	cd extension/vscode && npm run --silent build
	cd extension/vscode && $(CLIENT_ENV) npm test

# Headless Neovim (Debian's 0.7), always under timeout.
test-nvim: build
	$(CLIENT_ENV) extension/nvim/test/run.sh

# Maven's local repository inside the project's cache.
test-jetbrains: build
	$(CLIENT_ENV) $(MVN) -f extension/jetbrains/pom.xml verify

## fuzz: every fuzz target for FUZZTIME (60s) on Go $(FUZZ_GO_TOOLCHAIN); a crash leaves its input in testdata/fuzz/
fuzz:
	for target in $(FUZZ_TARGETS); do \
		pkg="$${target%%:*}"; name="$${target##*:}"; \
		echo "fuzz: $$name in $$pkg for $(FUZZTIME)"; \
		$(FUZZ_GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) "$$pkg"; \
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
	@echo "bench: BenchmarkSecretsDecrypt is what one change of secrets/codex_auth.age costs codex-auth (one decryption; Codex writes work factor 20, codex-auth 10; nothing is decrypted while the file is unchanged)"
	$(GO) test -run='^$$' -bench=. ./...
	for dir in bench/*/; do \
		if [[ -f "$$dir/main.go" ]]; then \
			echo "bench: $$dir"; \
			CODEX_BIN="$(CODEX_BIN)" CODEX_AUTH_BIN="$(CURDIR)/bin/codex-auth" \
				scripts/with-keyring.sh $(GO) run "./$$dir"; \
		fi; \
	done
	echo "bench: extension/vscode (activation to the first getSessions answer)"
	cd extension/vscode && npm ci --cache "$(NPM_CACHE)" --prefer-offline --no-audit --no-fund --loglevel=error && npm run --silent build
	cd extension/vscode && $(CLIENT_ENV) npm run --silent bench
	echo "bench: extension/nvim (plugin load and first status())"
	$(CLIENT_ENV) extension/nvim/test/bench.sh

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

## vsix: one platform-specific VS Code extension per dist/ binary (bin/codex-auth[.exe] inside), as dist/codex-auth-<target>.vsix
vsix: dist
	cd extension/vscode && npm ci --cache "$(NPM_CACHE)" --prefer-offline --no-audit --no-fund --loglevel=error
	cd extension/vscode && npm run --silent build
	for platform in $(DIST_PLATFORMS); do \
		os="$${platform%/*}"; arch="$${platform#*/}"; ext=""; vos="$$os"; varch="$$arch"; \
		if [[ "$$os" == windows ]]; then ext=.exe; vos=win32; fi; \
		if [[ "$$arch" == amd64 ]]; then varch=x64; fi; \
		echo "vsix: codex-auth-$$vos-$$varch.vsix"; \
		node extension/vscode/scripts/package.mjs --target "$$vos-$$varch" \
			--binary "dist/codex-auth-$$os-$$arch$$ext" --out "dist/codex-auth-$$vos-$$varch.vsix"; \
	done

## demo: a real editor session against the bundled local issuer (browser login, status, token, logout)
demo: build
	$(GO) run ./internal/demo -bin bin/codex-auth

## clean: remove build output (bin/, dist/)
clean:
	rm -rf bin dist

## distclean: clean, and remove the installed test tools (.cache/)
distclean: clean
	rm -rf .cache
