# perftest: the two commands a new user needs are `make run` and `make test`.
CARGO ?= cargo
URL ?= https://www.google.com
ARGS ?= -n 5 -d 1 $(URL)
PREFIX ?= /usr/local
DOCKER ?= docker
IMAGE ?= perftest
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# build: compile inside the image's build stage; prebuilt: take target/release/perftest.
BINARY ?= build
# The Debian the image's runtime files come from (the Dockerfile's default if empty).
BASE ?=
# make docker-run, as the seed's `gmake run`: where the container says it runs from.
REP_CITY ?= Sunnyvale
REP_COUNTRY ?= US
AWS_REGION ?= us-west-2
NOW = $(shell date +%Y%m%d%H%M)
RAFAY_CLI ?= rafay-cli

.PHONY: all build release standalone run test test-deps lint fmt install install-extras docker docker-run \
	push rafay-push check-image bench-accuracy soak fuzz bench clean

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

# The seed's `gmake standalone`: the local binary, target/release/perftest.
standalone: release
	@echo "built target/release/perftest; try: target/release/perftest -n 5 $(URL)"

# Build and run the main job: the classic command line against $(URL).
run:
	$(CARGO) run --release -- $(ARGS)

# Everything the tests need (moto's server for CloudWatch), then every test.
test: test-deps
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		CARGO_INCREMENTAL=0 $(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		echo "cargo-nextest not found; using cargo test"; \
		CARGO_INCREMENTAL=0 $(CARGO) test --workspace --no-fail-fast; \
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
	$(MAKE) install-extras BIN=target/release/perftest

# The man pages and completions, made by BIN from the same definitions as its --help.
BIN ?= target/release/perftest
install-extras:
	$(BIN) man $(DESTDIR)$(PREFIX)/share/man/man1
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	$(BIN) completions bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/perftest
	$(BIN) completions zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_perftest
	$(BIN) completions fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/perftest.fish

# The image (BuildKit builds only the stages BINARY needs); prebuilt takes target/docker/perftest.
docker: $(if $(filter prebuilt,$(BINARY)),release)
	$(if $(filter prebuilt,$(BINARY)),install -D -s target/release/perftest target/docker/perftest)
	DOCKER_BUILDKIT=1 $(DOCKER) build --build-arg BINARY=$(BINARY) $(if $(BASE),--build-arg BASE=$(BASE)) \
		-t $(IMAGE):$(VERSION) -t $(IMAGE):latest .

# The seed's `gmake run`: build the image, run it with the seed's environment, -n=5 -d=2.
docker-run: docker
	$(DOCKER) run --rm $(shell [ -t 0 ] && echo -it) -e PERFTEST_URL="$(URL)" \
		-e REP_CITY="$(REP_CITY)" -e REP_COUNTRY="$(REP_COUNTRY)" -e AWS_REGION="$(AWS_REGION)" \
		-e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY $(IMAGE):$(VERSION) -n=5 -d=2

# To DockerHub as $(DOCKER_USER)/$(IMAGE):$(VERSION); `docker login --username=$$DOCKER_USER` first.
push: docker
	@test -n "$(DOCKER_USER)" || { echo "make push: set DOCKER_USER (and DOCKER_EMAIL) to your DockerHub account"; exit 2; }
	$(DOCKER) tag $(IMAGE):$(VERSION) "$(DOCKER_USER)/$(IMAGE):$(VERSION)"
	$(DOCKER) tag $(IMAGE):$(VERSION) "$(DOCKER_USER)/$(IMAGE):latest"
	$(DOCKER) push "$(DOCKER_USER)/$(IMAGE):$(VERSION)"
	$(DOCKER) push "$(DOCKER_USER)/$(IMAGE):latest"

# To the Rafay registry, tagged with the time (rafay-cli init first, as the seed's README says).
rafay-push: docker
	$(DOCKER) tag $(IMAGE):$(VERSION) $(IMAGE):$(NOW)
	$(RAFAY_CLI) image upload $(IMAGE):$(NOW)

# The image built and run without a registry, in the bench bed (root; deploy/check-image).
check-image:
	./deploy/check-image

# Phase accuracy against injected delays, side by side with curl (root: network namespace).
bench-accuracy:
	./bench/accuracy

# An hour of the monitor at 100 probes a second in a bed of its own (root; SOAK_SECONDS=180 to try).
soak:
	./bench/soak

# Each fuzz target for FUZZ_SECONDS (cargo-fuzz on stable, so no sanitizer: -s none). fuzz/ is
# a workspace of its own: `make test` never builds it. Grown inputs go to fuzz/corpus/TARGET,
# failures to fuzz/artifacts/TARGET; the seeds (fuzz/seeds, from the tests: fuzz/seeds.py).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= url options thresholds classic json response
fuzz:
	@command -v cargo-fuzz >/dev/null || { echo "make fuzz: needs cargo-fuzz (cargo install cargo-fuzz)"; exit 2; }
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t && \
		echo "fuzz $$t for $(FUZZ_SECONDS) s" && \
		$(CARGO) fuzz run -s none $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 || exit 1; \
	done

# The benchmark suite against curl, wrk, hey, oha and k6 (root; about 25 minutes).
bench:
	./bench/suite

clean:
	$(CARGO) clean
	-$(DOCKER) rmi $(IMAGE):$(VERSION) $(IMAGE):latest 2>/dev/null
