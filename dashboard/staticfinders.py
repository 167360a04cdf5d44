"""Static files from the plotly package: its JS bundle only, as static/plotly/plotly.min.js.

A plain STATICFILES_DIRS entry for plotly's package_data would make collectstatic copy all of it
(sample data sets, templates, the Jupyter widget: ~10 MB) for the one file the dashboard loads.
"""
import importlib.util
from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

PREFIX = "plotly"
BUNDLE = "plotly.min.js"


def bundle_directory() -> Path:
    return Path(importlib.util.find_spec("plotly").submodule_search_locations[0]) / "package_data"


class PlotlyBundleFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=bundle_directory())
        self.storage.prefix = PREFIX  # collectstatic copies it to STATIC_ROOT/plotly/

    def check(self, **kwargs):
        if not (bundle_directory() / BUNDLE).is_file():
            return [Error(f"plotly's {BUNDLE} is missing from {bundle_directory()}", id="dashboard.E001",
                          hint="reinstall the pinned plotly (make venv)")]
        return []

    def find(self, path, find_all=False, **kwargs):
        find_all = find_all or kwargs.get("all", False)  # the keyword was `all` before Django 5.2
        if path != f"{PREFIX}/{BUNDLE}":
            return []  # what Django's own finders return for "not here", with or without find_all
        match = str(bundle_directory() / BUNDLE)
        return [match] if find_all else match

    def list(self, ignore_patterns):
        yield BUNDLE, self.storage
