from django.urls import path

from . import views

app_name = "recommender"
urlpatterns = [
    path("r/<str:widget>/<int:product_id>/", views.click, name="click"),
    path("why/<str:widget>/<int:product_id>/", views.why, name="why"),
]
