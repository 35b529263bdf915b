# musicnet-ldm: `make smoke` installs and runs the smoke preset; `make test` runs every test.
# Both set themselves up idempotently in .venv (Debian/Ubuntu + Python >= 3.10).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PRESET ?= smoke
# pinned first so that no later requirement pulls another torch (CPU wheel here, CUDA build on a GPU box)
TORCH  ?= torch==2.13.0
SOUNDFONT_PKGS := libfluidsynth3 timgm6mb-soundfont
# headless Debian chromium drives the listening-test page in tests/test_listening.py (playwright uses it, downloads nothing)
BROWSER_PKGS := chromium

.PHONY: install sysdeps smoke reproduce test test-fast nbtest pytest sync-check clean-nbs bench outputs

install: $(VENV)/.installed

$(VENV)/.installed: setup.py settings.ini
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[dev,transcribe,clap]"
	$(BIN)/pip install -q --no-deps basic-pitch==0.4.0   # its deps would pull TensorFlow and numpy<2; it runs on onnxruntime
	# laion-clap pins numpy<2 and old transformers: its model code (clap_module) needs only these; fadtk (FAD reference code,
	# compared in tests/test_clap_fadtk.py) would pull torchaudio/torchvision builds that do not match torch 2.13
	$(BIN)/pip install -q --no-deps laion-clap==1.1.7 torchlibrosa==0.1.0 ftfy==6.3.1 h5py==3.16.0 fadtk==1.1.0 hypy-utils==1.0.29
	@touch $@

# FluidSynth + a General MIDI SoundFont render the synthetic MusicNet fixture; Chromium runs the listening page's test
sysdeps:
	@if ! ldconfig -p 2>/dev/null | grep -q libfluidsynth || ! ls /usr/share/sounds/sf2/*.sf2 >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then (apt-get install -y -q $(SOUNDFONT_PKGS) || (apt-get update -q && apt-get install -y -q $(SOUNDFONT_PKGS))) >/dev/null; \
	  else echo "Install FluidSynth and a GM SoundFont: sudo apt-get install $(SOUNDFONT_PKGS)"; exit 1; fi; fi
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then (apt-get install -y -q $(BROWSER_PKGS) || (apt-get update -q && apt-get install -y -q $(BROWSER_PKGS))) >/dev/null; \
	  else echo "Install Chromium for the listening-test browser test: sudo apt-get install $(BROWSER_PKGS)"; exit 1; fi; fi

smoke reproduce: install sysdeps
	HF_HUB_OFFLINE=$${HF_HUB_OFFLINE:-0} $(BIN)/python -m musicnet_ldm.reproduce --preset $(PRESET)

# the notebooks must be exported and clean as committed (the notebooks are the source)
sync-check: install
	@before=$$(git status --porcelain); $(BIN)/nbdev_export && $(BIN)/nbdev_clean && $(BIN)/python tools/readme.py; after=$$(git status --porcelain); \
	if [ "$$before" != "$$after" ]; then echo "nbdev_export/nbdev_clean changed files:"; git status --short; exit 1; fi

# one BLAS/torch thread per process: two workers × two threads on two cores runs the tiny models many times slower;
# every notebook's tests run here; a smoke run executes only the stage cells (reproduce.stage_cells)
nbtest: install sysdeps
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2

# two workers, one file each at a time (module fixtures run once; the DDP tests pick free ports), in conftest's order
pytest: install sysdeps
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=25 tests

test: sync-check nbtest pytest

# contributors' check (under 2 minutes on 2 cores): the tests not marked `slow` (tests/conftest.py), no notebooks and no
# sync-check; `make test` (CI) runs all of them
test-fast: install sysdeps
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder \
	  -m "not slow" --strict-markers --durations=10 tests

bench: install sysdeps
	HF_HUB_OFFLINE=1 $(BIN)/python -m musicnet_ldm.bench

# run every notebook as nbdev_test does and keep the outputs of its cells (skipping `#| eval: false`), then clean
outputs: install sysdeps
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 $(BIN)/python tools/keep_outputs.py $(NBS) && $(BIN)/nbdev_clean
