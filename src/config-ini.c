/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A small INI tokenizer of our own, instead of libinih.
 *
 * Why not libinih (Debian 12's libinih1 / libinih-dev, as checked): it ignores quotes, so its
 * inline comments cut "ExecStart=/bin/sh -c 'a ; b'" at the ';'; it accepts "Key: value" as an
 * assignment; it continues a line by indenting the next one (handed over as a second value of the
 * same key), where systemd-style files expect a trailing backslash; and Debian builds it without INI_HANDLER_LINENO, so
 * the handler is never told the line number that every error here must name (a line-counting reader passed to
 * ini_parse_stream() could recover it). Line length is not the reason: the build's INI_MAX_LINE is 200, but the library
 * exports the runtime knobs ini_max_line and ini_allow_realloc, which lift that limit. So we tokenize ourselves: quotes
 * honoured, '=' only, backslash continuation lines, trailing comments, line numbers throughout, no line length limit.
 * It is ~200 lines and fuzzed (tests/fuzz/fuzz-config.c).
 *
 * Syntax, in the order it is applied to each physical line (split at '\n'; a trailing '\r' goes
 * with the surrounding whitespace):
 *   - a UTF-8 byte order mark at the start of the text is skipped; a NUL byte is an error;
 *   - whitespace around the line is removed; empty lines and lines starting with '#' or ';' are
 *     skipped (also between the parts of a continued line, like systemd does);
 *   - a line ending in an odd number of backslashes continues on the next line: the last
 *     backslash becomes a space. The joined line is reported with its first line number;
 *   - on the joined line, '#' or ';' preceded by whitespace and outside '…' or "…" quotes starts a
 *     comment that runs to the end ("MemoryLimit=512M   # the dyno limit"); a backslash outside
 *     single quotes escapes the next character;
 *   - "[text]" is a section header; anything else must be "Key=Value", split at the first '='. */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config-ini.h"

#define WHITESPACE " \t\n\r"

static bool is_space(char c) {
        return c != 0 && strchr(WHITESPACE, c);
}

static char *strstrip(char *s) {
        size_t n;

        s += strspn(s, WHITESPACE);
        n = strlen(s);
        while (n > 0 && is_space(s[n - 1]))
                s[--n] = 0;
        return s;
}

int ini_error(char **ret_error, const char *file, unsigned line, const char *key, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        char *s = NULL;
        va_list ap;
        int r;

        if (!ret_error)
                return -EINVAL;

        va_start(ap, format);
        r = vasprintf(&msg, format, ap);
        va_end(ap);
        if (r < 0) {
                msg = NULL; /* undefined after a failed vasprintf() */
                *ret_error = NULL;
                return -ENOMEM;
        }

        if (key)
                r = asprintf(&s, "%s:%u: %s: %s", file ?: "(unknown)", line, key, msg);
        else
                r = asprintf(&s, "%s:%u: %s", file ?: "(unknown)", line, msg);
        if (r < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }

        *ret_error = s;
        return -EINVAL;
}

char *ini_quote(const char *s) {
        static const size_t max = 80;
        size_t n = strlen(s), shown = MIN(n, max);
        /* worst case: every byte as \xNN, plus quotes, "...", NUL */
        char *buf = malloc(shown * 4 + 6), *p = buf;

        if (!buf)
                return NULL;

        *p++ = '"';
        for (size_t i = 0; i < shown; i++) {
                unsigned char c = (unsigned char) s[i];

                if (c == '"' || c == '\\') {
                        *p++ = '\\';
                        *p++ = (char) c;
                } else if (c < 0x20 || c >= 0x7f)
                        p += sprintf(p, "\\x%02x", c);
                else
                        *p++ = (char) c;
        }
        *p++ = '"';
        if (n > max)
                p = stpcpy(p, "...");
        *p = 0;
        return buf;
}

/* Cuts a trailing "  # comment" or "  ; comment" off l, in place. Quotes are tracked so that
 * ExecStart=/bin/sh -c 'a ; b' keeps its ';'. */
static void strip_trailing_comment(char *l) {
        enum { QUOTE_NONE, QUOTE_SINGLE, QUOTE_DOUBLE } quote = QUOTE_NONE;
        bool after_space = false;

        for (char *p = l; *p; p++) {
                char c = *p;

                if (quote == QUOTE_SINGLE) {
                        if (c == '\'')
                                quote = QUOTE_NONE;
                        after_space = false;
                        continue;
                }
                if (c == '\\') {
                        if (p[1])
                                p++;
                        after_space = false;
                        continue;
                }
                if (quote == QUOTE_DOUBLE) {
                        if (c == '"')
                                quote = QUOTE_NONE;
                        after_space = false;
                        continue;
                }

                if ((c == '#' || c == ';') && after_space) {
                        *p = 0;
                        return;
                }
                if (c == '\'')
                        quote = QUOTE_SINGLE;
                else if (c == '"')
                        quote = QUOTE_DOUBLE;
                after_space = is_space(c);
        }
}

/* Keys are printed unquoted at the front of error messages: keep them short and plain. */
static bool key_is_valid(const char *k) {
        if (strlen(k) > 64)
                return false;
        for (; *k; k++)
                if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
                      strchr("_.-", *k)))
                        return false;
        return true;
}

typedef struct Tokenizer {
        const char *filename;
        IniSectionHandler on_section;
        IniAssignmentHandler on_assignment;
        void *userdata;
        bool have_section;
} Tokenizer;

/* Handles one logical line (writable, NUL-terminated). */
static int tokenizer_line(Tokenizer *t, char *l, unsigned line, char **ret_error) {
        char *eq, *key, *value;
        int r;

        strip_trailing_comment(l);
        l = strstrip(l);
        if (*l == 0)
                return 0;

        if (*l == '[') {
                char *end = strchr(l, ']');

                if (!end)
                        return ini_error(ret_error, t->filename, line, NULL, "missing ']' in section header");
                if (end[1] != 0) {
                        _cleanup_free_ char *q = ini_quote(strstrip(end + 1));

                        if (!q)
                                return -ENOMEM;
                        return ini_error(ret_error, t->filename, line, NULL, "unexpected text after ']': %s", q);
                }
                *end = 0;

                r = t->on_section(t->userdata, t->filename, line, strstrip(l + 1), ret_error);
                if (r < 0)
                        return r;
                t->have_section = true;
                return 0;
        }

        eq = strchr(l, '=');
        if (!eq) {
                _cleanup_free_ char *q = ini_quote(l);

                if (!q)
                        return -ENOMEM;
                return ini_error(ret_error, t->filename, line, NULL, "missing '=' in %s", q);
        }
        *eq = 0;
        key = strstrip(l);
        value = strstrip(eq + 1);

        if (*key == 0)
                return ini_error(ret_error, t->filename, line, NULL, "missing key before '='");
        if (!key_is_valid(key)) {
                _cleanup_free_ char *q = ini_quote(key);

                if (!q)
                        return -ENOMEM;
                return ini_error(ret_error, t->filename, line, NULL, "invalid key name %s", q);
        }
        if (!t->have_section)
                return ini_error(ret_error, t->filename, line, NULL, "%s= outside of any section", key);

        return t->on_assignment(t->userdata, t->filename, line, key, value, ret_error);
}

typedef struct LineBuf {
        char *data;
        size_t len, cap;
} LineBuf;

static void line_buf_done(LineBuf *b) {
        free(b->data);
}

static int line_buf_append(LineBuf *b, const char *s, size_t n) {
        if (n + 1 > b->cap - b->len || !b->data) {
                size_t cap = MAX(b->cap, (size_t) 128);

                while (cap - b->len < n + 1) {
                        if (cap > SIZE_MAX / 2)
                                return -ENOMEM;
                        cap *= 2;
                }
                char *d = realloc(b->data, cap);
                if (!d)
                        return -ENOMEM;
                b->data = d;
                b->cap = cap;
        }
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = 0;
        return 0;
}

int ini_parse_buffer(const char *text, size_t len, const char *filename, IniSectionHandler on_section,
                     IniAssignmentHandler on_assignment, void *userdata, char **ret_error) {
        _cleanup_(line_buf_done) LineBuf lb = {};
        Tokenizer t = {
                .filename = filename,
                .on_section = on_section,
                .on_assignment = on_assignment,
                .userdata = userdata,
        };
        unsigned line = 0, first_line = 0;
        bool continued = false;
        size_t pos = 0;
        int r;

        if (len > 0 && !text)
                return -EINVAL;

        if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
                pos = 3;

        while (pos < len) {
                const char *start = text + pos, *nl = memchr(start, '\n', len - pos);
                size_t n = nl ? (size_t) (nl - start) : len - pos, backslashes = 0;

                pos += n + (nl ? 1 : 0);
                line++;

                if (memchr(start, 0, n))
                        return ini_error(ret_error, filename, line, NULL, "NUL byte in line");

                while (n > 0 && is_space(start[n - 1]))
                        n--;
                while (n > 0 && is_space(*start)) {
                        start++;
                        n--;
                }

                if (n > 0 && (*start == '#' || *start == ';'))
                        continue;
                if (!continued) {
                        if (n == 0)
                                continue;
                        first_line = line;
                        lb.len = 0;
                }

                while (backslashes < n && start[n - 1 - backslashes] == '\\')
                        backslashes++;
                continued = backslashes % 2 == 1;

                r = line_buf_append(&lb, start, continued ? n - 1 : n);
                if (r < 0)
                        return r;
                if (continued) {
                        r = line_buf_append(&lb, " ", 1);
                        if (r < 0)
                                return r;
                        continue;
                }

                r = tokenizer_line(&t, lb.data, first_line, ret_error);
                if (r < 0)
                        return r;
        }

        /* A continuation at the very end of the text: take what we have. */
        if (continued)
                return tokenizer_line(&t, lb.data, first_line, ret_error);

        return 0;
}
