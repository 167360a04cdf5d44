from django.contrib import admin

from .models import Brand, Cart, CartLine, Category, Customer, Event, Follow, Order, OrderLine, Product, Review


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "parent"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["title", "category", "brand", "price", "stock", "active", "view_count", "cart_count",
                    "purchase_count", "created"]
    list_filter = ["active", "category", "brand", "created"]
    search_fields = ["title", "description", "external_id"]
    autocomplete_fields = ["category", "brand"]
    readonly_fields = ["view_count", "cart_count", "purchase_count"]
    list_select_related = ["category", "brand"]
    date_hierarchy = "created"


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "email", "marketing_opt_in", "joined"]
    list_filter = ["marketing_opt_in", "joined"]
    search_fields = ["display_name", "email", "user__username", "external_id"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    list_display = ["follower", "followee", "created"]
    list_filter = ["created"]
    search_fields = ["follower__display_name", "followee__display_name"]
    raw_id_fields = ["follower", "followee"]
    list_select_related = ["follower", "followee"]


class ProductLineInline(admin.TabularInline):
    raw_id_fields = ["product"]
    extra = 0


class CartLineInline(ProductLineInline):
    model = CartLine


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ["pk", "customer", "session_key", "checked_out", "created", "updated"]
    list_filter = ["checked_out", "created"]
    search_fields = ["customer__display_name", "session_key"]
    raw_id_fields = ["customer"]
    inlines = [CartLineInline]


class OrderLineInline(ProductLineInline):
    model = OrderLine


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["pk", "customer", "status", "total", "created", "payment_reference"]
    list_filter = ["status", "created"]
    search_fields = ["customer__display_name", "payment_reference"]
    raw_id_fields = ["customer"]
    date_hierarchy = "created"
    inlines = [OrderLineInline]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["product", "customer", "rating", "sentiment", "created"]
    list_filter = ["rating", "created"]
    search_fields = ["text", "product__title", "customer__display_name"]
    raw_id_fields = ["customer", "product"]
    readonly_fields = ["sentiment"]
    list_select_related = ["customer", "product"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "type", "customer", "product", "query", "widget", "model_version"]
    list_filter = ["type", "widget", "timestamp"]
    search_fields = ["query", "session_key", "customer__display_name", "product__title"]
    raw_id_fields = ["customer", "product"]
    list_select_related = ["customer", "product"]
    date_hierarchy = "timestamp"
    show_full_result_count = False  # counting millions of events on every page is slow
