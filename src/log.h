/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Logging: to the journal when stderr is connected to it (or $JOURNAL_STREAM says so), else to
 * stderr with a monotonic timestamp. Like systemd's log_*_errno(), the _errno variants set errno
 * so that %m names the error, and return -abs(error) so callers can `return log_..._errno()`. */

#include <stdarg.h>
#include <syslog.h>

#include "shared/macro.h"

void log_open(void);
void log_set_max_level(int level);
int log_get_max_level(void);
bool log_to_journal(void);
/* The journal's native socket could not be reached at start, or a send failed with an error
 * (sd_journal_send() reports none for a missing socket): from now on text on stderr, said once
 * there. */
void log_journal_failed(int error);

int log_internal(int level, int error, const char *file, int line, const char *func, const char *format, ...)
        _printf_(6, 7);

#define log_full_errno(level, error, ...) log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_debug(...)                    log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)                     log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)                   log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...)                  log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)                    log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...)           log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...)            log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...)         log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)           log_full_errno(LOG_ERR, (e), __VA_ARGS__)
#define log_oom()                         log_error_errno(ENOMEM, "Out of memory.")
