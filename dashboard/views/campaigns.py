import uuid

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import FileResponse, Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from .. import campaigns
from ..access import merchandiser_required
from ..forms import CampaignForm
from ..models import Campaign, ExportJob, ExportLog
from ..tasks import export_campaign
from .common import page

SAMPLE_CUSTOMERS = 3


def site_url(request) -> str:
    return request.build_absolute_uri("/")


@merchandiser_required
def campaign_list(request):
    rows = [(c, campaigns.audience(c).count()) for c in Campaign.objects.all()[:100]]
    return page(request, "campaigns.html", "campaigns", {"rows": rows})


def edit(request, campaign: Campaign | None):
    if request.method == "POST":
        form = CampaignForm(request.POST, instance=campaign)
        if form.is_valid():
            with transaction.atomic():
                saved = form.save(commit=False)
                if saved.created_by_id is None:
                    saved.created_by = request.user
                saved.save()
                form.save_m2m()
            messages.success(request, f"Campaign “{saved.name}” saved.")
            return redirect(saved)
        return page(request, "campaign_form.html", "campaigns", {"form": form, "campaign": campaign}, status=400)
    form = CampaignForm(instance=campaign, initial=None if campaign else request.GET.dict())
    return page(request, "campaign_form.html", "campaigns", {"form": form, "campaign": campaign})


@merchandiser_required
def campaign_new(request):
    return edit(request, None)


@merchandiser_required
def campaign_edit(request, pk: int):
    return edit(request, get_object_or_404(Campaign, pk=pk))


@merchandiser_required
def campaign_detail(request, pk: int):
    campaign = get_object_or_404(Campaign, pk=pk)
    audience = campaigns.audience(campaign)
    samples = campaigns.ItemPicker(campaign).for_customers(audience[:SAMPLE_CUSTOMERS])
    return page(request, "campaign_detail.html", "campaigns", {
        "campaign": campaign,
        "audience_size": audience.count(),
        "sync_limit": settings.DASHBOARD_EXPORT_SYNC_LIMIT,
        "samples": [(entry, campaigns.widget_html(campaign, entry, site_url(request))) for entry in samples],
        "performance": campaigns.performance(campaign),
        "jobs": campaign.export_jobs.all()[:5],
        "exports": campaign.exports.select_related("user")[:10],
    })


@merchandiser_required
@require_POST
def campaign_export(request, pk: int):
    """Stream the CSV, or hand a large audience to a Celery task and show its progress."""
    campaign = get_object_or_404(Campaign, pk=pk)
    ids = list(campaigns.audience(campaign).values_list("pk", flat=True))
    if len(ids) > settings.DASHBOARD_EXPORT_SYNC_LIMIT:
        with transaction.atomic():
            job = ExportJob.objects.create(
                campaign=campaign, requested_by=request.user, base_url=site_url(request), total=len(ids),
                task_id=str(uuid.uuid4()),
            )
            transaction.on_commit(lambda: export_campaign.apply_async(args=[job.pk], task_id=job.task_id))
        return redirect("dashboard:export_job", pk=job.pk)
    campaigns.record_export(campaign, request.user, ExportLog.Kind.STREAM, ids)
    response = StreamingHttpResponse(
        campaigns.csv_lines(campaign, ids, site_url(request)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}.csv"'
    return response


@merchandiser_required
def export_job(request, pk: int):
    job = get_object_or_404(ExportJob.objects.select_related("campaign"), pk=pk)
    return page(request, "export_job.html", "campaigns", {"job": job})


@merchandiser_required
def export_job_progress(request, pk: int):
    job = get_object_or_404(ExportJob, pk=pk)
    return JsonResponse({
        "id": job.pk, "state": job.state, "progress": round(job.progress, 1), "done": job.done, "total": job.total,
        "error": job.error,
        "download": reverse("dashboard:export_download", args=[job.pk]) if job.state == ExportJob.State.DONE else None,
    })


@merchandiser_required
def export_download(request, pk: int):
    job = get_object_or_404(ExportJob, pk=pk)
    if job.state != ExportJob.State.DONE or not job.file:
        raise Http404("This export has no file yet.")
    return FileResponse(job.file.open("rb"), as_attachment=True, filename=f"campaign-{job.campaign_id}.csv",
                        content_type="text/csv")
