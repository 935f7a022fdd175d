"""Seeded pools of prose, code and source files for the synthetic corpus.

Generating every message word by word would make the 300 MB corpus take minutes, so we
build pools once per seed (a few MB of varied text) and let each session sample from
them. Sessions therefore repeat material the way real ones do (the same files are read
and edited again and again), and compress about as well as real transcripts (4–8×).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

_WORDS = """
the a to of and in that is for it on with as this be we not are by from at or can
but if will should would could then when so all one there also which more just need
here what into only now use using used make sure check add update fix change move
handle return value values call calls test tests failing passes error errors request
response endpoint route handler query database table column index migration schema
user users account session sessions token cache config settings file files path
directory module function functions class method methods type types field fields
param params argument default limit offset page pages list item items result
results parse parser load save read write open close async await loop event task
worker queue job retry timeout backoff lock thread pool batch chunk stream buffer
client server api http json yaml toml string bytes int bool none null true false
import export build deploy release version branch commit merge diff patch review
log logs debug warning info trace metric metrics latency throughput memory cpu
frontend backend component state props render hook effect store reducer action
validate validation input output format encode decode hash key secret encrypt
""".split()

_VERBS = "get set load save parse build make handle fetch create update delete list find".split()
_NOUNS = """user session token config cache item page record chunk batch event message
account project file entry result request response payload index cursor""".split()
_DIRS = "app src lib api core services models utils components tests scripts".split()
_EXTS = (".py", ".py", ".py", ".ts", ".tsx", ".go", ".rs", ".sql", ".md")

_PY_BODIES = (
    "    if {a} is None:\n        raise ValueError(\"missing {a}\")\n",
    "    result = []\n    for {b} in {a}:\n        if {b}.{c}:\n            result.append({b})\n"
    "    return result\n",
    "    with open({a}, encoding=\"utf-8\") as fh:\n        data = json.load(fh)\n"
    "    return data.get(\"{c}\", {n})\n",
    "    try:\n        return await self.{c}({a}, limit={n})\n    except TimeoutError:\n"
    "        log.warning(\"{c} timed out\", {b}={a})\n        raise\n",
    "    total = sum(x.{c} for x in {a})\n    return total / max(len({a}), 1)\n",
    "    query = select({B}).where({B}.{c} == {a}).limit({n})\n"
    "    rows = (await db.execute(query)).scalars().all()\n    return list(rows)\n",
)
_TS_BODIES = (
    "  const {b} = await fetch(`/api/{c}?limit=${{{a}}}`);\n"
    "  if (!{b}.ok) throw new Error('{c}');\n  return {b}.json();\n",
    "  return {a}.filter((x) => x.{c} !== undefined).map((x) => x.{c});\n",
    "  const [{b}, set{B}] = useState<{B} | null>(null);\n"
    "  useEffect(() => {{ load{B}({a}); }}, [{a}]);\n",
)


def _ident(rng: random.Random) -> str:
    return f"{rng.choice(_VERBS)}_{rng.choice(_NOUNS)}"


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_"))


def sentence(rng: random.Random, lo: int = 6, hi: int = 22) -> str:
    """One sentence of filler prose with an occasional `code` word."""
    words = rng.choices(_WORDS, k=rng.randint(lo, hi))
    if rng.random() < 0.4:
        words[rng.randrange(len(words))] = f"`{_ident(rng)}`"
    return " ".join(words).capitalize() + rng.choice(".....?:")


def paragraph(rng: random.Random) -> str:
    """Two to six sentences."""
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 6)))


def code_block(rng: random.Random, lang: str) -> str:
    """One function in ``lang`` (python or typescript) made from templates."""
    name = _ident(rng)
    a, b, c = rng.choice(_NOUNS) + "s", rng.choice(_NOUNS), rng.choice(_NOUNS) + "_id"
    fmt = {"a": a, "b": b, "c": c, "n": rng.randint(1, 500), "B": _camel(b)}
    if lang == "python":
        head = f"{'async ' if rng.random() < 0.3 else ''}def {name}({a}, *, {c}=None):\n"
        doc = f'    """{sentence(rng, 4, 10)}"""\n'
        body = "".join(rng.choice(_PY_BODIES).format(**fmt) for _ in range(rng.randint(1, 3)))
        return head + doc + body
    head = f"export async function {_camel(name)}({a}: {_camel(b)}[]) {{\n"
    body = "".join(rng.choice(_TS_BODIES).format(**fmt) for _ in range(rng.randint(1, 3)))
    return head + body + "}\n"


@dataclass(frozen=True)
class SourceFile:
    """A synthetic source file a session reads and edits."""

    rel_path: str
    lang: str
    text: str


def _source_file(rng: random.Random) -> SourceFile:
    ext = rng.choice(_EXTS)
    lang = "typescript" if ext in (".ts", ".tsx") else "python"
    rel = f"{rng.choice(_DIRS)}/{rng.choice(_NOUNS)}_{rng.choice(_NOUNS)}{ext}"
    target = int(300 * (80 ** rng.random()))  # log-uniform 300 B … 24 KB
    parts = [f"# {rel}: {sentence(rng, 4, 12)}\n\n"]
    size = len(parts[0])
    while size < target:
        part = code_block(rng, lang) + "\n\n"
        parts.append(part)
        size += len(part)
    return SourceFile(rel, lang, "".join(parts))


@dataclass(frozen=True)
class Pools:
    """Everything sessions sample from; built once per seed."""

    paragraphs: tuple[str, ...]
    snippets: tuple[tuple[str, str], ...]
    files: tuple[SourceFile, ...]
    shell_lines: tuple[str, ...]


def build_pools(seed: int) -> Pools:
    """Deterministic pools for ``seed`` (≈ 3 MB of text, built in well under a second)."""
    rng = random.Random(f"lore-bench-pools:{seed}")
    paragraphs = tuple(paragraph(rng) for _ in range(2500))
    snippets = tuple(
        (lang, code_block(rng, lang))
        for lang in rng.choices(("python", "typescript"), weights=(3, 1), k=600)
    )
    files = tuple(_source_file(rng) for _ in range(300))
    shell = []
    for i in range(400):
        t = _ident(rng)
        shell.append(
            rng.choice((
                f"tests/test_{t}.py::test_{t}_{i} PASSED",
                f"tests/test_{t}.py::test_{t}_{i} FAILED - AssertionError: {sentence(rng, 3, 8)}",
                f"  File \"app/{t}.py\", line {rng.randint(1, 400)}, in {t}",
                f"{rng.randint(1, 99)} passed, {rng.randint(0, 3)} failed "
                f"in {rng.random() * 9:.2f}s",
                f"M  src/{t}.ts",
            ))
        )
    return Pools(paragraphs, snippets, files, tuple(shell))
