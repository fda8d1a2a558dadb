"""Promotions made before the audit trail existed: each that served a model served before is a restore,
and each replaced the model of the promotion before it."""

from django.db import migrations


def fill_history(apps, schema_editor):
    Promotion = apps.get_model("sentiment", "Promotion")
    served_before: set[int] = set()
    previous = None
    for promotion in Promotion.objects.order_by("promoted_at", "id"):
        if promotion.run_id in served_before:
            promotion.action = "restore"
        if previous is not None and promotion.replaced_id is None:
            promotion.replaced_id = previous
        promotion.save(update_fields=["action", "replaced"])
        served_before.add(promotion.run_id)
        previous = promotion.run_id


class Migration(migrations.Migration):
    dependencies = [("sentiment", "0006_promotion_audit")]

    operations = [migrations.RunPython(fill_history, migrations.RunPython.noop)]
