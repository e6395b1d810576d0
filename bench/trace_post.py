#!/usr/bin/env python3
"""trace_post.py - a request trace's users and models posted to the HTTP API
(POST /warmup/v1/usage of warmupd --proxy-listen or warmup-proxy) at event
speed x SPEED: the requests whose scaled time falls in each 200 ms of wall
time go in one POST (at most 500 events a POST), the trace looping from its
start when it ends, until MINUTES have passed. Streams the gzip'd CSV
(timestamp_ms,user,model; data/servegen-dev's format), so a week of requests
takes no memory. Every second it writes "posted refused" (events accepted,
events in refused POSTs) to COUNT_FILE for the caller's samples.

Usage: trace_post.py URL TRACE SPEED MINUTES COUNT_FILE
"""
import csv
import gzip
import http.client
import json
import os
import sys
import time
import urllib.parse

SLOT_S = 0.2
BATCH_MAX = 500


def rows(path):
    """The trace's (ms, user, model), looping: each pass shifted by the
    trace's span so time keeps increasing."""
    shift = 0
    while True:
        last = 0
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", newline="") as f:
            reader = csv.reader(f)
            next(reader)
            for r in reader:
                last = int(r[0])
                yield shift + last, r[1], r[2]
        shift += last + 1


class Poster:
    """One keep-alive connection to the API, opened again after an error."""

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = u.hostname, u.port, u.path
        self.conn = None
        self.posted = 0
        self.refused = 0

    def post(self, events):
        body = json.dumps(
            [{"user": u, "model": m, "task": "completion"} for u, m in events])
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            self.conn.request("POST", self.path, body,
                              {"Content-Type": "application/json"})
            answer = self.conn.getresponse()
            answer.read()
            ok = answer.status == 202
        except (OSError, http.client.HTTPException):
            self.conn = None
            ok = False
        if ok:
            self.posted += len(events)
        else:
            self.refused += len(events)


def main():
    url, trace, speed, minutes, count_file = sys.argv[1:6]
    speed, end = float(speed), time.monotonic() + float(minutes) * 60
    poster = Poster(url)
    start = time.monotonic()
    first = None
    pending = []
    written = 0.0
    for ms, user, model in rows(trace):
        if first is None:
            first = ms
        due = start + (ms - first) / 1000.0 / speed
        # Send what is due before this request's slot, then wait for it
        while pending and (due - time.monotonic() > SLOT_S or len(pending) >= BATCH_MAX):
            poster.post(pending[:BATCH_MAX])
            del pending[:BATCH_MAX]
        now = time.monotonic()
        if now >= end:
            break
        if due - now > SLOT_S:
            time.sleep(min(due - now - SLOT_S, end - now))
        pending.append((user, model))
        if now - written >= 1.0:
            with open(count_file + ".tmp", "w") as f:
                f.write(f"{poster.posted} {poster.refused}\n")
            os.replace(count_file + ".tmp", count_file)
            written = now
    if pending:
        poster.post(pending)
    with open(count_file, "w") as f:
        f.write(f"{poster.posted} {poster.refused}\n")


if __name__ == "__main__":
    main()
