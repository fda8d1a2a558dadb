"""How API v1 pages a list, once for every list: ``@paginate(Pages)``.

django-ninja's page numbers have no upper bound, so ``?page=461168601842738791`` became an OFFSET past what
a database's 64-bit integer holds (a 500), and a ``page_size`` over its cap was quietly cut to the cap. Here
both are bounded in the schema and refused past their bound (400, naming the parameter); a page after the
last one is an empty page.
"""

from __future__ import annotations

from ninja import Field, Schema
from ninja.pagination import PageNumberPagination

PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
# The largest 32-bit integer: a number every client's integer type holds, and whose offset (times
# MAX_PAGE_SIZE) every database's OFFSET holds.
MAX_PAGE = 2**31 - 1


class Pages(PageNumberPagination):
    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE, description="Which page, from 1; one after the last is empty.")
        page_size: int = Field(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Items per page.")

    def __init__(self, **kwargs) -> None:
        super().__init__(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE, **kwargs)
