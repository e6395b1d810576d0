/*  =========================================================================
    wp_security - the configuration's security settings put to work: is
    CURVE on for a bus, which keys a program connects with, the bus proxy
    of a service started with its keys, user-id key and limits, and the
    installation secret and HTTP operator token (docs/security.md).

    Keys are found the same way by every program: bus/server_key,
    bus/client_key, bus/allowed_keys, bus/operator_keys when configured,
    else under <data_dir>/keys (wp_keys), where data_dir comes from
    --data-dir, the file's store/data_dir, or $WARMUP_DATA_DIR. The
    program that runs the proxy (warmupd, warmup-bus) makes what is
    missing on its first start and says where.
    =========================================================================
*/
#ifndef WP_SECURITY_H_INCLUDED
#define WP_SECURITY_H_INCLUDED

#include <czmq.h>
#include "wp_bus.h"
#include "wp_config.h"
#include "wp_keys.h"

#ifdef __cplusplus
extern "C" {
#endif

//  What a bus client connects with.
typedef struct {
    bool curve;                 //  CURVE is on for its endpoints
    wp_keypair_t server;        //  the proxy's public key
    wp_keypair_t client;        //  its own pair
    char path [1024];           //  the certificate it came from
} wp_client_keys_t;

//  True when CURVE is on for a bus with these endpoints: bus/curve, or
//  with "auto" unless both are ipc:// socket files or inproc://.
bool
    wp_security_curve (const wp_config_t *config, const char *pub, const char *sub);

//  The keys a client of pub/sub connects with: bus/client_key, else
//  <data_dir>/keys/<default_key> (WP_KEYS_COMPONENT, WP_KEYS_OPERATOR).
//  With wait, keys not there yet are waited for up to bus/ready_timeout_ms
//  (the bus makes them on its first start). Returns 0 (keys->curve false
//  when CURVE is off), or -1 with error saying which file and what to do.
int
    wp_security_client (const wp_config_t *config, const char *pub, const char *sub,
                        const char *default_key, bool wait, wp_client_keys_t *keys,
                        char *error, size_t size);

//  Put a client's keys into bus options (they point into keys).
void
    wp_security_bus_opts (const wp_client_keys_t *keys, wp_bus_opts_t *opts);

//  The installation secret (32 bytes): user_hash_key, else
//  <data_dir>/keys/installation.key, made from the OS when absent and
//  create. Returns 0, or -1 with error.
int
    wp_security_secret (const wp_config_t *config, bool create,
                        uint8_t secret [WP_KEYS_SECRET_LEN], char *error, size_t size);

//  The SipHash key of user ids (16 bytes), derived from the secret.
int
    wp_security_user_key (const wp_config_t *config, bool create, uint8_t key [16],
                          char *error, size_t size);

//  The bearer token of HTTP control routes: http/operator_token, else
//  <data_dir>/keys/operator.token (made when absent and create). A server
//  keeps its wp_keys_token_hash under the secret and compares hashes
//  (wp_keys_token_equal). Returns 0, or -1 with error.
int
    wp_security_operator_token (const wp_config_t *config, bool create, char *token,
                                size_t token_size, char *error, size_t size);

//  Start the bus proxy of a service (warmupd, warmup-bus): keys made or
//  read (their place printed on stdout), CURVE with every allowed key and
//  its role, the user-id key, the rate limit (none in replay mode), a
//  heartbeat; bound to the configuration's endpoints (updated with the
//  real ports) and, when given, to the inproc pair too. NULL after
//  logging why.
zactor_t *
    wp_security_start_proxy (wp_config_t *config, const char *program,
                             const char *inproc_pub, const char *inproc_sub, bool verbose);

#ifdef __cplusplus
}
#endif

#endif
