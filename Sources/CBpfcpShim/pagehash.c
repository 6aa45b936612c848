/* A four-lane multiply-rotate hash with the round and final mixing of
 * xxHash64 (its published constants), written for whole pages: lengths are
 * usually 4096, so the lanes run without a tail most of the time. It is
 * not byte-for-byte xxHash64 and is used only to compare pages that bpfcp
 * hashed itself. */
#include <errno.h>
#include <string.h>
#include <sys/ptrace.h>
#include "bpfcp_pagehash.h"

#define PRIME1 0x9E3779B185EBCA87ULL
#define PRIME2 0xC2B2AE3D27D4EB4FULL
#define PRIME3 0x165667B19E3779F9ULL
#define PRIME4 0x85EBCA77C2B2AE63ULL
#define PRIME5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t round64(uint64_t lane, uint64_t input)
{
	lane += input * PRIME2;
	lane = rotl64(lane, 31);
	return lane * PRIME1;
}

static inline uint64_t merge64(uint64_t acc, uint64_t lane)
{
	acc ^= round64(0, lane);
	return acc * PRIME1 + PRIME4;
}

uint64_t bpfcp_page_hash(const void *data, size_t len)
{
	const unsigned char *p = data;
	const unsigned char *end = p + len;
	uint64_t h;

	if (len >= 32) {
		uint64_t a = PRIME1 + PRIME2, b = PRIME2, c = 0, d = 0 - PRIME1;

		while (end - p >= 32) {
			a = round64(a, load64(p));
			b = round64(b, load64(p + 8));
			c = round64(c, load64(p + 16));
			d = round64(d, load64(p + 24));
			p += 32;
		}
		h = rotl64(a, 1) + rotl64(b, 7) + rotl64(c, 12) + rotl64(d, 18);
		h = merge64(merge64(merge64(merge64(h, a), b), c), d);
	} else {
		h = PRIME5;
	}
	h += (uint64_t)len;

	while (end - p >= 8) {
		h ^= round64(0, load64(p));
		h = rotl64(h, 27) * PRIME1 + PRIME4;
		p += 8;
	}
	while (p < end) {
		h ^= (uint64_t)(*p++) * PRIME5;
		h = rotl64(h, 11) * PRIME1;
	}

	h ^= h >> 33;
	h *= PRIME2;
	h ^= h >> 29;
	h *= PRIME3;
	h ^= h >> 32;
	return h;
}

void bpfcp_page_hashes(const void *data, size_t pages, size_t page_size, uint64_t *out)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < pages; i++)
		out[i] = bpfcp_page_hash(p + i * page_size, page_size);
}

/* struct ptrace_rseq_configuration from the kernel's include/uapi/linux/ptrace.h,
 * which Debian 12's headers predate. */
struct rseq_configuration {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};

#define GET_RSEQ_CONFIGURATION 0x420f

int bpfcp_get_rseq_area(pid_t tid, uint64_t *address)
{
	struct rseq_configuration conf;

	memset(&conf, 0, sizeof(conf));
	if (ptrace(GET_RSEQ_CONFIGURATION, tid, (void *)sizeof(conf), &conf) < 0)
		return -errno;
	*address = conf.rseq_abi_pointer;
	return 0;
}

void bpfcp_clear_rseq_fields(void *page, size_t page_size, size_t offset)
{
	unsigned char *rseq = (unsigned char *)page + offset;

	/* struct rseq: cpu_id_start and cpu_id at 0..7, rseq_cs at 8, flags at 16, node_id and mm_cid at 24..31. */
	if (offset + 32 > page_size)
		return;
	memset(rseq, 0, 8);
	memset(rseq + 24, 0, 8);
}
