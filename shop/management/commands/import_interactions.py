from django.core.management.base import BaseCommand, CommandError

from shop.importer import ImportFileError, import_files


class Command(BaseCommand):
    help = ("Import real interactions (DESIGN.md CSV contract): customers, products, follows, events and "
            "reviews, in one transaction; a bad file is rejected whole with FILE:LINE: reason.")

    def add_arguments(self, parser):
        parser.add_argument("--interactions", required=True, help="user_id,item_id,timestamp[,event,rating,weight]")
        parser.add_argument("--social", help="user_id,friend_id (directed)")
        parser.add_argument("--reviews", help="user_id,item_id,text")
        parser.add_argument("--items", help="item_id + features (price, title, description, categorical columns)")
        parser.add_argument("--prefix", default="", help='namespace for this data set\'s ids, e.g. "lastfm:"')

    def handle(self, *args, interactions, social, reviews, items, prefix, **options):
        try:
            counts = import_files(interactions, social=social, reviews=reviews, items=items, prefix=prefix)
        except ImportFileError as error:
            raise CommandError(f"{error} (nothing was imported)") from error
        self.stdout.write(self.style.SUCCESS("Imported: " + ", ".join(f"{v:,} {k}" for k, v in counts.items())))
