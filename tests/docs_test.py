"""The docs: every public name is documented, every runnable block runs.

A fenced block whose info string is `python runnable` is executed, each in a
fresh namespace, in one subprocess whose working folder is a temporary
folder. When the next block (with only blank lines between) is a
`text output` block, what the runnable block prints must equal it.
"""

import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import keras_chargen

DOCS = Path(__file__).resolve().parents[1] / "docs"
_FENCE = re.compile(r"^```([^`\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)

# Executes each block in a fresh namespace; writes {id: {ok, stdout, error}}.
_RUNNER = textwrap.dedent(
    """
    import contextlib, io, json, sys, traceback
    blocks = json.load(open(sys.argv[1], encoding="utf-8"))
    results = {}
    for block_id, code in blocks.items():
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, block_id, "exec"), {"__name__": "__main__"})
            results[block_id] = {"ok": True, "stdout": out.getvalue()}
        except BaseException:
            results[block_id] = {
                "ok": False, "stdout": out.getvalue(), "error": traceback.format_exc()
            }
    json.dump(results, open(sys.argv[2], "w", encoding="utf-8"))
    """
)


def fenced_blocks(path):
    """`(info, code, start, end)` for each fenced block of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    return [
        (m.group(1).strip(), m.group(2), m.start(), m.end(), text)
        for m in _FENCE.finditer(text)
    ]


def runnable_blocks():
    """`{id: (code, expected output or None)}` over all docs pages."""
    found = {}
    for path in sorted(DOCS.glob("*.md")):
        blocks = fenced_blocks(path)
        for i, (info, code, start, end, text) in enumerate(blocks):
            if info.split() != ["python", "runnable"]:
                continue
            expected = None
            if i + 1 < len(blocks):
                next_info, next_code, next_start, _, _ = blocks[i + 1]
                adjacent = not text[end:next_start].strip()
                if adjacent and next_info.split() == ["text", "output"]:
                    expected = next_code
            line = text.count("\n", 0, start) + 1
            found[f"{path.name}:{line}"] = (code, expected)
    return found


RUNNABLE = runnable_blocks()


@pytest.fixture(scope="module")
def block_results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("docs_blocks")
    blocks_file = folder / "blocks.json"
    results_file = folder / "results.json"
    blocks_file.write_text(json.dumps({k: v[0] for k, v in RUNNABLE.items()}))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run(
        [sys.executable, "-c", _RUNNER, str(blocks_file), str(results_file)],
        cwd=folder,
        env=env,
        capture_output=True,
        timeout=600,
        check=True,
    )
    return json.loads(results_file.read_text())


def test_docs_have_runnable_blocks_with_outputs():
    assert len(RUNNABLE) >= 10
    assert any(expected is not None for _, expected in RUNNABLE.values())


@pytest.mark.parametrize("block_id", sorted(RUNNABLE))
def test_runnable_block_runs_and_prints_its_output(block_results, block_id):
    result = block_results[block_id]
    assert result["ok"], result.get("error")
    expected = RUNNABLE[block_id][1]
    if expected is not None:
        assert result["stdout"].rstrip() == expected.rstrip()


def _slug(heading):
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path):
    text = path.read_text(encoding="utf-8")
    text = _FENCE.sub("", text)  # a `#` line in a code block is not a heading
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_links_between_docs_pages_resolve(page):
    text = _FENCE.sub("", (DOCS / page).read_text(encoding="utf-8"))
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked
        name, _, anchor = target.partition("#")
        path = DOCS / (name or page)
        if not path.exists():
            broken.append(target)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(target)
    assert not broken, f"{page}: broken links {broken}"


def _api_sections():
    """`{name: section text}` for each `### keras_chargen.NAME` heading."""
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    parts = re.split(r"^### `keras_chargen\.([A-Za-z_.]+)`[ \t]*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _documented_callables():
    """`(dotted name, object)` for every public callable, namespaces expanded.

    A namespace such as `keras_chargen.samplers` stands for its own `__all__`;
    a name it re-exports from the top level is checked there once.
    """
    top = {
        getattr(keras_chargen, n) for n in keras_chargen.__all__ if n != "__version__"
    }
    for name in sorted(keras_chargen.__all__):
        obj = getattr(keras_chargen, name)
        if name == "__version__" or (
            inspect.isclass(obj) and issubclass(obj, Exception)
        ):
            continue
        if inspect.ismodule(obj):
            for inner in obj.__all__:
                member = getattr(obj, inner)
                if member not in top:
                    yield f"{name}.{inner}", member
        else:
            yield name, obj


@pytest.mark.parametrize("name", sorted(keras_chargen.__all__))
def test_public_name_has_an_api_entry(name):
    assert name in _api_sections(), f"docs/api.md has no `### keras_chargen.{name}`"


@pytest.mark.parametrize("name, obj", list(_documented_callables()))
def test_api_entry_names_every_argument(name, obj):
    section = _api_sections().get(name, "")
    parameters = inspect.signature(obj).parameters.values()
    missing = [
        p.name
        for p in parameters
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and f"{p.name}" not in section
    ]
    assert not missing, f"docs/api.md's {name} entry does not mention {missing}"


def test_api_entry_shows_the_real_signature_defaults():
    sections = _api_sections()
    for name, obj in _documented_callables():
        signature_block = re.search(r"```python\n(.*?)```", sections[name], re.S)
        documented = re.sub(r"\s+", "", signature_block.group(1))
        for p in inspect.signature(obj).parameters.values():
            if p.default is not p.empty:
                assert f"{p.name}={p.default!r}".replace(" ", "") in documented.replace(
                    '"', "'"
                ), f"{name}: {p.name}={p.default!r} not in its signature block"
