# The man pages (deploy/*.[1-8]), included by the top Makefile: each
# program's --help and its page's OPTIONS name the same options, --help
# names every option the source takes, and groff and mandoc find nothing
# to warn about (tests/man/test_man_pages.py; about 1 s).
#
#   make man-check     part of make check
#   man -l deploy/vigie-gateway.8     read a page from the tree

DEBS += groff-base mandoc
CHECK_EXTRA += man-check

.PHONY: man-check
man-check: $(GATEWAY) $(AGENT) $(SIM)
	VIGIE_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/man
