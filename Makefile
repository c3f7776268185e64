# py-spy: one Makefile for the binary and every module.
#
#   make                 build/py-spy, build/modules/**.so, build/plugins.ini, ./py-spy
#   make check           build, build again with ASan+UBSan (build-asan/), run every test
#   make layouts         regenerate layouts/*.c from the Python headers on this machine
#   make bench           run the benchmark (bench/), not part of the tests
#   make fuzz            run each libFuzzer target FUZZ_TIME seconds (fuzz/README.md)
#   make install PREFIX=/usr/local [DESTDIR=...]
#
# Every module is built -fvisibility=hidden and linked -Wl,-z,defs against
# nothing of the core.  Modules are installed 0755 whatever the umask: the
# loader refuses group- or world-writable modules when running as root.

BUILD    ?= build
.DEFAULT_GOAL := all
PREFIX   ?= /usr/local
CC       ?= cc
VERSION  := 0.5.0
SAN      ?=

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS   ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARN) $(SAN) -Iinclude -MMD -MP
MOD_CFLAGS := $(ALL_CFLAGS) -fPIC -fvisibility=hidden
MOD_LDFLAGS := -shared -Wl,-z,defs $(SAN)

# --- the core -----------------------------------------------------------
# The platform built for: host/<HOST>.c and its parts host/<HOST>_*.c hold
# the host services of core/host.h, backends/<HOST>/ the backend module.
UNAME    := $(shell uname -s)
HOST     ?= $(if $(filter Linux,$(UNAME)),linux,$(if $(filter Darwin,$(UNAME)),macos,$(if \
		$(filter FreeBSD,$(UNAME)),freebsd,windows)))
CORE_SRC  := $(wildcard core/*.c) host/$(HOST).c $(wildcard host/$(HOST)_*.c)
CORE_OBJ  := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
CORE_LIBS := -ldl -lm

# --- modules ------------------------------------------------------------
# Only the backends of the platform being built for: backends/<other>/ holds
# another OS's sources (and includes its headers), never built here.  On
# Linux the core-file reader (backends/elfcore) is built too.
BACKENDS_linux := linux elfcore
BACKEND_DIRS := $(patsubst %/,%,$(sort $(dir $(wildcard $(addsuffix /*.c,$(addprefix \
		backends/,$(or $(BACKENDS_$(HOST)),$(HOST))))))))
BACKEND_SO   := $(BACKEND_DIRS:backends/%=$(BUILD)/modules/backends/%.so)
# backends/common/: the ELF symbol reader, compiled into every backend module
BACKEND_COMMON_OBJ := $(patsubst %.c,$(BUILD)/modobj/%.o,$(wildcard backends/common/*.c))
.SECONDARY: $(BACKEND_COMMON_OBJ)
LIBS_backend_linux := -lelf
LIBS_backend_elfcore := -lelf -lz

LAYOUT_SRC := $(wildcard layouts/*.c)
LAYOUT_SO  := $(LAYOUT_SRC:layouts/%.c=$(BUILD)/modules/layouts/%.so)

OUTPUT_SRC := $(wildcard outputs/*.c)
OUTPUT_SO  := $(OUTPUT_SRC:outputs/%.c=$(BUILD)/modules/outputs/%.so)
# outputs/common/: helpers linked into every output module (not a module)
OUTPUT_COMMON_OBJ := $(patsubst %.c,$(BUILD)/modobj/%.o,$(wildcard outputs/common/*.c))
.SECONDARY: $(OUTPUT_COMMON_OBJ)
LIBS_output_top := -lncursesw -ltinfo
LIBS_output_pprof := -lz

MODULES := $(BACKEND_SO) $(LAYOUT_SO) $(OUTPUT_SO)

# --- tests --------------------------------------------------------------
UNIT_SRC    := $(wildcard tests/unit/*.c)
UNIT_OBJ    := $(UNIT_SRC:%.c=$(BUILD)/obj/%.o)
FIXTURE_SRC := $(wildcard tests/fixtures/*.c)
FIXTURE_SO  := $(FIXTURE_SRC:tests/fixtures/%.c=$(BUILD)/tests/fixtures/%.so)
HELPER_SRC  := $(wildcard tests/helpers/*.c)
HELPER_BIN  := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)
# linetable_check compiles core/linetable.c in (and is sanitized in build-asan/).
HELPER_LIBS_linetable_check = -Iinclude $(SAN)
$(BUILD)/tests/helpers/linetable_check: core/linetable.c core/linetable.h include/pyspy/layout.h

.PHONY: all check unit layouts bench install clean demo fuzz fuzz-build
.DELETE_ON_ERROR:

all: $(BUILD)/py-spy $(MODULES) $(BUILD)/plugins.ini $(if $(filter build,$(BUILD)),py-spy)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DPYSPY_VERSION='"$(VERSION)"' -c $< -o $@

$(BUILD)/py-spy: $(CORE_OBJ)
	$(CC) $(SAN) -rdynamic -o $@ $^ $(CORE_LIBS)

py-spy: $(BUILD)/py-spy
	ln -sf $(BUILD)/py-spy $@

$(BUILD)/plugins.ini: plugins.ini
	@mkdir -p $(@D)
	cp $< $@
	chmod 0644 $@

$(BUILD)/modobj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(MOD_CFLAGS) -DPYSPY_VERSION='"$(VERSION)"' -c $< -o $@

.SECONDEXPANSION:
# (no % inside the prerequisite list: make would put the stem there first)
$(BUILD)/modules/backends/%.so: $$(addprefix $(BUILD)/modobj/,$$(addsuffix .o,$$(basename $$(wildcard backends/$$*/*.c)))) $(BACKEND_COMMON_OBJ)
	@mkdir -p $(@D)
	$(CC) $(MOD_LDFLAGS) -o $@ $^ $(LIBS_backend_$*)
	chmod 0755 $@

$(BUILD)/modules/layouts/%.so: $(BUILD)/modobj/layouts/%.o
	@mkdir -p $(@D)
	$(CC) $(MOD_LDFLAGS) -o $@ $^
	chmod 0755 $@

$(BUILD)/modules/outputs/%.so: $(BUILD)/modobj/outputs/%.o $(OUTPUT_COMMON_OBJ)
	@mkdir -p $(@D)
	$(CC) $(MOD_LDFLAGS) -o $@ $^ $(LIBS_output_$*) -lm
	chmod 0755 $@

# Test fixture modules: deliberately good and broken modules for the loader.
$(BUILD)/tests/fixtures/%.so: $(BUILD)/modobj/tests/fixtures/%.o
	@mkdir -p $(@D)
	$(CC) $(MOD_LDFLAGS) -o $@ $^
	chmod 0755 $@

# Small programs the tests run (an embedding host, a pthread prober, ...).
$(BUILD)/tests/helpers/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -g -Wall -o $@ $< $(HELPER_LIBS_$*) -ldl -lpthread

# outputs/common's text helpers are tested directly (test_outputs_escape.c).
UNIT_OUTC_OBJ := $(BUILD)/obj/outputs/common/escape.o $(BUILD)/obj/outputs/common/strmap.o
$(BUILD)/tests/unit_tests: $(UNIT_OBJ) $(UNIT_OUTC_OBJ) $(filter-out $(BUILD)/obj/core/main.o,$(CORE_OBJ))
	@mkdir -p $(@D)
	$(CC) $(SAN) -rdynamic -o $@ $^ $(CORE_LIBS) -lcunit -lelf -lz

unit: all $(BUILD)/tests/unit_tests $(FIXTURE_SO) $(HELPER_BIN)

# --- fuzzing ------------------------------------------------------------
# libFuzzer targets fuzz/fuzz_*.c, built with clang into build-fuzz/ (see
# fuzz/README.md).  FUZZ_SRC_<target>: what it links besides its own file;
# FUZZ_DEPS_<target>: files it includes; FUZZ_LIBS_<target>: libraries.
FUZZ_CC      ?= clang
FUZZ_TIME    ?= 60
FUZZ_BUILD   := build-fuzz
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_SRC_fuzz_ini := core/ini.c core/strmap.c core/util.c
FUZZ_DEPS_fuzz_ini := core/ini.h core/strmap.h core/util.h
FUZZ_SRC_fuzz_elf_image := host/linux_elf.c
FUZZ_DEPS_fuzz_elf_image := host/linux_elf.h
FUZZ_SRC_fuzz_elf_backend :=
FUZZ_DEPS_fuzz_elf_backend := backends/common/elfbin.c backends/common/elfbin.h
FUZZ_LIBS_fuzz_elf_backend := -lelf
FUZZ_SRC_fuzz_elfcore := $(wildcard backends/elfcore/*.c) backends/common/elfbin.c
FUZZ_LIBS_fuzz_elfcore := -lelf -lz

$(FUZZ_BUILD)/%: fuzz/%.c $$(FUZZ_SRC_$$*) $$(FUZZ_DEPS_$$*)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRC_$*) $(FUZZ_LIBS_$*)

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)

fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_TIME) $(FUZZ_BUILD) $(FUZZ_TARGETS)

# make check: the release build, the sanitizer build, then every test.
check:
	$(MAKE) unit
	$(MAKE) unit BUILD=build-asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" CFLAGS="-O1 -g"
	$(MAKE) fuzz-build
	tests/run.sh

layouts:
	tools/genlayout/regen-all.sh

# The benchmark's own helper: what a sleep and a wake-up cost here.
$(BUILD)/bench/floor: bench/floor.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

bench: all $(BUILD)/bench/floor
	bench/run.sh

demo: all
	scripts/demo.sh --no-deps

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/py-spy
	install -m 0755 $(BUILD)/py-spy $(DESTDIR)$(PREFIX)/bin/py-spy
	cd $(BUILD) && for f in modules/*/*.so; do \
		install -D -m 0755 $$f $(DESTDIR)$(PREFIX)/lib/py-spy/$$f || exit 1; done
	install -m 0644 plugins.ini $(DESTDIR)$(PREFIX)/lib/py-spy/plugins.ini
	install -D -m 0644 docs/py-spy.1 $(DESTDIR)$(PREFIX)/share/man/man1/py-spy.1
	install -D -m 0644 completion/py-spy.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/py-spy

clean:
	rm -rf build build-asan build-fuzz py-spy

-include $(shell find $(BUILD)/obj $(BUILD)/modobj -name '*.d' 2>/dev/null)
