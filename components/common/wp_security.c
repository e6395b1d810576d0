/*  =========================================================================
    wp_security - the configuration's security settings put to work.
    =========================================================================
*/
#include <sodium.h>
#include "wp_security.h"
#include "wp_proxy.h"
#include "wp_util.h"

//  True for an endpoint only this machine's user (or process) reaches
//  without CURVE: an ipc:// socket file (the proxy makes it 0600) or
//  inproc://. An abstract ipc://@name has no file mode.
static bool
s_local (const char *endpoint)
{
    return strncmp (endpoint, "inproc://", 9) == 0
        || (strncmp (endpoint, "ipc://", 6) == 0 && endpoint [6] != '@');
}

//  Is CURVE on?
bool
wp_security_curve (const wp_config_t *config, const char *pub, const char *sub)
{
    assert (config && pub && sub);
    if (config->curve == WP_CURVE_ON)
        return true;
    if (config->curve == WP_CURVE_OFF)
        return false;
    return !(s_local (pub) && s_local (sub));
}

//  A configured path, or <data_dir>/keys/<name>; the caller frees it.
static char *
s_key_path (const wp_config_t *config, const char *configured, const char *name)
{
    return configured ? strdup (configured) : wp_keys_path (config->data_dir, name);
}

//  Wait until path and path_secret (with secret) exist, up to timeout_ms.
static void
s_wait_for (const char *path, bool secret, uint32_t timeout_ms)
{
    char *secret_path = zsys_sprintf ("%s_secret", path);
    int64_t deadline = zclock_mono () + timeout_ms;
    while ((!zsys_file_exists (path) || (secret && !zsys_file_exists (secret_path)))
           && zclock_mono () < deadline && !zsys_interrupted)
        zclock_sleep (50);
    zstr_free (&secret_path);
}

//  The keys a client connects with.
int
wp_security_client (const wp_config_t *config, const char *pub, const char *sub,
                    const char *default_key, bool wait, wp_client_keys_t *keys,
                    char *error, size_t size)
{
    assert (config && pub && sub && default_key && keys);
    memset (keys, 0, sizeof *keys);
    bool inproc = strncmp (pub, "inproc://", 9) == 0 && strncmp (sub, "inproc://", 9) == 0;
    keys->curve = !inproc && wp_security_curve (config, pub, sub);
    if (!keys->curve)
        return 0;
    char *server = s_key_path (config, config->server_key, WP_KEYS_SERVER);
    char *client = s_key_path (config, config->client_key, default_key);
    snprintf (keys->path, sizeof keys->path, "%s", client);
    if (wait) {
        //  The bus makes the installation's keys on its first start.
        if (!config->server_key)
            s_wait_for (server, false, config->ready_timeout_ms);
        if (!config->client_key)
            s_wait_for (client, true, config->ready_timeout_ms);
    }
    char detail [600];
    int rc = 0;
    if (wp_keys_load (server, false, &keys->server, detail, sizeof detail)) {
        snprintf (error, size, "the bus at %s uses CURVE, and its public key is not at "
                  "hand: %s (give the data directory of the service with --data-dir or "
                  "WARMUP_DATA_DIR, or set bus/server_key)", pub, detail);
        rc = -1;
    }
    else
    if (wp_keys_load (client, true, &keys->client, detail, sizeof detail)) {
        snprintf (error, size, "the bus at %s uses CURVE, and this program has no key: %s "
                  "(run it as the user who runs the service with its data directory, or "
                  "set bus/client_key / --client-key to a key whose public part is in the "
                  "service's bus/allowed_keys or bus/operator_keys; warmupctl keygen makes "
                  "one)", pub, detail);
        rc = -1;
    }
    zstr_free (&server);
    zstr_free (&client);
    if (rc)
        sodium_memzero (keys, sizeof *keys);
    return rc;
}

//  Put a client's keys into bus options.
void
wp_security_bus_opts (const wp_client_keys_t *keys, wp_bus_opts_t *opts)
{
    assert (keys && opts);
    if (!keys->curve)
        return;
    opts->curve_server_key = keys->server.public_key;
    opts->curve_public_key = keys->client.public_key;
    opts->curve_secret_key = keys->client.secret_key;
}

//  The installation secret.
int
wp_security_secret (const wp_config_t *config, bool create,
                    uint8_t secret [WP_KEYS_SECRET_LEN], char *error, size_t size)
{
    assert (config && secret);
    if (config->user_key_set) {
        memcpy (secret, config->user_key, WP_KEYS_SECRET_LEN);
        return 0;
    }
    if (create && wp_keys_init (config->data_dir, false, NULL, error, size))
        return -1;
    char *path = wp_keys_path (config->data_dir, WP_KEYS_SECRET);
    bool created = false;
    int rc = wp_keys_secret (path, create, secret, &created, error, size);
    if (rc == 0 && created)
        zsys_info ("made the installation secret %s (user ids are hashed under it; "
                   "keep it with the data: a new one makes stored pairs unreachable)", path);
    zstr_free (&path);
    return rc;
}

//  The SipHash key of user ids.
int
wp_security_user_key (const wp_config_t *config, bool create, uint8_t key [16],
                      char *error, size_t size)
{
    uint8_t secret [WP_KEYS_SECRET_LEN];
    if (wp_security_secret (config, create, secret, error, size))
        return -1;
    wp_keys_derive (secret, "userid01", key, 16);
    sodium_memzero (secret, sizeof secret);
    return 0;
}

//  The HTTP operator token.
int
wp_security_operator_token (const wp_config_t *config, bool create, char *token,
                            size_t token_size, char *error, size_t size)
{
    assert (config && token && token_size > 64);
    if (config->operator_token) {
        if (strlen (config->operator_token) < 16 || strlen (config->operator_token) >= token_size) {
            snprintf (error, size, "http/operator_token: must be 16..%zu characters",
                      token_size - 1);
            return -1;
        }
        snprintf (token, token_size, "%s", config->operator_token);
        return 0;
    }
    if (create && wp_keys_init (config->data_dir, false, NULL, error, size))
        return -1;
    char *path = wp_keys_path (config->data_dir, WP_KEYS_TOKEN);
    int rc = wp_keys_token (path, create, token, token_size, error, size);
    zstr_free (&path);
    return rc;
}

//  Send a command to the proxy and expect OK; -1 after logging otherwise.
static int
s_command (zactor_t *proxy, const char *program, const char *command, const char *a,
           const char *b, const char *c)
{
    zstr_sendx (proxy, command, a, b, c, NULL);
    char *status = NULL, *reason = NULL;
    zstr_recvx (proxy, &status, &reason, NULL);
    int rc = status && streq (status, "OK") ? 0 : -1;
    if (rc)
        zsys_error ("%s: bus: %s %s: %s", program, command, a ? a : "",
                    reason ? reason : "no reply");
    zstr_free (&status);
    zstr_free (&reason);
    return rc;
}

//  What s_admit_dir needs.
typedef struct {
    zactor_t *proxy;
    const char *program;
    const char *role;
    int failed;
} s_admit_t;

//  Admit one key of a directory.
static void
s_admit (const char *path, const char *public_key, void *arg)
{
    s_admit_t *admit = (s_admit_t *) arg;
    const char *name = strrchr (path, '/');
    if (s_command (admit->proxy, admit->program, "KEY", admit->role, name ? name + 1 : path,
                   public_key))
        admit->failed++;
}

//  Admit every key of a directory with a role; returns how many, or -1.
static int
s_admit_dir (zactor_t *proxy, const char *program, const char *dir, const char *role)
{
    char error [1200];
    s_admit_t admit = { proxy, program, role, 0 };
    int count = wp_keys_each (dir, s_admit, &admit, error, sizeof error);
    if (count < 0)
        zsys_error ("%s: %s", program, error);
    return count < 0 || admit.failed ? -1 : count;
}

//  Admit an installation key (a pair under keys/) with a role.
static int
s_admit_own (zactor_t *proxy, const wp_config_t *config, const char *program,
             const char *file, const char *role)
{
    char *path = wp_keys_path (config->data_dir, file);
    wp_keypair_t pair;
    char error [1200];
    int rc = wp_keys_load (path, false, &pair, error, sizeof error);
    if (rc)
        zsys_error ("%s: %s", program, error);
    else
        rc = s_command (proxy, program, "KEY", role, file, pair.public_key);
    zstr_free (&path);
    return rc;
}

//  CURVE on the proxy: our pair and every admitted key. Returns 0 or -1.
static int
s_proxy_curve (zactor_t *proxy, const wp_config_t *config, const char *program,
               bool created)
{
    char error [1200];
    char *server = s_key_path (config, config->server_key, WP_KEYS_SERVER);
    wp_keypair_t pair;
    int rc = wp_keys_load (server, true, &pair, error, sizeof error);
    if (rc)
        zsys_error ("%s: the bus's CURVE key: %s", program, error);
    else
        rc = s_command (proxy, program, "CURVE", pair.public_key, pair.secret_key, NULL);
    sodium_memzero (&pair, sizeof pair);
    char *operators = s_key_path (config, config->operator_keys, WP_KEYS_OPERATORS);
    char *allowed = s_key_path (config, config->allowed_keys, WP_KEYS_ALLOWED);
    int n_operators = 0, n_clients = 0;
    //  Operators first: a key in two places keeps its first role.
    if (rc == 0)
        rc = s_admit_own (proxy, config, program, WP_KEYS_OPERATOR, "operator");
    if (rc == 0 && (n_operators = s_admit_dir (proxy, program, operators, "operator")) < 0)
        rc = -1;
    if (rc == 0)
        rc = s_admit_own (proxy, config, program, WP_KEYS_COMPONENT, "component");
    if (rc == 0 && (n_clients = s_admit_dir (proxy, program, allowed, "client")) < 0)
        rc = -1;
    if (rc == 0) {
        char *keys = wp_keys_path (config->data_dir, NULL);
        printf ("%s: bus: CURVE on; %s keys in %s (server: %s); admits the "
                "installation's operator and component keys, %d more operator key%s "
                "(%s) and %d client key%s (%s)\n", program,
                created ? "made the" : "the", keys, server, n_operators,
                n_operators == 1 ? "" : "s", operators, n_clients, n_clients == 1 ? "" : "s",
                allowed);
        fflush (stdout);
        zstr_free (&keys);
    }
    zstr_free (&operators);
    zstr_free (&allowed);
    zstr_free (&server);
    return rc;
}

//  Start the bus proxy of a service.
zactor_t *
wp_security_start_proxy (wp_config_t *config, const char *program, const char *inproc_pub,
                         const char *inproc_sub, bool verbose)
{
    assert (config && program);
    char error [1200];
    bool curve = wp_security_curve (config, config->pub_endpoint, config->sub_endpoint);
    bool created = false;
    uint8_t user_key [16];
    if (wp_keys_init (config->data_dir, curve && !config->server_key, &created, error,
                      sizeof error)
        || wp_security_user_key (config, true, user_key, error, sizeof error)) {
        zsys_error ("%s: %s", program, error);
        return NULL;
    }
    char hex [33];
    for (int i = 0; i < 16; i++)
        snprintf (hex + 2 * i, 3, "%02x", user_key [i]);
    sodium_memzero (user_key, sizeof user_key);
    zactor_t *proxy = zactor_new (wp_proxy_actor, NULL);
    assert (proxy);
    char frame [32], hwm [32], rate [32], beat [32], source [256];
    snprintf (frame, sizeof frame, "%u", config->max_frame_bytes);
    snprintf (hwm, sizeof hwm, "%u", config->hwm);
    //  A replay drives events as fast as the pipeline takes them.
    snprintf (rate, sizeof rate, "%u", config->replay ? 0 : config->max_events_per_s);
    snprintf (beat, sizeof beat, "%u", config->heartbeat_ms);
    char *instance = wp_instance_id (NULL);
    snprintf (source, sizeof source, "bus/%s", instance);
    free (instance);
    int rc = s_command (proxy, program, "MAXFRAME", frame, NULL, NULL);
    if (rc == 0 && verbose)
        rc = s_command (proxy, program, "VERBOSE", NULL, NULL, NULL);
    if (rc == 0)
        rc = s_command (proxy, program, "HWM", hwm, NULL, NULL);
    if (rc == 0)
        rc = s_command (proxy, program, "USERKEY", hex, NULL, NULL);
    sodium_memzero (hex, sizeof hex);
    if (rc == 0)
        rc = s_command (proxy, program, "RATELIMIT", rate, NULL, NULL);
    if (rc == 0)
        rc = s_command (proxy, program, "HEARTBEAT", beat, source, NULL);
    if (rc == 0 && curve)
        rc = s_proxy_curve (proxy, config, program, created);
    else
    if (rc == 0) {
        bool local = s_local (config->pub_endpoint) && s_local (config->sub_endpoint);
        if (local)
            printf ("%s: bus: CURVE off: %s and %s are socket files of mode 0600 (only "
                    "this user connects)\n", program, config->pub_endpoint,
                    config->sub_endpoint);
        else
            zsys_warning ("%s: bus: CURVE off (bus/curve = false) on %s / %s: no "
                          "authentication; anyone who reaches them can publish, warm and "
                          "cool", program, config->pub_endpoint, config->sub_endpoint);
        fflush (stdout);
    }
    if (rc == 0) {
        zstr_sendx (proxy, "BIND", config->pub_endpoint, config->sub_endpoint, NULL);
        char *status = NULL, *pub = NULL, *sub = NULL;
        zstr_recvx (proxy, &status, &pub, &sub, NULL);
        if (!status || !streq (status, "OK")) {
            zsys_error ("%s: bus: %s", program, pub ? pub : "no reply");
            rc = -1;
        }
        else {
            //  With tcp://...:* the real ports are only known now.
            wp_config_set_string (config, "pub_endpoint", pub);
            wp_config_set_string (config, "sub_endpoint", sub);
        }
        zstr_free (&status);
        zstr_free (&pub);
        zstr_free (&sub);
    }
    if (rc == 0 && inproc_pub && inproc_sub)
        rc = s_command (proxy, program, "ALSO", inproc_pub, inproc_sub, NULL);
    if (rc)
        zactor_destroy (&proxy);
    return proxy;
}
