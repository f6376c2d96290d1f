# Entry points by name. The build itself is CMake (README.md); these only
# run the scripts the README documents.
.PHONY: help bench test quickstart

help:
	@echo "make bench       every benchmark, then one table (bench/run.sh; ~10 minutes, Release build in build-rel)"
	@echo "make test        the test suites, as CI runs them (scripts/test.sh)"
	@echo "make quickstart  a CA and an agent in ./demo (scripts/quickstart.sh)"

bench:
	./bench/run.sh

test:
	./scripts/test.sh

quickstart:
	./scripts/quickstart.sh
