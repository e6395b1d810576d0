#!/usr/bin/env python3
"""bench_trace.py - warmup-bench's workload as a trace for warmup-eval: the
same users and models ("user-NNNNNN", "model-NNN"), drawn by the same four
xorshift64 sequences the bench's publishers use (seed 0x9e3779b97f4a7c15 x
(publisher + 1)), the publishers taking turns, at a fixed rate. Every user
asks every model: a workload of users with many models, where the bench
measures speed and this measures what the predictions are worth.

  bench_trace.py EVENTS RATE [USERS [MODELS]] | gzip > trace.csv.gz
      writes "timestamp_ms,user,model" (event k at k * 1000 / RATE ms)
  bench_trace.py --catalog [MODELS] > catalog.csv
      the models as the bench's service sees them: its defaults (512 MB,
      a load of 1 s)

Python's standard library only."""
import sys

MASK = (1 << 64) - 1
PUBLISHERS = 4


def trace(events, rate, users, models, out):
    seeds = [(0x9e3779b97f4a7c15 * (i + 1)) & MASK for i in range(PUBLISHERS)]
    out.write("timestamp_ms,user,model\n")
    for k in range(events):
        p = k % PUBLISHERS
        s = seeds[p]
        s ^= (s << 13) & MASK
        s ^= s >> 7
        s ^= (s << 17) & MASK
        seeds[p] = s
        out.write("%d,user-%06d,model-%03d\n"
                  % (k * 1000 // rate, s % users, (s >> 32) % models))


def catalog(models, out):
    out.write("model,memory_mb,load_ms\n")
    for i in range(models):
        out.write("model-%03d,512,1000\n" % i)


def main(argv):
    try:
        if argv and argv[0] == "--catalog":
            catalog(int(argv[1]) if len(argv) > 1 else 20, sys.stdout)
            return 0
        events, rate = int(argv[0]), int(argv[1])
        users = int(argv[2]) if len(argv) > 2 else 10000
        models = int(argv[3]) if len(argv) > 3 else 20
        if min(events, rate, users, models) <= 0:
            raise ValueError("numbers must be positive")
    except (IndexError, ValueError) as error:
        sys.stderr.write("bench_trace: %s\nusage: bench_trace.py EVENTS RATE [USERS [MODELS]]"
                         " | bench_trace.py --catalog [MODELS]\n" % error)
        return 2
    trace(events, rate, users, models, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
