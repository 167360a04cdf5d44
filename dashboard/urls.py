from django.urls import path

from .views import campaigns, customers, model, overview, products, rules

app_name = "dashboard"
urlpatterns = [
    path("", overview.overview, name="overview"),
    path("customers/", customers.customer_list, name="customers"),
    path("customers/<int:pk>/", customers.customer_detail, name="customer"),
    path("customers/<int:pk>/what-if.json", customers.what_if, name="what_if"),
    path("products/", products.product_list, name="products"),
    path("products/<int:pk>/", products.product_detail, name="product"),
    path("model/", model.model, name="model"),
    path("model/progress.json", model.training_progress, name="training_progress"),
    path("model/retrain/", model.retrain, name="retrain"),
    path("model/versions/<int:pk>/activate/", model.activate, name="activate"),
    path("model/rollback/", model.rollback, name="rollback"),
    path("rules/", rules.rules, name="rules"),
    path("rules/<int:pk>/toggle/", rules.toggle_rule, name="toggle_rule"),
    path("campaigns/", campaigns.campaign_list, name="campaigns"),
    path("campaigns/new/", campaigns.campaign_new, name="campaign_new"),
    path("campaigns/<int:pk>/", campaigns.campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/edit/", campaigns.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:pk>/export/", campaigns.campaign_export, name="campaign_export"),
    path("exports/<int:pk>/", campaigns.export_job, name="export_job"),
    path("exports/<int:pk>/progress.json", campaigns.export_job_progress, name="export_progress"),
    path("exports/<int:pk>/download/", campaigns.export_download, name="export_download"),
]
