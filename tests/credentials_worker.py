"""A worker process for test_credentials_redis: asks Transak's simulator at times it is told.

Run as ``python credentials_worker.py SANDBOX_URL REDIS_URL PREFIX``; then each stdin line
``call <now>`` sets this process's fake clock to ``now`` (seconds since the epoch), asks for
one status through a bridge whose credential cache is shared through Redis, and answers one
line: ``ok <state>`` or ``error <kind>``. ``quit`` (or end of input) stops it.
"""

from __future__ import annotations

import sys

import redis

import kycbridge
import kycbridge_transak
from kycbridge.credentials import CredentialCache, RedisTokenStore
from kycbridge.testing import fast_transport
from kycbridge_transak.simulator import SANDBOX_ACCESS_TOKEN, SANDBOX_API_KEY, SANDBOX_API_SECRET


def main() -> None:
    sandbox_url, redis_url, prefix = sys.argv[1:4]
    now = [0.0]

    def clock() -> float:
        return now[0]

    client = redis.Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=10)
    store = RedisTokenStore(client, prefix=prefix, clock=clock)
    bridge = kycbridge.Bridge(
        [kycbridge_transak],
        settings={"transak": {"base_url": sandbox_url, "api_key": SANDBOX_API_KEY,
                              "api_secret": SANDBOX_API_SECRET}},
        env={},
        transport=fast_transport(),
        credential_cache=CredentialCache(shared=store, clock=clock),
    )
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "quit":
            break
        now[0] = float(command[1])
        try:
            report = bridge.status(
                "transak", work_flow_run_id="wfr-submitted", access_token=SANDBOX_ACCESS_TOKEN
            )
        except kycbridge.KYCBridgeError as exc:
            print("error", exc.kind, flush=True)
        else:
            print("ok", report.state.value, flush=True)


if __name__ == "__main__":
    main()
