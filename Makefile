# The two commands a newcomer runs: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

help:
	@echo "make demo          bring the test bed up and run the action on examples/hello"
	@echo "make test          bring the test bed up, then run every test"
	@echo "make testbed-up    install and start the test bed (idempotent)"
	@echo "make testbed-down  stop what testbed-up started (caches kept)"
	@echo "make bench         the action against the seed recipe (BENCH_QUICK=1: short)"

# `npm ci` refuses this lock file here: the npm registry this machine reaches
# answers 404 for unrs-resolver's bindings of other platforms, so they cannot
# be locked. `npm install` installs the locked versions all the same.
node_modules: package.json package-lock.json
	npm install --no-audit --no-fund
	@touch node_modules

testbed-up:
	bash testbed/up.sh

testbed-down:
	bash testbed/down.sh

build: node_modules
	npm run build

# dist/ is committed; CI fails when a rebuild changes it.
check-dist: build
	@git diff --exit-code --stat -- dist/ || { echo "dist/ is stale: run 'make build' and commit dist/"; exit 1; }
	@[ -z "$$(git status --porcelain --untracked-files=all -- dist/)" ] || { git status --short -- dist/; echo "dist/ has files git does not track: run 'make build' and commit dist/"; exit 1; }

# Formatting, eslint, actionlint on every workflow, and the reusable
# workflow's reference to the action (@main on main; see CONTRIBUTING.md).
lint: node_modules actionlint
	npm run format:check
	npm run lint
	node scripts/release.mjs check

# The README's inputs/outputs tables are generated from action.yml.
check-docs: node_modules
	npm run docs:check

RESULTS := .testbed/results

unit: node_modules
	mkdir -p $(RESULTS)
	npm run test:unit -- --coverage --json --outputFile=$(RESULTS)/unit.json

e2e: node_modules testbed-up
	mkdir -p $(RESULTS)
	source .testbed/env && npm run test:e2e -- --json --outputFile=$(RESULTS)/e2e.json

test: node_modules testbed-up lint actionlint check-dist check-docs unit e2e campaign
	@node scripts/test-summary.mjs $(RESULTS)/unit.json $(RESULTS)/e2e.json

# The fault campaign (scripts/fault-campaign.mjs) in its short form: 5 runs of
# build + scan + promote at 20% faults, 3 at a time (the runs spend most of
# their time in retry back-offs, so they overlap well on 2 cores); prints how
# many succeeded and fails when a run broke the promise (a tag left, a
# half-done promotion). The long form is `CAMPAIGN_RUNS=20 make campaign`.
CAMPAIGN_RUNS ?= 5
CAMPAIGN_PARALLEL ?= 3
campaign: node_modules testbed-up build
	mkdir -p $(RESULTS)
	set -o pipefail; source .testbed/env && CAMPAIGN_RUNS=$(CAMPAIGN_RUNS) CAMPAIGN_PARALLEL=$(CAMPAIGN_PARALLEL) node scripts/fault-campaign.mjs | tee $(RESULTS)/campaign.txt

# actionlint (pinned in testbed/versions.env, built once into the test bed's
# cache) with Debian's shellcheck for run: scripts, on every workflow file.
ACTIONLINT_FILES = $(wildcard .github/workflows/*.yml .github/workflows/*.yaml examples/workflows/*.yml examples/workflows/*.yaml)
actionlint:
	@bash testbed/build-tools.sh actionlint
	@command -v shellcheck >/dev/null || { echo "actionlint: shellcheck is not installed: run 'make testbed-up'"; exit 1; }
	.testbed/bin/actionlint -shellcheck=shellcheck $(ACTIONLINT_FILES)

# The benchmark: the action against the seed recipe and the critical path on
# this machine (BENCH_ROUNDS=3; BENCH_QUICK=1 for one short round). Needs the
# test bed up (make testbed-up) and dist/ current.
bench: node_modules
	source .testbed/env && node scripts/bench.mjs

demo: node_modules testbed-up
	source .testbed/env && node scripts/demo.mjs

.PHONY: help testbed-up testbed-down lint build check-dist check-docs unit e2e test demo actionlint bench
