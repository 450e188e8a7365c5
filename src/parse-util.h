/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Pure parsers for the value syntaxes of the config file. All return 0 on success and -EINVAL
 * (or -ERANGE on overflow) on bad input, leaving ret_* untouched on failure. */

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/* "512M", "1.5G", "4096", "90%", "12.5%". Suffixes K/M/G/T are powers of 1024 (KiB-style
 * suffixes "KiB"/"MiB".. and a trailing "B" are accepted too); a bare number is bytes. "max" and
 * "infinity" give SIZE_UNSET-valued set sizes are NOT accepted here (callers decide). Whitespace
 * around the value is ignored. Percentages above 100% are -ERANGE. */
int parse_size(const char *s, ConfigSize *ret);

/* "10", "1.5s", "250ms", "100us", "2min", "1h", "1min 30s". Bare numbers are seconds. "infinity"
 * -> USEC_INFINITY. Returns usec. */
int parse_duration(const char *s, usec_t *ret);

/* A plain decimal number: digits only, no sign, no whitespace, no base prefix (strtoul() accepts
 * all of those). -ERANGE above UINT64_MAX. */
int parse_uint64(const char *s, uint64_t *ret);

/* "yes/no/true/false/on/off/1/0". */
int parse_boolean(const char *s, bool *ret);

/* "SIGTERM", "TERM", "15". Returns the signal number. */
int parse_signal(const char *s, int *ret);

/* Splits a command line into words: whitespace separates, "double" and 'single' quotes group,
 * backslash escapes the next character outside single quotes. Unbalanced quotes -> -EINVAL.
 * Empty result -> -EINVAL. Returns a NULL-terminated, newly allocated strv. */
int parse_command_line(const char *s, char ***ret);

/* "some 150ms 1s" / "full 100ms 2s" / "no" (disabled). */
int parse_pressure(const char *s, PressureConfig *ret);

/* A name fit for a cgroup node and a D-Bus path: [A-Za-z0-9_.-]+, not "." or "..", at most 64
 * chars, and not starting with "cgroup." / "memory." etc. (no '.' prefix issues). */
bool name_is_valid(const char *s);

/* The inverse direction, for messages and the CLI. Both return buf (or a literal). */
#define FORMAT_BYTES_MAX    48
#define FORMAT_DURATION_MAX 64

/* "512M", "460.8M" (one decimal, rounded, when inexact), "1023B", "max" (SIZE_UNSET). */
const char *format_bytes(char buf[static FORMAT_BYTES_MAX], uint64_t b);

/* "1min 30s", "150ms", "0", "infinity". */
const char *format_duration(char buf[static FORMAT_DURATION_MAX], usec_t u);
