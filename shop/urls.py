from django.urls import path

from . import views

app_name = "shop"
urlpatterns = [
    path("", views.home, name="home"),
    path("categories/", views.category_list, name="categories"),
    path("c/<slug:slug>/", views.category, name="category"),
    path("products/<int:pk>/", views.product, name="product"),
    path("products/<int:pk>/image.svg", views.product_image, name="product_image"),
    path("products/<int:pk>/review/", views.review, name="review"),
    path("search/", views.search, name="search"),
    path("cart/", views.cart, name="cart"),
    path("cart/add/<int:pk>/", views.cart_add, name="cart_add"),
    path("cart/remove/<int:pk>/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/", views.order_list, name="orders"),
    path("orders/<int:pk>/", views.order_detail, name="order"),
    path("customers/<int:pk>/", views.customer, name="customer"),
    path("customers/<int:pk>/follow/", views.follow, name="follow"),
    path("customers/<int:pk>/unfollow/", views.unfollow, name="unfollow"),
    path("shop-as/", views.shop_as, name="shop_as"),
]
