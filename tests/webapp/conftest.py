import pytest


@pytest.fixture(autouse=True)
def _fresh_health_answer():
    """Each test's first probe checks afresh: a process keeps its last answer for two seconds."""
    from webapp.health import health_forget

    health_forget()
    yield
    health_forget()
