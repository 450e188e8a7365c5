/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* See dyno-name.h. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "cgwatch/cgwatch.h"
#include "dyno-name.h"
#include "shared/macro.h"

int dyno_bus_name(const char *dyno, char **ret) {
        _cleanup_free_ char *path = NULL;
        char *name;
        int r;

        if (!dyno || !*dyno || strlen(dyno) > DYNO_NAME_MAX)
                return -EINVAL;
        /* "/x/<label>": the label is what sd-bus makes of one path element. */
        r = sd_bus_path_encode("/x", dyno, &path);
        if (r < 0)
                return r;
        if (asprintf(&name, "%s.%s", CGWATCH_DYNO_BUS_NAME_PREFIX, path + strlen("/x/")) < 0)
                return -ENOMEM;
        *ret = name;
        return 0;
}
