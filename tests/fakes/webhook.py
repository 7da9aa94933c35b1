"""A webhook sender as a partner's system would be: it signs "<timestamp>.<body>" with the
source's secret (X-Warroom-Timestamp, X-Warroom-Signature) and POSTs the raw bytes. The
signing is written out here, not imported from listening/, so a test holds the room to
the protocol the README documents rather than to its own code."""

import hashlib
import hmac
import json
import time

import requests


def signed_headers(secret: str, body: bytes, *, timestamp: int | None = None, legacy: bool = False) -> dict[str, str]:
    """The headers of a signed request: timestamped, or (legacy=True) the old body-only scheme."""
    if legacy:
        return {"X-Warroom-Signature": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Warroom-Timestamp": stamp, "X-Warroom-Signature": f"sha256={digest}"}


def send(url: str, secret: str, payload, *, timestamp: int | None = None, legacy: bool = False,
         timeout: float = 10) -> requests.Response:
    """POST a payload (a dict, or raw bytes sent as they are) to a hook URL over HTTP."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", **signed_headers(secret, body, timestamp=timestamp, legacy=legacy)}
    return requests.post(url, data=body, headers=headers, timeout=timeout)
