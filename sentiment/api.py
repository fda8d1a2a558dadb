"""The JSON API: classify a review with the served model, authenticated by an API key.

    curl -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
         -d '{"text": "A moving, beautifully acted film."}' http://127.0.0.1:8000/api/classify

Thin like the pages: it parses the request, calls the same service as the form, and answers JSON.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sentiment import selectors, services


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt  # no cookies: the API key in the Authorization header is the credential
@require_POST
def classify(request):
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    user = selectors.api_token_user(key=key.strip()) if scheme.lower() in {"bearer", "token"} else None
    if user is None:
        return _error(401, "Send a valid API key: 'Authorization: Bearer <key>' (create one on the API page).")
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return _error(400, 'The body must be JSON, e.g. {"text": "A moving film."}.')
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str):
        return _error(400, 'Give the review as a string in "text".')
    try:
        prediction = services.review_classify(user=user, text=text)
    except ValidationError as exc:
        return _error(400, " ".join(exc.messages))
    except services.NoModelServed as exc:
        return _error(503, str(exc))
    return JsonResponse(
        {
            "id": prediction.pk,
            "label": prediction.label,
            "probability": round(prediction.probability, 4),
            "model": prediction.model_name,
            "run": prediction.run_id,
        }
    )
