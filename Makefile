# Thin wrapper: the real build is meson/ninja. Every target bootstraps what is
# missing (packages, hugepages, build directory) first.
BUILD ?= build
ASAN_BUILD ?= build-asan
# meson compiles through ccache when it is installed (bootstrap installs it);
# these make its cache valid across checkouts in different directories.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
# The test executables compile with a precompiled header (meson cpp_pch,
# -fpch-preprocess): ccache caches those only with this sloppiness.
export CCACHE_SLOPPINESS := pch_defines,time_macros,include_file_mtime,include_file_ctime

.PHONY: all build test demo demo-pcap bench perf clean bootstrap asan interop

all: build

bootstrap:
	@scripts/bootstrap.sh

$(BUILD)/build.ninja:
	@scripts/bootstrap.sh
	meson setup $(BUILD) --buildtype=release

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja:
	@scripts/bootstrap.sh
	meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false -Deal_tests=false

# Only the unit-test executables (no daemon, no EAL tests): keeps CI short.
asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD) $$(python3 scripts/run-tests.py --targets $(ASAN_BUILD))

# Every test: release build (unit + EAL integration) and the sanitizer build
# (unit tests), then one summary line "N passed, N failed".
test: build asan
	@python3 scripts/run-tests.py $(BUILD) $(ASAN_BUILD)

demo: build
	@scripts/demo.sh $(BUILD)

# dpswitchd alone: a pcap replay into port 1, a sink on port 2.
demo-pcap: build
	@scripts/demo-pcap.sh $(BUILD)

bench: build
	@scripts/bench.sh $(BUILD)

# Slow interoperability suites (namespaces, veths, real peers: the kernel's
# vxlan, OVS-DPDK, a second dpswitchd); not part of `make test`.
interop: build
	@scripts/interop.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
