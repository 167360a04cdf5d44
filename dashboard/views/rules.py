from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from recommender import serving
from recommender.models import MerchandisingRule
from recommender.rules import forget_rules, live_rules

from ..access import merchandiser_required
from ..forms import RuleForm
from .common import page

PREVIEW_LENGTH = 8


def rules_page(request, form, preview=None, status: int = 200):
    rules = MerchandisingRule.objects.select_related("product", "brand", "category")
    return page(request, "rules.html", "rules", {"form": form, "rules": rules, "preview": preview}, status=status)


def preview_lists(rule: MerchandisingRule, customer) -> dict:
    """The customer's list under today's live rules, and with the unsaved rule added."""
    # A customer's list only exists in the personal widgets; other widgets preview on "home".
    widget = rule.widget if rule.widget in serving.PERSONAL_WIDGETS else "home"
    before = serving.recommend(customer=customer, widget=widget, n=PREVIEW_LENGTH)
    after = serving.preview_rules(customer, [*live_rules(widget), rule], PREVIEW_LENGTH, widget=widget)
    before_ids = before.product_ids
    return {
        "customer": customer,
        "before": before.items,
        "after": [
            {"item": item, "was": before_ids.index(item.product.pk) + 1 if item.product.pk in before_ids else None}
            for item in after.items
        ],
        "removed": [item for item in before.items if item.product.pk not in after.product_ids],
    }


@merchandiser_required
def rules(request):
    if request.method != "POST":
        return rules_page(request, RuleForm())
    form = RuleForm(request.POST)
    if not form.is_valid():
        return rules_page(request, form, status=400)
    rule = form.save(commit=False)
    if request.POST.get("intent") == "preview":
        customer = form.cleaned_data.get("preview_customer")
        if customer is None:
            form.add_error("preview_customer", "Choose a customer to preview the rule on.")
            return rules_page(request, form, status=400)
        return rules_page(request, form, preview=preview_lists(rule, customer))
    rule.created_by = request.user
    rule.save()
    forget_rules()
    messages.success(request, f"Rule “{rule.name}” saved.")
    return redirect("dashboard:rules")


@merchandiser_required
@require_POST
def toggle_rule(request, pk: int):
    rule = get_object_or_404(MerchandisingRule, pk=pk)
    rule.active = not rule.active
    rule.save(update_fields=["active"])
    forget_rules()
    messages.success(request, f"Rule “{rule.name}” {'enabled' if rule.active else 'disabled'}.")
    return redirect("dashboard:rules")
