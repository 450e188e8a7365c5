/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libcgroup.h>

#include "cgroup.h"
#include "cgroup-parse.h"

int cgroup_root_open(const char *mount, bool use_libcgroup, CgroupRoot *ret) {
        _cleanup_close_ int fd = -EBADF;
        char *m;

        fd = open(mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        m = strdup(mount);
        if (!m)
                return -ENOMEM;

        /* libcgroup reads /proc/mounts to find the hierarchy; it only helps on a real cgroupfs. */
        if (use_libcgroup && cgroup_init() != 0)
                use_libcgroup = false;

        *ret = (CgroupRoot){.fd = TAKE_FD(fd), .mount = m, .use_libcgroup = use_libcgroup};
        return 0;
}

void cgroup_root_close(CgroupRoot *r) {
        r->fd = safe_close(r->fd);
        free(r->mount);
        r->mount = NULL;
}

int cgroup_parse_proc_self(const char *text, size_t len, char **ret) {
        const char *p = text, *end = text + len;

        while (p < end) {
                const char *eol = memchr(p, '\n', end - p);
                if (!eol)
                        eol = end;
                if (eol - p >= 3 && memcmp(p, "0::", 3) == 0) {
                        const char *s = p + 3;
                        while (s < eol && *s == '/')
                                s++;
                        /* Strip a trailing " (deleted)"-free path; the kernel never adds one here. */
                        char *r = strndup(s, eol - s);
                        if (!r)
                                return -ENOMEM;
                        *ret = r;
                        return 0;
                }
                p = eol + 1;
        }
        return -ENOENT;
}

int cgroup_get_self(const char *proc, char **ret) {
        char path[PATH_MAX], buf[4096];
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        snprintf(path, sizeof path, "%s/self/cgroup", proc);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = cgroup_read_fd(fd, buf, sizeof buf);
        if (n < 0)
                return (int) n;
        return cgroup_parse_proc_self(buf, (size_t) n, ret);
}

char *cgroup_path_join(const char *a, const char *b) {
        char *r;
        if (!a || !*a)
                return strdup(b);
        if (!b || !*b)
                return strdup(a);
        if (asprintf(&r, "%s/%s", a, b) < 0)
                return NULL;
        return r;
}

/* openat() wants a relative path; "" means the mount itself. */
static const char *rel(const char *path) {
        return path && *path ? path : ".";
}

int cgroup_open_dir(const CgroupRoot *r, const char *path) {
        int fd = openat(r->fd, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int cgroup_open_file(const CgroupRoot *r, const char *path, const char *file, int flags) {
        _cleanup_close_ int dfd = cgroup_open_dir(r, path);
        if (dfd < 0)
                return dfd;
        int fd = openat(dfd, file, flags | O_CLOEXEC | O_NOCTTY);
        return fd < 0 ? -errno : fd;
}

ssize_t cgroup_read_fd(int fd, char *buf, size_t size) {
        size_t got = 0;

        if (size == 0)
                return -EINVAL;
        /* pread from 0 each time: kernfs re-generates the text and re-arms POLLPRI on read. */
        while (got < size - 1) {
                ssize_t n = pread(fd, buf + got, size - 1 - got, (off_t) got);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        buf[got] = 0;
        /* A file that does not fit is refused rather than cut: a line cut mid-number ("anon 12"
         * of "anon 1234567") would parse as a wrong figure, not as an error. */
        if (got == size - 1) {
                char c;
                ssize_t n;
                do
                        n = pread(fd, &c, 1, (off_t) got);
                while (n < 0 && errno == EINTR);
                if (n > 0)
                        return -EFBIG;
        }
        return (ssize_t) got;
}

int cgroup_read_file(const CgroupRoot *r, const char *path, const char *file, char *buf, size_t size) {
        _cleanup_close_ int fd = cgroup_open_file(r, path, file, O_RDONLY);
        if (fd < 0)
                return fd;
        ssize_t n = cgroup_read_fd(fd, buf, size);
        return n < 0 ? (int) n : 0;
}

int cgroup_write_file(const CgroupRoot *r, const char *path, const char *file, const char *value) {
        _cleanup_close_ int fd = cgroup_open_file(r, path, file, O_WRONLY);
        size_t len = strlen(value);
        if (fd < 0)
                return fd;
        ssize_t n = write(fd, value, len);
        if (n < 0)
                return -errno;
        return (size_t) n == len ? 0 : -EIO;
}

int cgroup_write_u64(const CgroupRoot *r, const char *path, const char *file, uint64_t value) {
        char buf[32];
        if (value == UINT64_MAX)
                strcpy(buf, "max");
        else
                snprintf(buf, sizeof buf, "%" PRIu64, value);
        return cgroup_write_file(r, path, file, buf);
}

int cgroup_read_u64(const CgroupRoot *r, const char *path, const char *file, uint64_t *ret) {
        char buf[64];
        int k = cgroup_read_file(r, path, file, buf, sizeof buf);
        if (k < 0)
                return k;
        return cgroup_value_parse(buf, strlen(buf), ret);
}

static bool word_in(const char *list, const char *word) {
        size_t l = strlen(word);
        for (const char *p = list; (p = strstr(p, word)); p += l)
                if ((p == list || p[-1] == ' ' || p[-1] == '\n') && (p[l] == 0 || p[l] == ' ' || p[l] == '\n'))
                        return true;
        return false;
}

int cgroup_has_controller(const CgroupRoot *r, const char *path, const char *controller) {
        char buf[512];
        int k = cgroup_read_file(r, path, "cgroup.controllers", buf, sizeof buf);
        if (k < 0)
                return k;
        return word_in(buf, controller);
}

int cgroup_enable_controllers(const CgroupRoot *r, const char *path, const char *const *controllers,
                              const char *const *required) {
        char cur[512];
        int k = cgroup_read_file(r, path, "cgroup.subtree_control", cur, sizeof cur);
        if (k < 0)
                return k;

        for (const char *const *c = controllers; *c; c++) {
                char v[64];
                if (word_in(cur, *c))
                        continue;
                snprintf(v, sizeof v, "+%s", *c);
                k = cgroup_write_file(r, path, "cgroup.subtree_control", v);
                if (k < 0)
                        for (const char *const *q = required; q && *q; q++)
                                if (streq(*q, *c))
                                        return k;
        }
        return 0;
}

int cgroup_mkdir(const CgroupRoot *r, const char *path) {
        if (mkdirat(r->fd, path, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static void libcgroup_freep(struct cgroup **cg) {
        if (*cg)
                cgroup_free(cg);
}

/* libcgroup (2.0.2, checked on cgroup v2): creates one level at a time and enables the memory
 * controller in the parent's subtree_control itself. Its errors are its own numbers; ECGOTHER
 * carries the real errno. */
static int create_libcgroup(const char *path, uint64_t memory_high, uint64_t pids_max) {
        _cleanup_(libcgroup_freep) struct cgroup *cg = NULL;
        struct cgroup_controller *mem, *pids;
        char v[32];
        int k;

        cg = cgroup_new_cgroup(path);
        if (!cg)
                return -ENOMEM;
        mem = cgroup_add_controller(cg, "memory");
        if (!mem)
                return -ENOMEM;
        if (memory_high == UINT64_MAX)
                strcpy(v, "max");
        else
                snprintf(v, sizeof v, "%" PRIu64, memory_high);
        if (cgroup_add_value_string(mem, "memory.high", v) != 0)
                return -EINVAL;
        if (pids_max != UINT64_MAX) {
                pids = cgroup_add_controller(cg, "pids");
                snprintf(v, sizeof v, "%" PRIu64, pids_max);
                if (!pids || cgroup_add_value_string(pids, "pids.max", v) != 0)
                        return -EINVAL;
        }
        k = cgroup_create_cgroup(cg, /* ignore_ownership= */ 1);
        if (k != 0)
                return k == ECGOTHER ? -cgroup_get_last_errno() : -EIO;
        return 0;
}

int cgroup_create(const CgroupRoot *r, const char *path, uint64_t memory_high, uint64_t pids_max) {
        int k;

        /* The values are written again below, so a reused node and both backends end up alike. */
        if (r->use_libcgroup && faccessat(r->fd, path, F_OK, 0) < 0) {
                k = create_libcgroup(path, memory_high, pids_max);
                if (k < 0)
                        return k;
        } else {
                k = cgroup_mkdir(r, path);
                if (k < 0)
                        return k;
        }

        k = cgroup_write_u64(r, path, "memory.high", memory_high);
        if (k < 0)
                return k;
        if (pids_max != UINT64_MAX) {
                k = cgroup_write_u64(r, path, "pids.max", pids_max);
                if (k < 0)
                        return k;
        }
        return 0;
}

int cgroup_remove(const CgroupRoot *r, const char *path) {
        if (unlinkat(r->fd, path, AT_REMOVEDIR) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 0;
}

int cgroup_remove_recursive(const CgroupRoot *r, const char *path) {
        _cleanup_close_ int dfd = cgroup_open_dir(r, path);
        DIR *d;
        struct dirent *de;
        int ret = 0;

        if (dfd == -ENOENT)
                return 0;
        if (dfd < 0)
                return dfd;
        d = fdopendir(TAKE_FD(dfd));
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *child = cgroup_path_join(path, de->d_name);
                if (!child) {
                        ret = -ENOMEM;
                        break;
                }
                int k = cgroup_remove_recursive(r, child);
                if (k < 0 && ret == 0)
                        ret = k;
        }
        closedir(d);
        int k = cgroup_remove(r, path);
        return ret < 0 ? ret : k;
}

int cgroup_attach(const CgroupRoot *r, const char *path, pid_t pid) {
        char v[32];
        snprintf(v, sizeof v, "%d", (int) pid);
        return cgroup_write_file(r, path, "cgroup.procs", v);
}

int cgroup_is_populated(const CgroupRoot *r, const char *path) {
        char buf[256];
        int k = cgroup_read_file(r, path, "cgroup.events", buf, sizeof buf);
        if (k < 0)
                return k;
        return strstr(buf, "populated 1") != NULL;
}

int cgroup_kill(const CgroupRoot *r, const char *path) {
        int k = cgroup_write_file(r, path, "cgroup.kill", "1");
        if (k != -ENOENT || faccessat(r->fd, rel(path), F_OK, 0) < 0)
                return k;

        /* No cgroup.kill (Linux < 5.14): SIGKILL each pid; new forks may race, so repeat a few times.
         * The list is read as a stream: a fork bomb's may be longer than any buffer. */
        for (int round = 0; round < 8; round++) {
                int fd = cgroup_open_file(r, path, "cgroup.procs", O_RDONLY);
                bool any = false;
                long pid;
                FILE *f;
                if (fd < 0)
                        return fd;
                f = fdopen(fd, "re");
                if (!f) {
                        safe_close(fd);
                        return -errno;
                }
                while (fscanf(f, "%ld", &pid) == 1)
                        if (pid > 0 && kill((pid_t) pid, SIGKILL) == 0)
                                any = true;
                fclose(f);
                if (!any)
                        break;
        }
        return 0;
}
