# SPDX-License-Identifier: MIT
# datastun — build, test, fuzz, bench, install.
#
# Everything is discovered by name, so a new tool or test needs no edit here:
#   libds/*.c              -> build/libds.a
#   cmd/ds-*.c             -> bin/ds-*           (one thin program per tool)
#   tests/unit/test_*.c    -> build/tests/test_* (run by tests/run)
#   (SANITIZE=1: build/asan/libds.a, build/asan/bin/ds-*, build/asan/tests/test_*)
#   tests/fuzz/fuzz_*.c    -> build/fuzz/fuzz_*  (libFuzzer, clang)
#   tests/cli/*.sh, tests/lab/*.sh               (run by tests/run)

VERSION   ?= 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/vendor-completions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d

CC        ?= cc
FUZZCC    ?= clang
PKGS      := libssl libcrypto libpcap ldns libmaxminddb libnetfilter_queue
PKGCFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKGLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# Library versions for -V, taken at build time so that printing them links no library a
# tool does not otherwise use (libpcap alone pulls in dbus, systemd, gcrypt...).
DEPVERS   := openssl=$(shell pkg-config --modversion libssl 2>/dev/null) \
             libpcap=$(shell pkg-config --modversion libpcap 2>/dev/null) \
             ldns=$(shell pkg-config --modversion ldns 2>/dev/null) \
             maxminddb=$(shell pkg-config --modversion libmaxminddb 2>/dev/null) \
             libcsv=$(shell dpkg-query -W -f='$${Version}' libcsv-dev 2>/dev/null | sed 's/[+-].*//') \
             libnet=$(shell dpkg-query -W -f='$${Version}' libnet1-dev 2>/dev/null | sed 's/[+-].*//') \
             netfilter_queue=$(shell pkg-config --modversion libnetfilter_queue 2>/dev/null)

WARN      := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
             -Wno-unused-parameter
CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -D_GNU_SOURCE $(WARN) -iquote libds $(PKGCFLAGS) -DDS_VERSION='"$(VERSION)"' -MMD -MP \
             -DDS_DEPVERS='"$(strip $(DEPVERS))"' \
             -D_FORTIFY_SOURCE=2 -fstack-protector-strong
LDLIBS    += -Wl,--as-needed $(PKGLIBS) -lnet -lcsv -lmnl -lm -lpthread
ifeq ($(WERROR),1)
CFLAGS    += -Werror
endif
# Sanitized builds live apart (build/asan, tools in build/asan/bin), so a plain and a
# sanitized build never mix objects, even when both run at once.
B         := build
BIN       := bin
ifeq ($(SANITIZE),1)
CFLAGS    += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS   += -fsanitize=address,undefined
B         := build/asan
BIN       := build/asan/bin
endif

# Quiet unless V=1.
ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2);
endif

LIB_SRC   := $(sort $(wildcard libds/*.c))
LIB_OBJ   := $(LIB_SRC:libds/%.c=$(B)/libds/%.o)
CMD_SRC   := $(sort $(wildcard cmd/ds-*.c))
TOOLS     := $(CMD_SRC:cmd/%.c=$(BIN)/%)
SCRIPTS   := $(sort $(wildcard scripts/ds-*))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNITS     := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZERS   := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
MANPAGES  := $(sort $(wildcard man/*.[0-9]))

.PHONY: all test check unit fuzz fuzz-build bench install uninstall clean format
all: $(B)/libds.a $(TOOLS) $(UNITS)

# Rebuild everything when the flags change (SANITIZE=1 after a plain build, and back).
FLAGS_NOW := $(CC) $(CFLAGS) $(LDFLAGS) $(LDLIBS)
ifneq ($(shell cat $(B)/flags.stamp 2>/dev/null),$(FLAGS_NOW))
$(shell mkdir -p $(B) && printf '%s' '$(subst ','\'',$(FLAGS_NOW))' > $(B)/flags.stamp)
endif

$(B)/libds/%.o: libds/%.c $(B)/flags.stamp
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libds.a: $(LIB_OBJ)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(B)/cmd/%.o: cmd/%.c $(B)/flags.stamp
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BIN)/%: $(B)/cmd/%.o $(B)/libds.a
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $< $(B)/libds.a $(LDLIBS)

$(B)/tests/%.o: tests/unit/%.c tests/unit/unit.h $(B)/flags.stamp
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) -Itests/unit -c -o $@ $<

$(B)/tests/test_%: $(B)/tests/test_%.o $(B)/libds.a
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $< $(B)/libds.a $(LDLIBS)

# make test: unit, CLI and lab tests; ends with "N passed, N failed, N skipped".
export DS_BIN := $(abspath $(BIN))
export DS_UNIT_DIR := $(abspath $(B)/tests)
test check: all
	$(Q)tests/run $(TESTS)

unit: all
	$(Q)tests/run unit

# libFuzzer harnesses, built with clang and ASan+UBSan. FUZZ_RUNS executions each
# (default 1e6 for a quick pass; FUZZ_RUNS=10000000 for the issue-level run).
FUZZ_RUNS ?= 1000000
FUZZ_BASE  := -std=gnu11 -D_GNU_SOURCE -g -O1 -iquote libds $(PKGCFLAGS) -DDS_VERSION='"$(VERSION)"' \
              -fno-sanitize-recover=undefined -DDS_FUZZING
FUZZ_FLAGS := $(FUZZ_BASE) -fsanitize=fuzzer,address,undefined
build/fuzz/libds/%.o: libds/%.c
	@mkdir -p $(@D)
	$(call say,FUZZCC,$<)$(FUZZCC) $(FUZZ_BASE) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRC:libds/%.c=build/fuzz/libds/%.o)
	@mkdir -p $(@D)
	$(call say,FUZZLD,$@)$(FUZZCC) $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS)
fuzz-build: $(FUZZERS)
fuzz: fuzz-build
	$(Q)tests/fuzz/run $(FUZZ_RUNS) $(FUZZERS)

bench: all
	$(Q)tests/bench/run

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) \
		$(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(TOOLS) $(SCRIPTS) $(DESTDIR)$(BINDIR)/
	for m in $(MANPAGES); do s=$${m##*.}; install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	for f in completions/*.bash; do [ -e "$$f" ] || continue; \
		b=$$(basename $$f .bash); install -m 0644 $$f $(DESTDIR)$(BASHCOMPDIR)/$$b; done
	for f in completions/_*; do [ -e "$$f" ] || continue; install -m 0644 $$f $(DESTDIR)$(ZSHCOMPDIR)/; done
	for f in completions/*.fish; do [ -e "$$f" ] || continue; install -m 0644 $$f $(DESTDIR)$(FISHCOMPDIR)/; done

uninstall:
	for t in $(notdir $(TOOLS) $(SCRIPTS)); do rm -f $(DESTDIR)$(BINDIR)/$$t; done
	for m in $(notdir $(MANPAGES)); do s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$$m; done
	for f in completions/*.bash; do [ -e "$$f" ] || continue; rm -f $(DESTDIR)$(BASHCOMPDIR)/$$(basename $$f .bash); done
	for f in completions/_*; do [ -e "$$f" ] || continue; rm -f $(DESTDIR)$(ZSHCOMPDIR)/$$(basename $$f); done
	for f in completions/*.fish; do [ -e "$$f" ] || continue; rm -f $(DESTDIR)$(FISHCOMPDIR)/$$(basename $$f); done

format:
	clang-format -i libds/*.[ch] cmd/*.c tests/unit/*.[ch] tests/fuzz/*.c

clean:
	rm -rf build bin

-include $(LIB_OBJ:.o=.d) $(CMD_SRC:cmd/%.c=$(B)/cmd/%.d) $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%.d)
.SECONDARY:
