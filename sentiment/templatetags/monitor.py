"""The drift alarm on staff pages: a banner while the model monitor's drift score is past its threshold."""

from django import template

from sentiment.selectors.monitor import monitor_alarm

register = template.Library()


@register.inclusion_tag("sentiment/_monitor_alarm.html", takes_context=True)
def drift_alarm(context):
    user = getattr(context.get("request"), "user", None)
    return {"alarm": monitor_alarm() if user is not None and user.is_staff else None}
