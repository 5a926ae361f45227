# The dashboard tested in a real browser (make check): Debian's chromium
# driven by playwright-core (pinned in package-lock.json, installed with
# npm ci), through node's built-in test runner.  The test starts its own
# mosquitto and gateway on free loopback ports.  Debian's nodejs has no
# npm: it is installed here when missing (as root), beside nodesource's.

BROWSER_DIR := tests/browser
CHECK_EXTRA += browser-test

.PHONY: browser-deps browser-test

browser-deps:
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	      --no-install-recommends npm; \
	  else echo "npm missing: sudo apt-get install npm"; exit 1; fi; }
	cd $(BROWSER_DIR) && npm ci --no-audit --no-fund --loglevel=error

browser-test: $(GATEWAY) browser-deps
	@mkdir -p tests/artifacts
	cd $(BROWSER_DIR) && VIGIE_BUILD=$(abspath $(BUILD)) \
	  node --test --test-concurrency=1 dashboard.test.mjs
