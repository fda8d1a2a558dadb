"""Behavioural checks: a fixed battery of small tests of what a sentiment model can and cannot do.

Accuracy on the test reviews says how often a model is right, not *where* it goes wrong. Two models at
93% can fail on quite different things: one misreads "not bad at all", another changes its answer when
"Tom Hanks" becomes "Priya Patel". A behavioural check asks the model about short texts written to probe
one ability at a time, a *capability*, and reports a pass rate for each, the way a software test suite
checks a program's behaviour without looking inside it (Ribeiro et al. 2020, "Beyond Accuracy:
Behavioral Testing of NLP Models with CheckList"). CheckList has three kinds of test:

- **minimum functionality test** (``mft``): a simple text whose label is known ("The film was not
  good." is negative); the model passes when it gives that label;
- **invariance test** (``inv``): a change that must not change the answer (a typo, another name, an
  unrelated sentence); the model passes when the label of the changed text is the label of the original,
  right or wrong;
- **directional test** (``dir``): a change that must move the answer one way ("good" -> "really very
  good" must not make the review less positive); the model passes when P(positive) does not move the
  other way by more than ``DIRECTION_TOLERANCE``.

The battery is fixed and versioned: every run is asked the same questions, so pass rates can be compared
between runs and against the served model before promoting another. ``BATTERY_VERSION`` changes whenever
a case changes, and results of different versions are never compared. Every minimum functionality test has
as many positive as negative texts, so a model that always gives the same answer scores one half on them.
The texts are plain English that a good model trained on IMDb reviews should get right; a model can still
be good at reviews and fail some capabilities (negated negatives such as "not bad" are hard for most).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ml.errors import ModelError
from ml.results import BehaviourResult

logger = logging.getLogger(__name__)

BATTERY_VERSION = "1"

MFT, INV, DIR = "mft", "inv", "dir"
POSITIVE, NEGATIVE = "positive", "negative"
NO_CHANGE, MORE_POSITIVE, MORE_NEGATIVE = "no change", "more positive", "more negative"
EXPECTATIONS = {MFT: (POSITIVE, NEGATIVE), INV: (NO_CHANGE,), DIR: (MORE_POSITIVE, MORE_NEGATIVE)}
# A directional change may move P(positive) the wrong way by this much and still pass: a model already at
# 0.99 cannot rise, and a move this small is noise, not a misreading. Part of the battery: changing it
# changes the results, so it needs a new BATTERY_VERSION like a changed case.
DIRECTION_TOLERANCE = 0.05

Scorer = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Case:
    """One test item: the text the model reads and what is expected of its answer.

    ``original`` is the text before the change, for invariance and directional tests; ``expected`` is
    "positive"/"negative" for a minimum functionality test, "no change" for an invariance test and
    "more positive"/"more negative" for a directional one.
    """

    text: str
    expected: str
    original: str | None = None


@dataclass(frozen=True)
class Capability:
    """One ability probed by several cases of one kind; its pass rate is what the run page shows."""

    name: str
    title: str
    explanation: str  # one or two plain sentences, shown next to the pass rate
    kind: str  # "mft", "inv" or "dir"
    cases: tuple[Case, ...]

    def __post_init__(self):
        if self.kind not in EXPECTATIONS:
            raise ValueError(f"{self.name}: kind must be one of {', '.join(EXPECTATIONS)}, not {self.kind!r}")
        if not self.cases:
            raise ValueError(f"{self.name}: a capability needs at least one case")
        for case in self.cases:
            if case.expected not in EXPECTATIONS[self.kind]:
                raise ValueError(f"{self.name}: a {self.kind} case cannot expect {case.expected!r}: {case.text!r}")
            if (case.original is None) != (self.kind == MFT):
                raise ValueError(f"{self.name}: only invariance and directional cases have an original text")
            if case.original == case.text:
                raise ValueError(f"{self.name}: the changed text is the original: {case.text!r}")


def _expect(label: str, *texts: str) -> tuple[Case, ...]:
    return tuple(Case(text, label) for text in texts)


# --- vocabulary: the baseline every other capability is read against --------------------------------

VOCABULARY = _expect(
    POSITIVE,
    "A wonderful film.",
    "I loved this movie.",
    "The acting was excellent.",
    "This is one of the best films I have seen this year.",
    "A beautiful, moving story.",
    "The cast is brilliant and the script is funny.",
    "I enjoyed every minute of it.",
    "A delightful film for the whole family.",
) + _expect(
    NEGATIVE,
    "A terrible film.",
    "I hated this movie.",
    "The acting was awful.",
    "This is one of the worst films I have seen this year.",
    "A dull, lifeless story.",
    "The cast is wooden and the script is stupid.",
    "I was bored from start to finish.",
    "A waste of time and money.",
)

# --- negation -----------------------------------------------------------------------------------------

NEGATION = _expect(
    NEGATIVE,
    "The film was not good.",
    "This is not a good movie.",
    "I didn't like it.",
    "I did not enjoy this film at all.",
    "The acting was not convincing.",
    "It wasn't funny and it wasn't clever.",
    "I would not recommend this movie to anyone.",
    "The story is not interesting.",
    "I don't think this is a great film.",
    "The ending was not satisfying.",
) + _expect(
    POSITIVE,
    "The film was not bad at all.",
    "This is not a bad movie.",
    "I can't say I hated it.",
    "I was never bored.",
    "I don't regret watching it.",
    "I was not disappointed.",
    "The plot is not dull for a second.",
    "I don't think this is a bad film.",
    "There was not a single boring scene.",
    "The acting was not awful at all.",
)

# --- intensity: "{subject} was {mild}." -> "{subject} was {strong}." ------------------------------------

INTENSITY_SUBJECTS = ("The film", "The acting", "The script", "The soundtrack")
STRONGER_PRAISE = (("good", "really very good"), ("fine", "truly excellent"), ("enjoyable", "thoroughly enjoyable"))
STRONGER_BLAME = (("bad", "truly awful"), ("weak", "painfully weak"), ("poor", "utterly dreadful"))

INTENSITY = tuple(
    Case(f"{subject} was {strong}.", expected, original=f"{subject} was {mild}.")
    for expected, pairs in ((MORE_POSITIVE, STRONGER_PRAISE), (MORE_NEGATIVE, STRONGER_BLAME))
    for subject in INTENSITY_SUBJECTS
    for mild, strong in pairs
)

# --- contrast: the verdict after "but" wins ---------------------------------------------------------

CONTRAST = _expect(
    NEGATIVE,
    "The acting was great, but the film was boring.",
    "The photography is beautiful, but the story is a mess.",
    "I wanted to love it, but it was a huge disappointment.",
    "The first half is fun, but the second half is unbearable.",
    "The cast is talented, but the script is terrible.",
    "It has a few funny moments, but overall it is a waste of time.",
    "The music is lovely, but the plot makes no sense and I hated the ending.",
    "The trailer looked great, but the film itself was dull.",
) + _expect(
    POSITIVE,
    "The acting was wooden, but the film was wonderful.",
    "The special effects are cheap, but the story is excellent.",
    "I expected to hate it, but I loved every minute.",
    "The first half is slow, but the second half is brilliant.",
    "The budget was tiny, but the film is a real gem.",
    "It has a few dull moments, but overall it is a delight.",
    "The ending is a little weak, but I enjoyed it very much.",
    "The reviews were terrible, but I thought it was great.",
)

# --- typos ------------------------------------------------------------------------------------------

TYPO_REVIEWS = (
    "This movie was absolutely wonderful. The actors were brilliant and the story kept me interested.",
    "A beautiful and touching film. I would happily watch it again.",
    "One of the funniest comedies I have seen in years. Highly recommended.",
    "The direction is superb and the performances are excellent throughout.",
    "I loved the characters and the clever dialogue. A great evening at the cinema.",
    "A moving, beautifully acted drama with a wonderful score.",
    "Smart, exciting and very entertaining from beginning to end.",
    "The best thriller of the year, with a terrific lead performance.",
    "This movie was absolutely terrible. The actors were wooden and the story made no sense.",
    "A boring and pointless film. I would never watch it again.",
    "One of the worst comedies I have seen in years. Avoid it.",
    "The direction is clumsy and the performances are awful throughout.",
    "I hated the characters and the stupid dialogue. A wasted evening at the cinema.",
    "A dull, badly acted drama with an annoying score.",
    "Predictable, tedious and painfully slow from beginning to end.",
    "The worst thriller of the year, with a dreadful lead performance.",
)


def misspell(text: str, *, edits: int = 3) -> str:
    """``text`` with ``edits`` typos, always the same ones: in every other word of five letters or more,
    two middle letters swapped, then a middle letter dropped, alternately ("wonderful" -> "wondreful")."""
    words = text.split(" ")
    long_words = [i for i, word in enumerate(words) if len(word.strip(".,;!?")) >= 5]
    for n, i in enumerate(long_words[::2][:edits]):
        word = words[i]
        middle = len(word.strip(".,;!?")) // 2
        if n % 2 == 0:
            words[i] = word[:middle] + word[middle + 1] + word[middle] + word[middle + 2 :]
        else:
            words[i] = word[:middle] + word[middle + 1 :]
    return " ".join(words)


TYPOS = tuple(Case(misspell(review), NO_CHANGE, original=review) for review in TYPO_REVIEWS)

# --- names and places ---------------------------------------------------------------------------------

NAME_TEMPLATES = (
    "{person} is wonderful in this charming story set in {place}.",
    "I loved watching {person} explore {place}; a delightful film.",
    "{person} gives the performance of a lifetime as a teacher in {place}.",
    "{person} is wasted in this dull story set in {place}.",
    "Watching {person} wander around {place} for two hours was painfully boring.",
    "{person} gives a lifeless performance as a teacher in {place}; avoid it.",
)
ORIGINAL_NAMES = (("Tom Hanks", "Paris"), ("Meryl Streep", "London"), ("Brad Pitt", "New York"))
OTHER_NAMES = (("Priya Patel", "Lagos"), ("Chen Wei", "Lima"), ("Fatima Al-Sayed", "Karachi"))

NAMES_AND_PLACES = tuple(
    Case(
        template.format(person=person, place=place),
        NO_CHANGE,
        original=template.format(person=ORIGINAL_NAMES[i % 3][0], place=ORIGINAL_NAMES[i % 3][1]),
    )
    for i, template in enumerate(NAME_TEMPLATES)
    for person, place in OTHER_NAMES
)

# --- truncation: a long neutral plot summary, the verdict in the last sentence --------------------------

PLOT = (
    "The film opens in a small fishing town on the northern coast, where Martin Hale has worked as the harbour "
    "master for almost thirty years. He lives alone in a narrow house near the docks, keeps a record of every "
    "boat that enters and leaves, and spends his evenings repairing old radios for his neighbours. His routine "
    "changes when the town council announces that the harbour will be sold to a shipping company from the "
    "capital, and that his job will end at the close of the summer. Martin has three months to decide what to "
    "do with the rest of his life.",
    "At the same time, his daughter Anna returns from the city with her son Leo, who is ten years old. Anna has "
    "taken a job at the local school for one term while her husband finishes a building project abroad. She has "
    "not visited the town for several years, and the first part of the story follows the family as they share "
    "the small house, agree on who cooks and who cleans, and slowly talk about the years they spent apart. Leo "
    "spends most of his days at the harbour office, where Martin shows him the logbooks, the charts and the "
    "radio room.",
    "The middle section of the film moves between three places: the harbour office, the school where Anna "
    "teaches, and the town hall, where the sale is discussed at a series of public meetings. A representative "
    "of the shipping company, a man named Victor Stone, explains the plans for new cranes, a larger quay and a "
    "road to the motorway. Some residents ask about jobs and rents, others about the old fish market, and the "
    "meetings are shown at length, with the camera going round the room from one speaker to the next.",
    "There is also a second story about Leo and a girl from his class, Mira, whose father runs the ferry to the "
    "nearby island. The two children decide to copy every entry in Martin's logbooks into a notebook before the "
    "office is closed, and they work on it after school in the back room. Through the entries the film returns "
    "to earlier events in the town: a winter when the harbour froze, the year a cargo ship ran onto the "
    "sandbank, and the day the old lighthouse was replaced by an automatic light.",
    "In the final part, the council holds a vote on the sale, and Martin is asked to give his view as the "
    "longest serving employee. Anna helps him prepare his notes, and Victor Stone visits the house to talk to "
    "him the evening before the meeting. The vote itself takes place in the town hall, which is filled with "
    "residents, and the film follows it from the first speech to the counting of the hands. Afterwards the "
    "family walks back along the harbour wall, and the last scenes show the end of the summer, the school term "
    "and Leo's return to the city.",
    "The film is about two hours long and was shot on location over one summer, mostly with natural light. The "
    "cast includes several actors from the region alongside a few professionals, and the dialogue is partly in "
    "the local dialect, with subtitles. The music consists of a few themes for piano and strings that return at "
    "different points of the story. The director has said in interviews that the town and its harbour are "
    "based on the place where she grew up, and that the logbooks in the film are copies of real ones.",
)
PLOT_STARTS = (0, 2, 4)  # the summary read from three paragraphs on (wrapping round): three different heads
# Each verdict is strong: models trained on IMDb tend to read a long, calm plot summary as positive (such
# summaries are commoner in positive reviews), and a weak last line would test that, not truncation.
LAST_SENTENCES = (
    (POSITIVE, "All in all, I loved it: a beautiful, moving film with a wonderful cast, and one of the best I have "
     "seen this year."),
    (NEGATIVE, "All in all, a waste of time: a dull, badly acted film that goes on far too long, and one of the "
     "worst I have seen this year."),
    (POSITIVE, "All in all, a wonderful film, brilliantly acted and very moving, that I would happily watch again."),
    (NEGATIVE, "All in all, a dull, tedious and badly written film, boring from start to finish and a waste of money."),
)  # fmt: skip

TRUNCATION = tuple(
    Case(" ".join(PLOT[start:] + PLOT[:start] + (verdict,)), label)
    for start in PLOT_STARTS
    for label, verdict in LAST_SENTENCES
)

# --- neutral filler -----------------------------------------------------------------------------------

SHORT_REVIEWS = (
    "A wonderful film with a great cast.",
    "I loved it and laughed all the way through.",
    "Beautifully made and very moving.",
    "An excellent thriller that kept me guessing.",
    "The best family film in years.",
    "Clever, funny and charming.",
    "A terrible film with a wasted cast.",
    "I hated it and was bored all the way through.",
    "Badly made and completely forgettable.",
    "A dreadful thriller with no surprises.",
    "The worst family film in years.",
    "Stupid, unfunny and tiresome.",
)
FILLER = (
    "I watched it on a Tuesday.",
    "The cinema was on Main Street.",
    "I went with my sister after work.",
    "It was shown in the evening.",
    "The film is in English with a few scenes in French.",
    "I bought the ticket online.",
)


def _filler(i: int) -> str:
    return f"{FILLER[i % len(FILLER)]} {FILLER[(i + 1) % len(FILLER)]}"


NEUTRAL_FILLER = tuple(
    case
    for i, review in enumerate(SHORT_REVIEWS)
    for case in (
        Case(f"{_filler(i)} {review}", NO_CHANGE, original=review),
        Case(f"{review} {_filler(i + 2)}", NO_CHANGE, original=review),
    )
)

CAPABILITIES: tuple[Capability, ...] = (
    Capability(
        "vocabulary",
        "Plain praise and blame",
        'Short reviews with clear words: "A wonderful film." is positive, "A terrible film." negative. '
        "The baseline: a model that fails here fails everything else for a simpler reason.",
        MFT,
        VOCABULARY,
    ),
    Capability(
        "negation",
        "Negation",
        '"Not good" must read as negative and "not bad at all" as positive. '
        "A model that only counts praise and blame words gets these backwards.",
        MFT,
        NEGATION,
    ),
    Capability(
        "intensity",
        "Stronger words",
        'Making a review stronger ("good" to "really very good", "bad" to "truly awful") must not move '
        "the answer the other way.",
        DIR,
        INTENSITY,
    ),
    Capability(
        "contrast",
        "Contrast with but",
        'In "The acting was great, but the film was boring." the verdict after "but" wins: the review is negative.',
        MFT,
        CONTRAST,
    ),
    Capability(
        "typos",
        "Typos",
        "A few swapped or missing letters must not change the answer: people make typos, and the meaning is "
        "still clear.",
        INV,
        TYPOS,
    ),
    Capability(
        "names_and_places",
        "Names and places",
        'Putting other people and places in a review ("Tom Hanks in Paris" to "Priya Patel in Lagos") must '
        "not change the answer: a name says nothing about whether the film was good.",
        INV,
        NAMES_AND_PLACES,
    ),
    Capability(
        "truncation",
        "Verdict at the end of a long review",
        "A long plot summary with the verdict only in the last sentence. A model reads a limited number of "
        "tokens; one that keeps only the beginning never sees the verdict, while head+tail truncation keeps "
        "the end, where reviewers often give their verdict.",
        MFT,
        TRUNCATION,
    ),
    Capability(
        "neutral_filler",
        "Irrelevant sentences",
        'Adding sentences that say nothing about the film ("I watched it on a Tuesday.") before or after a '
        "review must not change the answer.",
        INV,
        NEUTRAL_FILLER,
    ),
)


def battery_texts(capabilities: Sequence[Capability] = CAPABILITIES) -> list[str]:
    """Every distinct text the battery asks about, originals and changed texts, in order of appearance."""
    return list(dict.fromkeys(t for c in capabilities for case in c.cases for t in (case.original, case.text) if t))


def behaviour_check(score: Scorer, *, max_failures: int = 5) -> dict:
    """Run the battery on a model given as ``score(texts) -> P(positive) per text``.

    Every distinct text is scored in one call, so a model computes its batches its own way. The result is
    plain JSON-ready types: pass counts and rates overall and per capability, and for each capability up to
    ``max_failures`` failed cases, the worst first (the most confident wrong answers, the largest moves).
    """
    if max_failures < 0:
        raise ValueError("max_failures cannot be negative")
    started = time.monotonic()
    texts = battery_texts()
    probability = dict(zip(texts, _scored(score, texts), strict=True))
    capabilities = [_capability_result(c, probability, max_failures) for c in CAPABILITIES]
    passed, total = sum(c["passed"] for c in capabilities), sum(c["total"] for c in capabilities)
    logger.info(
        "behaviour check v%s: %d of %d passed, %d texts in %.1f s",
        BATTERY_VERSION, passed, total, len(texts), time.monotonic() - started,
    )  # fmt: skip
    return {
        "version": BATTERY_VERSION,
        "passed": passed,
        "total": total,
        "pass_rate": round(passed / total, 4),
        "capabilities": capabilities,
    }


def behaviour_regressions(candidate: BehaviourResult | None, served: BehaviourResult | None) -> list[dict]:
    """The capabilities where ``candidate`` passes a smaller share than ``served``, the largest drop first.

    Only results of the same battery version are compared: with either result missing (None or empty), or
    from different versions, there is nothing comparable and the answer is ``[]``. A capability found in
    only one of them is left out.
    """
    if not candidate or not served or candidate.version is None or candidate.version != served.version:
        return []
    served_rates = {c.name: c.pass_rate for c in served.capabilities}
    drops = [
        {
            "name": c.name,
            "title": c.title or c.name,
            "candidate": c.pass_rate,
            "served": served_rates[c.name],
            "drop_points": round((served_rates[c.name] - c.pass_rate) * 100, 2),
        }
        for c in candidate.capabilities
        if c.name in served_rates and c.pass_rate < served_rates[c.name]
    ]
    return sorted(drops, key=lambda drop: -drop["drop_points"])


def _scored(score: Scorer, texts: list[str]) -> np.ndarray:
    probabilities = np.asarray(score(texts), dtype=np.float64)
    if probabilities.shape != (len(texts),):
        raise ModelError(
            f"the behaviour check asked for {len(texts)} probabilities and got an array of shape {probabilities.shape}"
        )
    if not np.all((probabilities >= 0) & (probabilities <= 1)):  # NaN fails both comparisons
        raise ModelError("the behaviour check needs P(positive) between 0 and 1, and the model gave other values")
    return probabilities


def _capability_result(capability: Capability, probability: dict[str, float], max_failures: int) -> dict:
    failures = []
    for order, case in enumerate(capability.cases):
        passed, severity, got = _judge(capability.kind, case, probability)
        if not passed:
            failure = {"text": case.text, "expected": case.expected, "got": got}
            if case.original is not None:
                failure["original"] = case.original
            failures.append((-severity, order, failure))
    total = len(capability.cases)
    passed = total - len(failures)
    return {
        "name": capability.name,
        "title": capability.title,
        "explanation": capability.explanation,
        "kind": capability.kind,
        "passed": passed,
        "total": total,
        "pass_rate": round(passed / total, 4),
        "failures": [failure for *_, failure in sorted(failures, key=lambda f: f[:2])[:max_failures]],
    }


def _judge(kind: str, case: Case, probability: dict[str, float]) -> tuple[bool, float, str]:
    """Whether ``case`` passes, how badly it fails (to show the worst first), and the answer in words."""
    new = float(probability[case.text])
    if kind == MFT:
        return _label(new) == case.expected, abs(new - 0.5), _answer(new)
    old = float(probability[case.original])
    if kind == INV:
        return _label(new) == _label(old), abs(new - old), f"{_answer(new)}, was {_answer(old)}"
    toward = new - old if case.expected == MORE_POSITIVE else old - new
    return toward >= -DIRECTION_TOLERANCE, -toward, f"P(positive) went from {old:.2f} to {new:.2f}"


def _label(p: float) -> str:
    return POSITIVE if p >= 0.5 else NEGATIVE  # as ml.serving.labeller.answers decides


def _answer(p: float) -> str:
    return f"{_label(p)} (P(positive)={p:.2f})"
