"""Exports too large to stream in a request (audience over DASHBOARD_EXPORT_SYNC_LIMIT)."""
import logging
import tempfile

from celery import shared_task
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from . import campaigns
from .models import ExportJob, ExportLog

logger = logging.getLogger(__name__)


@shared_task(name="dashboard.tasks.export_campaign", acks_late=True, max_retries=2, time_limit=3600,
             soft_time_limit=3500)
def export_campaign(job_id: int) -> int:
    """Write the campaign's CSV to storage, reporting progress on the ExportJob; returns rows.

    Idempotent: a finished job is left alone; a redelivered one starts over (the file and the
    export log are only written once the whole CSV exists)."""
    job = ExportJob.objects.select_related("campaign", "requested_by").get(pk=job_id)
    if job.state == ExportJob.State.DONE:
        return job.total
    ids = list(campaigns.audience(job.campaign).values_list("pk", flat=True))
    ExportJob.objects.filter(pk=job.pk).update(state=ExportJob.State.RUNNING, total=len(ids), done=0, error="")

    def on_chunk(done: int) -> None:
        ExportJob.objects.filter(pk=job.pk).update(done=done)

    try:
        with tempfile.TemporaryFile("w+b") as out:
            for line in campaigns.csv_lines(job.campaign, ids, job.base_url, on_chunk=on_chunk):
                out.write(line.encode())
            out.seek(0)
            with transaction.atomic():
                job.file.save(f"campaign-{job.campaign_id}-export-{job.pk}.csv", File(out), save=False)
                ExportJob.objects.filter(pk=job.pk).update(
                    state=ExportJob.State.DONE, done=len(ids), file=job.file.name, finished=timezone.now()
                )
                campaigns.record_export(job.campaign, job.requested_by, ExportLog.Kind.TASK, ids)
    except Exception as exc:
        logger.exception("export job %s failed", job.pk)
        ExportJob.objects.filter(pk=job.pk).update(
            state=ExportJob.State.FAILED, error=f"{type(exc).__name__}: {exc}"[:500], finished=timezone.now()
        )
        raise
    return len(ids)
