"""The web app: server-rendered pages and a JSON API over one opened index.

The index and the embedding model are loaded once, when the app is made; every request reads
them and nothing else. Only GET (and HEAD) is routed: the app is read-only. No request path
reaches the file system except the bundled static files, which Starlette keeps inside their
folder.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .. import __version__
from ..errors import AseanCyberDocsError, NoMatchError
from ..types import Document, Passage
from .render import (
    anchor,
    diff_markup,
    document_blocks,
    mark,
    passage_anchors,
    query_terms,
    timeline_svg,
)

if TYPE_CHECKING:
    from ..index import Library

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
MAX_QUERY_CHARS = 2_000
"""Longest query or question accepted (characters); longer ones get 422."""
MAX_TEXT_CHARS = 10_000
"""Longest text accepted by precedents: a long paragraph fits, a whole document does not."""
MAX_K = 50
"""Most hits one search may ask for."""
MAX_ASK_K = 20
"""Most passages one question may draw sentences from."""
MODES = ("hybrid", "dense", "bm25")

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_MARKER = re.compile(r"\[(\d+)\]")


# Query parameters, with the limits FastAPI checks and the OpenAPI description shows.
QueryText = Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="free-text query")]
KArg = Annotated[int, Query(ge=1, le=MAX_K, description="number of hits")]
Mode = Annotated[str, Query(pattern="^(hybrid|dense|bm25)$")]
Types = Annotated[list[str] | None, Query(alias="type", max_length=20, description="document type (repeatable)")]
Docs = Annotated[list[str] | None, Query(max_length=50, description="document id or symbol (repeatable)")]
Short = Annotated[str | None, Query(max_length=200)]
Day = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")]


class ApiError(Exception):
    """A request the app refuses: ``status`` and a message naming the value."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


class SecurityHeaders:
    """ASGI middleware adding the Content Security Policy and friends to every response."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Site:
    """What the handlers share: the library, lookups made once, and a lock around the model.

    The lock serialises calls into the library: the query encoder and the lazily built caches
    of the library are not documented as thread-safe, and on a CPU the model gains nothing from
    running two queries at once. The calls stay on the server's worker threads: handing them to
    one dedicated thread instead kept the server's memory flat under load (+10-25 MB against
    +190-230 MB) but served fewer requests (0.2-12 against 11-31 requests/s; benchmarks/load.py,
    32 clients, alternating runs on the same shared 2-core machine).
    """

    def __init__(self, library: Library) -> None:
        self.library = library
        self.lock = threading.Lock()
        self.by_symbol = {(doc.symbol or "").casefold(): doc for doc in library.documents.values() if doc.symbol}
        documents = library.documents.values()
        self.doc_types = sorted({doc.doc_type for doc in documents if doc.doc_type})
        self.bodies = sorted({doc.body for doc in documents if doc.body})
        self.doc_ids = sorted(library.documents)
        self._anchors: dict[str, dict[str, str]] = {}

    def passages_of(self, doc_id: str) -> list[Passage]:
        """The passages of ``doc_id`` in row order, read by row (none for an unknown document)."""
        return [self.library.passages[int(row)] for row in self.library.passage_rows_of(doc_id)]

    def warm_up(self) -> None:
        """Load the model, FAISS and the shingle index now, not on the first request."""
        with self.lock:
            self.library.search("norms of responsible State behaviour", k=1)
            if self.library.passages:
                self.library.precedents(self.library.passages[0].passage_id)

    def find_document(self, doc_id: str) -> Document:
        document = self.library.documents.get(doc_id) or self.by_symbol.get(doc_id.casefold())
        if document is None:
            raise ApiError(404, f"no document {doc_id!r} in this index")
        return document

    def anchor(self, doc_id: str, passage_id: str) -> str:
        anchors = self._anchors.get(doc_id)
        if anchors is None:
            anchors = passage_anchors(self.library.documents[doc_id], self.passages_of(doc_id))
            self._anchors[doc_id] = anchors
        return anchors.get(passage_id, "")

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a library call under the lock; bad values become 400, library errors 500."""
        try:
            with self.lock:
                return function(*args, **kwargs)
        except NoMatchError as exc:
            raise ApiError(400, str(exc)) from exc
        except AseanCyberDocsError as exc:
            logger.error("library error: %s", exc)
            raise ApiError(500, str(exc)) from exc
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0]) if exc.args else "not found") from exc
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc


def doc_url(doc_id: str, anchor: str = "") -> str:
    """The document page of ``doc_id``, at the paragraph ``anchor`` (highlighted) when given."""
    url = "/doc/" + quote(doc_id, safe="/")
    return f"{url}?hl={quote(anchor)}#{quote(anchor)}" if anchor else url


def precedents_url(passage_id: str) -> str:
    return "/precedents?id=" + quote(passage_id, safe="")


def _checked_query(text: str, name: str = "q") -> str:
    if not text.strip():
        raise ApiError(400, f"the {'question' if name == 'question' else 'query'} is empty: {text!r}")
    return text


def create_app(library: Library, *, allowed_hosts: list[str] | None = None, warm_up: bool = True) -> FastAPI:
    """The web app over ``library``: pages at ``/``, the JSON API under ``/api``.

    Args:
        library: an opened index (``open_index``).
        allowed_hosts: Host headers accepted (DNS-rebinding guard); None accepts any.
        warm_up: load the model and caches now rather than on the first request.

    Returns:
        A FastAPI (ASGI) app, to run with uvicorn.

    Example:
        >>> app = create_app(open_index("indexes/default"))  # doctest: +SKIP
        >>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    site = Site(library)
    if warm_up:
        site.warm_up()
    app = FastAPI(
        title="aseancyberdocs",
        version=__version__,
        description="Search cyber-diplomacy texts and cite them to the paragraph. Read-only; the fields "
        "mirror the command line's --json output.",
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN: only the JSON description is served
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.site = site
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    environment.globals.update(
        doc_url=doc_url, precedents_url=precedents_url, anchor=anchor, version=__version__, site=site,
        modes=MODES, max_query=MAX_QUERY_CHARS, max_text=MAX_TEXT_CHARS,
    )
    templates = Jinja2Templates(env=environment)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def refuse(request: Request, status: int, message: str) -> Response:
        if is_api(request):
            return JSONResponse({"error": message, "status": status}, status_code=status)
        return page(request, "error.html", status=status, status_code=status, message=message)

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> Response:
        return refuse(request, exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error.get("loc", ())[1:]) or "request"
            problems.append(f"{where}: {error.get('msg', 'invalid value')}")
        return refuse(request, 422, "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: f"nothing at {request.url.path}", 405: f"{request.method} is not allowed: the app is read-only"}
        response = refuse(request, exc.status_code, messages.get(exc.status_code, str(exc.detail)))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unexpected error on %s", request.url.path)
        return refuse(request, 500, "internal error (see the server log)")

    # ---------------------------------------------------------------------------------------
    # JSON API

    def run_search(q: str, k: int, mode: str, group: bool, types: list[str] | None, body: str | None,
                   since: str | None, until: str | None, docs: list[str] | None) -> list[Any]:
        _checked_query(q)
        return site.call(
            library.search, q, k=k, mode=mode, group=group, doc_type=[t for t in types or () if t] or None,
            body=body or None, since=since or None, until=until or None, doc=[d for d in docs or () if d] or None,
        )

    @app.get("/api/search", tags=["api"], summary="Passages closest to a query, with citations")
    def api_search(q: QueryText, k: KArg = 10, mode: Mode = "hybrid", group: bool = True, types: Types = None,
                   body: Short = None, since: Day = None, until: Day = None, doc: Docs = None) -> dict[str, Any]:
        """Hits as `aseancyberdocs search --json` prints them, best first."""
        hits = run_search(q, k, mode, group, types, body, since, until, doc)
        return {"query": q, "mode": mode, "k": k, "hits": [{**hit.to_dict(), "mode": mode} for hit in hits]}

    @app.get("/api/ask", tags=["api"], summary="An answer made of quoted, verified sentences")
    def api_ask(q: QueryText, k: Annotated[int, Query(ge=1, le=MAX_ASK_K)] = 8) -> dict[str, Any]:
        """The answer as `aseancyberdocs ask --json` prints it; `answered` is false when nothing is close enough."""
        _checked_query(q, "question")
        return site.call(library.ask, q, k=k).to_dict()

    @app.get("/api/precedents", tags=["api"], summary="Where a piece of language appeared, earliest first")
    def api_precedents(
        text: Annotated[str, Query(max_length=MAX_TEXT_CHARS, description="phrase, paragraph or passage id")],
        as_of: Day = None,
    ) -> dict[str, Any]:
        """Occurrences as `aseancyberdocs precedents --json` prints them."""
        _checked_query(text)
        found = site.call(library.precedents, text, as_of=as_of or None)
        return {"text": text, "as_of": as_of, "precedents": [item.to_dict() for item in found]}

    @app.get("/api/documents", tags=["api"], summary="The documents of the index, without their text")
    def api_documents() -> dict[str, Any]:
        return {"documents": [
            {**_document_fields(library.documents[doc_id]), "passages": len(library.passage_rows_of(doc_id))}
            for doc_id in site.doc_ids
        ]}

    @app.get("/api/documents/{doc_id:path}", tags=["api"], summary="One document: clean text, pages, passages")
    def api_document(doc_id: Annotated[str, PathParam(max_length=300)]) -> dict[str, Any]:
        document = site.find_document(doc_id)
        rows = [int(row) for row in library.passage_rows_of(document.doc_id)]
        return {
            **_document_fields(document),
            "text": document.text,
            "pages": [{"number": p.number, "label": p.label, "start": p.start, "end": p.end} for p in document.pages],
            "passages": [
                {**passage.to_dict(), "citation": library.citation(row).formatted,
                 "anchor": site.anchor(document.doc_id, passage.passage_id)}
                for row, passage in ((row, library.passages[row]) for row in rows)
            ],
        }

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/api/info", tags=["api"], summary="What the index holds and how it was built")
    def api_info() -> dict[str, Any]:
        return library.info()

    # ---------------------------------------------------------------------------------------
    # pages

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request, q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)] = "", k: KArg = 10,
                    mode: Mode = "hybrid", types: Types = None, body: Short = None, since: Day = None,
                    until: Day = None, doc: Docs = None) -> Response:
        form = {"q": q, "k": k, "mode": mode, "type": (types or [""])[0], "body": body or "",
                "since": since or "", "until": until or "", "doc": (doc or [""])[0]}
        hits: list[Any] = []
        message = ""
        if q.strip():
            try:
                hits = run_search(q, k, mode, True, types, body, since, until, doc)
            except ApiError as exc:
                if exc.status != 400:
                    raise
                message = exc.message
        terms = query_terms(q)
        cards = [
            {"hit": hit, "text": mark(hit.passage.text, terms),
             "anchor": site.anchor(hit.passage.doc_id, hit.passage.passage_id)}
            for hit in hits
        ]
        return page(request, "search.html", form=form, cards=cards, message=message, searched=bool(q.strip()))

    @app.get("/doc/{doc_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def document_page(request: Request, doc_id: str, hl: Annotated[str, Query(max_length=200)] = "") -> Response:
        document = site.find_document(doc_id)
        blocks = document_blocks(document, site.passages_of(document.doc_id))
        return page(request, "document.html", document=document, blocks=blocks, highlight=hl)

    @app.get("/precedents", response_class=HTMLResponse, include_in_schema=False)
    def precedents_page(request: Request, text: Annotated[str, Query(max_length=MAX_TEXT_CHARS)] = "",
                        id: Annotated[str, Query(max_length=300)] = "", as_of: Day = None) -> Response:
        source = id.strip() or text
        found: list[Any] = []
        message = ""
        origin = None
        if source.strip():
            try:
                found = site.call(library.precedents, source, as_of=as_of or None)
            except ApiError as exc:
                if exc.status != 400:
                    raise
                message = exc.message
            if id.strip():
                origin = next((p for p in site.passages_of(id.split("#")[0]) if p.passage_id == id.strip()), None)
                if origin is None:
                    message = message or f"no passage {id.strip()!r} in this index: its id was read as text"
        rows = [
            {"item": item, "diff": diff_markup(item), "anchor": site.anchor(item.passage.doc_id, item.passage.passage_id)}
            for item in found
        ]
        return page(request, "precedents.html", text=text if not id.strip() else "", passage_id=id.strip(),
                    origin=origin, as_of=as_of or "", rows=rows, svg=timeline_svg(found) if found else "",
                    message=message)

    @app.get("/ask", response_class=HTMLResponse, include_in_schema=False)
    def ask_page(request: Request, q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)] = "") -> Response:
        answer = None
        text: list[Markup] = []  # one paragraph of the brief for each place quoted
        if q.strip():
            answer = site.call(library.ask, q)
            text = [
                Markup(_MARKER.sub(r'<a class="marker" href="#quote-\1">[\1]</a>', str(escape(part))))
                for part in answer.paragraphs
            ]
        anchors = {
            citation.n: site.anchor(citation.doc_id, _passage_at(site, citation.doc_id, citation.start))
            for citation in (answer.citations if answer else ())
        }
        return page(request, "ask.html", q=q, answer=answer, text=text, anchors=anchors)

    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or ["*"])
    app.add_middleware(SecurityHeaders)
    return app


def _passage_at(site: Site, doc_id: str, offset: int) -> str:
    """The id of the passage of ``doc_id`` holding character ``offset`` (where a quote stands)."""
    for passage in site.passages_of(doc_id):
        if passage.start <= offset < passage.end:
            return passage.passage_id
    return ""


def _document_fields(document: Document) -> dict[str, Any]:
    return {
        "doc_id": document.doc_id, "symbol": document.symbol, "title": document.title, "date": document.date,
        "doc_type": document.doc_type, "body": document.body, "source_url": document.source_url,
        "source": document.source, "sha256": document.sha256,
    }


def run(library: Library, host: str = "127.0.0.1", port: int = 8000, *, log_level: str = "info") -> None:
    """Serve the app over ``library`` with uvicorn until interrupted.

    Only the host asked for is accepted in the Host header, with the loopback names, so a web
    page elsewhere cannot reach the app through DNS rebinding; a wildcard address (0.0.0.0, ::)
    accepts any.

    Example:
        >>> run(open_index(), port=8000)  # doctest: +SKIP
    """
    import uvicorn

    hosts = None if host in ("0.0.0.0", "::", "") else sorted({host, "127.0.0.1", "localhost", "[::1]"})
    app = create_app(library, allowed_hosts=hosts)
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False, access_log=False)
