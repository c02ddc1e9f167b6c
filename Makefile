# `make train` and `make test` work on a fresh machine: each creates .venv when missing and
# installs the project into it first, with the exact versions in constraints.txt (what CI tested).
# JAX 0.11 and newer need Python 3.12 or newer. Unless PYTHON names one, the first of python3,
# python3.13, python3.12 and pyenv's installed versions that is new enough creates .venv; a .venv
# made by an older Python is made again.
NEW_ENOUGH := -c 'import sys; sys.exit(sys.version_info < (3, 12))'
ifndef PYTHON
PYTHON := $(shell for p in python3 python3.13 python3.12 \
	$(sort $(wildcard $(HOME)/.pyenv/versions/3.1[2-9]*/bin/python3)); do \
	$$p $(NEW_ENOUGH) 2>/dev/null && { echo $$p; break; }; done)
endif
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LOCK := constraints.txt

.PHONY: install install-compare install-render install-warp train render test test-slow test-warp lint bench bench-train bench-compare reproduce reproduce-panda-gym lock

$(INSTALLED): pyproject.toml $(LOCK)
	@test -n "$(PYTHON)" || { echo "jaxik needs Python 3.12 or newer (for JAX 0.12) and found" \
		"none: install one, or name it with PYTHON=/path/to/python3.12 make ..."; exit 1; }
	$(BIN)/python $(NEW_ENOUGH) 2>/dev/null || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q -c $(LOCK) pip
	$(BIN)/python -m pip install -q -c $(LOCK) -e ".[dev]"
	touch $(INSTALLED)

# Re-resolve constraints.txt: the newest versions pyproject.toml's ranges admit, in a fresh venv.
# setuptools is left out: a venv brings its own, and torch (the compare extra) needs a newer one.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q --upgrade pip
	.lock-venv/bin/python -m pip install -q ".[dev]"
	head -3 $(LOCK) > .lock-new
	.lock-venv/bin/python -m pip freeze --all --exclude-editable | grep -v -e '^jaxik' -e '^setuptools==' >> .lock-new
	mv .lock-new $(LOCK) && rm -rf .lock-venv

install: $(INSTALLED)

train: $(INSTALLED)
	$(BIN)/python train.py --config configs/default.yaml --out runs/default

# A GIF of the policy `make train` learned (python -m jaxik.render; needs OpenGL: EGL or OSMesa).
render: $(INSTALLED)
	$(BIN)/python -m jaxik.render runs/default --out runs/default/rollout.gif

# OpenGL for MuJoCo's offscreen renderer, where this machine's package manager can install it.
install-render:
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y -q libegl1 libgl1 libosmesa6; \
	elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then \
		sudo apt-get install -y -q libegl1 libgl1 libosmesa6; \
	else \
		echo "Install EGL or OSMesa with your system's package manager (Debian/Ubuntu:" \
			"libegl1 libgl1 libosmesa6; Fedora: mesa-libEGL mesa-libOSMesa), then run" \
			"again; MUJOCO_GL=egl or MUJOCO_GL=osmesa picks one. macOS needs nothing."; \
	fi

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Two pytest-xdist workers share the work (and one cache of compiled programs: tests/conftest.py);
# TEST_WORKERS=0 runs the suite in this process, one test after another.
TEST_WORKERS ?= 2

test: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal --durations=15

# Long learning runs on the real Panda (minutes each on the CPU).
test-slow: $(INSTALLED)
	$(BIN)/python -m pytest -m slow -n $(TEST_WORKERS) --dist worksteal --durations=15

# MuJoCo Warp (physics_engine="warp", envs/warp_physics.py): the warp extra, then the tests that
# need it. Here Warp runs its kernels on the CPU, after compiling them for some minutes on a fresh
# machine (its cache: ~/.cache/warp).
install-warp: $(INSTALLED)
	$(BIN)/python -m pip install -q -c $(LOCK) -e ".[warp]"

test-warp: install-warp
	$(BIN)/python -m pytest -m warp tests/test_warp_physics.py

bench: $(INSTALLED)
	$(BIN)/python -m jaxik.bench env

bench-train: $(INSTALLED)
	$(BIN)/python -m jaxik.bench time-to-target

# The optional panda-gym + Stable-Baselines3 side of the benchmarks. torch is pinned to the
# version the comparison was measured with; where the package index serves a CUDA build of it,
# add --index-url https://download.pytorch.org/whl/cpu to get the CPU build instead.
install-compare: $(INSTALLED)
	$(BIN)/python -m pip install -q -c $(LOCK) "torch==2.13.0"
	$(BIN)/python -m pip install -q -c $(LOCK) -e ".[dev,compare]"

bench-compare: install-compare
	$(BIN)/python -m jaxik.bench env --vs-pandagym
	$(BIN)/python -m jaxik.bench time-to-target --vs-pandagym

# DDPG, SAC, TD3 x {sparse, dense} x {HER, no HER}, 3 seeds: about half an hour on 2 CPU cores.
reproduce: $(INSTALLED)
	$(BIN)/python -m jaxik.reproduce paper --out reports/paper

# panda-gym's Reach, Push, Slide and PickAndPlace x DDPG, SAC, TD3 within the budgets
# Stable-Baselines3's zoo gives them, 3 seeds: for a GPU (more than a day on 2 CPU cores).
reproduce-panda-gym: $(INSTALLED)
	$(BIN)/python -m jaxik.reproduce panda-gym --out reports/panda-gym
