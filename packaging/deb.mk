# Debian packages (packaging/debian/, debhelper compat 13) and their test,
# included by the top Makefile.
#
#   make deb        build/deb/: vigie-agent, vigie-gateway and vigie-tools
#                   for amd64, and vigie-agent cross-built for arm64 (the
#                   field boards, BOARD=rpi4)
#   make deb-test   (part of make check) the packages through lintian, then
#                   installed into a Debian 12 chroot: units verified, the
#                   agent's --check-config on the installed file, an upgrade
#                   that keeps an edited conffile, a purge
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
DEB_CHROOT_CACHE ?= /var/cache/vigie/bookworm-apt.tar.zst
DEB_NEXT     := $(shell echo $(VERSION) | awk -F. -v OFS=. '{ $$NF = $$NF + 1; print }')

.PHONY: deb deb-amd64 deb-cross deb-test
deb: deb-amd64 deb-cross

# $(1): Debian arch, $(2): dpkg-buildpackage options
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
	  dpkg-buildpackage -b -us -uc $(2)
	mv $(DEB_OUT)/src-$(1)/*.deb $(DEB_OUT)/src-$(1)/*.buildinfo \
	  $(DEB_OUT)/src-$(1)/*.changes $(DEB_OUT)/
endef

deb-amd64: ensure-deps
	$(call deb_build,amd64,)

deb-cross: cross-deps
	$(call deb_build,$(DEB_CROSS),-a$(DEB_CROSS) -Pcross$(comma)nocheck$(comma)pkg.vigie.agent-only)

deb-test: ensure-deps
	$(MAKE) --no-print-directory deb
	$(MAKE) --no-print-directory deb-amd64 DEB_UPSTREAM=$(DEB_NEXT) \
	  DEB_OUT=build/deb/next
	CHROOT_CACHE=$(DEB_CHROOT_CACHE) packaging/deb-test.sh \
	  $(DEB_OUT) $(DEB_OUT)/next $(VERSION) $(DEB_NEXT) $(DEB_CROSS)
