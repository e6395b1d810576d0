/*  =========================================================================
    wp_keys - the installation's keys on disk: CURVE certificates for the
    bus, the secret the user-id hash and bearer-token hashes derive from,
    and the directories of public keys an operator allows.

    Files live in a keys directory (<data_dir>/keys by default, mode 0700):

        server.key, server.key_secret        the bus proxy's CURVE pair
        operator.key, operator.key_secret    the installation's operator
        component.key, component.key_secret  what the components connect with
        installation.key                     32 random bytes (64 hex digits): the
                                             secret user-id and token hashes use
        operator.token                       a bearer token for HTTP controls
        allowed/                             public keys of allowed clients
        operators/                           public keys of further operators

    A certificate is a pair of ZPL files in czmq's zcert format (`curve/
    public-key`, `curve/secret-key`, Z85): NAME holds the public key (0644,
    to hand out), NAME_secret both keys (0600). Secrets are written with
    mode 0600 from the first byte (never chmod'ed after), to a temporary
    name and renamed into place, so no reader sees half a file. Several
    programs starting together make one set: generation runs under an
    flock of keys/.lock and never overwrites a file.

    Keys from the OS: CURVE pairs from libzmq (libsodium's randombytes),
    secrets and tokens from getrandom(2). Subkeys derive from a secret with
    libsodium's crypto_kdf (BLAKE2b), one per purpose, so the same secret
    never keys two different things.
    =========================================================================
*/
#ifndef WP_KEYS_H_INCLUDED
#define WP_KEYS_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  File and directory names under the keys directory.
#define WP_KEYS_DIR        "keys"
#define WP_KEYS_SERVER     "server.key"
#define WP_KEYS_OPERATOR   "operator.key"
#define WP_KEYS_COMPONENT  "component.key"
#define WP_KEYS_SECRET     "installation.key"
#define WP_KEYS_TOKEN      "operator.token"
#define WP_KEYS_ALLOWED    "allowed"
#define WP_KEYS_OPERATORS  "operators"

//  Length of a Z85 key (32 bytes), without the terminating NUL.
#define WP_KEYS_Z85_LEN 40

//  Bytes of a secret (installation.key) and of a token hash.
#define WP_KEYS_SECRET_LEN 32

//  A CURVE key pair as Z85 text. secret_key is "" when only the public
//  key is known.
typedef struct {
    char public_key [WP_KEYS_Z85_LEN + 1];
    char secret_key [WP_KEYS_Z85_LEN + 1];
} wp_keypair_t;

//  "<data_dir>/keys/<name>" (name may be NULL for the directory). The
//  caller frees it.
char *
    wp_keys_path (const char *data_dir, const char *name);

//  Make the data directory when it is missing: its parents as mkdir -p
//  does, itself 0700 (its stores, keys and audit log are the service's
//  only). An existing one is left as it is. Returns 0, or -1 with error.
int
    wp_keys_data_dir (const char *data_dir, char *error, size_t size);

//  Create what is missing of an installation's keys under data_dir/keys:
//  the directory (0700), allowed/ and operators/ (0700), the operator and
//  component pairs, and the server pair when with_server. Existing files
//  are kept. *created (may be NULL) says whether anything was made.
//  Returns 0, or -1 with error naming the path.
int
    wp_keys_init (const char *data_dir, bool with_server, bool *created,
                  char *error, size_t size);

//  Write a new key pair: path (public, 0644) and path_secret (0600),
//  refusing to overwrite either. name goes into the certificate's
//  metadata. Fills *pair when not NULL. Returns 0, or -1 with error.
int
    wp_keys_generate (const char *path, const char *name, wp_keypair_t *pair,
                      char *error, size_t size);

//  Load a certificate: the public key from path, and with need_secret
//  the secret key from path_secret too (whose public key must match).
//  Returns 0, or -1 with error naming the file and what is wrong.
int
    wp_keys_load (const char *path, bool need_secret, wp_keypair_t *pair,
                  char *error, size_t size);

//  Call fn for the public key of every certificate file in dir (files
//  ending in "_secret", dot files and subdirectories are skipped). A file
//  that is not a certificate is an error naming it. A missing directory
//  is empty. Returns how many, or -1 with error.
typedef void (wp_keys_fn) (const char *path, const char *public_key, void *arg);
int
    wp_keys_each (const char *dir, wp_keys_fn *fn, void *arg, char *error, size_t size);

//  Read a secret of WP_KEYS_SECRET_LEN bytes (64 hex digits, then an
//  optional newline) from path; when absent and create is true, make one
//  from the OS (0600). *created (may be NULL) says whether it was made.
//  A file of another form, or readable by others, is an error. Returns 0
//  or -1 with error.
int
    wp_keys_secret (const char *path, bool create, uint8_t secret [WP_KEYS_SECRET_LEN],
                    bool *created, char *error, size_t size);

//  Read a bearer token (one line of 16..256 printable characters) from
//  path; when absent and create is true, make one (64 hex digits from 32
//  random bytes, 0600). Returns 0, or -1 with error.
int
    wp_keys_token (const char *path, bool create, char *token, size_t token_size,
                   char *error, size_t size);

//  Derive len (16..64) bytes for one purpose (exactly 8 characters, e.g.
//  "userid01") from a secret: libsodium crypto_kdf, subkey id 1.
void
    wp_keys_derive (const uint8_t secret [WP_KEYS_SECRET_LEN], const char *purpose,
                    uint8_t *out, size_t len);

//  Keyed hash of a bearer token (BLAKE2b under the "token001" subkey of
//  secret): what a server keeps and compares instead of the token.
void
    wp_keys_token_hash (const uint8_t secret [WP_KEYS_SECRET_LEN], const char *token,
                        size_t len, uint8_t out [WP_KEYS_SECRET_LEN]);

//  Compare two token hashes in constant time.
bool
    wp_keys_token_equal (const uint8_t a [WP_KEYS_SECRET_LEN],
                         const uint8_t b [WP_KEYS_SECRET_LEN]);

//  Fill bytes from the OS (getrandom). Returns 0 or -1.
int
    wp_keys_random (void *buffer, size_t len);

#ifdef __cplusplus
}
#endif

#endif
