# lutcli: make demo | make test | make bench | make lint | make install
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0

.PHONY: install system-deps demo test bench bench-cluster bench-scale lint presets clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The CPU build of torch goes in first, so the package's torch range is already met and pip
# does not pull a multi-GB CUDA build.
install: $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[test]'

# ffmpeg is a test reference (the exported .cube must load in its lut3d filter) and a demo tool.
system-deps:
	@command -v ffmpeg >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; \
	  else echo "ffmpeg is missing: install it (apt-get install ffmpeg)"; exit 1; fi; }

demo: install system-deps
	$(BIN)/python scripts/demo.py

# Rebuild the shipped looks in presets/ from presets/looks.json (auto trains for a few minutes).
presets: install system-deps
	$(BIN)/python scripts/make_presets.py

# First the wheel smoke test: the wheel built here, installed with $(TORCH) into a fresh venv
# and run from an empty folder (scripts/smoke_wheel.py, about 2 minutes); a broken package fails
# fast. Then the suite, whose closing line ends the output. With CI=true a skipped test fails,
# except `gpu` tests where torch sees no CUDA GPU (tests/conftest.py); no test run fails too.
# The suite runs on every core (pytest-xdist), the long trainings on real photos first and the
# quick tests taken by whichever core is free (worksteal); the slowest tests are listed.
test: install system-deps
	$(BIN)/python scripts/smoke_wheel.py $(TORCH)
	$(BIN)/python -m pytest -q -n auto --dist worksteal --durations=10

# Speed side by side with grid_sample, Pillow, ffmpeg and OpenColorIO (bench/speed.py), then
# clips against ffmpeg's lut3d and the flicker of adaptive looks (bench/video.py); prints the
# README's tables and writes bench-output/speed.json and video.json.
bench: install system-deps
	$(BIN)/python bench/speed.py
	$(BIN)/python bench/video.py

# apply --cluster local (2 Dask workers) against plain apply --jobs 2 on 12 MP JPEGs: the
# engine's cost (bench/cluster.py, bench-output/cluster.json).
bench-cluster: install
	$(BIN)/python bench/cluster.py --photos 96 --repeats 2

# Training on a FiveK-shaped job of 200 and 2,000 pairs of 12 MP JPEGs: cache build, peak
# memory, steps/s, unseen PSNR (bench/scale.py, bench-output/scale.json). Making the job's
# 3 GB of photos takes about 45 minutes on 2 cores, the measurements about 15.
bench-scale: install system-deps
	$(BIN)/python bench/scale.py

lint: install
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench

clean:
	rm -rf $(VENV) build demo-output bench-output .pytest_cache src/*.egg-info src/lutcli/kernels/*.so
