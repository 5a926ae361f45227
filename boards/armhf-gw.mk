# Board: armhf-gw — a DIN-rail industrial gateway with a Cortex-A7/A9-class
# ARMv7 SoC (NEON, VFPv4, hard float) and a native RS-485 port driven by
# the UART's RS-485 mode (TIOCSRS485).  Cross-built with Debian's
# gcc-arm-linux-gnueabihf and the armhf multiarch -dev packages:
# make BOARD=armhf-gw
BOARD_DESC     = Industrial ARMv7 gateway (armhf, NEON/VFPv4, native RS-485)
BOARD_TRIPLET  = arm-linux-gnueabihf
BOARD_CROSS    = arm-linux-gnueabihf-
BOARD_CPUFLAGS = -march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard
BOARD_SERIAL   = /dev/ttymxc1
BOARD_RS485    = 1
BOARD_DATADIR  = /var/lib/vigie
# what make (all) builds for this board: what runs on the field unit
BOARD_RUNS     = agent
PKG_CONFIG     = PKG_CONFIG_LIBDIR=/usr/lib/$(BOARD_TRIPLET)/pkgconfig:/usr/share/pkgconfig pkg-config
