from django import forms

from .models import Review
from .services import MAX_LINE_QUANTITY


class AddToCartForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY, initial=1)


class ReviewForm(forms.ModelForm):
    rating = forms.TypedChoiceField(choices=[(i, f"{i} ★") for i in range(5, 0, -1)], coerce=int)
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=4000, required=False,
                           label="Your review")

    class Meta:
        model = Review
        fields = ["rating", "text"]


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number][::-1]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


class CheckoutForm(forms.Form):
    """Fake payment: any Luhn-valid number is accepted; nothing is charged anywhere."""

    name_on_card = forms.CharField(max_length=120)
    card_number = forms.CharField(max_length=23, initial="4242 4242 4242 4242",
                                  help_text="Demo store: use 4242 4242 4242 4242. Nothing is charged.")

    def clean_card_number(self) -> str:
        number = self.cleaned_data["card_number"].replace(" ", "").replace("-", "")
        if not number.isdigit() or not 12 <= len(number) <= 19:
            raise forms.ValidationError("Enter 12 to 19 digits.")
        if not luhn_ok(number):
            raise forms.ValidationError("This card number is not valid (checksum).")
        return number


class PersonaForm(forms.Form):
    customer = forms.IntegerField(min_value=1)
