"""Load test of the recommendations endpoint: gunicorn on loopback, `wrk -c 8 -d 60s`.

    GRAPHCART_VAR_DIR=/tmp/benchvar .venv/bin/python bench/serving_load.py [--duration 60s] [--customers 200]
        [--workers 2] [--worker-class gthread --threads 2]

Needs the demo store with an active model (`make run`, or bench/retrain_timing.py on the
same database). Starts gunicorn (2 sync workers as `make run` serves, or --worker-class
gthread --threads N; one torch thread each), gives every rotated customer a fresh view after
materialization (unless a run before did) so each request runs the real-time re-rank,
then drives GET /api/customers/{id}/recommendations with a staff token from a wrk Lua script
that rotates customers. Prints requests/s and p50/p99 as wrk measured them; targets:
>= 300 requests/s, p99 <= 50 ms.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

LUA = """
local ids = {%(ids)s}
local counter = 0
request = function()
  counter = counter %% #ids + 1
  return wrk.format("GET", "/api/customers/" .. ids[counter] .. "/recommendations?widget=home&n=8",
                    {["Authorization"] = "Token %(token)s"})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%%d duration_us=%%d non2xx=%%d socket_errors=%%d p50_us=%%d p99_us=%%d\\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def prepare(n_customers: int) -> tuple[list[int], str, str]:
    """(customer ids, staff token, active label); one fresh view per customer."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from recommender.models import ModelVersion, Recommendation
    from shop.models import Event

    version = ModelVersion.objects.filter(status="active").first()
    if version is None:
        sys.exit("no active model: run `make run` or bench/retrain_timing.py on this database first")
    ids = list(Recommendation.objects.filter(model_version=version, rank=1)
               .order_by("customer_id").values_list("customer_id", "product_id")[:n_customers])
    if not ids:
        sys.exit(f"{version} has no materialized recommendations yet")
    # A click after materialization: every request re-ranks with Recommender.step. Only where
    # there is none yet, so repeated runs measure the same work.
    since = dict(Recommendation.objects.filter(model_version=version, rank=1).values_list("customer_id", "created"))
    clicked = set(Event.objects.filter(customer_id__in=[c for c, _ in ids], type=Event.Type.VIEW,
                                       session_key="bench").values_list("customer_id", "timestamp"))
    clicked = {c for c, at in clicked if at > since[c]}
    Event.objects.bulk_create(Event(type=Event.Type.VIEW, customer_id=c, product_id=p, session_key="bench")
                              for c, p in ids if c not in clicked)
    staff, _ = get_user_model().objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
    token, _ = Token.objects.get_or_create(user=staff)
    return [c for c, _ in ids], token.key, version.label


def start_gunicorn(port: int, workers: int, log, worker_class: str, threads: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LOG_LEVEL": "WARNING", "DJANGO_DEBUG": "false",
           "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-only-secret-key-" + "x" * 40)}
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--worker-class", worker_class, "--threads", str(threads),
         "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def warm_up(url: str, ids: list[int], token: str, workers: int) -> str:
    """Every worker loads the model before measuring; returns the source the API reports."""
    source = ""
    for customer in ids[: 20 * workers]:
        request = urllib.request.Request(f"{url}/api/customers/{customer}/recommendations?n=8",
                                         headers={"Authorization": f"Token {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read().decode()
        source = re.search(r'"source":"([^"]*)"', body).group(1)
    return source


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="60s")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class: sync, gthread")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread)")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")

    ids, token, label = prepare(args.customers)
    url = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "rotate.lua"
        script.write_text(LUA % {"ids": ",".join(map(str, ids)), "token": token})
        log = open(Path(tmp) / "gunicorn.log", "w+")
        server = start_gunicorn(args.port, args.workers, log, args.worker_class, args.threads)
        try:
            for _ in range(300):
                try:
                    source = warm_up(url, ids, token, args.workers)
                    break
                except OSError:
                    time.sleep(0.2)
            else:
                log.seek(0)
                sys.exit(f"gunicorn did not answer:\n{log.read()}")
            load_before = os.getloadavg()[0]
            out = subprocess.run(["wrk", "-t", "2", "-c", str(args.connections), "-d", args.duration, "-s", str(script),
                                  "--latency", url], capture_output=True, text=True, check=True).stdout
            load_after = os.getloadavg()[0]
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    fields = dict(re.findall(r"(\w+)=(\d+)", out.split("RESULT", 1)[1]))
    rps = int(fields["requests"]) / (int(fields["duration_us"]) / 1e6)
    p50, p99 = int(fields["p50_us"]) / 1000, int(fields["p99_us"]) / 1000
    print(f"served by {source} (active {label}); {len(ids)} customers rotated, each with a view to re-rank on")
    print(f"wrk -c {args.connections} -d {args.duration}, gunicorn workers={args.workers} "
          f"worker-class={args.worker_class} threads={args.threads}, 1 torch thread each")
    print(f"load average (1 min) before: {load_before:.2f}, after: {load_after:.2f} (this test adds about 2)")
    print(f"requests: {fields['requests']}, non-2xx: {fields['non2xx']}, socket errors: {fields['socket_errors']}")
    print(f"throughput: {rps:.0f} requests/s (target >= 300) -> {'OK' if rps >= 300 else 'MISSED'}")
    print(f"latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms (target p99 <= 50 ms) -> {'OK' if p99 <= 50 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
