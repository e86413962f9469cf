"""The OpenAI Agents SDK against the proxy: ``python agents_driver.py responses|chat|too_long``.

An Agent with two function tools run by ``Runner.run``: the SDK's own loop calls
the tools and sends their results back. ``too_long``: the same Agent on the
Responses model given an input too long for the model, reporting what the run
raised. ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` point at the proxy; one JSON
line goes to stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

CALLS: list[list[Any]] = []


@function_tool  # type: ignore[untyped-decorator]  # its overloads are not visible without the package installed
def get_weather(city: str) -> str:
    """The current weather in a city."""
    CALLS.append(["get_weather", {"city": city}])
    return f"weather in {city}: sunny, 21C"


@function_tool  # type: ignore[untyped-decorator]  # its overloads are not visible without the package installed
def get_time(zone: str) -> str:
    """The current time in a time zone."""
    CALLS.append(["get_time", {"zone": zone}])
    return f"time in {zone}: 14:05"


async def main(mode: str) -> dict[str, Any]:
    set_tracing_disabled(True)
    client = AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"], max_retries=0)
    model: Any
    if mode == "too_long":
        model = OpenAIResponsesModel(model="sonnet", openai_client=client)
        agent = Agent(name="assistant", instructions="Use the tools.", tools=[get_weather, get_time], model=model)
        try:
            await Runner.run(agent, "Old question. " + "long words " * 4000, max_turns=6)
        except Exception as error:  # the application gets what the SDK raised
            status = getattr(error, "status_code", None)
            return {"type": type(error).__name__, "status": status, "message": str(error)}
        raise SystemExit("the run did not fail")
    if mode == "responses":
        model = OpenAIResponsesModel(model="sonnet", openai_client=client)
    else:
        model = OpenAIChatCompletionsModel(model="sonnet", openai_client=client)
    agent = Agent(name="assistant", instructions="Use the tools.", tools=[get_weather, get_time], model=model)
    result = await Runner.run(agent, "Weather in Paris, then the time in CET?", max_turns=6)
    return {
        "final": result.final_output,
        "calls": CALLS,
        "items": [item.type for item in result.new_items],
        "responses": len(result.raw_responses),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
