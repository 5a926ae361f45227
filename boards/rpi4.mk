# Board: rpi4 — Raspberry Pi 4 / CM4 (Cortex-A72) on 64-bit Debian, wired to
# the equipment through a USB RS-485 adapter.  Cross-built with Debian's
# gcc-aarch64-linux-gnu and the arm64 multiarch -dev packages (see
# boards/README.md): make BOARD=rpi4
BOARD_DESC     = Raspberry Pi 4 (aarch64, Cortex-A72)
BOARD_TRIPLET  = aarch64-linux-gnu
BOARD_CROSS    = aarch64-linux-gnu-
BOARD_CPUFLAGS = -mcpu=cortex-a72
# Debian's cross gcc links with the Cortex-A53 erratum 843419 workaround by
# default; the A72 does not have that erratum, and the workaround's veneer
# section, placed only when an ADRP happens to land at the end of a 4 KiB
# page, pads the agent's text past its first 64 KiB file step
# (docs/BENCHMARKS.md, Agent): 134,560 bytes stripped instead of 200,096
BOARD_LDFLAGS  = -mno-fix-cortex-a53-843419
BOARD_SERIAL   = /dev/ttyUSB0
BOARD_RS485    = 0
BOARD_DATADIR  = /var/lib/vigie
# what make (all) builds for this board: what runs on the field unit
BOARD_RUNS     = agent
# pkg-config must look at the target's libraries, not the build machine's
PKG_CONFIG     = PKG_CONFIG_LIBDIR=/usr/lib/$(BOARD_TRIPLET)/pkgconfig:/usr/share/pkgconfig pkg-config
