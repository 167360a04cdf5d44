from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("shop.api_urls")),
    path("api/", include("recommender.api_urls")),
    path("dashboard/", include("dashboard.urls")),
    path("", include("recommender.urls")),
    path("", include("shop.urls")),
]
