"""Builds the LLM from settings, or None when the user configured none (extractive mode).
Any OpenAI-compatible endpoint goes through llama-index's OpenAILike with a real context window; nothing
is sent anywhere the user did not name."""

from __future__ import annotations

from typing import Any

from .errors import ConfigError
from .settings import Settings

OPENAI_DEFAULT_MODEL = "gpt-4o-mini"
OPENAI_URL = "https://api.openai.com/v1"


def describe(settings: Settings) -> str | None:
    """The model name shown to users, or None in extractive mode."""
    if not settings.llm_enabled:
        return None
    return settings.llm_model or OPENAI_DEFAULT_MODEL


def build_llm(settings: Settings) -> Any:
    if not settings.llm_enabled:
        return None
    from llama_index.llms.openai_like import OpenAILike

    if settings.llm_base_url:
        if not settings.llm_model:
            raise ConfigError("RAG_LLM_BASE_URL is set but RAG_LLM_MODEL is not; name the model to use")
        base = settings.llm_base_url
    else:
        base = settings.openai_base_url or OPENAI_URL
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    return OpenAILike(model=settings.llm_model or OPENAI_DEFAULT_MODEL, api_base=base, api_key=key,
                      is_chat_model=True, context_window=settings.llm_context_window,
                      max_tokens=settings.llm_max_tokens, timeout=settings.llm_timeout,
                      max_retries=settings.llm_max_retries, temperature=settings.llm_temperature)
