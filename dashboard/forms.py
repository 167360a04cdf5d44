"""Everything a merchandiser types, validated here (views turn errors into 400s)."""
from datetime import timedelta

from django import forms
from django.utils import timezone

from recommender import serving
from recommender.models import MerchandisingRule
from shop.models import Customer, Product

from . import analytics
from .models import Campaign

MAX_RANGE_DAYS = 366


class DateRangeForm(forms.Form):
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    window = forms.IntegerField(
        min_value=1, max_value=90, label="Attribution window (days)",
        widget=forms.NumberInput(attrs={"style": "width:5em"}),
    )

    @classmethod
    def from_query(cls, query, default_window: int) -> "DateRangeForm":
        today = timezone.localdate()
        data = {"start": today - timedelta(days=29), "end": today, "window": default_window}
        data.update({key: query[key] for key in data if query.get(key)})
        return cls(data)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The end date is before the start date.")
            elif (end - start).days >= MAX_RANGE_DAYS:
                self.add_error("end", f"The range may span at most {MAX_RANGE_DAYS} days.")
        return cleaned


class CustomerFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
    segment = forms.ChoiceField(required=False, choices=[("", "Any segment"), *analytics.SEGMENTS.items()])
    activity = forms.ChoiceField(required=False, choices=[("", "Any activity"), *analytics.ACTIVITY.items()])
    has_friends = forms.ChoiceField(
        required=False, choices=[("", "Friends or not"), ("yes", "Has friends"), ("no", "No friends")]
    )


class WhatIfForm(forms.Form):
    product = forms.ModelMultipleChoiceField(
        queryset=Product.objects.filter(active=True), help_text="Hypothetical views, in order."
    )

    def clean_product(self):
        products = self.cleaned_data["product"]
        if len(products) > 10:
            raise forms.ValidationError("At most 10 hypothetical views.")
        return products


class RuleForm(forms.ModelForm):
    preview_customer = forms.ModelChoiceField(
        queryset=Customer.objects.all(), required=False, help_text="Whose list to preview the rule on."
    )

    class Meta:
        model = MerchandisingRule
        fields = ["name", "action", "product", "brand", "category", "strength", "position", "widget",
                  "starts", "ends", "active"]
        widgets = {
            "starts": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "ends": forms.DateTimeInput(attrs={"type": "datetime-local"}),
        }

    def clean_widget(self):
        widget = self.cleaned_data["widget"].strip()
        if widget and widget not in serving.WIDGETS:
            raise forms.ValidationError(f"Unknown widget; use one of {', '.join(serving.WIDGETS)} or leave empty.")
        return widget

    def clean(self):
        cleaned = super().clean()
        targets = [name for name in ("product", "brand", "category") if cleaned.get(name)]
        if len(targets) != 1:
            raise forms.ValidationError("Choose exactly one target: a product, a brand or a category.")
        action = cleaned.get("action")
        if action in (MerchandisingRule.Action.BOOST, MerchandisingRule.Action.BURY):
            strength = cleaned.get("strength")
            if strength is not None and strength <= 0:
                self.add_error("strength", "Boost and bury strengths must be positive.")
        starts, ends = cleaned.get("starts"), cleaned.get("ends")
        if starts and ends and ends <= starts:
            self.add_error("ends", "The rule must end after it starts.")
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        # clean() already said in words what the model's constraints say by name: drop those.
        errors = self._errors.get(forms.forms.NON_FIELD_ERRORS)
        if errors:
            kept = [e for e in errors.as_data() if "rule_" not in " ".join(e.messages)]
            if kept:
                self._errors[forms.forms.NON_FIELD_ERRORS] = self.error_class(kept, error_class="nonfield")
            else:
                del self._errors[forms.forms.NON_FIELD_ERRORS]


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["name", "affinity_category", "inactive_days", "friends_bought", "likely_buyers_of",
                  "likely_buyers_top", "min_spent",
                  "scope_categories", "scope_brands", "scope_products", "items_per_customer",
                  "discount_percent", "discount_prefix", "widget_style"]
        widgets = {
            "scope_categories": forms.SelectMultiple(attrs={"size": 6}),
            "scope_brands": forms.SelectMultiple(attrs={"size": 6}),
            "scope_products": forms.SelectMultiple(attrs={"size": 6}),
        }

    def clean_discount_prefix(self):
        prefix = self.cleaned_data["discount_prefix"].strip().upper()
        if prefix and not prefix.isalnum():
            raise forms.ValidationError("Use letters and digits only.")
        return prefix
