"""Generate a site of N Markdown posts for build benchmarks, as a Tessera site and a Hugo site.

Both get the same pages: front matter with title, date and tags; 400-800 words with headings,
lists, links, code and an occasional table. Deterministic for a given N and seed.

    python bench/gen_site.py 4000 /tmp/bench-4000
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

WORDS = ("bread crust crumb flour water salt yeast starter oven steam dough proof bake rye spelt wheat "
         "loaf knead fold shape score butter sugar honey seed oat barley malt grain mill stone fresh "
         "morning evening kitchen table market neighbour recipe season harvest field farm village").split()
TAGS = [f"tag-{i}" for i in range(40)]


def sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng, rng.randint(8, 16)) for _ in range(rng.randint(3, 5)))


def body(rng: random.Random, index: int, total: int) -> str:
    parts = []
    target = rng.randint(400, 800)
    words = 0
    section = 1
    while words < target:
        parts.append(f"## Section {section}: {rng.choice(WORDS)}")
        text = paragraph(rng)
        other = rng.randrange(total)
        text += f" Read [a related post](/blog/post-{other}/) or [the guide](https://example.com/{rng.choice(WORDS)})."
        parts.append(text)
        words += len(text.split())
        kind = rng.random()
        if kind < 0.3:
            parts.append("\n".join(f"- {sentence(rng, rng.randint(4, 8))}" for _ in range(rng.randint(3, 5))))
        elif kind < 0.45:
            parts.append("```python\ndef bake(loaf):\n    return loaf.temperature > 95\n```")
        elif kind < 0.55:
            rows = "\n".join(f"| {rng.choice(WORDS)} | {rng.randint(1, 500)} g | {rng.randint(1, 60)} min |"
                             for _ in range(4))
            parts.append("| Ingredient | Weight | Time |\n| --- | ---: | ---: |\n" + rows)
        section += 1
    return "\n\n".join(parts) + "\n"


def generate(n: int, root: Path, seed: int = 1) -> None:
    rng = random.Random(seed)
    tessera = root / "tessera"
    hugo = root / "hugo"
    (tessera / "posts").mkdir(parents=True, exist_ok=True)
    (hugo / "content" / "posts").mkdir(parents=True, exist_ok=True)
    (tessera / "site.yaml").write_text("name: Bench\ntheme: folio\ntimezone: UTC\nposts_per_page: 10\n")
    for i in range(n):
        title = f"Post {i}: {rng.choice(WORDS)} and {rng.choice(WORDS)}"
        date = f"20{10 + i % 15:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00"
        tags = rng.sample(TAGS, 3)
        text = body(rng, i, n)
        (tessera / "posts" / f"post-{i}.md").write_text(
            f"---\ntitle: \"{title}\"\npublished_at: {date}\ntags: [{', '.join(tags)}]\n---\n{text}")
        (hugo / "content" / "posts" / f"post-{i}.md").write_text(
            f"---\ntitle: \"{title}\"\ndate: {date}Z\ntags: [{', '.join(tags)}]\nslug: post-{i}\n---\n{text}")
    _hugo_layout(hugo)


def _hugo_layout(hugo: Path) -> None:
    (hugo / "config.toml").write_text(
        'baseURL = "https://bench.example/"\ntitle = "Bench"\n[pagination]\npagerSize = 10\n'
        '[permalinks]\nposts = "/blog/:slug/"\n[markup.goldmark.renderer]\nunsafe = false\n'
        '[markup.goldmark.extensions]\ntable = true\nstrikethrough = true\nlinkify = false\n')
    layouts = hugo / "layouts" / "_default"
    layouts.mkdir(parents=True, exist_ok=True)
    (layouts / "baseof.html").write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ .Title }}</title>'
        '<link rel="canonical" href="{{ .Permalink }}"></head><body><main>{{ block "main" . }}{{ end }}</main></body></html>')
    (layouts / "single.html").write_text(
        '{{ define "main" }}<article><h1>{{ .Title }}</h1><time>{{ .Date.Format "2 January 2006" }}</time>'
        '{{ .Content }}<ul>{{ range .Params.tags }}<li><a href="/tags/{{ . | urlize }}/">{{ . }}</a></li>{{ end }}</ul>'
        '</article>{{ end }}')
    (layouts / "list.html").write_text(
        '{{ define "main" }}<h1>{{ .Title }}</h1><ul>{{ range .Paginator.Pages }}<li><a href="{{ .RelPermalink }}">'
        '{{ .Title }}</a><p>{{ .Summary }}</p></li>{{ end }}</ul>{{ end }}')
    (hugo / "layouts" / "index.html").write_text(
        '{{ define "main" }}<h1>{{ .Site.Title }}</h1><ul>{{ range first 3 .Site.RegularPages }}'
        '<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul>{{ end }}')


if __name__ == "__main__":
    generate(int(sys.argv[1]), Path(sys.argv[2]))
