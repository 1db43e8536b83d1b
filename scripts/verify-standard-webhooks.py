#!/usr/bin/env python3
"""Verifies Fieldgate's webhook signatures with the reference Python library (standardwebhooks on PyPI).

Reads JSON lines from standard input: {"secret": "whsec_…", "headers": {"webhook-id": …, "webhook-timestamp": …,
"webhook-signature": …}, "body": "<base64 of the body bytes>"}. Prints one line per delivery and exits 1 if any
signature does not verify. Used by the delivery tests; `pip install standardwebhooks` (done by .ci/run).
"""
import base64
import json
import sys

from standardwebhooks.webhooks import Webhook

failures = 0
count = 0
for line in sys.stdin:
    if not line.strip():
        continue
    count += 1
    delivery = json.loads(line)
    body = base64.b64decode(delivery["body"])
    try:
        Webhook(delivery["secret"]).verify(body, delivery["headers"])
        print("verified", delivery["headers"]["webhook-id"])
    except Exception as error:  # the library raises WebhookVerificationError
        failures += 1
        print("FAILED", delivery["headers"].get("webhook-id"), error)
print(f"{count - failures} verified, {failures} failed")
sys.exit(1 if failures or count == 0 else 0)
