"""Emulated bedrock-runtime: InvokeModel, InvokeModelWithResponseStream, Converse and CountTokens.

It resolves who answers a call (a responder set by the test, a custom model's similarity responder through an
``InService`` Provisioned Throughput, or the base model's fixed reply), refuses what the service refuses (the
``:200k`` id on demand, a custom model without a Provisioned Throughput, a deployment not yet in service),
caps calls per real second per model unit, and hands the request to ``runtime.py``, which checks the
Messages body and shapes the answer. It must not parse or frame HTTP (``server.py``/``wire.py``) and must not
change deployments or models.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..base_models import DEFAULT_BASE_MODEL
from ..datasets import estimate_tokens
from .converse import converse, converse_stream
from .provisioned import ProvisionedThroughput, Throughput
from .runtime import (
    Answer,
    Responder,
    answer,
    base_reply,
    check_body,
    invoke_model,
    invoke_model_stream,
    messages_body,
    text_of,
)
from .wire import ApiError, not_found, validation

__all__ = ["Invocation"]


class Invocation(ProvisionedThroughput):
    """The runtime operations (over the deployments and models that answer them)."""

    def responder_for(self, model_id: str) -> Responder:
        """Resolve who answers a runtime call to ``model_id`` (raising the service's errors)."""
        key = model_id.rsplit("/", 1)[-1] if model_id.startswith(self.foundation) else model_id
        profile = self._base_profile(key)
        if profile is not None and key in (profile.invoke_model_id, profile.model_id):
            self._require_alive(profile)
            if key == profile.model_id:
                raise validation(
                    f"Invocation of model ID {key} with on-demand throughput isn't supported; "
                    "use a Provisioned Throughput"
                )
            return self.responders.get(model_id) or self.responders.get(key) or base_reply
        if model_id in self._models or any(m["modelName"] == model_id for m in self._models.values()):
            raise validation(
                "Custom models can only be invoked through a Provisioned Throughput: "
                "create one and use its ARN as modelId"
            )
        try:
            pt = self._throughput(model_id)
        except ApiError:
            raise not_found(f"The model {model_id} does not exist or you do not have access to it") from None
        self._require_alive(self._base_profile(str(self._models.get(pt.model_arn, {}).get("baseModelArn", ""))))
        if pt.status != "InService":
            raise validation(f"Provisioned model {pt.name} is {pt.status}, not InService yet")
        self._rate_limit(pt)
        return (
            self.responders.get(model_id)
            or self.responders.get(pt.arn)
            or self.responders.get(pt.model_arn)
            or self._model_responders.get(pt.model_arn)
            or base_reply
        )

    def _rate_limit(self, pt: Throughput) -> None:
        now = self.real_time()
        self.capacity.admit(pt.arn, pt.units, now)  # tokens per minute per unit (capacity.py)
        if self.calls_per_second_per_unit is None:
            return
        pt.calls = [t for t in pt.calls if now - t < 1.0]
        if len(pt.calls) >= self.calls_per_second_per_unit * pt.units:
            raise ApiError("ThrottlingException", "Too many requests, please wait before trying again.", 429)
        pt.calls.append(now)

    def _message_id(self) -> str:
        self._message_count += 1
        return f"msg_local_{self._message_count:08d}"

    def _output_limit(self, model_id: str) -> int:
        """The largest ``max_tokens`` the model behind ``model_id`` takes: its base model's (a base model id or
        ARN, a custom model, or a Provisioned Throughput of one); Claude 3 Haiku's when the id is unknown."""
        key = model_id.rsplit("/", 1)[-1] if model_id.startswith(self.foundation) else model_id
        profile = self._base_profile(key)
        if profile is None:
            pt = next((t for t in self._throughputs.values() if model_id in (t.arn, t.name)), None)
            model = self._models.get(pt.model_arn if pt is not None else model_id)
            profile = self._base_profile(str(model["baseModelArn"])) if model is not None else None
        return (profile or DEFAULT_BASE_MODEL).runtime.max_output_tokens

    def _run(self, model_id: str, body: Any, *, batch: bool = False) -> tuple[Answer, str]:
        request = check_body(body, self._output_limit(model_id))
        responder = self._batch_responder(model_id) if batch else None
        responder = responder or self.responder_for(model_id)
        result = answer(request, responder(request))
        pt = next((t for t in self._throughputs.values() if model_id in (t.arn, t.name)), None)
        if pt is not None and not batch:
            self.capacity.charge(pt.arn, pt.units, result.input_tokens, result.output_tokens, self.real_time())
        return result, self._message_id()

    def _batch_responder(self, model_id: str) -> Responder | None:
        """A batch job may name a custom model's ARN itself (CreateModelInvocationJob's modelId pattern allows it,
        and batch runs need no Provisioned Throughput); runtime calls may not."""
        model = self._models.get(model_id)
        if model is None:
            return None
        return self.responders.get(model_id) or self._model_responders.get(model_id) or base_reply

    def invoke(self, model_id: str, raw: bytes) -> dict[str, Any]:
        """InvokeModel's response body for a raw request body."""
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise validation("Malformed input request, please reformat your input and try again.") from None
        result, message_id = self._run(model_id, body)
        return messages_body(result, message_id)

    # The wire shapes (headers, stream events, Converse translation, tool calls) live in runtime.py/converse.py.
    def op_InvokeModel(self, params: dict[str, Any]) -> dict[str, Any]:
        return invoke_model(self._run, params)

    def op_InvokeModelWithResponseStream(self, params: dict[str, Any]) -> dict[str, Any]:
        return invoke_model_stream(self._run, params)

    def op_Converse(self, params: dict[str, Any]) -> dict[str, Any]:
        return converse(self._run, params)

    def op_ConverseStream(self, params: dict[str, Any]) -> dict[str, Any]:
        return converse_stream(self._run, params)

    def op_CountTokens(self, params: dict[str, Any]) -> dict[str, Any]:
        model_id = params["modelId"]
        key = model_id.rsplit("/", 1)[-1] if model_id.startswith(self.foundation) else model_id
        profile = self._base_profile(key)
        # The real list of models that count tokens is short: refuse the rest.
        if profile is None or key not in (profile.invoke_model_id, profile.model_id):
            raise validation(f"The model {model_id} does not support counting tokens")
        given = params["input"]
        if "invokeModel" in given:
            try:
                body = orjson.loads(given["invokeModel"]["body"])
            except orjson.JSONDecodeError:
                raise validation("Malformed input request") from None
            if not isinstance(body, dict):
                raise validation("Malformed input request: the body must be a JSON object")
            messages = body.get("messages") or []
            system = body.get("system") or ""
        else:
            converse = given.get("converse") or {}
            messages = [
                {"content": "".join(b.get("text", "") for b in m.get("content", []))}
                for m in converse.get("messages", [])
            ]
            system = "".join(b.get("text", "") for b in converse.get("system", []))
        text = text_of(system) + "".join(text_of(m.get("content", "")) for m in messages if isinstance(m, dict))
        return {"inputTokens": max(1, estimate_tokens(text))}
