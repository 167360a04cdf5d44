"""Cost of one recommendations request inside one process, through Django's WSGI handler.

    GRAPHCART_VAR_DIR=/tmp/benchvar DJANGO_SECRET_KEY=... .venv/bin/python bench/serving_profile.py [--profile]

Same database and request as bench/serving_load.py (run that once first: it creates the
staff token and a fresh view per customer), but no network and no other worker: the figure
is the per-request work alone. --profile prints cProfile's top functions by own time
(PROFILE_SORT=cumulative: by cumulative time; PROFILE_ROWS: how many).
"""
import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ.setdefault("DJANGO_DEBUG", "false")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    import torch
    from django.core.handlers.wsgi import WSGIHandler
    from rest_framework.authtoken.models import Token

    from recommender.models import ModelVersion, Recommendation

    torch.set_num_threads(1)
    version = ModelVersion.objects.get(status="active")
    ids = list(Recommendation.objects.filter(model_version=version, rank=1).order_by("customer_id")
               .values_list("customer_id", flat=True)[:args.customers])
    token = Token.objects.get(user__username="bench-staff").key
    app = WSGIHandler()

    def get(customer: int) -> None:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": f"/api/customers/{customer}/recommendations",
                   "QUERY_STRING": "widget=home&n=8", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
                   "HTTP_HOST": "127.0.0.1", "HTTP_AUTHORIZATION": f"Token {token}", "wsgi.input": io.BytesIO(),
                   "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr}
        status = []
        b"".join(app(environ, lambda line, headers: status.append(line)))
        if not status[0].startswith("200"):
            sys.exit(f"customer {customer}: {status[0]}")

    for customer in ids[:20]:  # model load, caches
        get(customer)
    started = time.perf_counter()
    for customer in ids:
        get(customer)
    print(f"{(time.perf_counter() - started) * 1000 / len(ids):.1f} ms per request over {len(ids)} customers "
          f"(serving cache {os.environ.get('RECOMMENDER_SERVING_CACHE_SECONDS', 'default')} s)")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [get(customer) for customer in ids])
        stats = pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "tottime"))  # or "cumulative"
        stats.print_stats(int(os.environ.get("PROFILE_ROWS", "25")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
