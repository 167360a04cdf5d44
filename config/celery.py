"""The Celery app: reads CELERY_* settings, autodiscovers each app's tasks.py."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("graphcart")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
