"""The LangChain retriever: LangChain's own standard retriever tests, then citations and options.

Runs with the real model over real documents of the reference corpus (conftest.adapter_index).
"""

from __future__ import annotations

import json

import pytest
from langchain_core.documents import Document as LangChainDocument
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests

from aseancyberdocs import NoMatchError, open_index
from aseancyberdocs.langchain import AseanCyberDocsRetriever

pytestmark = [pytest.mark.model, pytest.mark.corpus]

NORM_QUERY = "states should not allow their territory to be used for wrongful ICT acts"
METADATA_FIELDS = {
    "citation", "passage_id", "doc_id", "symbol", "title", "date", "doc_type", "label", "pages", "start", "end",
    "source", "source_url", "score", "rank", "also_in", "also_in_more",
}


@pytest.fixture(scope="module")
def library(adapter_index):
    return open_index(adapter_index)


class TestStandardRetriever(RetrieversIntegrationTests):
    """LangChain's published conformance tests for retrievers (langchain-tests)."""

    @pytest.fixture(autouse=True)
    def _library(self, library):
        self._opened = library

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return AseanCyberDocsRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        # An opened Library: the model loads once for the whole class.
        return {"index": self._opened, "k": 4}

    @property
    def retriever_query_example(self) -> str:
        return NORM_QUERY


def test_documents_quote_the_source_and_carry_the_citation(library):
    documents = AseanCyberDocsRetriever(index=library, k=3).invoke(NORM_QUERY)
    assert len(documents) == 3
    first = documents[0]
    assert isinstance(first, LangChainDocument)
    assert first.metadata["citation"] == "A/RES/73/27, para. 1.3 (p. 3)"
    assert (first.metadata["doc_id"], first.metadata["label"], first.metadata["pages"]) == ("A/RES/73/27", "para. 1.3", [3, 3])
    assert first.metadata["source_url"] == "https://docs.un.org/en/A/RES/73/27"
    assert first.id == "A/RES/73/27#para. 1.3"
    for document in documents:
        assert set(document.metadata) == METADATA_FIELDS
        meta = document.metadata
        source = library.documents[meta["doc_id"]]
        assert source.text[meta["start"] : meta["end"]] == document.page_content
        assert json.loads(json.dumps(document.metadata)) == document.metadata


def test_agreed_language_lists_the_other_places(library):
    documents = AseanCyberDocsRetriever(index=library, k=1).invoke(
        "Global Mechanism transition from the open-ended working group"
    )
    meta = documents[0].metadata
    assert meta["doc_id"] == "A/RES/80/16"
    assert [other["doc_id"] for other in meta["also_in"]] == ["A/C.1/80/L.20"]
    assert meta["also_in"][0]["citation"].startswith("A/C.1/80/L.20, para. ")


def test_filters_and_per_call_options(library):
    retriever = AseanCyberDocsRetriever(index=library, k=5, doc_type="joint statement")
    documents = retriever.invoke("ransomware payments")
    assert documents and {d.metadata["doc_type"] for d in documents} == {"joint statement"}
    assert documents[0].metadata["symbol"] is None
    assert documents[0].metadata["citation"].startswith("International Counter Ransomware Initiative 2023 Joint Statement (2023-11-01), para. ")
    bm25 = retriever.invoke("ransomware", k=2, mode="bm25", doc_type=None, doc="A/RES/73/27")
    assert len(bm25) <= 2 and {d.metadata["doc_id"] for d in bm25} <= {"A/RES/73/27"}
    with pytest.raises(ValueError, match="unknown search options"):
        retriever.invoke("ransomware", top_k=2)
    with pytest.raises(NoMatchError):
        retriever.invoke("ransomware", since="2030-01-01")


def test_a_folder_is_opened_on_first_use(adapter_index):
    retriever = AseanCyberDocsRetriever(index=str(adapter_index), k=1, mode="bm25")
    assert retriever.invoke("knowingly allow their territory")[0].metadata["label"] == "para. 1.3"


def test_bad_arguments_are_refused(library):
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        AseanCyberDocsRetriever(index=library, k=0)
    with pytest.raises(ValueError, match="index must be a folder or an opened Library"):
        AseanCyberDocsRetriever(index=42)
    with pytest.raises(ValueError, match="the query is empty"):
        AseanCyberDocsRetriever(index=library).invoke("   ")


def test_a_small_chain(library):
    """The README's chain: retrieve, then format the context with citations, no model needed."""
    from langchain_core.prompts import PromptTemplate
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    def cite(documents):
        return "\n".join(f"[{d.metadata['citation']}] {d.page_content}" for d in documents)

    prompt = PromptTemplate.from_template("Answer from these paragraphs, citing them:\n{context}\n\nQuestion: {question}")
    chain = {"context": AseanCyberDocsRetriever(index=library, k=2) | RunnableLambda(cite),
             "question": RunnablePassthrough()} | prompt
    text = chain.invoke(NORM_QUERY).to_string()
    assert "[A/RES/73/27, para. 1.3 (p. 3)] 1.3. States should not knowingly allow their territory" in text
