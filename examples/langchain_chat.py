"""Claude Gateway from LangChain's ChatOpenAI (`pip install langchain-openai`).

    python examples/langchain_chat.py

Shows invoke, stream, and a short multi-turn conversation built from message objects.

Environment:
    GATEWAY_URL      base URL including /v1   (default http://127.0.0.1:8000/v1)
    GATEWAY_API_KEY  a key from GATEWAY_API_KEYS; any string if the gateway has no keys
                     (default "not-needed")
    GATEWAY_MODEL    sonnet, opus, haiku, a claude-... id or a configured alias (default sonnet)

Note: ChatOpenAI keeps to OpenAI's own schema, so Claude's thinking (`reasoning_content`) is
not passed through; use the openai client (openai_python.py) if you need it.
"""

from __future__ import annotations

import os

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

llm = ChatOpenAI(
    base_url=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000/v1"),
    api_key=os.environ.get("GATEWAY_API_KEY", "not-needed"),
    model=os.environ.get("GATEWAY_MODEL", "sonnet"),
    stream_usage=True,  # off by default for non-OpenAI URLs; the gateway supports it
)


def invoke() -> None:
    print("== invoke ==")
    reply = llm.invoke("Name three primary colours.")
    print(reply.content)
    print(f"usage={reply.usage_metadata} finish_reason={reply.response_metadata.get('finish_reason')}")


def stream() -> None:
    print("\n== stream ==")
    usage = None
    for chunk in llm.stream("Count from 1 to 5."):
        print(chunk.content, end="", flush=True)
        usage = chunk.usage_metadata or usage
    print(f"\nusage={usage}")


def multi_turn() -> None:
    print("\n== multi-turn ==")
    # Stateless like OpenAI: the whole conversation goes with every call.
    messages = [
        SystemMessage("You are a helpful assistant."),
        HumanMessage("My name is Ada. Remember it."),
    ]
    first = llm.invoke(messages)
    print(f"assistant: {first.content}")
    messages += [AIMessage(first.content), HumanMessage("What is my name?")]
    second = llm.invoke(messages)
    print(f"assistant: {second.content}")


if __name__ == "__main__":
    invoke()
    stream()
    multi_turn()
