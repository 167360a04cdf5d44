"""Who may use the dashboard: staff in the "merchandiser" group, or superusers.

One decorator guards every page, JSON endpoint and export: anonymous visitors are sent to
settings.LOGIN_URL, anyone else who is logged in gets 403.
"""
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

MERCHANDISER_GROUP = "merchandiser"


def is_merchandiser(user) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.is_staff and user.groups.filter(name=MERCHANDISER_GROUP).exists()


def merchandiser_required(view):
    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_merchandiser(request.user):
            raise PermissionDenied("The dashboard is for merchandisers.")
        return view(request, *args, **kwargs)

    return guarded
