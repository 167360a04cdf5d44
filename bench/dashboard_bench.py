"""Dashboard timings on a seeded store with a real (small) model, in a throwaway SQLite database.

    python bench/dashboard_bench.py [--customers 1000] [--products 400] [--days 60] [--repeat 5]

Prints the median wall time of the overview, the customer list, a customer page, a campaign's
audience count, and the CSV export's throughput (rows per second, streamed vs. the Celery task
path's writer, which is the same generator). Measured here, in this run: nothing is asserted.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup(tmp: str) -> None:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "GRAPHCART_VAR_DIR": tmp,
        "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "RECOMMENDER_DEVICE": "cpu",
        "RECOMMENDER_BASELINES": "pop",
        "RECOMMENDER_TRAIN_CONFIG": json.dumps({"dim": 16, "epochs": 2, "patience": 2}),
        "LOG_LEVEL": "WARNING",
    })
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--products", type=int, default=400)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    setup(tempfile.mkdtemp(prefix="dashboard-bench-"))

    from django.contrib.auth.models import User
    from django.test import Client
    from django.utils import timezone

    from dashboard import analytics, campaigns
    from dashboard.models import Campaign
    from recommender.models import Recommendation
    from recommender.services import request_retrain
    from shop.demo.generator import seed

    started = time.perf_counter()
    seed(customers=args.customers, products=args.products, days=args.days, seed=1)
    request_retrain(None)  # eager: trains, activates and materializes every customer's list
    print(f"store: {args.customers} customers, {args.products} products, {args.days} days; "
          f"{Recommendation.objects.count()} materialized recommendations "
          f"(setup {time.perf_counter() - started:.1f}s)")

    client = Client()
    client.force_login(User.objects.get(username="merchandiser"))
    today = timezone.localdate()
    customer = Recommendation.objects.first().customer
    campaign = Campaign.objects.create(name="bench", items_per_customer=4, discount_percent=10)
    ids = list(campaigns.audience(campaign).values_list("pk", flat=True))

    def export() -> None:
        for _ in campaigns.csv_lines(campaign, ids, "http://127.0.0.1:8000/"):
            pass

    rows = [
        ("overview query (90 days)", lambda: analytics.overview(today - timezone.timedelta(days=89), today)),
        ("overview page", lambda: client.get("/dashboard/")),
        ("customer list page", lambda: client.get("/dashboard/customers/")),
        ("customer page (recs, figures, network)", lambda: client.get(f"/dashboard/customers/{customer.pk}/")),
        ("campaign audience count", lambda: campaigns.audience(campaign).count()),
    ]
    for name, fn in rows:
        print(f"{name:42s} median {1000 * median_seconds(fn, args.repeat):8.1f} ms")
    seconds = median_seconds(export, max(1, args.repeat // 2))
    print(f"{'CSV export':42s} median {1000 * seconds:8.1f} ms for {len(ids)} rows "
          f"= {len(ids) / seconds:,.0f} rows/s")


if __name__ == "__main__":
    main()
