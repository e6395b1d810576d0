/*  =========================================================================
    wp_front_actor - the front door: an HTTP proxy in front of model
    servers (OpenAI, llama.cpp and Ollama APIs) that observes what clients
    ask for, and the service's own HTTP API on the same listener.

    It runs on the component skeleton (wp_component.h: START replies "OK"
    or "ERROR reason", STATS, CONFIG for a reload, $TERM), as an edge
    adapter rather than one of the seven components: warmupd starts it
    when proxy/listen (--proxy-listen) is set, and warmup-proxy runs it as
    its own process. It logs "proxy: serving http://HOST:PORT/" once it
    listens (port 0 takes a free port).

    Every request is passed to the model server and the answer passed back
    as it arrives: status, headers (less the hop-by-hop ones), and the
    body chunk by chunk (server-sent events, NDJSON), never buffered whole.
    libmicrohttpd serves the clients and libcurl's multi interface talks
    to the servers, both on this actor's zloop through their epoll
    descriptors, so one thread holds every connection (docs/proxy.md says
    why, with the measured overhead). Observed routes (wp_front.h) publish
    one usage.observed per request once the first byte of the answer came
    (or the answer ended), after that byte was handed on.

    The HTTP API (docs/proxy.md): POST /warmup/v1/usage, POST
    /warmup/v1/predict (answered from the view, wp_front_view.h), GET
    /warmup/v1/models (the scheduler's listing, as warmupctl models
    --json), GET /warmup/v1/stats (the proxy's counters), GET /healthz.
    =========================================================================
*/
#ifndef WP_FRONT_ACTOR_H_INCLUDED
#define WP_FRONT_ACTOR_H_INCLUDED

#include "wp_component.h"

#ifdef __cplusplus
extern "C" {
#endif

//  The proxy as a component definition ("proxy"), for wp_component_start.
extern const wp_component_def_t wp_front_def;

//  Take the proxy's command-line flags (--proxy-listen HOST:PORT,
//  --proxy-upstream URL) out of rest (n_rest entries; the others are
//  moved to the front, *n_rest updated) into config. Returns 0, or -1
//  after printing what is wrong (program names the messages).
int
    wp_front_flags (wp_config_t *config, const char *program, char **rest, int *n_rest);

//  The usage text of those flags.
#define WP_FRONT_FLAGS_USAGE \
    "  --proxy-listen HOST:PORT the OpenAI/Ollama proxy and HTTP API (proxy/listen;\n" \
    "                           default off; port 0 picks a free port)\n" \
    "  --proxy-upstream URL     the model server requests go to (proxy/upstream)\n"

#ifdef __cplusplus
}
#endif

#endif
