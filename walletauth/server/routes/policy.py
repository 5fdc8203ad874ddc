"""``/policy``: the active privacy policy, rendered for a consent screen."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query

from walletauth.policy import render_policy
from walletauth.server.deps import RuntimeDep
from walletauth.server.problems import problem_responses

router = APIRouter(tags=["policy"])


@router.get(
    "/policy",
    responses=problem_responses(422, 500),
    summary="The active privacy policy in Japanese (the original) or English",
)
async def policy(
    runtime: RuntimeDep, lang: Literal["ja", "en"] = Query("ja", description="Language")
) -> dict[str, Any]:
    return render_policy(runtime.policy, lang)
