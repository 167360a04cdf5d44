from django.apps import AppConfig


class ShopConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "shop"
    verbose_name = "Demo store"

    def ready(self) -> None:
        from . import authentication  # noqa: F401  (connects the token cache's signal receivers)
