# Schemathesis hooks for Trellis's fuzz tests: a refused request must leave the stored state as it was.
# The state is read back over HTTP (TRELLIS_FUZZ_STATE_URLS, space-separated, with TRELLIS_FUZZ_STATE_HEADERS as
# JSON) before and after each write the server answers with a 4xx; keys in TRELLIS_FUZZ_STATE_IGNORE (comma-separated)
# are dropped at any depth first, as they change with time alone (timestamps, lease renewals).
import json
import os
import urllib.request

import schemathesis

STATE_URLS = os.environ.get("TRELLIS_FUZZ_STATE_URLS", "").split()
STATE_HEADERS = json.loads(os.environ.get("TRELLIS_FUZZ_STATE_HEADERS", "{}"))
IGNORED = {k for k in os.environ.get("TRELLIS_FUZZ_STATE_IGNORE", "").split(",") if k}
WRITES = {"POST", "PUT", "DELETE", "PATCH"}
_before = {}


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in IGNORED}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _state():
    states = []
    for url in STATE_URLS:
        request = urllib.request.Request(url, headers={"accept": "application/json", **STATE_HEADERS})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        try:
            states.append(_strip(json.loads(body)))
        except ValueError:
            states.append(body.decode("utf-8", "replace"))
    return states


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if STATE_URLS and case.method.upper() in WRITES:
        _before[id(case)] = _state()


@schemathesis.check
def refused_write_changes_nothing(ctx, response, case):
    before = _before.pop(id(case), None)
    if before is None or not (400 <= response.status_code < 500):
        return None
    after = _state()
    if after != before:
        raise AssertionError(
            f"{case.method} {case.formatted_path} was refused with {response.status_code} but the stored state changed"
        )
    return True
