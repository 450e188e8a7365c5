/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The bus name of the daemon of one dyno (cgwatch@NAME.service, cgwatchd --dyno=NAME):
 * CGWATCH_DYNO_BUS_NAME_PREFIX "." + NAME escaped as sd_bus_path_encode() escapes a path element
 * ([A-Za-z0-9] kept; anything else, and a leading digit, as _xx in hex), so every instance name
 * gives a valid bus name element: "a" -> org.cgwatch1.dyno.a, "web-1" -> org.cgwatch1.dyno.web_2d1.
 * Returns 0 and a new string, -EINVAL for an empty name or one longer than DYNO_NAME_MAX bytes,
 * -ENOMEM. */

#define DYNO_NAME_MAX 64

int dyno_bus_name(const char *dyno, char **ret);
