from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("products", api.ProductViewSet, basename="product")

urlpatterns = [
    path("events/", api.EventIngestView.as_view(), name="api-events"),
    path("", include(router.urls)),
]
