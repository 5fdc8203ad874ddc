"""``/policy``: the active privacy policy, rendered for a consent screen, and
``/policy/text``: the published text it transcribes, whole, which the clause references of
``/policy`` link into (``clause_links``)."""

from __future__ import annotations

from typing import Any, Final, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from walletauth.policy import render_policy
from walletauth.policy.original import text_page
from walletauth.server.web.deps import RuntimeDep
from walletauth.server.web.problems import problem_response, problem_responses

router = APIRouter(tags=["policy"])

# The page is the text and nothing else: no script, no style, no frame around it.
TEXT_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


@router.get(
    "/policy",
    responses=problem_responses(422, 500),
    summary="The active privacy policy in Japanese (the original) or English",
)
async def policy(
    runtime: RuntimeDep, lang: Literal["ja", "en"] = Query("ja", description="Language")
) -> dict[str, Any]:
    return render_policy(runtime.policy, lang)


@router.get(
    "/policy/text",
    response_class=HTMLResponse,
    responses={**problem_responses(404, 422, 500),
               200: {"content": {"text/html": {}, "text/plain": {}}}},
    summary="The published policy text, whole (Japanese, the original)",
    description="HTML with one section per clause (`id` = the anchors of `/policy`'s"
    " `clause_links`), or with `format=txt` the text verbatim.",
)
async def policy_text(
    runtime: RuntimeDep,
    lang: Literal["ja", "en"] = Query("ja", description="Language; the text is Japanese only"),
    format: Literal["html", "txt"] = Query("html", description="A page or the plain text"),
) -> Response:
    original = runtime.policy.original_text
    if lang != "ja":
        return problem_response(
            "unsupported_language",
            "the published text is Japanese only; GET /policy?lang=en renders the policy in"
            " English",
        )
    if original is None:
        return problem_response(
            "not_found", "this policy has no published text beside it (<name>.ja.txt)"
        )
    if format == "txt":
        return PlainTextResponse(original, headers=TEXT_HEADERS)
    return HTMLResponse(text_page(original, title=runtime.policy.name.ja), headers=TEXT_HEADERS)
