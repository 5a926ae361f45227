# Board: host — the build machine itself (x86-64 Debian), for development,
# the demo and CI.  Each board file sets the toolchain and the defaults the
# agent is built with; see boards/README.md.
BOARD_DESC     = Host build (x86-64 Debian)
BOARD_TRIPLET  = x86_64-linux-gnu
BOARD_CROSS    =
BOARD_CPUFLAGS =
BOARD_SERIAL   = /dev/ttyUSB0
BOARD_RS485    = 0
BOARD_DATADIR  = /var/lib/vigie
# what make (all) builds for this board: the whole system, for development
BOARD_RUNS     = gateway agent sim bench
