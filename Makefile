# The README's commands. `make book` builds the book; `make test` is what CI runs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
STAMP  := $(VENV)/.installed
SMOKE  := _smoke
MATHJAX_VERSION := 3.2.2
MATHJAX := _mathjax/_static/mathjax/tex-mml-chtml.js

.PHONY: help setup book test unit notebooks executed smoke-book rendered student stamp clean bench full

help:
	@echo "make book     build the HTML book, executing every chapter in the default profile"
	@echo "make test     unit tests + every notebook (smoke profile, nbmake) + strict book build"
	@echo "make student  write the student edition (no solutions) to student/"
	@echo "make stamp    regenerate each chapter's Colab install cell from helpers/meta.py"
	@echo "make bench    time the training step (baseline vs the engine) and seed batching (5 seeds)"
	@echo "make full     every chapter's experiment at the paper profile, resumable (a datacenter GPU)"

setup: $(STAMP) $(MATHJAX)

# Installs once, again only when the requirements change.
$(STAMP): requirements.txt pyproject.toml
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

book: setup
	$(JB) build . --keep-going
	@echo "Open $(CURDIR)/_build/html/index.html in a browser."

# Each notebook is executed once: nbmake runs a staged copy (in _smoke/: nbmake skips _build/) in the smoke profile and writes
# the outputs into it (--overwrite); `executed` checks those copies (every cell ran, every exercise check passed; the
# student edition is checked on its code, not run again) and the strict build renders them without executing.
test: unit notebooks executed smoke-book rendered

unit: setup
	$(PY) -m pytest tests -q

notebooks: setup
	rm -rf $(SMOKE) && mkdir -p $(SMOKE)
	cp -r book _toc.yml _mathjax $(SMOKE)/
	sed 's/^  execute_notebooks: force$$/  execute_notebooks: "off"/' _config.yml > $(SMOKE)/_config.yml
	grep -q 'execute_notebooks: "off"' $(SMOKE)/_config.yml
	cd $(SMOKE) && BOOK_PROFILE=smoke BOOK_RESULTS_DIR=$(CURDIR)/$(SMOKE)/results \
		$(CURDIR)/$(PY) -m pytest --nbmake --overwrite --nbmake-timeout=600 -q -p no:cacheprovider book

executed: setup
	BOOK_EXECUTED=$(CURDIR)/$(SMOKE)/book $(PY) -m pytest -q -p no:cacheprovider \
		tests/test_student.py::test_executed_copy_ran_every_cell_and_every_check_passed \
		tests/test_alt_text.py::test_every_image_output_has_alt_text

smoke-book: setup
	$(JB) build $(SMOKE) -W -n --keep-going

rendered: setup
	@for nb in book/[0-9]*.ipynb; do \
	  page=$$(basename $$nb .ipynb); \
	  $(PY) scripts/check_rendered_page.py $(SMOKE)/_build/html/book/$$page.html \
	    --screenshot $(SMOKE)/$$page.png || exit 1; \
	done

student: setup
	$(PY) scripts/make_student.py --out student

# Speed of the training pipeline (helpers/bench.py); without CUDA the step table at smoke size and
# the seed-batching rows at Chapter 1's cpu-profile size.
bench: setup
	if $(PY) -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then \
		$(PY) -m helpers.bench; else $(PY) -m helpers.bench --smoke --seeds cpu; fi

# Every chapter's paper-size result (helpers/run.py); skips what is computed, resumes.
full: setup
	$(PY) -m helpers.run all --profile paper

stamp: setup
	$(PY) scripts/stamp_notebooks.py

clean:
	rm -rf _build _smoke student
