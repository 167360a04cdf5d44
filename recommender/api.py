"""REST API of the recommender (DRF, documented in the OpenAPI schema by drf-spectacular)."""
from functools import lru_cache

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import get_script_prefix, reverse
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from shop.models import Product

from . import serving
from .models import ModelVersion, TrainingRun
from .services import RetrainRefused, request_retrain


class RecommendationQuery(serializers.Serializer):
    widget = serializers.ChoiceField(choices=serving.WIDGETS, default="home")
    n = serializers.IntegerField(min_value=1, max_value=serving.MAX_N, default=8)


class RelatedQuery(serializers.Serializer):
    n = serializers.IntegerField(min_value=1, max_value=serving.MAX_N, default=8)


class RecommendedProductSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    title = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    url = serializers.CharField(source="get_absolute_url")


class RecommendedSerializer(serializers.Serializer):
    product = RecommendedProductSerializer()
    rank = serializers.IntegerField()
    score = serializers.FloatField()
    source = serializers.CharField()
    explanation = serializers.JSONField()


class RecommendationResultSerializer(serializers.Serializer):
    widget = serializers.CharField()
    source = serializers.CharField(help_text='"model:<id>", "friends", "session", "trending", ...')
    reason = serializers.CharField(help_text="Why a fallback served (empty when the model did).")
    items = RecommendedSerializer(many=True)


class TrainingRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrainingRun
        fields = ["id", "state", "progress", "epoch", "loss", "curve", "model_version", "created", "started",
                  "finished", "error"]


class ModelVersionSerializer(serializers.ModelSerializer):
    label = serializers.CharField(read_only=True)

    class Meta:
        model = ModelVersion
        fields = ["id", "label", "status", "config", "metrics", "baseline_metrics", "device", "train_seconds",
                  "snapshot_stats", "notes", "created", "activated_at"]


@lru_cache(maxsize=100_000)
def _product_url(script_prefix: str, product_id: int) -> str:
    return reverse("shop:product", args=[product_id])


def result_data(result: serving.RecommendationResult) -> dict:
    """The body RecommendationResultSerializer documents, built as a plain dict: the
    serializer's field machinery was a tenth of a request's cost on the hot endpoint (and so
    was reversing each product's URL, now remembered)."""
    prefix = get_script_prefix()
    return {
        "widget": result.widget,
        "source": result.source,
        "reason": result.reason,
        "items": [
            {
                "product": {"id": item.product.pk, "title": item.product.title,
                            "price": f"{item.product.price:.2f}", "url": _product_url(prefix, item.product.pk)},
                "rank": item.rank,
                "score": float(item.score),
                "source": item.source,
                "explanation": item.explanation,
            }
            for item in result.items
        ],
    }


def _query(serializer_class, request):
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)  # 400 {"n": ["Ensure this value is ..."]}
    return query.validated_data


class CustomerRecommendations(APIView):
    """The customer's recommendations with explanations and the source that served them."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=[RecommendationQuery], responses=RecommendationResultSerializer)
    def get(self, request, customer_id: int):
        query = _query(RecommendationQuery, request)
        customer = serving.customer_by_id(customer_id)  # kept per process (a hot endpoint): see serving
        if customer is None:
            raise Http404("No Customer matches the given query.")
        if not request.user.is_staff and customer.user_id != request.user.pk:
            raise PermissionDenied("Only the customer themself or staff can read these recommendations.")
        result = serving.recommend(customer=customer, widget=query["widget"], n=query["n"])
        return Response(result_data(result))


class RelatedProducts(APIView):
    """Products related to this one: the model's item vectors blended with co-purchases."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(parameters=[RelatedQuery], responses=RecommendationResultSerializer)
    def get(self, request, product_id: int):
        query = _query(RelatedQuery, request)
        product = get_object_or_404(Product, pk=product_id)
        return Response(result_data(serving.related(product, n=query["n"])))


class Retrain(APIView):
    """Queue a retrain (staff only); 409 while another run is queued or running."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(request=None, responses={202: TrainingRunSerializer, 409: None})
    def post(self, request):
        try:
            run = request_retrain(request.user)
        except RetrainRefused as refused:
            return Response({"detail": str(refused), "running": getattr(refused.run, "pk", None)},
                            status=status.HTTP_409_CONFLICT)
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class ModelVersions(APIView):
    """Every model version, newest first, with metrics and baselines (staff only)."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(responses=ModelVersionSerializer(many=True))
    def get(self, request):
        return Response(ModelVersionSerializer(ModelVersion.objects.all()[:200], many=True).data)
