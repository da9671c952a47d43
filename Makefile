# Two commands that work on a fresh machine with only Python: `make run`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: run test bench bench-rna bench-rdf bench-prefect lint format schemas clean server serve

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/pana run

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

# Deduplication quality, time and memory at 10k, 100k and 1M records (minutes; not part of test).
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(if $(SIZES),--sizes $(SIZES),)

# RNA loader vs a plain read_csv on a generated ~1.5 M-row Latin-1 file: time and peak memory.
bench-rna: $(STAMP)
	$(BIN)/python -m benchmarks.rna

# RDF outputs and SPARQL at 100k actors (about 2 M triples; a few minutes).
bench-rdf: $(STAMP)
	$(BIN)/python -m benchmarks.rdf

# What Prefect adds to `pana run` on the demo: in-process, against a server, temporary server, Dask.
bench-prefect: $(STAMP)
	$(BIN)/python -m benchmarks.prefect $(if $(RUNS),--runs $(RUNS),)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schemas: $(STAMP)
	$(BIN)/pana schema generate
	$(BIN)/python -m flows.deployments yaml > prefect.yaml

clean:
	rm -rf $(VENV) published/2* published/latest published/versions.json published/work

# Scheduling: a Prefect server on 127.0.0.1, then the deployments served with their schedules.
PREFECT_PORT ?= 4200
server: $(STAMP)
	PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 \
	$(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT) --analytics-off

serve: $(STAMP)
	PREFECT_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api DO_NOT_TRACK=1 \
	$(BIN)/python -m flows.deployments serve $(if $(CATALOG),--catalog "$(CATALOG)") \
	  $(if $(OUT),--out "$(OUT)") $(if $(BUILD_CRON),--build-cron "$(BUILD_CRON)") \
	  $(if $(WATCH),--watch "$(WATCH)")
