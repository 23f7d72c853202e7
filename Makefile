.PHONY: demo test bench lint

demo:  ## set up and run the demo on the embedded default (http://127.0.0.1:5000)
	bash scripts/demo.sh

test:  ## set up and run every test (installs system packages, starts PostgreSQL and Redis)
	bash scripts/test.sh

bench:  ## run the benchmarks and write bench/results/
	uv run python -m bench

lint:
	uv run ruff check . && uv run ruff format --check . && uv run lint-imports
