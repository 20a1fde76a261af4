"""Optional paraphrasing of question text (off by default). It never changes the answer or the options: only
the question wording goes to the model, and a paraphrase that drops the target's name (or comes back empty) is
discarded in favour of the template text.

Two back ends: an OpenAI-compatible chat endpoint (``openai:BASE_URL:MODEL``, key from ``$OPENAI_API_KEY`` if
set) and a local transformers model (``transformers:PATH``, needs the ``[eval]`` extra). Paraphrases make a build
depend on the model: the manifest records the hook, and byte-identical rebuilds need a deterministic back end.
"""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from vgmed_data.errors import InvalidInputError, RemoteError, require

PROMPT = ("Rewrite this question about a medical image in different words. Keep its meaning, keep the exact "
          "phrase '{target}', do not answer it, reply with the question only.\n\nQuestion: {question}")


class Paraphraser(Protocol):
    def __call__(self, question: str, *, target: str) -> str: ...


def paraphrase(question: str, *, target: str, paraphraser: Paraphraser | None) -> str:
    """The paraphrased question, or ``question`` itself when there is no hook or the result is unusable."""
    if paraphraser is None:
        return question
    text = paraphraser(question, target=target).strip()
    if not text or target.lower() not in text.lower():
        return question
    return text


@dataclass(frozen=True)
class OpenAICompatible:
    base_url: str
    model: str
    timeout_s: float = 60.0

    def __call__(self, question: str, *, target: str) -> str:
        body = json.dumps({"model": self.model, "temperature": 0, "seed": 0, "messages": [
            {"role": "user", "content": PROMPT.format(target=target, question=question)}]}).encode()
        request = urllib.request.Request(self.base_url.rstrip("/") + "/chat/completions", data=body,
                                         headers={"Content-Type": "application/json",
                                                  **({"Authorization": f"Bearer {os.environ['OPENAI_API_KEY']}"}
                                                     if os.environ.get("OPENAI_API_KEY") else {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return str(json.load(response)["choices"][0]["message"]["content"])
        except (OSError, KeyError, ValueError) as error:
            raise RemoteError(f"paraphrasing endpoint failed ({error})", path=self.base_url,
                              fix="check the URL and model, or build without --paraphrase") from error


@dataclass
class LocalTransformers:
    model_path: str

    def __post_init__(self) -> None:
        transformers = require("transformers", extra="eval", purpose="paraphrasing with a local model")
        self._pipe = transformers.pipeline("text-generation", model=self.model_path)

    def __call__(self, question: str, *, target: str) -> str:
        prompt = PROMPT.format(target=target, question=question)
        out = self._pipe(prompt, max_new_tokens=64, do_sample=False, return_full_text=False)
        return str(out[0]["generated_text"]).strip().splitlines()[0] if out else ""


def parse_hook(spec: str | None) -> Paraphraser | None:
    """``None`` | ``openai:BASE_URL:MODEL`` | ``transformers:PATH``."""
    if not spec:
        return None
    kind, _, rest = spec.partition(":")
    if kind == "openai":
        base, _, model = rest.rpartition(":")
        if base and model:
            return OpenAICompatible(base, model)
    elif kind == "transformers" and rest:
        return LocalTransformers(rest)
    raise InvalidInputError(f"bad --paraphrase value {spec!r}",
                            fix="use openai:http://host:port/v1:MODEL or transformers:/path/to/model")
