/* lg-writer: play the Looking Glass host application (B7) inside the guest, for the VM lane.
 * usage: lg-writer RESOURCE   (the ivshmem BAR2, /sys/bus/pci/devices/ADDR/resource2)
 *
 * Writes an LGMP header in the B7 layout (protocol version 6) at offset 0 of the shared memory,
 * with a KVMFR record in its user data, then moves the header's timestamp (milliseconds)
 * every 100 ms, as the host application does while it runs, until the host side writes
 * STOP_MAGIC at STOP_AT. Then it stops writing and exits, leaving the last timestamp. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* lgmp/src/headers.h (LGMP_PROTOCOL_VERSION 6, Looking Glass B7) */
#define LGMP_PROTOCOL_MAGIC   0x504d474cu
#define LGMP_PROTOCOL_VERSION 6
#define LGMP_MAX_QUEUES       5

struct lgmp_header_queue {
	uint32_t queue_id, num_messages, new_sub_count, max_time, position, messages_offset;
	uint64_t subs;
	uint32_t lock, start;
	uint64_t msg_timeout;
	uint32_t count;
};

struct lgmp_header {
	uint32_t magic, version, session_id;
	uint64_t timestamp;
	uint32_t num_queues;
	struct lgmp_header_queue queues[LGMP_MAX_QUEUES];
	uint32_t udata_size;
	uint8_t udata[];
};

/* common/include/common/KVMFR.h (B7) */
struct kvmfr {
	char magic[8];
	uint32_t version;
	char hostver[32];
	uint32_t features;
};

#define STOP_AT    (1u << 20)
#define STOP_MAGIC "NEURON-VM-LG-STOP"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct stat st;
	struct lgmp_header *h;
	struct kvmfr *k;
	unsigned char *mem;
	unsigned long writes = 0;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: lg-writer RESOURCE\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_SYNC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		perror(argv[1]);
		return 1;
	}
	if ((size_t)st.st_size < STOP_AT + sizeof(STOP_MAGIC)) {
		fprintf(stderr, "lg-writer: %s is too small (%lld bytes)\n", argv[1], (long long)st.st_size);
		return 1;
	}
	mem = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(mem + STOP_AT, 0, sizeof(STOP_MAGIC));
	h = (struct lgmp_header *)mem;
	memset(h, 0, sizeof(*h) + sizeof(*k));
	h->version = LGMP_PROTOCOL_VERSION;
	h->session_id = (uint32_t)now_ms() ^ (uint32_t)getpid() << 16;
	h->timestamp = now_ms();
	h->udata_size = sizeof(*k);
	k = (struct kvmfr *)h->udata;
	memcpy(k->magic, "KVMFR---", 8);
	k->version = 20;
	snprintf(k->hostver, sizeof(k->hostver), "B7-neuron-vm-lane");
	__sync_synchronize();
	h->magic = LGMP_PROTOCOL_MAGIC; /* last: a reader never sees a half-written header */
	printf("lg-writer: header written, session %u, KVMFR at offset %zu\n", h->session_id,
	       offsetof(struct lgmp_header, udata));
	fflush(stdout);
	while (memcmp(mem + STOP_AT, STOP_MAGIC, sizeof(STOP_MAGIC)) != 0) {
		h->timestamp = now_ms();
		writes++;
		usleep(100 * 1000);
	}
	printf("lg-writer: stopped after %lu timestamps\n", writes);
	munmap(mem, (size_t)st.st_size);
	close(fd);
	return 0;
}
