"""The MCP server, spoken to by the MCP SDK's own client over stdio: the real server subprocess
(`python -m aseancyberdocs mcp`), the real model, real documents of the reference corpus.
"""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from conftest import REPO
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from aseancyberdocs import open_index

pytestmark = [pytest.mark.model, pytest.mark.corpus]

NORM_QUERY = "states should not allow their territory to be used for wrongful ICT acts"
CRITICAL_INFRASTRUCTURE = (
    "Is there UN language telling States not to damage another country's critical infrastructure "
    "through ICT operations?"
)


def _server(index_dir) -> StdioServerParameters:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    env["HF_HUB_OFFLINE"] = "1"
    return StdioServerParameters(
        command=sys.executable, args=["-m", "aseancyberdocs", "mcp", "--index", str(index_dir)], env=env
    )


async def _session(index_dir) -> dict:
    """One stdio session: list the tools and call each; the raw results, keyed by what was asked."""
    results: dict = {}
    async with Client(_server(index_dir), read_timeout_seconds=300) as client:
        results["tools"] = (await client.list_tools()).tools
        results["search"] = await client.call_tool("search", {"query": NORM_QUERY, "k": 3})
        results["search_filtered"] = await client.call_tool(
            "search", {"query": "ransomware payments", "k": 2, "doc_type": "joint statement"}
        )
        results["ask"] = await client.call_tool("ask", {"question": CRITICAL_INFRASTRUCTURE})
        results["precedents"] = await client.call_tool("precedents", {"text": "A/C.1/80/L.20#para. 2"})
        results["get_passage"] = await client.call_tool("get_passage", {"passage_id": "A/RES/73/27#para. 1.3"})
        results["unknown_passage"] = await client.call_tool("get_passage", {"passage_id": "A/RES/73/27#para. 99"})
        results["no_match"] = await client.call_tool("search", {"query": "ransomware", "since": "2030-01-01"})
        results["k_zero"] = await client.call_tool("search", {"query": "ransomware", "k": 0})
    return results


@pytest.fixture(scope="module")
def session(adapter_index):
    return asyncio.run(_session(adapter_index))


@pytest.fixture(scope="module")
def library(adapter_index):
    return open_index(adapter_index)


def _verified(library, doc_id, start, end, quote):
    return library.documents[doc_id].text[start:end] == quote


def test_the_four_tools_are_listed_with_schemas_and_the_quoting_rule(session):
    tools = {tool.name: tool for tool in session["tools"]}
    assert set(tools) == {"search", "ask", "precedents", "get_passage"}
    for tool in tools.values():
        assert "word for word" in tool.description and "exactly as given" in tool.description
        assert tool.output_schema and tool.output_schema["type"] == "object"
        assert tool.annotations.read_only_hint is True
    assert tools["search"].input_schema["required"] == ["query"]
    assert tools["get_passage"].input_schema["required"] == ["passage_id"]


def test_search_returns_cited_verified_passages(session, library):
    result = session["search"]
    assert not result.is_error
    passages = result.structured_content["passages"]
    assert len(passages) == 3
    first = passages[0]
    assert first["citation"] == "A/RES/73/27, para. 1.3 (p. 3)"
    assert first["quote"].startswith("1.3. States should not knowingly allow their territory")
    assert first["source_url"] == "https://docs.un.org/en/A/RES/73/27"
    assert first["passage_id"] == "A/RES/73/27#para. 1.3"
    for passage in passages:
        assert passage["verified"] is True
        assert _verified(library, passage["doc_id"], passage["start"], passage["end"], passage["quote"])
    # The same content as text, for clients that read only that.
    assert "A/RES/73/27, para. 1.3 (p. 3)" in result.content[0].text


def test_search_filters(session):
    passages = session["search_filtered"].structured_content["passages"]
    assert passages and {p["doc_type"] for p in passages} == {"joint statement"}
    assert passages[0]["citation"].startswith("International Counter Ransomware Initiative 2023 Joint Statement (2023-11-01), para. ")


def test_ask_quotes_and_numbers_its_sources(session, library):
    result = session["ask"].structured_content
    assert result["answered"] is True
    first = result["sources"][0]
    assert first["citation"] == "A/RES/73/27, para. 1.6 (p. 4)"
    assert f"“{first['quote']}” [1]" in result["answer"]  # quoted word for word, then numbered
    for source in result["sources"]:
        assert f"[{source['n']}]" in result["answer"]
        assert _verified(library, source["doc_id"], source["start"], source["end"], source["quote"])


def test_precedents_finds_the_draft_first(session, library):
    occurrences = session["precedents"].structured_content["occurrences"]
    assert [(o["doc_id"], o["first"]) for o in occurrences] == [("A/C.1/80/L.20", True), ("A/RES/80/16", False)]
    assert occurrences[1]["citation"] == "A/RES/80/16, para. 2 (pp. 1–2)"
    for occurrence in occurrences:
        assert _verified(library, occurrence["doc_id"], *_offsets(library, occurrence["passage_id"]), occurrence["quote"])


def _offsets(library, passage_id):
    passage = next(p for p in library.passages if p.passage_id == passage_id)
    return passage.start, passage.end


def test_get_passage_by_id(session, library):
    passage = session["get_passage"].structured_content
    assert passage["citation"] == "A/RES/73/27, para. 1.3 (p. 3)"
    assert passage["label"] == "para. 1.3" and passage["pages"] == [3, 3]
    assert _verified(library, "A/RES/73/27", passage["start"], passage["end"], passage["quote"])


def test_errors_are_tool_errors_that_name_the_problem(session):
    unknown = session["unknown_passage"]
    assert unknown.is_error
    assert "no passage 'A/RES/73/27#para. 99'" in unknown.content[0].text
    no_match = session["no_match"]
    assert no_match.is_error and "no passage matches the filters" in no_match.content[0].text


def test_a_missing_index_is_one_error_line(tmp_path):
    import subprocess

    env = _server(tmp_path).env
    result = subprocess.run(
        [sys.executable, "-m", "aseancyberdocs", "mcp", "--index", str(tmp_path / "none")],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: no index at ") and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_arguments_out_of_range_are_refused_by_the_schema(session):
    tools = {tool.name: tool for tool in session["tools"]}
    k = tools["search"].input_schema["properties"]["k"]
    assert (k["minimum"], k["maximum"]) == (1, 50)
    assert session["k_zero"].is_error
