#!/usr/bin/env bash
#  intent_trace.sh - write a small SYNTHETIC trace (made up, no user's data)
#  for warmup-eval's kind column (docs/integration.md#intents): one user
#  opens the chat panel (an intent, kind chat.opened) and asks the chat
#  model 8 s later, 40 times, the gaps between the pairs 50-130 minutes
#  (longer than any sensible keep-alive, so only the intent can warm in
#  time); then 10 lone intents that no request follows. Also the same
#  trace without its intents, and the catalog (chat: 1 GiB, 4 s to load).
#  Usage: examples/intent_trace.sh DIR
set -euo pipefail
DIR=${1:?usage: intent_trace.sh DIR}
mkdir -p "$DIR"
printf 'model,memory_mb,load_ms\nchat,1024,4000\n' > "$DIR/catalog.csv"
awk 'BEGIN {
    print "timestamp_ms,user,model,kind" > "'"$DIR"'/with-intents.csv"
    print "timestamp_ms,user,model" > "'"$DIR"'/requests-only.csv"
    t = 3600000; seed = 7
    for (i = 0; i < 50; i++) {
        printf "%d,alice,,chat.opened\n", t > "'"$DIR"'/with-intents.csv"
        if (i < 40) {
            printf "%d,alice,chat,\n", t + 8000 > "'"$DIR"'/with-intents.csv"
            printf "%d,alice,chat\n", t + 8000 > "'"$DIR"'/requests-only.csv"
        }
        seed = (seed * 1103515245 + 12345) % 2147483648
        t += (50 + seed % 81) * 60000
    }
}'
echo "intent_trace: wrote $DIR/with-intents.csv, $DIR/requests-only.csv, $DIR/catalog.csv"
