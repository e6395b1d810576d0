/*  =========================================================================
    wp_proxy - the bus: an XSUB/XPUB proxy actor that forwards events from
    publishers to subscribers and subscriptions the other way, dropping
    (and counting) messages that are not valid envelopes.

    Publishers connect to the XSUB side ("pub endpoint"), subscribers to
    the XPUB side ("sub endpoint"). A valid envelope is two frames: a known
    topic (or a readiness probe "_probe.*") and a payload of at most
    max_frame bytes. Anything else is dropped before it reaches a
    subscriber.

    Commands on the actor pipe (each gets a reply):
        BIND pub_endpoint sub_endpoint
            Bind both sides. Replies "OK" pub_bound sub_bound (the bound
            endpoints with their real ports, useful with tcp://...:*) or
            "ERROR" reason.
        ALSO pub_endpoint sub_endpoint
            After BIND, bind both sides to a further pair of endpoints, e.g.
            inproc:// ones for components in the same process (no I/O
            thread, no copies). Replies "OK" or "ERROR" reason.
        MAXFRAME bytes
            Set the largest payload forwarded. Replies "OK".
        STATS
            Replies "OK" forwarded dropped (decimal strings).
        VERBOSE
            Log every drop, not only the first ones. Replies "OK".
        $TERM
            End the actor.
    =========================================================================
*/

#ifndef WP_PROXY_H_INCLUDED
#define WP_PROXY_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

//  The proxy actor: zactor_new (wp_proxy_actor, NULL).
void
    wp_proxy_actor (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
