// vol-btrfs-helper: the two btrfs ioctls the driver makes on its hot path, served from one
// long-lived process so that a snapshot or a size limit costs no process start (the `btrfs`
// command costs one each: see bench/results/driver.md). Started by the btrfs backend
// (btrfs-helper.ts); it dies with the driver (PR_SET_PDEATHSIG) and ends at the end of its input.
//
// One request per line, fields separated by tabs, answered in order, one line each:
//   snapshot <0|1 read-only> <source subvolume> <destination path>   BTRFS_IOC_SNAP_CREATE_V2
//   limit <bytes> <subvolume path>                                    BTRFS_IOC_QGROUP_LIMIT (referenced bytes)
// Answer: "ok", or "error <errno> <message>". Paths hold no tab or newline (the caller checks).
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

static int answer(int err) {
  if (err == 0) return printf("ok\n");
  return printf("error\t%d\t%s\n", err, strerror(err));
}

/* Splits `path` into its directory (opened) and its last component (in `name`). */
static int open_parent(const char *path, char *name, size_t size) {
  const char *slash = strrchr(path, '/');
  if (!slash || slash[1] == '\0' || strlen(slash + 1) >= size) return -EINVAL;
  strcpy(name, slash + 1);
  char dir[4096];
  size_t len = slash == path ? 1 : (size_t)(slash - path);
  if (len >= sizeof dir) return -ENAMETOOLONG;
  memcpy(dir, path, len);
  dir[len] = '\0';
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

static int snapshot(int read_only, const char *src, const char *dst) {
  struct btrfs_ioctl_vol_args_v2 args;
  memset(&args, 0, sizeof args);
  int parent = open_parent(dst, args.name, sizeof args.name);
  if (parent < 0) return -parent;
  int source = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (source < 0) {
    int err = errno;
    close(parent);
    return err;
  }
  args.fd = source;
  args.flags = read_only ? BTRFS_SUBVOL_RDONLY : 0;
  int err = ioctl(parent, BTRFS_IOC_SNAP_CREATE_V2, &args) ? errno : 0;
  close(source);
  close(parent);
  return err;
}

static int limit(unsigned long long bytes, const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  struct btrfs_ioctl_qgroup_limit_args args;
  memset(&args, 0, sizeof args);
  args.qgroupid = 0; /* the subvolume of `fd` */
  args.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER;
  args.lim.max_rfer = bytes;
  int err = ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &args) ? errno : 0;
  close(fd);
  return err;
}

int main(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  char line[3 * 4096];
  while (fgets(line, sizeof line, stdin)) {
    size_t n = strlen(line);
    if (n == 0 || line[n - 1] != '\n') {
      answer(EINVAL);
    } else {
      line[n - 1] = '\0';
      char *fields[4] = {0};
      int count = 0;
      for (char *p = line; p && count < 4;) {
        fields[count++] = p;
        p = strchr(p, '\t');
        if (p) *p++ = '\0';
      }
      if (count == 4 && strcmp(fields[0], "snapshot") == 0) {
        answer(snapshot(strcmp(fields[1], "1") == 0, fields[2], fields[3]));
      } else if (count == 3 && strcmp(fields[0], "limit") == 0) {
        answer(limit(strtoull(fields[1], NULL, 10), fields[2]));
      } else {
        answer(EINVAL);
      }
    }
    fflush(stdout);
  }
  return 0;
}
