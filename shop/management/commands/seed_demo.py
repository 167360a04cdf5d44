import time

from django.core.management.base import BaseCommand, CommandError
from django.db.models import ProtectedError
from tqdm import tqdm

from shop.demo import MERCHANDISER, StoreNotEmpty, seed as seed_store
from shop.models import Customer, Product


class Command(BaseCommand):
    help = "Fill the demo store with deterministic, realistic customers, products, follows and events."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--products", type=int, default=1500)
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--events", type=int, default=None, help="target event count (default 75 per customer)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing if the store already has data")
        parser.add_argument("--flush", action="store_true", help="delete the store's data first")

    def handle(self, *args, customers, products, days, seed, events, if_empty, flush, **options):
        if if_empty and (Customer.objects.exists() or Product.objects.exists()):
            self.stdout.write("The store already has data: not seeding (--if-empty).")
            return
        started = time.perf_counter()
        bars: dict[str, tqdm] = {}

        def progress(info):
            bar = bars.get(info["stage"])
            if bar is None:
                bar = bars[info["stage"]] = tqdm(total=info.get("total"), desc=info["stage"], unit=" rows",
                                                 disable=options["verbosity"] == 0)
            bar.update(info["done"] - bar.n)

        try:
            counts = seed_store(customers=customers, products=products, days=days, seed=seed, events=events,
                          progress=progress, flush=flush)
        except (StoreNotEmpty, ValueError) as error:
            raise CommandError(str(error)) from error
        except ProtectedError as error:  # e.g. dashboard campaigns that point at products
            raise CommandError(f"cannot flush the store: {error.args[0]}") from error
        finally:
            for bar in bars.values():
                bar.close()
        summary = ", ".join(f"{v:,} {k}" for k, v in counts.items() if isinstance(v, int))
        self.stdout.write(self.style.SUCCESS(f"Seeded in {time.perf_counter() - started:.1f}s: {summary}."))
        self.stdout.write(f"Merchandiser login: {MERCHANDISER} / {MERCHANDISER}  (staff; dashboard at /dashboard/)")
