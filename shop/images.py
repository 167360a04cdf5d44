"""Deterministic SVG placeholders for product images (the store has no photos)."""
import hashlib
from html import escape

from .models import Product

# Soft background / strong foreground pairs; a product always gets the same one.
PALETTE = [
    ("#e8f1fb", "#1d4e89"), ("#fdf0e6", "#9a4a12"), ("#eaf7ee", "#1f6b3a"), ("#f6ecfa", "#6a2c84"),
    ("#fff7db", "#7a5c00"), ("#e9f6f7", "#155e63"), ("#fbe9ec", "#8c1d35"), ("#eef0f3", "#37414f"),
]


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()


def initials(title: str) -> str:
    words = [w for w in title.split() if w[:1].isalnum()]
    return "".join(w[0] for w in words[:2]).upper() or "?"


def product_svg(product: Product, size: int = 320) -> str:
    """An SVG with the category's colours, a shape chosen by the product's id, and its initials."""
    background, ink = PALETTE[_digest(product.category_id)[0] % len(PALETTE)]
    d = _digest(product.pk, product.title)
    cx, cy, r = 60 + d[1] % 200, 60 + d[2] % 120, 40 + d[3] % 60
    rotation = d[4] % 90
    label = escape(product.category.name if product.category_id else "")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 320 320" '
        f'role="img" aria-label="{escape(product.title)}">'
        f'<rect width="320" height="320" fill="{background}"/>'
        f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="{ink}" opacity="0.12"/>'
        f'<rect x="150" y="150" width="{60 + d[5] % 80}" height="{60 + d[6] % 80}" fill="{ink}" opacity="0.08" '
        f'transform="rotate({rotation} 200 200)"/>'
        f'<text x="160" y="180" font-family="Helvetica, Arial, sans-serif" font-size="96" font-weight="700" '
        f'fill="{ink}" text-anchor="middle">{escape(initials(product.title))}</text>'
        f'<text x="160" y="290" font-family="Helvetica, Arial, sans-serif" font-size="18" fill="{ink}" '
        f'text-anchor="middle" opacity="0.7">{label}</text>'
        "</svg>"
    )
