"""`manage.py retrain [--wait]`: queue a training run; with --wait, follow it with a progress bar."""
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from recommender.models import TrainingRun
from recommender.services import RetrainRefused, request_retrain


class Command(BaseCommand):
    help = "Queue a retrain of the recommender (one runs at a time); --wait shows its progress."

    def add_arguments(self, parser):
        parser.add_argument("--wait", action="store_true", help="follow the run until it finishes")
        parser.add_argument("--timeout", type=float, default=3 * 3600, help="seconds to wait at most")
        parser.add_argument("--if-no-active", action="store_true",
                            help="do nothing when a model version is already active")

    def handle(self, *args, wait=False, timeout=3 * 3600, if_no_active=False, **options):
        from recommender.models import ModelVersion

        if if_no_active and ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exists():
            self.stdout.write("A model version is already active; not retraining.")
            return
        try:
            run = request_retrain(None)
            self.stdout.write(f"Queued training run #{run.pk}.")
        except RetrainRefused as refused:
            if not wait or refused.run is None:
                raise CommandError(str(refused)) from None
            run = refused.run
            self.stdout.write(f"{refused} Following it instead.")
        if wait:
            self.follow(run.pk, timeout)

    def follow(self, run_id: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with tqdm(total=100, desc=f"training run #{run_id}", unit="%", bar_format="{l_bar}{bar}| {n:.0f}% {postfix}",
                  file=self.stderr._out) as bar:
            while True:
                run = TrainingRun.objects.select_related("model_version").get(pk=run_id)
                bar.n = run.progress
                bar.set_postfix_str(f"{run.state} epoch {run.epoch}" + (f" loss {run.loss:.4f}" if run.loss else ""))
                bar.refresh()
                if run.done:
                    break
                if time.monotonic() > deadline:
                    raise CommandError(f"training run #{run_id} not finished after {timeout:.0f}s (still {run.state})")
                time.sleep(1)
        if run.state != TrainingRun.State.SUCCEEDED:
            raise CommandError(f"training run #{run_id} {run.state}: {run.error.splitlines()[0] if run.error else ''}")
        notes = run.model_version.notes.splitlines()[-1] if run.model_version and run.model_version.notes else ""
        self.stdout.write(self.style.SUCCESS(f"Training run #{run_id} succeeded. {notes}"))
