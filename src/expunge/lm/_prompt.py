"""Turn a question into the model's prompt, one way for training, generation and evaluation alike.

A tokenizer with a chat template gets the question as a user turn with a one-line system turn (SmolLM2's default
system prompt costs ~20 tokens per sample, a measurable share of CPU training time); a tokenizer without one gets
the plain format ``"Question: …\\nAnswer:"``, and :func:`prompt_format` says which, so a caller can tell the user.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["SYSTEM_PROMPT", "format_prompt", "prompt_format"]

SYSTEM_PROMPT = "Answer briefly."
PLAIN_TEMPLATE = "Question: {question}\nAnswer:"


def prompt_format(tokenizer: Any) -> Literal["chat", "plain"]:
    """Return ``"chat"`` when ``tokenizer`` carries a chat template, else ``"plain"``."""
    return "chat" if getattr(tokenizer, "chat_template", None) else "plain"


def format_prompt(tokenizer: Any, question: str) -> str:
    """Return the text the model sees before its answer to ``question`` (generation prompt included)."""
    if prompt_format(tokenizer) == "plain":
        return PLAIN_TEMPLATE.format(question=question)
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]
    return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
