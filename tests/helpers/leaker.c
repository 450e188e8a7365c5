/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cgwatch-leaker: a synthetic worker for tests, the demo and the benchmark.
 *
 * It behaves like the applications cgwatch supervises, on purpose and measurably: it leaks
 * anonymous memory at a given rate, holds a steady amount, allocates short bursts, streams a file
 * through the page cache, maps a file (RSS its cgroup may not be charged for), forks leaking
 * children, ignores SIGTERM, crashes after a while, or speaks the sd_notify protocol (READY=1,
 * WATCHDOG=1). Modes combine: `--steady 50 --rate 10 --notify`
 * holds 50 MB, then leaks 10 MB/s on top, and says READY=1 once the 50 MB are resident.
 *
 * Units: "MB" on the command line and in the output is MiB (1048576 bytes), like the K/M/G sizes
 * of cgwatch.conf; rates are MiB per second; times are seconds unless the option says _ms.
 *
 * Only libc: the test VM and the benchmark run it on bare machines, and a dependency on
 * libsystemd would hide how little the notify protocol really needs.
 *
 * Output (stdout, line-buffered so it interleaves sanely in the journal and in pipes):
 *   leaker: start pid=N mode=rate+notify rate_mbps=20 ...      once, before any allocation
 *   leaker: ready pid=N rss_mb=...                              once set up (with or without --notify)
 *   leaker: stop pid=N signal=SIGTERM rss_mb=... leaked_mb=...  on SIGTERM/SIGINT, then exit 0
 *   leaker: exit pid=N code=C after_s=... rss_mb=...            on --exit-after
 *   leaker: report pid=N t_s=... rss_mb=... leaked_mb=...       every --report-ms, if asked
 *   leaker: watchdog-stopped pid=N                              when --watchdog-stop-after hits
 *   leaker: child pid=N exited code=C                           --fork: the parent reaped a child
 *
 * Exit codes: 0 on SIGTERM/SIGINT, CODE with --exit-after, 1 on a runtime error (mmap, fork,
 * open), 2 on a usage error. With --fork, the parent exits once every child is gone, with 0 if
 * they all exited 0, else with the first child's failure (128+signal for a killed child).
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB ((uint64_t) 1024 * 1024)
#define USEC_PER_SEC ((uint64_t) 1000000)
#define USEC_PER_MSEC ((uint64_t) 1000)
#define USEC_INFINITY UINT64_MAX

/* Leaked memory comes from chunks of this many bytes. They are reserved with MAP_NORESERVE and
 * touched page by page, so only what has been touched is resident; the size only bounds how
 * many mmap calls a long leak makes (a 10 GiB leak: 160 chunks). */
#define ARENA_CHUNK_BYTES (64 * MIB)

/* --stream reads this much per read(): big enough to be cheap, small enough that the buffer is
 * a rounding error next to the page cache being exercised (and it lives in .bss, touched once). */
#define STREAM_BUF_BYTES (128 * 1024)

/* The leak pays back at most this much lateness (see run_worker()). */
#define LEAK_CATCHUP_MAX_USEC (100 * USEC_PER_MSEC)

#define MAX_CHILDREN 1024

typedef struct Options {
        double rate_mbps;            /* leak rate, MiB/s; 0 = no leak */
        double steady_mb;            /* allocated and touched once, then held; MiB */
        double burst_mb;             /* one burst, MiB */
        double burst_every_s;        /* period of bursts, s; first burst one period after start */
        uint64_t burst_hold_usec;    /* how long a burst is held before it is freed */
        unsigned fork_children;      /* N children that each do the memory work */
        const char *stream_path;     /* file read over and over through the page cache */
        const char *map_path;        /* file mapped and read once, then held (RSS in file pages) */
        bool ignore_term;
        bool notify;
        uint64_t watchdog_usec;      /* WATCHDOG=1 period; 0 = none */
        uint64_t watchdog_stop_usec; /* stop sending WATCHDOG=1 after this (a hung worker); 0 = never */
        bool exit_after_set;
        uint64_t exit_after_usec;
        int exit_code;
        bool cpu_busy;               /* spin instead of sleeping (an "active" worker for idle tests) */
        uint64_t step_usec;          /* leak granularity */
        uint64_t report_usec;        /* periodic RSS line; 0 = none */
} Options;

/* The leak's bookkeeping: the chunk being filled and how much of it is touched. */
typedef struct Arena {
        uint8_t *chunk;
        size_t chunk_used;   /* bytes of the current chunk already touched */
        uint64_t total;      /* bytes touched over all chunks */
} Arena;

static long page_size;

/* Round a non-negative double to the nearest integer. Not llround(): that lives in libm, and the
 * build links nothing but libc. */
static uint64_t round_u64(double v) {
        return (uint64_t) (v + 0.5);
}

static uint64_t now_usec(void) {
        struct timespec ts;

        /* CLOCK_MONOTONIC: rates and deadlines must not jump with the wall clock. */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* Resident set size of this process in KiB, from /proc/self/status (VmRSS: anon + file + shmem
 * pages mapped by us; the page cache of --stream is not mapped, so it does not count here).
 * Returns -1 if it cannot be read. */
static long rss_kib(void) {
        char line[256];
        long kib = -1;
        FILE *f = fopen("/proc/self/status", "re");

        if (!f)
                return -1;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

static double rss_mb(void) {
        long kib = rss_kib();

        return kib < 0 ? -1.0 : (double) kib / 1024.0;
}

/* Write to one byte of every page in [p, p+len): a write fault gives each page its own frame, so
 * the memory is really resident and charged to our cgroup (a read would map the shared zero
 * page). The value is not zero so that nothing (KSM, zram) can fold the pages back together. */
static void touch_pages(uint8_t *p, size_t len) {
        for (size_t off = 0; off < len; off += (size_t) page_size)
                p[off] = (uint8_t) (0x5a ^ (off >> 12));
}

/* An anonymous private mapping that is not backed by huge pages. Without MADV_NOHUGEPAGE a kernel
 * with transparent_hugepage=always (Debian's default) would fault in 2 MiB at a time, and a
 * 1 MiB/s leak would advance in 2 MiB jumps. Returns NULL on failure. */
static uint8_t *map_anon(size_t len, bool noreserve) {
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | (noreserve ? MAP_NORESERVE : 0), -1, 0);

        if (p == MAP_FAILED)
                return NULL;
        (void) madvise(p, len, MADV_NOHUGEPAGE); /* best effort: EINVAL without THP support */
        return p;
}

/* Touch `bytes` more of leaked memory. Never freed: that is the point. Returns 0, or -ENOMEM. */
static int arena_grow(Arena *a, uint64_t bytes) {
        while (bytes > 0) {
                size_t n;

                if (!a->chunk || a->chunk_used == ARENA_CHUNK_BYTES) {
                        a->chunk = map_anon(ARENA_CHUNK_BYTES, /* noreserve= */ true);
                        if (!a->chunk)
                                return -ENOMEM;
                        a->chunk_used = 0;
                }
                n = ARENA_CHUNK_BYTES - a->chunk_used;
                if (n > bytes)
                        n = (size_t) bytes;
                touch_pages(a->chunk + a->chunk_used, n);
                a->chunk_used += n;
                a->total += n;
                bytes -= n;
        }
        return 0;
}

/* Send one datagram to $NOTIFY_SOCKET, as sd_notify(3) does: a filesystem path, or an abstract
 * socket name written with a leading '@'. The receiver learns our pid from SCM_CREDENTIALS,
 * which the kernel attaches when it has SO_PASSCRED set; we need not send any.
 * Returns 1 if sent, 0 if $NOTIFY_SOCKET is unset, -errno on failure. */
static int notify_send(const char *msg) {
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t len;
        socklen_t salen;
        ssize_t r;
        int fd;

        if (!path || !*path)
                return 0;
        len = strlen(path);
        if (path[0] != '/' && path[0] != '@')
                return -EAFNOSUPPORT; /* systemd also accepts vsock: addresses; cgwatch does not */
        if (len >= sizeof sa.sun_path)
                return -EINVAL;
        memcpy(sa.sun_path, path, len);
        if (path[0] == '@') {
                /* Abstract namespace: a leading NUL, and the length counts exactly the name's
                 * bytes (no terminating NUL, which would become part of the name). */
                sa.sun_path[0] = '\0';
                salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len);
        } else
                salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len + 1);

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        r = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *) &sa, salen);
        if (r < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        close(fd);
        return 1;
}

static void notify_or_warn(const char *msg) {
        int r = notify_send(msg);

        if (r < 0)
                fprintf(stderr, "leaker: failed to send %s to $NOTIFY_SOCKET: %s, ignoring\n",
                        msg, strerror(-r));
        else if (r == 0)
                fprintf(stderr, "leaker: --notify given but $NOTIFY_SOCKET is unset, ignoring\n");
}

/* A --burst: mapped, touched, held for burst_hold_usec, then unmapped so the RSS really drops
 * (free() of a large block would do the same via munmap, but only above glibc's mmap threshold). */
typedef struct Burst {
        uint8_t *p;
        size_t len;
        uint64_t free_at_usec;
        uint64_t next_at_usec;
} Burst;

static const char *mode_string(const Options *o, char *buf, size_t size) {
        buf[0] = '\0';
#define ADD(cond, name)                                                                  \
        do {                                                                             \
                if (cond) {                                                              \
                        if (buf[0])                                                      \
                                strncat(buf, "+", size - strlen(buf) - 1);               \
                        strncat(buf, name, size - strlen(buf) - 1);                      \
                }                                                                        \
        } while (0)
        ADD(o->fork_children > 0, "fork");
        ADD(o->rate_mbps > 0, "rate");
        ADD(o->steady_mb > 0, "steady");
        ADD(o->burst_mb > 0, "burst");
        ADD(o->stream_path, "stream");
        ADD(o->map_path, "map");
        ADD(o->ignore_term, "ignore-term");
        ADD(o->notify, "notify");
        ADD(o->exit_after_set, "exit-after");
        ADD(o->cpu_busy, "cpu-busy");
#undef ADD
        if (!buf[0])
                strncat(buf, "idle", size - 1);
        return buf;
}

static void usage(FILE *f) {
        fputs("Usage: cgwatch-leaker [OPTIONS]\n"
              "  --rate MB/s             leak anonymous memory at this rate (MiB/s; 0 = no leak)\n"
              "  --step-ms MS            leak in steps of this period (default 5)\n"
              "  --steady MB             allocate and touch MB once, then hold it\n"
              "  --burst MB              allocate MB, hold it briefly, free it ...\n"
              "  --burst-every SEC       ... every SEC seconds (first burst after SEC)\n"
              "  --burst-hold-ms MS      how long a burst is held (default 500)\n"
              "  --fork N                fork N children that each do the memory work (--rate,\n"
              "                          --steady, --burst, --stream); the parent only waits, and\n"
              "                          keeps --notify and --exit-after\n"
              "  --stream FILE           read FILE over and over through the page cache\n"
              "  --map FILE              map FILE read-only, read every page once, hold the mapping\n"
              "                          (its pages count in RSS; a cgroup is charged for them\n"
              "                          only if it read them first)\n"
              "  --ignore-term           ignore SIGTERM (for stop-timeout tests)\n"
              "  --notify                send READY=1 to $NOTIFY_SOCKET once set up\n"
              "  --watchdog-ms MS        send WATCHDOG=1 every MS ms (implies --notify)\n"
              "  --watchdog-stop-after SEC  stop sending WATCHDOG=1 after SEC s (a hung worker)\n"
              "  --exit-after SEC CODE   exit with CODE after SEC seconds (a crashing worker)\n"
              "  --report-ms MS          print RSS every MS ms\n"
              "  --cpu-busy              spin on the CPU instead of sleeping\n"
              "  --cpu-idle              do nothing, without waking up (the default)\n"
              "SIGTERM/SIGINT: print the resident MB and exit 0.\n",
              f);
}

/* Parse a non-negative finite number; sizes, rates and seconds may be fractional. */
static int parse_double(const char *s, double *ret) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_usec(const char *s, double unit_usec, uint64_t *ret) {
        double v;

        if (parse_double(s, &v) < 0 || v * unit_usec > 1e15) /* ~31 years: plenty */
                return -EINVAL;
        *ret = round_u64(v * unit_usec);
        return 0;
}

static int parse_options(int argc, char **argv, Options *o) {
        enum {
                OPT_RATE = 0x100, OPT_STEP_MS, OPT_STEADY, OPT_BURST, OPT_BURST_EVERY,
                OPT_BURST_HOLD_MS, OPT_FORK, OPT_STREAM, OPT_MAP, OPT_IGNORE_TERM, OPT_NOTIFY,
                OPT_WATCHDOG_MS, OPT_WATCHDOG_STOP, OPT_EXIT_AFTER, OPT_REPORT_MS,
                OPT_CPU_BUSY, OPT_CPU_IDLE,
        };
        static const struct option longopts[] = {
                { "help", no_argument, NULL, 'h' },
                { "rate", required_argument, NULL, OPT_RATE },
                { "step-ms", required_argument, NULL, OPT_STEP_MS },
                { "steady", required_argument, NULL, OPT_STEADY },
                { "burst", required_argument, NULL, OPT_BURST },
                { "burst-every", required_argument, NULL, OPT_BURST_EVERY },
                { "burst-hold-ms", required_argument, NULL, OPT_BURST_HOLD_MS },
                { "fork", required_argument, NULL, OPT_FORK },
                { "stream", required_argument, NULL, OPT_STREAM },
                { "map", required_argument, NULL, OPT_MAP },
                { "ignore-term", no_argument, NULL, OPT_IGNORE_TERM },
                { "notify", no_argument, NULL, OPT_NOTIFY },
                { "watchdog-ms", required_argument, NULL, OPT_WATCHDOG_MS },
                { "watchdog-stop-after", required_argument, NULL, OPT_WATCHDOG_STOP },
                { "exit-after", required_argument, NULL, OPT_EXIT_AFTER },
                { "report-ms", required_argument, NULL, OPT_REPORT_MS },
                { "cpu-busy", no_argument, NULL, OPT_CPU_BUSY },
                { "cpu-idle", no_argument, NULL, OPT_CPU_IDLE },
                {}
        };
        int c, idx = 0;
        double v;

        *o = (Options) {
                .step_usec = 5 * USEC_PER_MSEC,
                .burst_hold_usec = 500 * USEC_PER_MSEC,
        };

        /* '+': no argument permutation, so that --exit-after can take the word after its
         * argument as the exit code. */
        while ((c = getopt_long(argc, argv, "+h", longopts, &idx)) >= 0) {
                switch (c) {
                case 'h':
                        usage(stdout);
                        exit(0);
                case OPT_RATE:
                        if (parse_double(optarg, &o->rate_mbps) < 0)
                                goto bad;
                        break;
                case OPT_STEP_MS:
                        if (parse_usec(optarg, USEC_PER_MSEC, &o->step_usec) < 0 || o->step_usec == 0)
                                goto bad;
                        break;
                case OPT_STEADY:
                        if (parse_double(optarg, &o->steady_mb) < 0)
                                goto bad;
                        break;
                case OPT_BURST:
                        if (parse_double(optarg, &o->burst_mb) < 0)
                                goto bad;
                        break;
                case OPT_BURST_EVERY:
                        if (parse_double(optarg, &o->burst_every_s) < 0 || o->burst_every_s <= 0)
                                goto bad;
                        break;
                case OPT_BURST_HOLD_MS:
                        if (parse_usec(optarg, USEC_PER_MSEC, &o->burst_hold_usec) < 0)
                                goto bad;
                        break;
                case OPT_FORK:
                        if (parse_double(optarg, &v) < 0 || v < 1 || v > MAX_CHILDREN || v != (double) (unsigned) v)
                                goto bad;
                        o->fork_children = (unsigned) v;
                        break;
                case OPT_STREAM:
                        o->stream_path = optarg;
                        break;
                case OPT_MAP:
                        o->map_path = optarg;
                        break;
                case OPT_IGNORE_TERM:
                        o->ignore_term = true;
                        break;
                case OPT_NOTIFY:
                        o->notify = true;
                        break;
                case OPT_WATCHDOG_MS:
                        if (parse_usec(optarg, USEC_PER_MSEC, &o->watchdog_usec) < 0 || o->watchdog_usec == 0)
                                goto bad;
                        o->notify = true;
                        break;
                case OPT_WATCHDOG_STOP:
                        if (parse_usec(optarg, USEC_PER_SEC, &o->watchdog_stop_usec) < 0)
                                goto bad;
                        break;
                case OPT_EXIT_AFTER: {
                        char *end;
                        long code;

                        if (parse_usec(optarg, USEC_PER_SEC, &o->exit_after_usec) < 0)
                                goto bad;
                        if (optind >= argc) {
                                fprintf(stderr, "leaker: --exit-after needs SEC and CODE\n");
                                return -EINVAL;
                        }
                        errno = 0;
                        code = strtol(argv[optind], &end, 10);
                        if (errno != 0 || end == argv[optind] || *end || code < 0 || code > 255) {
                                fprintf(stderr, "leaker: bad exit code '%s' (0-255)\n", argv[optind]);
                                return -EINVAL;
                        }
                        o->exit_code = (int) code;
                        o->exit_after_set = true;
                        optind++;
                        break;
                }
                case OPT_REPORT_MS:
                        if (parse_usec(optarg, USEC_PER_MSEC, &o->report_usec) < 0)
                                goto bad;
                        break;
                case OPT_CPU_BUSY:
                        o->cpu_busy = true;
                        break;
                case OPT_CPU_IDLE:
                        o->cpu_busy = false;
                        break;
                default:
                        usage(stderr);
                        return -EINVAL;
                }
                continue;
        bad:
                fprintf(stderr, "leaker: bad value '%s' for --%s\n", optarg, longopts[idx].name);
                return -EINVAL;
        }
        if (optind < argc) {
                fprintf(stderr, "leaker: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        if ((o->burst_mb > 0) != (o->burst_every_s > 0)) {
                fprintf(stderr, "leaker: --burst and --burst-every go together\n");
                return -EINVAL;
        }
        if (o->fork_children > 0 && o->rate_mbps <= 0) {
                fprintf(stderr, "leaker: --fork needs --rate (each child leaks at that rate)\n");
                return -EINVAL;
        }
        return 0;
}

/* Wait for a signal in `set` until `deadline` (USEC_INFINITY: forever). sigtimedwait() on
 * blocked signals closes the race between "check the flag" and "go to sleep" that a handler plus
 * nanosleep() would have, and an idle leaker makes no wake-ups at all (IdleTimeoutSec tests
 * measure that it uses no CPU). Returns the signal number, or 0 on timeout. */
static int wait_signal(const sigset_t *set, uint64_t deadline) {
        for (;;) {
                uint64_t now = now_usec();
                struct timespec ts;
                int sig;

                if (deadline == USEC_INFINITY)
                        sig = sigwaitinfo(set, NULL);
                else {
                        uint64_t left = deadline > now ? deadline - now : 0;

                        ts.tv_sec = (time_t) (left / USEC_PER_SEC);
                        ts.tv_nsec = (long) (left % USEC_PER_SEC) * 1000;
                        sig = sigtimedwait(set, NULL, &ts);
                }
                if (sig > 0)
                        return sig;
                if (errno == EAGAIN)
                        return 0;
                /* EINTR: a signal outside the set (SIGSTOP/SIGCONT); wait again. */
        }
}

static uint64_t min_u64(uint64_t a, uint64_t b) {
        return a < b ? a : b;
}

static const char *signal_name(int sig) {
        switch (sig) {
        case SIGTERM: return "SIGTERM";
        case SIGINT: return "SIGINT";
        default: return "?";
        }
}

/* The memory work: rate leak, steady hold, bursts, stream. Runs in the single process, or in each
 * --fork child. `main_process` also does the notify protocol and --exit-after.
 * Returns the process's exit code. */
static int run_worker(const Options *o, const sigset_t *waitset, bool main_process) {
        uint64_t start;
        uint64_t rate_bytes_per_sec = round_u64(o->rate_mbps * (double) MIB);
        uint64_t next_leak = USEC_INFINITY, next_watchdog = USEC_INFINITY, next_report = USEC_INFINITY;
        uint64_t exit_at = USEC_INFINITY, watchdog_stop_at = USEC_INFINITY;
        static uint8_t stream_buf[STREAM_BUF_BYTES];
        Burst burst = { .free_at_usec = USEC_INFINITY, .next_at_usec = USEC_INFINITY };
        Arena arena = {};
        uint64_t stream_passes = 0, last_leak = 0;
        double leak_owed = 0; /* bytes the rate owes us that are not yet leaked */
        int stream_fd = -EBADF;

        if (o->steady_mb > 0) {
                size_t len = (size_t) round_u64(o->steady_mb * (double) MIB);
                uint8_t *p = map_anon(len, /* noreserve= */ false);

                if (!p) {
                        fprintf(stderr, "leaker: failed to map %.1f MB: %m\n", o->steady_mb);
                        return 1;
                }
                touch_pages(p, len); /* held until exit; never unmapped */
        }
        if (o->map_path) {
                int fd = open(o->map_path, O_RDONLY | O_CLOEXEC);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0) {
                        fprintf(stderr, "leaker: failed to open %s: %m\n", o->map_path);
                        return 1;
                }
                const volatile uint8_t *p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_SHARED, fd, 0);
                close(fd);
                if (p == MAP_FAILED) {
                        fprintf(stderr, "leaker: failed to map %s: %m\n", o->map_path);
                        return 1;
                }
                uint8_t sum = 0;
                for (off_t i = 0; i < st.st_size; i += page_size)
                        sum += p[i]; /* held until exit; never unmapped */
                (void) sum;
        }
        if (o->stream_path) {
                stream_fd = open(o->stream_path, O_RDONLY | O_CLOEXEC);
                if (stream_fd < 0) {
                        fprintf(stderr, "leaker: failed to open %s: %m\n", o->stream_path);
                        return 1;
                }
        }

        printf("leaker: ready pid=%d rss_mb=%.1f\n", (int) getpid(), rss_mb());
        if (main_process && o->notify)
                notify_or_warn("READY=1");

        /* Deadlines are absolute, on the monotonic clock, measured from the end of set-up so that
         * a big --steady does not count against the leak rate. */
        start = now_usec();
        if (rate_bytes_per_sec > 0)
                next_leak = last_leak = start;
        if (o->burst_mb > 0)
                burst.next_at_usec = start + round_u64(o->burst_every_s * (double) USEC_PER_SEC);
        if (main_process && o->watchdog_usec > 0) {
                next_watchdog = start + o->watchdog_usec;
                if (o->watchdog_stop_usec > 0)
                        watchdog_stop_at = start + o->watchdog_stop_usec;
        }
        if (main_process && o->exit_after_set)
                exit_at = start + o->exit_after_usec;
        if (o->report_usec > 0)
                next_report = start + o->report_usec;

        for (;;) {
                uint64_t now = now_usec(), deadline;
                int sig;

                if (now >= exit_at) {
                        printf("leaker: exit pid=%d code=%d after_s=%.3f rss_mb=%.1f\n", (int) getpid(),
                               o->exit_code, (double) (now - start) / USEC_PER_SEC, rss_mb());
                        return o->exit_code;
                }
                if (now >= next_leak) {
                        /* Leak what the rate owes us since the last step, rather than a fixed
                         * amount per step: late wake-ups (a loaded host, TCG) then do not lower
                         * the average rate. But forgive a debt older than LEAK_CATCHUP_MAX_USEC:
                         * a worker held back by memory.high throttling must not pay back seconds
                         * of leak in one spike the moment the brake is released (a real app
                         * whose allocations stalled does not either). */
                        double owed = leak_owed + (double) rate_bytes_per_sec * (double) (now - last_leak) / USEC_PER_SEC;
                        double max_owed = (double) rate_bytes_per_sec * LEAK_CATCHUP_MAX_USEC / USEC_PER_SEC;
                        uint64_t n;

                        if (owed > max_owed)
                                owed = max_owed;
                        n = (uint64_t) owed;
                        if (n > 0 && arena_grow(&arena, n) < 0) {
                                fprintf(stderr, "leaker: mmap failed after %.1f MB: %m\n",
                                        (double) arena.total / MIB);
                                return 1;
                        }
                        leak_owed = owed - (double) n;
                        last_leak = now;
                        next_leak = now + o->step_usec;
                }
                if (now >= burst.next_at_usec) {
                        /* A hold longer than the period: the previous burst ends when the next
                         * begins, so bursts never pile up into a leak. */
                        if (burst.p)
                                munmap(burst.p, burst.len);
                        burst.len = (size_t) round_u64(o->burst_mb * (double) MIB);
                        burst.p = map_anon(burst.len, /* noreserve= */ false);
                        if (!burst.p) {
                                fprintf(stderr, "leaker: burst of %.1f MB failed: %m\n", o->burst_mb);
                                return 1;
                        }
                        touch_pages(burst.p, burst.len);
                        burst.free_at_usec = now_usec() + o->burst_hold_usec;
                        burst.next_at_usec = now + round_u64(o->burst_every_s * (double) USEC_PER_SEC);
                }
                if (now >= burst.free_at_usec) {
                        munmap(burst.p, burst.len);
                        burst.p = NULL;
                        burst.free_at_usec = USEC_INFINITY;
                }
                if (now >= next_watchdog) {
                        if (now < watchdog_stop_at) {
                                notify_or_warn("WATCHDOG=1");
                                next_watchdog = now + o->watchdog_usec;
                        } else {
                                printf("leaker: watchdog-stopped pid=%d\n", (int) getpid());
                                next_watchdog = USEC_INFINITY; /* hung, on purpose */
                        }
                }
                if (now >= next_report) {
                        printf("leaker: report pid=%d t_s=%.3f rss_mb=%.1f leaked_mb=%.1f\n", (int) getpid(),
                               (double) (now - start) / USEC_PER_SEC, rss_mb(), (double) arena.total / MIB);
                        next_report = now + o->report_usec;
                }

                deadline = min_u64(min_u64(min_u64(next_leak, exit_at), min_u64(burst.next_at_usec, burst.free_at_usec)),
                                   min_u64(next_watchdog, next_report));

                if (stream_fd >= 0) {
                        /* Streaming never sleeps: one read per turn, then a zero-timeout look for
                         * signals. The data is discarded; what grows is the page cache. */
                        ssize_t n = read(stream_fd, stream_buf, sizeof stream_buf);

                        if (n == 0) {
                                stream_passes++;
                                if (lseek(stream_fd, 0, SEEK_SET) < 0) {
                                        fprintf(stderr, "leaker: lseek %s: %m\n", o->stream_path);
                                        return 1;
                                }
                        } else if (n < 0 && errno != EINTR) {
                                fprintf(stderr, "leaker: read %s: %m\n", o->stream_path);
                                return 1;
                        }
                        deadline = now; /* poll */
                } else if (o->cpu_busy)
                        deadline = now;

                sig = wait_signal(waitset, deadline);
                if (sig > 0) {
                        printf("leaker: stop pid=%d signal=%s rss_mb=%.1f leaked_mb=%.1f", (int) getpid(),
                               signal_name(sig), rss_mb(), (double) arena.total / MIB);
                        if (o->stream_path)
                                printf(" stream_passes=%" PRIu64, stream_passes);
                        printf("\n");
                        return 0;
                }
        }
}

/* --fork: N children do the memory work, the parent forwards SIGTERM/SIGINT, keeps the notify
 * protocol (only the main pid may speak it, NotifyAccess=main) and reaps.
 * Returns the parent's exit code. */
static int run_parent(const Options *o, const sigset_t *waitset) {
        static pid_t children[MAX_CHILDREN];
        unsigned alive = 0;
        int result = 0;
        Options child_opts = *o;
        Options parent_opts = {
                .notify = o->notify,
                .watchdog_usec = o->watchdog_usec,
                .watchdog_stop_usec = o->watchdog_stop_usec,
                .exit_after_set = o->exit_after_set,
                .exit_after_usec = o->exit_after_usec,
                .exit_code = o->exit_code,
        };
        sigset_t parent_set = *waitset;
        uint64_t start = now_usec(), next_watchdog = USEC_INFINITY, exit_at = USEC_INFINITY;
        uint64_t watchdog_stop_at = USEC_INFINITY;
        pid_t parent = getpid();

        child_opts.fork_children = 0;
        child_opts.notify = false;
        child_opts.watchdog_usec = 0;
        child_opts.exit_after_set = false;

        for (unsigned i = 0; i < o->fork_children; i++) {
                pid_t pid = fork();

                if (pid < 0) {
                        fprintf(stderr, "leaker: fork: %m\n");
                        for (unsigned j = 0; j < i; j++)
                                kill(children[j], SIGKILL);
                        return 1;
                }
                if (pid == 0) {
                        /* A child must not outlive a parent that crashed (--exit-after) or was
                         * SIGKILLed: on the host there is no cgroup.kill to sweep it up. */
                        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                                _exit(1);
                        _exit(run_worker(&child_opts, waitset, /* main_process= */ false));
                }
                children[i] = pid;
                alive++;
        }

        printf("leaker: ready pid=%d children=%u rss_mb=%.1f\n", (int) getpid(), alive, rss_mb());
        if (parent_opts.notify)
                notify_or_warn("READY=1");
        if (parent_opts.watchdog_usec > 0) {
                next_watchdog = start + parent_opts.watchdog_usec;
                if (parent_opts.watchdog_stop_usec > 0)
                        watchdog_stop_at = start + parent_opts.watchdog_stop_usec;
        }
        if (parent_opts.exit_after_set)
                exit_at = start + parent_opts.exit_after_usec;

        sigaddset(&parent_set, SIGCHLD);
        while (alive > 0) {
                uint64_t now = now_usec();
                int sig, status;
                pid_t pid;

                if (now >= exit_at) {
                        printf("leaker: exit pid=%d code=%d after_s=%.3f rss_mb=%.1f\n", (int) getpid(),
                               parent_opts.exit_code, (double) (now - start) / USEC_PER_SEC, rss_mb());
                        return parent_opts.exit_code; /* the children die with us: PDEATHSIG */
                }
                if (now >= next_watchdog) {
                        if (now < watchdog_stop_at) {
                                notify_or_warn("WATCHDOG=1");
                                next_watchdog = now + parent_opts.watchdog_usec;
                        } else {
                                printf("leaker: watchdog-stopped pid=%d\n", (int) getpid());
                                next_watchdog = USEC_INFINITY;
                        }
                }

                sig = wait_signal(&parent_set, min_u64(exit_at, next_watchdog));
                if (sig == SIGTERM || sig == SIGINT) {
                        for (unsigned i = 0; i < o->fork_children; i++)
                                if (children[i] > 0)
                                        kill(children[i], sig);
                        printf("leaker: stop pid=%d signal=%s rss_mb=%.1f children=%u\n", (int) getpid(),
                               signal_name(sig), rss_mb(), alive);
                        /* A well-behaved parent waits for its children before it exits. */
                        while (alive > 0 && (pid = waitpid(-1, &status, 0)) > 0)
                                alive--;
                        return 0;
                }
                /* SIGCHLD (or a timeout): reap whatever has exited. */
                while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

                        for (unsigned i = 0; i < o->fork_children; i++)
                                if (children[i] == pid)
                                        children[i] = 0;
                        alive--;
                        printf("leaker: child pid=%d exited code=%d\n", (int) pid, code);
                        if (code != 0 && result == 0)
                                result = code;
                }
        }
        return result;
}

int main(int argc, char **argv) {
        char mode[128];
        sigset_t waitset;
        Options o;

        page_size = sysconf(_SC_PAGESIZE);
        setvbuf(stdout, NULL, _IOLBF, 0);

        if (parse_options(argc, argv, &o) < 0)
                return 2;

        /* Signals are taken synchronously with sigtimedwait(), so they are blocked, not handled.
         * --ignore-term must not block SIGTERM: a blocked signal stays pending even when its
         * disposition is SIG_IGN, and the stop-timeout tests need it truly ignored. */
        sigemptyset(&waitset);
        sigaddset(&waitset, SIGINT);
        if (o.ignore_term)
                signal(SIGTERM, SIG_IGN);
        else
                sigaddset(&waitset, SIGTERM);
        {
                sigset_t block = waitset;

                sigaddset(&block, SIGCHLD);
                sigprocmask(SIG_BLOCK, &block, NULL);
        }

        printf("leaker: start pid=%d mode=%s rate_mbps=%g steady_mb=%g burst_mb=%g burst_every_s=%g"
               " fork=%u stream=%s watchdog_ms=%g\n",
               (int) getpid(), mode_string(&o, mode, sizeof mode), o.rate_mbps, o.steady_mb, o.burst_mb,
               o.burst_every_s, o.fork_children, o.stream_path ? o.stream_path : "-",
               (double) o.watchdog_usec / USEC_PER_MSEC);

        if (o.fork_children > 0)
                return run_parent(&o, &waitset);
        return run_worker(&o, &waitset, /* main_process= */ true);
}
