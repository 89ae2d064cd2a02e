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

/* Where LGMP protocol 6 (Looking Glass B7; gnif/LGMP lgmp/src/headers.h up to de89c63)
 * keeps its header's fields, from the start of the shared memory: the five queue headers
 * between the queue count and the udata size are left zero, as a host with no queue
 * traffic yet would show them. */
#define LGMP_PROTOCOL_MAGIC   0x504d474cu
#define LGMP_PROTOCOL_VERSION 6
#define AT_MAGIC      0
#define AT_VERSION    4
#define AT_SESSION    8
#define AT_TIMESTAMP  16
#define AT_QUEUES     24
#define AT_UDATA_SIZE 5752
#define AT_UDATA      5756

/* common/include/common/KVMFR.h (B7): the record the udata starts with */
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

/* little-endian, like the guest and the host */
static void put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

int main(int argc, char **argv)
{
	struct stat st;
	struct kvmfr *k;
	uint32_t session;
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
	memset(mem, 0, AT_UDATA + sizeof(*k));
	session = (uint32_t)now_ms() ^ (uint32_t)getpid() << 16;
	put32(mem + AT_VERSION, LGMP_PROTOCOL_VERSION);
	put32(mem + AT_SESSION, session);
	put64(mem + AT_TIMESTAMP, now_ms());
	put32(mem + AT_QUEUES, 2);
	put32(mem + AT_UDATA_SIZE, sizeof(*k));
	k = (struct kvmfr *)(mem + AT_UDATA);
	memcpy(k->magic, "KVMFR---", 8);
	k->version = 20;
	snprintf(k->hostver, sizeof(k->hostver), "B7-neuron-vm-lane");
	__sync_synchronize();
	put32(mem + AT_MAGIC, LGMP_PROTOCOL_MAGIC); /* last: a reader never sees a half-written header */
	printf("lg-writer: header written, session %u, KVMFR at offset %u\n", session, AT_UDATA);
	fflush(stdout);
	while (memcmp(mem + STOP_AT, STOP_MAGIC, sizeof(STOP_MAGIC)) != 0) {
		put64(mem + AT_TIMESTAMP, now_ms());
		writes++;
		usleep(100 * 1000);
	}
	printf("lg-writer: stopped after %lu timestamps\n", writes);
	munmap(mem, (size_t)st.st_size);
	close(fd);
	return 0;
}
