# crstep — a restore debugger for CRIU images.
#   make            build ./crstep (-Wall -Wextra -Werror)
#   make setup      install the Debian packages the build and the tests need
#   make check      run every test (TAP); SANITIZE=1 builds with ASan+UBSan
#   make demo       restore the bundled counter fixture and show it continue
#   make bench      time restores: the counter's stages and context switches, then six
#                   workloads against upstream criu when CRIU=/path/to/criu is set
#   make soak       restore every fixture 200 times per protocol, then 50 under CPU load
#                   (SOAK_RUNS, SOAK_LOAD_RUNS)
#   make fuzz       run the libFuzzer targets of tests/fuzz (clang; FUZZ_RUNS each)
#   make zdtm CRIU_SRC=DIR   CRIU's zdtm static tests restored by criu and by crstep
#   make install    crstep, crstep(1) and bash completion under $(DESTDIR)$(PREFIX)

CC       ?= cc
PKGS     := libprotobuf-c libedit ncursesw libcap
CFLAGS   ?= -O2 -g
CFLAGS   += -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -Iinclude -I$(GEN)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
GEN      := build/gen
OBJ      := build/obj

ifeq ($(SANITIZE),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
OBJ      := build/obj-san
endif

PROTOS   := $(wildcard images/*.proto)
PB_C     := $(patsubst images/%.proto,$(GEN)/%.pb-c.c,$(PROTOS))
PB_H     := $(PB_C:.c=.h)
LIB_SRC  := $(wildcard lib/*.c images/*.c restore/*.c dump/*.c attach/*.c stepper/*.c ui/*.c)
LIB_SRC  := $(filter-out ui/main.c,$(LIB_SRC))
LIB_OBJ  := $(patsubst %.c,$(OBJ)/%.o,$(LIB_SRC)) $(patsubst $(GEN)/%.c,$(OBJ)/gen/%.o,$(PB_C))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,build/tests/%,$(UNIT_SRC))
# Each fuzz target is also built with $(CC) and tests/fuzz/replay.c into a
# unit test that replays its seeds and regression inputs.
FUZZ_TARGETS := image check show stepper
UNIT_BIN += $(patsubst %,build/tests/test_fuzz_%,$(FUZZ_TARGETS))

# The restorer blob: freestanding, position independent, no libc, never
# sanitized.  It is linked at 0 into one flat binary and embedded in crstep.
PIE_SRC  := $(wildcard restore/pie/*.c restore/barrier.c)
PIE_CFLAGS := -O2 -g0 -Wall -Wextra -Werror -std=gnu11 -Iinclude -ffreestanding \
	-fno-builtin -fPIC -fvisibility=hidden -nostdlib -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -fno-exceptions -mno-red-zone \
	-fcf-protection=none -fno-jump-tables -mgeneral-regs-only -DCR_PIE
PIE_OBJ  := $(patsubst %.c,build/pie/%.o,$(PIE_SRC))

all: crstep

# A plain and a sanitized build share ./crstep and build/tests: relink when
# the flavour changes.
FLAVOR   := build/.flavor-$(if $(filter 1,$(SANITIZE)),san,plain)
$(FLAVOR):
	@mkdir -p build && rm -f build/.flavor-* && touch $@

crstep: $(OBJ)/ui/main.o $(LIB_OBJ) $(OBJ)/pie-blob.o $(FLAVOR)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: images/%.proto
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) -Iimages $<

$(OBJ)/gen/%.o: $(GEN)/%.c $(PB_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-error -c -o $@ $<

$(OBJ)/%.o: %.c $(PB_H) $(wildcard include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -c -o $@ $<

build/pie/%.o: %.c $(wildcard include/*.h restore/pie/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(PIE_CFLAGS) -c -o $@ $<

build/pie/restorer.elf: $(PIE_OBJ) restore/pie/pie.lds
	$(CC) -nostdlib -static -Wl,-T,restore/pie/pie.lds -Wl,--no-dynamic-linker -Wl,--build-id=none \
		-Wl,-e,restorer_entry -o $@ $(PIE_OBJ)
	@if readelf -r $@ | grep -q 'R_X86_64'; then \
		echo "restorer blob has relocations: it must be position independent"; \
		readelf -r $@; exit 1; fi

build/pie/restorer.bin: build/pie/restorer.elf
	objcopy -O binary $< $@

# Offsets of the blob's entry points, exported as symbols next to the bytes.
$(OBJ)/pie-blob.c: build/pie/restorer.bin build/pie/restorer.elf tools/mkblob.sh
	@mkdir -p $(dir $@)
	sh tools/mkblob.sh build/pie/restorer.elf build/pie/restorer.bin > $@

$(OBJ)/pie-blob.o: $(OBJ)/pie-blob.c
	$(CC) $(CFLAGS) -c -o $@ $<

build/tests/%: tests/unit/%.c $(LIB_OBJ) $(OBJ)/pie-blob.o $(FLAVOR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -Itests -o $@ $(filter-out $(FLAVOR),$^) $(LDLIBS)

build/tests/test_fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(LIB_OBJ) $(OBJ)/pie-blob.o $(FLAVOR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -DFUZZ_TARGET='"$*"' -o $@ $(filter %.c %.o,$^) $(LDLIBS)

# libFuzzer builds: crstep's objects again with clang, coverage and sanitizers.
FUZZ_RUNS ?= 10000000
FUZZ_CC  ?= clang
FUZZ_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined $(filter-out -O% -g -Werror -fsanitize% -fno-sanitize%,$(CFLAGS))
FUZZ_OBJ := $(patsubst %.c,build/fuzz/obj/%.o,$(LIB_SRC)) $(patsubst $(GEN)/%.c,build/fuzz/obj/gen/%.o,$(PB_C)) \
	build/fuzz/obj/pie-blob.o
.SECONDARY: $(FUZZ_OBJ)

build/fuzz/obj/gen/%.o: $(GEN)/%.c $(PB_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

build/fuzz/obj/pie-blob.o: $(OBJ)/pie-blob.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

build/fuzz/obj/%.o: %.c $(PB_H) $(wildcard include/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $(filter %.c %.o,$^) $(LDLIBS)

build/fuzz/seeds/.stamp: tests/fuzz/seeds.py images/image.c README.md $(wildcard tests/stepper/* \
		tests/integration/*.sh tests/fixtures/criu-4.2/*/images/*)
	rm -rf build/fuzz/seeds
	python3 tests/fuzz/seeds.py build/fuzz/seeds
	@touch $@

setup:
	@sh tools/setup.sh

fuzz: $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS)) build/fuzz/seeds/.stamp
	@sh tests/fuzz/run.sh $(FUZZ_RUNS) $(FUZZ_TARGETS)

check: crstep $(UNIT_BIN) build/fuzz/seeds/.stamp
	@sh tests/run.sh $(if $(SANITIZE),--sanitize)

demo: setup crstep
	@sh tests/demo.sh

bench: crstep
	@sh tests/bench.sh && python3 tests/bench.py

soak: crstep
	@python3 tests/soak.py

# Not part of check: it needs upstream CRIU built (shared/tools/build-criu.sh).
zdtm: crstep
	@CRIU_SRC=$(CRIU_SRC) sh tools/zdtm/run.sh

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

install: crstep
	install -D -m 0755 crstep $(DESTDIR)$(BINDIR)/crstep
	install -D -m 0644 doc/crstep.1 $(DESTDIR)$(MANDIR)/man1/crstep.1
	install -D -m 0644 doc/crstep.bash-completion $(DESTDIR)$(BASHCOMPDIR)/crstep

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/crstep $(DESTDIR)$(MANDIR)/man1/crstep.1 $(DESTDIR)$(BASHCOMPDIR)/crstep

clean:
	rm -rf build crstep

.PHONY: all setup check demo bench soak fuzz zdtm install uninstall clean
.SECONDARY: $(PB_C) $(PB_H)
-include $(shell find build -name '*.d' 2>/dev/null)
