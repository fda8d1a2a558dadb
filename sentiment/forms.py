"""Forms: they parse and explain; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.http import url_has_allowed_host_and_scheme

from ml.config import DISTILLATION_FIELDS, config_fields
from ml.errors import ConfigError
from ml.presets import PRESETS, config_from_preset, presets_described
from sentiment.files.data_roots import local_path_refusal
from sentiment.models import ApiToken
from sentiment.selectors.datasets import labelled_dataset_choices
from sentiment.selectors.feedback import corrections_file
from sentiment.services.promotions import MAX_REASON_CHARS, MIN_REASON_CHARS

_FIELD_TYPES = {"int": forms.IntegerField, "int | None": forms.IntegerField, "float": forms.FloatField}


class ReviewForm(forms.Form):
    text = forms.CharField(
        label="Your review",
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "Paste or write a movie review…"}),
        help_text="The model reads the first and last parts of long reviews (up to its max length in tokens).",
    )


def local_path(target: str) -> str:
    """``target`` when it is a path on this site, else "" (an open redirect would let a link send people
    anywhere): Django's own check, with no host allowed, of a printable path from the site's root."""
    is_path = target.startswith("/") and target.isprintable()
    return target if is_path and url_has_allowed_host_and_scheme(target, allowed_hosts=set()) else ""


class FeedbackForm(forms.Form):
    correct_label = forms.ChoiceField(choices=[("positive", "positive"), ("negative", "negative")])
    comment = forms.CharField(max_length=500, required=False)
    next = forms.CharField(required=False)

    def clean_next(self) -> str:
        return local_path(self.cleaned_data["next"])


class PromoteForm(forms.Form):
    """The reason (kept in the audit trail) and, when the page showed regressions, a confirmation that
    the person read them: a worse model is never served by a click that did not mean it."""

    reason = forms.CharField(
        min_length=MIN_REASON_CHARS,
        max_length=MAX_REASON_CHARS,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "e.g. +1.2 points on the test set, no check regressed"}),
        help_text="Why this model should answer users. Kept in the serving history with the figures shown here.",
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)
    evidence = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)  # what the page showed
    accept_regressions = forms.BooleanField(
        required=False, label="I have read the regressions above and still want this model to answer users"
    )

    def __init__(self, *args, regressions: list[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.regressions = list(regressions)

    def clean_next(self) -> str:
        return local_path(self.cleaned_data["next"])

    def clean(self):
        cleaned = super().clean()
        if self.regressions and not cleaned.get("accept_regressions"):
            self.add_error(
                "accept_regressions",
                f"This model is worse than the served one on: {', '.join(self.regressions)}. "
                "Tick the box to serve it anyway.",
            )
        return cleaned


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100, required=False, widget=forms.TextInput(attrs={"placeholder": "e.g. my script"})
    )
    expires_in_days = forms.TypedChoiceField(
        label="Expires",
        choices=[("", "never (until you revoke it)"), (30, "in 30 days"), (90, "in 90 days"), (365, "in a year")],
        coerce=int,
        empty_value=None,
        required=False,
        help_text="A key that expires cannot be forgotten in a script for ever.",
    )
    scope = forms.ChoiceField(
        choices=ApiToken.Scope.choices,
        initial=ApiToken.Scope.CLASSIFY,
        required=False,
        help_text="A key for a script that classifies needs no more; give staff power only to a key that needs it.",
    )

    def __init__(self, *args, staff: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not staff:  # only staff make staff keys: the choice is not offered
            del self.fields["scope"]

    @property
    def chosen_scope(self) -> str:
        return self.cleaned_data.get("scope") or ApiToken.Scope.CLASSIFY


class CsvUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8, with a header row and a 'text' column; other columns are kept in the result, which adds "
        "'label' and 'probability' (so the file must not have them). Cells starting with =, +, - or @ come back "
        "with a ' in front, so that a spreadsheet shows them instead of running them.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


class LabelledDatasetForm(forms.Form):
    """An upload of your own labelled reviews; ``services.labelled_dataset_create`` checks the file."""

    name = forms.CharField(
        max_length=100, help_text="How the launch form lists it, e.g. 'support tickets 2024'. Unique."
    )
    description = forms.CharField(
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Where the reviews come from and how they were labelled (optional).",
    )
    file = forms.FileField(
        label="Labelled reviews",
        help_text="A CSV (UTF-8, a header row with a 'text' and a 'label' column; other columns are ignored) or a "
        'JSON-lines file (.jsonl: one object per line, such as {"text": "A fine film.", "label": 1}). A label '
        "is 0 or 1, or negative or positive. Reviews that appear twice with the same label are kept once; the same "
        "review with both labels is refused. At least 20 reviews, of both labels.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.jsonl,.ndjson,.json,text/csv,application/jsonl"}),
    )


class TrainingLaunchForm(forms.Form):
    """A preset plus any override; each field's help explains the term, as the tutorial did.

    The basics come first (``BASICS``); every other setting is under "Advanced". Each field shows the value
    the chosen preset gives it (``preset_values``, which the page updates when the preset changes), so an
    empty field is never a mystery. The data choice lists the uploaded data sets, alone or added to IMDb.
    """

    BASICS = (
        "preset",
        "base_model",
        "dataset",
        "num_train_epochs",
        "learning_rate",
        "train_batch_size",
        "train_on_corrections",
        "promote_when_done",
    )
    ADVANCED_GROUPS = {
        "Reading the reviews": ("max_length", "truncation", "padding", "pad_to_multiple_of", "group_by_length"),
        "Learning": (
            *("frozen_layers", "keep_layers", "keep_layers_from", "dropout", "weight_decay", "warmup_ratio"),
            "lr_scheduler",
            *("gradient_accumulation_steps", "early_stopping_patience", "seed"),
        ),
        "Speed": (
            *("precision", "attention", "optimizer", "eval_batch_size", "dataloader_workers"),
            *("overlap_steps", "torch_compile"),
        ),
        "Validation, checkpoints and logs": (
            *("eval_strategy", "eval_steps", "save_strategy", "save_steps", "save_total_limit", "logging_steps"),
        ),
        "Beyond IMDb: short reviews, negation": (
            *("short_crops", "counterfactual_pairs", "pairs_with_typos", "head_first_reviews", "label_smoothing"),
        ),
        "How much data, and the checks": (
            *("validation_fraction", "max_train_examples", "max_validation_examples", "max_test_examples"),
            *("serving_check_reviews", "data_folder"),
        ),
    }
    # added_data: from the data choice; a student's teacher and how it learns from it: the distil action's
    RUN_DECIDES = {"output_dir", "resume", "corrections_file", "added_data", *DISTILLATION_FIELDS}

    preset = forms.ChoiceField(
        choices=[(name, name) for name in PRESETS],
        initial="smoke",
        help_text=f"Starting recipe: {presets_described()}. "
        "Every field shows the value the preset gives it; change only what you want different.",
    )
    promote_when_done = forms.BooleanField(required=False, help_text="Serve this run's model as soon as it succeeds.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for f in config_fields():
            if f.name not in self.RUN_DECIDES:
                self.fields[f.name] = self._form_field(f)
        self.data_choices = {choice.key: choice for choice in labelled_dataset_choices()}
        self.fields["dataset"] = forms.ChoiceField(
            label="Data",
            required=False,
            choices=[
                ("", "(preset)"),
                ("imdb", "IMDb: the official 25,000 + 25,000 reviews"),
                ("demo", "demo: IMDb's training reviews, bundled (offline)"),
                *[(key, choice.label) for key, choice in self.data_choices.items()],
            ],
            help_text=self.fields["dataset"].help_text
            + " Your own data sets (uploaded on the data sets page) can be trained on alone or added to IMDb.",
        )
        self.fields["data_folder"] = forms.CharField(
            required=False,
            label="Data folder",
            help_text="Instead of the data above: a folder the worker can read, with train and test files (parquet, "
            "CSV or JSON lines, each with text and label columns) or the aclImdb layout.",
        )
        self.order_fields([*self.BASICS])
        self.config = None

    @staticmethod
    def _form_field(f) -> forms.Field:
        label = f.name.replace("_", " ").capitalize()
        common = {"required": False, "label": label, "help_text": f.metadata["help"]}
        if f.metadata.get("choices"):
            choices = [("", "(preset)"), *[(c, c) for c in f.metadata["choices"]]]
            return forms.ChoiceField(choices=choices, **common)
        if f.type == "bool":
            choices = [("", "(preset)"), ("true", "yes"), ("false", "no")]
            return forms.TypedChoiceField(choices=choices, coerce=lambda v: v == "true", empty_value=None, **common)
        if f.type in ("float", "float | None"):
            return forms.FloatField(**common)
        return _FIELD_TYPES.get(f.type, forms.CharField)(**common)

    def basic_fields(self) -> list:
        return [self[name] for name in self.BASICS]

    def advanced_fields(self) -> list:
        return [field for field in self if field.name not in self.BASICS]

    def advanced_groups(self) -> list[tuple[str, list]]:
        """The advanced fields under headings; a setting added to the config later shows under "Other"."""
        grouped = [(title, [self[name] for name in names if name in self.fields]) for title, names in
                   self.ADVANCED_GROUPS.items()]  # fmt: skip
        placed = {name for names in self.ADVANCED_GROUPS.values() for name in names}
        rest = [field for field in self.advanced_fields() if field.name not in placed]
        return grouped + ([("Other", rest)] if rest else [])

    @staticmethod
    def preset_values() -> dict[str, dict]:
        """For each preset, the value it gives every field (its own settings over the defaults)."""
        values = {}
        for name in PRESETS:
            config = config_from_preset(name, output_dir="-").to_dict()
            values[name] = {key: value for key, value in config.items() if key not in TrainingLaunchForm.RUN_DECIDES}
        return values

    def overrides(self) -> dict:
        chosen = {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in {"preset", "promote_when_done", "data_folder"} and value not in (None, "")
        }
        data = self.data_choices.get(chosen.get("dataset", ""))
        if data is not None:  # an uploaded data set: alone, or added to IMDb
            chosen.update(dataset=data.dataset, added_data=data.added_data)
        if self.cleaned_data.get("data_folder"):
            chosen["dataset"] = self.cleaned_data["data_folder"]
        return chosen

    def problems(self) -> list[str]:
        """What is wrong, for the live estimate beside the form: one sentence per problem, named by the field's
        label as the form shows it ("Num train epochs must be…", not "num_train_epochs must be…")."""
        found = []
        for name, messages in self.errors.items():
            field = self.fields.get(name)
            for message in messages:
                text = str(message)
                if field is not None and text.startswith(f"{name} "):
                    text = f"{field.label}{text[len(name) :]}"
                elif field is not None:
                    text = f"{field.label}: {text}"
                found.append(text if text.endswith((".", "?", "!")) else f"{text}.")
        return found

    def clean(self):
        cleaned = super().clean()
        for name, what in (("data_folder", "The data folder"), ("base_model", "A local base model")):
            refusal = local_path_refusal(cleaned.get(name) or "", what=what)
            if refusal:
                self.add_error(name, refusal)
        if self.errors:
            return cleaned
        try:
            self.config = config_from_preset(cleaned["preset"], **self.overrides(), corrections_file=corrections_file())
        except ConfigError as exc:
            for field, message in exc.problems:
                self.add_error(field if field in self.fields else None, message)
        return cleaned
