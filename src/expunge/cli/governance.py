"""Governance commands: API keys, requests, holds, the bus worker, dead letters, evidence, the server.

A standalone Typer app (``app``) that the root CLI mounts. Every command builds the same
:class:`~expunge.requests.Governance` the service uses, from the ``EXPUNGE_*`` settings, and prints
JSON. Exit codes: 0 success, 1 evidence that does not verify, 2 bad input, 3 internal failure.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from expunge.catalog import Identifier
from expunge.cli._errors import EXIT_FAILED_CHECK, ExpungeGroup, cli_errors
from expunge.cli._io import check_output_dir, check_output_file, check_tenant_option, write_output
from expunge.config import get_settings
from expunge.db import MAX_PAGE_SIZE
from expunge.errors import EvidenceInputError, TamperedEvidenceError, UnknownKeyError
from expunge.evidence import (
    Keyring,
    dump_case_file,
    export_entries,
    open_checkpoint,
    parse_export,
    read_checkpoint_file,
    rotate_signing_key,
    verify_case_file,
    verify_log,
)
from expunge.requests import Governance, open_governance_from_settings

__all__ = ["app"]

app = typer.Typer(
    help="Governance: keys, requests, holds, bus worker, dead letters, evidence, server.", cls=ExpungeGroup
)
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

Tenant = Annotated[
    str, typer.Option("--tenant", "-t", help="Tenant the command acts in.", callback=check_tenant_option)
]
Limit = Annotated[int, typer.Option(help=f"Page size, 1 to {MAX_PAGE_SIZE}.", min=1, max=MAX_PAGE_SIZE)]
Cursor = Annotated[
    str | None, typer.Option(help="`next_cursor` printed with the previous page; none for the first page.")
]
OutDir = Annotated[Path, typer.Option(help="Folder for results.json and results.md.", callback=check_output_dir)]


def _gov() -> Governance:
    """The governance the settings name (the RAG index's subscriber built when its first event arrives)."""
    return open_governance_from_settings(get_settings())


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _print_page(key: str, page: Any, to_dict: Any) -> None:
    _print({key: [to_dict(item) for item in page.items], "total": page.total, "next_cursor": page.next_cursor})


@keys_app.command("create")
@cli_errors
def keys_create(
    tenant: Tenant,
    role: Annotated[str, typer.Option("--role", "-r", help="admin, operator or auditor.")],
    label: Annotated[str, typer.Option(help="A note to recognise the key by.")] = "",
) -> None:
    """Create an API key and print it once; only its hash is stored."""
    principal, key = _gov().keys.create(tenant, role, label=label)
    _print({**principal.to_dict(), "api_key": key})


@keys_app.command("revoke")
@cli_errors
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by its ID."""
    _print({"key_id": key_id, "revoked": _gov().keys.revoke(key_id)})


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
    _print(filed.to_dict())


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
def dsr_list(
    tenant: Tenant,
    state: Annotated[str | None, typer.Option(help="Only this state.")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> None:
    """List requests, newest first, a page at a time: {requests, total, next_cursor}."""
    _print_page("requests", _gov().list_cases(tenant, state=state, limit=limit, cursor=cursor), lambda c: c.to_dict())


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
    stats = _gov().bus.process()
    _print({"delivered": stats.delivered, "retried": stats.retried, "dead": stats.dead})


@holds_app.command("place")
@cli_errors
def holds_place(
    target_id: str, tenant: Tenant, reason: Annotated[str, typer.Option(help="The matter it preserves.")]
) -> None:
    """Place a legal hold on a record, an artifact or a subject (it applies to approved requests too)."""
    _print(_gov().holds.place(tenant, target_id, reason=reason, placed_by="cli").to_dict())


@holds_app.command("lift")
@cli_errors
def holds_lift(hold_id: str, tenant: Tenant) -> None:
    """Lift a legal hold; the erasures it blocked are re-opened as new approved requests."""
    hold, reopened = _gov().holds.lift(tenant, hold_id, lifted_by="cli")
    _print({**hold.to_dict(), "reopened": [c.to_dict() for c in reopened]})


@holds_app.command("list")
@cli_errors
def holds_list(tenant: Tenant, limit: Limit = 100, cursor: Cursor = None) -> None:
    """List active legal holds, newest first, a page at a time: {holds, total, next_cursor}."""
    _print_page("holds", _gov().holds.list(tenant, limit=limit, cursor=cursor), lambda h: h.to_dict())


@dead_app.command("list")
@cli_errors
def deadletters_list(
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Only this tenant.", callback=check_tenant_option)
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> None:
    """List dead letters waiting for a replay, oldest first, a page at a time: {dead_letters, total, next_cursor}."""
    _print_page("dead_letters", _gov().bus.dead_letters(tenant, limit=limit, cursor=cursor), lambda d: d.to_dict())


@dead_app.command("replay")
@cli_errors
def deadletters_replay(
    dead_letter_id: str,
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", "-t", help="Refuse letters of other tenants.", callback=check_tenant_option),
    ] = None,
) -> None:
    """Put a dead letter back on the bus with a fresh attempt budget (once)."""
    _print({"event_id": _gov().bus.replay(tenant, dead_letter_id, by="cli")})


@evidence_app.command("export")
@cli_errors
def evidence_export(
    case_id: str,
    tenant: Tenant,
    out: Annotated[Path, typer.Option(help="Where to write the case file.", callback=check_output_file)],
    since: Annotated[
        Path | None,
        typer.Option(
            help="An older checkpoint the auditor holds: the file carries the consistency proof from it.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Write a request's sealed case file (canonical JSON) with the log's checkpoint and inclusion proofs."""
    gov = _gov()
    size = _older(since, gov.evidence.keyring)[1] if since is not None else None
    write_output(out, dump_case_file(gov.evidence.case_file(tenant, case_id, since=size)))
    _print({"case_id": case_id, "path": str(out), "consistency_from": size})


@evidence_app.command("export-log")
@cli_errors
def evidence_export_log(
    out: Annotated[Path, typer.Option(help="Where to write the JSON Lines export.", callback=check_output_file)],
) -> None:
    """Write the whole audit log as JSON Lines ending in its signed checkpoint, for offline verification."""
    snapshot = _gov().evidence.snapshot()
    write_output(out, export_entries(snapshot.entries, snapshot.checkpoint))
    _print({"entries": len(snapshot.entries), "path": str(out), "checkpoint": snapshot.checkpoint.to_dict()})


@evidence_app.command("checkpoint")
@cli_errors
def evidence_checkpoint(
    out: Annotated[
        Path | None,
        typer.Option(help="Also write it to this file (keep it to check later).", callback=check_output_file),
    ] = None,
) -> None:
    """Print the log's latest signed checkpoint (JSON), after checking every entry against it."""
    data = _gov().evidence.checkpoint()
    if out is not None:
        write_output(out, (json.dumps(data, indent=2) + "\n").encode())
    _print(data)


@evidence_app.command("public-key")
@cli_errors
def evidence_public_key(
    all_keys: Annotated[bool, typer.Option("--all", help="Every key of the keyring, the current one last.")] = False,
) -> None:
    """Print the install's Ed25519 public key (PEM), or the whole keyring: all a third party needs."""
    keys = _gov().evidence.public_keys()
    older = [k["pem"] for k in keys["keys"] if not k["current"]] if all_keys else []
    typer.echo("".join([*older, keys["pem"]]), nl=False)


@evidence_app.command("rotate-key")
@cli_errors
def evidence_rotate_key() -> None:
    """Make a new signing key current; old public keys stay in the keyring so older entries verify."""
    keys_dir = get_settings().resolved_keys_dir
    previous, signer = rotate_signing_key(keys_dir)
    _print(
        {
            "previous_key_id": previous,
            "key_id": signer.key_id,
            "keyring": list(Keyring.of_install(keys_dir)),
            "note": "Restart workers and servers: until then they sign with the previous key (still verifiable).",
        }
    )


def _older(path: Path, keys: Any) -> tuple[str, int]:
    """Read an older checkpoint file: its note and tree size (its signature checked)."""
    if not path.is_file():
        raise EvidenceInputError(f"The checkpoint file {str(path)!r} does not exist.")
    note = read_checkpoint_file(path.read_bytes())
    return note, open_checkpoint(note, keys).size


@evidence_app.command("verify")
@cli_errors
def evidence_verify(
    case: Annotated[str, typer.Argument(help="A case file, a log export (.jsonl), or a case ID with --tenant.")],
    public_key: Annotated[
        list[Path] | None,
        typer.Option(
            help="PEM public key(s) or keyring folder (repeatable); default: this install's keyring.",
            exists=True,
            readable=True,
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="An older checkpoint of the log: check the log only grew since.", exists=True, dir_okay=False
        ),
    ] = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Tenant of a case given by ID.", callback=check_tenant_option)
    ] = None,
) -> None:
    """Check every signature, hash link, proof and checkpoint with public keys alone; exit 1 if anything was altered."""
    try:
        keys = Keyring.from_paths(public_key) if public_key else Keyring.of_install(get_settings().resolved_keys_dir)
    except EvidenceInputError as err:
        raise typer.BadParameter(err.message, param_hint="'--public-key'") from err
    path = Path(case)
    if not path.exists() and path.suffix in (".json", ".jsonl"):
        raise EvidenceInputError(f"The file {case!r} does not exist. Pass a case file, a log export or a case ID.")
    if not path.is_file() and tenant is None:
        raise typer.BadParameter("a case ID needs --tenant (or pass the path of a case file).")
    try:
        older, size = _older(checkpoint, keys) if checkpoint is not None else (None, None)
        if path.is_file() and path.suffix == ".jsonl":
            result: dict[str, Any] = verify_log(*parse_export(path.read_bytes()), keys, older=older)
        elif path.is_file():
            result = verify_case_file(path.read_bytes(), keys, older=older)
        else:
            gov = _gov()
            document = gov.evidence.case_file(str(tenant), case, since=size)
            result = verify_case_file(dump_case_file(document), keys, older=older)
            snapshot = gov.evidence.snapshot()
            logged = verify_log([e.to_dict() for e in snapshot.entries], snapshot.checkpoint.note, keys, older=older)
            result["log_entries"] = logged["log_entries"]
    except (TamperedEvidenceError, UnknownKeyError) as err:
        typer.echo(json.dumps({"verified": False, "code": err.code, "problem": err.message}), err=True)
        raise typer.Exit(EXIT_FAILED_CHECK) from err
    _print({"verified": True, **result})


@app.command("worker")
@cli_errors
def worker(
    once: Annotated[bool, typer.Option(help="Deliver what is due, settle, and exit.")] = False,
    idle: Annotated[float, typer.Option(help="Seconds to sleep when nothing is due.", min=0.01, max=3600)] = 0.2,
    limit: Annotated[int, typer.Option(help="Events claimed per transaction.", min=1, max=1000)] = 50,
) -> None:
    """Run a bus worker: claim due events, deliver them, record receipts, settle finished cases."""
    gov = _gov()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    handled = 0
    while not stop.is_set():
        try:
            handled += gov.bus.work(stop, idle_seconds=idle, limit=limit, once=once)
        except SQLAlchemyError as err:  # the database went away or stayed locked: say so, wait, go on
            typer.echo(f"worker: database error, retrying in 1 s: {err}", err=True)
            stop.wait(1.0)
            continue
        break
    _print({"handled": handled})


@app.command("serve")
@cli_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind: an IP address or a host name.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.", min=1, max=65535)] = 8000,
    worker: Annotated[bool, typer.Option(help="Also run the bus worker in this process.")] = False,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs); every route needs an API key."""
    import uvicorn

    _check_bindable(host, port)
    if worker:
        os.environ["EXPUNGE_SERVE_WORKER"] = "1"
        get_settings.cache_clear()
    # Open the settings' database and keys here, so a bad setting is one sentence and exit 2, not a
    # traceback from inside the server's startup.
    _gov().close()
    # By import string: the CLI and the service are sibling layers and do not import each other.
    uvicorn.run("expunge.service:app_from_settings", factory=True, host=host, port=port)


def _check_bindable(host: str, port: int) -> None:
    """Refuse, before any work, an interface that does not resolve or a port that cannot be bound."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as err:
        hint = " (give the host alone, without a scheme or a port)" if "://" in host or ":" in host.strip("[]") else ""
        raise typer.BadParameter(
            f"{host!r} is not an address or a host name of this machine{hint}; e.g. 127.0.0.1, 0.0.0.0 or ::1.",
            param_hint="'--host'",
        ) from err
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as err:
            why = {
                errno.EADDRINUSE: "is in use",
                errno.EACCES: "needs privileges (ports below 1024)",
                errno.EADDRNOTAVAIL: "is not an address of this machine",
            }.get(err.errno, err.strerror)
            raise typer.BadParameter(f"{host}:{port} {why}; choose another --host or --port.") from err


@bench_app.command("dsr")
@cli_errors
def bench_dsr(
    backend: Annotated[str, typer.Option(help="sqlite or postgres.")] = "sqlite",
    requests: Annotated[int, typer.Option(help="Requests to file, one subject each.", min=1, max=1_000_000)] = 200,
    records_per_request: Annotated[
        int, typer.Option(help="Records per subject (each with a derived entry).", min=1, max=10_000)
    ] = 20,
    workers: Annotated[int, typer.Option(help="Worker processes; 0 runs the bus in a thread.", min=0, max=64)] = 0,
    clients: Annotated[int, typer.Option(help="Threads filing requests concurrently.", min=1, max=256)] = 1,
    out: OutDir = Path("bench/results/dsr"),
) -> None:
    """Measure DSRs per second end to end and the time to forget (p50, p95)."""
    from expunge.bench import bench_dsr as run

    if backend not in ("sqlite", "postgres"):
        raise typer.BadParameter(f"{backend!r} is not a backend; accepted: sqlite, postgres.", param_hint="'--backend'")
    url = get_settings().database_url if backend == "postgres" else None
    if backend == "postgres" and not (url or "").startswith("postgresql"):
        raise typer.BadParameter(
            "--backend postgres needs EXPUNGE_DATABASE_URL=postgresql+psycopg://… naming the server to measure.",
            param_hint="'--backend'",
        )
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
    fanouts: Annotated[
        int, typer.Option(help="Requests fanned out while the worker is killed.", min=1, max=1_000_000)
    ] = 1000,
    out: OutDir = Path("bench/results/crash"),
    seed: Annotated[int, typer.Option(help="Seed of the kill times.", min=0, max=2**32 - 1)] = 0,
) -> None:
    """SIGKILL the worker at random during DSR fan-outs, with racing ingests and late holds; count what went wrong.

    Exit 1 unless nothing was lost, duplicated, resurrected or erased under hold, and every case settled.
    """
    from expunge.bench import bench_crash as run

    result = run(out=out, fanouts=fanouts, seed=seed)
    _print(result)
    bad = result["lost"] or result["duplicated"] or result["resurrected"] or result["held_erased"]
    if bad or result["completed"] != fanouts:
        raise typer.Exit(EXIT_FAILED_CHECK)
