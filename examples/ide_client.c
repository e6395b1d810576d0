/*  =========================================================================
    ide_client - what an IDE back end does with libwarmup, start to end:
    connect to the service (its HTTP listener, and the bus to hear its
    predictions), say the chat panel opened (an intent), report the
    request that followed (a usage event), wait for the engine's
    prediction, then ask for a prediction and its warms over HTTP.

    Build against the installed library:
        cc ide_client.c -o ide_client $(pkg-config --cflags --libs warmup)
    Run beside warmupd (--proxy-listen 127.0.0.1:11435):
        ./ide_client --http http://127.0.0.1:11435 \
            [--bus tcp://127.0.0.1:5701 tcp://127.0.0.1:5702 \
             --server-key var/keys/server.key --client-cert alice.key] \
            [--user alice] [--model qwen-coder]
    Exit 0 when every step worked, 1 naming the step that did not.
    =========================================================================
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <warmup/warmup.h>

//  Print a failed step and leave.
static int
s_failed (warmup_t *client, const char *step, int status)
{
    fprintf (stderr, "ide_client: %s: %s (%s)\n", step, warmup_strerror (status),
             client ? warmup_last_error (client) : "");
    return 1;
}

//  Wait up to timeout_ms for a prediction that lists model.
static int
s_wait_prediction (warmup_t *client, const char *model, int timeout_ms)
{
    warmup_event_t event;
    int rc;
    while ((rc = warmup_next (client, &event, timeout_ms)) == 1) {
        if (event.type != WARMUP_EVENT_PREDICTION)
            continue;
        for (size_t i = 0; i < event.model_count; i++)
            if (strcmp (event.models [i].model, model) == 0) {
                printf ("prediction for %s: %s p=%.3f in %llu ms (horizon %u s)\n",
                        event.user, model, event.models [i].probability,
                        (unsigned long long) event.models [i].expected_in_ms,
                        event.horizon_s);
                return 0;
            }
    }
    return rc < 0 ? rc : WARMUP_ETIMEDOUT;
}

int
main (int argc, char *argv [])
{
    warmup_options_t options = { .timeout_ms = 10000 };
    const char *user = "alice", *model = "qwen-coder";
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv [i], "--http") == 0 && i + 1 < argc)
            options.http_url = argv [++i];
        else if (strcmp (argv [i], "--bus") == 0 && i + 2 < argc) {
            options.bus_publish = argv [++i];
            options.bus_subscribe = argv [++i];
            options.subscribe = WARMUP_EVENT_PREDICTION | WARMUP_EVENT_WARMUP_DONE;
        }
        else if (strcmp (argv [i], "--server-key") == 0 && i + 1 < argc)
            options.bus_server_key = argv [++i];
        else if (strcmp (argv [i], "--client-cert") == 0 && i + 1 < argc)
            options.bus_client_cert = argv [++i];
        else if (strcmp (argv [i], "--user") == 0 && i + 1 < argc)
            user = argv [++i];
        else if (strcmp (argv [i], "--model") == 0 && i + 1 < argc)
            model = argv [++i];
        else {
            fprintf (stderr, "usage: ide_client --http URL [--bus PUB SUB [--server-key F "
                     "--client-cert F]] [--user U] [--model M]\n");
            return 2;
        }
    }
    char error [512];
    warmup_t *client = warmup_connect (&options, error, sizeof error);
    if (!client) {
        fprintf (stderr, "ide_client: connect: %s\n", error);
        return 1;
    }
    printf ("connected (libwarmup %d)\n", warmup_version ());

    //  The chat panel opened: a request to a chat model usually follows.
    warmup_intent_t intent = { .user = user, .kind = "chat.opened", .model = model,
                               .language = "c", .task = WARMUP_TASK_CHAT };
    int rc = warmup_intent (client, &intent);
    if (rc)
        return s_failed (client, "intent", rc);
    printf ("intent chat.opened sent\n");

    //  The request went to the model: the service learns from it.
    warmup_usage_t usage = { .user = user, .model = model, .task = WARMUP_TASK_CHAT,
                             .language = "c", .file_type = ".c" };
    if ((rc = warmup_observe (client, &usage)))
        return s_failed (client, "observe", rc);
    printf ("usage of %s sent\n", model);

    //  On the bus, the engine's prediction after that request.
    if (options.subscribe && (rc = s_wait_prediction (client, model, 10000)))
        return s_failed (client, "prediction event", rc);

    //  Over HTTP: what this user will need, and warm what is likely.
    if (options.http_url) {
        warmup_predict_t request = { .user = user, .task = WARMUP_TASK_CHAT };
        warmup_model_t models [16];
        size_t count = 0;
        if ((rc = warmup_predict (client, &request, models, 16, &count, 5000)))
            return s_failed (client, "predict", rc);
        printf ("predict: %zu models\n", count);
        for (size_t i = 0; i < count; i++)
            printf ("  %-24s p=%.3f %-8s%s\n", models [i].model, models [i].probability,
                    models [i].state, models [i].warming ? " warming" : "");
    }
    warmup_destroy (&client);
    return 0;
}
