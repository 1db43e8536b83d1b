#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs: request bodies from Contracts/vendors/ and the shared corpus.

    python3 scripts/fuzz-seeds.py OUT_DIR SHARED_CORPUS_DIR

OUT_DIR/<target>/ gets one file per body: `json` every JSON body (and each Hellotracks `data` field),
`hellotracks` the form bodies, `techlink` the TechLink bodies, `tracktik` the TrackTik bodies with a first byte
naming the route (FuzzChecks.trackTik reads it).
"""
import base64
import glob
import hashlib
import json
import os
import sys
import urllib.parse

TRACKTIK_ROUTES = [
    "workflow-instance-logs", "workflow-instance-logs/created", "workflow-instance-logs/updated",
    "dispatch-tasks/created", "dispatch-tasks/updated", "reports/created", "reports/updated", "employees/created",
    "employees/updated", "clients/created",
]


def body_of(request):
    if isinstance(request.get("bodyBase64"), str):
        return base64.b64decode(request["bodyBase64"])
    body = request.get("body")
    if not isinstance(body, str) or body.startswith("<<OVERSIZE"):
        return None
    return body.encode("utf-8")


def requests(shared):
    for path in sorted(glob.glob("Contracts/vendors/*/*.json")):
        with open(path) as file:
            root = json.load(file)
        for entry in [root] + root.get("before", []):
            request = entry.get("request")
            if isinstance(request, dict):
                yield request
    corpus = os.path.join(shared, "dev.ndjson")
    if os.path.exists(corpus):
        with open(corpus) as file:
            for line in file:
                if line.strip():
                    yield json.loads(line)


def main():
    out, shared = sys.argv[1], sys.argv[2]
    written = {name: set() for name in ("json", "hellotracks", "techlink", "tracktik")}

    def put(target, data):
        digest = hashlib.sha1(data).hexdigest()
        if digest in written[target]:
            return
        written[target].add(digest)
        os.makedirs(os.path.join(out, target), exist_ok=True)
        with open(os.path.join(out, target, "seed-" + digest[:16]), "wb") as file:
            file.write(data)

    for request in requests(shared):
        body = body_of(request)
        if body is None:
            continue
        path = request.get("path", "")
        parts = path.split("?")[0].split("/")
        vendor = request.get("vendor") or (parts[2] if len(parts) > 2 else "")
        if vendor == "hellotracks":
            put("hellotracks", body)
            for key, value in urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
                if key == "data":
                    put("json", value.encode("utf-8"))
        elif vendor == "techlink":
            put("techlink", body)
            put("json", body)
        elif vendor == "tracktik":
            suffix = "/".join(parts[4:])
            route = TRACKTIK_ROUTES.index(suffix) if suffix in TRACKTIK_ROUTES else len(TRACKTIK_ROUTES) - 1
            put("tracktik", bytes([route]) + body)
            put("json", body)
    print(", ".join(f"{name}: {len(seeds)}" for name, seeds in written.items()), "seeds")


if __name__ == "__main__":
    main()
