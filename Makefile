# Two commands set up a fresh machine:  `make run`  and  `make test`.
# TORCH pins the wheel installed first; any torch >= 2.6 works (make TORCH="torch>=2.6").
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.qornn-installed

.PHONY: install run test bench mcu-check clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "$(TORCH)"
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Train HadamRNN on the built-in copy task and print the test loss beside the memoryless baseline.
run: $(STAMP)
	$(VENV)/bin/qornn train --config copy-hadamrnn-quick --out runs/copy-hadamrnn-quick --overwrite

test: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# Integer C on an emulated Cortex-M3 (QEMU), bit for bit against the NumPy reference; installs the ARM
# toolchain and QEMU when missing. MODELS: activation-quantized runs or .qnn files (default: preset shapes).
mcu-check: $(STAMP)
	PYTHON=$(PY) tools/mcu_check.sh $(MODELS)

clean:
	rm -rf $(VENV) runs build .pytest_cache
