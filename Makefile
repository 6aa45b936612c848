# Builds the BPF programs, embeds them in the Swift binaries and runs the
# tools and their tests. Every target installs its Debian packages first.

BUILD      := build
SKEL_DIR   := Sources/CBpfcpShim/skel
OBJECTS_C  := Sources/CBpfcpShim/objects.gen.c
BPF_SRCS   := $(wildcard bpf/*.bpf.c)
KINDS      := $(patsubst bpf/%.bpf.c,%,$(BPF_SRCS))
SKELS      := $(patsubst %,$(SKEL_DIR)/%.skel.h,$(KINDS))
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -I$(BUILD) -Ibpf
SWIFT      ?= swift
DEMO_FLAGS ?= --demo

.PHONY: all deps bpf build release run test bench clean

# Keep the compiled objects between runs instead of deleting them as intermediates.
.SECONDARY:

all: build

deps:
	@sh tools/ensure-deps.sh

$(BUILD)/vmlinux.h: | deps
	@mkdir -p $(BUILD)
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp
	mv $@.tmp $@

# clang-14 on purpose: newer clang targets a newer BPF CPU by default.
$(BUILD)/%.full.o: bpf/%.bpf.c bpf/*.h $(BUILD)/vmlinux.h
	clang-14 $(BPF_CFLAGS) -c $< -o $@

# The shared fd-table pass includes every kind that defines a visit function.
FD_KIND_SRCS := $(filter-out bpf/fdtable.bpf.c,$(BPF_SRCS))

$(BUILD)/fd_visitors.h: $(FD_KIND_SRCS) tools/gen-fd-visitors.sh | deps
	@mkdir -p $(BUILD)
	sh tools/gen-fd-visitors.sh $@ $(FD_KIND_SRCS)

$(BUILD)/fdtable.full.o: $(BUILD)/fd_visitors.h $(FD_KIND_SRCS)

# bpftool gen object strips DWARF, which cuts each object about tenfold.
$(BUILD)/%.bpf.o: $(BUILD)/%.full.o
	bpftool gen object $@ $<

$(SKEL_DIR)/%.skel.h: $(BUILD)/%.bpf.o
	@mkdir -p $(SKEL_DIR)
	bpftool gen skeleton $< name bpfcp_$* > $@.tmp
	mv $@.tmp $@

$(OBJECTS_C): $(SKELS) tools/gen-objects.sh
	sh tools/gen-objects.sh $(SKEL_DIR) $@

bpf: deps $(OBJECTS_C)

build: bpf
	$(SWIFT) build

release: bpf
	$(SWIFT) build -c release

run: release
	.build/release/bpfcp-top $(DEMO_FLAGS)

# Every test is XCTest. Swift Testing is switched off so that its empty
# "0 tests" summary does not become the last line of the run.
test: bpf
	$(SWIFT) build
	$(SWIFT) test --disable-swift-testing

bench: release
	sh tools/bench.sh

clean:
	rm -rf $(BUILD) $(SKEL_DIR) $(OBJECTS_C) .build
