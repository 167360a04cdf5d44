"""The API's token authentication remembers a checked token a few seconds per process
(shop/authentication.py): how long a deleted token or a deactivated user can still get in."""
import pytest
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.test import APIRequestFactory

from shop import authentication
from shop.authentication import CachedTokenAuthentication

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached(settings, monkeypatch):
    settings.API_TOKEN_CACHE_SECONDS = 10
    clock = [1000.0]
    monkeypatch.setattr(authentication, "clock", lambda: clock[0])
    authentication.forget()
    yield clock
    authentication.forget()


def authenticate(key: str):
    request = APIRequestFactory().get("/api/anything", HTTP_AUTHORIZATION=f"Token {key}")
    return CachedTokenAuthentication().authenticate(request)


def test_a_checked_token_is_not_read_again_within_its_time(alice, cached, django_assert_num_queries):
    token = Token.objects.create(user=alice.user)
    with django_assert_num_queries(1):
        user, auth = authenticate(token.key)
    assert user == alice.user and auth == token
    with django_assert_num_queries(0):
        again, _ = authenticate(token.key)
    assert again == alice.user and again is not user  # each request gets its own copy of the user
    cached[0] += 11
    with django_assert_num_queries(1):
        authenticate(token.key)


def test_a_deleted_token_stops_working_at_once_here_and_within_the_time_elsewhere(alice, cached):
    token = Token.objects.create(user=alice.user)
    authenticate(token.key)
    token.delete()  # in this process: the signal forgets it
    with pytest.raises(AuthenticationFailed):
        authenticate(token.key)

    other = Token.objects.create(user=alice.user)
    authenticate(other.key)
    Token.objects.filter(pk=other.pk)._raw_delete(Token.objects.db)  # as another process would: no signal here
    assert authenticate(other.key)[0] == alice.user  # still trusted, for at most API_TOKEN_CACHE_SECONDS
    cached[0] += 10.5
    with pytest.raises(AuthenticationFailed):
        authenticate(other.key)


def test_a_deactivated_user_is_refused_at_once(alice, cached):
    token = Token.objects.create(user=alice.user)
    authenticate(token.key)
    alice.user.is_active = False
    alice.user.save()
    with pytest.raises(AuthenticationFailed):
        authenticate(token.key)


def test_unknown_tokens_are_never_remembered(alice, cached, django_assert_num_queries):
    for _ in range(2):
        with django_assert_num_queries(1), pytest.raises(AuthenticationFailed):
            authenticate("0" * 40)


def test_zero_seconds_reads_the_token_every_time(alice, settings, django_assert_num_queries):
    settings.API_TOKEN_CACHE_SECONDS = 0
    token = Token.objects.create(user=alice.user)
    for _ in range(2):
        with django_assert_num_queries(1):
            authenticate(token.key)
