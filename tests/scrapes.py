"""Reading a Prometheus scrape as Prometheus would: its samples by name and labels."""

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape in Prometheus' text format: (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def families(text: str) -> set[str]:
    """The names of the families a scrape describes, with or without samples."""
    return {family.name for family in text_string_to_metric_families(text)}


def value(text: str, name: str, **labels: str) -> float:
    """The sample ``name`` with exactly ``labels`` (0 when the scrape has none: a counter not yet counted)."""
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def total(text: str, name: str, **labels: str) -> float:
    """The sum of the samples ``name`` whose labels include ``labels`` (what PromQL's sum() gives)."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples(text).items() if n == name and wanted <= found)
