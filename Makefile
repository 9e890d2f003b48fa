# The README's commands. `make book` builds the book; `make test` is what CI runs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
STAMP  := $(VENV)/.installed
SMOKE  := _build/smoke
CHAPTER1_HTML := $(SMOKE)/_build/html/book/01-the-puzzle.html

.PHONY: help setup book test unit notebooks smoke-book rendered student stamp clean

help:
	@echo "make book     build the HTML book, executing every chapter in the default profile"
	@echo "make test     unit tests + every notebook (smoke profile, nbmake) + strict book build"
	@echo "make student  write the student edition (no solutions) to student/"
	@echo "make stamp    regenerate each chapter's Colab install cell from helpers/meta.py"

setup: $(STAMP)

# Installs once, again only when the requirements change.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

book: $(STAMP)
	$(JB) build . --keep-going
	@echo "Open $(CURDIR)/_build/html/index.html in a browser."

# Each notebook is executed once: nbmake runs a staged copy in the smoke profile and writes
# the outputs into it (--overwrite); the strict build then renders that copy without executing.
test: unit notebooks smoke-book rendered

unit: $(STAMP)
	$(PY) -m pytest tests -q

notebooks: $(STAMP)
	rm -rf $(SMOKE) && mkdir -p $(SMOKE)
	cp -r book _toc.yml $(SMOKE)/
	sed 's/^  execute_notebooks: force$$/  execute_notebooks: "off"/' _config.yml > $(SMOKE)/_config.yml
	grep -q 'execute_notebooks: "off"' $(SMOKE)/_config.yml
	cd $(SMOKE) && BOOK_PROFILE=smoke BOOK_RESULTS_DIR=$(CURDIR)/$(SMOKE)/results \
		$(CURDIR)/$(PY) -m pytest --nbmake --overwrite --nbmake-timeout=600 -q -p no:cacheprovider book

smoke-book: $(STAMP)
	$(JB) build $(SMOKE) -W -n --keep-going

rendered: $(STAMP)
	$(PY) scripts/check_rendered_page.py $(CHAPTER1_HTML) --screenshot $(SMOKE)/chapter1.png

student: $(STAMP)
	$(PY) scripts/make_student.py --out student

stamp: $(STAMP)
	$(PY) scripts/stamp_notebooks.py

clean:
	rm -rf _build student
