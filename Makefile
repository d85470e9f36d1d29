# The two commands of the README: `make run` (a local demo stack) and `make test`.
# `make run` serves an optimised build (PBKDF2 is ~4x slower in a debug build);
# `make run CONFIG=debug` builds faster. Tests always use the debug build.
#
# `make install` and `make deb` build with the Swift runtime linked in statically,
# so the installed binaries need only libc, libhiredis and libfcgi.
CONFIG ?= release
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= /etc/systemd/system
DESTDIR ?=
DIST ?= dist
VERSION ?= 1.1.$(shell git rev-list --count HEAD 2>/dev/null || echo 0)
# SwiftPM's --static-swift-stdlib alone leaves Foundation's static archives
# unresolved (link order); naming them again after the objects completes the link.
STATIC = --static-swift-stdlib $(foreach l,Foundation FoundationInternationalization CoreFoundation \
    FoundationEssentials _FoundationICU _FoundationCShims _FoundationCollections swiftSynchronization \
    dispatch BlocksRuntime swiftCore stdc++,-Xlinker -l$(l))
BIN_DIR = $(shell swift build -c $(CONFIG) --show-bin-path)
# The static binaries (for `make install`, the package and their tests) are built in
# a scratch folder of their own: sharing .build with the ordinary build made each
# rebuild the other, and a static build followed by a test build failed to link.
STATIC_SCRATCH = .build-static
STATIC_BIN_DIR = $(shell swift build -c $(CONFIG) --scratch-path $(STATIC_SCRATCH) --show-bin-path)

.PHONY: build build-static run check lint format test test-e2e test-cluster-e2e test-packaged test-lane2 test-browser test-assertion test-caddy test-apache test-openapi test-cluster test-install test-systemd fuzz bench bench-cpu bench-instructions install deb clean

build:
	swift build -c $(CONFIG)

# With swift-argument-parser's generate-manual, which writes durinctl's man page.
build-static:
	swift build -c $(CONFIG) --scratch-path $(STATIC_SCRATCH) $(STATIC)
	swift build -c $(CONFIG) --scratch-path $(STATIC_SCRATCH) $(STATIC) --product generate-manual

# Redis, durin-fcgi and nginx on 127.0.0.1:$${DURIN_HTTP_PORT:-8080}, with demo data.
run: build
	DURIN_BIN_DIR=$(BIN_DIR) scripts/devstack.sh run

# The quick loop: the unit tests and the store's tests against a redis-server of their
# own, without nginx or the responder (well under a minute after a build).
check: lint
	swift build --build-tests
	swift test --skip-build --skip DurinIntegrationTests

# The code's form, in seconds: swift-format (the toolchain's, with .swift-format) and
# the embedded files of durin's pages (scripts/embed-assets.py). `make format` rewrites the code.
lint:
	swift format lint --strict --recursive Sources Tests Fuzz Package.swift
	scripts/embed-assets.py --check

format:
	swift format format --in-place --recursive Sources Tests Fuzz Package.swift

# The whole suite, its independent parts at once (most of their time is spent waiting
# for servers, failovers and restarts): the unit and end-to-end tests through real
# nginx and Redis, the end-to-end suite against a Redis Cluster, and `make install`
# and the Debian package under a real systemd (needs root). Everything is built first
# (the static binaries for the install and the package in their own scratch folder),
# so no build runs while the tests run. Each part's output is printed whole.
test: lint
	$(MAKE) build-static CONFIG=debug
	swift build --build-tests
	$(MAKE) --output-sync=target -j2 test-e2e test-lane2

# The second lane of `make test`: together about as long as the first (test-e2e), and
# never all of them at once, whose load made a busy 2-core machine's timings slip.
test-lane2:
	$(MAKE) test-cluster-e2e
	$(MAKE) test-packaged
	$(MAKE) test-browser
	$(MAKE) test-caddy
	$(MAKE) test-assertion
	$(MAKE) test-apache
	$(MAKE) test-openapi

# The operator console in Debian's headless Chromium, driven by Selenium from PyPI
# (Tests/browser/run.sh): screenshots of every page in .build/test-output/console/.
test-browser:
	Tests/browser/run.sh

# Identity assertions (X-Durin-Assertion) verified by PyJWT from PyPI in an upstream
# behind nginx, through a key rotation (Tests/assertion/run.sh).
test-assertion:
	Tests/assertion/run.sh

# Caddy 2.6 as a second front (Tests/caddy/run.sh): caddy/Caddyfile.example as
# shipped, forward_auth over FastCGI, in front of a protected upstream.
test-caddy:
	Tests/caddy/run.sh

# Debian's Apache with mod_auth_openidc, configured with the README's own lines, in
# front of introspect/ (Tests/apache/run.sh): a revoked token stops at once.
test-apache:
	Tests/apache/run.sh

# docs/openapi.yaml against the live service (Tests/openapi/run.sh): validated with
# openapi-spec-validator, served as openapi.json, its regression cases replayed, and
# fuzzed through nginx by Schemathesis (both from PyPI, pinned, in .build/openapi-venv).
test-openapi:
	Tests/openapi/run.sh

test-e2e:
	swift test --skip-build

test-cluster-e2e:
	DURIN_TEST_STORE=cluster swift test --skip-build --filter DurinIntegrationTests --skip '$(CLUSTER_SKIP)'

test-packaged: CONFIG = debug
test-packaged:
	DURIN_INSTALL_BIN=$(STATIC_BIN_DIR) Tests/install/run.sh
	scripts/build-deb.sh $(STATIC_BIN_DIR) .build/test-dist $(VERSION) >/dev/null
	Tests/systemd/run.sh .build/test-dist/durin_$(VERSION)_$$(dpkg --print-architecture).deb

# The end-to-end suite once more with a Redis Cluster as the store (three masters and
# three replicas on loopback, shared by the run, each stack under its own key prefix).
# Skipped: the classes about one server or their own Redis (Sentinel, the cluster's own
# tests, layout-1 upgrades, ACL files, systemd units, the import, which needs one server).
CLUSTER_SKIP = SentinelFailoverTests|ClusterTests|SystemdUnitTests|UpgradeTests|RedisACLTests|DjangoImportTests|ImportedIdleTests|RedisClientMemoryTests
test-cluster:
	swift build --build-tests
	$(MAKE) test-cluster-e2e

# `make install` into a temporary DESTDIR (debug build, static runtime).
test-install:
	$(MAKE) build-static CONFIG=debug
	Tests/install/run.sh

# Builds the package from the debug build (the same files, faster to build) and
# runs it under systemd in a private namespace: Tests/systemd/run.sh.
test-systemd:
	$(MAKE) deb CONFIG=debug DIST=.build/test-dist
	Tests/systemd/run.sh .build/test-dist/durin_$(VERSION)_$$(dpkg --print-architecture).deb

# libFuzzer targets (Fuzz/<Name>/main.swift) built with -sanitize=fuzzer,address into
# .build-fuzz/: regression inputs replayed, then FUZZ_RUNS inputs per target from the
# committed seeds, or FUZZ_TIME seconds per target (`make fuzz FUZZ_TIME=600`);
# FUZZ_TARGETS picks targets (`make fuzz FUZZ_TARGETS="JSON RESP"`). See Fuzz/run.sh.
FUZZ_RUNS ?= 20000
FUZZ_TIME ?=
FUZZ_TARGETS ?=
fuzz:
	FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_TIME=$(FUZZ_TIME) Fuzz/run.sh $(FUZZ_TARGETS)

bench:
	bench/run.sh

# CPU time per verify/: durin-fcgi against a C libfcgi + hiredis HMGET responder,
# side by side (bench/cpu.sh prints the ratio); then a check by cookie and one with
# an identity assertion against one by header (bench/browser.sh).
bench-cpu:
	bench/cpu.sh
	bench/browser.sh

# Per verify/, for durin-fcgi and the C reference: user-space instructions
# (callgrind, the same count whatever the machine's load) and system calls (strace).
bench-instructions:
	bench/instructions.sh

# Binaries to $(PREFIX)/bin, units to $(UNITDIR), nginx snippets to
# $(SYSCONFDIR)/nginx/durin/, the example site to $(SYSCONFDIR)/nginx/sites-available/durin
# and, where none exists, $(SYSCONFDIR)/durin/durin.env with a fresh secret.
install: build-static
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" SYSCONFDIR="$(SYSCONFDIR)" UNITDIR="$(UNITDIR)" \
	    scripts/install.sh $(STATIC_BIN_DIR)
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# $(DIST)/durin_$(VERSION)_<arch>.deb
deb: build-static
	scripts/build-deb.sh $(STATIC_BIN_DIR) $(DIST) $(VERSION)

clean:
	rm -rf .build $(STATIC_SCRATCH) .devstack dist
