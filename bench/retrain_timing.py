"""Times a full retrain + scoring of the demo store, as `make run` does it, and prints the phases.

    GRAPHCART_VAR_DIR=/tmp/benchvar .venv/bin/python bench/retrain_timing.py [--customers 2000 --products 1500]

Uses the configured database (seeding the default demo store when it is empty) and runs the
Celery tasks inline (always-eager), so the figure is the work itself: snapshot, training with
the default TrainConfig, baselines, artifact, comparison with the active model, and
materializing the top-N of every customer. Target: <= 300 s on the CPU. Runs as `make run`'s
worker does: OMP_WAIT_POLICY=PASSIVE and tcmalloc when installed.
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `make run` starts the worker

from recommender.ml.allocator import active_allocator, use_tcmalloc  # noqa: E402

use_tcmalloc()  # as the worker: tcmalloc when it is installed (GRAPHCART_MALLOC=system: glibc's)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--products", type=int, default=1500)
    args = parser.parse_args()

    print(f"malloc: {active_allocator()}, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}", flush=True)
    import django

    django.setup()
    from django.core.management import call_command

    from config.celery import app
    from recommender.models import ModelVersion, Recommendation, TrainingRun
    from recommender.services import request_retrain
    from shop.models import Customer, Event

    call_command("migrate", verbosity=0)
    if not Customer.objects.exists():
        started = time.perf_counter()
        call_command("seed_demo", customers=args.customers, products=args.products, verbosity=0)
        print(f"seeded the demo store in {time.perf_counter() - started:.1f}s")
    print(f"store: {Customer.objects.count()} customers, {Event.objects.count()} events")

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    started = time.perf_counter()
    run = request_retrain(None)  # autocommit: on_commit fires now and the task runs inline
    total = time.perf_counter() - started
    run = TrainingRun.objects.select_related("model_version").get(pk=run.pk)
    version = run.model_version
    if run.state != TrainingRun.State.SUCCEEDED:
        print(f"training run {run.pk} {run.state}: {run.error}")
        return 1
    scored = Recommendation.objects.filter(model_version=version).values("customer").distinct().count()
    trained = (run.finished - run.started).total_seconds()
    baselines = ", ".join(f"{name} {m['ndcg@10']:.4f}" for name, m in version.baseline_metrics.items())
    print(f"device: {version.device}; epochs run: {len(version.history)}; "
          f"validation NDCG@10 {version.metrics['validation']['ndcg@10']:.4f}; "
          f"test NDCG@10 {version.metrics['test']['ndcg@10']:.4f}; baselines (test NDCG@10): {baselines}")
    print(f"model fit: {version.train_seconds:.1f}s; whole training run (snapshot..activation): {trained:.1f}s")
    print(f"scoring: {scored} customers materialized in {total - trained:.1f}s")
    print(f"retrain + scoring: {total:.1f}s (target <= 300s) -> {'OK' if total <= 300 else 'MISSED'}")
    print(f"active: {ModelVersion.objects.get(status='active')}; notes: {version.notes.splitlines()[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
