from django.conf import settings

from .. import analytics, figures
from ..access import merchandiser_required
from ..forms import DateRangeForm
from .common import page


@merchandiser_required
def overview(request):
    form = DateRangeForm.from_query(request.GET, settings.DASHBOARD_ATTRIBUTION_DAYS)
    if not form.is_valid():
        return page(request, "overview.html", "overview", {"form": form}, status=400)
    data = analytics.overview(form.cleaned_data["start"], form.cleaned_data["end"], form.cleaned_data["window"])
    return page(request, "overview.html", "overview", {
        "form": form,
        "o": data,
        "series_figure": figures.html(figures.overview_series(data.series), height=360),
        "ctr_figure": figures.html(figures.widget_ctr(data.widgets), height=280) if data.widgets else "",
    })
