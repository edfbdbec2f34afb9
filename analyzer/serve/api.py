"""The HTTP API (FastAPI): ``create_api(store_uri, trust_root)``.

Every ``/v1`` call carries ``Authorization: Bearer bwt_…``, a token a role-admin issued in the ledger
(``blastwall token issue``) with the scope the call needs; the answer to anything else is 401 (no or a
bad token), 403 (a token without that scope) or 503 (the ledger does not verify: nobody is admitted).
Every call is written to ``api-calls.jsonl`` beside the ledger; gate answers and executions are signed
into the ledger by the recorder, naming the identity that asked."""

# no ``from __future__ import annotations``: FastAPI reads the endpoints' annotations at run time, and
# their dependencies are made inside ``create_api``
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from analyzer import __version__
from analyzer.errors import BadInput, BlastwallError
from analyzer.governance.ledger import Ledger
from analyzer.governance.tokens import Caller, Unauthorized
from analyzer.governance.trust_root import TrustRoot
from analyzer.graph.store import open_store
from analyzer.serve import calls
from analyzer.serve.governed import Governed, Unavailable
from analyzer.serve.scorer import DONE, FAILED, Scorer
from analyzer.timeutil import now, parse_time

MAX_BODY = 10 * 1024 * 1024
"""The largest proposal document accepted in one request (a Security Hub batch import holds at most 100
findings of at most 240 KB each: 24 MB; split larger batches)."""

_bearer = HTTPBearer(auto_error=False, description="An API token: bwt_<id>_<secret> (blastwall token issue)")


class Submitted(BaseModel):
    proposal_id: str
    status: Literal["queued", "scoring", "scored", "failed"]
    url: str = Field(description="Where the scored result is (GET).")
    tier: str | None = None
    risk_score: int | None = None
    verdict: str | None = None
    error: str | None = None
    change_request: str | None = Field(default=None, description="Where the approvers decide (its URL).")


class Submission(BaseModel):
    imported: list[str]
    unchanged: list[str]
    skipped: dict[str, int] = Field(description="Findings read and not proposed, by reason.")
    errors: list[str] = Field(description="What could not be used, with where (the rest was imported).")
    proposals: list[Submitted]


class Pending(BaseModel):
    proposal_id: str
    status: Literal["queued", "scoring"]
    url: str


class GateAnswer(BaseModel):
    proposal_id: str
    allowed: bool
    tier: str | None
    reason: str
    differences: list[str]


class Refusal(BaseModel):
    target: str
    proposal_id: str
    reason: str


class PolicyGate(BaseModel):
    policy: str
    allowed: list[str] = Field(
        description="The resources the policy may act on now: each target, and its id as Custodian names "
        "it (a bucket's name, a role's ARN, a group's id)."
    )
    refused: list[Refusal]


class ExecutionReport(BaseModel):
    outcome: Literal["applied", "failed", "rolled-back"]
    at: str | None = Field(default=None, description="When it ran (ISO 8601; default: now).")
    detail: str = Field(default="", max_length=4096, description="Run id, ticket, error.")


class Execution(BaseModel):
    proposal_id: str
    outcome: str
    executed_at: str
    reported_by: str
    detail: str


class Problem(BaseModel):
    detail: str


def create_api(
    store_uri: str,
    trust_root: TrustRoot,
    *,
    as_of: str | None = None,
    score_wait: float = 1.0,
    ledger: Ledger | None = None,
    reverify_every: float = 300.0,
    file_with: str | None = None,
    link_base: str | None = None,
) -> FastAPI:
    """The API over the store at ``store_uri``. Scoring starts warming the analysis context when the app
    starts (``/readyz`` says when it is ready)."""
    from analyzer import api as library
    from analyzer.governance.ledger import ledger_path_for

    held = ledger or Ledger(ledger_path_for(store_uri))
    governed = Governed(held, trust_root, reverify_every)

    def file_change_requests(s: Any, results: list[dict[str, Any]]) -> None:
        """``--change-requests``: a request where the approvers work, for each result that needs one."""
        from analyzer.change_requests import open_request, system

        human = [r for r in results if r.get("status") != "error" and r.get("tier") in ("approval", "cab")]
        if not human or file_with is None:
            return
        ticketing = system(file_with)
        try:
            acceptances = governed.acceptances()
            policy = library.current_policy(s)
            for r in human:
                try:
                    open_request(
                        s,
                        r["proposal_id"],
                        ticketing,
                        policy=policy,
                        acceptances=acceptances,
                        opened_by="blastwall serve",
                        link_base=link_base,
                    )
                except BlastwallError as exc:
                    log.write(
                        {
                            "event": "change request not filed",
                            "proposal_id": r["proposal_id"],
                            "why": str(exc),
                        }
                    )
        finally:
            ticketing.close()

    scorer = Scorer(store_uri, as_of, file_change_requests if file_with else None)
    log = calls.CallLog(held.path.with_name("api-calls.jsonl"))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        scorer.start()
        governed.start()
        try:
            yield
        finally:
            governed.stop()
            scorer.stop()
            log.close()

    app = FastAPI(
        lifespan=lifespan,
        docs_url=None,  # the browsable pages load their scripts from a CDN: the document is /openapi.json
        redoc_url=None,
        title="Blastwall",
        version=__version__,
        summary="What a remediation will break, who depends on it, and who must authorize it.",
        responses={401: {"model": Problem}, 403: {"model": Problem}, 503: {"model": Problem}},
    )
    app.state.scorer, app.state.governed, app.state.calls = scorer, governed, log

    @app.middleware("http")
    async def _record(request: Request, call_next: Any) -> Any:
        t = time.perf_counter()
        response = await call_next(request)
        who: Caller | None = getattr(request.state, "caller", None)
        log.write(
            {
                "method": request.method,
                "path": request.url.path,
                "status": response.status_code,
                "ms": round((time.perf_counter() - t) * 1000, 2),
                "identity": who.name if who else None,
                "token_id": who.token_id if who else None,
                "client": request.client.host if request.client else None,
            }
        )
        return response

    def admitted(scope: str) -> Any:
        def check(
            request: Request, cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
        ) -> Caller:
            try:
                who = governed.caller(cred.credentials if cred else None, now())
            except Unauthorized as exc:
                raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc
            except Unavailable as exc:
                raise HTTPException(503, str(exc)) from exc
            request.state.caller = who
            if scope not in who.scopes:
                raise HTTPException(
                    403, f"token {who.token_id} ({who.name}) does not have the {scope!r} scope"
                )
            return who

        return Depends(check)

    def store() -> Any:
        s = open_store(store_uri)
        try:
            yield s
        finally:
            s.close()

    Store = Annotated[Any, Depends(store)]

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, str]:
        """The process answers (no authentication; says nothing about the store)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"], responses={503: {"model": Problem}})
    def readyz() -> JSONResponse:
        """Ready when the analysis context is warm and the ledger verifies against the trust root."""
        if not scorer.ready.is_set():
            return JSONResponse({"ready": False, "detail": "warming the analysis context"}, status_code=503)
        if scorer.problem:
            return JSONResponse({"ready": False, "detail": scorer.problem}, status_code=503)
        try:
            records = governed.records()
        except Unavailable as exc:
            return JSONResponse({"ready": False, "detail": str(exc)}, status_code=503)
        ready: dict[str, Any] = {"ready": True, "ledger_records": records}
        if scorer.after_problem:
            ready["change_requests_problem"] = scorer.after_problem
        return JSONResponse(ready)

    def _submitted(s: Any, pid: str) -> Submitted:
        state, why = scorer.state(pid)
        url = f"/v1/proposals/{pid}"
        if state in (DONE, None):
            r = s.get_document(library.RESULTS, pid)
            if r is not None:
                from analyzer.scoring.verdict import verdict

                return Submitted(
                    proposal_id=pid,
                    status="failed" if r.get("status") == "error" else "scored",
                    url=url,
                    tier=r.get("tier"),
                    risk_score=r.get("risk_score"),
                    verdict=r.get("summary") or verdict(r),
                    error=r.get("error"),
                    change_request=(s.get_document("change_requests", pid) or {}).get("url"),
                )
        if state == FAILED:
            return Submitted(proposal_id=pid, status="failed", url=url, error=why)
        return Submitted(proposal_id=pid, status="scoring" if state == "scoring" else "queued", url=url)

    @app.post(
        "/v1/proposals",
        tags=["proposals"],
        status_code=201,
        response_model=Submission,
        responses={202: {"model": Submission}, 400: {"model": Problem}, 413: {"model": Problem}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "A findings document as the tool wrote it (format detected from content).",
                "content": {
                    "application/json": {"schema": {"type": ["object", "array"]}},
                    "application/yaml": {"schema": {"type": "object"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def submit(
        request: Request, response: Response, who: Annotated[Caller, admitted("propose")]
    ) -> Any:
        """Submit proposed remediations in any format ``blastwall propose`` reads (ASFF, an EventBridge
        event carrying Security Hub findings, OCSF, Prowler, Custodian, Config, Access Analyzer, a
        Terraform plan, Blastwall YAML, Prowler's CSV), as the request body. They are imported with the
        caller as their requester and scored; scored within the server's wait (1 s) the answer is 201
        with each verdict, else 202 and each proposal's URL to ask again."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            raise HTTPException(413, f"the body is {declared} bytes; at most {MAX_BODY} are accepted")
        chunks, size = [], 0
        async for chunk in request.stream():  # read no more than the bound, whatever the header said
            size += len(chunk)
            if size > MAX_BODY:
                raise HTTPException(413, f"the body is over {MAX_BODY} bytes, the most accepted")
            chunks.append(chunk)
        raw = b"".join(chunks)
        kind = request.headers.get("content-type", "")
        return await run_in_threadpool(_import_and_score, raw, kind, who, response)

    def _import_and_score(raw: bytes, kind: str, who: Caller, response: Response) -> Submission:
        from connectors.proposals import import_documents, parse_body

        s = open_store(store_uri)
        try:
            try:
                doc = parse_body(raw, kind, "request body")
                rep = import_documents(s, [("request body", doc)], requester=who.name)
            except BadInput as exc:
                raise HTTPException(400, str(exc)) from exc
            ids = rep.imported + rep.unchanged
            if not ids and rep.errors:
                raise HTTPException(400, "; ".join(rep.errors))
            todo = rep.imported + [p for p in rep.unchanged if s.get_document(library.RESULTS, p) is None]
            if todo:
                scorer.submit(todo)
                scorer.wait(todo, score_wait)
            out = [_submitted(s, pid) for pid in ids]
        finally:
            s.close()
        if any(p.status in ("queued", "scoring") for p in out):
            response.status_code = 202
            if len(out) == 1:
                response.headers["Location"] = out[0].url
        return Submission(
            imported=rep.imported,
            unchanged=rep.unchanged,
            skipped=rep.skipped,
            errors=rep.errors,
            proposals=out,
        )

    @app.get(
        "/v1/proposals/{proposal_id}",
        tags=["proposals"],
        responses={
            200: {"description": "The scored result (the schema of `blastwall score --format json`)."},
            202: {"model": Pending},
            404: {"model": Problem},
        },
    )
    def result(proposal_id: str, s: Store, who: Annotated[Caller, admitted("read")]) -> Any:
        """The scored result: the same object ``blastwall score --format json`` lists (schema
        ``score-result.v1.json`` in the package); 202 while it is queued or scoring here."""
        state, _ = scorer.state(proposal_id)
        if state in ("queued", "scoring"):
            pending = Pending(
                proposal_id=proposal_id,
                status="scoring" if state == "scoring" else "queued",
                url=f"/v1/proposals/{proposal_id}",
            )
            return JSONResponse(pending.model_dump(), status_code=202, headers={"Retry-After": "1"})
        r = s.get_document(library.RESULTS, proposal_id)
        if r is None:
            known = s.get_document(library.PROPOSALS, proposal_id) is not None
            raise HTTPException(
                404,
                f"{proposal_id} is imported but has not been scored"
                if known
                else f"no proposal {proposal_id} in this store",
            )
        return r

    @app.post(
        "/v1/gate/{proposal_id}",
        tags=["gate"],
        response_model=GateAnswer,
        responses={404: {"model": Problem}, 409: {"model": Problem}},
    )
    def ask_gate(proposal_id: str, s: Store, who: Annotated[Caller, admitted("gate")]) -> GateAnswer:
        """May this change run now? The answer the ``blastwall gate`` command gives (approved and unchanged
        since, or auto under a live risk acceptance), from the ledger verified against the trust root,
        recorded in the ledger with who asked. ``allowed: false`` is an answer, not an error."""
        if s.get_document(library.PROPOSALS, proposal_id) is None:
            raise HTTPException(404, f"no proposal {proposal_id} in this store")
        if s.get_document(library.RESULTS, proposal_id) is None:
            raise HTTPException(409, f"{proposal_id} has not been scored: the gate cannot answer yet")
        v = governed.gate(s, proposal_id, library.current_policy(s), who.name)
        return GateAnswer(
            proposal_id=proposal_id,
            allowed=v.allowed,
            tier=v.tier,
            reason=v.reason,
            differences=list(v.differences),
        )

    @app.get("/v1/gate/custodian/{policy}", tags=["gate"], response_model=PolicyGate)
    def custodian_gate(
        policy: str, s: Store, who: Annotated[Caller, admitted("gate")], account: str | None = None
    ) -> PolicyGate:
        """The gate for every open proposal a Cloud Custodian policy made (in ``account``), for the policy's
        own filter: a ``value`` filter whose ``value_from`` is this URL keeps only what may run now (see
        docs/serve.md). Each answer is recorded in the ledger like ``POST /v1/gate/{id}``'s; it is a GET
        because ``value_from`` can only GET."""
        allowed: set[str] = set()
        refused = []
        for p in sorted(s.get_documents(library.PROPOSALS).values(), key=lambda p: p["proposal_id"]):
            src, change = p.get("source") or {}, p.get("change") or {}
            if src.get("format") != "custodian" or src.get("generator") != policy:
                continue
            if p.get("status", "open") != "open" or (account and change.get("account") != account):
                continue
            target, pid = str(change.get("target") or ""), p["proposal_id"]
            if s.get_document(library.RESULTS, pid) is None:
                refused.append(Refusal(target=target, proposal_id=pid, reason="not scored yet"))
                continue
            v = governed.gate(s, pid, library.current_policy(s), who.name)
            if v.allowed:
                allowed |= {target, _custodian_id(target)}
            else:
                refused.append(Refusal(target=target, proposal_id=pid, reason=v.reason))
        return PolicyGate(policy=policy, allowed=sorted(allowed), refused=refused)

    @app.post(
        "/v1/executions/{proposal_id}",
        tags=["gate"],
        status_code=201,
        response_model=Execution,
        responses={400: {"model": Problem}, 404: {"model": Problem}},
    )
    def report_execution(
        proposal_id: str, report: ExecutionReport, s: Store, who: Annotated[Caller, admitted("gate")]
    ) -> Execution:
        """What the remediation tool did with the proposal, recorded in the ledger as reported by the
        caller's identity (its claim: it carries no authority; review compares it with what broke)."""
        if s.get_document(library.RESULTS, proposal_id) is None:
            raise HTTPException(404, f"no scored proposal {proposal_id} in this store")
        try:
            at = parse_time(report.at, field="at") if report.at else now()
            body = governed.execution(
                s, proposal_id, outcome=report.outcome, at=at, reported_by=who.name, detail=report.detail
            )
        except BadInput as exc:
            raise HTTPException(400, str(exc)) from exc
        return Execution(**body)

    @app.exception_handler(BlastwallError)
    async def _blastwall_error(request: Request, exc: BlastwallError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400 if isinstance(exc, BadInput) else 500)

    return app


def _custodian_id(target: str) -> str:
    """How Custodian's resource names a target: a bucket by its name, a role or user by its ARN, an EC2
    resource by its id."""
    if target.startswith("arn:aws:s3:::"):
        return target.removeprefix("arn:aws:s3:::")
    return target


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the API (shipped as docs/openapi.json; ``blastwall serve --openapi``): made
    from an app that is never started, so it touches no store and no ledger."""
    unused = TrustRoot("sha256:" + "0" * 64, "openapi")
    return create_api("unused", unused, ledger=Ledger(Path("unused") / "ledger.jsonl")).openapi()
