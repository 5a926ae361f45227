# The field agent cross-built for a real board and run under qemu-user, part
# of make check: the arm64 build (BOARD=rpi4) runs --version, --check-config
# and --once against the host's vigie-sim on loopback (tests/cross/run.sh).
#
#   make cross-deps   add the arm64 architecture and install what is missing
#                     (as root; otherwise print the commands)
#   make cross-test   cross-build the agent, run it under qemu-aarch64
#
# The target's libraries come from Debian's multiarch -dev packages and
# qemu-aarch64 runs the binary with the multiarch arm64 runtime
# (/lib/ld-linux-aarch64.so.1 and /usr/lib/aarch64-linux-gnu, from libc6:arm64):
# "-L /usr/aarch64-linux-gnu" would pair the cross toolchain's ld.so with
# libc6:arm64's libc.so.6, two different builds of glibc.

CROSS_BOARD   ?= rpi4
CROSS_ARCH    ?= arm64
CROSS_TRIPLET ?= aarch64-linux-gnu
CROSS_QEMU    ?= qemu-aarch64
CROSS_BUILD   := build/$(CROSS_BOARD)
CROSS_DEBS    := gcc-$(CROSS_TRIPLET) qemu-user \
	$(addsuffix :$(CROSS_ARCH),libmosquitto-dev libcjson-dev \
	  libmodbus-dev libinih-dev libsqlite3-dev)

CHECK_EXTRA += cross-test

.PHONY: cross-deps cross-build cross-test

# Installs the host's DEBS too, so that a fresh machine pays for a single
# apt-get update and a single install (ensure-deps then finds nothing to do).
cross-deps:
	@missing=$$(for p in $(DEBS) $(CROSS_DEBS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	  grep -q 'ok installed' || echo $$p; done); \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "missing Debian packages:" $$missing; \
	  echo "run: sudo dpkg --add-architecture $(CROSS_ARCH) && sudo" \
	    "apt-get update && sudo apt-get install --no-install-recommends" \
	    $$missing; exit 1; fi; \
	set -e; \
	dpkg --print-foreign-architectures | grep -qx $(CROSS_ARCH) || \
	  dpkg --add-architecture $(CROSS_ARCH); \
	apt-get update -q; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	  --no-install-recommends $$missing

ensure-deps: cross-deps
deps: cross-deps

# What the README's make BOARD=rpi4 builds, i.e. what runs on the field
# unit (BOARD_RUNS: the agent), and its size (docs/BENCHMARKS.md).
cross-build: cross-deps
	$(MAKE) BOARD=$(CROSS_BOARD) BUILD=$(CROSS_BUILD) CC=$(CROSS_TRIPLET)-gcc \
	  SAN= all agent-size

cross-test: cross-build $(SIM)
	QEMU="$(CROSS_QEMU)" BOARD_NAME=$(CROSS_BOARD) tests/cross/run.sh \
	  $(CROSS_BUILD)/vigie-agent $(SIM) $(CROSS_TRIPLET)-readelf
