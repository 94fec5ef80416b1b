"""The stand-in's /v1/messages as Ollama's Anthropic layer serves it, read by the real Claude Code CLI."""

import json

import httpx

from claude_cli import clean_environment, run_claude
from fake_ollama import FakeModel, text, tool_use


def sse_events(response: httpx.Response) -> list[tuple[str, dict]]:
    events = []
    for chunk in response.text.split("\n\n"):
        if chunk:
            name, data = chunk.split("\n")
            events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


def test_streamed_reply_has_ollamas_event_sequence(fake_ollama):
    fake_ollama.add(FakeModel("dev:latest", script=[[text("Reading it now."), tool_use("Read", {"file_path": "/a"})]]))
    body = {"model": "dev", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "read /a"}]}

    response = httpx.post(fake_ollama.url + "/v1/messages?beta=true", json=body)

    assert response.headers["content-type"] == "text/event-stream"
    events = sse_events(response)
    names = [name for name, _ in events]
    assert names == ["message_start", "content_block_start", "content_block_delta", "content_block_delta",
                     "content_block_delta", "content_block_stop", "content_block_start", "content_block_delta",
                     "content_block_stop", "message_delta", "message_stop"]
    assert all(data["type"] == name for name, data in events)
    assert events[0][1]["message"]["model"] == "dev" and events[0][1]["message"]["content"] == []
    assert "".join(d["delta"]["text"] for n, d in events if d.get("delta", {}).get("type") == "text_delta") == "Reading it now."
    tool_start = events[6][1]["content_block"]
    assert tool_start["type"] == "tool_use" and tool_start["name"] == "Read" and tool_start["input"] == {}
    assert tool_start["id"].startswith("call_")
    assert json.loads(events[7][1]["delta"]["partial_json"]) == {"file_path": "/a"}
    assert events[9][1]["delta"] == {"stop_reason": "tool_use"}
    assert fake_ollama.messages_requests()[0]["model"] == "dev"


def test_script_entries_answer_in_order_then_the_tool_behaviour(fake_ollama):
    seen = []
    fake_ollama.add(FakeModel("dev:latest", tool_behaviour="no-tool-call",
                              script=[[text("first")], lambda body: seen.append(body) or [text("second")]]))
    body = {"model": "dev", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    replies = [httpx.post(fake_ollama.url + "/v1/messages", json=body).json() for _ in range(3)]
    assert [r["content"][0]["text"] for r in replies[:2]] == ["first", "second"]
    assert replies[2]["content"][0]["text"].startswith("I would read the file")
    assert [r["stop_reason"] for r in replies] == ["end_turn"] * 3
    assert seen == [body]


def test_unknown_model_and_count_tokens_answer_as_ollama_does(fake_ollama):
    body = {"model": "claude-fable-5-2", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    missing = httpx.post(fake_ollama.url + "/v1/messages", json=body)
    assert missing.status_code == 404
    assert missing.json()["error"] == {"type": "not_found_error", "message": "model 'claude-fable-5-2' not found"}
    count = httpx.post(fake_ollama.url + "/v1/messages/count_tokens?beta=true", json=body)
    assert (count.status_code, count.text) == (404, "404 page not found")


def test_real_claude_code_reads_streamed_text_and_tool_calls(fake_ollama, tmp_path):
    """Claude Code 2.1.332 runs a scripted tool call and sends its result back; its final text reaches stdout."""
    notes = tmp_path / "notes.txt"
    notes.write_text("the answer is 42\n")
    fake_ollama.version = "0.33.0"
    fake_ollama.add(FakeModel("dev-64k:latest", script=[[text("Let me look."), tool_use("Read", {"file_path": str(notes)})],
                                                        [text("The notes say 42.")]]))
    env = clean_environment(tmp_path, ANTHROPIC_BASE_URL=fake_ollama.url, ANTHROPIC_AUTH_TOKEN="ollama", ANTHROPIC_API_KEY="")

    run = run_claude(["-p", "what do the notes say?", "--model", "dev-64k"], env, tmp_path)

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "The notes say 42."
    first, second = fake_ollama.messages_requests()
    assert first["stream"] is True and first["model"] == second["model"] == "dev-64k"
    result = next(block for block in second["messages"][-1]["content"] if block.get("type") == "tool_result")
    assert "the answer is 42" in json.dumps(result)
