/* vfio-open: use a VFIO group the way QEMU does, to prove a bind is real.
 * usage: vfio-open GROUP ADDR   (GROUP as in /dev/vfio/GROUP, ADDR 0000:00:03.0)
 * Opens the container and the group, checks the group is viable, attaches it to a type1
 * IOMMU container and gets the device's fd and info. Exit 0 and one "vfio-open: ok" line
 * when all of it worked, 1 with the failing step otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int fail(const char *step)
{
	printf("vfio-open: %s: %s\n", step, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	char path[64];
	int container, group, device;
	struct vfio_group_status status = { .argsz = sizeof status };
	struct vfio_device_info info = { .argsz = sizeof info };

	if (argc != 3) {
		fprintf(stderr, "usage: vfio-open GROUP ADDR\n");
		return 2;
	}
	container = open("/dev/vfio/vfio", O_RDWR);
	if (container < 0)
		return fail("open /dev/vfio/vfio");
	if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return fail("VFIO_GET_API_VERSION");
	if (ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1)
		return fail("VFIO_CHECK_EXTENSION type1v2");
	snprintf(path, sizeof path, "/dev/vfio/%s", argv[1]);
	group = open(path, O_RDWR);
	if (group < 0)
		return fail(path);
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &status))
		return fail("VFIO_GROUP_GET_STATUS");
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		printf("vfio-open: group %s is not viable (a device of it is bound to a host driver)\n",
		       argv[1]);
		return 1;
	}
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container))
		return fail("VFIO_GROUP_SET_CONTAINER");
	if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return fail("VFIO_SET_IOMMU");
	device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[2]);
	if (device < 0)
		return fail("VFIO_GROUP_GET_DEVICE_FD");
	if (ioctl(device, VFIO_DEVICE_GET_INFO, &info))
		return fail("VFIO_DEVICE_GET_INFO");
	printf("vfio-open: ok group %s device %s regions %u irqs %u%s\n", argv[1], argv[2],
	       info.num_regions, info.num_irqs, (info.flags & VFIO_DEVICE_FLAGS_PCI) ? " pci" : "");
	close(device);
	close(group);
	close(container);
	return 0;
}
