"""Production: DEBUG off, secrets and hosts from the environment, HTTPS hardening.

`DJANGO_SETTINGS_MODULE=config.settings.production python manage.py check --deploy`
is clean with DJANGO_SECRET_KEY set to a long random value.
"""
import os

os.environ["DJANGO_DEBUG"] = "false"

from .base import *  # noqa: E402,F401,F403
from .base import env_bool  # noqa: E402

DEBUG = False
DEMO_MODE = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
