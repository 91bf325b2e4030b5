// An echo Ente in C: it serves its endpoint by answering each call with
// the body it was given, and says so in its journal.
//
// Bindings from ente's `provider` world by wit-bindgen (`provider.h`); the
// core module from Debian's clang and wasi-libc; `ente pack` makes it a
// component (with wasmtime's WASI adapter) that imports only what Journal
// grants. See README.md.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"

static void journal(ente_core_journal_level_t level, const char *text) {
    provider_string_t s;
    provider_string_set(&s, text);
    ente_core_journal_log(level, &s);
}

bool exports_ente_core_lifecycle_start(provider_string_t *err) {
    (void)err;
    // stdout is in every Ente's baseline: it reaches the journal.
    printf("echo-c starting\n");
    fflush(stdout);
    journal(ENTE_CORE_JOURNAL_LEVEL_INFO, "echo-c ready");
    return true;
}

void exports_ente_core_lifecycle_stop(void) {}

bool exports_ente_core_handler_handle(exports_ente_core_handler_ente_id_t *from,
                                      exports_ente_core_handler_endpoint_t *target,
                                      provider_list_u8_t *body, provider_list_u8_t *ret,
                                      provider_string_t *err) {
    exports_ente_core_handler_ente_id_free(from);
    exports_ente_core_handler_endpoint_free(target);
    if (body->len == 4 && memcmp(body->ptr, "fail", 4) == 0) {
        provider_list_u8_free(body);
        provider_string_dup(err, "asked to fail");
        return false;
    }
    // The body's memory becomes the reply's: the canonical ABI frees it
    // after the reply is read.
    *ret = *body;
    return true;
}
