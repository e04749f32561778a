"""Every command of the CLI walked with bad values for every option and argument: one line, exit 2, no traceback.

The commands, their parameters, types and declared ranges are read from the Typer app, never typed
here. Each parameter gets the bad values of its kind (negative, zero, huge, the wrong type; a missing
path, a folder, a path under a file, a garbage file; an empty and an oversized string). A value the
declaration refuses must give exit 2 with one line on stderr and nothing on stdout. Any other value
may be fine (exit 0) or refused (exit 2, one line), never anything else.

Work is made impossible: loading a data set, training, opening the RAG index, running a benchmark,
the server and the worker loop raise :class:`WorkStarted`. A refused value that reaches one of them
means a command started working before it checked its input, and fails the test.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from expunge.cli import app
from expunge.cli._io import check_output_dir, check_output_file
from expunge.config import get_settings

ROOT = typer.main.get_command(app)
HUGE = "1" + "0" * 30


class WorkStarted(BaseException):  # a signal, not an error; BaseException passes every handler
    """A command reached real work (data loading, training, a server, a benchmark)."""


WORK = [
    ("expunge.unlearn", "prepare_scenario"),
    ("expunge.unlearn", "train_original"),
    ("expunge.bench._classifiers", "prepare_scenario"),
    ("expunge.bench._audit", "prepare_scenario"),
    ("expunge.cli._rag", "open_rag_index"),
    ("expunge.bench", "run_rag_bench"),
    ("expunge.bench", "run_answers_bench"),
    ("expunge.bench", "bench_dsr"),
    ("expunge.bench", "bench_crash"),
    ("expunge.requests.Settlement", "work"),  # gov.bus.work: the bus worker
    ("expunge.cli._lm", "_load_base"),
    ("expunge.bench", "run_lm_bench"),
    ("uvicorn", "run"),
]


def leaves(group, path=()):
    """Every runnable command under ``group`` with its path of names."""
    for name, sub in group.commands.items():
        if hasattr(sub, "commands"):
            yield from leaves(sub, (*path, name))
        else:
            yield (*path, name), sub


COMMANDS = sorted(leaves(ROOT), key=lambda item: item[0])


def info(param):
    return param.type_descriptor.parameter_info


def annotation(param):
    hint = param.type_descriptor.annotation
    return getattr(hint, "__args__", (hint,))[0] if param.multiple else hint


def is_number(param) -> bool:
    return annotation(param) in (int, float) and not getattr(param, "is_flag", False)


def numeric_probes(param) -> list[tuple[str, bool]]:
    """(value, must be refused) for an int or float parameter, judged against its declared range."""
    kind = annotation(param)
    values = ["-1", "0", HUGE, "abc", "1.5" if kind is int else "nan"]
    out = []
    for text in values:
        try:
            number = float(text) if kind is float else int(text)
        except ValueError:
            out.append((text, True))
            continue
        inside = not math.isnan(number) and param.min <= number <= param.max
        out.append((text, not inside))
    return out


def path_probes(param, files) -> list[tuple[str, bool]]:
    """(value, must be refused) for a path parameter, judged against what it declares it accepts."""
    p = info(param)
    output = p.callback in (check_output_file, check_output_dir)
    input_file = p.exists and not p.dir_okay
    return [
        (str(files / "missing.txt"), p.exists),
        (str(files / "folder"), not p.dir_okay),
        (str(files / "garbage.bin" / "x"), True),  # under a file: it can neither exist nor be created
        (str(files / "garbage.bin"), not p.file_okay or input_file and not output),
    ]


def probes(param, files) -> list[tuple[str, bool]]:
    if getattr(param, "is_flag", False):
        return []
    if is_number(param):
        return numeric_probes(param)
    if param.type_descriptor.is_path:
        return path_probes(param, files)
    return [("", False), ("x" * 5000, False)]


def base_value(param, files) -> str:
    """A value for a required parameter that is not under test."""
    if param.type_descriptor.is_path:
        return str(files / ("folder" if not info(param).file_okay else "garbage.bin"))
    if is_number(param):
        return str(param.min)
    return "acme"


def argv(path, command, probed, value, files) -> list[str]:
    args, positional = [*path], []
    for param in command.params:
        if param is probed:
            text = value
        elif param.required:
            text = base_value(param, files)
        else:
            continue
        if param.param_type_name == "argument":
            positional.append(text)
        else:
            args += [param.opts[0], text]
    return args + positional


def make_files(folder: Path) -> Path:
    folder.mkdir()
    (folder / "folder").mkdir()
    (folder / "garbage.bin").write_bytes(bytes(range(256)) * 4)
    return folder


@pytest.fixture
def walk_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EXPUNGE_HOME", str(tmp_path / "home"))
    for name in ("EXPUNGE_DATABASE_URL", "EXPUNGE_KEYS_DIR", "EXPUNGE_RAG_STORE", "EXPUNGE_SERVE_WORKER"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()

    def started(*_args, **_kwargs):
        raise WorkStarted

    import importlib

    def owner_of(module: str) -> object:
        package, _, last = module.rpartition(".")
        if last[0].isupper():  # a class of the module before it
            return getattr(importlib.import_module(package), last)
        return importlib.import_module(module)

    # Import every owner before patching any: a module imported later would bind an earlier patch for good.
    owners = [owner_of(module) for module, _name in WORK]
    for owner, (_module, name) in zip(owners, WORK, strict=True):
        monkeypatch.setattr(owner, name, started)
    yield tmp_path
    get_settings.cache_clear()


def run(args: list[str]):
    """Run the root command in-process (built once: building it costs 50 ms); return (code, out, err)."""
    runner = CliRunner()
    with runner.isolation() as (stdout, stderr, _mixed):
        try:
            ROOT.main(args=args, prog_name="expunge")
        except SystemExit as exit_:
            code = exit_.code
        else:
            code = 0
        return code, stdout.getvalue().decode(), stderr.getvalue().decode()


def test_every_command_is_walked():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert len(names) >= 34
    assert {"unlearn", "dsr list", "evidence verify", "serve", "bench rag", "rag ingest", "worker"} <= names
    numbers = [(path, p.name) for path, c in COMMANDS for p in c.params if is_number(p)]
    assert len(numbers) >= 30
    # Every count and size declares what it accepts: a negative or zero count is refused where it makes no sense.
    undeclared = [
        (path, name)
        for path, c in COMMANDS
        for p in c.params
        if is_number(p)
        for name in [p.name]
        if p.min is None or p.max is None
    ]
    assert undeclared == []


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_bad_values_are_refused_in_one_line_before_any_work(walk_env, path, command):
    problems = []
    tried = 0
    for param in command.params:
        if param.name == "help":
            continue
        files = make_files(walk_env / f"files-{param.name}-{tried}")
        for value, must_refuse in probes(param, files):
            tried += 1
            args = argv(path, command, param, value, files)
            shown = " ".join(a if len(a) < 60 else a[:20] + "…" for a in args)
            try:
                code, out, err = run(args)
            except WorkStarted:
                if must_refuse:
                    problems.append(f"{shown}: work started before the bad value was refused")
                continue
            text = out + err
            if "Traceback" in text:
                problems.append(f"{shown}: a traceback")
            elif code not in (0, 2):
                problems.append(f"{shown}: exit {code}: {err.strip()[:300]}")
            elif must_refuse and code != 2:
                problems.append(f"{shown}: accepted (exit {code})")
            elif code == 2:
                lines = [line for line in err.splitlines() if line.strip()]
                if out.strip() or len(lines) != 1 or not lines[0].startswith("error (") or not lines[0].endswith("."):
                    problems.append(f"{shown}: not one line on stderr: {text.strip()[:300]!r}")
    assert tried > 0 or not [p for p in command.params if p.name != "help" and not getattr(p, "is_flag", False)]
    assert problems == []
