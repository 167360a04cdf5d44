from django.urls import path

from . import api

urlpatterns = [
    path("customers/<int:customer_id>/recommendations", api.CustomerRecommendations.as_view(),
         name="api-customer-recommendations"),
    path("products/<int:product_id>/related", api.RelatedProducts.as_view(), name="api-product-related"),
    path("model/retrain", api.Retrain.as_view(), name="api-model-retrain"),
    path("model/versions", api.ModelVersions.as_view(), name="api-model-versions"),
]
