# Prometheus as a NOC runs it (deploy/prometheus/, docs/operations.md),
# included by the top Makefile: the rules checked and unit-tested by
# promtool, the example configs checked (promtool, amtool, with the
# Alertmanager routing of each severity), then Debian's real prometheus
# scraping a real gateway while an agent freezes and thaws
# (tests/prometheus/).
#
#   make prometheus-test    all of it (part of make check; about 30 s)
#
# prometheus or amtool missing fails the run (no silent skip).  Installing
# Debian's prometheus and prometheus-alertmanager packages enables their
# services; the tests run their own prometheus on a free loopback port and
# never talk to those.

DEBS += prometheus prometheus-alertmanager
CHECK_EXTRA += prometheus-test
PROMETHEUS ?= /usr/bin/prometheus
PROMTOOL   ?= /usr/bin/promtool
AMTOOL     ?= /usr/bin/amtool
PROM_DIR   := deploy/prometheus

# severity -> the receiver the example routing must pick
PROM_ROUTES := critical:noc-pager warning:noc-tickets info:migration-office

.PHONY: prometheus-test
prometheus-test: $(GATEWAY) $(AGENT) $(SIM)
	@for t in $(PROMETHEUS) $(PROMTOOL) $(AMTOOL); do test -x $$t || { \
	  echo "$$t missing: sudo make deps (or apt-get install prometheus" \
	  "prometheus-alertmanager)"; exit 1; }; done
	$(PROMTOOL) check rules --lint=all $(PROM_DIR)/vigie-rules.yml
	cd $(PROM_DIR) && $(PROMTOOL) test rules vigie-rules.test.yml \
	  vigie-rules-day.test.yml
	$(PROMTOOL) check config --syntax-only $(PROM_DIR)/prometheus.yml
	$(AMTOOL) check-config $(PROM_DIR)/alertmanager.yml
	@set -e; for r in $(PROM_ROUTES); do \
	  $(AMTOOL) config routes test --config.file=$(PROM_DIR)/alertmanager.yml \
	    --verify.receivers=$${r#*:} severity=$${r%%:*} alertname=VigieTest \
	    2>/dev/null; done
	PROMETHEUS=$(PROMETHEUS) VIGIE_BUILD=$(abspath $(BUILD)) \
	  $(PYTHON) -m pytest -q tests/prometheus
