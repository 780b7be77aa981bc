"""A load loop against `order-router venue`: requests per second on one keep-alive connection
for GET /api/v3/depth, GET /api/v3/ticker/bookTicker and a signed POST /api/v3/order (an IOC
buy far below the market, which expires). Standard library only.

    order-router venue --listen 127.0.0.1:8080 --weight-limit 100000000 --order-limit 100000000 \
        --api-key k --api-secret s [--market static]
    python3 tests/ccxt/venue_load.py http://127.0.0.1:8080 k s [seconds per endpoint]
"""

import hashlib
import hmac
import http.client
import sys
import time
import urllib.parse


def run(conn, method, path, headers, body_for, seconds):
    n, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        body = body_for(n)
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit(f"{method} {path}: HTTP {r.status}")
        n += 1
    return n / (time.monotonic() - start)


def main():
    url, key, secret = sys.argv[1:4]
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 5.0
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    none = lambda n: None  # noqa: E731

    def order(n):
        q = urllib.parse.urlencode({
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "IOC",
            "quantity": "0.0002", "price": "40000", "newClientOrderId": f"load-{n}",
            "timestamp": int(time.time() * 1000),
        })
        sig = hmac.new(secret.encode(), q.encode(), hashlib.sha256).hexdigest()
        return f"{q}&signature={sig}"

    signed = {"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"}
    for name, method, path, headers, body in [
        ("depth", "GET", "/api/v3/depth?symbol=BTCUSDT&limit=100", {}, none),
        ("bookTicker", "GET", "/api/v3/ticker/bookTicker?symbol=BTCUSDT", {}, none),
        ("order", "POST", "/api/v3/order", signed, order),
    ]:
        print(f"{name:12} {run(conn, method, path, headers, body, seconds):8.0f} requests/s")


if __name__ == "__main__":
    main()
