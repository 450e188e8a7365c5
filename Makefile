# A thin wrapper around meson, so that the two commands of the README do all the set-up:
#   make demo    run the seed dyno (examples/seed-dyno/, Node.js + a private RabbitMQ; the dyno
#                in a throwaway VM where the host lacks cgroup v2 memory, the broker on loopback)
#   make check   every test: unit, fuzz corpora, real-kernel VM tests, and a sanitizer build
BUILDDIR ?= build
ASANDIR ?= build-asan
MESON_OPTS ?= -Dwerror=true
# Where `make install` puts things: the units run /usr/sbin/cgwatchd and read /etc/cgwatch.
INSTALL_OPTS = --prefix=/usr --sysconfdir=/etc --localstatedir=/var

.PHONY: all deps build check check-unit check-asan demo bench fuzz install uninstall clean

all: build

deps:
	@tools/install-deps $(DEPS_OPTS)

$(BUILDDIR)/build.ninja:
	meson setup $(BUILDDIR) $(MESON_OPTS) $(INSTALL_OPTS)

build: deps $(BUILDDIR)/build.ninja
	ninja -C $(BUILDDIR)

# The VM kernel is fetched by the harness itself (tests/vm/fetch-kernel, cached outside the tree).
check: build check-asan
	tests/vm/fetch-kernel >/dev/null
	meson test -C $(BUILDDIR) --print-errorlogs --num-processes 1

check-unit: build
	meson test -C $(BUILDDIR) --print-errorlogs --suite unit --suite fuzz

$(ASANDIR)/build.ninja:
	meson setup $(ASANDIR) $(MESON_OPTS) -Db_sanitize=address,undefined -Db_lundef=false -Dvm_tests=false

check-asan: deps $(ASANDIR)/build.ninja
	ninja -C $(ASANDIR)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 meson test -C $(ASANDIR) --print-errorlogs --suite unit --suite fuzz

demo: build
	examples/demo

# Every scenario in one VM boot (bench/run); BENCH_QUICK=1: the smoke sizes that make check runs
# as the meson test bench-quick (suite bench).
BENCH_QUICK ?= 0
bench: build
	BENCH_QUICK=$(BENCH_QUICK) bench/run

# Binaries, units (systemd's unit dir), D-Bus policy, journal catalog, man pages, and the example
# config as /etc/cgwatch/cgwatch.conf unless one exists (tools/post-install, which also runs
# journalctl --update-catalog and systemctl daemon-reload). A build dir set up by hand with another
# prefix is switched to /usr first. DESTDIR=/some/dir stages instead (no catalog, no reload).
# (The grep spares a meson run when the build dir has the right prefix already.)
# (Not the seed dyno's npm modules: in a guest without the network npm ci stalled make install
# for minutes.)
install: DEPS_OPTS = --no-npm
install: build
	@grep -q '"name": "prefix", "value": "/usr"' $(BUILDDIR)/meson-info/intro-buildoptions.json && \
		grep -q '"name": "sysconfdir", "value": "/etc"' $(BUILDDIR)/meson-info/intro-buildoptions.json || \
		meson configure $(BUILDDIR) $(INSTALL_OPTS)
	meson install -C $(BUILDDIR)

# Removes every file the last `make install` from this build dir copied (meson's install log:
# ninja uninstall) and the empty doc dir, then rebuilds the catalog database and reloads systemd
# (not with DESTDIR=). /etc/cgwatch stays, as apt-get remove leaves a package's config (rm -r it
# to purge). Stop and disable the service first.
uninstall:
	ninja -C $(BUILDDIR) uninstall
	rmdir --ignore-fail-on-non-empty $(DESTDIR)/usr/share/doc/cgwatch/examples $(DESTDIR)/usr/share/doc/cgwatch 2>/dev/null || true
	@[ -n "$(DESTDIR)" ] || ! command -v journalctl >/dev/null || journalctl --update-catalog
	@[ -n "$(DESTDIR)" ] || [ ! -d /run/systemd/system ] || systemctl daemon-reload

clean:
	rm -rf $(BUILDDIR) $(ASANDIR)

# libFuzzer on the config and cgroup-file parsers (clang), FUZZ_SECONDS each. New inputs go to
# $(BUILDDIR)/fuzz/corpus-*, never into the tree; tests/fuzz/corpus/ seeds them.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -Iinclude
fuzz: deps
	@command -v clang >/dev/null || apt-get install -y -qq clang
	mkdir -p $(BUILDDIR)/fuzz/corpus-config $(BUILDDIR)/fuzz/corpus-cgroup
	clang $(FUZZ_CFLAGS) src/parse-util.c src/config-ini.c src/config-parse.c src/config.c \
		tests/fuzz/fuzz-config.c -o $(BUILDDIR)/fuzz/fuzz-config
	clang $(FUZZ_CFLAGS) src/cgroup-parse.c tests/fuzz/fuzz-cgroup-parse.c -o $(BUILDDIR)/fuzz/fuzz-cgroup-parse
	$(BUILDDIR)/fuzz/fuzz-config -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/fuzz-config.dict \
		$(BUILDDIR)/fuzz/corpus-config tests/fuzz/corpus/config
	$(BUILDDIR)/fuzz/fuzz-cgroup-parse -max_total_time=$(FUZZ_SECONDS) \
		$(BUILDDIR)/fuzz/corpus-cgroup tests/fuzz/corpus/cgroup
