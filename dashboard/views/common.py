from django.core.paginator import Paginator
from django.shortcuts import render


def page(request, template: str, section: str, context: dict, status: int = 200):
    return render(request, f"dashboard/{template}", {"section": section, **context}, status=status)


def paginate(request, queryset, per_page: int = 25):
    """The requested page and the query string without `page` (for the pager's links)."""
    query = request.GET.copy()
    query.pop("page", None)
    return Paginator(queryset, per_page).get_page(request.GET.get("page")), query.urlencode()
