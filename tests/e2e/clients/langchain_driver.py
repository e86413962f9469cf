"""LangChain (langchain-openai) against the proxy: ``python langchain_driver.py MODE``.

MODE is invoke, stream, bind_tools, structured, agent (langgraph's
create_react_agent with two tools) or too_long (a conversation too long for the
model, then the application's shorter one after LangChain's ContextOverflowError).
``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` point at the proxy; one JSON line goes
to stdout.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

CALLS: list[list[Any]] = []


@tool  # type: ignore[untyped-decorator]  # langchain_core ships no annotations for it
def get_weather(city: str) -> str:
    """The current weather in a city."""
    CALLS.append(["get_weather", {"city": city}])
    return f"weather in {city}: sunny, 21C"


@tool  # type: ignore[untyped-decorator]  # langchain_core ships no annotations for it
def get_time(zone: str) -> str:
    """The current time in a time zone."""
    CALLS.append(["get_time", {"zone": zone}])
    return f"time in {zone}: 14:05"


class Weather(BaseModel):
    city: str
    temp: int


def main(mode: str) -> dict[str, Any]:
    llm = ChatOpenAI(
        model="sonnet",
        base_url=os.environ["OPENAI_BASE_URL"],
        api_key=os.environ["OPENAI_API_KEY"],
        max_retries=0,
        timeout=60,
    )
    if mode == "invoke":
        message = llm.invoke("Say hello.")
        return {"content": message.content, "finish_reason": message.response_metadata.get("finish_reason")}
    if mode == "stream":
        return {"deltas": [chunk.content for chunk in llm.stream("Count to four.") if chunk.content]}
    if mode == "bind_tools":
        message = llm.bind_tools([get_weather, get_time]).invoke("Weather in Paris and the time in CET?")
        return {"content": message.content, "tool_calls": message.tool_calls}
    if mode == "structured":
        value = llm.with_structured_output(Weather, method="json_schema").invoke("Weather in Paris as JSON.")
        return {"type": type(value).__name__, "value": value.model_dump()}
    if mode == "agent":
        from langgraph.prebuilt import create_react_agent

        agent = create_react_agent(llm, [get_weather, get_time])
        state = agent.invoke({"messages": [("user", "Weather in Paris, then the time in CET?")]})
        messages = state["messages"]
        return {"final": messages[-1].content, "calls": CALLS, "kinds": [m.type for m in messages]}
    if mode == "too_long":
        from langchain_core.exceptions import ContextOverflowError

        try:
            llm.invoke(
                [("user", "Old question. " + "long words " * 4000), ("assistant", "Old answer."), ("user", "Go on.")]
            )
        except ContextOverflowError as error:  # what an application catches to shorten its history
            overflow = {"type": type(error).__name__, "message": str(error)}
        else:
            raise SystemExit("no ContextOverflowError")
        message = llm.invoke([("user", "Summary: an old question was answered."), ("user", "Go on.")])
        return {"overflow": overflow, "content": message.content}
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
