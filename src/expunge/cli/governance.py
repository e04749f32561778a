"""Governance commands: API keys, requests, holds, the bus worker, dead letters, evidence, the server.

A standalone Typer app (``app``) that the root CLI mounts. Every command builds the same
:class:`~expunge.requests.Governance` the service uses, from the ``EXPUNGE_*`` settings, and prints
JSON. Exit codes: 0 success, 1 evidence that does not verify, 2 bad input, 3 internal failure.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from expunge.bus import RetryPolicy
from expunge.catalog import Identifier
from expunge.cli._errors import EXIT_FAILED_CHECK, cli_errors
from expunge.config import get_settings
from expunge.errors import TamperedEvidenceError, UnknownKeyError
from expunge.evidence import (
    dump_case_file,
    export_entries,
    key_id_of,
    load_public_key,
    parse_export,
    public_key_pem,
    verify_case_file,
    verify_entries,
)
from expunge.requests import ApiKeys, Governance, build_case_file, open_governance

__all__ = ["app"]

app = typer.Typer(help="Governance: keys, requests, holds, bus worker, dead letters, evidence, server.")
keys_app = typer.Typer(help="API keys bound to a tenant and a role.", no_args_is_help=True)
dsr_app = typer.Typer(help="Data-subject requests: file, verify, approve, track.", no_args_is_help=True)
holds_app = typer.Typer(help="Legal holds: erasure of a held asset becomes restriction.", no_args_is_help=True)
dead_app = typer.Typer(help="Events that failed every attempt, kept until replayed.", no_args_is_help=True)
evidence_app = typer.Typer(help="Signed receipts, the chained audit log, case files.", no_args_is_help=True)
bench_app = typer.Typer(help="Governance benchmarks: results.json and results.md.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(dsr_app, name="dsr")
app.add_typer(holds_app, name="holds")
app.add_typer(dead_app, name="deadletters")
app.add_typer(evidence_app, name="evidence")
app.add_typer(bench_app, name="bench")

Tenant = Annotated[str, typer.Option("--tenant", "-t", help="Tenant the command acts in.")]


def open_settings_governance(*, with_rag: bool = True) -> Governance:
    """The governance the settings name; with the RAG index's subscriber when a RAG store is in use."""
    s = get_settings()
    extra = {}
    if with_rag and s.rag_in_use:
        from expunge.rag import RagSubscriber

        extra["rag"] = RagSubscriber.from_settings(s)
    return open_governance(
        s.resolved_database_url,
        keys_dir=s.resolved_keys_dir,
        sla_days=s.sla_days,
        due_soon_days=s.due_soon_days,
        token_ttl_seconds=s.token_ttl_seconds,
        webhook_endpoints=s.webhook_endpoints,
        phone_region=s.default_phone_region,
        retry=RetryPolicy(
            max_attempts=s.bus_max_attempts, base_seconds=s.bus_backoff_seconds, max_seconds=s.bus_backoff_max_seconds
        ),
        subscribers=extra,
    )


def _gov() -> Governance:
    return open_settings_governance()


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@keys_app.command("create")
@cli_errors
def keys_create(
    tenant: Tenant,
    role: Annotated[str, typer.Option("--role", "-r", help="admin, operator or auditor.")],
    label: Annotated[str, typer.Option(help="A note to recognise the key by.")] = "",
) -> None:
    """Create an API key and print it once; only its hash is stored."""
    gov = _gov()
    with gov.db.begin() as conn:
        principal, key = ApiKeys().create(conn, tenant, role, label=label)
    _print({"key_id": principal.key_id, "tenant": tenant, "role": role, "api_key": key})


@keys_app.command("revoke")
@cli_errors
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by its ID."""
    gov = _gov()
    with gov.db.begin() as conn:
        _print({"key_id": key_id, "revoked": ApiKeys().revoke(conn, key_id)})


@dsr_app.command("file")
@cli_errors
def dsr_file(
    tenant: Tenant,
    scope: Annotated[str, typer.Option(help="erasure, restriction, opt_out or correction.")],
    regulation: Annotated[str, typer.Option(help="Deadline policy: gdpr, ccpa, lgpd…")] = "gdpr",
    email: Annotated[list[str] | None, typer.Option(help="Subject e-mail (repeatable).")] = None,
    phone: Annotated[list[str] | None, typer.Option(help="Subject phone number (repeatable).")] = None,
    user_id: Annotated[list[str] | None, typer.Option(help="Subject account ID (repeatable).")] = None,
    name: Annotated[list[str] | None, typer.Option(help="Subject name (repeatable).")] = None,
    content_sha256: Annotated[list[str] | None, typer.Option(help="Content hash to forget (repeatable).")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Entity tag to forget (repeatable).")] = None,
    filed_by: Annotated[str, typer.Option(help="Who files it.")] = "cli",
    approved_by: Annotated[
        str | None,
        typer.Option(help="File with this operator's approval (requester verified out of band): no token."),
    ] = None,
) -> None:
    """File a request and print its ID and one-time verification token, or file it approved."""
    identifiers = [
        Identifier(kind, value)
        for kind, values in (("email", email), ("phone", phone), ("user_id", user_id), ("name", name))
        for value in values or []
    ]
    filed = _gov().file_request(
        tenant,
        scope=scope,
        regulation=regulation,
        identifiers=identifiers,
        content_sha256=content_sha256 or [],
        entity_tags=tag or [],
        filed_by=filed_by,
        approved_by=approved_by,
    )
    _print({"case": filed.case.to_dict(), "verification_token": filed.token, "expires_at": filed.token_expires_at})


@dsr_app.command("verify")
@cli_errors
def dsr_verify(token: str) -> None:
    """Verify a requester with their token; the request is planned and published."""
    _print(_gov().verify_token(token).to_dict())


@dsr_app.command("approve")
@cli_errors
def dsr_approve(case_id: str, tenant: Tenant, operator: Annotated[str, typer.Option(help="Who approves.")]) -> None:
    """Verify a requester on an operator's word; the request is planned and published."""
    _print(_gov().approve(tenant, case_id, operator=operator).to_dict())


@dsr_app.command("reject")
@cli_errors
def dsr_reject(case_id: str, tenant: Tenant, reason: Annotated[str, typer.Option(help="Why.")]) -> None:
    """Reject a request that is not yet planned."""
    _print(_gov().reject(tenant, case_id, actor="cli", reason=reason).to_dict())


@dsr_app.command("show")
@cli_errors
def dsr_show(case_id: str, tenant: Tenant) -> None:
    """Show a request and its planned actions."""
    gov = _gov()
    _print({**gov.get_case(tenant, case_id).to_dict(), "actions": gov.actions(tenant, case_id)})


@dsr_app.command("list")
@cli_errors
def dsr_list(tenant: Tenant, state: Annotated[str | None, typer.Option(help="Only this state.")] = None) -> None:
    """List requests, newest first."""
    _print([c.to_dict() for c in _gov().list_cases(tenant, state=state)])


@dsr_app.command("sla")
@cli_errors
def dsr_sla(tenant: Tenant) -> None:
    """Report open requests as overdue, due soon or on track."""
    _print(_gov().sla_report(tenant))


@dsr_app.command("retention")
@cli_errors
def dsr_retention(
    tenant: Tenant, regulation: Annotated[str, typer.Option(help="Deadline policy of the requests.")] = "gdpr"
) -> None:
    """File and approve erasure requests for records whose retention date has passed."""
    _print([c.to_dict() for c in _gov().enforce_retention(tenant, regulation=regulation)])


@dsr_app.command("process")
@cli_errors
def dsr_process() -> None:
    """Deliver every due event in this process, then settle the cases (no worker needed)."""
    stats = _gov().process()
    _print({"delivered": stats.delivered, "retried": stats.retried, "dead": stats.dead})


@holds_app.command("place")
@cli_errors
def holds_place(
    target_id: str, tenant: Tenant, reason: Annotated[str, typer.Option(help="The matter it preserves.")]
) -> None:
    """Place a legal hold on a record, an artifact or a subject."""
    gov = _gov()
    with gov.db.begin() as conn:
        hold = gov.catalog.place_hold(conn, tenant, target_id, reason=reason, placed_by="cli")
    _print(hold.__dict__)


@holds_app.command("lift")
@cli_errors
def holds_lift(hold_id: str, tenant: Tenant) -> None:
    """Lift a legal hold."""
    gov = _gov()
    with gov.db.begin() as conn:
        _print(gov.catalog.lift_hold(conn, tenant, hold_id, lifted_by="cli").__dict__)


@holds_app.command("list")
@cli_errors
def holds_list(tenant: Tenant) -> None:
    """List active legal holds."""
    gov = _gov()
    with gov.db.read() as conn:
        _print([h.__dict__ for h in gov.catalog.list_holds(conn, tenant)])


@dead_app.command("list")
@cli_errors
def deadletters_list(
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant.")] = None,
) -> None:
    """List dead letters waiting for a replay."""
    gov = _gov()
    with gov.db.read() as conn:
        _print([d.__dict__ for d in gov.outbox.dead_letters(conn, tenant)])


@dead_app.command("replay")
@cli_errors
def deadletters_replay(
    dead_letter_id: str,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Refuse letters of other tenants.")] = None,
) -> None:
    """Put a dead letter back on the bus with a fresh attempt budget (once)."""
    _print({"event_id": _gov().replay_dead_letter(tenant, dead_letter_id, by="cli")})


@evidence_app.command("export")
@cli_errors
def evidence_export(
    case_id: str, tenant: Tenant, out: Annotated[Path, typer.Option(help="Where to write the case file.")]
) -> None:
    """Write a request's sealed case file (canonical JSON)."""
    gov = _gov()
    out.write_bytes(dump_case_file(build_case_file(gov, tenant, case_id, signer=gov.audit.signer)))
    _print({"case_id": case_id, "path": str(out)})


@evidence_app.command("export-log")
@cli_errors
def evidence_export_log(out: Annotated[Path, typer.Option(help="Where to write the JSON Lines export.")]) -> None:
    """Write the whole audit log as JSON Lines, for offline verification."""
    gov = _gov()
    with gov.db.read() as conn:
        entries = gov.audit.entries(conn)
    out.write_bytes(export_entries(entries))
    _print({"entries": len(entries), "path": str(out)})


@evidence_app.command("public-key")
@cli_errors
def evidence_public_key() -> None:
    """Print the install's Ed25519 public key (PEM): all a third party needs to verify."""
    typer.echo(public_key_pem(_gov().audit.signer.public_key).decode(), nl=False)


@evidence_app.command("verify")
@cli_errors
def evidence_verify(
    case: Annotated[str, typer.Argument(help="A case file, a log export (.jsonl), or a case ID with --tenant.")],
    public_key: Annotated[Path | None, typer.Option(help="PEM public key; default: this install's.")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Tenant of a case given by ID.")] = None,
) -> None:
    """Check every signature and hash link with the public key alone; exit 1 if anything was altered."""
    if public_key is not None:
        key = load_public_key(public_key.read_bytes())
    else:
        s = get_settings()
        key = load_public_key((s.resolved_keys_dir / "signing_ed25519.pub.pem").read_bytes())
    keys = {key_id_of(key): key}
    path = Path(case)
    try:
        if path.is_file() and path.suffix == ".jsonl":
            result: dict[str, Any] = {
                "log_entries": verify_entries(parse_export(path.read_bytes()), keys, chain="global")
            }
        elif path.is_file():
            result = verify_case_file(path.read_bytes(), keys)
        else:
            if tenant is None:
                raise typer.BadParameter("a case ID needs --tenant (or pass the path of a case file).")
            gov = _gov()
            result = verify_case_file(dump_case_file(build_case_file(gov, tenant, case, signer=gov.audit.signer)), keys)
            with gov.db.read() as conn:
                result["log_entries"] = verify_entries(
                    [e.to_dict() for e in gov.audit.entries(conn)], keys, chain="global"
                )
    except (TamperedEvidenceError, UnknownKeyError) as err:
        typer.echo(json.dumps({"verified": False, "code": err.code, "problem": err.message}), err=True)
        raise typer.Exit(EXIT_FAILED_CHECK) from err
    _print({"verified": True, **result})


@app.command("worker")
@cli_errors
def worker(
    once: Annotated[bool, typer.Option(help="Deliver what is due, settle, and exit.")] = False,
    idle: Annotated[float, typer.Option(help="Seconds to sleep when nothing is due.")] = 0.2,
    limit: Annotated[int, typer.Option(help="Events claimed per transaction.")] = 50,
) -> None:
    """Run a bus worker: claim due events, deliver them, record receipts, settle finished cases."""
    gov = _gov()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    handled = 0
    while not stop.is_set():
        try:
            handled += gov.work(stop, idle_seconds=idle, limit=limit, once=once)
        except SQLAlchemyError as err:  # the database went away or stayed locked: say so, wait, go on
            typer.echo(f"worker: database error, retrying in 1 s: {err}", err=True)
            stop.wait(1.0)
            continue
        break
    _print({"handled": handled})


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    worker: Annotated[bool, typer.Option(help="Also run the bus worker in this process.")] = False,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs); every route needs an API key."""
    import uvicorn

    if worker:
        os.environ["EXPUNGE_SERVE_WORKER"] = "1"
        get_settings.cache_clear()
    # By import string: the CLI and the service are sibling layers and do not import each other.
    uvicorn.run("expunge.service:app_from_settings", factory=True, host=host, port=port)


@bench_app.command("dsr")
@cli_errors
def bench_dsr(
    backend: Annotated[str, typer.Option(help="sqlite or postgres.")] = "sqlite",
    requests: Annotated[int, typer.Option(help="Requests to file, one subject each.")] = 200,
    records_per_request: Annotated[int, typer.Option(help="Records per subject (each with a derived entry).")] = 20,
    workers: Annotated[int, typer.Option(help="Worker processes; 0 runs the bus in a thread.")] = 0,
    clients: Annotated[int, typer.Option(help="Threads filing requests concurrently.")] = 1,
    out: Annotated[Path, typer.Option(help="Folder for results.json and results.md.")] = Path("bench/results/dsr"),
) -> None:
    """Measure DSRs per second end to end and the time to forget (p50, p95)."""
    from expunge.requests import bench_dsr as run

    url = get_settings().database_url if backend == "postgres" else None
    _print(
        run(
            backend=backend,
            out=out,
            requests=requests,
            records_per_request=records_per_request,
            workers=workers,
            clients=clients,
            postgres_url=url,
        )
    )


@bench_app.command("crash")
@cli_errors
def bench_crash(
    fanouts: Annotated[int, typer.Option(help="Requests fanned out while the worker is killed.")] = 1000,
    out: Annotated[Path, typer.Option(help="Folder for results.json and results.md.")] = Path("bench/results/crash"),
    seed: Annotated[int, typer.Option(help="Seed of the kill times.")] = 0,
) -> None:
    """SIGKILL the worker at random during DSR fan-outs; count lost and duplicated actions in the stores."""
    from expunge.requests import bench_crash as run

    result = run(out=out, fanouts=fanouts, seed=seed)
    _print(result)
    if result["lost"] or result["duplicated"] or result["completed"] != fanouts:
        raise typer.Exit(EXIT_FAILED_CHECK)
