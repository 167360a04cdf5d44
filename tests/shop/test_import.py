import pytest
from django.core.management import CommandError, call_command

from shop.importer import ImportFileError, import_files, parse_timestamp
from shop.models import Customer, Event, Follow, Product, Review

pytestmark = pytest.mark.django_db

INTERACTIONS = """user_id,item_id,timestamp,event,rating
u1,i1,1700000000,view,
u1,i1,1700000100,rating,5
u2,i2,2023-11-15T10:00:00Z,purchase,
u2,i2,2023-11-15T10:00:00Z,purchase,
u3,i1,1700000300,cart,
"""
SOCIAL = "user_id,friend_id\nu1,u2\nu2,u1\nu3,u1\n"
REVIEWS = "user_id,item_id,text\nu1,i1,Absolutely love it\nu2,i2,Awful and broken\n"
ITEMS = "item_id,price,title,genre\ni1,12.50,Space Film,scifi|drama\ni2,8,Comedy Night,comedy\ni9,3,Unwatched,drama\n"


@pytest.fixture
def files(tmp_path):
    def write(name, text):
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


def run(files, **overrides):
    texts = {"interactions": INTERACTIONS, "social": SOCIAL, "reviews": REVIEWS, "items": ITEMS, **overrides}
    paths = {k: files(f"{k}.csv", v) for k, v in texts.items() if v is not None}
    return import_files(**paths)


def snapshot():
    return (Customer.objects.count(), Product.objects.count(), Follow.objects.count(), Event.objects.count(),
            Review.objects.count())


def test_import_creates_everything_and_is_idempotent(files):
    counts = run(files)
    assert counts == {"customers_created": 3, "products_created": 3, "follows_created": 3, "events_created": 5,
                      "reviews_created": 2, "rows_read": 5}
    u1 = Customer.objects.get(external_id="u1")
    assert set(u1.following.values_list("external_id", flat=True)) == {"u2"}
    i1 = Product.objects.get(external_id="i1")
    assert (i1.title, str(i1.price), i1.category.name, i1.category.parent.name) == (
        "Space Film", "12.50", "genre scifi", "Imported")
    assert (i1.view_count, i1.cart_count) == (1, 1)
    assert Product.objects.get(external_id="i2").purchase_count == 2  # identical rows stay two events
    review = Review.objects.get(customer=u1)
    assert review.rating == 5 and review.text == "Absolutely love it" and review.sentiment > 0.5
    unrated = Review.objects.get(customer__external_id="u2")  # text only: stars from its sentiment
    assert unrated.sentiment < 0 and unrated.rating <= 2
    assert Event.objects.get(customer=u1, type="review").metadata["rating"] == 5
    before = snapshot()
    assert run(files)["events_created"] == 0 and snapshot() == before
    assert Product.objects.get(external_id="i2").purchase_count == 2


def test_a_prefix_keeps_data_sets_with_overlapping_ids_apart(files):
    path = files("i.csv", INTERACTIONS)
    import_files(path)
    counts = import_files(path, prefix="other:")
    assert counts["customers_created"] == 3 and counts["events_created"] == 5
    assert Customer.objects.filter(external_id="other:u1").exists() and Event.objects.count() == 10
    assert import_files(path, prefix="other:")["events_created"] == 0


def test_interactions_alone_put_products_in_imported(files):
    run(files, social=None, reviews=None, items=None)
    assert set(Product.objects.values_list("category__name", flat=True)) == {"Imported"}


@pytest.mark.parametrize("name, text, line, reason", [
    ("interactions", "user_id,item_id\nu1,i1\n", 1, "missing column(s) timestamp"),
    ("interactions", "user_id,item_id,timestamp\n", 2, "no data rows"),
    ("interactions", "", 1, "empty file"),
    ("interactions", "user_id,item_id,timestamp\nu1,i1,1\nu1,i2,last tuesday\n", 3, "timestamp 'last tuesday'"),
    ("interactions", "user_id,item_id,timestamp,rating\nu1,i1,1,7\n", 2, "rating 7 is outside 1-5"),
    ("interactions", "user_id,item_id,timestamp,event\nu1,i1,1,wishlist\n", 2, "event 'wishlist'"),
    ("interactions", "user_id,item_id,timestamp\nu1,,1\n", 2, "empty item_id"),
    ("interactions", "user_id,item_id,timestamp\nu1,i1\n", 2, "expected 3 fields"),
    ("social", "user_id,friend_id\nu1,u2\nu3,u3\n", 3, "user u3 follows itself"),
    ("items", "item_id,price\ni1,free\n", 2, "price 'free' is not a number"),
    ("reviews", "user_id,text\nu1,hi\n", 1, "missing column(s) item_id"),
])
def test_a_bad_file_is_rejected_whole_with_file_line_and_reason(files, name, text, line, reason):
    with pytest.raises(ImportFileError) as error:
        run(files, **{name: text})
    assert error.value.file.endswith(f"{name}.csv") and error.value.line == line and reason in error.value.reason
    assert str(error.value).startswith(f"{error.value.file}:{line}: ")
    assert snapshot() == (0, 0, 0, 0, 0)


def test_command_exits_non_zero_with_the_reason(files):
    bad = files("bad.csv", "user_id,item_id,timestamp\nu1,i1,soon\n")
    with pytest.raises(CommandError, match=r"bad.csv:2: timestamp 'soon'.*nothing was imported"):
        call_command("import_interactions", "--interactions", bad)
    assert not Customer.objects.exists()


def test_command_prints_counts(files, capsys):
    call_command("import_interactions", "--interactions", files("i.csv", INTERACTIONS))
    assert "5 events_created" in capsys.readouterr().out


def test_timestamps_accept_unix_seconds_and_iso_8601():
    assert parse_timestamp("0").year == 1970
    assert parse_timestamp("2024-02-29T12:00:00+02:00").hour == 12
    assert parse_timestamp("2024-02-29").tzinfo is not None
    with pytest.raises(ValueError):
        parse_timestamp("29/02/2024")
