# perftest: the two commands a new user needs are `make run` and `make test`.
CARGO ?= cargo
URL ?= https://www.google.com
ARGS ?= -n 5 -d 1 $(URL)
PREFIX ?= /usr/local
IMAGE ?= perftest
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

.PHONY: all build release run test test-deps lint fmt install docker bench-accuracy bench clean

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

# Build and run the main job: the classic command line against $(URL).
run:
	$(CARGO) run --release -- $(ARGS)

# Everything the tests need (moto's server for CloudWatch), then every test.
test: test-deps
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		echo "cargo-nextest not found; using cargo test"; \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

test-deps:
	@./tests/setup-deps.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

install: release
	install -D -m 0755 target/release/perftest $(DESTDIR)$(PREFIX)/bin/perftest

docker:
	docker build -t $(IMAGE):$(VERSION) -t $(IMAGE):latest .

# Phase accuracy against injected delays, side by side with curl (root: network namespace).
bench-accuracy:
	./bench/accuracy

# The benchmark suite against curl, wrk, hey, oha and k6 (root; about 25 minutes).
bench:
	./bench/suite

clean:
	$(CARGO) clean
