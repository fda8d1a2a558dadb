"""Forms: they parse and explain; the services decide."""

from __future__ import annotations

from django import forms

from ml.config import config_fields
from ml.errors import ConfigError
from ml.presets import PRESETS, config_from_preset
from sentiment import selectors

_FIELD_TYPES = {"int": forms.IntegerField, "int | None": forms.IntegerField, "float": forms.FloatField}


class ReviewForm(forms.Form):
    text = forms.CharField(
        label="Your review",
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "Paste or write a movie review…"}),
        help_text="The model reads the first and last parts of long reviews (up to its max length in tokens).",
    )


def local_path(target: str) -> str:
    """``target`` when it is a path on this site, else "" (an open redirect would let a link send people
    anywhere)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else ""


class FeedbackForm(forms.Form):
    correct_label = forms.ChoiceField(choices=[("positive", "positive"), ("negative", "negative")])
    comment = forms.CharField(max_length=500, required=False)
    next = forms.CharField(required=False)

    def clean_next(self) -> str:
        return local_path(self.cleaned_data["next"])


class PromoteForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "e.g. +1.2 points on the test set, no check regressed"}),
        help_text="Why this model should answer users. Kept in the serving history with the figures shown here.",
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)
    evidence = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)  # what the page showed

    def clean_next(self) -> str:
        return local_path(self.cleaned_data["next"])


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


class CsvUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8, with a header row and a 'text' column; other columns are kept in the result, which adds "
        "'label' and 'probability' (so the file must not have them). Cells starting with =, +, - or @ come back "
        "with a ' in front, so that a spreadsheet shows them instead of running them.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


class TrainingLaunchForm(forms.Form):
    """A preset plus any override; each field's help explains the term, as the tutorial did."""

    preset = forms.ChoiceField(
        choices=[(name, name) for name in PRESETS],
        initial="smoke",
        help_text="Starting recipe: tutorial (the original, slow), fast (GPU), smoke (minutes on a CPU, offline). "
        "Fields left empty keep the preset's value.",
    )
    promote_when_done = forms.BooleanField(required=False, help_text="Serve this run's model as soon as it succeeds.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for f in config_fields():
            if f.name in {"output_dir", "resume", "corrections_file"}:
                continue  # the run decides these (the corrections: the site's accepted feedback)
            self.fields[f.name] = self._form_field(f)
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

    def overrides(self) -> dict:
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in {"preset", "promote_when_done"} and value not in (None, "")
        }

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.config = config_from_preset(
                cleaned["preset"], **self.overrides(), corrections_file=selectors.corrections_file()
            )
        except ConfigError as exc:
            for field, message in exc.problems:
                self.add_error(field if field in self.fields else None, message)
        return cleaned
