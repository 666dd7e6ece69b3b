# airpack: carry container images into air-gapped networks.
#   make          build ./airpack
#   make demo     build, make the sample images, pack, verify, load into an OCI layout
#   make test     build and run the unit tests, the harness self-test (tests/selftest.sh) and
#                 every integration script with real engines (tests/run.sh); not the sanitizers
#   make asan     unit tests and ASAN_SUITES again under AddressSanitizer + UBSan (CI runs it)
#   make tsan     unit tests and TSAN_SUITES again under ThreadSanitizer (CI runs it)
#   make deps     install the Debian packages airpack and its tests need (as root)
#   make fuzz     build and briefly run the libFuzzer targets
#   make bench    measure against the baseline tools (make bench-scale: growth with the image count)
#   make static   build ./airpack-static: one file, no shared libraries (README "Carrying airpack itself");
#                 make static-aarch64: ./airpack-static-aarch64, the same for arm64
#   make install  install airpack, its man page and bash completion under PREFIX (and DESTDIR)

CC      ?= cc
PKGS    := libzstd zlib libarchive libsodium jansson libcrypto libcurl libisal
WARN    := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes -Wvla
CFLAGS  ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 $(WARN) -fstack-protector-strong
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lzstd -lz -larchive -lsodium -ljansson -lcrypto -lcurl -lisal) -lpthread
# xz-compressed layers (formats/codec.c): only when liblzma's headers are installed.
ifeq ($(shell pkg-config --exists liblzma && echo yes),yes)
override CFLAGS += -DAP_HAVE_LZMA
LDLIBS  += $(shell pkg-config --libs liblzma)
endif

BUILD   ?= build
# The library's folders, bottom of the stack first (README "Layout"); tests/fuzz/run.sh
# builds the same list (make fuzz passes it as SRC_DIRS).
SRC_DIRS := formats remote verify packer load
LIB_SRC := $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c))
CLI_SRC := $(wildcard cli/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: bench-scale all deps deps-check demo test test-unit test-integration selftest asan tsan fuzz bench clean samples static static-aarch64 airpack-static-aarch64 install uninstall

all: airpack

airpack: $(BUILD)/airpack
	cp $< $@

$(BUILD)/airpack: $(CLI_OBJ) $(BUILD)/libairpack.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libairpack.a $(LDLIBS)

$(BUILD)/libairpack.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

# -MMD writes build/…/x.d next to each object: the headers it really includes.
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libairpack.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -o $@ $< $(BUILD)/libairpack.a $(LDLIBS) -lcmocka

-include $(UNIT_BIN:=.d)

# airpack-static: the same objects, linked with -static against Debian's static archives
# (the -dev packages ship them; tests/deps.sh installs the ones libcurl.a and libarchive.a
# need). Debian ships no static libgssapi_krb5, libsasl2 or libp11-kit, which libcurl.a
# reaches only through protocols and auth airpack never asks for: static/absent_libs.c
# stands in for them (every call fails). Stripped: it is the file people carry.
STATIC_LDLIBS ?= -lzstd -larchive -lacl -llz4 -lbz2 -lsodium -ljansson \
	-lcurl -lnghttp2 -lrtmp -lssh2 -lpsl -lssl -lcrypto -lldap -llber \
	-lgnutls -lhogweed -lnettle -lgmp -ltasn1 -lidn2 -lunistring -lbrotlidec -lbrotlicommon \
	-lzstd -lz -llzma -lpthread
STATIC_CLI_OBJ := $(filter-out $(BUILD)/cli/version.o,$(CLI_OBJ)) $(BUILD)/static/version.o

static: airpack-static

airpack-static: $(BUILD)/airpack-static
	cp $< $@

$(BUILD)/airpack-static: $(STATIC_CLI_OBJ) $(BUILD)/static/absent_libs.o $(BUILD)/static/isal_portable.o $(BUILD)/libairpack.a
	$(CC) $(CFLAGS) $(LDFLAGS) -static -s -o $@ $(STATIC_CLI_OBJ) $(BUILD)/static/absent_libs.o $(BUILD)/static/isal_portable.o \
	    $(BUILD)/libairpack.a $(STATIC_LDLIBS) 2>$(BUILD)/static/link.log || { cat $(BUILD)/static/link.log; \
	    echo "make static: a static archive is missing; 'sudo make deps' installs the -dev packages that ship them"; exit 1; }
	@grep -v "requires at runtime the shared libraries from the glibc version" $(BUILD)/static/link.log \
	    | grep -v "in function" || true

$(BUILD)/static/version.o: cli/version.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DAP_STATIC_BUILD -MMD -MP -c -o $@ $<

# Debian's libisal-dev has no static archive: the four ISA-L functions parity.c uses, portably
$(BUILD)/static/isal_portable.o: static/isal_portable.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/static/absent_libs.o: static/absent_libs.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags p11-kit-1 2>/dev/null || echo -I/usr/include/p11-kit-1) -c -o $@ $<

-include $(BUILD)/static/version.d

# airpack-static-aarch64: the same static build for arm64 with Debian's cross gcc, linked
# against Debian's arm64 -dev packages, which static/aarch64-sysroot.sh fetches with apt into
# a private sysroot (no multiarch on the host). Runs under qemu-user (tests/integration/ship.sh).
AARCH64_SYSROOT ?= build-aarch64/sysroot
AARCH64_FLAGS = -I$(abspath $(AARCH64_SYSROOT))/usr/include/aarch64-linux-gnu \
	-I$(abspath $(AARCH64_SYSROOT))/usr/include -I$(abspath $(AARCH64_SYSROOT))/usr/include/p11-kit-1

static-aarch64: airpack-static-aarch64

airpack-static-aarch64: $(AARCH64_SYSROOT)/usr/lib/aarch64-linux-gnu/libzstd.a
	$(MAKE) BUILD=build-aarch64/obj CC=aarch64-linux-gnu-gcc CFLAGS="-O2 -g $(AARCH64_FLAGS)" \
	    LDFLAGS="-L$(abspath $(AARCH64_SYSROOT))/usr/lib/aarch64-linux-gnu" build-aarch64/obj/airpack-static
	cp build-aarch64/obj/airpack-static $@

$(AARCH64_SYSROOT)/usr/lib/aarch64-linux-gnu/libzstd.a: static/aarch64-sysroot.sh tests/deps.sh
	sh static/aarch64-sysroot.sh $(AARCH64_SYSROOT)

# make install [PREFIX=/usr/local] [DESTDIR=staging] [AIRPACK_BIN=airpack-static]
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
AIRPACK_BIN ?= airpack

install: $(AIRPACK_BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR)
	install -m 755 $(AIRPACK_BIN) $(DESTDIR)$(BINDIR)/airpack
	install -m 644 doc/airpack.1 $(DESTDIR)$(MANDIR)/man1/airpack.1
	install -m 644 doc/airpack.bash-completion $(DESTDIR)$(BASHCOMPDIR)/airpack

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/airpack $(DESTDIR)$(MANDIR)/man1/airpack.1 $(DESTDIR)$(BASHCOMPDIR)/airpack

deps:
	@sh tests/deps.sh install

deps-check:
	@sh tests/deps.sh check-or-install

samples: airpack
	sh samples/make-samples.sh samples/out

demo: deps-check airpack
	sh samples/demo.sh

test: deps-check airpack $(UNIT_BIN)
	sh tests/run.sh

test-unit: airpack $(UNIT_BIN)
	sh tests/run.sh unit

test-integration: airpack
	sh tests/run.sh integration

selftest:
	sh tests/run.sh selftest

# Unit tests and the integration scripts that feed airpack hostile or broken
# input, again under AddressSanitizer and UndefinedBehaviorSanitizer. A sanitizer stops at
# its first report and exits 86 (66 under TSan), a status airpack never uses, and
# tests/lib.sh fails any case whose stderr holds a report, whatever its status.
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=86 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86 LSAN_OPTIONS=exitcode=86
TSAN_ENV := TSAN_OPTIONS=exitcode=66:halt_on_error=1
ASAN_SUITES ?= verify_hostile pack_inputs pack_badinput load_oci load_archive delta split_parts parity dense trust read_error
asan: deps-check
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" build-asan/airpack $(UNIT_BIN:$(BUILD)/%=build-asan/%)
	BUILD=build-asan $(ASAN_ENV) sh tests/run.sh unit
	BUILD=build-asan $(ASAN_ENV) sh tests/run.sh integration $(ASAN_SUITES)

# The threads (verify/hash_pipe.c, verify/file_syncer.c) under ThreadSanitizer: unit tests
# and the load/verify scripts; any report fails the run (TSAN_OPTIONS exitcode=66).
TSAN_SUITES ?= load_oci verify_hostile dense parity
tsan: deps-check
	$(MAKE) BUILD=build-tsan CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=thread" LDFLAGS="-fsanitize=thread" \
	    build-tsan/airpack $(UNIT_BIN:$(BUILD)/%=build-tsan/%)
	BUILD=build-tsan $(TSAN_ENV) sh tests/run.sh unit
	BUILD=build-tsan $(TSAN_ENV) sh tests/run.sh integration $(TSAN_SUITES)

FUZZ_SECONDS ?= 30
fuzz:
	SRC_DIRS="$(SRC_DIRS)" sh tests/fuzz/run.sh $(FUZZ_SECONDS)

bench: deps-check airpack
	sh tests/bench/bench.sh
	sh tests/bench/scale.sh

# The scale section alone: 200 ... 12,800 generated images (tests/bench/scale.sh).
bench-scale: airpack
	sh tests/bench/scale.sh

clean:
	rm -rf build build-asan build-tsan build-fuzz build-aarch64 airpack airpack-static airpack-static-aarch64 samples/out
