"""A form's "next" is followed only when it is a path of this site (``forms.local_path``, Django's own
check): a link crafted to send people elsewhere after they act is taken as no "next" at all."""

import pytest

from sentiment.forms import local_path


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example",
     "javascript:alert(1)", "relative/path", "", "/\x00evil"],
)  # fmt: skip
def test_anything_but_a_path_of_this_site_is_dropped(target):
    assert local_path(target) == ""


@pytest.mark.parametrize("target", ["/", "/history/", "/runs/3/?cell=fp#top"])
def test_a_path_of_this_site_is_kept(target):
    assert local_path(target) == target
