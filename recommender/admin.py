"""Admin: model versions (activate / roll back), training runs ("Retrain now" + live progress),
materialized recommendations and merchandising rules."""
from django.contrib import admin, messages
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from .models import MerchandisingRule, ModelVersion, Recommendation, TrainingRun
from .services import ActivationError, RetrainRefused, activate, request_retrain, rollback


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "validation_ndcg", "device", "train_seconds", "created", "activated_at"]
    list_filter = ["status", "device"]
    readonly_fields = ["status", "config", "metrics", "baseline_metrics", "history", "artifact", "device",
                       "train_seconds", "snapshot_stats", "notes", "created", "activated_at"]
    actions = ["activate_selected", "roll_back"]

    @admin.display(description="val NDCG@10")
    def validation_ndcg(self, obj):
        value = obj.validation_ndcg10
        return "—" if value is None else f"{value:.4f}"

    @admin.action(description="Activate the selected version")
    def activate_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        try:
            version = activate(queryset.get(), reason=f"activated by {request.user}")
        except ActivationError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"{version} is now serving.", messages.SUCCESS)

    @admin.action(description="Roll back to the previously active version")
    def roll_back(self, request, queryset):
        try:
            version = rollback()
        except ActivationError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Rolled back: {version} is serving again.", messages.SUCCESS)

    def has_add_permission(self, request):
        return False


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    change_list_template = "admin/recommender/trainingrun/change_list.html"
    list_display = ["__str__", "state", "progress_bar", "epoch", "loss", "model_version", "triggered_by", "created",
                    "finished"]
    list_filter = ["state"]
    readonly_fields = ["task_id", "state", "progress", "epoch", "loss", "curve", "log_tail", "triggered_by",
                       "model_version", "created", "started", "finished", "error"]

    @admin.display(description="progress")
    def progress_bar(self, obj):
        url = reverse("admin:recommender_trainingrun_progress", args=[obj.pk])
        return format_html('<progress max="100" value="{}"></progress> <a href="{}">{}%</a>',
                           obj.progress, url, f"{obj.progress:.0f}")

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        own = [
            path("retrain/", self.admin_site.admin_view(require_POST(self.retrain_view)),
                 name="recommender_trainingrun_retrain"),
            path("<int:run_id>/progress/", self.admin_site.admin_view(self.progress_view),
                 name="recommender_trainingrun_progress"),
            path("<int:run_id>/progress.json", self.admin_site.admin_view(self.progress_json),
                 name="recommender_trainingrun_progress_json"),
        ]
        return own + super().get_urls()

    def retrain_view(self, request):
        if not self.has_view_permission(request):
            return redirect("admin:index")
        try:
            run = request_retrain(request.user)
        except RetrainRefused as refused:
            self.message_user(request, f"Retrain refused: {refused}", messages.ERROR)
            return redirect("admin:recommender_trainingrun_changelist")
        self.message_user(request, f"Training run #{run.pk} queued.", messages.SUCCESS)
        return redirect("admin:recommender_trainingrun_progress", run.pk)

    def progress_view(self, request, run_id: int):
        run = get_object_or_404(TrainingRun, pk=run_id)
        context = {**self.admin_site.each_context(request), "run": run, "opts": self.model._meta,
                   "title": f"Training run #{run.pk}",
                   "json_url": reverse("admin:recommender_trainingrun_progress_json", args=[run.pk])}
        return TemplateResponse(request, "admin/recommender/trainingrun/progress.html", context)

    def progress_json(self, request, run_id: int):
        run = get_object_or_404(TrainingRun, pk=run_id)
        return JsonResponse(progress_payload(run))


def progress_payload(run: TrainingRun) -> dict:
    version = run.model_version
    return {
        "id": run.pk, "state": run.state, "progress": run.progress, "epoch": run.epoch, "loss": run.loss,
        "curve": run.curve, "log_tail": run.log_tail, "error": run.error, "done": run.done,
        "model_version": version.pk if version else None,
        "model_status": version.status if version else None,
        "notes": version.notes if version else "",
    }


@admin.register(Recommendation)
class RecommendationAdmin(admin.ModelAdmin):
    list_display = ["customer", "rank", "product", "score", "model_version", "created"]
    list_filter = ["model_version"]
    list_select_related = ["customer", "product", "model_version"]
    raw_id_fields = ["customer", "product", "model_version"]
    search_fields = ["customer__display_name", "product__title"]


@admin.register(MerchandisingRule)
class MerchandisingRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "action", "product", "brand", "category", "strength", "position", "widget", "starts",
                    "ends", "active"]
    list_filter = ["action", "active", "widget"]
    raw_id_fields = ["product", "brand", "category", "created_by"]

    def save_model(self, request, obj, form, change):
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
