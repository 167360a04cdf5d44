import pytest
from django.db import DatabaseError, IntegrityError
from django.test import RequestFactory

from shop import tracking
from shop.models import Event, Product
from shop.signals import event_recorded

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    events = []

    def receiver(sender, event, **kwargs):
        events.append(event)

    event_recorded.connect(receiver, sender=Event, dispatch_uid="test-tracking")
    yield events
    event_recorded.disconnect(dispatch_uid="test-tracking", sender=Event)


def test_record_resolves_customer_and_session_from_request(store, alice, client, received,
                                                           django_capture_on_commit_callbacks):
    request = RequestFactory().get("/")
    request.user = alice.user
    request.session = client.session
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event = tracking.record(Event.Type.VIEW, request=request, product=store["bag"])
    assert event.customer == alice and event.session_key == request.session.session_key != ""
    assert received == []  # nothing is announced before the commit
    for callback in callbacks:
        callback()
    assert received == [event]
    assert Product.objects.get(pk=store["bag"].pk).view_count == 1


@pytest.mark.parametrize("type_, field", [("view", "view_count"), ("add_to_cart", "cart_count"),
                                          ("purchase", "purchase_count")])
def test_counters_bumped_per_event_type(store, type_, field):
    tracking.record(type_, product=store["camera"], session_key="s1")
    tracking.record(type_, product=store["camera"], session_key="s2")
    assert getattr(Product.objects.get(pk=store["camera"].pk), field) == 2


def test_failure_is_logged_and_counted_and_never_raises(store, monkeypatch, caplog):
    def broken_save(self, *args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(Event, "save", broken_save)
    before = tracking.failure_count()
    assert tracking.record(Event.Type.VIEW, product=store["bag"]) is None
    assert tracking.failure_count() == before + 1
    assert "could not record" in caplog.text
    assert Product.objects.get(pk=store["bag"].pk).view_count == 0


def test_page_still_renders_when_recording_fails(store, client, monkeypatch):
    def broken_save(self, *args, **kwargs):
        raise DatabaseError("down")

    monkeypatch.setattr(Event, "save", broken_save)
    before = tracking.failure_count()
    response = client.get(store["camera"].get_absolute_url())
    assert response.status_code == 200 and store["camera"].title in response.content.decode()
    assert tracking.failure_count() == before + 1
    assert not Event.objects.filter(type=Event.Type.VIEW).exists()


def test_unknown_type_is_a_counted_failure(store):
    before = tracking.failure_count()
    assert tracking.record("teleport", product=store["bag"]) is None
    assert tracking.failure_count() == before + 1


def test_broken_receiver_is_counted_not_raised(store, django_capture_on_commit_callbacks):
    def receiver(sender, event, **kwargs):
        raise RuntimeError("boom")

    event_recorded.connect(receiver, sender=Event, dispatch_uid="test-broken")
    try:
        before = tracking.failure_count()
        with django_capture_on_commit_callbacks(execute=True):
            event = tracking.record(Event.Type.SEARCH, query="camera", session_key="s")
        assert event.pk and tracking.failure_count() == before + 1
    finally:
        event_recorded.disconnect(dispatch_uid="test-broken", sender=Event)


def test_record_many_is_all_or_nothing(store):
    good = Event(type=Event.Type.VIEW, product=store["bag"], import_key="k1")
    bad = Event(type=Event.Type.VIEW, product=store["bag"], import_key="k1")  # violates the unique key
    with pytest.raises(IntegrityError):
        tracking.record_many([good, bad])
    assert not Event.objects.filter(type=Event.Type.VIEW).exists()
    assert Product.objects.get(pk=store["bag"].pk).view_count == 0


def test_record_many_bumps_counters_and_announces_each(store, received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = tracking.record_many([Event(type=Event.Type.PURCHASE, product=store["bag"]) for _ in range(3)])
    assert len(created) == 3 and len(received) == 3
    assert Product.objects.get(pk=store["bag"].pk).purchase_count == 3
