/*  =========================================================================
    wp_proxy - the bus: an XSUB/XPUB proxy actor that forwards events from
    publishers to subscribers and subscriptions the other way, dropping
    (and counting) messages that are not valid envelopes.

    Publishers connect to the XSUB side ("pub endpoint"), subscribers to
    the XPUB side ("sub endpoint"). A valid envelope is two frames: a known
    topic (or a readiness probe "_probe.*") and a payload of at most
    max_frame bytes. Anything else is dropped before it reaches a
    subscriber.

    What enters the bus is checked and changed here, where the sender is
    known (docs/security.md):

    * Authentication: with CURVE, both sides are CURVE servers and a zauth
      actor (ZAP) admits only the keys given with KEY; each connection's
      messages then carry the key's role and name as ZAP metadata. A
      peer in this process (inproc://), or any peer of a bus without
      CURVE, has the role "local".
    * Authorisation by topic: "client" keys may publish usage.observed,
      usage.intent and control.request for COMMAND_MODELS only; "component" keys every topic
      but control.request (pin, unpin, reload); "operator" keys and local
      peers everything. A warmup.requested or control.request refused is
      answered on control.reply (component "bus", ok false, the reason),
      and counted; other refusals are counted and logged.
    * The principal ("role/name", or "local") is stamped on every
      warmup.requested and control.request forwarded (their field
      `principal`, appended: protobuf keeps the last value).
    * No raw user id past ingress: the user and session of usage.observed
      and usage.intent are replaced by their keyed hashes (wp_ingress)
      under the USERKEY.
    * Rate limit: usage.observed beyond RATELIMIT events/s per client key
      are dropped and counted (the service's own keys, operators and local
      peers are not limited).
    * ipc:// endpoints are bound with mode 0600 (under umask 077, then
      chmod): only this user can connect.

    Commands on the actor pipe (each gets a reply):
        CURVE public_key secret_key
            Before BIND: be a CURVE server with this key pair (Z85).
            Replies "OK" or "ERROR" reason.
        KEY role name public_key
            Before BIND: admit a client key (Z85) with its role
            ("operator", "component", "client") and a name for logs and
            principals (a key given twice keeps its first role).
            Replies "OK" or "ERROR" reason.
        USERKEY hex
            The SipHash key (32 hex digits) of user ids. Without it a
            random key is used (hashes change with each start). Replies
            "OK" or "ERROR" reason.
        RATELIMIT events_per_s
            Per-publisher limit of usage.observed (0 = none, the default).
            Replies "OK" or "ERROR" reason.
        HEARTBEAT ms source
            Publish the proxy's own heartbeat (component "bus") every ms,
            with this header source. Replies "OK" or "ERROR" reason.
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
        HWM messages
            Before BIND: the high-water mark of both sides (default
            100000): what the proxy holds from publishers, and for each
            subscriber, at most; beyond it the subscriber loses events
            (its sequence gaps count them). Replies "OK" or "ERROR" reason.
        STATS
            Replies "OK" forwarded dropped refused rate_limited hashed
            auth_failures (decimal strings; dropped counts invalid
            envelopes only).
        VERBOSE
            Log every drop, not only the first ones. Replies "OK".
        $TERM
            End the actor.

    One proxy per process may use CURVE (ZAP has one handler per process).
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
