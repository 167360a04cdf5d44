"""Every dashboard URL (pages, JSON, exports, actions) refuses everyone but merchandisers."""
import pytest
from django.conf import settings
from django.urls import reverse

from dashboard import urls as dashboard_urls

from . import factories


def every_url() -> list[str]:
    """Each route of dashboard/urls.py, with pk=1 where it takes one (the guard runs first)."""
    paths = []
    for pattern in dashboard_urls.urlpatterns:
        kwargs = {"pk": 1} if "<int:pk>" in str(pattern.pattern) else {}
        paths.append(reverse(f"dashboard:{pattern.name}", kwargs=kwargs))
    return paths


URLS = every_url()


def test_the_list_covers_the_exports_and_json_endpoints():
    assert "/dashboard/campaigns/1/export/" in URLS
    assert "/dashboard/exports/1/download/" in URLS
    assert "/dashboard/model/progress.json" in URLS
    assert len(URLS) == len(dashboard_urls.urlpatterns)


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url", URLS)
def test_anonymous_is_sent_to_login(client, url, method):
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{settings.LOGIN_URL}?next=")


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url", URLS)
def test_customer_gets_403(customer_client, url, method):
    assert getattr(customer_client, method)(url).status_code == 403


@pytest.mark.parametrize("url", URLS)
def test_staff_outside_the_group_gets_403(staff_outsider_client, url):
    assert staff_outsider_client.get(url).status_code == 403


@pytest.mark.django_db
def test_superuser_is_let_in(client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
    assert client.get(reverse("dashboard:overview")).status_code == 200


@pytest.mark.django_db
def test_forms_carry_csrf_and_posts_without_it_are_refused(db):
    from django.test import Client

    user = factories.merchandiser()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get(reverse("dashboard:rules")).content.decode()
    assert 'name="csrfmiddlewaretoken"' in page
    assert client.post(reverse("dashboard:rules"), {"name": "x"}).status_code == 403
    assert client.post(reverse("dashboard:retrain")).status_code == 403
