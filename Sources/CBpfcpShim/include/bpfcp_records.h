/* The record layouts live in bpf/records.h so that the BPF programs and
 * Swift compile the same definitions. */
#include "../../../bpf/records.h"
