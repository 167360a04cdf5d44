from django.contrib import admin

from .models import Campaign, ExportJob, ExportLog


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "widget_style", "items_per_customer", "discount_percent", "created", "sent_at"]
    search_fields = ["name"]
    raw_id_fields = ["affinity_category", "friends_bought", "likely_buyers_of", "created_by", "scope_products"]
    filter_horizontal = ["scope_categories", "scope_brands"]


@admin.register(ExportLog)
class ExportLogAdmin(admin.ModelAdmin):
    """Read-only: the log is written by exports, never by hand."""

    list_display = ["created", "user", "campaign", "kind", "rows"]
    list_filter = ["kind"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ["pk", "campaign", "requested_by", "state", "done", "total", "created", "finished"]
    list_filter = ["state"]
    readonly_fields = ["task_id", "file", "error"]
