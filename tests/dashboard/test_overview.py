"""The overview's figures against values computed by hand on a tiny store (see the comments)."""
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from dashboard import analytics
from shop.models import Event, Order

from . import factories as f

V, C, I, K = Event.Type.VIEW, Event.Type.ADD_TO_CART, Event.Type.REC_IMPRESSION, Event.Type.REC_CLICK


@pytest.fixture
def store(db):
    cat = f.category("Things")
    a, b, c = f.product("A", cat, "10.00"), f.product("B", cat, "25.00"), f.product("C", cat, "5.00")
    f.product("D", cat, "7.00")
    f.product("E", cat, "7.00", active=False)  # not in the coverage denominator
    ann, bob, cy = f.customer("Ann"), f.customer("Bob"), f.customer("Cy")
    # 1 March, session s1 (Ann): 2 views, 1 cart, home shows A and B, A clicked.
    f.event(V, f.at(1), ann, a, "s1"); f.event(V, f.at(1), ann, b, "s1"); f.event(C, f.at(1), ann, a, "s1")
    f.event(I, f.at(1), ann, a, "s1", "home"); f.event(I, f.at(1), ann, b, "s1", "home")
    f.event(K, f.at(1), ann, a, "s1", "home")
    # 2 March, s2 (Bob): view C; "similar" shows C and A, C clicked.
    f.event(V, f.at(2), bob, c, "s2")
    f.event(I, f.at(2), bob, c, "s2", "similar"); f.event(I, f.at(2), bob, a, "s2", "similar")
    f.event(K, f.at(2), bob, c, "s2", "similar")
    # 3 March: an anonymous session s3 views A; Cy views B without a session key (no session).
    f.event(V, f.at(3), None, a, "s3"); f.event(V, f.at(3), cy, b, "")
    # 6 March, s4 (Ann): "similar" shows A again and she clicks it.
    f.event(I, f.at(6), ann, a, "s4", "similar"); f.event(K, f.at(6), ann, a, "s4", "similar")
    # Outside the range: a view on 28 Feb; Ann's click on B in home on 20 Feb (12 days before her order).
    f.event(V, f.at(28, month=2), ann, a, "s0"); f.event(K, f.at(20, month=2), ann, b, "s0", "home")
    # Orders: Ann 4 March 13:00 A×2 + B (45; A attributed to home: 20), Bob 5 March 10:00 C (5,
    # similar), Ann 7 March 23:00 A (10: her last click on A was in similar on 6 March).
    f.order(ann, f.at(4, 13), (a, 2), (b, 1))
    f.order(bob, f.at(5, 10), (c, 1))
    f.order(ann, f.at(7, 23), (a, 1))
    f.order(cy, f.at(6), (a, 1), status=Order.Status.CANCELLED)  # not paid: not counted
    f.order(bob, f.at(20), (c, 1))  # after the range


def test_overview_equals_the_hand_computed_figures(store):
    o = analytics.overview(date(2026, 3, 1), date(2026, 3, 7), window_days=7)
    assert (o.sessions, o.views, o.carts, o.orders) == (4, 5, 1, 3)
    assert o.revenue == Decimal("60.00")
    assert o.conversion == pytest.approx(3 / 4)
    assert (o.impressions, o.clicks) == (5, 3)
    assert o.ctr == pytest.approx(3 / 5)
    assert o.coverage == pytest.approx(3 / 4)
    widgets = {w.widget: w for w in o.widgets}
    assert set(widgets) == {"home", "similar"}
    assert (widgets["home"].impressions, widgets["home"].clicks) == (2, 1)
    assert widgets["home"].ctr == pytest.approx(0.5)
    assert widgets["home"].attributed_revenue == Decimal("20.00")
    assert (widgets["similar"].impressions, widgets["similar"].clicks) == (3, 2)
    assert widgets["similar"].attributed_revenue == Decimal("15.00")
    assert o.attributed_revenue == Decimal("35.00")


def test_the_window_is_configurable(store):
    o = analytics.overview(date(2026, 3, 1), date(2026, 3, 7), window_days=3)
    widgets = {w.widget: w for w in o.widgets}
    # Ann's order came 3 days 1 hour after her home click: outside a 3-day window.
    assert widgets["home"].attributed_revenue == Decimal("0.00")
    assert widgets["similar"].attributed_revenue == Decimal("15.00")


def test_daily_series(store):
    s = analytics.overview(date(2026, 3, 1), date(2026, 3, 7)).series
    assert s["day"][0] == date(2026, 3, 1) and len(s["day"]) == 7
    assert s["views"] == [2, 1, 2, 0, 0, 0, 0]
    assert s["carts"] == [1, 0, 0, 0, 0, 0, 0]
    assert s["impressions"] == [2, 2, 0, 0, 0, 1, 0]
    assert s["clicks"] == [1, 1, 0, 0, 0, 1, 0]
    assert s["orders"] == [0, 0, 0, 1, 1, 0, 1]
    assert s["revenue"][3:] == [Decimal("45.00"), Decimal("5.00"), 0, Decimal("10.00")]


def test_the_page_shows_them(merch_client, store):
    response = merch_client.get(reverse("dashboard:overview"), {"start": "2026-03-01", "end": "2026-03-07", "window": 7})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-kpi="orders">3<' in page and 'data-kpi="revenue">60.00<' in page
    assert 'data-kpi="attributed">35.00<' in page and 'data-kpi="conversion">75 %<' in page
    assert response.context["o"].window_days == 7
