"""The sentiment app's tests; the people and runs they start from are in tests/conftest.py."""

import pytest


@pytest.fixture
def analyses_done():
    """Work out the analyses the pages asked for, here, as a default worker would (``services.analysis``);
    returns how many there were."""
    from sentiment.models import AnalysisJob
    from sentiment.services.analysis_work import analysis_job_process

    def run() -> int:
        queued = list(AnalysisJob.objects.filter(status=AnalysisJob.Status.QUEUED).values_list("pk", flat=True))
        for pk in queued:
            analysis_job_process(job_id=pk)
        return len(queued)

    return run
