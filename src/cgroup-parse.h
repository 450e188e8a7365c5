/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Pure parsers for cgroup v2 memory files. They take a buffer (never an fd), tolerate unknown
 * keys, truncated lines and garbage, and are fuzzed. All return 0 on success, -EINVAL when a
 * required key is missing or a number is malformed, -ERANGE when a known key's number does not
 * fit in 64 bits, leaving ret untouched on failure. */

#include <stddef.h>
#include <stdint.h>

typedef struct MemoryEvents { /* memory.events */
        uint64_t low, high, max, oom, oom_kill, oom_group_kill;
} MemoryEvents;

typedef struct MemoryStat { /* memory.stat (bytes) */
        uint64_t anon;
        uint64_t file;   /* includes shmem in cgroup v2 */
        uint64_t kernel; /* 0 on kernels without the key (sum of parts then) */
        uint64_t kernel_stack;
        uint64_t pagetables;
        uint64_t sock;
        uint64_t shmem;
        uint64_t slab_reclaimable;
        uint64_t slab_unreclaimable;
} MemoryStat;

typedef struct PressureLine {
        double avg10, avg60, avg300; /* percent */
        uint64_t total_usec;
} PressureLine;

typedef struct MemoryPressure {  /* memory.pressure, /proc/pressure/memory */
        PressureLine some, full; /* "full" may be absent (older /proc/pressure/cpu): zeros */
} MemoryPressure;

/* memory.events: "key value" lines. high/max/oom/oom_kill are required; others default to 0. */
int memory_events_parse(const char *buf, size_t len, MemoryEvents *ret);

/* memory.stat: anon and file are required; the rest default to 0. */
int memory_stat_parse(const char *buf, size_t len, MemoryStat *ret);

/* memory.pressure: "some avg10=.. avg60=.. avg300=.. total=..", optionally "full ...". */
int memory_pressure_parse(const char *buf, size_t len, MemoryPressure *ret);

/* A single number file (memory.current, memory.peak, memory.high when not "max").
 * "max" -> UINT64_MAX. Trailing newline allowed. */
int cgroup_value_parse(const char *buf, size_t len, uint64_t *ret);

/* cpu.stat: usage_usec (required). */
int cpu_stat_parse_usage(const char *buf, size_t len, uint64_t *ret_usage_usec);

/* /proc/meminfo: MemTotal and MemAvailable ("kB" lines), in bytes; available is clamped to total.
 * -EINVAL when either is missing or malformed, or MemTotal is 0. */
int proc_meminfo_parse(const char *buf, size_t len, uint64_t *ret_total_bytes, uint64_t *ret_available_bytes);

/* Bytes the kernel cannot reclaim without killing: memory.current minus reclaimable page cache
 * (file - shmem) and minus slab_reclaimable, clamped to [0, current]. This is what a budget is
 * judged on: a worker streaming files through the page cache trips memory.high and PSI, yet
 * owns little of this. */
uint64_t memory_unreclaimable_bytes(uint64_t memory_current, const MemoryStat *st);
