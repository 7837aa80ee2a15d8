# Two entry points for a fresh machine with Python 3.10+ and pip:
#   make book   build the book into _build/html (executes every notebook)
#   make test   run the test suite (includes a full book build)
# Both create the virtual environment .venv on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test benchmarks clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	# cffconvert ships the official CFF 1.2 JSON schema that the tests validate
	# CITATION.cff against. Its own dependencies pin jsonschema below 4, which the
	# book needs, so only the package files are installed.
	$(BIN)/python -m pip install --quiet --no-deps cffconvert==2.0.0
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "Open _build/html/index.html in a browser."

test: $(STAMP)
	$(BIN)/python -m pytest

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/book_build.py
	$(BIN)/python benchmarks/range_read.py
	$(BIN)/python benchmarks/verify_scan.py

clean:
	rm -rf _build
