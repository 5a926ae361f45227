# Debian packages (packaging/debian/, debhelper compat 13) and their test,
# included by the top Makefile.
#
#   make deb        build/deb/: vigie-agent, vigie-gateway, vigie-tools and
#                   vigie-demo for amd64, and vigie-agent cross-built for arm64 (the
#                   field boards, BOARD=rpi4)
#   make deb-test   (part of make check) the packages through lintian, then
#                   installed into a Debian 12 chroot: units verified, the
#                   agent's --check-config on the installed file, an upgrade
#                   that keeps an edited conffile, a purge
#   make deb-test DEB_TEST_DEMO=1   also runs the installed vigie-demo for
#                   20 s and checks every summary (about 25 s more)
#
# make deb copies the source tree (without build/ and .git) and
# packaging/debian/ to build/deb/src-ARCH/vigie-VERSION/, writes the
# changelog (VERSION-1) and runs dpkg-buildpackage there, so the tree's
# root stays clean.  DEB_UPSTREAM sets another version (deb-test builds
# the next one into build/deb/next/ for the upgrade).  The chroot is
# made once (mmdebstrap) from the mirror apt uses and cached as a tarball
# (DEB_CHROOT_CACHE); rm it to rebuild.

# mmdebstrap rather than debootstrap: it writes the cached root as a
# tarball itself, and its apt variant (Essential and apt) is smaller than
# minbase; same mirror, same packages
DEBS += debhelper lintian mmdebstrap zstd fakeroot systemd dpkg-dev
CHECK_EXTRA += deb-test

comma := ,
DEB_UPSTREAM ?= $(VERSION)
DEB_OUT      ?= build/deb
DEB_CROSS    ?= arm64
DEB_TEST_DEMO ?= 0
DEB_CHROOT_CACHE ?= /var/cache/vigie/bookworm-apt.tar.zst
DEB_NEXT     := $(shell echo $(VERSION) | awk -F. -v OFS=. '{ $$NF = $$NF + 1; print }')

.PHONY: deb deb-amd64 deb-cross deb-test deb-amd64-build deb-cross-build \
	deb-next-build deb-chroot deb-test-parts
deb: deb-amd64 deb-cross

# $(1): Debian arch, $(2): dpkg-buildpackage options.  The package build
# gets none of this make's flags or variables (MAKEFLAGS): debian/rules
# sets its own.
define deb_build
	@rm -rf $(DEB_OUT)/src-$(1) && mkdir -p $(DEB_OUT)/src-$(1)/vigie-$(DEB_UPSTREAM)
	tar -c --exclude=./build --exclude=./.git --exclude=__pycache__ . | tar -x -C $(DEB_OUT)/src-$(1)/vigie-$(DEB_UPSTREAM)
	cp -a packaging/debian $(DEB_OUT)/src-$(1)/vigie-$(DEB_UPSTREAM)/
	printf 'vigie (%s-1) unstable; urgency=medium\n\n  * Vigie %s.\n\n -- %s  %s\n' \
	  $(DEB_UPSTREAM) $(DEB_UPSTREAM) \
	  "$$(sed -n 's/^Maintainer: //p' packaging/debian/control)" \
	  "$$(git log -1 --format=%aD 2>/dev/null || date -R)" \
	  > $(DEB_OUT)/src-$(1)/vigie-$(DEB_UPSTREAM)/debian/changelog
	cd $(DEB_OUT)/src-$(1)/vigie-$(DEB_UPSTREAM) && \
	  DEB_BUILD_OPTIONS="parallel=2 nocheck $(DEB_BUILD_OPTIONS)" \
	  env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -b -us -uc $(2)
	mv $(DEB_OUT)/src-$(1)/*.deb $(DEB_OUT)/src-$(1)/*.buildinfo \
	  $(DEB_OUT)/src-$(1)/*.changes $(DEB_OUT)/
endef

# deb-amd64 and deb-cross install what is missing first; the -build
# targets do not, so that deb-test can run them side by side
deb-amd64: ensure-deps
	$(MAKE) --no-print-directory deb-amd64-build

deb-cross: cross-deps
	$(MAKE) --no-print-directory deb-cross-build

deb-amd64-build:
	$(call deb_build,amd64,)

deb-cross-build:
	$(call deb_build,$(DEB_CROSS),-a$(DEB_CROSS) -Pcross$(comma)nocheck$(comma)pkg.vigie.agent-only)

# the version deb-test upgrades to
deb-next-build: DEB_UPSTREAM := $(DEB_NEXT)
deb-next-build: DEB_OUT := $(DEB_OUT)/next
deb-next-build:
	$(call deb_build,amd64,)

# the cached Debian 12 root (made once, see packaging/deb-test.sh)
deb-chroot:
	CHROOT_CACHE=$(DEB_CHROOT_CACHE) packaging/deb-test.sh --chroot-only

# The three builds and the root side by side: a dpkg-buildpackage run is
# mostly one-core steps, and making the root mostly waits on the mirror.
deb-test-parts: deb-amd64-build deb-cross-build deb-next-build deb-chroot

deb-test: ensure-deps
	$(MAKE) --no-print-directory -j4 deb-test-parts
	CHROOT_CACHE=$(DEB_CHROOT_CACHE) DEMO=$(DEB_TEST_DEMO) packaging/deb-test.sh \
	  $(DEB_OUT) $(DEB_OUT)/next $(VERSION) $(DEB_NEXT) $(DEB_CROSS)
