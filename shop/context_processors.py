from django.conf import settings


def shop(request):
    return {"DEMO_MODE": settings.DEMO_MODE}
