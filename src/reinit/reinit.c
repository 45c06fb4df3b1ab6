#include "reinit/reinit.h"

#include <errno.h>
#include <sys/ioctl.h>

uint32_t reinit_features(int fd)
{
	__u32 mask = 0;
	if (ioctl(fd, FUSE_DEV_IOC_REINIT_FEATURES, &mask) < 0)
		return 0; /* ENOTTY: a kernel without the series */
	return mask;
}

int reinit_connection(int fd)
{
	return ioctl(fd, FUSE_DEV_IOC_REINIT) < 0 ? -errno : 0;
}

int reinit_revalidate_binds(int fd)
{
	return ioctl(fd, FUSE_DEV_IOC_BM_REVAL) < 0 ? -errno : 0;
}
