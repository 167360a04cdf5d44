"""REST API: POST /api/events/ (one event or an all-or-nothing batch), GET /api/products/."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from . import catalogue, tracking
from .models import Category, Customer, Event, Product
from .serializers import (BatchResultSerializer, ErrorsSerializer, EventInSerializer, ProductFilterSerializer,
                          ProductSerializer)

MAX_BATCH = 1000


def _error(index, field, reason) -> dict:
    return {"index": index, "field": field, "reason": str(reason)}


def _flatten(index: int, errors: dict) -> list[dict]:
    out = []
    for field, reasons in errors.items():
        for reason in reasons if isinstance(reasons, list) else [reasons]:
            out.append(_error(index, field, reason))
    return out


class EventIngestView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=EventInSerializer(many=True),
        responses={201: BatchResultSerializer, 400: ErrorsSerializer},
        summary="Record one event or a batch of up to 1,000",
        description=(
            "The body is one event object or a list of them. A batch is all-or-nothing: if any item "
            "is invalid nothing is written and the response lists every bad item with its index, "
            "field and reason. Staff (server-to-server feeds) may record for any customer; other "
            "users only for themselves."
        ),
    )
    def post(self, request):
        items = request.data if isinstance(request.data, list) else [request.data]
        if not isinstance(request.data, (list, dict)):
            return self._bad([_error(None, "body", "expected an event object or a list of events")])
        if not items:
            return self._bad([_error(None, "batch", "the batch is empty")])
        if len(items) > MAX_BATCH:
            return self._bad([_error(MAX_BATCH, "batch", f"a batch holds at most {MAX_BATCH} events; got {len(items)}")])

        errors, valid = [], []
        for index, item in enumerate(items):
            serializer = EventInSerializer(data=item)
            if not isinstance(item, dict):
                errors.append(_error(index, "non_field_errors", "expected an event object"))
            elif serializer.is_valid():
                valid.append((index, serializer.validated_data))
            else:
                errors.extend(_flatten(index, serializer.errors))
        errors.extend(self._check_references(request, valid))
        if errors:
            return self._bad(sorted(errors, key=lambda e: (e["index"] if e["index"] is not None else -1)))

        own = tracking.customer_for_user(request.user)
        events = [
            Event(
                type=data["type"], product_id=data.get("product"), customer_id=data.get("customer") or (own and own.pk),
                session_key=data.get("session_key", ""), query=data.get("query", ""), widget=data.get("widget", ""),
                model_version=data.get("model_version", ""), metadata=data.get("metadata") or {},
                **({"timestamp": data["timestamp"]} if "timestamp" in data else {}),
            )
            for _, data in valid
        ]
        created = tracking.record_many(events)  # one transaction: all or nothing
        return Response({"created": len(created), "ids": [e.pk for e in created]}, status=status.HTTP_201_CREATED)

    @staticmethod
    def _check_references(request, valid: list[tuple[int, dict]]) -> list[dict]:
        """Unknown products/customers, and customers this user may not record for."""
        product_ids = {d["product"] for _, d in valid if d.get("product")}
        customer_ids = {d["customer"] for _, d in valid if d.get("customer")}
        known_products = set(Product.objects.filter(pk__in=product_ids).values_list("pk", flat=True))
        known_customers = set(Customer.objects.filter(pk__in=customer_ids).values_list("pk", flat=True))
        own = tracking.customer_for_user(request.user)
        errors = []
        for index, data in valid:
            if data.get("product") and data["product"] not in known_products:
                errors.append(_error(index, "product", f"unknown product {data['product']}"))
            customer = data.get("customer")
            if customer and customer not in known_customers:
                errors.append(_error(index, "customer", f"unknown customer {customer}"))
            elif customer and not request.user.is_staff and (own is None or own.pk != customer):
                errors.append(_error(index, "customer", "you may only record events for your own customer"))
        return errors

    @staticmethod
    def _bad(errors: list[dict]) -> Response:
        return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)


@extend_schema(parameters=[
    OpenApiParameter("category", str, description="Category slug (includes its sub-categories)"),
    OpenApiParameter("brand", str, description="Brand slug"),
    OpenApiParameter("min_price", float), OpenApiParameter("max_price", float),
    OpenApiParameter("q", str, description="Search text; results most relevant first"),
])
class ProductViewSet(viewsets.ReadOnlyModelViewSet):
    """The active catalogue, filterable by category, brand, price range and search text."""

    serializer_class = ProductSerializer
    permission_classes = [permissions.AllowAny]

    def get_queryset(self):
        qs = catalogue.active_products().order_by("pk")
        if self.action != "list":
            return qs
        filters = ProductFilterSerializer(data=self.request.query_params)
        if not filters.is_valid():
            raise ValidationError(filters.errors)
        f = filters.validated_data
        if "category" in f:
            category = Category.objects.filter(slug=f["category"]).first()
            if category is None:
                raise ValidationError({"category": [f"unknown category {f['category']!r}"]})
            qs = qs.filter(category_id__in=category.descendant_ids())
        if "brand" in f:
            qs = qs.filter(brand__slug=f["brand"])
        if "min_price" in f:
            qs = qs.filter(price__gte=f["min_price"])
        if "max_price" in f:
            qs = qs.filter(price__lte=f["max_price"])
        if f.get("q"):
            qs = catalogue.search(f["q"], qs)
        return qs
