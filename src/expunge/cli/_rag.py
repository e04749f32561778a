"""``expunge rag ingest|query|probe`` and ``expunge bench rag``: the retrieval side from the command line.

The index lives where the settings say (``EXPUNGE_RAG_STORE``, default LanceDB under ``EXPUNGE_HOME/rag``) and is
registered in the same catalog the governance commands use, so an erasure filed with ``expunge dsr`` reaches it.
LanceDB, Chroma and the embedding model are imported inside the commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from expunge.cli._errors import EXIT_FAILED_CHECK, cli_errors
from expunge.cli._io import check_output_dir, check_tenant_option, make_console
from expunge.config import Settings, get_settings
from expunge.errors import RagError

if TYPE_CHECKING:
    from expunge.rag import Calibration, Person, RagIndex
    from expunge.requests import Governance

app = typer.Typer(help="RAG erasure: ingest with identity, query, and probe for a person.", no_args_is_help=True)
console = make_console()

TenantOpt = Annotated[str, typer.Option(help="Tenant that owns the documents.", callback=check_tenant_option)]
SeedOpt = Annotated[int, typer.Option(help="Seed of the demo corpus.", min=0, max=2**32 - 1)]
TopK = Annotated[int, typer.Option(help="Chunks to retrieve.", min=1, max=1000)]
TEXT_SUFFIXES = (".txt", ".md", ".text")


def open_rag_index(settings: Settings, *, with_catalog: bool = True, gov: Governance | None = None) -> RagIndex:
    """The index the settings name, with its SQLite cache, registered in the governance catalog (``gov``'s, or
    the settings' governance opened here)."""
    from expunge.rag import open_index

    catalog = db = None
    if with_catalog:
        from expunge.requests import open_governance_from_settings

        gov = gov or open_governance_from_settings(settings, with_rag=False)
        catalog, db = gov.catalog, gov.db
    return open_index(
        settings.resolved_rag_store,
        cache_path=settings.rag_cache_path,
        cache_ttl=settings.rag_cache_ttl_seconds,
        name=settings.rag_index,
        catalog=catalog,
        db=db,
        phone_region=settings.default_phone_region,
        calibration_path=calibration_path(settings),
    )


def calibration_path(settings: Settings) -> Path:
    """Where ``expunge rag calibrate`` (and ``rag ingest``) keep the index's answer cut-off."""
    return settings.home / "rag" / f"calibration-{settings.rag_index}.json"


def _read_people(path: Path) -> list[Person]:
    """A subject list: one person a line, their identifiers separated by ``;`` (``#`` starts a comment)."""
    from expunge.rag import Person

    if not path.is_file():
        raise RagError(f"{path} is not a file; give a subject list, one person a line (name; e-mail; phone).")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise RagError(f"{path} is not UTF-8 text; convert it.") from None
    people = []
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            people.append(Person.from_values(line.split(";")))
        except RagError as err:
            raise RagError(f"{path}, line {number}: {err.message}") from None
    return people


def _torch_threads() -> None:
    import torch

    torch.set_num_threads(get_settings().threads)


def _read_documents(path: Path, tenant: str, acl: str) -> list:
    from expunge.rag import Document

    if not path.exists():
        raise RagError(f"{path} does not exist; give a text file or a folder of {', '.join(TEXT_SUFFIXES)} files.")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in TEXT_SUFFIXES)
    if not files:
        raise RagError(f"{path} holds no {', '.join(TEXT_SUFFIXES)} files to ingest.")
    docs = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise RagError(f"{f} is not UTF-8 text; convert it or leave it out.") from None
        docs.append(Document(text=text, source=str(f.resolve()), tenant=tenant, acl=acl))
    return docs


@app.command("ingest")
@cli_errors
def ingest(
    path: Annotated[
        Path | None, typer.Argument(help="A text file or a folder of .txt/.md files.", exists=True, readable=True)
    ] = None,
    demo: Annotated[
        int | None,
        typer.Option(help="Ingest N synthetic tickets and HR notes (Faker, seeded) instead.", min=1, max=100_000),
    ] = None,
    tenant: TenantOpt = "default",
    acl: Annotated[str, typer.Option(help="Access group of the documents read from PATH.")] = "public",
    seed: SeedOpt = 0,
    chunk_size: Annotated[int, typer.Option(help="Characters per chunk.", min=32, max=100_000)] = 400,
    overlap: Annotated[
        int, typer.Option(help="Characters shared by neighbouring chunks (less than half a chunk).", min=0, max=50_000)
    ] = 80,
    people: Annotated[
        Path | None,
        typer.Option(
            help="Subject list: one person a line, identifiers separated by ';' (name; e-mail; phone).",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
    ner: Annotated[
        bool, typer.Option(help="Link the people spaCy's English NER model names (PERSON, two words or more).")
    ] = True,
    calibrate: Annotated[
        bool, typer.Option(help="Calibrate the answer cut-off on the tenant's chunks afterwards.")
    ] = True,
) -> None:
    """Chunk, embed and store documents; register each document, chunk, embedding and vector row in the catalog,
    and link every person a document mentions to it."""
    from expunge.rag import ChunkConfig, SpacyNameFinder, demo_corpus

    if (path is None) == (demo is None):
        raise RagError("Give either a PATH or --demo N, not both and not neither.")
    config = ChunkConfig(size=chunk_size, overlap=overlap)
    known = _read_people(people) if people is not None else []
    if demo is not None:
        corpus = demo_corpus(demo, seed=seed, tenant=tenant)
        docs, known = corpus.documents, [*corpus.people, *known]
    else:
        assert path is not None
        docs = _read_documents(path, tenant, acl)
    _torch_threads()
    settings = get_settings()
    index = open_rag_index(settings)
    index.chunking = config
    names = SpacyNameFinder() if ner else None
    with console.status(f"Ingesting {len(docs)} document(s) (the embedding model loads on first use)…"):
        report = index.ingest(docs, people=known, names=names)
    console.print(
        f"{report.documents} document(s): {report.chunks} chunk(s) stored, {report.unchanged} unchanged, "
        f"{report.embedded} embedded, {report.embeddings_reused} embedding(s) reused from the cache "
        f"→ {index.store.url}"
    )
    for refusal in report.refused:
        console.print(f"[yellow]refused[/] {refusal}")
    if calibrate and report.chunks:
        try:
            result = index.calibrate(tenant=tenant, names=names)
        except RagError as err:  # too few chunks naming anyone: the ingest stands, the cut-off stays
            console.print(f"[yellow]cut-off not calibrated[/] {err.message}")
        else:
            result.save(calibration_path(settings))
            console.print(_calibrated(result))
    if demo is not None and people:
        sample = people[0]
        console.print(f'Try: expunge rag query "What did {sample.name} report?" --groups support,hr')


def _calibrated(result: Calibration) -> str:
    return (
        f"answer cut-offs (cosine distance, the {result.quantile:.0%} quantile of matching question→chunk pairs): "
        f"{result.max_distance} for any question ({result.pairs} pairs), {result.named_max_distance} for a question "
        f"naming someone, among the chunks that mention them ({result.named_pairs} pairs)"
    )


@app.command("calibrate")
@cli_errors
def calibrate(
    tenant: TenantOpt = "default",
    sample: Annotated[int, typer.Option(help="Chunks to sample.", min=2, max=100_000)] = 200,
    quantile: Annotated[
        float,
        typer.Option(help="Share of matching question→chunk pairs the cut-off admits.", min=0.5, max=1.0),
    ] = 0.95,
    seed: SeedOpt = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the calibration as JSON.")] = False,
) -> None:
    """Measure the answer cut-offs on the tenant's chunks and save them for `expunge rag query`."""
    from dataclasses import asdict

    _torch_threads()
    settings = get_settings()
    index = open_rag_index(settings, with_catalog=False)
    result = index.calibrate(tenant=tenant, sample=sample, quantile=quantile, seed=seed)
    result.save(calibration_path(settings))
    if as_json:
        typer.echo(json.dumps(asdict(result)))
        return
    console.print(_calibrated(result))
    console.print(
        f"the nearest chunk about someone else is within the named cut-off for {result.unmatched_within:.0%} of "
        "the questions naming a person: the entity check, not the distance, keeps those out"
    )


@app.command("query")
@cli_errors
def query(
    question: Annotated[str, typer.Argument(help="The question.")],
    tenant: TenantOpt = "default",
    groups: Annotated[str, typer.Option(help="Comma-separated ACL groups the caller belongs to.")] = "public",
    k: TopK = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Answer from the chunks the caller may see, quoting their IDs; abstain when no permitted source is near."""
    if not question.strip():
        raise RagError("The question is empty; ask about something, e.g. 'What did Dora Ruiz report?'.")
    _torch_threads()
    index = open_rag_index(get_settings(), with_catalog=False)
    wanted = [g.strip() for g in groups.split(",") if g.strip()]
    answer = index.answer(question, tenant=tenant, groups=wanted, k=k)
    if as_json:
        typer.echo(json.dumps({"text": answer.text, "sources": list(answer.sources), "abstained": answer.abstained}))
        return
    console.print(answer.text, highlight=False)
    if answer.sources:
        console.print(f"[dim]sources: {', '.join(answer.sources)}[/]")


@app.command("probe")
@cli_errors
def probe(
    subject: Annotated[
        list[str], typer.Option(help="The person's name, e-mail address or phone number (repeat for several).")
    ],
    tenant: TenantOpt = "default",
    k: Annotated[int, typer.Option(help="Top-k of each kNN probe question.", min=1, max=1000)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Look for a person in the store's files, the caches, the catalog's chunks and the top-k of questions about
    them. Exit code 1 when anything is found."""
    from expunge.rag import Person, probe_subject

    person = Person.from_values(subject)
    _torch_threads()
    index = open_rag_index(get_settings())
    result = probe_subject(index, person, tenant=tenant, k=k)
    if as_json:
        typer.echo(json.dumps(result.__dict__ | {"found": result.found}, default=list))
    else:
        table = Table("check", "result")
        table.add_row("chunks in the catalog", str(len(result.chunk_ids)))
        table.add_row("still retrievable", ", ".join(result.retrievable) or "none")
        table.add_row("held (legal hold, restricted)", ", ".join(result.held) or "none")
        found = [f"{what} in {w}" for what, wheres in result.on_disk.items() for w in wheres]
        table.add_row(f"bytes on disk ({result.files_scanned} files)", "\n".join(found[:10]) or "none")
        leaks = [f"{q!r} → {c}" for q, c in result.knn_leaks]
        table.add_row(f"kNN top-{k} of {result.questions} questions", "\n".join(leaks[:10]) or "none")
        table.add_row("cache entries", ", ".join(result.cache_entries) or "none")
        console.print(table)
        console.print("[bold red]FOUND[/]" if result.found else "[bold green]nothing found[/]")
    if result.found:
        sys.exit(EXIT_FAILED_CHECK)


@cli_errors
def bench_rag(
    store: Annotated[str, typer.Option(help="lancedb or chroma (memory for a smoke run).")] = "lancedb",
    chunks: Annotated[int, typer.Option(help="Chunks in the store.", min=2, max=10_000_000)] = 100_000,
    subjects: Annotated[int, typer.Option(help="Subjects to forget.", min=1, max=100_000)] = 200,
    chunks_per_subject: Annotated[int, typer.Option(help="Chunks each subject owns.", min=1, max=1000)] = 5,
    per_subject_purges: Annotated[
        int,
        typer.Option(
            help="Subjects forgotten one at a time with a purge each (the rest: native delete, then one purge).",
            min=0,
            max=100_000,
        ),
    ] = 20,
    queries: Annotated[int, typer.Option(help="Held-out queries for recall@10 and latency.", min=1, max=100_000)] = 200,
    replay: Annotated[
        int, typer.Option(help="Cached queries replayed while subjects are excluded.", min=0, max=10_000_000)
    ] = 10_000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.", min=0, max=2**32 - 1)] = 0,
    out: Annotated[
        Path, typer.Option(help="Folder for results.json and results.md.", callback=check_output_dir)
    ] = Path("bench/results/rag"),
) -> None:
    """Measure what a native delete leaves on disk vs expunge's purge, time to exclusion and to a verified purge,
    recall before and after delete storms, and cache leaks over a replay."""
    from expunge.bench import RagBenchConfig, rag_markdown, run_rag_bench, write_rag_bench

    cfg = RagBenchConfig(
        store=store,
        chunks=chunks,
        subjects=subjects,
        chunks_per_subject=chunks_per_subject,
        per_subject_purges=per_subject_purges,
        queries=queries,
        replay=replay,
        seed=seed,
    )
    with console.status("starting") as status:
        results = run_rag_bench(cfg, progress=lambda msg: status.update(msg))
    write_rag_bench(results, out)
    console.print(rag_markdown([results]))
    console.print(f"wrote {out / 'results.json'} and {out / 'results.md'}")


@cli_errors
def bench_answers(
    documents: Annotated[
        int, typer.Option(help="Demo documents to ingest (Faker, seeded).", min=10, max=100_000)
    ] = 2000,
    erase: Annotated[int, typer.Option(help="People to erase before asking about them.", min=1, max=10_000)] = 20,
    never: Annotated[int, typer.Option(help="Never-ingested people to ask about.", min=1, max=10_000)] = 20,
    present: Annotated[int, typer.Option(help="People still present to ask about.", min=1, max=10_000)] = 200,
    k: Annotated[int, typer.Option(help="Sources per answer.", min=1, max=100)] = 5,
    sample: Annotated[int, typer.Option(help="Chunks sampled by the calibration.", min=2, max=100_000)] = 200,
    quantile: Annotated[float, typer.Option(help="Quantile of the calibration.", min=0.5, max=1.0)] = 0.95,
    seed: SeedOpt = 0,
    out: Annotated[
        Path, typer.Option(help="Folder for results.json and results.md.", callback=check_output_dir)
    ] = Path("bench/results/answers"),
) -> None:
    """Ask "What did NAME report?" about erased, never-ingested and present people under four answerers (fixed or
    calibrated cut-off, with or without the entity check): abstention, leaks and accuracy."""
    from expunge.bench import AnswersBenchConfig, answers_markdown, run_answers_bench, write_answers_bench

    cfg = AnswersBenchConfig(
        documents=documents,
        erase=erase,
        never=never,
        present=present,
        k=k,
        sample=sample,
        quantile=quantile,
        seed=seed,
    )
    _torch_threads()
    with console.status("starting") as status:
        results = run_answers_bench(cfg, progress=lambda msg: status.update(msg))
    write_answers_bench(results, out)
    console.print(answers_markdown(results))
    console.print(f"wrote {out / 'results.json'} and {out / 'results.md'}")


def rag_demo(out: Path) -> bool:
    """The RAG half of ``expunge demo``: ingest the demo corpus, erase one person through a DSR, prove it.

    Returns True when the person's answer abstains afterwards and the probe finds nothing of them.
    """
    from expunge.catalog import Identifier
    from expunge.evidence import dump_case_file, verify_case_file
    from expunge.rag import RagSubscriber, demo_corpus, probe_subject
    from expunge.requests import open_governance_from_settings

    _torch_threads()
    settings = get_settings()
    corpus = demo_corpus(60, seed=0)
    gov = open_governance_from_settings(settings, with_rag=False)
    index = open_rag_index(settings, gov=gov)
    gov.bus.subscribers["rag"] = RagSubscriber(index)
    with console.status("RAG: ingesting 60 synthetic tickets and HR notes…"):
        report = index.ingest(corpus.documents, people=corpus.people)
    console.print(
        f"RAG: {report.chunks} chunk(s) stored, {report.unchanged} unchanged, {len(report.refused)} refused "
        f"(erased before) → {index.store.url}"
    )
    person = corpus.people[0]
    question = f"What did {person.name} report?"
    before = index.answer(question, groups=["support", "hr"])
    console.print(f"RAG: {question!r} → {before.text[:100]!r}", highlight=False)
    filed = gov.file_request(
        "default", scope="erasure", filed_by="demo", identifiers=[Identifier("email", person.email)]
    )
    gov.approve("default", filed.case.id, operator="demo")
    with console.status("RAG: delivering the erasure (exclude, purge, byte probe, signed receipts)…"):
        gov.bus.process()
    case = gov.get_case("default", filed.case.id)
    after = index.answer(question, groups=["support", "hr"])
    probe = probe_subject(index, person)
    document = gov.evidence.case_file("default", case.id)
    out.mkdir(parents=True, exist_ok=True)
    (out / "rag-case.json").write_bytes(dump_case_file(document))
    summary = verify_case_file(document, gov.evidence.keyring)
    console.print(f"RAG: erasure {case.id} {case.state}; afterwards → {after.text!r}", highlight=False)
    console.print(
        f"RAG: probe for the person: {'FOUND' if probe.found else 'nothing found'} in {probe.files_scanned} files, "
        f"{probe.questions} questions and the caches; case file {out / 'rag-case.json'}: "
        f"{summary['receipts']} signed receipts verified"
    )
    return after.abstained and not probe.found
