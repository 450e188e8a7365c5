/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The INI tokenizer under config.c: text -> (section header | key, value) events with line
 * numbers. It knows nothing about cgwatch's sections or keys. Pure: no I/O, no global state. */

#include <stddef.h>

#include "shared/macro.h"

/* Called for "[header]" with the text between the brackets, trimmed. Returns >= 0 to go on, or a
 * negative errno after setting *ret_error (when ret_error is not NULL). */
typedef int (*IniSectionHandler)(void *userdata, const char *filename, unsigned line, const char *header,
                                 char **ret_error);

/* Called for "Key=Value" with both sides trimmed and trailing comments removed; `line` is the
 * first physical line of a continued line. Same return convention as IniSectionHandler. */
typedef int (*IniAssignmentHandler)(void *userdata, const char *filename, unsigned line, const char *key,
                                    const char *value, char **ret_error);

/* Tokenizes text[0..len) (need not be NUL-terminated; a NUL byte inside is a syntax error).
 * Stops at the first error. Returns 0; -EINVAL with *ret_error = "FILE:LINE: what is wrong" for
 * syntax errors; whatever a handler returned (with its message); or -ENOMEM. */
int ini_parse_buffer(const char *text, size_t len, const char *filename, IniSectionHandler on_section,
                     IniAssignmentHandler on_assignment, void *userdata, char **ret_error);

/* Sets *ret_error (if ret_error is not NULL) to "FILE:LINE: KEY: message", or "FILE:LINE: message"
 * when key is NULL. A NULL file reads "(unknown)". Returns -EINVAL, or -ENOMEM if the message could
 * not be allocated (*ret_error is then NULL). */
int ini_error(char **ret_error, const char *file, unsigned line, const char *key, const char *format, ...)
        _printf_(5, 6);

/* Returns a new string: s in double quotes, with '"', '\' and bytes outside printable ASCII
 * escaped, and cut after 80 bytes with "..." appended, so that hostile values cannot mangle a
 * terminal or flood a log. NULL on OOM. */
char *ini_quote(const char *s);
