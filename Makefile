# The two commands of the README: `make run` (a local demo stack) and `make test`.
# `make run` serves an optimised build (PBKDF2 is ~4x slower in a debug build);
# `make run CONFIG=debug` builds faster. Tests always use the debug build.
CONFIG ?= release
BIN_DIR = $(shell swift build -c $(CONFIG) --show-bin-path)

.PHONY: build run test bench clean

build:
	swift build -c $(CONFIG)

# Redis, durin-fcgi and nginx on 127.0.0.1:$${DURIN_HTTP_PORT:-8080}, with demo data.
run: build
	DURIN_BIN_DIR=$(BIN_DIR) scripts/devstack.sh run

# The whole suite: unit tests and end-to-end tests through real nginx and Redis.
test:
	swift build --build-tests
	swift test

bench:
	bench/run.sh

clean:
	rm -rf .build .devstack
